import type { Readable } from 'node:stream';
import type { Severity } from '../model/severity.js';
import { type Assessment, type PolicyConfig, PolicyEngine } from '../policy/engine.js';
import type { Check, SourcedObject } from '../policy/types.js';
import type { ManifestLoad } from './manifests.js';
import { buildPostureReport, type PostureReport, type PostureTarget } from './report.js';

export interface PostureOptions {
  /** manifest files and directories; '-' reads stdin. Empty or absent: the live cluster. */
  inputs?: string[];
  stdin?: Readable;
  kubeconfig?: string;
  context?: string;
  pageSize?: number;
  policy?: PolicyConfig;
  /** ValidatingAdmissionPolicy/Binding/param manifests evaluated as custom checks */
  policyFiles?: string[];
  /** report only recommendations of these severities (the score still counts every check) */
  severity?: readonly Severity[];
  now?: Date;
  /**
   * threads to read and assess manifest files with (src/posture/shard.ts); default MOAT_POSTURE_THREADS,
   * else 1
   */
  threads?: number;
}

/**
 * Compiles custom policies from manifest files. Compile errors (the policy is left out) and warnings
 * (loaded but inert, e.g. a policy no binding names) are returned as data, never thrown.
 */
export async function loadCustomChecks(
  files: readonly string[],
): Promise<{ checks: Check[]; errors: PostureReport['errors']; warnings: string[] }> {
  if (files.length === 0) return { checks: [], errors: [], warnings: [] };
  const { loadManifests } = await import('./manifests.js');
  const { compileValidatingAdmissionPolicies } = await import('../policy/cel/vap.js');
  const load = await loadManifests([...files]);
  const sources = new Map(load.objects.map((o) => [o.object, o.source]));
  const compiled = compileValidatingAdmissionPolicies(
    load.objects.map((o) => o.object),
    { sourceOf: (o) => sources.get(o) },
  );
  const describe = (e: (typeof compiled.errors)[number]) => {
    const what = e.binding ? `binding ${e.binding}` : `policy ${e.policy}`;
    return `${what}${e.path ? ` ${e.path}` : ''}: ${e.message}`;
  };
  const errors: PostureReport['errors'] = load.errors.map((e) => ({
    source: e.file,
    ...(e.line ? { line: e.line } : {}),
    message: e.message,
  }));
  const warnings: string[] = [];
  for (const e of compiled.errors) {
    if (e.level === 'warning') {
      warnings.push(describe(e));
      continue;
    }
    errors.push({
      source: e.source?.file ?? 'policy',
      ...(e.source?.line ? { line: e.source.line } : {}),
      message: describe(e),
    });
  }
  return { checks: compiled.checks, errors, warnings };
}

/** `moat posture`: read manifests or a cluster, run the policy engine, build the report. */
/** The threads option, else MOAT_POSTURE_THREADS, else 1. */
function threadsWanted(threads: number | undefined): number {
  if (threads !== undefined) return threads;
  const env = Number(process.env.MOAT_POSTURE_THREADS);
  return Number.isInteger(env) && env >= 1 ? env : 1;
}

export async function assessPosture(opts: PostureOptions = {}): Promise<PostureReport> {
  const custom = await loadCustomChecks(opts.policyFiles ?? []);
  let objects: SourcedObject[];
  let target: PostureTarget;
  const errors: PostureReport['errors'] = [...custom.errors];
  const warnings = [...custom.warnings];
  let cluster: string | undefined;
  const engine = (c?: string) =>
    new PolicyEngine({ ...opts.policy, extraChecks: custom.checks, ...(c ? { cluster: c } : {}) });
  let assessment: Assessment;
  if (opts.inputs && opts.inputs.length > 0) {
    const inputs = opts.inputs;
    const policy = engine();
    const { loadManifests, loadManifestItems, manifestItems } = await import('./manifests.js');
    let load: ManifestLoad;
    // files and directories only (stdin is one text), and a catalogue a worker can rebuild
    const threads = threadsWanted(opts.threads);
    if (threads > 1 && !inputs.includes('-') && policy.sharedKinds() !== undefined) {
      const items = await manifestItems(inputs);
      const { planParts, assessParts } = await import('./shard.js');
      const parts = await planParts(items, threads);
      if (parts) {
        const done = await assessParts(policy, { ...opts.policy }, parts);
        load = done.load;
        assessment = done.assessment;
      } else {
        load = await loadManifestItems(items);
        assessment = policy.assess(load.objects);
      }
    } else {
      load = await loadManifests(inputs, { stdin: opts.stdin });
      assessment = policy.assess(load.objects);
    }
    objects = load.objects;
    for (const e of load.errors)
      errors.push({ source: e.file, ...(e.line ? { line: e.line } : {}), message: e.message });
    target = { type: 'manifests', inputs };
  } else {
    const { listCluster } = await import('./cluster.js');
    const c = await listCluster({
      kubeconfig: opts.kubeconfig,
      context: opts.context,
      pageSize: opts.pageSize,
    });
    objects = c.objects;
    cluster = c.cluster;
    for (const e of c.errors) errors.push({ source: `cluster ${c.cluster}: ${e.kind}`, message: e.message });
    target = { type: 'cluster', inputs: opts.context ? [opts.context] : [], cluster: c.cluster };
    assessment = engine(cluster).assess(objects);
  }
  return buildPostureReport(assessment, target, {
    objects: objects.length,
    errors,
    warnings,
    severity: opts.severity,
    now: opts.now,
  });
}
