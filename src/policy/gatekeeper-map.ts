import { safeSysctls } from './checks/pss/baseline.js';
import { PSS_LATEST } from './checks/pss.js';
import { isObject } from './k8s.js';

/**
 * Gatekeeper policy library (open-policy-agent/gatekeeper-library) → moat checks. A constraint of a
 * covered policy becomes one check with translated parameters, so a cluster's existing Gatekeeper
 * constraints can be assessed by moat, and the library's samples test our checks' semantics
 * (test/policy/gatekeeper.test.ts). docs/policy/gatekeeper-mapping.md lists the table and the reasons
 * for what is not covered.
 */

export interface MappedConstraint {
  checkId: string;
  params: Record<string, unknown>;
  /** the Pod Security Standards version to evaluate a `pss.*` check at, when the policy's meaning is a version's */
  pssVersion?: number;
  /** constraint parameters with no counterpart in the check (e.g. exemptImages for a PSS check) */
  ignored?: string[];
}

/** Why a constraint could not be mapped: its parameters ask for something the check does not mean. */
export interface UnmappedConstraint {
  unsupported: string;
}

export interface GatekeeperMapping {
  /** library folder name, e.g. `capabilities` */
  policy: string;
  constraintKind: string;
  /** the check(s) a constraint may map to, for the documentation */
  checks: readonly string[];
  map(parameters: Record<string, unknown>): MappedConstraint | UnmappedConstraint;
}

const D = {
  limits: 'defender.405c9ae6-49f9-46c4-8873-a86690f27818',
  images: 'defender.8d244d29-fa00-4332-b935-c3a51d525417',
  hostNamespaces: 'defender.802c0637-5a8c-4c98-abd7-7c96d89d6010',
  appArmor: 'defender.86f91051-9d6a-47c3-a07f-bd14cb214b45',
  privilegeEscalation: 'defender.43dc2a2e-ce69-4d42-923e-ab7d136f2cfe',
  readOnlyRoot: 'defender.27d6f0e9-b4d5-468b-ae7e-03d5473fd864',
  httpsOnly: 'defender.c6d87087-9ebe-b31f-b452-0bf3bbbaccd2',
  automount: 'defender.32060ac3-f17f-4848-db8e-e7cf2c9a53eb',
  capabilities: 'defender.11c95609-3553-430d-b788-fd41cde8b2db',
  privileged: 'defender.5d90913f-a1c5-4429-ad54-2c6c17fb3c73',
  users: 'defender.9b795646-9130-41a4-90b7-df9eae2437c8',
  hostNetwork: 'defender.ebc68898-5c0f-4353-a426-4a5f1e737b12',
  hostPaths: 'defender.f0debc84-981c-4a0d-924d-aa4bd7d55fef',
} as const;

function sameSet(a: readonly string[], b: Iterable<string>): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((e) => y.has(e));
}

/** PSS checks have no image exemptions: a constraint's exemptImages is reported as ignored. */
function pss(checkId: string, p: Record<string, unknown>, pssVersion?: number): MappedConstraint {
  const out: MappedConstraint = { checkId, params: {} };
  if (pssVersion !== undefined) out.pssVersion = pssVersion;
  if (list(p.exemptImages).length) out.ignored = ['exemptImages'];
  return out;
}

/** Volume types the restricted level allows (PSA restrictedVolumes). */
const RESTRICTED_VOLUMES = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
];

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** An alternation anchored at the start; `(?!)` matches nothing (an empty allow-list allows no image). */
function anchored(alternatives: string[]): string {
  return alternatives.length ? `^(?:${alternatives.join('|')})` : '^(?!)';
}

function exempt(p: Record<string, unknown>): { excludedImages: string[] } {
  return { excludedImages: list(p.exemptImages) };
}

/** Gatekeeper's `{rule, ranges: [...]}` → Azure's `<field>Rule` and `<field>Ranges: {ranges}`; no rule allows anything. */
function rule(p: unknown, field: string): Record<string, unknown> {
  const o = isObject(p) ? p : {};
  return {
    [`${field}Rule`]: typeof o.rule === 'string' ? o.rule : 'RunAsAny',
    [`${field}Ranges`]: { ranges: Array.isArray(o.ranges) ? o.ranges : [] },
  };
}

export const GATEKEEPER_MAPPINGS: readonly GatekeeperMapping[] = [
  {
    policy: 'allowedrepos',
    constraintKind: 'K8sAllowedRepos',
    checks: [D.images],
    // repos are image prefixes
    map: (p) => ({
      checkId: D.images,
      params: { allowedContainerImagesRegex: anchored(list(p.repos).map(escapeRegex)) },
    }),
  },
  {
    policy: 'allowedreposv2',
    constraintKind: 'K8sAllowedReposv2',
    checks: [D.images],
    // exact images, or globs where `*` matches anything
    map: (p) => ({
      checkId: D.images,
      params: {
        allowedContainerImagesRegex: anchored(
          list(p.allowedImages).map((i) => `${i.split('*').map(escapeRegex).join('.*')}$`),
        ),
      },
    }),
  },
  {
    policy: 'apparmor',
    constraintKind: 'K8sPSPAppArmor',
    checks: [D.appArmor],
    map: (p) => ({ checkId: D.appArmor, params: { allowedProfiles: list(p.allowedProfiles), ...exempt(p) } }),
  },
  {
    policy: 'capabilities',
    constraintKind: 'K8sPSPCapabilities',
    checks: [D.capabilities],
    map: (p) => {
      // Defender has one list for all containers; the init-container lists must agree with it
      for (const [init, main] of [
        ['initContainerAllowedCapabilities', 'allowedCapabilities'],
        ['initContainerRequiredDropCapabilities', 'requiredDropCapabilities'],
      ] as const) {
        if (p[init] !== undefined && JSON.stringify(list(p[init])) !== JSON.stringify(list(p[main]))) {
          return {
            unsupported: `${init} differs from ${main}; the Defender check applies one list to every container`,
          };
        }
      }
      return {
        checkId: D.capabilities,
        params: {
          allowedCapabilities: list(p.allowedCapabilities),
          requiredDropCapabilities: list(p.requiredDropCapabilities),
          ...exempt(p),
        },
      };
    },
  },
  {
    policy: 'containerlimits',
    constraintKind: 'K8sContainerLimits',
    checks: [D.limits],
    map: (p) => ({
      checkId: D.limits,
      params: {
        cpuLimit: typeof p.cpu === 'string' ? p.cpu : '-1',
        memoryLimit: typeof p.memory === 'string' ? p.memory : '-1',
        ...exempt(p),
      },
    }),
  },
  {
    policy: 'fsgroup',
    constraintKind: 'K8sPSPFSGroup',
    checks: [D.users],
    map: (p) => ({
      checkId: D.users,
      params: {
        runAsUserRule: 'RunAsAny',
        runAsGroupRule: 'RunAsAny',
        supplementalGroupsRule: 'RunAsAny',
        ...rule(p, 'fsGroup'),
      },
    }),
  },
  {
    policy: 'users',
    constraintKind: 'K8sPSPAllowedUsers',
    checks: [D.users],
    map: (p) => ({
      checkId: D.users,
      params: {
        ...rule(p.runAsUser, 'runAsUser'),
        ...rule(p.runAsGroup, 'runAsGroup'),
        ...rule(p.supplementalGroups, 'supplementalGroups'),
        ...rule(p.fsGroup, 'fsGroup'),
        ...exempt(p),
      },
    }),
  },
  {
    policy: 'host-filesystem',
    constraintKind: 'K8sPSPHostFilesystem',
    checks: [D.hostPaths],
    map: (p) => ({
      checkId: D.hostPaths,
      params: { allowedHostPaths: { paths: Array.isArray(p.allowedHostPaths) ? p.allowedHostPaths : [] } },
    }),
  },
  {
    policy: 'host-namespaces',
    constraintKind: 'K8sPSPHostNamespace',
    checks: [D.hostNamespaces],
    map: () => ({ checkId: D.hostNamespaces, params: {} }),
  },
  {
    policy: 'host-network-ports',
    constraintKind: 'K8sPSPHostNetworkingPorts',
    checks: [D.hostNetwork],
    // without min/max the template puts no bound on host ports
    map: (p) => ({
      checkId: D.hostNetwork,
      params: {
        allowHostNetwork: p.hostNetwork === true,
        minPort: typeof p.min === 'number' ? p.min : 0,
        maxPort: typeof p.max === 'number' ? p.max : 65535,
        ...exempt(p),
      },
    }),
  },
  {
    policy: 'httpsonly',
    constraintKind: 'K8sHttpsOnly',
    checks: [D.httpsOnly],
    map: (p) =>
      p.tlsOptional === true
        ? { unsupported: 'tlsOptional: true; Defender requires a TLS section' }
        : { checkId: D.httpsOnly, params: {} },
  },
  {
    policy: 'read-only-root-filesystem',
    constraintKind: 'K8sPSPReadOnlyRootFilesystem',
    checks: [D.readOnlyRoot],
    map: (p) => ({ checkId: D.readOnlyRoot, params: exempt(p) }),
  },
  {
    policy: 'privileged-containers',
    constraintKind: 'K8sPSPPrivilegedContainer',
    checks: [D.privileged],
    map: (p) => ({ checkId: D.privileged, params: exempt(p) }),
  },
  {
    policy: 'allow-privilege-escalation',
    constraintKind: 'K8sPSPAllowPrivilegeEscalationContainer',
    checks: [D.privilegeEscalation],
    // the library template requires an explicit false, which is Azure's forcePrivilegeEscalationToBeFalse
    map: (p) => ({
      checkId: D.privilegeEscalation,
      params: { forcePrivilegeEscalationToBeFalse: true, ...exempt(p) },
    }),
  },
  {
    policy: 'automount-serviceaccount-token',
    constraintKind: 'K8sPSPAutomountServiceAccountTokenPod',
    checks: [D.automount],
    map: () => ({ checkId: D.automount, params: {} }),
  },
  // Pod Security Standards: a constraint maps when its parameters say exactly what a PSS check means
  {
    policy: 'seccompv2',
    constraintKind: 'K8sPSPSeccompV2',
    checks: ['pss.baseline.seccompProfile', 'pss.restricted.seccompProfile'],
    map: (p) => {
      const profiles = list(p.allowedProfiles);
      const files = list(p.allowedLocalhostFiles);
      if (!sameSet(files, ['*']))
        return { unsupported: 'allowedLocalhostFiles restricts Localhost profiles; PSS allows any' };
      // baseline forbids only Unconfined; restricted also requires a profile to be set
      if (sameSet(profiles, ['RuntimeDefault', 'Localhost', 'not configured']))
        return pss('pss.baseline.seccompProfile', p);
      if (sameSet(profiles, ['RuntimeDefault', 'Localhost'])) return pss('pss.restricted.seccompProfile', p);
      return {
        unsupported: `allowedProfiles ${profiles.join(', ')} is neither the baseline nor the restricted seccomp rule`,
      };
    },
  },
  {
    policy: 'proc-mount',
    constraintKind: 'K8sPSPProcMount',
    checks: ['pss.restricted.procMount'],
    // from v1.35 baseline allows Unmasked in user-namespaced pods; restricted (and this template) never does
    map: (p) =>
      p.procMount === undefined || p.procMount === 'Default'
        ? pss('pss.restricted.procMount', p)
        : { unsupported: `procMount ${String(p.procMount)} allows unmasked /proc; PSS requires Default` },
  },
  {
    policy: 'host-process',
    constraintKind: 'K8sPSPHostProcess',
    checks: ['pss.baseline.windowsHostProcess'],
    map: (p) => pss('pss.baseline.windowsHostProcess', p),
  },
  {
    policy: 'host-probes-lifecycle',
    constraintKind: 'K8sPSPHostProbesLifecycle',
    checks: ['pss.baseline.hostProbesAndHostLifecycle'],
    map: (p) => pss('pss.baseline.hostProbesAndHostLifecycle', p),
  },
  {
    policy: 'forbidden-sysctls',
    constraintKind: 'K8sPSPForbiddenSysctls',
    checks: ['pss.baseline.sysctls'],
    // PSS allows the safe sysctls of its version and forbids the rest: an allow-list equal to one version's
    map: (p) => {
      const allowed = p.allowedSysctls === undefined ? undefined : list(p.allowedSysctls);
      if (list(p.forbiddenSysctls).length || allowed === undefined) {
        return {
          unsupported:
            'a deny-list of sysctls (forbiddenSysctls) or no allow-list; PSS allows a fixed safe set',
        };
      }
      for (let v = PSS_LATEST; v >= 0; v--) {
        if (sameSet(allowed, safeSysctls(v))) return pss('pss.baseline.sysctls', p, v);
      }
      return { unsupported: 'allowedSysctls is not the safe set of any PSS version' };
    },
  },
  {
    policy: 'volumes',
    constraintKind: 'K8sPSPVolumeTypes',
    checks: ['pss.restricted.restrictedVolumes'],
    map: (p) =>
      sameSet(list(p.volumes), RESTRICTED_VOLUMES)
        ? pss('pss.restricted.restrictedVolumes', p)
        : { unsupported: "a volume type list other than the restricted level's" },
  },
];

/** Library policies no check covers, with the reason. */
export const GATEKEEPER_UNCOVERED: Readonly<Record<string, string>> = {
  'block-endpoint-edit-default-role':
    'RBAC content of one built-in ClusterRole (system:aggregate-to-edit); no Defender or PSS counterpart',
  'block-loadbalancer-services': 'Service type LoadBalancer; Defender restricts service ports, not types',
  'block-nodeport-services': 'Service type NodePort; Defender restricts service ports, not types',
  'block-wildcard-ingress': 'Ingress host names; Defender checks only that an Ingress is HTTPS-only',
  containerrequests: 'resource requests; Defender checks limits only',
  containerresourceratios: 'limit-to-request ratios; Defender checks limits only',
  containerresources:
    'presence of arbitrary limits and requests without maxima; Defender requires CPU and memory limits with maxima',
  disallowanonymous: 'RBAC bindings to anonymous users; no Defender data-plane or PSS counterpart',
  disallowedrepos: 'a deny-list of image prefixes; Defender trusted registries is an allow-list',
  disallowedtags: 'image tags; no Defender or PSS counterpart',
  disallowinteractive: 'tty/stdin; no Defender or PSS counterpart',
  seccomp:
    'seccomp by the annotations Kubernetes removed in v1.27 (allowedProfiles in annotation spelling); seccompv2 is mapped',
  selinux:
    'an allow-list of complete seLinuxOptions; PSS baseline restricts type, user and role only, so no allow-list equals it',
  ephemeralstoragelimit: 'ephemeral-storage limits; Defender checks CPU and memory limits only',
  externalip: 'Service external IPs; Defender does not recommend it for the data plane',
  'flexvolume-drivers': 'FlexVolume driver allow-list; no Defender or PSS counterpart',
  horizontalpodautoscaler: 'HorizontalPodAutoscaler replica ranges; not a security control',
  imagedigests: 'image digests; no Defender or PSS counterpart',
  noupdateserviceaccount:
    'who may change a workload service account (request user info); not a posture control',
  poddisruptionbudget: 'availability (PodDisruptionBudget); not a security control',
  replicalimits: 'replica counts; not a security control',
  requiredannotations: 'arbitrary required annotations; organisation-specific',
  requiredlabels: 'arbitrary required labels; organisation-specific',
  requiredprobes: 'readiness/liveness probes; availability, not a security control',
  storageclass: 'storage classes; not a security control',
  uniqueingresshost: 'uniqueness across Ingresses (referential); not a security control in the catalogue',
  uniqueserviceselector: 'uniqueness across Services (referential); not a security control in the catalogue',
  verifydeprecatedapi: 'deprecated API versions; not a security control',
};

/** The mapping of a library policy, if any. */
export function gatekeeperMapping(policy: string): GatekeeperMapping | undefined {
  return GATEKEEPER_MAPPINGS.find((m) => m.policy === policy);
}
