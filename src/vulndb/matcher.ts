import type { CvssScore, Finding } from '../model/finding.js';
import type { OsInfo, Package } from '../model/package.js';
import { isSeverity, type Severity, severityRank } from '../model/severity.js';
import type { VersionScheme } from '../versioning/types.js';
import { type PackageQuery, queriesFor } from './ecosystem.js';
import { evaluateEntry, type StoredEntry } from './range.js';
import { remediation, sourceRank, titleOf } from './severity.js';
import type { CandidateRow, VulnDb } from './store.js';

/**
 * Matches packages against the database. One indexed query per distinct (ecosystem, name), range
 * evaluation in JS, results cached per (ecosystem, name, version) so that binaries of one source package
 * cost one evaluation. Withdrawn records are excluded by the query. Records of one package that share an id,
 * alias or upstream id are merged into one finding, whose id is the CVE when the group has one.
 */
export interface MatchInput {
  os?: OsInfo;
  packages: Package[];
  /** also match language packages that an OS package installed (see ecosystem.ts) */
  osManagedLang?: boolean;
}

export function matchPackages(db: VulnDb, input: MatchInput): Finding[] {
  const opts = { osManagedLang: input.osManagedLang === true };
  return new Matcher(db).matchAll(
    input.packages.map((pkg) => ({ pkg, queries: queriesFor(pkg, input.os, opts) })),
  );
}

interface Row {
  rowid: number;
  id: string;
  ecosystem: string;
  /** the fixed version of a simple row (entries null), null when it has none */
  fix: string | null;
  /** JSON StoredEntry[], null for a simple row */
  raw: string | null;
  entries?: StoredEntry[];
}

interface Rating {
  severity: Severity;
  source: string;
  cvss: string | null;
}

interface Hit {
  row: Row;
  query: PackageQuery;
  fixed?: string;
}

interface Vuln {
  ids: string[];
  title?: string;
  details?: string;
  refs: string[];
  published?: string;
  modified?: string;
}

const setKey = (q: PackageQuery): string => `${q.ecosystems.join('|')}\0${q.prefixes.join('|')}`;

/** Reusable across packages (and scans) of one open database: caches rows, evaluations and records. */
export class Matcher {
  /** rows per (ecosystem set, name) */
  private readonly rows = new Map<string, Row[]>();
  private readonly evals = new Map<string, { row: Row; fixed?: string }[]>();
  private readonly vulnCache = new Map<string, Vuln | undefined>();
  private readonly ratingCache = new Map<number, Rating>();

  constructor(private readonly db: VulnDb) {}

  /** Findings for each package given its lookups (see ecosystem.ts), in package order, sorted by id within one. */
  matchAll(items: { pkg: Package; queries: PackageQuery[] }[]): Finding[] {
    return this.db.read(() => {
      this.prefetch(items.flatMap((i) => i.queries));
      const hits = items.map((i) => this.hits(i.queries));
      this.loadVulns(hits.flatMap((h) => h.map((x) => x.row.id)));
      this.loadRatings(hits.flatMap((h) => h.map((x) => x.row.rowid)));
      const out: Finding[] = [];
      items.forEach((item, i) => {
        const pkgHits = hits[i]!;
        if (pkgHits.length === 0) return;
        const findings = this.group(pkgHits).map((g) => this.finding(item.pkg, g));
        findings.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        for (const f of findings) out.push(f);
      });
      return out;
    });
  }

  match(pkg: Package, queries: PackageQuery[]): Finding[] {
    return this.matchAll([{ pkg, queries }]);
  }

  /** Loads the rows of every (ecosystem set, name) not cached yet: one statement per ecosystem set. */
  private prefetch(queries: PackageQuery[]): void {
    const todo = new Map<string, { q: PackageQuery; names: Set<string> }>();
    for (const q of queries) {
      const k = setKey(q);
      if (this.rows.has(`${k}\0${q.name}`)) continue;
      const t = todo.get(k);
      if (t) t.names.add(q.name);
      else todo.set(k, { q, names: new Set([q.name]) });
    }
    for (const [k, { q, names }] of todo) {
      const list = [...names];
      const byName = new Map<string, Row[]>();
      for (const n of list) byName.set(n, []);
      const raw: CandidateRow[] = this.db.affected(q.ecosystems, list);
      for (const p of q.prefixes) for (const r of this.db.affectedByPrefix(p, list)) raw.push(r);
      for (const [rowid, name, ecosystem, id, fix, entries] of raw) {
        byName.get(name)?.push({ rowid, id, ecosystem, fix, raw: entries });
      }
      for (const [n, rows] of byName) this.rows.set(`${k}\0${n}`, rows);
    }
  }

  /** The matching records of one package, one hit per record (the lowest fix when reached twice). */
  private hits(queries: PackageQuery[]): Hit[] {
    const byRecord = new Map<string, Hit>();
    for (const q of queries) {
      for (const h of this.evaluate(q)) {
        const prev = byRecord.get(h.row.id);
        // the same record reached twice (rpm binary and source name, or "Debian:12" and "Debian")
        if (!prev) byRecord.set(h.row.id, { ...h, query: q });
        else if (h.fixed && (!prev.fixed || cmp(q.scheme, h.fixed, prev.fixed) < 0)) prev.fixed = h.fixed;
      }
    }
    return [...byRecord.values()];
  }

  private evaluate(q: PackageQuery): { row: Row; fixed?: string }[] {
    const rowsKey = `${setKey(q)}\0${q.name}`;
    const key = `${rowsKey}\0${q.version}\0${q.scheme?.name ?? ''}`;
    const cached = this.evals.get(key);
    if (cached) return cached;
    if (!this.rows.has(rowsKey)) this.prefetch([q]);
    const out: { row: Row; fixed?: string }[] = [];
    const scheme = q.scheme;
    // many records of a package share a fix (one upload fixing several CVEs): compare each fix once
    const below = new Map<string, boolean>();
    for (const row of this.rows.get(rowsKey) ?? []) {
      if (row.raw === null) {
        // simple row: affected below its fix (all versions without one); ordered by the ecosystem's scheme
        if (!scheme) continue;
        const fix = row.fix;
        if (fix === null) {
          out.push({ row });
          continue;
        }
        let hit = below.get(fix);
        if (hit === undefined) {
          hit = scheme.compare(q.version, fix) < 0;
          below.set(fix, hit);
        }
        if (hit) out.push({ row, fixed: fix });
        continue;
      }
      row.entries ??= JSON.parse(row.raw) as StoredEntry[];
      let hit: { row: Row; fixed?: string } | undefined;
      for (const entry of row.entries) {
        const m = evaluateEntry(entry, q.version, q.scheme);
        if (!m) continue;
        if (!hit) hit = { row };
        if (m.fixed && (!hit.fixed || cmp(q.scheme, m.fixed, hit.fixed) < 0)) hit.fixed = m.fixed;
      }
      if (hit) out.push(hit);
    }
    this.evals.set(key, out);
    return out;
  }

  private loadVulns(ids: string[]): void {
    const missing = [...new Set(ids)].filter((id) => !this.vulnCache.has(id));
    for (const id of missing) this.vulnCache.set(id, undefined);
    for (const r of this.db.vulns(missing)) {
      this.vulnCache.set(r.id, {
        ids: JSON.parse(r.ids) as string[],
        title: titleOf(r.summary ?? undefined, r.details ?? undefined),
        details: r.details ?? undefined,
        refs: JSON.parse(r.refs) as string[],
        published: realDate(r.published),
        modified: realDate(r.modified),
      });
    }
  }

  private loadRatings(rowids: number[]): void {
    const missing = [...new Set(rowids)].filter((r) => !this.ratingCache.has(r));
    for (const [rowid, severity, source, cvss] of this.db.ratings(missing)) {
      this.ratingCache.set(rowid, { severity: isSeverity(severity) ? severity : 'UNKNOWN', source, cvss });
    }
  }

  private rating(row: Row): Rating {
    return this.ratingCache.get(row.rowid) ?? { severity: 'UNKNOWN', source: 'none', cvss: null };
  }

  private vuln(id: string): Vuln | undefined {
    return this.vulnCache.get(id);
  }

  /** Groups hits whose records share any id, alias or upstream id (union-find over identifiers). */
  private group(hits: Hit[]): Hit[][] {
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let r = x;
      while (parent.get(r) !== r) r = parent.get(r) ?? r;
      parent.set(x, r);
      return r;
    };
    const add = (x: string): void => {
      if (!parent.has(x)) parent.set(x, x);
    };
    for (const h of hits) {
      add(h.row.id);
      for (const a of this.vuln(h.row.id)?.ids ?? []) {
        add(a);
        const ra = find(a);
        const rb = find(h.row.id);
        if (ra !== rb) parent.set(ra, rb);
      }
    }
    const groups = new Map<string, Hit[]>();
    for (const h of hits) {
      const r = find(h.row.id);
      const g = groups.get(r);
      if (g) g.push(h);
      else groups.set(r, [h]);
    }
    return [...groups.values()];
  }

  private finding(pkg: Package, hits: Hit[]): Finding {
    hits.sort((a, b) => (a.row.id < b.row.id ? -1 : a.row.id > b.row.id ? 1 : 0));
    const q = hits[0]!.query;
    const records = hits.map((h) => h.row.id);
    const ids = new Set(records);
    const vulns = records.map((id) => this.vuln(id));
    for (const v of vulns) for (const a of v?.ids ?? []) ids.add(a);
    const id = primaryId([...ids]);
    ids.delete(id);

    let fixed: string | undefined;
    for (const h of hits) if (h.fixed && (!fixed || cmp(h.query.scheme, h.fixed, fixed) < 0)) fixed = h.fixed;
    if (fixed && q.fixPrefix && !fixed.startsWith(q.fixPrefix)) fixed = q.fixPrefix + fixed;

    // the most authoritative rating wins (docs/severity.md); equal sources: the highest severity
    const ratings = hits.map((h) => this.rating(h.row));
    let best = ratings[0]!;
    for (const r of ratings) {
      const d = sourceRank(r.source) - sourceRank(best.source);
      if (d < 0 || (d === 0 && severityRank(r.severity) > severityRank(best.severity))) best = r;
    }
    const cvss: CvssScore[] = [];
    const vectors = new Set<string>();
    for (const r of ratings) {
      if (!r.cvss) continue;
      for (const c of JSON.parse(r.cvss) as CvssScore[]) {
        if (vectors.has(c.vector)) continue;
        vectors.add(c.vector);
        cvss.push(c);
      }
    }

    const refs = new Set<string>();
    let title: string | undefined;
    let description: string | undefined;
    let published: string | undefined;
    let modified: string | undefined;
    for (const v of vulns) {
      if (!v) continue;
      title ??= v.title;
      description ??= v.details;
      for (const r of v.refs) refs.add(r);
      if (v.published && (!published || v.published < published)) published = v.published;
      if (v.modified && (!modified || v.modified > modified)) modified = v.modified;
    }

    const matchedName = !q.asInstalled && q.name !== pkg.name ? q.name : undefined;
    const matchedVersion = !q.asInstalled && q.version !== pkg.version ? q.version : undefined;
    const ecosystem = hits[0]!.row.ecosystem;
    const f: Finding = {
      id,
      aliases: [...ids].sort(),
      records,
      ecosystem,
      package: { type: pkg.type, name: pkg.name, version: pkg.version, path: pkg.path },
      installedVersion: pkg.version,
      status: fixed ? 'fixed' : 'no fix',
      severity: best.severity,
      severitySource: best.source,
      cvss,
      references: [...refs],
      remediation: remediation({
        name: pkg.name,
        source: matchedName || matchedVersion ? { name: q.name, version: q.version } : undefined,
        fixedVersion: fixed,
        ecosystem,
      }),
    };
    if (pkg.arch) f.package.arch = pkg.arch;
    if (matchedName) f.package.matchedName = matchedName;
    if (matchedVersion) f.package.matchedVersion = matchedVersion;
    if (pkg.layer) f.package.layer = pkg.layer;
    if (fixed) f.fixedVersion = fixed;
    if (title) f.title = title;
    if (description) f.description = description;
    if (published) f.published = published;
    if (modified) f.modified = modified;
    return f;
  }
}

function cmp(scheme: VersionScheme | undefined, a: string, b: string): number {
  if (scheme) return scheme.compare(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A CVE id when there is one (the lowest if several), else a GHSA id, else the first id. */
export function primaryId(ids: string[]): string {
  const sorted = [...ids].sort();
  return sorted.find((i) => i.startsWith('CVE-')) ?? sorted.find((i) => i.startsWith('GHSA-')) ?? sorted[0]!;
}

/** Go's records carry the placeholder 0001-01-01T00:00:00Z until published: not a date to show. */
function realDate(d: string | null): string | undefined {
  if (!d || d.startsWith('0001-01-01')) return undefined;
  return d;
}
