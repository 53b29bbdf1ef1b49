import { load } from 'js-yaml';
import { MoatError } from '../errors.js';
import type { CompiledRule } from './rules/load.js';

/**
 * The API server's audit Policy (audit.k8s.io/v1), evaluated the way kube-apiserver does, so moat can
 * tell which of its rules a cluster's policy leaves blind: a rule that reads the pod spec sees nothing
 * when pods are logged at Metadata, and no rule sees a request the policy logs at None.
 * Semantics follow k8s.io/apiserver/pkg/audit/policy/checker.go: the first matching rule wins, no match
 * means None, and omitStages is the union of the policy's and the rule's.
 */

export const AUDIT_LEVELS = ['None', 'Metadata', 'Request', 'RequestResponse'] as const;
export type AuditPolicyLevel = (typeof AUDIT_LEVELS)[number];

export interface GroupResources {
  group: string;
  resources: string[];
  resourceNames: string[];
}

export interface AuditPolicyRule {
  level: AuditPolicyLevel;
  users: string[];
  userGroups: string[];
  verbs: string[];
  resources: GroupResources[];
  namespaces: string[];
  nonResourceURLs: string[];
  omitStages: string[];
}

export interface AuditPolicy {
  omitStages: string[];
  rules: AuditPolicyRule[];
}

/** What the policy checker sees of a request (authorizer.Attributes). */
export interface AuditRequest {
  user: string;
  groups: string[];
  verb: string;
  /** resource requests */
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** non-resource requests (/healthz, /version) */
  path?: string;
}

export interface PolicyDecision {
  level: AuditPolicyLevel;
  omitStages: string[];
  /** index of the matching policy rule, -1 for none */
  rule: number;
}

const STAGES = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'];

function strings(v: unknown, where: string, file: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    throw new MoatError('CONFIG', `${file}: ${where} must be a list of strings`);
  }
  return v as string[];
}

function stageList(v: unknown, where: string, file: string): string[] {
  const list = strings(v, where, file);
  const bad = list.find((s) => !STAGES.includes(s));
  if (bad !== undefined) throw new MoatError('CONFIG', `${file}: ${where}: unknown stage ${bad}`);
  return list;
}

/** Reads a Policy document (YAML or JSON); a malformed one is a CONFIG error naming the file and field. */
export function parseAuditPolicy(text: string, file: string): AuditPolicy {
  let doc: unknown;
  try {
    doc = load(text);
  } catch (e) {
    const mark = (e as { mark?: { line: number } }).mark;
    throw new MoatError(
      'CONFIG',
      `${file}${mark ? `:${mark.line + 1}` : ''}: not YAML: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new MoatError('CONFIG', `${file}: not an audit Policy (expected a mapping)`);
  }
  const d = doc as Record<string, unknown>;
  if (d.kind !== 'Policy' || typeof d.apiVersion !== 'string' || !d.apiVersion.startsWith('audit.k8s.io/')) {
    throw new MoatError(
      'CONFIG',
      `${file}: not an audit Policy (kind ${String(d.kind)}, apiVersion ${String(d.apiVersion)})`,
    );
  }
  if (!Array.isArray(d.rules)) throw new MoatError('CONFIG', `${file}: an audit Policy needs a rules list`);
  const rules = d.rules.map((r: unknown, i): AuditPolicyRule => {
    const where = `rules[${i}]`;
    if (typeof r !== 'object' || r === null)
      throw new MoatError('CONFIG', `${file}: ${where} is not a mapping`);
    const o = r as Record<string, unknown>;
    if (!(AUDIT_LEVELS as readonly unknown[]).includes(o.level)) {
      throw new MoatError('CONFIG', `${file}: ${where}.level must be one of ${AUDIT_LEVELS.join(', ')}`);
    }
    const resources = (Array.isArray(o.resources) ? o.resources : []).map((g: unknown, j): GroupResources => {
      const gr = (g ?? {}) as Record<string, unknown>;
      return {
        group: typeof gr.group === 'string' ? gr.group : '',
        resources: strings(gr.resources, `${where}.resources[${j}].resources`, file),
        resourceNames: strings(gr.resourceNames, `${where}.resources[${j}].resourceNames`, file),
      };
    });
    const rule: AuditPolicyRule = {
      level: o.level as AuditPolicyLevel,
      users: strings(o.users, `${where}.users`, file),
      userGroups: strings(o.userGroups, `${where}.userGroups`, file),
      verbs: strings(o.verbs, `${where}.verbs`, file),
      resources,
      namespaces: strings(o.namespaces, `${where}.namespaces`, file),
      nonResourceURLs: strings(o.nonResourceURLs, `${where}.nonResourceURLs`, file),
      omitStages: stageList(o.omitStages, `${where}.omitStages`, file),
    };
    // the API server rejects a rule mixing resource and non-resource selectors
    if (rule.nonResourceURLs.length > 0 && (rule.resources.length > 0 || rule.namespaces.length > 0)) {
      throw new MoatError(
        'CONFIG',
        `${file}: ${where}: nonResourceURLs cannot be combined with resources or namespaces`,
      );
    }
    return rule;
  });
  return { omitStages: stageList(d.omitStages, 'omitStages', file), rules };
}

function pathMatches(path: string, spec: string): boolean {
  if (spec === '*' || spec === path) return true;
  return spec.endsWith('*') && path.startsWith(spec.replace(/\*+$/, ''));
}

function resourceMatches(r: AuditPolicyRule, q: AuditRequest): boolean {
  if (q.resource === undefined) return false;
  if (r.namespaces.length > 0 && !r.namespaces.includes(q.namespace ?? '')) return false;
  if (r.resources.length === 0) return true;
  const combined = q.subresource ? `${q.resource}/${q.subresource}` : q.resource;
  for (const gr of r.resources) {
    if (gr.group !== (q.apiGroup ?? '')) continue;
    if (gr.resources.length === 0) return true;
    if (gr.resourceNames.length > 0 && !gr.resourceNames.includes(q.name ?? '')) continue;
    for (const res of gr.resources) {
      if (res === combined || res === '*') return true;
      if (q.subresource && res.startsWith('*/') && res.slice(2) === q.subresource) return true;
      if (res.endsWith('/*') && res.slice(0, -2) === q.resource) return true;
    }
  }
  return false;
}

function ruleMatches(r: AuditPolicyRule, q: AuditRequest): boolean {
  if (r.users.length > 0 && !r.users.includes(q.user)) return false;
  if (r.userGroups.length > 0 && !q.groups.some((g) => r.userGroups.includes(g))) return false;
  if (r.verbs.length > 0 && !r.verbs.includes(q.verb)) return false;
  if (r.namespaces.length > 0 || r.resources.length > 0) return resourceMatches(r, q);
  if (r.nonResourceURLs.length > 0) {
    return (
      q.resource === undefined &&
      q.path !== undefined &&
      r.nonResourceURLs.some((s) => pathMatches(q.path ?? '', s))
    );
  }
  return true;
}

/** The level and omitted stages the policy gives a request. */
export function auditLevelFor(policy: AuditPolicy, q: AuditRequest): PolicyDecision {
  const i = policy.rules.findIndex((r) => ruleMatches(r, q));
  if (i < 0) return { level: 'None', omitStages: policy.omitStages, rule: -1 };
  const r = policy.rules[i] as AuditPolicyRule;
  return { level: r.level, omitStages: [...new Set([...policy.omitStages, ...r.omitStages])], rule: i };
}

// API groups of the resources the shipped rules name, for rules that give resources without apiGroups
const RESOURCE_GROUPS: Record<string, string> = {
  deployments: 'apps',
  daemonsets: 'apps',
  statefulsets: 'apps',
  replicasets: 'apps',
  jobs: 'batch',
  cronjobs: 'batch',
  roles: 'rbac.authorization.k8s.io',
  clusterroles: 'rbac.authorization.k8s.io',
  rolebindings: 'rbac.authorization.k8s.io',
  clusterrolebindings: 'rbac.authorization.k8s.io',
  mutatingwebhookconfigurations: 'admissionregistration.k8s.io',
  validatingwebhookconfigurations: 'admissionregistration.k8s.io',
  validatingadmissionpolicies: 'admissionregistration.k8s.io',
  ingresses: 'networking.k8s.io',
  networkpolicies: 'networking.k8s.io',
  certificatesigningrequests: 'certificates.k8s.io',
  leases: 'coordination.k8s.io',
};

const CLUSTER_SCOPED = new Set([
  'namespaces',
  'nodes',
  'clusterroles',
  'clusterrolebindings',
  'mutatingwebhookconfigurations',
  'validatingwebhookconfigurations',
  'validatingadmissionpolicies',
  'certificatesigningrequests',
  'persistentvolumes',
]);

/**
 * The level a rule needs: its condition reads the request body (pod spec helpers, requestObject) →
 * Request; the stored object only (responseObject without a requestObject fallback) → RequestResponse;
 * else the metadata every level above None carries.
 */
export function levelNeeded(rule: CompiledRule): AuditPolicyLevel {
  const texts = [
    rule.spec.condition,
    ...Object.values(rule.spec.aggregation ?? {})
      .flat()
      .map(String),
  ];
  const t = texts.join('\n');
  const request = /\b(requestObject|podSpec|containers|images|hostPaths)\b/.test(t);
  if (/\bresponseObject\b/.test(t) && !request) return 'RequestResponse';
  return request ? 'Request' : 'Metadata';
}

export type CoverageVerdict = 'ok' | 'partial' | 'blind';

export interface CoverageProbe {
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  level: AuditPolicyLevel;
  /** the rule's stages the policy still logs */
  stages: string[];
  ok: boolean;
}

export interface RuleCoverage {
  rule: string;
  needed: AuditPolicyLevel;
  verdict: CoverageVerdict;
  probes: CoverageProbe[];
}

function rank(l: AuditPolicyLevel): number {
  return AUDIT_LEVELS.indexOf(l);
}

/**
 * For each rule, the requests it is written for (its match verbs × resources × subresources, as a
 * generic authenticated user in a generic namespace) run through the policy: `ok` when every one is
 * logged at the level the rule needs and at one of its stages, `blind` when none is, `partial` between.
 * Rules without verbs or resources are probed with a representative request (get pods).
 */
export function ruleCoverage(policy: AuditPolicy, rules: readonly CompiledRule[]): RuleCoverage[] {
  return rules.map((rule) => {
    const m = rule.spec.match ?? {};
    const needed = levelNeeded(rule);
    const verbs = !m.verbs || m.verbs.includes('*') ? ['get'] : m.verbs;
    const resources = !m.resources || m.resources.includes('*') ? ['pods'] : m.resources;
    const subs = !m.subresources ? [undefined] : m.subresources.includes('*') ? [undefined] : m.subresources;
    const stages = !m.stages ? ['ResponseComplete'] : m.stages.includes('*') ? STAGES : m.stages;
    const namespace = m.namespaces?.[0] ?? 'default';
    const user = m.users?.[0] ?? 'moat-coverage-probe';
    const probes: CoverageProbe[] = [];
    for (const verb of verbs) {
      for (const resource of resources) {
        const groups = m.apiGroups?.length ? m.apiGroups : [RESOURCE_GROUPS[resource] ?? ''];
        for (const apiGroup of groups) {
          for (const subresource of subs) {
            const q: AuditRequest = {
              user,
              groups: ['system:authenticated'],
              verb,
              apiGroup,
              resource,
              ...(subresource ? { subresource } : {}),
              ...(CLUSTER_SCOPED.has(resource) ? {} : { namespace }),
            };
            const d = auditLevelFor(policy, q);
            const logged = stages.filter((s) => !d.omitStages.includes(s));
            probes.push({
              verb,
              apiGroup,
              resource,
              ...(subresource ? { subresource } : {}),
              level: d.level,
              stages: logged,
              ok: rank(d.level) >= rank(needed) && logged.length > 0,
            });
          }
        }
      }
    }
    const okCount = probes.filter((p) => p.ok).length;
    const verdict: CoverageVerdict = okCount === probes.length ? 'ok' : okCount === 0 ? 'blind' : 'partial';
    return { rule: rule.spec.id, needed, verdict, probes };
  });
}
