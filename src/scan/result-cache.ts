/**
 * Cache of whole scan results, so that rescanning an unchanged image against an unchanged database
 * needs neither the layer cache nor the database (loading SQLite is a large share of a warm rescan).
 * Keyed by what decides the unfiltered result: the image's identity (manifest and layer digests), the
 * analyzers and moat's version, and the database file's identity (device, inode, size, mtime: an import
 * or update writes a new file or changes these). Filters, end-of-life status and data age are applied to
 * the cached data at every scan, so they follow the clock and the options. Bounded: the least recently
 * used files beyond MAX_ENTRIES are removed.
 */
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { OsHint } from '../analyzers/types.js';
import { errorMessage } from '../errors.js';
import type { OpenedImage } from '../image/types.js';
import { log } from '../log.js';
import type { Finding } from '../model/finding.js';
import type { LayerRef, Package } from '../model/package.js';
import type { ScanWarning } from '../model/result.js';

/** Bumped whenever the stored shape changes. */
const FORMAT = 1;
const MAX_ENTRIES = 256;

export interface CachedScan {
  format: number;
  layers: LayerRef[];
  osHints: OsHint[];
  packages: Package[];
  /** every finding, before filters */
  findings: Finding[];
  /** warnings of the inventory (not the time-dependent ones) */
  warnings: ScanWarning[];
  dbUpdatedAt?: string;
  dbSchemaVersion: number;
}

/** The cache key, or undefined for images that must always be read (dir: sources have no digests). */
export function resultKey(
  image: OpenedImage,
  analyzerKey: string,
  version: string,
  db: Stats,
): string | undefined {
  if (image.source === 'dir' || image.layers.length === 0) return undefined;
  const parts = [
    `f${FORMAT}`,
    version,
    analyzerKey,
    image.source,
    image.digest ?? '',
    image.configDigest ?? '',
    ...image.layers.map((l) => l.digest),
    `${db.dev}:${db.ino}:${db.size}:${db.mtimeMs}`,
  ];
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}

function dir(cacheDir: string): string {
  return join(cacheDir, 'results');
}

export function readResult(cacheDir: string, key: string): CachedScan | undefined {
  const file = join(dir(cacheDir), `${key}.json.gz`);
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(gunzipSync(raw).toString('utf8')) as CachedScan;
    if (value.format !== FORMAT) return undefined;
    const now = new Date();
    utimesSync(file, now, now);
    return value;
  } catch (e) {
    log.debug({ file, reason: errorMessage(e) }, 'dropping unreadable cached scan result');
    rmSync(file, { force: true });
    return undefined;
  }
}

/** Stores a result (never fails a scan: a cache that cannot be written is only logged). */
export function writeResult(cacheDir: string, key: string, value: Omit<CachedScan, 'format'>): void {
  const d = dir(cacheDir);
  const file = join(d, `${key}.json.gz`);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(d, { recursive: true });
    writeFileSync(tmp, gzipSync(JSON.stringify({ format: FORMAT, ...value }), { level: 1 }));
    renameSync(tmp, file);
    prune(d);
  } catch (e) {
    rmSync(tmp, { force: true });
    log.debug({ file, reason: errorMessage(e) }, 'could not cache the scan result');
  }
}

function prune(d: string): void {
  const names = readdirSync(d).filter((n) => n.endsWith('.json.gz'));
  if (names.length <= MAX_ENTRIES) return;
  const byAge = names
    .map((n) => ({ n, t: statSync(join(d, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => a.t - b.t);
  for (const { n } of byAge.slice(0, names.length - MAX_ENTRIES)) rmSync(join(d, n), { force: true });
}
