import { semver } from '../versioning/semver.js';
import type { VersionScheme } from '../versioning/types.js';
import type { OsvAffected } from './osv.js';

/**
 * Affected entries as the store keeps them (compact JSON), and their evaluation per the OSV schema's
 * algorithm (https://ossf.github.io/osv-schema/#evaluation): limits first, then walk the events sorted by
 * the range's ordering; `introduced` opens, `fixed` (v >= fixed) and `last_affected` (v > last) close.
 */
export type EventKind = 'i' | 'f' | 'l' | 'm';
export type StoredEvent = [kind: EventKind, version: string];
/** `t`: "E" for ECOSYSTEM, "S" for SEMVER (GIT ranges are dropped at import: they need the repository) */
export interface StoredRange {
  t: 'E' | 'S';
  e: StoredEvent[];
}
export interface StoredEntry {
  r?: StoredRange[];
  v?: string[];
}

/** Converts one OSV affected entry to the stored form; undefined when nothing in it can ever match. */
export function toStoredEntry(a: OsvAffected): StoredEntry | undefined {
  const out: StoredEntry = {};
  for (const r of a.ranges ?? []) {
    const t = r.type === 'ECOSYSTEM' ? 'E' : r.type === 'SEMVER' ? 'S' : undefined;
    if (!t) continue;
    const e: StoredEvent[] = [];
    for (const ev of r.events) {
      if (ev.introduced !== undefined) e.push(['i', ev.introduced]);
      else if (ev.fixed !== undefined) e.push(['f', ev.fixed]);
      else if (ev.last_affected !== undefined) e.push(['l', ev.last_affected]);
      else if (ev.limit !== undefined) e.push(['m', ev.limit]);
    }
    if (!e.some((x) => x[0] === 'i')) continue;
    out.r ??= [];
    out.r.push({ t, e });
  }
  if (a.versions && a.versions.length > 0) out.v = a.versions;
  return out.r || out.v ? out : undefined;
}

/**
 * The common shape `[{ECOSYSTEM: introduced 0 [, fixed X]}]` as just its fix (undefined: none), so the
 * store can keep it without JSON; undefined for any other shape.
 */
export function simpleFix(entries: StoredEntry[]): { fix?: string } | undefined {
  if (entries.length !== 1) return undefined;
  const e = entries[0]!;
  if (e.v || e.r?.length !== 1) return undefined;
  const r = e.r[0]!;
  const [a, b] = r.e;
  if (r.t !== 'E' || !a || a[0] !== 'i' || a[1] !== '0') return undefined;
  if (r.e.length === 1) return {};
  if (r.e.length === 2 && b && b[0] === 'f') return { fix: b[1] };
  return undefined;
}

export interface EntryMatch {
  /** the fixed event closing the interval the version fell in, when there is one */
  fixed?: string;
  via: 'range' | 'versions';
}

type Cmp = (a: string, b: string) => number;

/** Evaluates one range; returns undefined when `v` is outside it, else the closing fix (if any). */
export function evaluateRange(range: StoredRange, v: string, cmp: Cmp): { fixed?: string } | undefined {
  const ev = range.e;
  // fast paths for the shapes distribution data is made of: [introduced 0] and [introduced 0, fixed X]
  const first = ev[0];
  if (first && first[0] === 'i' && first[1] === '0') {
    if (ev.length === 1) return {};
    const second = ev[1]!;
    if (ev.length === 2 && second[0] === 'f') return cmp(v, second[1]) < 0 ? { fixed: second[1] } : undefined;
  }
  let limited = false;
  let belowLimit = false;
  for (const [k, x] of ev) {
    if (k !== 'm') continue;
    limited = true;
    // "*" in a limit means infinity
    if (x.includes('*') || cmp(v, x) < 0) belowLimit = true;
  }
  if (limited && !belowLimit) return undefined;

  const sorted = sortEvents(ev, cmp);
  let vulnerable = false;
  for (const [k, x] of sorted) {
    if (k === 'i') {
      if (x === '0' || cmp(v, x) >= 0) vulnerable = true;
    } else if (k === 'f') {
      if (cmp(v, x) >= 0) vulnerable = false;
    } else if (k === 'l') {
      if (cmp(v, x) > 0) vulnerable = false;
    }
  }
  if (!vulnerable) return undefined;
  // the first closing event above v closes v's interval: a fixed gives the fix, a last_affected means none known
  for (const [k, x] of sorted) {
    if (k === 'f' && cmp(v, x) < 0) return { fixed: x };
    if (k === 'l' && cmp(v, x) <= 0) return {};
  }
  return {};
}

/** Events without limits, ordered by version ("0" introduced first); equal versions keep the record's order. */
function sortEvents(ev: StoredEvent[], cmp: Cmp): StoredEvent[] {
  const list = ev.filter((e) => e[0] !== 'm');
  if (list.length < 2) return list;
  const idx = list.map((_, i) => i);
  idx.sort((a, b) => {
    const [ka, xa] = list[a]!;
    const [kb, xb] = list[b]!;
    const za = ka === 'i' && xa === '0';
    const zb = kb === 'i' && xb === '0';
    if (za || zb) return za && zb ? a - b : za ? -1 : 1;
    return cmp(xa, xb) || a - b;
  });
  return idx.map((i) => list[i]!);
}

/**
 * Evaluates one stored affected entry for `v`. `scheme` orders ECOSYSTEM ranges (undefined when moat has no
 * scheme for the ecosystem: such ranges are skipped and only the versions list can match).
 */
export function evaluateEntry(
  entry: StoredEntry,
  v: string,
  scheme: VersionScheme | undefined,
): EntryMatch | undefined {
  let hit: EntryMatch | undefined;
  const skipped: StoredRange[] = [];
  for (const r of entry.r ?? []) {
    const s = r.t === 'S' ? semver : scheme;
    if (!s) {
      skipped.push(r);
      continue;
    }
    const m = evaluateRange(r, v, s.compare);
    if (!m) continue;
    // several matching ranges: report the lowest fix among them
    if (!hit) hit = { via: 'range', ...m };
    else if (m.fixed && (!hit.fixed || s.compare(m.fixed, hit.fixed) < 0)) hit.fixed = m.fixed;
  }
  if (hit) return hit;
  if (!entry.v || !inVersions(entry.v, v, scheme)) return undefined;
  const out: EntryMatch = { via: 'versions' };
  // without an ordering the closing fix is only known when the unevaluated ranges name a single one
  const fixes = new Set<string>();
  for (const r of skipped) for (const [k, x] of r.e) if (k === 'f') fixes.add(x);
  if (fixes.size === 1) out.fixed = [...fixes][0];
  return out;
}

/** OSV's `v == version`: exact string first, then the scheme's equality (dpkg "1.0-0" equals "1.0"). */
function inVersions(list: string[], v: string, scheme: VersionScheme | undefined): boolean {
  if (list.includes(v)) return true;
  if (!scheme) return false;
  for (const x of list) if (scheme.compare(x, v) === 0) return true;
  return false;
}
