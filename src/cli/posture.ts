import { Command } from 'commander';
import { MoatError } from '../errors.js';
import type { Severity } from '../model/severity.js';
import { commandContext, rejectAlertOnlyValues, setExitCode } from './context.js';
import type { OptionName } from './options.js';
import { addOptions, POLICY_OPTIONS } from './options.js';

const POSTURE_OPTIONS = [
  ...POLICY_OPTIONS,
  'severity',
  'fail-on',
  'show-exempted',
  'kubeconfig',
  'context',
  'cluster',
  'page-size',
] as const satisfies readonly OptionName[];

export function postureCommand(): Command {
  const cmd = new Command('posture')
    .description(
      'assess manifests (files, directories, - for stdin) or a live cluster against the Pod Security Standards, Defender recommendations, CIS section 5 and custom policies',
    )
    .argument('[inputs...]', 'manifest files or directories; - reads stdin; none: the kubeconfig cluster');
  addOptions(cmd, ['format', 'output', 'quiet', 'debug', 'config', 'cache-dir', ...POSTURE_OPTIONS]);
  cmd.action(async (inputs: string[], _opts: unknown, c: Command) => {
    const ctx = await commandContext(c, POSTURE_OPTIONS);
    rejectAlertOnlyValues(ctx, 'moat posture');
    const format = ctx.get<string>('format');
    if (format !== 'table' && format !== 'json' && format !== 'sarif') {
      throw new MoatError('USAGE', `--format ${format}: moat posture writes table, json or sarif`);
    }
    if (ctx.get<boolean | undefined>('cluster') === true && inputs.length > 0) {
      throw new MoatError(
        'USAGE',
        '--cluster assesses the kubeconfig cluster: give either --cluster or manifest paths',
      );
    }
    // the policy code (checks, YAML) loads only when a policy command runs, never at start-up
    const { policySettings } = await import('./policy.js');
    const { config, policyFiles } = policySettings(ctx);
    const { assessPosture } = await import('../posture/index.js');
    const report = await assessPosture({
      inputs,
      stdin: process.stdin,
      kubeconfig: ctx.get('kubeconfig'),
      context: ctx.get('context'),
      pageSize: ctx.get('page-size'),
      policy: config,
      policyFiles,
      severity: ctx.get<Severity[] | undefined>('severity'),
    });
    const { renderPosture } = await import('../report/posture.js');
    ctx.write(
      renderPosture(report, format, {
        width: process.stdout.isTTY ? (process.stdout.columns ?? 0) : 0,
        showExempted: ctx.get<boolean | undefined>('show-exempted') === true,
      }),
    );
    if (ctx.get('quiet') !== true && format !== 'table') {
      for (const e of report.errors)
        process.stderr.write(`moat: ${e.source}${e.line ? `:${e.line}` : ''}: ${e.message}\n`);
      for (const w of report.warnings) process.stderr.write(`moat: warning: ${w}\n`);
    }
    const { postureExceeds } = await import('../posture/report.js');
    const failOn = ctx.get<Severity | undefined>('fail-on');
    if (failOn && postureExceeds(report, failOn)) setExitCode(1);
  });
  return cmd;
}
