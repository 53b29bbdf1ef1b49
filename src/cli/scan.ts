import { Command } from 'commander';
import { MoatError } from '../errors.js';
import type { ScanResult } from '../model/result.js';
import type { Severity } from '../model/severity.js';
import { exceedsThreshold } from '../scan/filter.js';
import { defaultIgnoreFile } from '../suppress/index.js';
import { type CommandContext, commandContext, rejectAlertOnlyValues, setExitCode } from './context.js';
import { addOptions, type OptionName, type OutputFormat } from './options.js';

/** Suppression and report options every scan command takes. */
const REPORT_OPTIONS = ['ignore-file', 'vex', 'show-suppressed'] as const satisfies readonly OptionName[];

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
  'os-managed-lang',
  ...REPORT_OPTIONS,
] as const satisfies readonly OptionName[];

/** `scan fs`: the image options less those about registries and layers. */
const FS_OPTIONS = [
  'timeout',
  'list-packages',
  'severity',
  'only-fixed',
  'fail-on',
  'db-path',
  'db-max-age',
  'os-managed-lang',
  ...REPORT_OPTIONS,
] as const satisfies readonly OptionName[];

const SBOM_SCAN_OPTIONS = [
  'list-packages',
  'severity',
  'only-fixed',
  'fail-on',
  'db-path',
  'db-max-age',
  'os-managed-lang',
  ...REPORT_OPTIONS,
] as const satisfies readonly OptionName[];

/**
 * Where and how `scan image` and `sbom image` fetch an image: platform, registry credentials (both or
 * neither), TLS, time limits, the layer cache and progress. --timeout bounds the whole command; single
 * requests give up sooner so that a stall is reported quickly.
 */
export function imageSourceSettings(ctx: CommandContext) {
  const username = ctx.get<string | undefined>('username');
  const password = ctx.get<string | undefined>('password');
  if ((username === undefined) !== (password === undefined)) {
    throw new MoatError(
      'USAGE',
      'registry credentials need both --username and --password (or MOAT_USERNAME and MOAT_PASSWORD)',
    );
  }
  return {
    platform: ctx.get<string | undefined>('platform'),
    username,
    password,
    insecure: ctx.get<boolean | undefined>('insecure') === true,
    timeoutMs: Math.min(30_000, ctx.get<number>('timeout')),
    signal: AbortSignal.timeout(ctx.get<number>('timeout')),
    cacheDir: ctx.cacheDir,
    maxLayerBytes: ctx.get<number | undefined>('max-layer-size'),
    skipLayerCache: ctx.get<boolean | undefined>('skip-layer-cache') === true,
    onProgress: ctx.progress.onProgress,
  };
}

/** --ignore-file, else ./.moatignore when it exists; --vex files. */
export function suppressionSettings(ctx: CommandContext): { ignoreFile?: string; vex?: string[] } {
  const vex = ctx.get<string[] | undefined>('vex');
  return {
    ignoreFile: ctx.get<string | undefined>('ignore-file') ?? defaultIgnoreFile(),
    vex: vex && vex.length > 0 ? vex : undefined,
  };
}

/** Formats that list every package need the scan's full package list (cyclonedx, spdx). */
export function wantsPackages(ctx: CommandContext): boolean {
  const format = ctx.get<OutputFormat>('format');
  return (
    ctx.get<boolean | undefined>('list-packages') === true || format === 'cyclonedx' || format === 'spdx'
  );
}

/** Writes a scan result in the chosen format, warnings to stderr, and sets exit code 1 for --fail-on. */
export async function emitScanReport(ctx: CommandContext, result: ScanResult): Promise<void> {
  const { renderReport } = await import('../report/index.js');
  const format = ctx.get<OutputFormat>('format');
  ctx.write(
    renderReport(result, format, {
      width: process.stdout.isTTY ? (process.stdout.columns ?? 0) : 0,
      showSuppressed: ctx.get<boolean | undefined>('show-suppressed') === true,
    }),
  );
  if (ctx.get('quiet') !== true && format !== 'table') {
    for (const w of result.warnings) process.stderr.write(`moat: warning: ${w.message}\n`);
  }
  const failOn = ctx.get<Severity | undefined>('fail-on');
  if (failOn && exceedsThreshold(result.findings, failOn)) setExitCode(1);
}

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
    rejectAlertOnlyValues(ctx, 'moat scan');
    const { scanImage } = await import('../scan/scanner.js');
    const result = await scanImage(ref, {
      ...imageSourceSettings(ctx),
      dbPath: ctx.dbPath,
      dbMaxAgeMs: ctx.get('db-max-age'),
      listPackages: wantsPackages(ctx),
      severity: ctx.get<Severity[] | undefined>('severity'),
      onlyFixed: ctx.get<boolean | undefined>('only-fixed') === true,
      osManagedLang: ctx.get<boolean | undefined>('os-managed-lang') === true,
      ...suppressionSettings(ctx),
    }).finally(() => ctx.progress.done());
    await emitScanReport(ctx, result);
  });
  scan.addCommand(image);

  const fs = new Command('fs')
    .description('scan a project directory or root filesystem (lockfiles anywhere in the tree; .git skipped)')
    .argument('<path>', 'directory');
  addOptions(fs, ['format', 'output', 'quiet', 'debug', 'config', 'cache-dir', ...FS_OPTIONS]);
  fs.action(async (path: string, _opts: unknown, cmd: Command) => {
    const ctx = await commandContext(cmd, FS_OPTIONS);
    rejectAlertOnlyValues(ctx, 'moat scan');
    const { scanFs } = await import('../scan/scanner.js');
    const result = await scanFs(path, {
      signal: AbortSignal.timeout(ctx.get<number>('timeout')),
      cacheDir: ctx.cacheDir,
      dbPath: ctx.dbPath,
      dbMaxAgeMs: ctx.get('db-max-age'),
      listPackages: wantsPackages(ctx),
      severity: ctx.get<Severity[] | undefined>('severity'),
      onlyFixed: ctx.get<boolean | undefined>('only-fixed') === true,
      osManagedLang: ctx.get<boolean | undefined>('os-managed-lang') === true,
      ...suppressionSettings(ctx),
      onProgress: ctx.progress.onProgress,
    }).finally(() => ctx.progress.done());
    await emitScanReport(ctx, result);
  });
  scan.addCommand(fs);

  const sbom = new Command('sbom')
    .description('match the packages of an SBOM: CycloneDX (1.4-1.6) or SPDX (2.2, 2.3) JSON')
    .argument('<file>', 'SBOM file');
  addOptions(sbom, ['format', 'output', 'quiet', 'debug', 'config', 'cache-dir', ...SBOM_SCAN_OPTIONS]);
  sbom.action(async (file: string, _opts: unknown, cmd: Command) => {
    const ctx = await commandContext(cmd, SBOM_SCAN_OPTIONS);
    rejectAlertOnlyValues(ctx, 'moat scan');
    const { scanSbom } = await import('../sbom/scan.js');
    const result = await scanSbom(file, {
      cacheDir: ctx.cacheDir,
      dbPath: ctx.dbPath,
      dbMaxAgeMs: ctx.get('db-max-age'),
      listPackages: wantsPackages(ctx),
      severity: ctx.get<Severity[] | undefined>('severity'),
      onlyFixed: ctx.get<boolean | undefined>('only-fixed') === true,
      osManagedLang: ctx.get<boolean | undefined>('os-managed-lang') === true,
      ...suppressionSettings(ctx),
      onProgress: ctx.progress.onProgress,
    }).finally(() => ctx.progress.done());
    await emitScanReport(ctx, result);
  });
  scan.addCommand(sbom);
  return scan;
}
