import { MoatError } from '../../errors.js';
import { lookup, namespaceOf } from '../inventory.js';
import {
  type ContainerKind,
  type ContainerRef,
  containersOf,
  isObject,
  kindWord,
  POD_KINDS,
  type PodSpecRef,
  podSpecOf,
} from '../k8s.js';
import { parseQuantity } from '../quantity.js';
import { joined, text } from '../text.js';
import type { CheckContext, K8sObject, ObjectCheck, Violation } from '../types.js';
import { DEFENDER_RECOMMENDATIONS, type DefenderRecommendation } from './defender/recommendations.js';
import {
  checkedContainers,
  imageMatches,
  imageOf,
  isExcluded,
  num,
  obj,
  perParams,
  podExcluded,
  regex,
  securityContext,
  str,
  strings,
  who,
} from './defender/util.js';

/**
 * Microsoft Defender for Containers' Kubernetes data-plane recommendations as checks
 * (`defender.<assessmentKey>`). Metadata, parameters and defaults are data (defender/recommendations.ts);
 * each check's semantics follow the Azure Policy for Kubernetes definition Defender assigns, which is a
 * Gatekeeper constraint template; where Azure's template is not public, the Gatekeeper library template
 * it derives from (docs/policy/defender.md, docs/policy/gatekeeper-mapping.md).
 */

type Params = Readonly<Record<string, unknown>>;

interface Run {
  id: string;
  params: Params;
  object: K8sObject;
  ctx: CheckContext;
}

const EMPTY: CheckContext['inventory'] = { objects: [], byKind: () => [] };

interface Impl {
  remediation: string;
  /**
   * true when the defaults flag (nearly) every object, so the check stays off until configured. Defender
   * marks more recommendations "configuration required" (they need allow-lists to be tailored); here only
   * those whose default matches everything are.
   */
  configurationRequired: boolean;
  /** kinds it looks up in the inventory */
  reads?: readonly string[];
  evaluate(run: Run): Violation[];
}

function pod(fn: (ref: PodSpecRef, run: Run) => Violation[]): Impl['evaluate'] {
  return (run) => {
    const ref = podSpecOf(run.object);
    return ref ? fn(ref, run) : [];
  };
}

function v(message: string, path: string, container?: ContainerRef): Violation {
  return container ? { message, path, container: container.name } : { message, path };
}

/** Capability names compare case-insensitively, with or without the `CAP_` prefix (runtimes accept both). */
function cap(name: string): string {
  const up = name.toUpperCase();
  return up.startsWith('CAP_') ? up.slice(4) : up;
}

// --- CPU and memory limits (container-resource-limits; Gatekeeper K8sContainerLimits) ---------------------

const LIMITED = ['cpu', 'memory'] as const;
// ephemeral containers cannot set resources
const WITH_RESOURCES: readonly ContainerKind[] = ['containers', 'initContainers'];

const limitMaxima = perParams((params) => {
  const maxima: Array<{ res: string; limit: string; max: number | undefined }> = [];
  for (const res of LIMITED) {
    const limit = str(params[`${res}Limit`]);
    // "-1" switches the resource off, as in Gatekeeper's template
    if (limit === undefined || limit === '-1') continue;
    maxima.push({ res, limit, max: parseQuantity(limit) });
  }
  return maxima;
});

const limits = pod((ref, { id, params }) => {
  const maxima = limitMaxima(params);
  for (const { res, limit, max } of maxima) {
    if (max === undefined) {
      throw new MoatError('CONFIG', `${id}: ${res}Limit "${limit}" is not a Kubernetes quantity`);
    }
  }
  const out: Violation[] = [];
  for (const c of checkedContainers(ref, params, WITH_RESOURCES)) {
    const lim = obj(obj(c.container.resources).limits);
    for (const { res, limit, max } of maxima) {
      const value = lim[res];
      let message: string | undefined;
      if (value === undefined || value === null || value === '') {
        message = text`${who(c)} has no ${res} limit (maximum allowed ${limit})`;
      } else {
        const q = parseQuantity(value);
        if (q === undefined)
          message = text`${who(c)} ${res} limit "${String(value)}" is not a valid quantity`;
        else if (q > (max as number))
          message = text`${who(c)} ${res} limit ${String(value)} is above the maximum ${limit}`;
      }
      if (message) out.push(v(message, text`${c.path}.resources.limits.${res}`, c));
    }
  }
  return out;
});

// --- trusted registries (container-allowed-images) --------------------------------------------------------

const allowedImages = pod((ref, { id, params }) => {
  const pattern = str(params.allowedContainerImagesRegex) ?? '';
  const re = regex(pattern, id, 'allowedContainerImagesRegex');
  const out: Violation[] = [];
  for (const c of checkedContainers(ref, params)) {
    const image = imageOf(c);
    if (!re.test(image)) {
      out.push(
        v(
          text`${who(c)} image "${image}" does not match the trusted registries pattern ${pattern}`,
          text`${c.path}.image`,
          c,
        ),
      );
    }
  }
  return out;
});

// --- host PID / IPC namespaces (block-host-namespace; Gatekeeper K8sPSPHostNamespace) ---------------------

const HOST_NAMESPACES = [
  ['hostPID', 'process ID'],
  ['hostIPC', 'IPC'],
] as const;

const hostNamespaces = pod((ref, { params }) => {
  if (podExcluded(ref, params)) return [];
  const out: Violation[] = [];
  for (const [field, what] of HOST_NAMESPACES) {
    if (ref.spec[field] === true)
      out.push(v(text`pod shares the host ${what} namespace (${field}: true)`, text`${ref.path}.${field}`));
  }
  return out;
});

// --- AppArmor (enforce-apparmor-profile; Gatekeeper K8sPSPAppArmor) ---------------------------------------

const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

/** The securityContext.appArmorProfile field in the annotation's spelling (`runtime/default`, `localhost/x`). */
function appArmorName(p: unknown): string | undefined {
  if (!isObject(p) || typeof p.type !== 'string') return undefined;
  if (p.type === 'RuntimeDefault') return 'runtime/default';
  if (p.type === 'Unconfined') return 'unconfined';
  if (p.type === 'Localhost') return `localhost/${str(p.localhostProfile) ?? ''}`;
  return p.type;
}

function profileAllowed(profile: string, allowed: readonly string[]): boolean {
  // `localhost/*` allows every localhost profile (Azure's documented wildcard)
  return imageMatches(profile, allowed);
}

const allowedProfiles = perParams((params) => strings(params.allowedProfiles));

const appArmor = pod((ref, { params }) => {
  const allowed = allowedProfiles(params);
  const annotations = ref.metadata.annotations ?? {};
  const podProfile = appArmorName(obj(ref.spec.securityContext).appArmorProfile);
  const out: Violation[] = [];
  for (const c of checkedContainers(ref, params)) {
    // precedence as in the template: container field, container annotation, pod field, runtime default
    let profile = appArmorName(securityContext(c.container).appArmorProfile);
    // where the profile came from, for the path: 0 the container, 1 its annotation, 2 the pod, 3 none
    let from = 0;
    const annotated = annotations[APPARMOR_ANNOTATION + c.name];
    if (profile === undefined && annotated !== undefined) {
      profile = String(annotated);
      from = 1;
    }
    if (profile === undefined && podProfile !== undefined) {
      profile = podProfile;
      from = 2;
    }
    profile ??= 'runtime/default';
    if (!profileAllowed(profile, allowed)) {
      const list = allowed.length ? allowed.join(', ') : 'none';
      const path =
        from === 1
          ? text`${ref.metadataPath}.annotations`
          : from === 2
            ? text`${ref.path}.securityContext.appArmorProfile`
            : text`${c.path}.securityContext.appArmorProfile`;
      out.push(v(text`${who(c)} uses AppArmor profile "${profile}"; allowed profiles: ${list}`, path, c));
    }
  }
  return out;
});

// --- privilege escalation (container-no-privilege-escalation v8) ------------------------------------------

const privilegeEscalation = pod((ref, { params }) => {
  const force = params.forcePrivilegeEscalationToBeFalse === true;
  const podSc = obj(ref.spec.securityContext);
  const out: Violation[] = [];
  for (const c of checkedContainers(ref, params)) {
    const sc = securityContext(c.container);
    if (sc.allowPrivilegeEscalation === false) continue;
    const path = text`${c.path}.securityContext.allowPrivilegeEscalation`;
    if (sc.allowPrivilegeEscalation === true) {
      out.push(v(text`${who(c)} sets allowPrivilegeEscalation: true`, path, c));
      continue;
    }
    // unset: the kernel allows escalation (no_new_privs is off). Without the force parameter the policy
    // accepts it for containers that cannot start as root; privileged and CAP_SYS_ADMIN always escalate.
    const adds = strings(obj(sc.capabilities).add).map(cap);
    const alwaysEscalates = sc.privileged === true || adds.includes('SYS_ADMIN') || adds.includes('ALL');
    if (force || alwaysEscalates || !runsAsNonRoot(sc, podSc)) {
      const why = force
        ? ''
        : alwaysEscalates
          ? ' and is privileged or adds CAP_SYS_ADMIN'
          : ' and may run as root';
      out.push(v(text`${who(c)} does not set allowPrivilegeEscalation: false${why}`, path, c));
    }
  }
  return out;
});

function runsAsNonRoot(sc: Record<string, unknown>, podSc: Record<string, unknown>): boolean {
  const user = num(sc.runAsUser ?? podSc.runAsUser);
  if (user !== undefined) return user !== 0;
  return (sc.runAsNonRoot ?? podSc.runAsNonRoot) === true;
}

// --- read-only root filesystem (read-only-root-filesystem; Gatekeeper K8sPSPReadOnlyRootFilesystem) ------

const readOnlyRoot = pod((ref, { params }) => {
  const out: Violation[] = [];
  for (const c of checkedContainers(ref, params)) {
    if (securityContext(c.container).readOnlyRootFilesystem !== true) {
      out.push(
        v(
          text`${who(c)} does not set readOnlyRootFilesystem: true`,
          text`${c.path}.securityContext.readOnlyRootFilesystem`,
          c,
        ),
      );
    }
  }
  return out;
});

// --- HTTPS-only Ingress (ingress-https-only; Gatekeeper K8sHttpsOnly) -------------------------------------

const ALLOW_HTTP = 'kubernetes.io/ingress.allow-http';

function httpsOnly({ object }: Run): Violation[] {
  if (object.kind !== 'Ingress') return [];
  const tls = obj(object.spec).tls;
  const missing: string[] = [];
  let path = 'spec.tls';
  if (!Array.isArray(tls) || tls.length === 0) missing.push('a TLS configuration (spec.tls)');
  if (object.metadata?.annotations?.[ALLOW_HTTP] !== 'false') {
    if (!missing.length) path = 'metadata.annotations';
    missing.push(`the annotation ${ALLOW_HTTP}: "false"`);
  }
  if (!missing.length) return [];
  return [v(text`${kindWord(object)} accepts plain HTTP: it needs ${missing.join(' and ')}`, path)];
}

// --- service account token automount (block-automount-token; Gatekeeper K8sPSPAutomountServiceAccountTokenPod)

const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

const automountToken = pod((ref, { params, object, ctx }) => {
  if (podExcluded(ref, params)) return [];
  const setting = ref.spec.automountServiceAccountToken;
  if (setting === false) return [];
  if (setting === true) {
    return [v('pod sets automountServiceAccountToken: true', text`${ref.path}.automountServiceAccountToken`)];
  }
  // unset: an admitted pod shows a mounted token as a volume mount at the token path (the API server's
  // ServiceAccount admission adds it), which is what the template looks for
  for (const c of checkedContainers(ref, params)) {
    const mounts = c.container.volumeMounts;
    if (!Array.isArray(mounts)) continue;
    const i = mounts.findIndex((m) => isObject(m) && m.mountPath === TOKEN_PATH);
    if (i >= 0) {
      return [
        v(
          text`${who(c)} mounts the service account token at ${TOKEN_PATH} and the pod does not set automountServiceAccountToken: false`,
          text`${c.path}.volumeMounts[${i}]`,
          c,
        ),
      ];
    }
  }
  if (object.kind === 'Pod') return [];
  // a pod template gets the token unless its service account opts out
  const spec = ref.spec;
  const account = str(spec.serviceAccountName) ?? str(spec.serviceAccount) ?? 'default';
  // indexed lookup: a linear scan per workload is quadratic on big clusters
  const sa = lookup(ctx.inventory, 'ServiceAccount', account, namespaceOf(object) ?? '');
  if (sa?.automountServiceAccountToken === false) return [];
  return [
    v(
      text`pod template does not set automountServiceAccountToken: false, so its pods get service account "${account}"'s API token`,
      text`${ref.path}.automountServiceAccountToken`,
    ),
  ];
});

// --- CAP_SYS_ADMIN (container-disallowed-capabilities with SYS_ADMIN) --------------------------------------

const sysAdmin = pod((ref, { params }) => {
  const out: Violation[] = [];
  for (const c of checkedContainers(ref, params)) {
    for (const added of strings(obj(securityContext(c.container).capabilities).add)) {
      const name = cap(added);
      if (name === 'SYS_ADMIN' || name === 'ALL') {
        out.push(
          v(text`${who(c)} adds capability ${added}`, text`${c.path}.securityContext.capabilities.add`, c),
        );
      }
    }
  }
  return out;
});

// --- default namespace (block-default-namespace) ----------------------------------------------------------

function defaultNamespace({ object }: Run): Violation[] {
  if (object.metadata?.namespace !== 'default') return [];
  const name = object.metadata.name;
  // objects the cluster itself keeps in `default`: the API server's Service and the namespace's account
  if (object.kind === 'Service' && name === 'kubernetes') return [];
  if (object.kind === 'ServiceAccount' && name === 'default') return [];
  return [v(text`${kindWord(object)} is in the default namespace`, 'metadata.namespace')];
}

// --- least privileged capabilities (container-allowed-capabilities; Gatekeeper K8sPSPCapabilities) --------

const capabilityParams = perParams((params) => {
  const allowedList = strings(params.allowedCapabilities);
  return {
    allowedList,
    allowed: new Set(allowedList.map(cap)),
    mustDrop: strings(params.requiredDropCapabilities),
  };
});

const capabilities = pod((ref, { params }) => {
  const { allowedList, allowed, mustDrop } = capabilityParams(params);
  const out: Violation[] = [];
  for (const c of checkedContainers(ref, params)) {
    const caps = obj(securityContext(c.container).capabilities);
    if (!allowed.has('*')) {
      const extra = strings(caps.add).filter((a) => !allowed.has(cap(a)));
      if (extra.length) {
        const list = allowedList.length ? allowedList.join(', ') : 'none';
        out.push(
          v(
            text`${who(c)} adds capabilities ${joined(extra, ', ')}; allowed to add: ${list}`,
            text`${c.path}.securityContext.capabilities.add`,
            c,
          ),
        );
      }
    }
    const dropped = new Set(strings(caps.drop).map(cap));
    if (mustDrop.length && !dropped.has('ALL')) {
      const missing = mustDrop.filter((d) => !dropped.has(cap(d)));
      if (missing.length) {
        out.push(
          v(
            text`${who(c)} does not drop required capabilities ${joined(missing, ', ')} (or ALL)`,
            text`${c.path}.securityContext.capabilities.drop`,
            c,
          ),
        );
      }
    }
  }
  return out;
});

// --- privileged containers (container-no-privilege; Gatekeeper K8sPSPPrivilegedContainer) -----------------

const privileged = pod((ref, { params }) => {
  const out: Violation[] = [];
  for (const c of checkedContainers(ref, params)) {
    if (securityContext(c.container).privileged === true) {
      out.push(
        v(text`${who(c)} runs privileged (privileged: true)`, text`${c.path}.securityContext.privileged`, c),
      );
    }
  }
  return out;
});

// --- users and groups (allowed-users-groups; Gatekeeper K8sPSPAllowedUsers / K8sPSPFSGroup) ---------------

interface Range {
  min: number;
  max: number;
}

/** `{ranges: [{min, max}]}` (Azure) or a bare list (Gatekeeper); max -1 means no upper bound. */
function ranges(p: unknown): Range[] {
  const list = Array.isArray(p) ? p : obj(p).ranges;
  if (!Array.isArray(list)) return [];
  const out: Range[] = [];
  for (const r of list) {
    const min = num(obj(r).min);
    const max = num(obj(r).max);
    if (min === undefined || max === undefined) continue;
    out.push({ min, max: max === -1 ? Number.POSITIVE_INFINITY : max });
  }
  return out;
}

function inRanges(value: number, rs: readonly Range[]): boolean {
  return rs.some((r) => value >= r.min && value <= r.max);
}

// per ranges array (read once per parameters object)
const rangeText = new WeakMap<readonly Range[], string>();

function describeRanges(rs: readonly Range[]): string {
  if (!rs.length) return 'none';
  let s = rangeText.get(rs);
  if (s === undefined) {
    s = describe(rs);
    rangeText.set(rs, s);
  }
  return s;
}

function describe(rs: readonly Range[]): string {
  return rs
    .map((r) => (r.max === Number.POSITIVE_INFINITY ? `${r.min} and above` : `${r.min}-${r.max}`))
    .join(', ');
}

/**
 * MustRunAs requires a value in range; MayRunAs checks a value when set; RunAsAny allows anything. The
 * breach, if any: the value is unset where required, or out of range.
 */
function groupBreach(
  rule: string,
  rs: readonly Range[],
  value: number | undefined,
): 'unset' | 'range' | undefined {
  if (rule !== 'MustRunAs' && rule !== 'MayRunAs') return undefined;
  if (value === undefined) return rule === 'MustRunAs' ? 'unset' : undefined;
  return inRanges(value, rs) ? undefined : 'range';
}

function groupViolation(
  breach: 'unset' | 'range',
  rs: readonly Range[],
  field: string,
  value: number | undefined,
  subject: string,
  path: string,
  c?: ContainerRef,
): Violation {
  return breach === 'unset'
    ? v(text`${subject} does not set ${field}; allowed: ${describeRanges(rs)}`, path, c)
    : v(text`${subject} runs with ${field} ${value}; allowed: ${describeRanges(rs)}`, path, c);
}

/** Where the effective runAsUser is set: the container's securityContext, else the pod's. */
function runAsUserPath(ref: PodSpecRef, c: ContainerRef, sc: Record<string, unknown>): string {
  return sc.runAsUser !== undefined
    ? text`${c.path}.securityContext.runAsUser`
    : text`${ref.path}.securityContext.runAsUser`;
}

const userRules = perParams((params) => ({
  userRule: str(params.runAsUserRule) ?? 'RunAsAny',
  userRanges: ranges(params.runAsUserRanges),
  group: str(params.runAsGroupRule) ?? 'RunAsAny',
  groupRanges: ranges(params.runAsGroupRanges),
  supRule: str(params.supplementalGroupsRule) ?? 'RunAsAny',
  supRanges: ranges(params.supplementalGroupsRanges),
  fsRule: str(params.fsGroupRule) ?? 'RunAsAny',
  fsRanges: ranges(params.fsGroupRanges),
}));

const users = pod((ref, { params }) => {
  // Windows pods run as Windows users (windowsOptions), not UIDs
  if (obj(ref.spec.os).name === 'windows') return [];
  const { userRule, userRanges, group, groupRanges, supRule, supRanges, fsRule, fsRanges } =
    userRules(params);
  const podSc = obj(ref.spec.securityContext);
  const out: Violation[] = [];
  for (const c of checkedContainers(ref, params)) {
    const sc = securityContext(c.container);
    const user = num(sc.runAsUser ?? podSc.runAsUser);
    if (userRule === 'MustRunAsNonRoot') {
      if (user === 0) out.push(v(text`${who(c)} runs as root (runAsUser: 0)`, runAsUserPath(ref, c, sc), c));
      else if (user === undefined && (sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) {
        out.push(
          v(
            text`${who(c)} sets neither runAsNonRoot: true nor a non-zero runAsUser`,
            text`${c.path}.securityContext.runAsNonRoot`,
            c,
          ),
        );
      }
    } else if (userRule === 'MustRunAs') {
      const breach = groupBreach('MustRunAs', userRanges, user);
      if (breach) {
        const path = runAsUserPath(ref, c, sc);
        out.push(groupViolation(breach, userRanges, 'runAsUser', user, who(c), path, c));
      }
    }
    const gid = num(sc.runAsGroup ?? podSc.runAsGroup);
    const breach = groupBreach(group, groupRanges, gid);
    if (breach) {
      const gidPath =
        sc.runAsGroup !== undefined
          ? text`${c.path}.securityContext.runAsGroup`
          : text`${ref.path}.securityContext.runAsGroup`;
      out.push(groupViolation(breach, groupRanges, 'runAsGroup', gid, who(c), gidPath, c));
    }
  }
  // pod-level only: containers have no fsGroup or supplementalGroups
  const sup = Array.isArray(podSc.supplementalGroups) ? podSc.supplementalGroups.map(num) : [];
  if (!sup.length) {
    const breach = groupBreach(supRule, supRanges, undefined);
    if (breach) {
      const path = text`${ref.path}.securityContext.supplementalGroups`;
      out.push(groupViolation(breach, supRanges, 'supplementalGroups', undefined, 'pod', path));
    }
  }
  for (const g of sup) {
    if (g === undefined) continue;
    const breach = groupBreach(supRule, supRanges, g);
    if (breach) {
      const path = text`${ref.path}.securityContext.supplementalGroups`;
      out.push(groupViolation(breach, supRanges, 'supplemental group', g, 'pod', path));
    }
  }
  const fsGroup = num(podSc.fsGroup);
  const breach = groupBreach(fsRule, fsRanges, fsGroup);
  if (breach) {
    const path = text`${ref.path}.securityContext.fsGroup`;
    out.push(groupViolation(breach, fsRanges, 'fsGroup', fsGroup, 'pod', path));
  }
  return out;
});

// --- allowed service ports (service-allowed-ports) --------------------------------------------------------

function servicePorts({ object, params }: Run): Violation[] {
  if (object.kind !== 'Service') return [];
  const allowedList = strings(params.allowedServicePortsList);
  const allowed = new Set(allowedList);
  const ports = obj(object.spec).ports;
  if (!Array.isArray(ports)) return [];
  const out: Violation[] = [];
  ports.forEach((p, i) => {
    const port = str(obj(p).port);
    if (port === undefined || allowed.has(port)) return;
    const name = str(obj(p).name);
    out.push(
      v(
        text`${kindWord(object)} listens on port ${port}${name ? text` (${name})` : ''}; allowed ports: ${allowedList.join(', ') || 'none'}`,
        text`spec.ports[${i}].port`,
      ),
    );
  });
  return out;
}

// --- host networking and ports (host-network-ports v6; Gatekeeper K8sPSPHostNetworkingPorts) -------------

const hostNetworkPorts = pod((ref, { params }) => {
  const out: Violation[] = [];
  // as in the Gatekeeper template, excluded images do not exempt the pod-level hostNetwork setting
  if (ref.spec.hostNetwork === true && params.allowHostNetwork !== true) {
    out.push(v('pod uses the host network (hostNetwork: true)', text`${ref.path}.hostNetwork`));
  }
  const min = num(params.minPort) ?? 0;
  const max = num(params.maxPort) ?? 0;
  for (const c of checkedContainers(ref, params)) {
    const ports = c.container.ports;
    if (!Array.isArray(ports)) continue;
    ports.forEach((p, i) => {
      const hostPort = num(obj(p).hostPort);
      // hostPort 0 is "not set"
      if (hostPort === undefined || hostPort === 0 || (hostPort >= min && hostPort <= max)) return;
      out.push(
        v(
          text`${who(c)} uses hostPort ${hostPort}; allowed host ports: ${min}-${max}`,
          text`${c.path}.ports[${i}].hostPort`,
          c,
        ),
      );
    });
  }
  return out;
});

// --- host path volumes (allowed-host-paths; Gatekeeper K8sPSPHostFilesystem) ------------------------------

interface AllowedPath {
  pathPrefix: string;
  readOnly: boolean;
}

function allowedPaths(p: unknown): AllowedPath[] {
  const list = Array.isArray(p) ? p : obj(p).paths;
  if (!Array.isArray(list)) return [];
  const out: AllowedPath[] = [];
  for (const e of list) {
    const prefix = str(obj(e).pathPrefix);
    if (prefix) out.push({ pathPrefix: prefix, readOnly: obj(e).readOnly === true });
  }
  return out;
}

/** Whole path components: `/foo` allows `/foo` and `/foo/bar`, not `/fool`. Windows paths ignore case and slash style. */
function pathComponents(p: string, windows: boolean): string[] {
  const s = windows ? p.replace(/\\/g, '/').toLowerCase() : p;
  const t = s.replace(/^\/+|\/+$/g, '');
  return t === '' ? [] : t.split('/');
}

function underPrefix(prefix: string, path: string, windows: boolean): boolean {
  const a = pathComponents(prefix, windows);
  const b = pathComponents(path, windows);
  return a.length <= b.length && a.every((x, i) => x === b[i]);
}

function isWindowsPod(spec: Record<string, unknown>): boolean {
  return obj(spec.os).name === 'windows' || obj(spec.nodeSelector)['kubernetes.io/os'] === 'windows';
}

const hostPaths = pod((ref, { params }) => {
  const volumes = ref.spec.volumes;
  if (!Array.isArray(volumes)) return [];
  const windows = isWindowsPod(ref.spec);
  const allowed = allowedPaths(windows ? params.windowsAllowedHostPaths : params.allowedHostPaths);
  const containers = containersOf(ref);
  const out: Violation[] = [];
  volumes.forEach((vol, i) => {
    if (!isObject(vol) || !isObject(vol.hostPath)) return;
    const path = str(vol.hostPath.path) ?? '';
    const mounts: Array<{ c: ContainerRef; readOnly: boolean }> = [];
    for (const c of containers) {
      const ms = c.container.volumeMounts;
      if (!Array.isArray(ms)) continue;
      for (const m of ms)
        if (isObject(m) && m.name === vol.name) mounts.push({ c, readOnly: m.readOnly === true });
    }
    // a volume only excluded containers mount is theirs to use
    const checked = mounts.filter((m) => !isExcluded(m.c, params));
    if (mounts.length && !checked.length) return;
    const matching = allowed.filter((a) => underPrefix(a.pathPrefix, path, windows));
    const writable = checked.find((m) => !m.readOnly);
    if (matching.some((a) => !a.readOnly || !writable)) return;
    const at = text`${ref.path}.volumes[${i}].hostPath.path`;
    if (matching.length && writable) {
      out.push(
        v(
          text`${who(writable.c)} mounts host path "${path}" (volume "${String(vol.name)}") writable; it is allowed read-only`,
          at,
          writable.c,
        ),
      );
    } else {
      const list = allowed.length ? allowed.map((a) => a.pathPrefix).join(', ') : 'none';
      out.push(
        v(text`volume "${String(vol.name)}" uses host path "${path}"; allowed host paths: ${list}`, at),
      );
    }
  });
  return out;
});

// --- the catalogue ----------------------------------------------------------------------------------------

const IMPLS: Readonly<Record<string, Impl>> = {
  '405c9ae6-49f9-46c4-8873-a86690f27818': {
    remediation:
      'Set resources.limits.cpu and resources.limits.memory on every container and init container, no higher than the configured maxima (cpuLimit, memoryLimit).',
    configurationRequired: false,
    evaluate: limits,
  },
  '8d244d29-fa00-4332-b935-c3a51d525417': {
    remediation:
      'Pull images only from registries you trust and monitor: set allowedContainerImagesRegex to match them (e.g. ^myregistry\\.azurecr\\.io/.+$) and move other images there.',
    configurationRequired: true,
    evaluate: allowedImages,
  },
  '802c0637-5a8c-4c98-abd7-7c96d89d6010': {
    remediation: 'Remove hostPID: true and hostIPC: true from the pod spec.',
    configurationRequired: false,
    evaluate: hostNamespaces,
  },
  '86f91051-9d6a-47c3-a07f-bd14cb214b45': {
    remediation:
      'Set securityContext.appArmorProfile (type RuntimeDefault or Localhost) or remove the unconfined AppArmor annotation so every container uses an allowed profile.',
    configurationRequired: false,
    evaluate: appArmor,
  },
  '43dc2a2e-ce69-4d42-923e-ab7d136f2cfe': {
    remediation: 'Set securityContext.allowPrivilegeEscalation: false on every container.',
    configurationRequired: false,
    evaluate: privilegeEscalation,
  },
  '27d6f0e9-b4d5-468b-ae7e-03d5473fd864': {
    remediation:
      'Set securityContext.readOnlyRootFilesystem: true on every container; mount an emptyDir where the application must write.',
    configurationRequired: false,
    evaluate: readOnlyRoot,
  },
  'c6d87087-9ebe-b31f-b452-0bf3bbbaccd2': {
    remediation:
      'Add a spec.tls section with a certificate Secret and the annotation kubernetes.io/ingress.allow-http: "false" to the Ingress.',
    configurationRequired: false,
    evaluate: httpsOnly,
  },
  '32060ac3-f17f-4848-db8e-e7cf2c9a53eb': {
    remediation:
      'Set automountServiceAccountToken: false in the pod spec (or on its ServiceAccount) and mount a projected token only in pods that call the API.',
    configurationRequired: false,
    reads: ['ServiceAccount'],
    evaluate: automountToken,
  },
  'aba14f78-27c5-af84-848e-9105d18dfd92': {
    remediation: 'Remove SYS_ADMIN (and ALL) from securityContext.capabilities.add.',
    configurationRequired: false,
    evaluate: sysAdmin,
  },
  'ff87e0b4-17df-d338-5b19-80e71e0dcc9d': {
    remediation: 'Create a namespace for the workload and deploy it there instead of the default namespace.',
    configurationRequired: false,
    evaluate: defaultNamespace,
  },
  '11c95609-3553-430d-b788-fd41cde8b2db': {
    remediation:
      'Drop ALL capabilities in securityContext.capabilities.drop and add back only those listed in allowedCapabilities.',
    configurationRequired: false,
    evaluate: capabilities,
  },
  '5d90913f-a1c5-4429-ad54-2c6c17fb3c73': {
    remediation:
      'Remove securityContext.privileged: true; grant the specific capabilities the container needs instead.',
    configurationRequired: false,
    evaluate: privileged,
  },
  '9b795646-9130-41a4-90b7-df9eae2437c8': {
    remediation:
      'Set runAsNonRoot: true with a non-zero runAsUser, and runAsGroup, fsGroup and supplementalGroups within the allowed ranges (1 and above by default), in the pod or container securityContext.',
    configurationRequired: false,
    evaluate: users,
  },
  'add45209-73f6-4fa5-a5a5-74a451b07fbe': {
    remediation:
      'List the ports your services may expose in allowedServicePortsList (e.g. ["443"]) and change Services to listen only on those.',
    configurationRequired: true,
    evaluate: servicePorts,
  },
  'ebc68898-5c0f-4353-a426-4a5f1e737b12': {
    remediation:
      'Remove hostNetwork: true and hostPort from the pod; expose the workload through a Service instead, or allow the needed host port range (minPort, maxPort).',
    configurationRequired: false,
    evaluate: hostNetworkPorts,
  },
  'f0debc84-981c-4a0d-924d-aa4bd7d55fef': {
    remediation:
      'Replace hostPath volumes with emptyDir, ConfigMap or persistent volumes; where a host path is needed, add its prefix to allowedHostPaths and mount it readOnly.',
    configurationRequired: false,
    evaluate: hostPaths,
  },
};

function kindsOf(rec: DefenderRecommendation): string[] {
  // Pod means every pod-template owner too: a Deployment's template is where the pod spec is written
  return rec.kinds.flatMap((k) => (k === 'Pod' ? [...POD_KINDS] : [k]));
}

function buildCheck(rec: DefenderRecommendation): ObjectCheck {
  const impl = IMPLS[rec.assessmentKey];
  if (!impl)
    throw new MoatError('INTERNAL', `defender: no implementation for assessment ${rec.assessmentKey}`);
  const id = `defender.${rec.assessmentKey}`;
  const evaluate = impl.evaluate;
  const run: Run = { id, params: {}, object: {}, ctx: { params: {}, pssVersion: 0, inventory: EMPTY } };
  return {
    id,
    family: 'defender',
    scope: 'object',
    title: rec.name,
    description: rec.description,
    severity: rec.severity,
    remediation: impl.remediation,
    category: rec.securityControl,
    kinds: kindsOf(rec),
    parameters: rec.parameters.map((p) => ({ ...p, default: structuredClone(p.default) })),
    defaultEffect: 'audit',
    configurationRequired: impl.configurationRequired,
    ...(impl.reads ? { reads: impl.reads } : {}),
    references: {
      assessmentKey: rec.assessmentKey,
      azurePolicyId: rec.azurePolicyId,
      azurePolicyName: rec.azurePolicyName,
      azurePolicyVersion: rec.azurePolicyVersion,
      initiativeVersion: rec.initiativeVersion,
      gatekeeperTemplate: rec.gatekeeperTemplate,
      defenderConfigurationRequired: String(rec.configurationRequired),
    },
    evaluate: (object, ctx) => {
      // one Run per check, refilled per call: evaluations are synchronous and do not keep it
      run.params = ctx.params;
      run.object = object;
      run.ctx = ctx;
      return evaluate(run);
    },
  };
}

/** Every Defender data-plane recommendation as a check, in the catalogue's order. */
export const DEFENDER_CHECKS: readonly ObjectCheck[] = DEFENDER_RECOMMENDATIONS.map(buildCheck);
