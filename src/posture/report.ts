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

/**
 * An object named by at least one reported violation, listed once in `PostureReport.resources`; findings
 * and exempted violations refer to it by index. A 20,000-object assessment has ~180,000 violations of
 * ~10,000 objects: listing each object once instead of with every violation is most of the JSON.
 */
export type ReportResource = Omit<ResourceRef, 'container'>;

/** One finding of a recommendation (the same message, container and path) and every resource it was found on. */
export interface Finding {
  message: string;
  /** pod-spec checks: the container at fault */
  container?: string;
  /** path into the object, e.g. `spec.template.spec.containers[0].securityContext.privileged` */
  path?: string;
  /** indices into `PostureReport.resources`, in input order */
  resources: number[];
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
  findings: Finding[];
}

/** A violation an exemption matched. */
export interface ExemptedViolation {
  checkId: string;
  severity: Severity;
  effect: Effect;
  message: string;
  /** index into `PostureReport.resources` */
  resource: number;
  container?: string;
  path?: string;
  exemption: { reason: string; expires?: string };
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
  exempted: ExemptedViolation[];
  /** inputs that could not be read or parsed, kinds a cluster would not list, checks that failed */
  errors: Array<{ source: string; line?: number; message: string }>;
  warnings: string[];
  /** every resource that recommendations and exempted violations name, in input order */
  resources: ReportResource[];
}

const FORMULA =
  'score = 100 × Σ(weight × healthy/applicable) / Σ weight over checks that evaluated at least one resource; weight by severity CRITICAL 4, HIGH 3, MEDIUM 2, LOW 1';

/** The report's `resources`: the assessment's resources that a reported violation names, in input order. */
class Listed {
  readonly list: ReportResource[] = [];
  /** per assessment resource: its index in `list`, or -1 while no reported violation names it */
  private readonly index: Int32Array;

  constructor(private readonly from: readonly ResourceRef[]) {
    this.index = new Int32Array(from.length).fill(-1);
  }

  of(id: number): number {
    let i = this.index[id] as number;
    if (i < 0) {
      i = this.list.length;
      this.index[id] = i;
      const r = this.from[id] as ResourceRef;
      const entry: ReportResource = { apiVersion: r.apiVersion, kind: r.kind, name: r.name };
      if (r.cluster !== undefined) entry.cluster = r.cluster;
      if (r.namespace !== undefined) entry.namespace = r.namespace;
      if (r.source !== undefined) entry.source = r.source;
      this.list.push(entry);
    }
    return i;
  }
}

/** Per check: distinct unhealthy resources, and its findings grouped by message, container and path. */
interface CheckTally {
  /** distinct assessment resource ids (one per object) among the check's violations */
  unhealthy: number;
  /** per assessment resource id: 1 once counted in `unhealthy` (a bitmap beats hashing ~180,000 ids) */
  seen: Uint8Array;
  reported: boolean;
  /** by message: the findings with that message (usually one; they differ in container or path) */
  byMessage: Map<string, Group[]> | undefined;
  findings: Finding[];
  /**
   * the findings of the check's last violations: objects repeat the same few (messages are interned, so
   * they compare by identity), which saves the lookup by message
   */
  recent: Group[];
}

/**
 * A finding with its grouping key in fixed fields (a Finding has a container and a path only when it has
 * them, so Findings come in four shapes, and comparing them would be polymorphic).
 */
interface Group {
  message: string;
  container: string | undefined;
  path: string | undefined;
  /** the Finding's `resources` */
  resources: number[];
}

const RECENT = 4;

function addFinding(
  t: CheckTally,
  message: string,
  path: string | undefined,
  container: string | undefined,
  index: number,
): void {
  for (const x of t.recent) {
    if (x.message === message && x.container === container && x.path === path) {
      if (x.resources[x.resources.length - 1] !== index) x.resources.push(index);
      return;
    }
  }
  t.byMessage ??= new Map();
  let same = t.byMessage.get(message);
  if (same === undefined) {
    same = [];
    t.byMessage.set(message, same);
  }
  let g: Group | undefined;
  for (const x of same) {
    if (x.container === container && x.path === path) {
      g = x;
      break;
    }
  }
  if (g === undefined) {
    // keys in reading order: what was found, where, then on which resources
    const f: Finding = {
      message,
      ...(container !== undefined ? { container } : {}),
      ...(path !== undefined ? { path } : {}),
      resources: [],
    };
    g = { message, container, path, resources: f.resources };
    same.push(g);
    t.findings.push(f);
  }
  // one object may repeat a violation (two identical findings): list it once
  if (g.resources[g.resources.length - 1] !== index) g.resources.push(index);
  if (t.recent.length === RECENT) t.recent.shift();
  t.recent.push(g);
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
  const listed = new Listed(a.resources);
  // per check (index into a.checks), created on its first violation
  const tallies: Array<CheckTally | undefined> = [];
  const reported = a.checks.map((ac) => !opts.severity?.length || opts.severity.includes(ac.check.severity));
  // one pass over the violations, which come object by object: `resources` is in input order
  const c = a.columns;
  for (let k = 0; k < c.check.length; k++) {
    const i = c.check[k] as number;
    let t = tallies[i];
    if (t === undefined) {
      t = {
        unhealthy: 0,
        seen: new Uint8Array(a.resources.length),
        reported: reported[i] === true,
        byMessage: undefined,
        findings: [],
        recent: [],
      };
      tallies[i] = t;
    }
    const id = c.resource[k] as number;
    if (t.seen[id] === 0) {
      t.seen[id] = 1;
      t.unhealthy++;
    }
    if (t.reported) addFinding(t, c.message[k] as string, c.path[k], c.container[k], listed.of(id));
  }
  const exempted: ExemptedViolation[] = [];
  for (let k = 0; k < a.exempted.length; k++) {
    const r = a.exempted[k] as PolicyResult;
    if (!r.exemption) continue;
    const e: ExemptedViolation = {
      checkId: r.checkId,
      severity: r.severity,
      effect: r.effect,
      message: r.message,
      resource: listed.of(a.exemptedResources[k] as number),
      exemption: r.exemption,
    };
    if (r.resource.container !== undefined) e.container = r.resource.container;
    if (r.path !== undefined) e.path = r.path;
    exempted.push(e);
  }
  const scoreEntries: ScoreEntry[] = [];
  const recommendations: Recommendation[] = [];
  for (const [i, ac] of a.checks.entries()) {
    const applicable = a.applicable[ac.check.id] ?? 0;
    const t = tallies[i];
    const unhealthy = t?.unhealthy ?? 0;
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
    if (t === undefined || !t.reported) continue;
    recommendations.push(recommendation(ac, applicable, unhealthy, t.findings));
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
    exempted,
    errors,
    warnings,
    resources: listed.list,
  };
}

function recommendation(
  ac: ActiveCheck,
  applicable: number,
  unhealthy: number,
  findings: Finding[],
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
    findings,
  };
  if (c.references) rec.references = c.references;
  return rec;
}

/** Resource entries of a recommendation in input order, each with its findings: `[resource, finding]` pairs. */
export function affectedPairs(rec: Recommendation): Array<[number, Finding]> {
  const pairs: Array<[number, Finding]> = [];
  for (const f of rec.findings) for (const i of f.resources) pairs.push([i, f]);
  // stable: one resource's findings keep the order the check reported them in
  return pairs.sort((x, y) => x[0] - y[0]);
}

function expiredWarning(e: Exemption): string {
  return `exemption for ${e.check}${e.source ? ` in ${e.source}` : ''} expired on ${e.expires}: it no longer applies (${e.reason})`;
}

/** True when a recommendation at or above `threshold` remains (exit code 1 with --fail-on). */
export function postureExceeds(report: PostureReport, threshold: Severity): boolean {
  return report.recommendations.some((r) => severityRank(r.severity) >= severityRank(threshold));
}
