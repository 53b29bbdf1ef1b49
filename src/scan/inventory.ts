/**
 * From an opened image to its package inventory: each layer comes from the layer cache or is
 * downloaded and analyzed (a few layers at a time, results kept in layer order), then the layers are
 * merged into the final filesystem's packages and OS hints, language packages that OS packages
 * installed are marked (os-managed.ts) and duplicates of one language package merged (dedupe.ts).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Analyzer, OsHint } from '../analyzers/types.js';
import { analyzerKey } from '../analyzers/versions.js';
import { MoatError } from '../errors.js';
import type { LayerDescriptor, LayerVisitor, OpenedImage } from '../image/types.js';
import type { LayerRef, Package } from '../model/package.js';
import type { ProgressFn } from '../model/progress.js';
import type { ScanWarning } from '../model/result.js';
import { LayerCache, type LayerCacheOptions } from './cache.js';
import { dedupePackages } from './dedupe.js';
import {
  type AliasRequest,
  type AnalyzeOptions,
  analyzeLayer,
  analyzeWalk,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_LAYER_BYTES,
  DEFAULT_MEMORY_CAP,
  type FileResult,
  LAYER_FORMAT,
  type LayerAnalysis,
  readAliases,
  sweepSpool,
} from './layer.js';
import { LayeredFs, mergeLayers, planAliasReads } from './merge.js';
import { markOsManaged } from './os-managed.js';

export const DEFAULT_LAYER_CONCURRENCY = 3;

export interface InventoryOptions {
  /**
   * the analyzers, or a function loading them: loaded only when a layer is not in the cache (a warm rescan
   * then never parses the analyzers' code); with a loader, give `analyzerKey` too
   */
  analyzers: readonly Analyzer[] | (() => Promise<readonly Analyzer[]>);
  /** moat's cache dir: the layer cache and spool files live here */
  cacheDir: string;
  /** neither read nor write the layer cache */
  noCache?: boolean;
  /** an already open cache to use (a server shares one); otherwise one is opened in cacheDir */
  cache?: LayerCache;
  cacheLimits?: LayerCacheOptions;
  /** the analyzers' versions as one string; analyzerKey(analyzers) if absent */
  analyzerKey?: string;
  /** cap on a layer's decompressed bytes */
  maxLayerBytes?: number;
  /** cap on one file handed to analyzers */
  maxFileBytes?: number;
  /** wanted files up to this size are kept in memory, larger ones spooled to `<cacheDir>/tmp` */
  memoryCap?: number;
  /** layers read at once */
  concurrency?: number;
  onProgress?: ProgressFn;
  /** stops the inventory (--timeout): layer reads and directory walks end with a TIMEOUT error */
  signal?: AbortSignal;
}

export interface Inventory {
  osHints: OsHint[];
  packages: Package[];
  layers: LayerRef[];
  warnings: ScanWarning[];
  /** layers (and second-pass reads) answered by the layer cache */
  cacheHits: number;
}

/**
 * LayerRefs for the image's layers: diff_ids from the config's rootfs, created_by from the history
 * entries that made a layer (entries marked empty_layer made none).
 */
export function layerRefs(image: OpenedImage): LayerRef[] {
  const diffIds = image.config?.rootfs?.diff_ids ?? [];
  const history = (image.config?.history ?? []).filter((h) => !h.empty_layer);
  // a history that does not line up with the layers would attribute commands to the wrong layer
  const useHistory = history.length === image.layers.length;
  return image.layers.map((l, i) => {
    const ref: LayerRef = { index: i, digest: l.digest };
    const diffId = l.diffId ?? diffIds[i];
    if (diffId) ref.diffId = diffId;
    const createdBy = l.createdBy ?? (useHistory ? history[i]?.created_by : undefined);
    if (createdBy) ref.createdBy = createdBy;
    return ref;
  });
}

export async function collectInventory(image: OpenedImage, opts: InventoryOptions): Promise<Inventory> {
  const isDir = image.source === 'dir';
  const ownCache = !opts.cache && !opts.noCache && !isDir;
  const cache =
    isDir || opts.noCache ? undefined : (opts.cache ?? LayerCache.open(opts.cacheDir, opts.cacheLimits));
  // a shared cache carries earlier scans' warnings; an own one reports everything, open included
  const cacheWarningsBefore = opts.cache ? opts.cache.warnings.length : 0;
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  let loaded = typeof opts.analyzers === 'function' ? undefined : opts.analyzers;
  const analyzers = async (): Promise<readonly Analyzer[]> => {
    if (!loaded) loaded = await (opts.analyzers as () => Promise<readonly Analyzer[]>)();
    return loaded;
  };
  if (!opts.analyzerKey && !loaded) throw new Error('collectInventory: an analyzer loader needs analyzerKey');
  const keyBase = `${opts.analyzerKey ?? analyzerKey(Object.fromEntries((loaded ?? []).map((a) => [a.name, a.version])))}|f${LAYER_FORMAT}|m${maxFileBytes}`;
  const base: Omit<AnalyzeOptions, 'onBytes' | 'signal' | 'analyzers'> = {
    tmpDir: join(opts.cacheDir, 'tmp'),
    maxLayerBytes: opts.maxLayerBytes ?? DEFAULT_MAX_LAYER_BYTES,
    maxFileBytes,
    memoryCap: opts.memoryCap ?? DEFAULT_MEMORY_CAP,
  };
  sweepSpool(base.tmpDir);
  let cacheHits = 0;
  const controller = new AbortController();
  const stop = () =>
    controller.abort(
      new MoatError('TIMEOUT', `${image.name}: reading the image took longer than the time limit`),
    );
  if (opts.signal?.aborted) stop();
  opts.signal?.addEventListener('abort', stop, { once: true });

  const progress = (layer: LayerDescriptor) => {
    const emit = opts.onProgress;
    if (!emit) return { onBytes: undefined, finish: () => {} };
    let done = 0;
    let last = 0;
    const total = layer.size;
    return {
      onBytes: (n: number) => {
        done += n;
        // about every MiB: a progress bar needs no more
        if (done - last >= 1 << 20) {
          last = done;
          emit({ phase: 'layer', id: layer.digest, done, total, unit: 'bytes' });
        }
      },
      finish: () =>
        emit({ phase: 'layer', id: layer.digest, done: total ?? done, total, unit: 'bytes', finished: true }),
    };
  };

  const analyze = async (layer: LayerDescriptor): Promise<LayerAnalysis> => {
    const key = `${layer.digest}|${keyBase}`;
    const p = progress(layer);
    const hit = cache?.get<LayerAnalysis>(key);
    if (hit && hit.format === LAYER_FORMAT && hit.digest === layer.digest) {
      cacheHits++;
      p.finish();
      return hit;
    }
    const o: AnalyzeOptions = { ...base, analyzers: await analyzers(), signal: controller.signal };
    if (p.onBytes) o.onBytes = p.onBytes;
    let result: LayerAnalysis;
    if (isDir) {
      result = await analyzeWalk(walkOf(image), layer, o);
    } else {
      result = await analyzeLayer(await image.openLayer(layer), layer, o);
    }
    cache?.put(key, result);
    p.finish();
    return result;
  };

  const readAliasesCached = async (
    index: number,
    requests: AliasRequest[],
  ): Promise<{ outputs: FileResult[]; warnings: ScanWarning[] }> => {
    const layer = image.layers[index]!;
    const digest = createHash('sha256').update(JSON.stringify(requests)).digest('hex').slice(0, 32);
    const key = `${layer.digest}|${keyBase}|alias:${digest}`;
    const hit = cache?.get<{ outputs: FileResult[]; warnings: ScanWarning[] }>(key);
    if (hit && Array.isArray(hit.outputs)) {
      cacheHits++;
      return hit;
    }
    const o: AnalyzeOptions = { ...base, analyzers: await analyzers(), signal: controller.signal };
    const source = isDir ? { walk: walkOf(image) } : { blob: await image.openLayer(layer) };
    const r = await readAliases(source, layer, requests, o);
    cache?.put(key, r);
    return r;
  };

  try {
    const analyses = await mapLimit(
      image.layers,
      opts.concurrency ?? DEFAULT_LAYER_CONCURRENCY,
      analyze,
      controller,
    );

    // second pass: files that analyzers want under a path reached through a link
    const fs = new LayeredFs(image.name, analyses);
    // the plan depends only on the layers and analyzers: cached, a warm rescan skips walking every path
    const planKey = `plan:${createHash('sha256')
      .update(image.layers.map((l) => l.digest).join(','))
      .digest('hex')}|${keyBase}`;
    let aliasLayers = cache?.get<[number, AliasRequest[]][]>(planKey);
    if (!Array.isArray(aliasLayers)) {
      aliasLayers = [...planAliasReads(fs, await analyzers()).entries()].sort((a, b) => a[0] - b[0]);
      cache?.put(planKey, aliasLayers);
    }
    const aliasOutputs = new Map<number, FileResult[]>();
    const warnings: ScanWarning[] = analyses.flatMap((a) => a.warnings);
    const aliasResults = await mapLimit(
      aliasLayers,
      opts.concurrency ?? DEFAULT_LAYER_CONCURRENCY,
      async ([index, requests]) => readAliasesCached(index, requests),
      controller,
    );
    aliasLayers.forEach(([index], k) => {
      const r = aliasResults[k]!;
      aliasOutputs.set(index, r.outputs);
      warnings.push(...r.warnings);
    });

    const refs = layerRefs(image);
    const merged = mergeLayers({ fs, refs, aliasOutputs });
    markOsManaged(merged.packages, merged.owned, (p) => fs.resolve(p));
    const packages = dedupePackages(merged.packages);
    if (cache) warnings.push(...cache.warnings.slice(cacheWarningsBefore));
    return { osHints: merged.osHints, packages, layers: refs, warnings, cacheHits };
  } finally {
    opts.signal?.removeEventListener('abort', stop);
    if (ownCache) cache?.close();
  }
}

function walkOf(image: OpenedImage): (v: LayerVisitor) => Promise<void> {
  const walk = image.walk;
  if (!walk) throw new MoatError('INTERNAL', `image ${image.name}: a dir: source without walk()`);
  return (v) => walk.call(image, v);
}

/**
 * Runs `fn` over `items` with at most `limit` at once; results in input order. The first failure
 * aborts the others (through `controller`) and is rethrown once they have stopped.
 */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  controller: AbortController,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (e) {
        if (!failure) {
          failure = { error: e };
          controller.abort(e);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}
