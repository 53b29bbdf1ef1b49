import { type Stats, statSync } from 'node:fs';
import { analyzerKey } from '../analyzers/versions.js';
import { openImage } from '../image/index.js';
import type { Finding, SuppressedFinding } from '../model/finding.js';
import { isOsPackageType } from '../model/package.js';
import type { ProgressFn } from '../model/progress.js';
import {
  type DbInfo,
  REPORT_SCHEMA_VERSION,
  type ScanResult,
  type ScanTarget,
  type ScanWarning,
} from '../model/result.js';
import type { Severity } from '../model/severity.js';
import type { RuleSet } from '../suppress/index.js';
import { defaultCacheDir, defaultDbPath } from '../util/dirs.js';
import { MOAT_VERSION } from '../util/version.js';
import { filterFindings, sortFindings, summarize } from './filter.js';
import { resolveOs } from './os.js';
import { type CachedScan, readResult, resultKey, writeResult } from './result-cache.js';

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
  /** an ignore file (.moatignore format, docs/suppression.md); the CLI passes ./.moatignore when it exists */
  ignoreFile?: string;
  /** VEX documents (OpenVEX, CycloneDX) whose not_affected/fixed statements suppress findings */
  vex?: readonly string[];
  /**
   * also match language packages that an OS package installed (Debian's python3-* in dist-packages):
   * by default they are left to the distribution's advisories, since distributions backport fixes
   */
  osManagedLang?: boolean;
  /** refuse layers that decompress to more than this */
  maxLayerBytes?: number;
  /** analyze every layer even when cached */
  skipLayerCache?: boolean;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** clock for age and end-of-life decisions (tests) */
  now?: Date;
}

/** What a directory scan takes: the image options less those about registries and layers. */
export type ScanFsOptions = Omit<
  ScanImageOptions,
  'platform' | 'username' | 'password' | 'insecure' | 'dockerConfigPath' | 'maxLayerBytes' | 'skipLayerCache'
>;

const DAY_MS = 86_400_000;

/**
 * Scans one image: opens it from its source, inventories packages layer by layer (cached per layer),
 * identifies the OS, matches packages against the OSV database and applies suppressions and filters.
 * An unchanged image scanned against an unchanged database is answered from the result cache
 * (result-cache.ts).
 */
export async function scanImage(ref: string, opts: ScanImageOptions = {}): Promise<ScanResult> {
  const now = opts.now ?? new Date();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const dbPath = opts.dbPath ?? defaultDbPath(cacheDir);
  const dbFile = await checkDb(dbPath);
  const rules = await loadRules(opts, now);
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
  let scan: Omit<CachedScan, 'format'>;
  try {
    // besides the image and the database, the analyzers and the matching options decide the result
    const matchKey = `${analyzerKey()}|osManagedLang=${opts.osManagedLang === true}`;
    const key = opts.skipLayerCache || !dbFile ? undefined : resultKey(image, matchKey, MOAT_VERSION, dbFile);
    const cached = key ? readResult(cacheDir, key) : undefined;
    if (cached) {
      scan = cached;
    } else {
      const { inventoryAndMatch } = await import('./compute.js');
      scan = await inventoryAndMatch(image, dbPath, cacheDir, opts);
      if (key) writeResult(cacheDir, key, scan);
    }
  } finally {
    await image.close();
  }
  const target: ScanTarget = {
    kind: 'image',
    ref,
    source: image.source,
    name: image.name,
    digest: image.digest,
    configDigest: image.configDigest,
    platform: image.platform,
    mediaType: image.mediaType,
    layers: scan.layers,
    created: image.config?.created,
  };
  return report(target, scan, dbPath, rules, opts, now);
}

/**
 * Scans a project directory or a root filesystem in place (`moat scan fs`): lockfiles and installed
 * packages anywhere in the tree, OS packages when it is a root filesystem. Read like a `dir:` image
 * (never following a symlink out of the tree), without `.git`; packages and findings carry no layer.
 */
export async function scanFs(path: string, opts: ScanFsOptions = {}): Promise<ScanResult> {
  const now = opts.now ?? new Date();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const dbPath = opts.dbPath ?? defaultDbPath(cacheDir);
  await checkDb(dbPath);
  const rules = await loadRules(opts, now);
  const { openFilesystem } = await import('../image/dir.js');
  const dir = await openFilesystem(path);
  let scan: Omit<CachedScan, 'format'>;
  try {
    const { inventoryAndMatch } = await import('./compute.js');
    scan = await inventoryAndMatch(dir, dbPath, cacheDir, opts);
  } finally {
    await dir.close();
  }
  // the walk is one pseudo-layer named after the directory: not a layer to report
  for (const p of scan.packages) delete p.layer;
  for (const f of scan.findings) delete f.package.layer;
  const target: ScanTarget = { kind: 'filesystem', ref: path, name: dir.name, layers: [] };
  return report(target, { ...scan, layers: [] }, dbPath, rules, opts, now);
}

/** Fails before any download when the database is missing (DB_MISSING); its identity keys the result cache. */
async function checkDb(dbPath: string): Promise<Stats | undefined> {
  const dbFile = statSync(dbPath, { throwIfNoEntry: false });
  if (!dbFile) {
    const { openVulnDb } = await import('../vulndb/store.js');
    openVulnDb(dbPath, { readonly: true }).close(); // throws the DB_MISSING error
  }
  return dbFile;
}

/** A broken ignore file or VEX document fails the scan before any download. */
async function loadRules(opts: ScanFsOptions, now: Date): Promise<RuleSet | undefined> {
  if (!opts.ignoreFile && !opts.vex?.length) return undefined;
  const { loadSuppressions } = await import('../suppress/index.js');
  return loadSuppressions({ ignoreFile: opts.ignoreFile, vex: opts.vex, now });
}

/** The report from an inventory and its matches: OS status, data age, suppressions, filters, summary. */
async function report(
  target: ScanTarget,
  scan: Omit<CachedScan, 'format'>,
  dbPath: string,
  rules: RuleSet | undefined,
  opts: ScanFsOptions,
  now: Date,
): Promise<ScanResult> {
  const warnings: ScanWarning[] = [...scan.warnings];
  const os = resolveOs(scan.osHints, now);
  // a project directory, or a scratch image holding one Go binary, has no OS and needs none
  if (!os && scan.packages.some((p) => isOsPackageType(p.type))) {
    warnings.push({ code: 'os-unknown', message: 'OS not detected: OS packages were not matched' });
  }
  if (os?.eol?.ended) {
    warnings.push({
      code: 'os-eol',
      message: `${os.name} reached end of life on ${os.eol.ltsDate ?? os.eol.date}: it gets no security fixes`,
    });
  }
  const dbInfo = describeDb(
    dbPath,
    scan.dbSchemaVersion,
    scan.dbUpdatedAt,
    now,
    opts.dbMaxAgeMs ?? 7 * DAY_MS,
  );
  if (dbInfo.stale) {
    warnings.push({
      code: 'db-stale',
      message: `vulnerability database is ${Math.round((dbInfo.ageHours ?? 0) / 24)} days old: run \`moat db update\``,
    });
  }
  // suppression comes after matching and before the filters: a suppressed finding is neither reported
  // nor counted for --fail-on, and is listed with the rule that suppressed it
  let sup: { kept: Finding[]; suppressed: SuppressedFinding[]; warnings: ScanWarning[] } = {
    kept: scan.findings,
    suppressed: [],
    warnings: [],
  };
  if (rules) {
    const { suppress, purlIndex } = await import('../suppress/index.js');
    sup = suppress(scan.findings, rules, {
      os,
      targetDigest: target.digest,
      purlOf: purlIndex(scan.packages),
    });
  }
  warnings.push(...sup.warnings);
  const { kept, dropped } = filterFindings(sup.kept, {
    severity: opts.severity,
    onlyFixed: opts.onlyFixed,
  });
  sortFindings(kept);
  const summary = summarize(kept, scan.packages.length, dropped);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'moat', version: MOAT_VERSION },
    generatedAt: now.toISOString(),
    target,
    os,
    db: dbInfo,
    summary: rules ? { ...summary, suppressed: sup.suppressed.length } : summary,
    findings: kept,
    packages: opts.listPackages ? scan.packages : undefined,
    suppressed: rules ? sup.suppressed : undefined,
    warnings,
  };
}

export function describeDb(
  path: string,
  schemaVersion: number,
  updatedAt: string | undefined,
  now: Date,
  maxAgeMs: number,
): DbInfo {
  const ageHours = updatedAt ? (now.getTime() - Date.parse(updatedAt)) / 3_600_000 : undefined;
  return {
    path,
    schemaVersion,
    updatedAt,
    ageHours: ageHours === undefined ? undefined : Math.round(ageHours * 10) / 10,
    stale: ageHours === undefined || ageHours * 3_600_000 > maxAgeMs,
  };
}
