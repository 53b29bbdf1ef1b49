import type { Package } from '../model/package.js';
import { readAll, splitLines } from './input.js';
import type { Analyzer, OwnedFiles } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { boundedWarn } from './warn.js';

const INSTALLED = 'lib/apk/db/installed';
const MiB = 1024 * 1024;

/** One package stanza of apk's installed database (fields per https://wiki.alpinelinux.org/wiki/Apk_spec). */
export interface ApkRecord {
  /** P: */
  name: string;
  /** V: */
  version: string;
  /** A: */
  arch?: string;
  /** o: the aports origin (source package); absent in some hand-made databases */
  origin?: string;
  /** L: as written (not an SPDX expression on older releases) */
  license?: string;
  /** m: */
  maintainer?: string;
  /** c: the aports git commit the package was built from */
  commit?: string;
  /** C: */
  checksum?: string;
  /** S: */
  size?: number;
  /** I: */
  installedSize?: number;
  /** t: */
  buildTime?: number;
  /** T: */
  description?: string;
  /** U: */
  url?: string;
  /** D: */
  depends: string[];
  /** p: */
  provides: string[];
  /** F: directories (with a trailing /) and R: files joined to the preceding F: */
  files: string[];
}

function num(v: string): number | undefined {
  return /^[0-9]+$/.test(v) ? Number(v) : undefined;
}

function words(v: string): string[] {
  return v.split(/\s+/).filter((w) => w !== '');
}

/**
 * Parses `lib/apk/db/installed`: blank-line separated stanzas of `K:value` lines. Lines that are not `K:value`
 * are ignored (apk's own reader skips them too); stanzas without P: or V: are reported and skipped.
 */
export function parseApkDatabase(text: string, warn: (reason: string) => void): ApkRecord[] {
  const out: ApkRecord[] = [];
  let cur: Partial<ApkRecord> & { depends: string[]; provides: string[]; files: string[] } = newRecord();
  let lines = 0;
  let dir = '';

  const finish = () => {
    if (lines > 0) {
      if (cur.name && cur.version) out.push({ ...cur, name: cur.name, version: cur.version });
      else
        warn(`skipping stanza without ${cur.name ? 'V:' : 'P:'}${cur.name ? ` (package ${cur.name})` : ''}`);
    }
    cur = newRecord();
    lines = 0;
    dir = '';
  };

  for (const line of splitLines(text)) {
    if (line === '') {
      finish();
      continue;
    }
    lines++;
    if (line.length < 2 || line.charCodeAt(1) !== 0x3a /* : */) continue;
    const v = line.slice(2);
    switch (line[0]) {
      case 'P':
        cur.name = v;
        break;
      case 'V':
        cur.version = v;
        break;
      case 'A':
        cur.arch = v;
        break;
      case 'o':
        cur.origin = v;
        break;
      case 'L':
        cur.license = v;
        break;
      case 'm':
        cur.maintainer = v;
        break;
      case 'c':
        cur.commit = v;
        break;
      case 'C':
        cur.checksum = v;
        break;
      case 'S':
        cur.size = num(v);
        break;
      case 'I':
        cur.installedSize = num(v);
        break;
      case 't':
        cur.buildTime = num(v);
        break;
      case 'T':
        cur.description = v;
        break;
      case 'U':
        cur.url = v;
        break;
      case 'D':
        cur.depends.push(...words(v));
        break;
      case 'p':
        cur.provides.push(...words(v));
        break;
      case 'F':
        dir = v;
        cur.files.push(`${v}/`);
        break;
      case 'R':
        cur.files.push(dir ? `${dir}/${v}` : v);
        break;
      // a:, M:, Z: (file attributes and checksums), r:, q:, i:, k: ... are not reported
    }
  }
  finish();
  return out;
}

function newRecord() {
  return {
    depends: [] as string[],
    provides: [] as string[],
    files: [] as string[],
  } satisfies Partial<ApkRecord>;
}

function toPackage(r: ApkRecord, path: string): Package {
  const pkg: Package = {
    type: 'apk',
    name: r.name,
    version: r.version,
    // Alpine advisories (secdb, OSV) are keyed on the origin: the aports package a binary was built from
    source: { name: r.origin || r.name, version: r.version },
    path,
  };
  if (r.arch) pkg.arch = r.arch;
  if (r.license) pkg.license = r.license;
  if (r.maintainer) pkg.maintainer = r.maintainer;
  if (r.commit) pkg.extra = { commit: r.commit };
  return pkg;
}

/** The files of each package (R: lines under their F: directory), for OS-managed language packages. */
function ownedFiles(records: ApkRecord[]): OwnedFiles[] {
  const out: OwnedFiles[] = [];
  for (const r of records) {
    const paths = r.files.filter((f) => !f.endsWith('/'));
    if (paths.length > 0) out.push({ owner: r.name, paths });
  }
  return out;
}

/** Alpine (and Wolfi/Chainguard) packages from `lib/apk/db/installed`, with the files each one owns. */
export const apk = {
  name: 'apk',
  version: ANALYZER_VERSIONS['apk'],
  maxSize: 256 * MiB,
  wants: (path: string) => path === INSTALLED,
  analyze(file, ctx) {
    const warn = boundedWarn(ctx);
    const records = parseApkDatabase(readAll(file).toString('utf8'), warn);
    warn.flush();
    return { packages: records.map((r) => toPackage(r, file.path)), owned: ownedFiles(records) };
  },
} satisfies Analyzer;
