import type { AuditEvent } from '../event.js';
import type { CompiledRule } from '../rules/load.js';

/**
 * Stage 4 of loading: rules indexed by verb and resource, so that the routine get/list/watch traffic
 * that makes up most of an audit log reaches only the few rules written for it. Each indexed rule keeps
 * its other `match` fields as Sets checked before its CEL condition.
 */
export interface IndexedRule {
  rule: CompiledRule;
  /** null: any */
  subresources: Set<string> | null;
  /** with `resources` and no `subresources`, only requests on the object itself */
  noSubresource: boolean;
  apiGroups: Set<string> | null;
  stages: Set<string> | null;
  users: Set<string> | null;
  namespaces: Set<string> | null;
  codes: Set<number> | null;
  userAgents: string[] | null;
  /** times the CEL condition ran: the index's test counts these */
  evaluations: number;
  matches: number;
  suppressed: number;
  errors: number;
}

const ANY = '*';
const DEFAULT_STAGES = new Set(['ResponseComplete']);
/** Candidate lists are cached per verb and resource; resource names come from clients, so the cache is bounded. */
const MAX_CACHED = 4096;

function setOf(list: readonly string[] | undefined): Set<string> | null {
  return !list || list.includes(ANY) ? null : new Set(list);
}

export class RuleIndex {
  readonly all: IndexedRule[];
  private readonly byVerb = new Map<string, Map<string, IndexedRule[]>>();
  private readonly cache = new Map<string, IndexedRule[]>();

  constructor(rules: readonly CompiledRule[]) {
    this.all = rules.map((rule) => {
      const m = rule.spec.match ?? {};
      return {
        rule,
        subresources: setOf(m.subresources),
        noSubresource: m.resources !== undefined && m.subresources === undefined,
        apiGroups: setOf(m.apiGroups),
        stages: m.stages ? setOf(m.stages) : DEFAULT_STAGES,
        users: setOf(m.users),
        namespaces: setOf(m.namespaces),
        codes: m.codes ? new Set(m.codes) : null,
        userAgents: m.userAgents ?? null,
        evaluations: 0,
        matches: 0,
        suppressed: 0,
        errors: 0,
      } satisfies IndexedRule;
    });
    for (const ir of this.all) {
      const m = ir.rule.spec.match ?? {};
      for (const verb of m.verbs?.includes(ANY) ? [ANY] : (m.verbs ?? [ANY])) {
        let byRes = this.byVerb.get(verb);
        if (!byRes) {
          byRes = new Map();
          this.byVerb.set(verb, byRes);
        }
        for (const res of m.resources?.includes(ANY) ? [ANY] : (m.resources ?? [ANY])) {
          const list = byRes.get(res);
          if (list) list.push(ir);
          else byRes.set(res, [ir]);
        }
      }
    }
  }

  /** Rules whose verbs and resources admit the event, in pack order. */
  candidates(verb: string, resource: string): IndexedRule[] {
    const key = `${verb}\u0000${resource}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const found = new Set<IndexedRule>();
    for (const v of [verb, ANY]) {
      const byRes = this.byVerb.get(v);
      if (!byRes) continue;
      for (const ir of byRes.get(resource) ?? []) found.add(ir);
      for (const ir of byRes.get(ANY) ?? []) found.add(ir);
    }
    const list = this.all.filter((ir) => found.has(ir));
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(key, list);
    return list;
  }
}

/** The remaining `match` fields, checked on the raw event before any CEL runs. */
export function prefilter(ir: IndexedRule, e: AuditEvent): boolean {
  const ref = e.objectRef;
  const sub = ref?.subresource;
  if (
    ir.noSubresource
      ? sub !== undefined && sub !== ''
      : ir.subresources !== null && !ir.subresources.has(sub ?? '')
  )
    return false;
  if (ir.stages !== null && !ir.stages.has(e.stage)) return false;
  if (ir.apiGroups !== null && !ir.apiGroups.has(ref?.apiGroup ?? '')) return false;
  if (ir.users !== null && !ir.users.has(e.user?.username ?? '')) return false;
  if (ir.namespaces !== null && !ir.namespaces.has(ref?.namespace ?? '')) return false;
  if (ir.codes !== null && !ir.codes.has(e.responseStatus?.code ?? 0)) return false;
  if (ir.userAgents !== null) {
    const ua = (e.userAgent ?? '').toLowerCase();
    if (!ir.userAgents.some((s) => ua.includes(s))) return false;
  }
  return true;
}
