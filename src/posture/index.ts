import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { MoatError } from '../errors.js';
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

/** Compiles custom policies from manifest files; compile errors become report errors, never a crash. */
export async function loadCustomChecks(
  files: readonly string[],
): Promise<{ checks: Check[]; errors: PostureReport['errors'] }> {
  if (files.length === 0) return { checks: [], errors: [] };
  const { loadManifests } = await import('./manifests.js');
  const { compileValidatingAdmissionPolicies } = await import('../policy/cel/vap.js');
  const load = await loadManifests([...files]);
  const compiled = compileValidatingAdmissionPolicies(load.objects.map((o) => o.object));
  return {
    checks: compiled.checks,
    errors: [
      ...load.errors.map((e) => ({
        source: e.file,
        ...(e.line ? { line: e.line } : {}),
        message: e.message,
      })),
      ...compiled.errors.map((e) => ({ source: `policy ${e.policy}`, message: `${e.path}: ${e.message}` })),
    ],
  };
}

/** `moat posture`: read manifests or a cluster, run the policy engine, build the report. */
export async function assessPosture(opts: PostureOptions = {}): Promise<PostureReport> {
  const custom = await loadCustomChecks(opts.policyFiles ?? []);
  let objects: SourcedObject[];
  let target: PostureTarget;
  const errors: PostureReport['errors'] = [...custom.errors];
  let cluster: string | undefined;
  if (opts.inputs && opts.inputs.length > 0) {
    // a path the user typed that does not exist is an input error, not a finding about the manifests
    for (const input of opts.inputs) {
      if (input !== '-' && !existsSync(input))
        throw new MoatError('NOT_FOUND', `manifests ${input}: no such file or directory`);
    }
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
    severity: opts.severity,
    now: opts.now,
  });
}
