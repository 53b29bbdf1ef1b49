import type { Package } from '../model/package.js';
import { readAll, splitLines } from './input.js';
import type { Analyzer, OwnedFiles } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { boundedWarn } from './warn.js';

const STATUS = 'var/lib/dpkg/status';
const STATUS_D = 'var/lib/dpkg/status.d/';
const INFO = 'var/lib/dpkg/info/';
const MiB = 1024 * 1024;

/**
 * Files distroless images keep beside the control files in status.d (`<pkg>.md5sums`, ...); anything else in
 * that folder is read as a control file. Package names may contain dots (libssl1.1), so only these suffixes
 * are excluded.
 */
const NON_CONTROL_SUFFIXES = [
  '.md5sums',
  '.sha256sums',
  '.list',
  '.conffiles',
  '.shlibs',
  '.symbols',
  '.triggers',
  '.templates',
  '.preinst',
  '.postinst',
  '.prerm',
  '.postrm',
  '.config',
  '.dpkg-new',
  '.dpkg-old',
];

/** One stanza dpkg accepts, with the fields moat reports. */
export interface DpkgRecord {
  name: string;
  /** full `[epoch:]upstream[-revision]` */
  version: string;
  epoch?: number;
  arch?: string;
  source: string;
  sourceVersion: string;
  /** the Status field as written; absent in distroless status.d files */
  status?: string;
  maintainer?: string;
  installedSizeKiB?: number;
}

/**
 * Whether a stanza describes an installed package: want `install` or `hold`, flag `ok`, state `installed`
 * (dpkg-query's notion). A stanza without Status counts as installed: status.d entries carry none.
 */
export function isInstalled(status: string | undefined): boolean {
  if (status === undefined) return true;
  const [want, flag, state, extra] = status.trim().split(/\s+/);
  return (
    (want === 'install' || want === 'hold') && flag === 'ok' && state === 'installed' && extra === undefined
  );
}

// dpkg's pkg_name_is_illegal: an alphanumeric first character, then alphanumerics and "-+._" ("_" deprecated).
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9+.\-_]*$/;
const EPOCH_RE = /^[0-9]+$/;
const UPSTREAM_RE = /^[A-Za-z0-9.+~:-]+$/;
const REVISION_RE = /^[A-Za-z0-9.+~]+$/;

/**
 * Checks a version the way dpkg's parseversion does (lib/dpkg/parsehelp.c) and returns the reason it is
 * rejected, or undefined. "Does not start with a digit" is only a warning in dpkg, so it is accepted here;
 * invalid characters make dpkg-query fail on the stanza, so they reject it.
 */
export function checkDpkgVersion(version: string): string | undefined {
  if (version === '') return 'version string is empty';
  if (/\s/.test(version)) return 'version string has embedded spaces';
  let rest = version;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const epoch = rest.slice(0, colon);
    if (epoch === '') return 'epoch in version is empty';
    if (!EPOCH_RE.test(epoch)) return 'epoch in version is not number';
    if (Number(epoch) > 2147483647) return 'epoch in version is too big';
    rest = rest.slice(colon + 1);
    if (rest === '') return 'nothing after colon in version number';
  }
  const hyphen = rest.lastIndexOf('-');
  let upstream = rest;
  if (hyphen >= 0) {
    const revision = rest.slice(hyphen + 1);
    if (revision === '') return 'revision number is empty';
    if (!REVISION_RE.test(revision)) return 'invalid character in revision number';
    upstream = rest.slice(0, hyphen);
  }
  if (upstream === '') return 'upstream version is empty';
  if (!UPSTREAM_RE.test(upstream)) return 'invalid character in version number';
  return undefined;
}

function epochOf(version: string): number | undefined {
  const colon = version.indexOf(':');
  return colon > 0 ? Number(version.slice(0, colon)) : undefined;
}

interface Stanza {
  firstLine: string;
  /** lower-cased field name → first line of the value */
  fields: Map<string, string>;
  /** why dpkg would reject the stanza's syntax */
  error?: string;
}

const WHITESPACE_ONLY = /^\s*$/;
const HAS_SPACE = /\s/;

function isBlank(line: string): boolean {
  if (line.length === 0) return true;
  const c = line.charCodeAt(0);
  return (c === 0x20 || c === 0x09 || c === 0x0d) && WHITESPACE_ONLY.test(line);
}

/** Splits a control file into stanzas (blank-line separated `Name: value` fields, continuation lines indented). */
function* stanzas(text: string): Generator<Stanza> {
  let cur: Stanza | undefined;
  let lastField: string | undefined;
  for (const line of splitLines(text)) {
    if (isBlank(line)) {
      if (cur) yield cur;
      cur = undefined;
      lastField = undefined;
      continue;
    }
    if (!cur) cur = { firstLine: line, fields: new Map() };
    if (cur.error) continue;
    const c0 = line.charCodeAt(0);
    if (c0 === 0x20 || c0 === 0x09) {
      // continuation of a multi-line field (Description, Conffiles, ...): the values moat reads are one-line
      if (lastField === undefined) cur.error = 'continuation line before any field';
      continue;
    }
    const colon = line.indexOf(':');
    const rawName = colon > 0 ? line.slice(0, colon) : '';
    if (rawName === '' || HAS_SPACE.test(rawName)) {
      const name = /^[^\s:]*/.exec(line)![0];
      cur.error = `field name '${name}' must be followed by colon`;
      continue;
    }
    const name = rawName.toLowerCase();
    if (cur.fields.has(name)) {
      cur.error = `duplicate value for '${rawName}' field`;
      continue;
    }
    cur.fields.set(name, line.slice(colon + 1).trim());
    lastField = name;
  }
  if (cur) yield cur;
}

/**
 * Parses a dpkg database file (`status`, or one `status.d/<pkg>` file) into the stanzas dpkg would accept, in
 * file order, installed or not. Rejected stanzas are reported through `warn` with dpkg's reason.
 */
export function parseDpkgDatabase(text: string, warn: (reason: string) => void): DpkgRecord[] {
  const out: DpkgRecord[] = [];
  for (const st of stanzas(text)) {
    const reject = (why: string) => warn(`skipping stanza "${st.firstLine.slice(0, 80)}": ${why}`);
    if (st.error) {
      reject(st.error);
      continue;
    }
    const f = st.fields;
    const name = f.get('package');
    if (name === undefined) {
      reject("missing 'Package' field");
      continue;
    }
    if (!NAME_RE.test(name)) {
      reject(name === '' ? 'empty package name' : `invalid package name '${name}'`);
      continue;
    }
    const version = f.get('version');
    if (version === undefined) {
      reject("missing 'Version' field");
      continue;
    }
    const bad = checkDpkgVersion(version);
    if (bad) {
      reject(`version '${version}': ${bad}`);
      continue;
    }
    // `Source: name` or `Source: name (version)`; without it the source is the binary package itself
    let source = name;
    let sourceVersion = version;
    const src = f.get('source');
    if (src) {
      const sm = /^(\S+)(?:\s*\((.*)\))?\s*$/.exec(src);
      if (!sm) {
        reject(`malformed 'Source' field '${src}'`);
        continue;
      }
      source = sm[1]!;
      if (sm[2] !== undefined) {
        sourceVersion = sm[2].trim();
        const badSrc = checkDpkgVersion(sourceVersion);
        if (badSrc) {
          reject(`source version '${sourceVersion}': ${badSrc}`);
          continue;
        }
      }
    }
    const size = f.get('installed-size');
    const rec: DpkgRecord = { name, version, source, sourceVersion };
    const epoch = epochOf(version);
    if (epoch !== undefined) rec.epoch = epoch;
    const arch = f.get('architecture');
    if (arch) rec.arch = arch;
    const status = f.get('status');
    if (status !== undefined) rec.status = status;
    const maintainer = f.get('maintainer');
    if (maintainer) rec.maintainer = maintainer;
    if (size !== undefined && /^[0-9]+$/.test(size)) rec.installedSizeKiB = Number(size);
    out.push(rec);
  }
  return out;
}

function toPackage(r: DpkgRecord, path: string): Package {
  const pkg: Package = {
    type: 'dpkg',
    name: r.name,
    version: r.version,
    source: { name: r.source, version: r.sourceVersion },
    path,
  };
  if (r.epoch !== undefined) pkg.epoch = r.epoch;
  if (r.arch) pkg.arch = r.arch;
  if (r.maintainer) pkg.maintainer = r.maintainer;
  const extra: Record<string, string | number> = {};
  if (r.status !== undefined) extra.status = r.status;
  if (r.installedSizeKiB !== undefined) extra.installedSizeKiB = r.installedSizeKiB;
  if (Object.keys(extra).length > 0) pkg.extra = extra;
  return pkg;
}

/** `var/lib/dpkg/info/<package>[:<arch>].list`: the files dpkg installed for one package. */
function isFileList(path: string): boolean {
  return path.startsWith(INFO) && path.endsWith('.list') && path.indexOf('/', INFO.length) < 0;
}

/**
 * A package's file list: one absolute path per line (directories included, the first line is `/.`),
 * as root-relative paths. The owner is the file name less `.list` and a multi-arch `:<arch>` qualifier.
 */
export function parseFileList(text: string, path: string): OwnedFiles {
  const base = path.slice(path.lastIndexOf('/') + 1, -'.list'.length);
  const colon = base.indexOf(':');
  const paths: string[] = [];
  for (const line of splitLines(text)) {
    if (line.length < 2 || line.charCodeAt(0) !== 0x2f /* / */ || line === '/.') continue;
    paths.push(line.slice(1));
  }
  return { owner: colon < 0 ? base : base.slice(0, colon), paths };
}

function isStatusDFile(path: string): boolean {
  if (!path.startsWith(STATUS_D)) return false;
  const base = path.slice(STATUS_D.length);
  if (base === '' || base.includes('/') || base.startsWith('.')) return false;
  return !NON_CONTROL_SUFFIXES.some((s) => base.endsWith(s));
}

/**
 * Debian/Ubuntu packages from `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/<pkg>` files,
 * and the files each installed package owns from `var/lib/dpkg/info/*.list` (distroless images keep
 * no lists: their language packages have no known owner).
 */
export const dpkg = {
  name: 'dpkg',
  version: ANALYZER_VERSIONS['dpkg'],
  maxSize: 256 * MiB,
  wants: (path: string) => path === STATUS || isStatusDFile(path) || isFileList(path),
  analyze(file, ctx) {
    if (isFileList(file.path)) {
      const list = parseFileList(readAll(file).toString('utf8'), file.path);
      return list.paths.length > 0 ? { owned: [list] } : {};
    }
    const warn = boundedWarn(ctx);
    const records = parseDpkgDatabase(readAll(file).toString('utf8'), warn);
    warn.flush();
    const packages: Package[] = [];
    for (const r of records) if (isInstalled(r.status)) packages.push(toPackage(r, file.path));
    return { packages };
  },
} satisfies Analyzer;
