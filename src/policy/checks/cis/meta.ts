import { globMatcher } from '../../glob.js';
import type { Check, K8sObject, ParamSpec } from '../../types.js';
import { CIS_BENCHMARK, CIS_CONTROLS, type CisControl } from './controls.js';

// shared with the other families; re-exported for the CIS checks that import them from here
export { lookup, NAMESPACED_KINDS, namespaceOf } from '../../inventory.js';

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
const NEVER = (_s: string) => false;

export function anyGlob(patterns: unknown): (s: string) => boolean {
  if (!Array.isArray(patterns) || patterns.length === 0) return NEVER;
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
