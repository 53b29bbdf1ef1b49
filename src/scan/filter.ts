import type { Finding } from '../model/finding.js';
import type { Summary } from '../model/result.js';
import { SEVERITIES, type Severity, severityRank } from '../model/severity.js';

export interface FindingFilter {
  /** keep only these severities; undefined keeps all */
  severity?: readonly Severity[];
  /** drop findings without a fixed version */
  onlyFixed?: boolean;
}

/** Applies --severity and --only-fixed; returns what remains and how many were dropped. */
export function filterFindings(
  findings: readonly Finding[],
  filter: FindingFilter,
): { kept: Finding[]; dropped: number } {
  const allowed = filter.severity && filter.severity.length > 0 ? new Set(filter.severity) : undefined;
  const kept = findings.filter(
    (f) => (!allowed || allowed.has(f.severity)) && !(filter.onlyFixed && f.status !== 'fixed'),
  );
  return { kept, dropped: findings.length - kept.length };
}

export function summarize(findings: readonly Finding[], packages: number, filtered: number): Summary {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) bySeverity[f.severity]++;
  return { packages, findings: findings.length, bySeverity, filtered, healthy: findings.length === 0 };
}

/** True when a finding at or above `threshold` remains (drives exit code 1 with --fail-on). */
export function exceedsThreshold(findings: readonly Finding[], threshold: Severity): boolean {
  const min = severityRank(threshold);
  return findings.some((f) => severityRank(f.severity) >= min);
}

/** Report order: severity (highest first), then package, then id. */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      a.package.name.localeCompare(b.package.name) ||
      a.id.localeCompare(b.id),
  );
}
