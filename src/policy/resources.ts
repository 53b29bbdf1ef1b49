/**
 * The built-in Kubernetes API resources: plural resource name (what admission rules and API URLs name) <->
 * kind (what manifests carry), API group and scope. The one table of these facts: admission rules match on
 * resources while objects from manifests only tell their kind (CEL policies), the inventory needs each
 * kind's scope (policy/inventory.ts), and the cluster lister its URLs (posture/kinds.ts). Kinds not listed
 * (custom resources) get a plural by Kubernetes' own default (lower-case kind + "s", "es" or "ies"), which
 * is what CRDs usually declare.
 */
export interface ApiResource {
  group: string;
  /** the version to list it and name it in webhook rules with: its stable one, where it has one */
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
}

const TABLE: ReadonlyArray<
  readonly [group: string, resource: string, kind: string, namespaced: boolean, version?: string]
> = [
  ['', 'bindings', 'Binding', true],
  ['', 'componentstatuses', 'ComponentStatus', false],
  ['', 'configmaps', 'ConfigMap', true],
  ['', 'endpoints', 'Endpoints', true],
  ['', 'events', 'Event', true],
  ['', 'limitranges', 'LimitRange', true],
  ['', 'namespaces', 'Namespace', false],
  ['', 'nodes', 'Node', false],
  ['', 'persistentvolumeclaims', 'PersistentVolumeClaim', true],
  ['', 'persistentvolumes', 'PersistentVolume', false],
  ['', 'pods', 'Pod', true],
  ['', 'podtemplates', 'PodTemplate', true],
  ['', 'replicationcontrollers', 'ReplicationController', true],
  ['', 'resourcequotas', 'ResourceQuota', true],
  ['', 'secrets', 'Secret', true],
  ['', 'serviceaccounts', 'ServiceAccount', true],
  ['', 'services', 'Service', true],
  ['admissionregistration.k8s.io', 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false],
  [
    'admissionregistration.k8s.io',
    'validatingwebhookconfigurations',
    'ValidatingWebhookConfiguration',
    false,
  ],
  ['admissionregistration.k8s.io', 'validatingadmissionpolicies', 'ValidatingAdmissionPolicy', false],
  [
    'admissionregistration.k8s.io',
    'validatingadmissionpolicybindings',
    'ValidatingAdmissionPolicyBinding',
    false,
  ],
  ['admissionregistration.k8s.io', 'mutatingadmissionpolicies', 'MutatingAdmissionPolicy', false, 'v1beta1'],
  [
    'admissionregistration.k8s.io',
    'mutatingadmissionpolicybindings',
    'MutatingAdmissionPolicyBinding',
    false,
    'v1beta1',
  ],
  ['apiextensions.k8s.io', 'customresourcedefinitions', 'CustomResourceDefinition', false],
  ['apiregistration.k8s.io', 'apiservices', 'APIService', false],
  ['apps', 'controllerrevisions', 'ControllerRevision', true],
  ['apps', 'daemonsets', 'DaemonSet', true],
  ['apps', 'deployments', 'Deployment', true],
  ['apps', 'replicasets', 'ReplicaSet', true],
  ['apps', 'statefulsets', 'StatefulSet', true],
  ['autoscaling', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', true, 'v2'],
  ['batch', 'cronjobs', 'CronJob', true],
  ['batch', 'jobs', 'Job', true],
  ['certificates.k8s.io', 'certificatesigningrequests', 'CertificateSigningRequest', false],
  ['coordination.k8s.io', 'leases', 'Lease', true],
  ['discovery.k8s.io', 'endpointslices', 'EndpointSlice', true],
  ['flowcontrol.apiserver.k8s.io', 'flowschemas', 'FlowSchema', false],
  ['flowcontrol.apiserver.k8s.io', 'prioritylevelconfigurations', 'PriorityLevelConfiguration', false],
  ['networking.k8s.io', 'ingressclasses', 'IngressClass', false],
  ['networking.k8s.io', 'ingresses', 'Ingress', true],
  ['networking.k8s.io', 'networkpolicies', 'NetworkPolicy', true],
  ['node.k8s.io', 'runtimeclasses', 'RuntimeClass', false],
  ['policy', 'poddisruptionbudgets', 'PodDisruptionBudget', true],
  ['policy', 'podsecuritypolicies', 'PodSecurityPolicy', false, 'v1beta1'],
  ['rbac.authorization.k8s.io', 'clusterrolebindings', 'ClusterRoleBinding', false],
  ['rbac.authorization.k8s.io', 'clusterroles', 'ClusterRole', false],
  ['rbac.authorization.k8s.io', 'rolebindings', 'RoleBinding', true],
  ['rbac.authorization.k8s.io', 'roles', 'Role', true],
  ['scheduling.k8s.io', 'priorityclasses', 'PriorityClass', false],
  ['storage.k8s.io', 'csidrivers', 'CSIDriver', false],
  ['storage.k8s.io', 'csinodes', 'CSINode', false],
  ['storage.k8s.io', 'csistoragecapacities', 'CSIStorageCapacity', true],
  ['storage.k8s.io', 'storageclasses', 'StorageClass', false],
  ['storage.k8s.io', 'volumeattachments', 'VolumeAttachment', false],
];

export const API_RESOURCES: readonly ApiResource[] = TABLE.map(
  ([group, resource, kind, namespaced, version = 'v1']) => ({ group, version, resource, kind, namespaced }),
);

const byKind = new Map<string, ApiResource>();
for (const r of API_RESOURCES) if (!byKind.has(r.kind)) byKind.set(r.kind, r);

/** The built-in resource of a kind, when the kind is a built-in one. */
export function builtinResource(kind: string): ApiResource | undefined {
  return byKind.get(kind);
}

/** `apps/v1` -> {group: 'apps', version: 'v1'}; `v1` -> {group: '', version: 'v1'} */
export function groupVersion(apiVersion: string | undefined): { group: string; version: string } {
  const v = apiVersion ?? '';
  const slash = v.indexOf('/');
  return slash < 0 ? { group: '', version: v } : { group: v.slice(0, slash), version: v.slice(slash + 1) };
}

/** The resource an object of this kind belongs to (known table, else Kubernetes' default pluralisation). */
export function resourceOf(kind: string, apiVersion?: string): ApiResource {
  const { group, version } = groupVersion(apiVersion);
  const known = byKind.get(kind);
  if (known && (apiVersion === undefined || known.group === group || legacyGroup(known, group))) return known;
  return { group, version, resource: pluralize(kind), kind, namespaced: true };
}

// objects from old manifests (extensions/v1beta1 Deployment, ...) are the same resources
function legacyGroup(r: ApiResource, group: string): boolean {
  return group === 'extensions' || (r.group === 'networking.k8s.io' && group === 'extensions');
}

function pluralize(kind: string): string {
  const k = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(k)) return `${k}es`;
  if (/[^aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
  return `${k}s`;
}

/** True when a rule's resource entry covers the main resource (subresource entries like `pods/status` do not). */
export function resourceMatches(entry: string, resource: string): boolean {
  return entry === '*' || entry === '*/*' || entry === resource;
}

/**
 * Kinds a rule's groups and resources name (`*` allowed in both): the built-in resources it covers, and for
 * other resources a kind guessed from the plural (`widgets` -> `Widget`), since CRD kinds are unknown here.
 */
export function kindsForRule(groups: readonly string[], resources: readonly string[]): string[] {
  const out = new Set<string>();
  for (const r of API_RESOURCES) {
    if (!groups.includes('*') && !groups.includes(r.group)) continue;
    if (resources.some((x) => resourceMatches(x, r.resource))) out.add(r.kind);
  }
  for (const x of resources) {
    if (x.includes('/') || x === '*' || API_RESOURCES.some((r) => r.resource === x)) continue;
    out.add(singularKind(x));
  }
  return [...out];
}

function singularKind(plural: string): string {
  let s = plural;
  if (s.endsWith('ies')) s = `${s.slice(0, -3)}y`;
  else if (/(ses|xes|zes|ches|shes)$/.test(s)) s = s.slice(0, -2);
  else if (s.endsWith('s')) s = s.slice(0, -1);
  return s.charAt(0).toUpperCase() + s.slice(1);
}
