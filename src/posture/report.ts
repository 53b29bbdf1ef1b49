import { SEVERITIES, type Severity, severityRank } from '../model/severity.js';
import type { ActiveCheck, Assessment } from '../policy/engine.js';
import type { Exemption } from '../policy/exemptions.js';
import type { Effect, PolicyResult, ResourceRef } from '../policy/types.js';
import { MOAT_VERSION } from '../util/version.js';

export const POSTURE_SCHEMA_VERSION = '1.0';

/** Weight of a check in the secure score, by severity (docs/posture.md#secure-score). */
export const SCORE_WEIGHTS: Readonly<Record<Severity, number>> = {
  CRITICAL: 4,
  HIGH: 3,
  MEDIUM: 2,
  LOW: 1,
  UNKNOWN: 1,
};

export interface PostureTarget {
  type: 'manifests' | 'cluster';
  /** files and directories given (manifests), or the kubeconfig context (cluster) */
  inputs: string[];
  cluster?: string;
}

/** One violation of a recommendation on one resource. */
export interface AffectedResource {
  resource: ResourceRef;
  message: string;
  path?: string;
}

/** A check that found something: the unit users act on, with every resource it affects. */
export interface Recommendation {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  category: string;
  remediation: string;
  effect: Effect;
  references?: Readonly<Record<string, string | readonly string[]>>;
  /** resources the check evaluated */
  applicable: number;
  /** distinct resources with at least one violation */
  unhealthy: number;
  affected: AffectedResource[];
}

export interface ScoreEntry {
  id: string;
  weight: number;
  applicable: number;
  unhealthy: number;
  /** weight × healthy / applicable */
  points: number;
}

export interface PostureReport {
  schemaVersion: string;
  tool: { name: 'moat'; version: string };
  generatedAt: string;
  target: PostureTarget;
  summary: {
    objects: number;
    evaluated: Record<string, number>;
    skipped: Record<string, number>;
    checks: number;
    recommendations: number;
    bySeverity: Record<Severity, number>;
    exempted: number;
  };
  score: { value: number; max: number; formula: string; checks: ScoreEntry[] };
  recommendations: Recommendation[];
  /** violations an exemption matched (always listed here; the table shows them with --show-exempted) */
  exempted: Array<PolicyResult & { exemption: NonNullable<PolicyResult['exemption']> }>;
  /** inputs that could not be read or parsed, kinds a cluster would not list, checks that failed */
  errors: Array<{ source: string; line?: number; message: string }>;
  warnings: string[];
}

const FORMULA =
  'score = 100 × Σ(weight × healthy/applicable) / Σ weight over checks that evaluated at least one resource; weight by severity CRITICAL 4, HIGH 3, MEDIUM 2, LOW 1';

function resourceKey(r: ResourceRef): string {
  return `${r.cluster ?? ''}\u0000${r.namespace ?? ''}\u0000${r.kind}\u0000${r.name}`;
}

/** Distinct resources (by resourceKey) among results; `keys` caches the key of each shared ResourceRef. */
function countResources(results: readonly PolicyResult[], keys: Map<ResourceRef, string>): number {
  const distinct = new Set<string>();
  for (const { resource } of results) {
    let key = keys.get(resource);
    if (key === undefined) {
      key = resourceKey(resource);
      keys.set(resource, key);
    }
    distinct.add(key);
  }
  return distinct.size;
}

/** Groups an assessment into recommendations and computes the secure score. */
export function buildPostureReport(
  a: Assessment,
  target: PostureTarget,
  opts: {
    objects: number;
    errors?: PostureReport['errors'];
    warnings?: string[];
    severity?: readonly Severity[];
    now?: Date;
  },
): PostureReport {
  const byCheck = new Map<string, PolicyResult[]>();
  for (const r of a.results) {
    const list = byCheck.get(r.checkId);
    if (list) list.push(r);
    else byCheck.set(r.checkId, [r]);
  }
  const keys = new Map<ResourceRef, string>();
  const scoreEntries: ScoreEntry[] = [];
  const recommendations: Recommendation[] = [];
  for (const ac of a.checks) {
    const applicable = a.applicable[ac.check.id] ?? 0;
    const results = byCheck.get(ac.check.id) ?? [];
    const unhealthy = countResources(results, keys);
    if (applicable > 0) {
      const weight = SCORE_WEIGHTS[ac.check.severity];
      // a cluster-scope check may name resources outside its kinds (implied namespaces): cap at applicable
      const bad = Math.min(unhealthy, applicable);
      scoreEntries.push({
        id: ac.check.id,
        weight,
        applicable,
        unhealthy: bad,
        points: (weight * (applicable - bad)) / applicable,
      });
    }
    if (results.length === 0) continue;
    if (opts.severity?.length && !opts.severity.includes(ac.check.severity)) continue;
    recommendations.push(recommendation(ac, applicable, unhealthy, results));
  }
  recommendations.sort(
    (x, y) =>
      severityRank(y.severity) - severityRank(x.severity) ||
      y.unhealthy - x.unhealthy ||
      x.id.localeCompare(y.id),
  );
  const totalWeight = scoreEntries.reduce((n, e) => n + e.weight, 0);
  const points = scoreEntries.reduce((n, e) => n + e.points, 0);
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const r of recommendations) bySeverity[r.severity]++;
  const errors = [
    ...(opts.errors ?? []),
    ...a.errors.map((e) => ({
      source: `check ${e.checkId} on ${e.resource.kind} ${e.resource.namespace ? `${e.resource.namespace}/` : ''}${e.resource.name}`,
      message: e.message,
    })),
  ];
  const warnings = [...(opts.warnings ?? []), ...a.expiredExemptions.map(expiredWarning)];
  return {
    schemaVersion: POSTURE_SCHEMA_VERSION,
    tool: { name: 'moat', version: MOAT_VERSION },
    generatedAt: (opts.now ?? new Date()).toISOString(),
    target,
    summary: {
      objects: opts.objects,
      evaluated: a.evaluated,
      skipped: a.skipped,
      checks: a.checks.length,
      recommendations: recommendations.length,
      bySeverity,
      exempted: a.exempted.length,
    },
    score: {
      // no applicable check: nothing to hold against the target
      value: totalWeight === 0 ? 100 : Math.round((1000 * points) / totalWeight) / 10,
      max: 100,
      formula: FORMULA,
      checks: scoreEntries,
    },
    recommendations,
    exempted: a.exempted.filter((r): r is PostureReport['exempted'][number] => r.exemption !== undefined),
    errors,
    warnings,
  };
}

function recommendation(
  ac: ActiveCheck,
  applicable: number,
  unhealthy: number,
  results: PolicyResult[],
): Recommendation {
  const c = ac.check;
  const rec: Recommendation = {
    id: c.id,
    title: c.title,
    description: c.description,
    severity: c.severity,
    category: c.category,
    remediation: c.remediation,
    effect: ac.effect,
    applicable,
    unhealthy,
    affected: results.map((r) => {
      const a: AffectedResource = { resource: r.resource, message: r.message };
      if (r.path) a.path = r.path;
      return a;
    }),
  };
  if (c.references) rec.references = c.references;
  return rec;
}

function expiredWarning(e: Exemption): string {
  return `exemption for ${e.check}${e.source ? ` in ${e.source}` : ''} expired on ${e.expires}: it no longer applies (${e.reason})`;
}

/** True when a recommendation at or above `threshold` remains (exit code 1 with --fail-on). */
export function postureExceeds(report: PostureReport, threshold: Severity): boolean {
  return report.recommendations.some((r) => severityRank(r.severity) >= severityRank(threshold));
}
