/**
 * The parts of an OSV record (https://ossf.github.io/osv-schema/) that moat reads, and a checker that turns
 * untrusted JSON into them. Unknown fields are ignored; a structurally wrong record is rejected with a reason.
 */
export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

export interface OsvRange {
  type: string;
  events: OsvEvent[];
}

export interface OsvSeverity {
  type: string;
  score: string;
}

export interface OsvAffected {
  package?: { ecosystem: string; name: string; purl?: string };
  ranges?: OsvRange[];
  versions?: string[];
  severity?: OsvSeverity[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

export interface OsvRecord {
  id: string;
  modified?: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  upstream?: string[];
  summary?: string;
  details?: string;
  severity?: OsvSeverity[];
  affected?: OsvAffected[];
  references?: { type?: string; url: string }[];
  database_specific?: Record<string, unknown>;
}

/** The part of an ecosystem name before the first colon: "Debian:12" → "Debian". */
export function baseEcosystem(ecosystem: string): string {
  const i = ecosystem.indexOf(':');
  return i < 0 ? ecosystem : ecosystem.slice(0, i);
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const EVENT_KEYS = ['introduced', 'fixed', 'last_affected', 'limit'] as const;

/** Returns the reason a value is not a usable OSV record, or undefined when it is one. */
export function checkRecord(v: unknown): string | undefined {
  if (!isObj(v)) return 'not a JSON object';
  if (typeof v.id !== 'string' || v.id === '') return 'missing "id"';
  for (const k of ['modified', 'published', 'withdrawn', 'summary', 'details'] as const) {
    if (v[k] !== undefined && v[k] !== null && typeof v[k] !== 'string') return `"${k}" is not a string`;
  }
  for (const k of ['aliases', 'upstream'] as const) {
    if (v[k] !== undefined && v[k] !== null && !isStrArray(v[k])) return `"${k}" is not a list of strings`;
  }
  const sevErr = checkSeverity(v.severity, 'severity');
  if (sevErr) return sevErr;
  if (v.references !== undefined && v.references !== null) {
    if (!Array.isArray(v.references) || !v.references.every((r) => isObj(r) && typeof r.url === 'string')) {
      return '"references" is not a list of {url}';
    }
  }
  if (v.affected === undefined || v.affected === null) return undefined;
  if (!Array.isArray(v.affected)) return '"affected" is not a list';
  for (let i = 0; i < v.affected.length; i++) {
    const err = checkAffected(v.affected[i]);
    if (err) return `affected[${i}]: ${err}`;
  }
  return undefined;
}

function checkSeverity(s: unknown, where: string): string | undefined {
  if (s === undefined || s === null) return undefined;
  if (
    !Array.isArray(s) ||
    !s.every((x) => isObj(x) && typeof x.type === 'string' && typeof x.score === 'string')
  ) {
    return `"${where}" is not a list of {type, score}`;
  }
  return undefined;
}

function checkAffected(a: unknown): string | undefined {
  if (!isObj(a)) return 'not an object';
  // the schema allows an affected entry without package (GIT-only ranges); those can never match a package
  if (a.package !== undefined) {
    const p = a.package;
    if (!isObj(p) || typeof p.ecosystem !== 'string' || typeof p.name !== 'string') {
      return 'package lacks ecosystem or name';
    }
  }
  if (a.versions !== undefined && a.versions !== null && !isStrArray(a.versions))
    return '"versions" is not a list of strings';
  if (a.ranges !== undefined && a.ranges !== null) {
    if (!Array.isArray(a.ranges)) return '"ranges" is not a list';
    for (const r of a.ranges) {
      if (!isObj(r) || typeof r.type !== 'string' || !Array.isArray(r.events))
        return 'range lacks type or events';
      for (const e of r.events) {
        if (!isObj(e)) return 'range event is not an object';
        const keys = EVENT_KEYS.filter((k) => e[k] !== undefined);
        if (keys.length !== 1)
          return 'range event must have exactly one of introduced/fixed/last_affected/limit';
        if (typeof e[keys[0]!] !== 'string') return 'range event version is not a string';
      }
    }
  }
  return checkSeverity(a.severity, 'affected.severity');
}
