import { kindWord } from '../../k8s.js';
import { text } from '../../text.js';
import type {
  CheckContext,
  ClusterCheck,
  K8sObject,
  ObjectCheck,
  ParamSpec,
  Violation,
} from '../../types.js';
import { CIS_CONTROLS } from './controls.js';
import {
  anyGlob,
  cisMeta,
  EXCLUDED_NAMESPACES_PARAM,
  lookup,
  NAMESPACED_KINDS,
  nameOf,
  namespaceOf,
  stringList,
} from './meta.js';

/** Pod Security admission levels, weakest first. */
const PSA_LEVELS = ['privileged', 'baseline', 'restricted'] as const;
type PsaLevel = (typeof PSA_LEVELS)[number];
const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

function levelRank(v: unknown): number {
  return PSA_LEVELS.indexOf(v as PsaLevel);
}

/**
 * The PSS checks that decide, per workload, what each 5.2 control asks the admission policy to refuse;
 * the 5.2 checks themselves look at the namespace's policy, so they do not repeat those verdicts.
 */
const PSS_EQUIVALENT: Record<string, readonly string[]> = {
  '5.2.2': ['pss.baseline.privileged'],
  '5.2.3': ['pss.baseline.hostNamespaces'],
  '5.2.4': ['pss.baseline.hostNamespaces'],
  '5.2.5': ['pss.baseline.hostNamespaces'],
  '5.2.6': ['pss.restricted.allowPrivilegeEscalation'],
  '5.2.7': ['pss.restricted.runAsNonRoot', 'pss.restricted.runAsUser'],
  '5.2.8': ['pss.baseline.capabilities', 'pss.restricted.capabilities'],
  '5.2.9': ['pss.baseline.capabilities', 'pss.restricted.capabilities'],
  '5.2.10': ['pss.restricted.capabilities'],
  '5.2.11': ['pss.baseline.windowsHostProcess'],
  '5.2.12': ['pss.baseline.hostPathVolumes'],
  '5.2.13': ['pss.baseline.hostPorts'],
};

/** What each 5.2 control wants refused, for messages. */
const REFUSES: Record<string, string> = {
  '5.2.1': 'any pod',
  '5.2.2': 'privileged containers',
  '5.2.3': 'pods sharing the host PID namespace',
  '5.2.4': 'pods sharing the host IPC namespace',
  '5.2.5': 'pods sharing the host network',
  '5.2.6': 'containers allowing privilege escalation',
  '5.2.7': 'containers running as root',
  '5.2.8': 'containers with NET_RAW',
  '5.2.9': 'containers adding capabilities',
  '5.2.10': 'containers keeping capabilities',
  '5.2.11': 'Windows HostProcess containers',
  '5.2.12': 'hostPath volumes',
  '5.2.13': 'host ports',
};

// Kubescape implements each 5.2 control as "the namespace enforces <level>"; its rule names say which
// level. Controls implemented by a workload rule (host PID/IPC/network) are refused from baseline up.
function requiredLevel(rules: readonly string[]): PsaLevel {
  return rules.some((r) => r.includes('restricted')) ? 'restricted' : 'baseline';
}

const POLICY_PARAMS: readonly ParamSpec[] = [
  EXCLUDED_NAMESPACES_PARAM,
  {
    name: 'clusterDefaultLevel',
    type: 'string',
    description:
      "the API server's PodSecurity admission configuration default enforce level (privileged unless configured), applied to namespaces without the enforce label",
    default: 'privileged',
  },
  {
    name: 'policyWebhooks',
    type: 'string-list',
    description:
      'names (`*` globs) of ValidatingWebhookConfigurations of a policy engine (Gatekeeper, Kyverno...) known to enforce these controls in every namespace; when one is present the namespaces pass',
    default: [],
  },
];

function namespaceObjects(ctx: CheckContext): K8sObject[] {
  const excluded = stringList(ctx.params.excludedNamespaces);
  return ctx.inventory.byKind('Namespace').filter((n) => !excluded.includes(nameOf(n)));
}

function policyWebhook(ctx: CheckContext): K8sObject | undefined {
  const match = anyGlob(ctx.params.policyWebhooks);
  return ctx.inventory.byKind('ValidatingWebhookConfiguration').find((w) => match(nameOf(w)));
}

/** 5.2.x: each namespace's Pod Security admission enforce level must refuse what the control names. */
function admissionCheck(id: string, level: PsaLevel): ClusterCheck {
  const pss = PSS_EQUIVALENT[id];
  return {
    ...cisMeta(id, pss ? { pss } : {}),
    scope: 'cluster',
    kinds: ['Namespace', 'ValidatingWebhookConfiguration'],
    // namespace labels, webhook names
    metadataOnly: true,
    parameters: POLICY_PARAMS,
    evaluateCluster(ctx) {
      if (policyWebhook(ctx)) return [];
      const fallback = levelRank(ctx.params.clusterDefaultLevel);
      const out: Violation[] = [];
      for (const ns of namespaceObjects(ctx)) {
        const label = ns.metadata?.labels?.[ENFORCE_LABEL];
        const rank = label === undefined ? fallback : levelRank(label);
        if (rank >= levelRank(level)) continue;
        const has = label === undefined ? `no ${ENFORCE_LABEL} label` : `${ENFORCE_LABEL}=${label}`;
        out.push({
          message: text`namespace has ${has}, so Pod Security admission does not refuse ${REFUSES[id]} (needs ${level === 'baseline' ? 'baseline or restricted' : 'restricted'})`,
          path: `metadata.labels`,
          resource: ns,
        });
      }
      return out;
    },
  };
}

const ADMISSION_CHECKS: ClusterCheck[] = CIS_CONTROLS.filter((c) => c.subsection === '5.2').map((c) =>
  admissionCheck(c.id, requiredLevel(c.kubescapeRules)),
);

const networkPolicies: ClusterCheck = {
  ...cisMeta('5.3.2'),
  scope: 'cluster',
  kinds: [...new Set(['Namespace', 'CiliumNetworkPolicy', ...NAMESPACED_KINDS])],
  // namespaces and policies: their names and namespaces
  metadataOnly: true,
  parameters: [
    EXCLUDED_NAMESPACES_PARAM,
    {
      name: 'policyKinds',
      type: 'string-list',
      description: 'namespaced kinds that count as a network policy for their namespace',
      default: ['NetworkPolicy', 'CiliumNetworkPolicy'],
    },
    {
      name: 'clusterPolicyKinds',
      type: 'string-list',
      description:
        'cluster-scoped network policy kinds; when one is present every namespace counts as covered (their namespace selectors are not evaluated)',
      default: [
        'CiliumClusterwideNetworkPolicy',
        'GlobalNetworkPolicy',
        'AdminNetworkPolicy',
        'BaselineAdminNetworkPolicy',
      ],
    },
  ],
  evaluateCluster(ctx) {
    const inv = ctx.inventory;
    if (stringList(ctx.params.clusterPolicyKinds).some((k) => inv.byKind(k).length > 0)) return [];
    const covered = new Set<string>();
    for (const k of stringList(ctx.params.policyKinds)) {
      for (const p of inv.byKind(k)) covered.add(p.metadata?.namespace || 'default');
    }
    // every namespace we know of: Namespace objects, and the namespaces other objects live in
    const namespaces = new Map<string, K8sObject | undefined>();
    for (const n of inv.byKind('Namespace')) namespaces.set(nameOf(n), n);
    for (const o of inv.objects) {
      const ns = o.kind === 'Namespace' ? undefined : namespaceOf(o);
      if (ns !== undefined && !namespaces.has(ns)) namespaces.set(ns, undefined);
    }
    const excluded = stringList(ctx.params.excludedNamespaces);
    const out: Violation[] = [];
    for (const [name, obj] of namespaces) {
      if (covered.has(name) || excluded.includes(name)) continue;
      const resource = obj ?? { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
      out.push({
        message: text`namespace has no NetworkPolicy: its pods accept traffic from, and send it to, anywhere`,
        resource,
      });
    }
    return out;
  },
};

const SA_NAME_ANNOTATION = 'kubernetes.io/service-account.name';

const defaultNamespace: ObjectCheck = {
  ...cisMeta('5.7.4'),
  scope: 'object',
  // Events and ControllerRevisions are written by Kubernetes itself (node events land in default)
  kinds: NAMESPACED_KINDS.filter((k) => k !== 'Event' && k !== 'ControllerRevision'),
  reads: ['Service'],
  parameters: [
    {
      name: 'allowedObjects',
      type: 'string-list',
      description:
        '`Kind/name` globs allowed in the default namespace (what Kubernetes creates there: the default service account, the kubernetes Service and its endpoints, the root CA ConfigMap)',
      default: [
        'ServiceAccount/default',
        'Service/kubernetes',
        'Endpoints/kubernetes',
        'EndpointSlice/kubernetes',
        'ConfigMap/kube-root-ca.crt',
      ],
    },
    {
      name: 'missingNamespaceIsDefault',
      type: 'boolean',
      description:
        'an object without metadata.namespace lands in default (true: what kubectl apply does without -n; false: the namespace is chosen at deploy time, e.g. by helm --namespace)',
      default: true,
    },
  ],
  evaluate(obj, ctx) {
    const ns = obj.metadata?.namespace;
    if (ns ? ns !== 'default' : !ctx.params.missingNamespaceIsDefault) return [];
    if (anyGlob(ctx.params.allowedObjects)(`${obj.kind}/${nameOf(obj)}`)) return [];
    // objects a controller owns (ReplicaSets, Pods, EndpointSlices) are reported through their owner
    if (obj.metadata?.ownerReferences?.some((r) => r.controller)) return [];
    if (obj.kind === 'Endpoints' && lookup(ctx.inventory, 'Service', nameOf(obj), 'default')) return [];
    if (obj.kind === 'Secret' && obj.type === 'kubernetes.io/service-account-token') {
      const sa = obj.metadata?.annotations?.[SA_NAME_ANNOTATION];
      if (sa && anyGlob(ctx.params.allowedObjects)(`ServiceAccount/${sa}`)) return [];
    }
    const where = ns
      ? 'is in the default namespace'
      : 'has no namespace, so it lands in the default namespace';
    return [{ message: text`${kindWord(obj)} ${where}`, path: 'metadata.namespace' }];
  },
};

export const NAMESPACE_CHECKS: readonly (ObjectCheck | ClusterCheck)[] = [
  ...ADMISSION_CHECKS,
  networkPolicies,
  defaultNamespace,
];
