import { Command } from 'commander';
import { MoatError } from '../errors.js';
import type { Severity } from '../model/severity.js';
import { renderJson } from '../report/json.js';
import { renderSarif } from '../report/sarif.js';
import { renderScanTable } from '../report/table.js';
import { exceedsThreshold } from '../scan/filter.js';
import { commandContext, setExitCode } from './context.js';
import { addOptions, type OptionName, type OutputFormat } from './options.js';

const IMAGE_OPTIONS = [
  'platform',
  'username',
  'password',
  'insecure',
  'timeout',
  'list-packages',
  'severity',
  'only-fixed',
  'fail-on',
  'db-path',
  'db-max-age',
  'max-layer-size',
  'skip-layer-cache',
] as const satisfies readonly OptionName[];

export function scanCommand(): Command {
  const scan = new Command('scan').description('scan targets for vulnerabilities');
  const image = new Command('image')
    .description(
      'scan a container image: REGISTRY/REPO[:TAG|@DIGEST], oci:DIR[:REF], docker-archive:FILE, dir:PATH',
    )
    .argument('<ref>', 'image reference');
  addOptions(image, ['format', 'output', 'quiet', 'debug', 'config', 'cache-dir', ...IMAGE_OPTIONS]);
  image.action(async (ref: string, _opts: unknown, cmd: Command) => {
    const ctx = await commandContext(cmd, IMAGE_OPTIONS);
    const { scanImage } = await import('../scan/scanner.js');
    const user = ctx.get<string | undefined>('username');
    const password = ctx.get<string | undefined>('password');
    if ((user === undefined) !== (password === undefined)) {
      throw new MoatError(
        'USAGE',
        'registry credentials need both --username and --password (or MOAT_USERNAME and MOAT_PASSWORD)',
      );
    }
    const result = await scanImage(ref, {
      platform: ctx.get('platform'),
      username: user,
      password,
      insecure: ctx.get<boolean | undefined>('insecure') === true,
      // --timeout bounds the whole scan; single requests give up sooner so a stall is reported quickly
      timeoutMs: Math.min(30_000, ctx.get<number>('timeout')),
      signal: AbortSignal.timeout(ctx.get<number>('timeout')),
      cacheDir: ctx.cacheDir,
      dbPath: ctx.dbPath,
      dbMaxAgeMs: ctx.get('db-max-age'),
      listPackages: ctx.get<boolean | undefined>('list-packages') === true,
      severity: ctx.get<Severity[] | undefined>('severity'),
      onlyFixed: ctx.get<boolean | undefined>('only-fixed') === true,
      maxLayerBytes: ctx.get('max-layer-size'),
      skipLayerCache: ctx.get<boolean | undefined>('skip-layer-cache') === true,
      onProgress: ctx.progress.onProgress,
    }).finally(() => ctx.progress.done());
    const format = ctx.get<OutputFormat>('format');
    ctx.write(
      format === 'json'
        ? renderJson(result)
        : format === 'sarif'
          ? renderSarif(result)
          : renderScanTable(result, { width: process.stdout.isTTY ? (process.stdout.columns ?? 0) : 0 }),
    );
    if (ctx.get('quiet') !== true && format !== 'table') {
      for (const w of result.warnings) process.stderr.write(`moat: warning: ${w.message}\n`);
    }
    const failOn = ctx.get<Severity | undefined>('fail-on');
    if (failOn && exceedsThreshold(result.findings, failOn)) setExitCode(1);
  });
  scan.addCommand(image);
  return scan;
}
