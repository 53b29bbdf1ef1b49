import { globMatcher } from '../../glob.js';
import { POD_KINDS } from '../../k8s.js';
import type { Check, Inventory, K8sObject, ParamSpec } from '../../types.js';
import { CIS_BENCHMARK, CIS_CONTROLS, type CisControl } from './controls.js';

type CheckMeta = Pick<
  Check,
  | 'id'
  | 'family'
  | 'title'
  | 'description'
  | 'severity'
  | 'remediation'
  | 'category'
  | 'defaultEffect'
  | 'references'
>;

const byId = new Map(CIS_CONTROLS.map((c) => [c.id, c]));

export function cisControl(id: string): CisControl {
  const c = byId.get(id);
  if (!c) throw new Error(`CIS control ${id} is not in the catalogue`);
  return c;
}

/** The data-driven part of a CIS check: id, texts, severity and category come from the catalogue. */
export function cisMeta(id: string, extraRefs: Record<string, string | readonly string[]> = {}): CheckMeta {
  const c = cisControl(id);
  return {
    id: `cis.${c.id}`,
    family: 'cis',
    title: c.title,
    description: c.description,
    severity: c.severity,
    remediation: c.remediation,
    category: c.subsectionTitle,
    defaultEffect: 'audit',
    references: { cis: c.id, kubescape: c.kubescapeControlId, benchmark: CIS_BENCHMARK, ...extraRefs },
  };
}

export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

export const EXCLUDED_NAMESPACES_PARAM: ParamSpec = {
  name: 'excludedNamespaces',
  type: 'string-list',
  description: 'namespaces this check ignores (the platform manages them)',
  default: SYSTEM_NAMESPACES,
};

/** Namespaced built-in kinds; objects of these kinds without metadata.namespace land in `default`. */
export const NAMESPACED_KINDS: readonly string[] = [
  ...POD_KINDS,
  'ConfigMap',
  'Secret',
  'Service',
  'ServiceAccount',
  'Endpoints',
  'EndpointSlice',
  'PersistentVolumeClaim',
  'Role',
  'RoleBinding',
  'Ingress',
  'NetworkPolicy',
  'HorizontalPodAutoscaler',
  'PodDisruptionBudget',
  'LimitRange',
  'ResourceQuota',
  'Lease',
  'CSIStorageCapacity',
  'ControllerRevision',
  'Event',
];
const NAMESPACED = new Set(NAMESPACED_KINDS);

/** Cluster-scoped built-in kinds: Kubernetes ignores a metadata.namespace written on them. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'ClusterRole',
  'ClusterRoleBinding',
  'StorageClass',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
  'PriorityClass',
  'RuntimeClass',
  'IngressClass',
  'CustomResourceDefinition',
  'APIService',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'PodSecurityPolicy',
  'CertificateSigningRequest',
  'FlowSchema',
  'PriorityLevelConfiguration',
]);

/**
 * The namespace an object lives in: its own, `default` for a namespaced built-in kind without one (what
 * `kubectl apply` without `-n` does), or undefined (a cluster-scoped kind, or an unknown kind without one).
 */
export function namespaceOf(obj: K8sObject): string | undefined {
  if (CLUSTER_SCOPED.has(obj.kind ?? '')) return undefined;
  const ns = obj.metadata?.namespace;
  if (typeof ns === 'string' && ns !== '') return ns;
  return NAMESPACED.has(obj.kind ?? '') ? 'default' : undefined;
}

const NONE: readonly string[] = [];

/** A parameter's string list; the parameter array itself when it holds only strings (no copy per object). */
export function stringList(v: unknown): readonly string[] {
  if (!Array.isArray(v)) return NONE;
  return v.every((x) => typeof x === 'string')
    ? (v as string[])
    : v.filter((x): x is string => typeof x === 'string');
}

/** A matcher over `*` globs; compiled matchers are cached per parameter array (parameters are reused). */
const matcherCache = new WeakMap<object, (s: string) => boolean>();
export function anyGlob(patterns: unknown): (s: string) => boolean {
  if (!Array.isArray(patterns) || patterns.length === 0) return () => false;
  const cached = matcherCache.get(patterns);
  if (cached) return cached;
  const ms = stringList(patterns).map(globMatcher);
  const m = (s: string) => ms.some((f) => f(s));
  matcherCache.set(patterns, m);
  return m;
}

export function nameOf(obj: K8sObject): string {
  return obj.metadata?.name ?? obj.metadata?.generateName ?? '<unnamed>';
}

// One index per kind list of an inventory (the engine builds the inventory once per assessment), so
// that a lookup per workload stays O(1) at 20,000 objects.
const indexCache = new WeakMap<readonly K8sObject[], Map<string, K8sObject>>();

/**
 * The object of `kind` named `name`: in namespace `ns` for a namespaced kind, anywhere when `ns` is
 * undefined (cluster-scoped kinds, whose metadata.namespace Kubernetes ignores). First one wins.
 */
export function lookup(inventory: Inventory, kind: string, name: string, ns?: string): K8sObject | undefined {
  const list = inventory.byKind(kind);
  if (!list.length) return undefined;
  let index = indexCache.get(list);
  if (!index) {
    index = new Map();
    for (const o of list) {
      const n = o.metadata?.name ?? '';
      for (const key of [`${namespaceOf(o) ?? ''}/${n}`, `*/${n}`]) if (!index.has(key)) index.set(key, o);
    }
    indexCache.set(list, index);
  }
  return index.get(`${ns ?? '*'}/${name}`);
}
