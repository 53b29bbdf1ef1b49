import type { Package } from '../model/package.js';
import { openRandomAccess } from './input.js';
import { isBdb, readBdbHash } from './rpm/bdb.js';
import { RpmDbError } from './rpm/errors.js';
import { parseRpmHeader, parseSourceRpm, type RpmHeaderInfo, rpmHeaderFiles } from './rpm/header.js';
import { isNdb, readNdb } from './rpm/ndb.js';
import { isSqlite, readSqliteBlobs } from './rpm/sqlite.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput, OwnedFiles } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { boundedWarn } from './warn.js';

const GiB = 1024 * 1024 * 1024;

/** rpm's database folders: the classic one, the /usr one (Fedora 36+, SUSE), and old Amazon/appliance images */
const DB_DIRS = ['var/lib/rpm/', 'usr/lib/sysimage/rpm/', 'usr/share/rpm/'];
/** Berkeley DB hash (rpm ≤ 4.15), NDB (SUSE), SQLite (rpm ≥ 4.16) */
const DB_FILES = new Set(['Packages', 'Packages.db', 'rpmdb.sqlite']);

function wants(path: string): boolean {
  for (const dir of DB_DIRS) {
    if (path.startsWith(dir)) return DB_FILES.has(path.slice(dir.length));
  }
  return false;
}

/** The Package moat reports for one installed header. */
function rpmPackage(h: RpmHeaderInfo, path: string): Package {
  const evr = `${h.version}-${h.release}`;
  const pkg: Package = {
    type: 'rpm',
    name: h.name,
    version: h.epoch !== null ? `${h.epoch}:${evr}` : evr,
    upstreamVersion: h.version,
    release: h.release,
    path,
  };
  if (h.epoch !== null) pkg.epoch = h.epoch;
  if (h.arch !== null) pkg.arch = h.arch;
  // SOURCERPM carries no epoch; the source package shares the binary's (as Trivy assumes)
  const src = h.sourceRpm ? parseSourceRpm(h.sourceRpm) : undefined;
  if (src) {
    const srcEvr = `${src.version}-${src.release}`;
    pkg.source = { name: src.name, version: h.epoch !== null ? `${h.epoch}:${srcEvr}` : srcEvr };
  }
  if (h.license !== null) pkg.license = h.license;
  if (h.packager !== null) pkg.maintainer = h.packager;
  const extra: Record<string, string | number> = {};
  if (h.vendor !== null) extra.vendor = h.vendor;
  if (h.modularityLabel) extra.modularityLabel = h.modularityLabel;
  if (h.size !== null) extra.size = h.size;
  if (h.sigMD5 !== null) extra.sigMD5 = h.sigMD5;
  if (Object.keys(extra).length > 0) pkg.extra = extra;
  return pkg;
}

function expectedFormat(path: string): string {
  if (path.endsWith('rpmdb.sqlite')) return 'an SQLite rpm database';
  if (path.endsWith('Packages.db')) return 'an NDB rpm database';
  return 'a Berkeley DB rpm database';
}

/**
 * Reads every header blob of an rpm database, whichever backend wrote it (decided by the content, not the
 * name), into `onBlob`. Throws an RpmDbError when the file is not a usable database.
 */
export function readRpmDatabase(
  file: FileInput,
  onBlob: (blob: Buffer) => void,
  warn: (reason: string) => void,
): void {
  const ra = openRandomAccess(file);
  try {
    const head = ra.read(0, 100);
    if (isSqlite(head)) {
      readSqliteBlobs(file, (_hnum, blob) => onBlob(blob));
    } else if (isNdb(head)) {
      for (const { blob } of readNdb(ra, warn)) onBlob(blob);
    } else if (isBdb(head)) {
      for (const { key, value } of readBdbHash(ra, warn)) {
        // rpm's BDB backend keeps a counter under package number 0; it is not a header
        if (key.length === 4 && key.readUInt32LE(0) === 0) continue;
        onBlob(value);
      }
    } else {
      const why = head.length === 0 ? 'empty file' : 'unrecognised content';
      throw new RpmDbError(`not ${expectedFormat(file.path)} (${why})`);
    }
  } finally {
    ra.close();
  }
}

function analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput {
  const warn = boundedWarn(ctx);
  const packages: Package[] = [];
  const owned: OwnedFiles[] = [];
  try {
    readRpmDatabase(
      file,
      (blob) => {
        try {
          const pkg = rpmPackage(parseRpmHeader(blob), file.path);
          packages.push(pkg);
          const paths = rpmHeaderFiles(blob);
          if (paths.length > 0) owned.push({ owner: pkg.name, paths });
        } catch (e) {
          if (!(e instanceof RpmDbError)) throw e;
          warn(`skipping unreadable package header: ${e.message}`);
        }
      },
      warn,
    );
  } catch (e) {
    // an out-of-range read is malformed input that slipped past a check: skip the file, not the scan
    if (!(e instanceof RpmDbError || e instanceof RangeError)) throw e;
    // packages read before the failure (a database corrupt halfway) are still reported
    warn(e instanceof RangeError ? `malformed database: ${e.message}` : e.message);
  }
  warn.flush();
  return { packages, owned };
}

/**
 * Red Hat family and SUSE packages from rpm's database, in any of its three backends, with the files
 * each one owns.
 */
export const rpm = {
  name: 'rpm',
  version: ANALYZER_VERSIONS['rpm'],
  maxSize: 2 * GiB,
  wants,
  analyze,
} satisfies Analyzer;
