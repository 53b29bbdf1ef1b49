import type { Readable } from 'node:stream';
import type { Severity } from '../model/severity.js';
import { type PolicyConfig, PolicyEngine } from '../policy/engine.js';
import type { Check, SourcedObject } from '../policy/types.js';
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
export async function assessPosture(opts: PostureOptions = {}): Promise<PostureReport> {
  const custom = await loadCustomChecks(opts.policyFiles ?? []);
  let objects: SourcedObject[];
  let target: PostureTarget;
  const errors: PostureReport['errors'] = [...custom.errors];
  const warnings = [...custom.warnings];
  let cluster: string | undefined;
  if (opts.inputs && opts.inputs.length > 0) {
    const { loadManifests } = await import('./manifests.js');
    const load = await loadManifests(opts.inputs, { stdin: opts.stdin });
    objects = load.objects;
    for (const e of load.errors)
      errors.push({ source: e.file, ...(e.line ? { line: e.line } : {}), message: e.message });
    target = { type: 'manifests', inputs: opts.inputs };
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
  }
  const engine = new PolicyEngine({
    ...opts.policy,
    extraChecks: custom.checks,
    ...(cluster ? { cluster } : {}),
  });
  const assessment = engine.assess(objects);
  return buildPostureReport(assessment, target, {
    objects: objects.length,
    errors,
    warnings,
    severity: opts.severity,
    now: opts.now,
  });
}
