import { ANALYZERS } from '../analyzers/index.js';
import { isMoatError, MoatError } from '../errors.js';
import { openImage } from '../image/index.js';
import type { Finding } from '../model/finding.js';
import type { ProgressFn } from '../model/progress.js';
import { type DbInfo, REPORT_SCHEMA_VERSION, type ScanResult, type ScanWarning } from '../model/result.js';
import type { Severity } from '../model/severity.js';
import { defaultCacheDir, defaultDbPath } from '../util/dirs.js';
import { MOAT_VERSION } from '../util/version.js';
import { matchPackages } from '../vulndb/matcher.js';
import { openVulnDb } from '../vulndb/store.js';
import { filterFindings, sortFindings, summarize } from './filter.js';
import { collectInventory } from './inventory.js';
import { resolveOs } from './os.js';

export interface ScanImageOptions {
  /** os/arch[/variant] to pick from a multi-platform image (default linux/amd64) */
  platform?: string;
  username?: string;
  password?: string;
  /** allow plain HTTP / unverified TLS for non-loopback registries */
  insecure?: boolean;
  timeoutMs?: number;
  /** Docker config file for registry credentials (default $DOCKER_CONFIG/config.json or ~/.docker/config.json) */
  dockerConfigPath?: string;
  /** cache dir for the layer cache and spool files (default $XDG_CACHE_HOME/moat) */
  cacheDir?: string;
  /** vulnerability database (default <cacheDir>/vulndb.sqlite) */
  dbPath?: string;
  /** warn when the database is older than this (default 7 days) */
  dbMaxAgeMs?: number;
  /** include every package in the result */
  listPackages?: boolean;
  severity?: readonly Severity[];
  onlyFixed?: boolean;
  /** refuse layers that decompress to more than this */
  maxLayerBytes?: number;
  /** analyze every layer even when cached */
  skipLayerCache?: boolean;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** clock for age and end-of-life decisions (tests) */
  now?: Date;
}

const DAY_MS = 86_400_000;

/**
 * Scans one image: opens it from its source, inventories packages layer by layer (cached per layer),
 * identifies the OS, matches packages against the OSV database and applies the filters.
 */
export async function scanImage(ref: string, opts: ScanImageOptions = {}): Promise<ScanResult> {
  const now = opts.now ?? new Date();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const dbPath = opts.dbPath ?? defaultDbPath(cacheDir);
  // open the database first: a missing or outdated database should fail before any download
  const db = openVulnDb(dbPath, { readonly: true });
  try {
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
    try {
      const inventory = await collectInventory(image, {
        analyzers: ANALYZERS,
        cacheDir,
        noCache: opts.skipLayerCache,
        maxLayerBytes: opts.maxLayerBytes,
        onProgress: opts.onProgress,
      }).catch((e: unknown) => {
        throw namingImage(e, image.name);
      });
      const warnings: ScanWarning[] = [...inventory.warnings];
      const os = resolveOs(inventory.osHints, now);
      if (!os && inventory.packages.length > 0) {
        warnings.push({ code: 'os-unknown', message: 'OS not detected: OS packages were not matched' });
      }
      if (os?.eol?.ended) {
        warnings.push({
          code: 'os-eol',
          message: `${os.name} reached end of life on ${os.eol.ltsDate ?? os.eol.date}: it gets no security fixes`,
        });
      }
      const dbInfo = describeDb(db, dbPath, now, opts.dbMaxAgeMs ?? 7 * DAY_MS);
      if (dbInfo.stale) {
        warnings.push({
          code: 'db-stale',
          message: `vulnerability database is ${Math.round((dbInfo.ageHours ?? 0) / 24)} days old: run \`moat db update\``,
        });
      }
      const all: Finding[] = matchPackages(db, { os, packages: inventory.packages });
      const { kept, dropped } = filterFindings(all, { severity: opts.severity, onlyFixed: opts.onlyFixed });
      sortFindings(kept);
      return {
        schemaVersion: REPORT_SCHEMA_VERSION,
        tool: { name: 'moat', version: MOAT_VERSION },
        generatedAt: now.toISOString(),
        target: {
          kind: 'image',
          ref,
          source: image.source,
          name: image.name,
          digest: image.digest,
          configDigest: image.configDigest,
          platform: image.platform,
          mediaType: image.mediaType,
          layers: inventory.layers,
          created: image.config?.created,
        },
        os,
        db: dbInfo,
        summary: summarize(kept, inventory.packages.length, dropped),
        findings: kept,
        packages: opts.listPackages ? inventory.packages : undefined,
        warnings,
      };
    } finally {
      await image.close();
    }
  } finally {
    db.close();
  }
}

/** Layer errors name only the layer: the user's one line must also say which image it belongs to. */
function namingImage(e: unknown, name: string): unknown {
  if (!isMoatError(e) || e.message.includes(name)) return e;
  return new MoatError(e.code, `${name}: ${e.message}`, { cause: e.cause ?? e });
}

function describeDb(db: ReturnType<typeof openVulnDb>, path: string, now: Date, maxAgeMs: number): DbInfo {
  const updatedAt = db.updatedAt();
  const ageHours = updatedAt ? (now.getTime() - Date.parse(updatedAt)) / 3_600_000 : undefined;
  return {
    path,
    schemaVersion: db.schemaVersion,
    updatedAt,
    ageHours: ageHours === undefined ? undefined : Math.round(ageHours * 10) / 10,
    stale: ageHours === undefined || ageHours * 3_600_000 > maxAgeMs,
  };
}
