import { builtinResource } from '../policy/resources.js';

/**
 * The API resources `moat posture` reads from a live cluster: every kind a built-in check evaluates or
 * looks up in the inventory (pod-spec owners, Services, Ingresses, namespaces, service accounts, RBAC,
 * network policies) plus ValidatingAdmissionPolicies, which clusters older than v1.30 do not serve in v1.
 * Each row is what the API server's discovery document says about the resource.
 */
export interface ApiResource {
  kind: string;
  /** API group; '' for the core group */
  group: string;
  version: string;
  /** the resource name in URLs */
  plural: string;
  namespaced: boolean;
  /** not served by every supported cluster version: a 404 means "none", not an error */
  optional?: boolean;
}

/** The kinds listed, in this order; group, version, plural and scope come from policy/resources.ts. */
const LISTED = [
  'Namespace',
  'Pod',
  'PodTemplate',
  'ReplicationController',
  'Service',
  'ServiceAccount',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Ingress',
  'NetworkPolicy',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
] as const;
/** not served by every supported cluster version (v1 from v1.30) */
const OPTIONAL = new Set(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);

export const CLUSTER_RESOURCES: readonly ApiResource[] = LISTED.map((kind) => {
  const r = builtinResource(kind);
  if (!r) throw new Error(`posture/kinds: ${kind} is not in the API resource table`);
  const listed: ApiResource = {
    kind,
    group: r.group,
    version: r.version,
    plural: r.resource,
    namespaced: r.namespaced,
  };
  if (OPTIONAL.has(kind)) listed.optional = true;
  return listed;
});

/** `apps/v1`, or `v1` for the core group. */
export function groupVersion(r: Pick<ApiResource, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/**
 * URL path of a resource's list endpoint: cluster-wide (`/apis/apps/v1/deployments`) or, for a
 * namespaced resource and a namespace, `/apis/apps/v1/namespaces/<ns>/deployments`.
 */
export function listPath(r: ApiResource, namespace?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return r.namespaced && namespace
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`
    : `${base}/${r.plural}`;
}
