import { Command } from 'commander';
import { MoatError } from '../errors.js';
import type { InventoryResult } from '../scan/inventory-image.js';
import { type CommandContext, commandContext } from './context.js';
import { addOptions, type OptionName, type OutputFormat, SBOM_FORMATS } from './options.js';
import { imageSourceSettings } from './scan.js';

const IMAGE_OPTIONS = [
  'platform',
  'username',
  'password',
  'insecure',
  'timeout',
  'max-layer-size',
  'skip-layer-cache',
] as const satisfies readonly OptionName[];

const FS_OPTIONS = [] as const satisfies readonly OptionName[];

type SbomFormat = (typeof SBOM_FORMATS)[number];

/**
 * `--format` is the scan commands' option; here it takes cyclonedx (the default) or spdx. A format set in
 * the environment or config file for scans (MOAT_FORMAT=sarif) does not apply to SBOMs; one given on the
 * command line must be an SBOM format.
 */
function sbomFormat(ctx: CommandContext, cmd: Command): SbomFormat {
  const value = ctx.get<OutputFormat>('format');
  if ((SBOM_FORMATS as readonly string[]).includes(value)) return value as SbomFormat;
  if (cmd.getOptionValueSource('format') === 'cli') {
    throw new MoatError('USAGE', `moat sbom writes ${SBOM_FORMATS.join(' or ')}, not ${value}`);
  }
  return SBOM_FORMATS[0];
}

async function write(ctx: CommandContext, cmd: Command, inv: InventoryResult): Promise<void> {
  const format = sbomFormat(ctx, cmd);
  if (format === 'spdx') {
    const { renderSpdx } = await import('../sbom/spdx.js');
    ctx.write(renderSpdx(inv));
  } else {
    const { renderCycloneDx } = await import('../sbom/cyclonedx.js');
    ctx.write(renderCycloneDx(inv));
  }
  if (ctx.get('quiet') !== true) {
    for (const w of inv.warnings) process.stderr.write(`moat: warning: ${w.message}\n`);
  }
}

function describeFormat(cmd: Command): void {
  // the shared option's help names the scan formats and default; say what this command writes
  const opt = cmd.options.find((o) => o.long === '--format');
  if (opt)
    opt.description = 'SBOM format: cyclonedx (CycloneDX 1.6 JSON, the default) or spdx (SPDX 2.3 JSON)';
}

export function sbomCommand(): Command {
  const sbom = new Command('sbom').description(
    'write an SBOM (CycloneDX or SPDX JSON) of an image or directory, without matching',
  );
  const image = new Command('image')
    .description(
      'SBOM of a container image: REGISTRY/REPO[:TAG|@DIGEST], oci:DIR[:REF], docker-archive:FILE, dir:PATH',
    )
    .argument('<ref>', 'image reference');
  addOptions(image, ['format', 'output', 'quiet', 'debug', 'config', 'cache-dir', ...IMAGE_OPTIONS]);
  describeFormat(image);
  image.action(async (ref: string, _opts: unknown, cmd: Command) => {
    const ctx = await commandContext(cmd, IMAGE_OPTIONS);
    sbomFormat(ctx, cmd);
    const { inventoryImage } = await import('../scan/inventory-image.js');
    const inv = await inventoryImage(ref, imageSourceSettings(ctx)).finally(() => ctx.progress.done());
    await write(ctx, cmd, inv);
  });
  sbom.addCommand(image);

  const fs = new Command('fs')
    .description('SBOM of a project directory or root filesystem')
    .argument('<path>', 'directory');
  addOptions(fs, ['format', 'output', 'quiet', 'debug', 'config', 'cache-dir', ...FS_OPTIONS]);
  describeFormat(fs);
  fs.action(async (path: string, _opts: unknown, cmd: Command) => {
    const ctx = await commandContext(cmd, FS_OPTIONS);
    sbomFormat(ctx, cmd);
    const { inventoryFs } = await import('../scan/inventory-image.js');
    // read in place as `moat scan fs` reads it: never following a symlink out of the tree, without .git
    const inv = await inventoryFs(path, {
      cacheDir: ctx.cacheDir,
      onProgress: ctx.progress.onProgress,
    }).finally(() => ctx.progress.done());
    await write(ctx, cmd, inv);
  });
  sbom.addCommand(fs);
  return sbom;
}
