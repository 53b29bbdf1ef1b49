import { isObject, kindWord, POD_KINDS } from '../../k8s.js';
import { text } from '../../text.js';
import type { CheckContext, Inventory, K8sObject, ObjectCheck, ParamSpec, Violation } from '../../types.js';
import {
  anyGlob,
  cisMeta,
  EXCLUDED_NAMESPACES_PARAM,
  lookup,
  nameOf,
  namespaceOf,
  stringList,
} from './meta.js';
import { serviceAccountOf, tokenMount } from './service-accounts.js';

/** One rule of a Role or ClusterRole, lists normalised (absent -> empty). */
export interface PolicyRule {
  index: number;
  apiGroups: readonly string[];
  resources: readonly string[];
  verbs: readonly string[];
  resourceNames: readonly string[];
  nonResourceURLs: readonly string[];
}

export function rulesOf(role: K8sObject): PolicyRule[] {
  const rules = role.rules;
  if (!Array.isArray(rules)) return [];
  const out: PolicyRule[] = [];
  rules.forEach((r, index) => {
    if (!isObject(r)) return;
    out.push({
      index,
      apiGroups: stringList(r.apiGroups),
      resources: stringList(r.resources),
      verbs: stringList(r.verbs),
      resourceNames: stringList(r.resourceNames),
      nonResourceURLs: stringList(r.nonResourceURLs),
    });
  });
  return out;
}

/** What a check looks for: any of `verbs` on any of `resources` (`resource` or `resource/subresource`) in any of `groups`. */
export interface Access {
  groups: readonly string[];
  resources: readonly string[];
  verbs: readonly string[];
  /** verbs whose requests carry no object name (create on a top-level resource): resourceNames cannot grant them */
  unnamed?: boolean;
}

// Matching follows Kubernetes' RBAC evaluation (pkg/apis/rbac/v1/evaluation_helpers.go): `*` matches
// everything, `*/sub` matches that subresource of any resource; there is no `pods/*` form.
function resourceMatches(ruleResources: readonly string[], want: string): boolean {
  const slash = want.indexOf('/');
  const sub = slash < 0 ? '' : want.slice(slash + 1);
  return ruleResources.some((r) => r === '*' || r === want || (sub !== '' && r === `*/${sub}`));
}

/** The verbs and resources of `access` that `rule` grants, or undefined when it grants none. */
export function grants(
  rule: PolicyRule,
  access: Access,
): { verbs: string[]; resources: string[] } | undefined {
  if (rule.nonResourceURLs.length && !rule.resources.length) return undefined;
  if (!access.groups.some((g) => rule.apiGroups.includes(g) || rule.apiGroups.includes('*')))
    return undefined;
  // a create of a new top-level object has no name yet, so a rule limited to resourceNames never allows it
  if (access.unnamed && rule.resourceNames.length) return undefined;
  const resources = access.resources.filter((r) => resourceMatches(rule.resources, r));
  if (!resources.length) return undefined;
  const verbs = rule.verbs.includes('*')
    ? [...access.verbs]
    : access.verbs.filter((v) => rule.verbs.includes(v));
  return verbs.length ? { verbs, resources } : undefined;
}

const STANDARD_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/** A rule over every group and resource with every verb (`*` or all the standard verbs): what cluster-admin grants. */
export function isAdminRule(rule: PolicyRule): boolean {
  return (
    rule.apiGroups.includes('*') &&
    rule.resources.includes('*') &&
    (rule.verbs.includes('*') || STANDARD_VERBS.every((v) => rule.verbs.includes(v)))
  );
}

/** The Role (in the binding's namespace) or ClusterRole a binding references, when it is in the inventory. */
export function referencedRole(binding: K8sObject, inventory: Inventory): K8sObject | undefined {
  const ref = binding.roleRef;
  if (!isObject(ref) || typeof ref.name !== 'string') return undefined;
  if (ref.kind === 'ClusterRole') return lookup(inventory, 'ClusterRole', ref.name);
  if (ref.kind !== 'Role') return undefined;
  return lookup(inventory, 'Role', ref.name, namespaceOf(binding) ?? 'default');
}

export interface Subject {
  kind: string;
  name: string;
  namespace?: string;
  index: number;
}

export function subjectsOf(binding: K8sObject): Subject[] {
  const subjects = binding.subjects;
  if (!Array.isArray(subjects)) return [];
  const out: Subject[] = [];
  subjects.forEach((s, index) => {
    if (!isObject(s) || typeof s.name !== 'string') return;
    const kind = typeof s.kind === 'string' ? s.kind : '';
    // a ServiceAccount subject without a namespace means the RoleBinding's own namespace
    const ns = typeof s.namespace === 'string' && s.namespace !== '' ? s.namespace : undefined;
    const namespace = kind === 'ServiceAccount' ? (ns ?? binding.metadata?.namespace) : undefined;
    out.push({ kind, name: s.name, index, ...(namespace ? { namespace } : {}) });
  });
  return out;
}

function describeSubject(s: Subject): string {
  return `${s.kind || 'subject'} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`;
}

const DEFAULT_ROLE_LABEL = 'kubernetes.io/bootstrapping';

const ROLE_PARAMS: readonly ParamSpec[] = [
  {
    name: 'includeDefaultRoles',
    type: 'boolean',
    description:
      'also report the built-in roles Kubernetes creates (labelled kubernetes.io/bootstrapping=rbac-defaults: admin, edit, system:*)',
    default: false,
  },
  {
    name: 'allowedRoles',
    type: 'string-list',
    description: 'names (`*` globs) of Roles and ClusterRoles allowed this access',
    default: [],
  },
];

function roleSkipped(role: K8sObject, ctx: CheckContext): boolean {
  if (!ctx.params.includeDefaultRoles && role.metadata?.labels?.[DEFAULT_ROLE_LABEL] === 'rbac-defaults')
    return true;
  return anyGlob(ctx.params.allowedRoles)(nameOf(role));
}

/** A check over Role/ClusterRole rules: one violation per rule that grants any of `accesses`. */
function roleAccessCheck(
  id: string,
  kinds: readonly string[],
  what: string,
  accesses: (ctx: CheckContext) => readonly Access[],
  extraParams: readonly ParamSpec[] = [],
): ObjectCheck {
  return {
    ...cisMeta(id),
    scope: 'object',
    kinds,
    parameters: [...ROLE_PARAMS, ...extraParams],
    evaluate(role, ctx) {
      if (roleSkipped(role, ctx)) return [];
      const out: Violation[] = [];
      const wanted = accesses(ctx);
      for (const rule of rulesOf(role)) {
        const found: string[] = [];
        for (const a of wanted) {
          const g = grants(rule, a);
          if (g) found.push(`${g.verbs.join(', ')} on ${g.resources.join(', ')}`);
        }
        if (!found.length) continue;
        const names = rule.resourceNames.length
          ? ` (only resourceNames ${rule.resourceNames.join(', ')})`
          : '';
        out.push({
          message: text`${kindWord(role)} grants ${found.join('; ')}${names} in rules[${rule.index}] (${what})`,
          path: text`rules[${rule.index}]`,
        });
      }
      return out;
    },
  };
}

const ROLE_KINDS = ['Role', 'ClusterRole'] as const;
// PersistentVolumes, Nodes, CertificateSigningRequests and webhook configurations are cluster-scoped:
// a namespaced Role naming them grants nothing, so only ClusterRoles are evaluated for them
const CLUSTER_ROLE = ['ClusterRole'] as const;
const CORE = [''];

const VERB_ACCESS: Record<string, Access> = {
  bind: { groups: ['rbac.authorization.k8s.io'], resources: ['roles', 'clusterroles'], verbs: ['bind'] },
  escalate: {
    groups: ['rbac.authorization.k8s.io'],
    resources: ['roles', 'clusterroles'],
    verbs: ['escalate'],
  },
  impersonate: {
    groups: ['', 'authentication.k8s.io'],
    resources: ['users', 'groups', 'serviceaccounts', 'uids', 'userextras/*'],
    verbs: ['impersonate'],
  },
};

function bindingAdminRole(binding: K8sObject, inventory: Inventory): string | undefined {
  const ref = binding.roleRef;
  if (!isObject(ref)) return undefined;
  if (ref.kind === 'ClusterRole' && ref.name === 'cluster-admin') return 'ClusterRole cluster-admin';
  const role = referencedRole(binding, inventory);
  if (role && rulesOf(role).some(isAdminRule)) {
    return `${role.kind} ${nameOf(role)} (all verbs on all resources, as cluster-admin)`;
  }
  return undefined;
}

const clusterAdmin: ObjectCheck = {
  ...cisMeta('5.1.1'),
  scope: 'object',
  kinds: ['ClusterRoleBinding', 'RoleBinding'],
  reads: ['Role', 'ClusterRole'],
  parameters: [
    {
      name: 'allowedSubjects',
      type: 'string-list',
      description:
        'subject names (`*` globs) that may hold cluster-admin (the built-in binding is to the group system:masters)',
      default: ['system:masters'],
    },
    {
      name: 'allowedBindings',
      type: 'string-list',
      description: 'names (`*` globs) of bindings that may grant cluster-admin',
      default: [],
    },
  ],
  evaluate(binding, ctx) {
    if (anyGlob(ctx.params.allowedBindings)(nameOf(binding))) return [];
    const role = bindingAdminRole(binding, ctx.inventory);
    if (!role) return [];
    const allowed = anyGlob(ctx.params.allowedSubjects);
    // a binding without subjects grants nothing yet
    const subjects = subjectsOf(binding).filter((s) => !allowed(s.name));
    if (!subjects.length) return [];
    const who = subjects.map(describeSubject).join(', ');
    return [{ message: text`${kindWord(binding)} grants ${role} to ${who}`, path: 'roleRef' }];
  },
};

const secrets = roleAccessCheck('5.1.2', ROLE_KINDS, 'read access to Secrets', () => [
  { groups: CORE, resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
]);

const wildcards: ObjectCheck = {
  ...cisMeta('5.1.3'),
  scope: 'object',
  kinds: ROLE_KINDS,
  parameters: ROLE_PARAMS,
  evaluate(role, ctx) {
    if (roleSkipped(role, ctx)) return [];
    const out: Violation[] = [];
    for (const rule of rulesOf(role)) {
      const where: string[] = [];
      if (rule.apiGroups.includes('*')) where.push('apiGroups');
      if (rule.resources.some((r) => r.includes('*'))) where.push('resources');
      if (rule.verbs.includes('*')) where.push('verbs');
      if (rule.nonResourceURLs.includes('*')) where.push('nonResourceURLs');
      if (!where.length) continue;
      out.push({
        message: text`${kindWord(role)} uses the wildcard "*" in the ${where.join(', ')} of rules[${rule.index}]`,
        path: text`rules[${rule.index}]`,
      });
    }
    return out;
  },
};

const createPods = roleAccessCheck('5.1.4', ROLE_KINDS, 'may create Pods', () => [
  { groups: CORE, resources: ['pods'], verbs: ['create'], unnamed: true },
]);

const bindEscalateImpersonate = roleAccessCheck(
  '5.1.8',
  ROLE_KINDS,
  'may escalate privileges (bind, escalate, impersonate)',
  (ctx) => stringList(ctx.params.verbs).flatMap((v) => (VERB_ACCESS[v] ? [VERB_ACCESS[v]] : [])),
  [
    {
      name: 'verbs',
      type: 'string-list',
      description:
        'which of bind (roles), escalate (roles) and impersonate (users, groups, service accounts) to report',
      default: ['bind', 'escalate', 'impersonate'],
    },
  ],
);

const createPersistentVolumes = roleAccessCheck('5.1.9', CLUSTER_ROLE, 'may create PersistentVolumes', () => [
  { groups: CORE, resources: ['persistentvolumes'], verbs: ['create'], unnamed: true },
]);

// any verb on nodes/proxy reaches the kubelet API (a GET upgraded to a websocket can exec)
const nodeProxy = roleAccessCheck(
  '5.1.10',
  CLUSTER_ROLE,
  'reaches the kubelet API through nodes/proxy',
  () => [
    {
      groups: CORE,
      resources: ['nodes/proxy'],
      verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'],
    },
  ],
);

const csrApproval = roleAccessCheck(
  '5.1.11',
  CLUSTER_ROLE,
  'may approve certificate signing requests',
  () => [
    {
      groups: ['certificates.k8s.io'],
      resources: ['certificatesigningrequests/approval'],
      verbs: ['update', 'patch'],
    },
  ],
);

const webhookConfig = roleAccessCheck('5.1.12', CLUSTER_ROLE, 'may change admission webhooks', () => [
  {
    groups: ['admissionregistration.k8s.io'],
    resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
    verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'],
  },
]);

const tokenCreate = roleAccessCheck('5.1.13', ROLE_KINDS, 'may mint service account tokens', () => [
  { groups: CORE, resources: ['serviceaccounts/token'], verbs: ['create'] },
]);

// Roles Kubernetes itself binds to every service account (system:serviceaccounts) or every user
const DISCOVERY_ROLES = [
  'system:service-account-issuer-discovery',
  'system:discovery',
  'system:basic-user',
  'system:public-info-viewer',
];

function defaultServiceAccountSubjects(binding: K8sObject, excluded: readonly string[]): Subject[] {
  return subjectsOf(binding).filter((s) => {
    if (s.kind === 'ServiceAccount')
      return s.name === 'default' && !excluded.includes(s.namespace ?? 'default');
    if (s.kind !== 'Group') return false;
    // system:serviceaccounts[:<namespace>] includes that namespace's default service account
    if (s.name === 'system:serviceaccounts') return true;
    return s.name.startsWith('system:serviceaccounts:') && !excluded.includes(s.name.slice(23));
  });
}

const defaultServiceAccount: ObjectCheck = {
  ...cisMeta('5.1.5'),
  scope: 'object',
  kinds: ['ServiceAccount', 'RoleBinding', 'ClusterRoleBinding', ...POD_KINDS],
  reads: ['ServiceAccount'],
  parameters: [
    EXCLUDED_NAMESPACES_PARAM,
    {
      name: 'allowedRoles',
      type: 'string-list',
      description:
        'roles (`*` globs) that may be bound to default service accounts (Kubernetes binds these itself)',
      default: DISCOVERY_ROLES,
    },
    {
      name: 'assumeServiceAccountAutomount',
      type: 'boolean',
      description:
        "when a workload's service account is not among the assessed objects, assume it mounts tokens (the Kubernetes default)",
      default: true,
    },
  ],
  evaluate(obj, ctx) {
    if (obj.kind === 'ServiceAccount') {
      if (nameOf(obj) !== 'default' || obj.automountServiceAccountToken === false) return [];
      const how = obj.automountServiceAccountToken === true ? 'sets' : 'leaves the default';
      return [
        {
          message: text`default service account ${how} automountServiceAccountToken=true: every pod using it gets an API token`,
          path: 'automountServiceAccountToken',
        },
      ];
    }
    if (obj.kind === 'RoleBinding' || obj.kind === 'ClusterRoleBinding') {
      const ref = isObject(obj.roleRef) && typeof obj.roleRef.name === 'string' ? obj.roleRef.name : '';
      if (anyGlob(ctx.params.allowedRoles)(ref)) return [];
      const excluded = stringList(ctx.params.excludedNamespaces);
      return defaultServiceAccountSubjects(obj, excluded).map((s) => ({
        message: text`${kindWord(obj)} grants ${String((obj.roleRef as { kind?: unknown }).kind)} ${ref} to ${describeSubject(s)}, which includes a default service account`,
        path: text`subjects[${s.index}]`,
      }));
    }
    const mount = tokenMount(obj, ctx);
    if (!mount || serviceAccountOf(mount.spec) !== 'default' || !mount.mounted) return [];
    return [
      {
        message: text`${kindWord(obj)} runs as the default service account and mounts its token (${mount.reason})`,
        path: mount.path,
      },
    ];
  },
};

const tokenMounting: ObjectCheck = {
  ...cisMeta('5.1.6'),
  scope: 'object',
  kinds: POD_KINDS,
  reads: ['ServiceAccount'],
  parameters: [
    EXCLUDED_NAMESPACES_PARAM,
    {
      name: 'assumeServiceAccountAutomount',
      type: 'boolean',
      description:
        "when a workload's service account is not among the assessed objects, assume it mounts tokens (the Kubernetes default)",
      default: true,
    },
  ],
  evaluate(obj, ctx) {
    const mount = tokenMount(obj, ctx);
    if (!mount?.mounted) return [];
    return [
      {
        message: text`${kindWord(obj)} mounts the API token of service account "${serviceAccountOf(mount.spec)}" (${mount.reason})`,
        path: mount.path,
      },
    ];
  },
};

export const RBAC_CHECKS: readonly ObjectCheck[] = [
  clusterAdmin,
  secrets,
  wildcards,
  createPods,
  defaultServiceAccount,
  tokenMounting,
  bindEscalateImpersonate,
  createPersistentVolumes,
  nodeProxy,
  csrApproval,
  webhookConfig,
  tokenCreate,
];
