import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CVSS20, CVSS30, CVSS31, CVSS40 } from '@pandatix/js-cvss';
import type { CvssScore } from '../model/finding.js';
import type { Severity } from '../model/severity.js';
import type { OsvAffected, OsvRecord, OsvSeverity } from './osv.js';

/**
 * Severity of a record for one package, with the precedence documented in docs/severity.md:
 *   1. the distribution's own rating for the package (Debian tracker urgency, Ubuntu priority,
 *      affected[].ecosystem_specific / database_specific severity)
 *   2. CVSS v4, then v3.x, then v2 vectors (the package's severity[] before the record's), scored with
 *      @pandatix/js-cvss
 *   3. the database's rating of the record (database_specific.severity, as GHSA publishes it)
 *   4. UNKNOWN
 * Computed at import time (scores are stored), so scans never load the CVSS library.
 */
export interface Rating {
  severity: Severity;
  /** "debian-urgency", "ubuntu-priority", "ecosystem-specific", "database-specific", "cvss-v4", "cvss-v3", "cvss-v2", "ghsa", "none" */
  source: string;
  cvss: CvssScore[];
}

export interface CvssLib {
  CVSS20: typeof CVSS20;
  CVSS30: typeof CVSS30;
  CVSS31: typeof CVSS31;
  CVSS40: typeof CVSS40;
}

let libPromise: Promise<CvssLib> | undefined;

/** Loads @pandatix/js-cvss once. */
export function loadCvss(): Promise<CvssLib> {
  libPromise ??= importCvss();
  return libPromise;
}

async function importCvss(): Promise<CvssLib> {
  try {
    return (await import('@pandatix/js-cvss')) satisfies CvssLib;
  } catch {
    // 0.4.x ships ES modules whose relative imports lack the ".js" extension ("./errors"), which Node's
    // ESM resolver refuses; load each file with that one import rewritten to an absolute file URL instead.
    const require = createRequire(import.meta.url);
    const dist = join(dirname(require.resolve('@pandatix/js-cvss/package.json')), 'dist');
    const errors = pathToFileURL(join(dist, 'errors.js')).href;
    const load = async (file: string): Promise<Record<string, unknown>> => {
      const src = readFileSync(join(dist, file), 'utf8').replace(/from '\.\/errors'/g, `from '${errors}'`);
      return import(`data:text/javascript,${encodeURIComponent(src)}`);
    };
    const [v20, v30, v31, v40] = await Promise.all(
      ['cvss20.js', 'cvss30.js', 'cvss31.js', 'cvss40.js'].map(load),
    );
    return {
      CVSS20: v20?.CVSS20 as typeof CVSS20,
      CVSS30: v30?.CVSS30 as typeof CVSS30,
      CVSS31: v31?.CVSS31 as typeof CVSS31,
      CVSS40: v40?.CVSS40 as typeof CVSS40,
    };
  }
}

/** Qualitative rating of a CVSS score. v2 has no CRITICAL (NVD's v2 bands); a 0.0 score shows as LOW. */
function band(score: number, v2: boolean): Severity {
  if (score >= 9 && !v2) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  return 'LOW';
}

/** Scores one severity[] entry; undefined for other types and for vectors the library rejects. */
export function scoreCvss(lib: CvssLib, s: OsvSeverity, source = 'osv'): CvssScore | undefined {
  const vector = s.score.trim();
  try {
    if (s.type === 'CVSS_V4') {
      const score = new lib.CVSS40(vector).Score();
      return { version: '4.0', vector, score, severity: band(score, false), source };
    }
    if (s.type === 'CVSS_V3') {
      const v30 = vector.startsWith('CVSS:3.0/');
      const score = v30 ? new lib.CVSS30(vector).BaseScore() : new lib.CVSS31(vector).BaseScore();
      return { version: v30 ? '3.0' : '3.1', vector, score, severity: band(score, false), source };
    }
    if (s.type === 'CVSS_V2') {
      // some feeds wrap v2 vectors in parentheses or prefix them like v3 ("CVSS:2.0/")
      const bare = vector.replace(/^\(|\)$/g, '').replace(/^CVSS:2\.0\//, '');
      const score = new lib.CVSS20(bare).BaseScore();
      return { version: '2.0', vector, score, severity: band(score, true), source };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Distribution wordings (Debian urgency, Ubuntu priority, Red Hat/SUSE/GHSA ratings) → moat severities. */
const WORDS: Record<string, Severity | null> = {
  critical: 'CRITICAL',
  important: 'HIGH',
  high: 'HIGH',
  moderate: 'MEDIUM',
  medium: 'MEDIUM',
  low: 'LOW',
  negligible: 'LOW',
  unimportant: 'LOW',
  // explicit "no rating yet" values
  'not yet assigned': null,
  untriaged: null,
  'end-of-life': null,
  unknown: null,
  none: null,
};

export function severityFromWord(w: unknown): Severity | undefined {
  if (typeof w !== 'string') return undefined;
  return WORDS[w.trim().toLowerCase()] ?? undefined;
}

/** The distribution's rating of one affected entry, with its source name. */
function packageRating(
  a: OsvAffected,
  recordSeverity: OsvSeverity[],
): { severity: Severity; source: string } | undefined {
  const eco = a.ecosystem_specific ?? {};
  // Debian tracker urgency, as osv.dev's Debian records carry it. database_specific.urgency is NOT read: in
  // changelog-derived records it is the upload urgency (how fast to migrate to testing), not a severity.
  const urgency = severityFromWord(eco.urgency);
  if (urgency) return { severity: urgency, source: 'debian-urgency' };
  for (const s of [...(a.severity ?? []), ...recordSeverity]) {
    if (s.type.toLowerCase() !== 'ubuntu') continue;
    const p = severityFromWord(s.score);
    if (p) return { severity: p, source: 'ubuntu-priority' };
  }
  const es = severityFromWord(eco.severity);
  if (es) return { severity: es, source: 'ecosystem-specific' };
  const ds = severityFromWord(a.database_specific?.severity);
  if (ds) return { severity: ds, source: 'database-specific' };
  return undefined;
}

/** Rates a record for the package described by `entries` (its affected entries for that package). */
export function rate(lib: CvssLib, record: OsvRecord, entries: OsvAffected[]): Rating {
  const cvss: CvssScore[] = [];
  const seen = new Set<string>();
  for (const s of [...entries.flatMap((a) => a.severity ?? []), ...(record.severity ?? [])]) {
    if (seen.has(s.score)) continue;
    seen.add(s.score);
    const c = scoreCvss(lib, s);
    if (c) cvss.push(c);
  }
  for (const a of entries) {
    const r = packageRating(a, record.severity ?? []);
    if (r) return { ...r, cvss };
  }
  for (const major of ['4', '3', '2']) {
    const c = cvss.find((x) => x.version.startsWith(major));
    if (c) return { severity: c.severity, source: `cvss-v${major}`, cvss };
  }
  const db = severityFromWord(record.database_specific?.severity);
  if (db) return { severity: db, source: record.id.startsWith('GHSA-') ? 'ghsa' : 'database-specific', cvss };
  return { severity: 'UNKNOWN', source: 'none', cvss };
}

/** Precedence of a rating source (lower wins) when several records of one vulnerability disagree. */
export function sourceRank(source: string): number {
  if (source === 'none') return 9;
  if (source === 'ghsa' || source === 'database-specific') return 5;
  if (source.startsWith('cvss-v')) return 5 - Number(source.slice(6));
  return 0;
}

const MAX_TITLE = 200;

/** The finding's title: the summary, else the first non-empty line of the details, without markdown markers. */
export function titleOf(summary: string | undefined, details: string | undefined): string | undefined {
  let t = summary?.trim();
  for (let start = 0; !t && details && start < details.length; ) {
    const nl = details.indexOf('\n', start);
    const end = nl < 0 ? details.length : nl;
    t = details
      .slice(start, end)
      .replace(/^[\s#*>-]+/, '')
      .trim();
    start = end + 1;
  }
  if (!t) return undefined;
  return t.length > MAX_TITLE ? `${t.slice(0, MAX_TITLE - 1)}…` : t;
}

export interface RemediationInput {
  /** the installed (binary) package */
  name: string;
  /** the source package the advisory is keyed on, when its name or version differs from the binary's */
  source?: { name: string; version: string };
  fixedVersion?: string;
  ecosystem: string;
}

/**
 * One line telling the user what to do. A fix found through the source package is phrased in terms of the
 * source version: the binary's own version may differ (binNMU `+bN`, or a binary versioned apart from its source).
 */
export function remediation(r: RemediationInput): string {
  if (r.fixedVersion) {
    if (!r.source) return `Upgrade ${r.name} to ${r.fixedVersion} or later`;
    return `Upgrade ${r.name} to a version built from source package ${r.source.name} ${r.fixedVersion} or later`;
  }
  const src = r.source ? ` (source package ${r.source.name})` : '';
  return `No fix available yet for ${r.name}${src} in ${r.ecosystem}; watch for an update or mitigate`;
}
