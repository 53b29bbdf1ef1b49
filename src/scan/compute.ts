/**
 * The expensive part of a scan, loaded only when the result cache has no answer: the analyzers, the
 * layer pipeline, SQLite and the matcher are most of the code a warm rescan would otherwise load.
 */
import { analyzerKey } from '../analyzers/versions.js';
import { isMoatError, MoatError } from '../errors.js';
import type { OpenedImage } from '../image/types.js';
import type { Finding } from '../model/finding.js';
import { matchPackages } from '../vulndb/matcher.js';
import { openVulnDb } from '../vulndb/store.js';
import { collectInventory } from './inventory.js';
import { resolveOs } from './os.js';
import { assignPurls } from './purl.js';
import type { CachedScan } from './result-cache.js';
import type { ScanImageOptions } from './scanner.js';

/**
 * The expensive part of a scan: packages from the layers (each with its purl, which depends on the OS),
 * matched against the database.
 */
export async function inventoryAndMatch(
  image: OpenedImage,
  dbPath: string,
  cacheDir: string,
  opts: ScanImageOptions,
): Promise<Omit<CachedScan, 'format'>> {
  const db = openVulnDb(dbPath, { readonly: true });
  try {
    const inventory = await collectInventory(image, {
      // the analyzers' code is loaded only if a layer is not in the layer cache
      analyzers: async () => (await import('../analyzers/index.js')).ANALYZERS,
      analyzerKey: analyzerKey(),
      cacheDir,
      noCache: opts.skipLayerCache,
      maxLayerBytes: opts.maxLayerBytes,
      onProgress: opts.onProgress,
      signal: opts.signal,
    }).catch((e: unknown) => {
      throw namingImage(e, image.name);
    });
    // the OS decides the ecosystem; its end-of-life status is recomputed at each scan from the hints
    const os = resolveOs(inventory.osHints);
    const packages = assignPurls(inventory.packages, os);
    const findings: Finding[] = matchPackages(db, {
      os,
      packages,
      osManagedLang: opts.osManagedLang === true,
    });
    return {
      layers: inventory.layers,
      osHints: inventory.osHints,
      packages,
      findings,
      warnings: inventory.warnings,
      dbUpdatedAt: db.updatedAt(),
      dbSchemaVersion: db.schemaVersion,
    };
  } finally {
    db.close();
  }
}

/** Layer errors name only the layer: the user's one line must also say which image it belongs to. */
function namingImage(e: unknown, name: string): unknown {
  if (!isMoatError(e) || e.message.includes(name)) return e;
  return new MoatError(e.code, `${name}: ${e.message}`, { cause: e.cause ?? e });
}
