/**
 * An image's or a directory's inventory without matching (`moat sbom image`, `moat sbom fs`): the
 * scanner's own pieces (openImage or openFilesystem, collectInventory with the layer cache, resolveOs), no
 * vulnerability database.
 */
import { ANALYZERS } from '../analyzers/index.js';
import { isMoatError, MoatError } from '../errors.js';
import { openFilesystem } from '../image/dir.js';
import { openImage } from '../image/index.js';
import type { OpenedImage } from '../image/types.js';
import { isOsPackageType, type OsInfo, type Package } from '../model/package.js';
import type { ProgressFn } from '../model/progress.js';
import type { FilesystemTarget, ImageTarget, ScanWarning } from '../model/result.js';
import { defaultCacheDir } from '../util/dirs.js';
import { MOAT_VERSION } from '../util/version.js';
import { collectInventory } from './inventory.js';
import { resolveOs } from './os.js';
import { assignPurls } from './purl.js';

export interface InventoryImageOptions {
  platform?: string;
  username?: string;
  password?: string;
  insecure?: boolean;
  timeoutMs?: number;
  dockerConfigPath?: string;
  cacheDir?: string;
  maxLayerBytes?: number;
  skipLayerCache?: boolean;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  now?: Date;
}

export interface InventoryResult {
  tool: { name: 'moat'; version: string };
  generatedAt: string;
  target: ImageTarget | FilesystemTarget;
  os?: OsInfo;
  /** every package, each with its purl */
  packages: Package[];
  warnings: ScanWarning[];
}

export async function inventoryImage(
  ref: string,
  opts: InventoryImageOptions = {},
): Promise<InventoryResult> {
  const image = await openImage(ref, {
    platform: opts.platform,
    username: opts.username,
    password: opts.password,
    insecure: opts.insecure,
    timeoutMs: opts.timeoutMs,
    dockerConfigPath: opts.dockerConfigPath,
    onProgress: opts.onProgress,
    signal: opts.signal,
  });
  return inventory(image, opts, (layers) => ({
    kind: 'image',
    ref,
    source: image.source,
    name: image.name,
    digest: image.digest,
    configDigest: image.configDigest,
    platform: image.platform,
    mediaType: image.mediaType,
    layers,
    created: image.config?.created,
  }));
}

/** A project directory or root filesystem read in place, as `moat scan fs` reads it (no layers). */
export async function inventoryFs(
  path: string,
  opts: Pick<InventoryImageOptions, 'cacheDir' | 'onProgress' | 'now'> = {},
): Promise<InventoryResult> {
  const dir = await openFilesystem(path);
  const inv = await inventory(dir, { ...opts, skipLayerCache: true }, () => ({
    kind: 'filesystem',
    ref: path,
    name: dir.name,
    layers: [],
  }));
  // the walk is one pseudo-layer named after the directory: not a layer to report
  for (const p of inv.packages) delete p.layer;
  return inv;
}

async function inventory(
  image: OpenedImage,
  opts: InventoryImageOptions,
  target: (layers: InventoryResult['target']['layers']) => InventoryResult['target'],
): Promise<InventoryResult> {
  const now = opts.now ?? new Date();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  try {
    const inv = await collectInventory(image, {
      analyzers: ANALYZERS,
      cacheDir,
      noCache: opts.skipLayerCache,
      maxLayerBytes: opts.maxLayerBytes,
      onProgress: opts.onProgress,
    }).catch((e: unknown) => {
      // layer errors name the layer; the user's one line must also name the image
      if (!isMoatError(e) || e.message.includes(image.name)) throw e;
      throw new MoatError(e.code, `${image.name}: ${e.message}`, { cause: e.cause ?? e });
    });
    const os = resolveOs(inv.osHints, now);
    const warnings = [...inv.warnings];
    if (!os && inv.packages.some((p) => isOsPackageType(p.type))) {
      warnings.push({
        code: 'os-unknown',
        message: 'OS not detected: OS packages have no distro in their purls',
      });
    }
    return {
      tool: { name: 'moat', version: MOAT_VERSION },
      generatedAt: now.toISOString(),
      target: target(inv.layers),
      os,
      packages: assignPurls(inv.packages, os),
      warnings,
    };
  } finally {
    await image.close();
  }
}
