/**
 * Maven artifacts in Java archives (jar, war, ear, and Jenkins' jpi/hpi), nested archives included
 * (WEB-INF/lib, BOOT-INF/lib, an ear's modules). Per archive, in order of trust:
 *
 * 1. `META-INF/maven/<groupId>/<artifactId>/pom.properties`, written by Maven and Gradle's maven-publish:
 *    exact coordinates. A shaded jar holds several (its own and those of the classes it bundles): all count.
 * 2. `META-INF/MANIFEST.MF` when no pom.properties is the archive's own (see `manifestCoordinates` for the
 *    groupId heuristic), with `extra.confidence` "medium".
 * 3. The file name (`name-1.2.3.jar`, as Maven names artifacts) when nothing else names the archive, with
 *    the artifactId as groupId (what pre-Maven-2 artifacts such as junit:junit or log4j:log4j use), with
 *    `extra.confidence` "low".
 *
 * Archives are hostile input: nesting depth, entry count, each inflated entry, the bytes inflated per
 * top-level file and the compression ratio are capped; passing a cap is a warning that names the archive.
 */
import type { Package } from '../model/package.js';
import { openRandomAccess, type RandomAccess, splitLines } from './input.js';
import {
  bufferAccess,
  entryDataOffset,
  readZipDirectory,
  readZipEntry,
  STORED,
  sliceAccess,
  type ZipEntry,
  ZipError,
} from './lang/zip.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { boundedWarn } from './warn.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The caps applied to one top-level archive and everything nested in it. */
export interface JavaArchiveLimits {
  /** archives inside archives: the file itself is depth 1 */
  maxDepth: number;
  /** entries of one archive's central directory */
  maxEntries: number;
  /** entries of all nested archives together */
  maxTotalEntries: number;
  /** a nested archive inflated into memory */
  maxNestedBytes: number;
  /** a pom.properties or MANIFEST.MF */
  maxMetadataBytes: number;
  /** bytes inflated for one top-level file, nested archives included */
  maxTotalBytes: number;
  /** uncompressed:compressed ratio above which an entry is not inflated (deflate tops out near 1032:1) */
  maxRatio: number;
}

export const JAVA_ARCHIVE_LIMITS: JavaArchiveLimits = {
  maxDepth: 4,
  maxEntries: 200_000,
  maxTotalEntries: 1_000_000,
  maxNestedBytes: 128 * MiB,
  maxMetadataBytes: 1 * MiB,
  maxTotalBytes: 512 * MiB,
  maxRatio: 200,
};

/** Real jars compress class files 2-10:1; a ratio cap below this would reject sparse resources. */
const RATIO_FLOOR_BYTES = 1 * MiB;
const ARCHIVE_RE = /\.(jar|war|ear|jpi|hpi)$/i;
const FILE_NAME_RE = /^(.+)-(\d[\w.+-]*)\.(?:jar|war|ear|jpi|hpi)$/i;
/** a Maven groupId or artifactId: no spaces, no placeholders */
const ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

interface Coordinates {
  groupId: string;
  artifactId: string;
  version: string;
}

/** Parses Java .properties text (java.util.Properties#load: separators, continuations, escapes). */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    // an odd number of trailing backslashes continues the logical line
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '');
    }
    const m = /^((?:\\.|[^\\=: \t\f])*)[ \t\f]*[=:]?[ \t\f]*(.*)$/.exec(line);
    if (!m) continue;
    out.set(unescapeProperty(m[1]!), unescapeProperty(m[2]!));
  }
  return out;
}

function unescapeProperty(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c: string) => {
    if (c.length === 5) return String.fromCharCode(Number.parseInt(c.slice(1), 16));
    return c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c === 'f' ? '\f' : c;
  });
}

/**
 * The main section of a JAR manifest (JAR File Specification): `Name: value` lines, continuation lines
 * starting with one space, up to the first blank line. Attribute names are case-insensitive: keys are
 * lower-cased.
 */
export function parseManifest(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let key: string | undefined;
  for (const line of splitLines(text)) {
    if (line === '') break;
    if (line[0] === ' ' && key !== undefined) {
      out.set(key, out.get(key)! + line.slice(1));
      continue;
    }
    const c = line.indexOf(':');
    if (c <= 0) continue;
    key = line.slice(0, c).trim().toLowerCase();
    out.set(key, line.slice(c + 1).trim());
  }
  return out;
}

/** `spring-core-5.3.4-SNAPSHOT.jar` → spring-core, 5.3.4-SNAPSHOT: the version starts at the last `-<digit>`. */
export function fileNameCoordinates(fileName: string): { artifactId: string; version: string } | undefined {
  const m = FILE_NAME_RE.exec(fileName);
  return m ? { artifactId: m[1]!, version: m[2]! } : undefined;
}

/** dots-only identifiers look like reverse-DNS groupIds (org.apache.commons) */
function groupLike(s: string | undefined): s is string {
  return s !== undefined && ID_RE.test(s) && s.includes('.');
}

/**
 * Coordinates from a manifest, when pom.properties gives none. Version: Implementation-Version, else
 * Bundle-Version, else Specification-Version. artifactId: the file name's when its version agrees, else
 * an id-like Implementation-Title, else the last segment of Bundle-SymbolicName, else the file name's.
 * groupId (the part manifests rarely state): Implementation-Vendor-Id; else Bundle-SymbolicName or
 * Automatic-Module-Name without its `.artifactId` suffix or, failing that, without its last segment
 * (com.fasterxml.jackson.core.jackson-databind → com.fasterxml.jackson.core, org.apache.commons.lang3 →
 * org.apache.commons); else an id-like vendor; else the artifactId.
 */
export function manifestCoordinates(
  m: Map<string, string>,
  fileName: string,
): (Coordinates & { groupIdFrom: string }) | undefined {
  const version =
    m.get('implementation-version') || m.get('bundle-version') || m.get('specification-version');
  if (!version || !ID_RE.test(version)) return undefined;
  const file = fileNameCoordinates(fileName);
  const bsn = m.get('bundle-symbolicname')?.split(';', 1)[0]?.trim();
  const title = m.get('implementation-title');
  let artifactId: string | undefined;
  if (file && file.version === version) artifactId = file.artifactId;
  else if (title && ID_RE.test(title)) artifactId = title;
  else if (bsn && ID_RE.test(bsn)) artifactId = bsn.slice(bsn.lastIndexOf('.') + 1);
  else artifactId = file?.artifactId;
  if (!artifactId) return undefined;

  const stripId = (id: string): string | undefined => {
    if (!groupLike(id)) return undefined;
    if (id.endsWith(`.${artifactId}`)) return id.slice(0, -artifactId.length - 1);
    const g = id.slice(0, id.lastIndexOf('.'));
    return groupLike(g) ? g : undefined;
  };
  const vendorId = m.get('implementation-vendor-id');
  const amn = m.get('automatic-module-name');
  const candidates: [string, string | undefined][] = [
    ['Implementation-Vendor-Id', groupLike(vendorId) ? vendorId : undefined],
    ['Bundle-SymbolicName', bsn ? stripId(bsn) : undefined],
    ['Automatic-Module-Name', amn ? stripId(amn) : undefined],
    ['Implementation-Vendor', m.get('implementation-vendor')],
    ['Specification-Vendor', m.get('specification-vendor')],
  ];
  for (const [from, g] of candidates) {
    if (groupLike(g)) return { groupId: g, artifactId, version, groupIdFrom: from };
  }
  return { groupId: artifactId, artifactId, version, groupIdFrom: 'artifactId' };
}

interface Walk {
  file: FileInput;
  limits: JavaArchiveLimits;
  warn: (reason: string) => void;
  packages: Package[];
  bytes: number;
  entries: number;
}

function javaPackage(w: Walk, c: Coordinates, chain: string, extra: Record<string, string>): Package {
  const pkg: Package = {
    type: 'maven',
    name: `${c.groupId}:${c.artifactId}`,
    version: c.version,
    path: w.file.path,
    foundBy: 'installed',
  };
  pkg.extra = chain ? { archive: chain, ...extra } : extra;
  return pkg;
}

/** Reads one archive's metadata and recurses into its nested archives. `chain` names it inside the file. */
function walkArchive(w: Walk, ra: RandomAccess, chain: string, fileName: string, depth: number): void {
  // the pipeline names the file; a nested archive is named by its path inside it
  const label = (msg: string) => (chain ? `${chain}: ${msg}` : msg);
  let entries: ZipEntry[];
  try {
    entries = readZipDirectory(ra, w.limits.maxEntries);
  } catch (e) {
    if (!(e instanceof ZipError)) throw e;
    w.warn(label(`unreadable zip archive: ${e.message}`));
    return;
  }
  w.entries += entries.length;
  if (w.entries > w.limits.maxTotalEntries) {
    w.warn(label(`nested archives hold more than ${w.limits.maxTotalEntries} entries in all; not read`));
    return;
  }
  const poms: Coordinates[] = [];
  let manifest: Map<string, string> | undefined;
  const nested: ZipEntry[] = [];
  for (const e of entries) {
    const n = e.name;
    if (n.endsWith('/')) continue;
    if (n.endsWith('/pom.properties') && n.startsWith('META-INF/maven/')) {
      const text = metadata(w, ra, e, chain);
      if (text === undefined) continue;
      const p = parseProperties(text);
      const c = {
        groupId: p.get('groupId') ?? '',
        artifactId: p.get('artifactId') ?? '',
        version: p.get('version') ?? '',
      };
      if (ID_RE.test(c.groupId) && ID_RE.test(c.artifactId) && ID_RE.test(c.version)) poms.push(c);
      else w.warn(label(`${n} lacks a usable groupId, artifactId or version`));
    } else if (n.toUpperCase() === 'META-INF/MANIFEST.MF') {
      const text = metadata(w, ra, e, chain);
      if (text !== undefined) manifest = parseManifest(text);
    } else if (ARCHIVE_RE.test(n)) {
      nested.push(e);
    }
  }

  for (const c of poms) w.packages.push(javaPackage(w, c, chain, { evidence: 'pom.properties' }));
  const file = fileNameCoordinates(fileName);
  const fromManifest = manifest ? manifestCoordinates(manifest, fileName) : undefined;
  // one pom.properties is the archive's own; among several (a shaded jar), the one the name or manifest names
  const own =
    poms.length === 1 ||
    poms.some(
      (p) =>
        (file && p.artifactId === file.artifactId && p.version === file.version) ||
        (fromManifest && p.artifactId === fromManifest.artifactId && p.version === fromManifest.version),
    );
  if (!own) {
    if (fromManifest) {
      const { groupIdFrom, ...c } = fromManifest;
      w.packages.push(
        javaPackage(w, c, chain, { evidence: 'MANIFEST.MF', confidence: 'medium', groupIdFrom }),
      );
    } else if (file) {
      const c = { groupId: file.artifactId, ...file };
      w.packages.push(
        javaPackage(w, c, chain, { evidence: 'file name', confidence: 'low', groupIdFrom: 'artifactId' }),
      );
    }
  }

  for (const e of nested) {
    const inner = chain ? `${chain}!/${e.name}` : e.name;
    if (depth >= w.limits.maxDepth) {
      w.warn(`${inner}: nested more than ${w.limits.maxDepth} archives deep; not read`);
      continue;
    }
    const sub = nestedAccess(w, ra, e, inner);
    if (sub) walkArchive(w, sub, inner, e.name.slice(e.name.lastIndexOf('/') + 1), depth + 1);
  }
}

/** A small metadata entry as text; undefined (with a warning) when it is unreadable or over its cap. */
function metadata(w: Walk, ra: RandomAccess, e: ZipEntry, chain: string): string | undefined {
  if (!withinCaps(w, e, chain ? `${chain}!/${e.name}` : e.name, w.limits.maxMetadataBytes)) return undefined;
  try {
    const data = readZipEntry(ra, e, w.limits.maxMetadataBytes);
    w.bytes += data.length;
    return data.toString('utf8');
  } catch (err) {
    if (!(err instanceof ZipError)) throw err;
    w.warn(chain ? `${chain}: ${err.message}` : err.message);
    return undefined;
  }
}

/** A nested archive: read in place when stored (Spring Boot's layout), else inflated within the caps. */
function nestedAccess(w: Walk, ra: RandomAccess, e: ZipEntry, name: string): RandomAccess | undefined {
  try {
    if (e.method === STORED && e.size === e.compressedSize) {
      return sliceAccess(ra, entryDataOffset(ra, e), e.size);
    }
    if (!withinCaps(w, e, name, w.limits.maxNestedBytes)) return undefined;
    const data = readZipEntry(ra, e, w.limits.maxNestedBytes);
    w.bytes += data.length;
    return bufferAccess(data);
  } catch (err) {
    if (!(err instanceof ZipError)) throw err;
    w.warn(`${name}: unreadable nested archive: ${err.message}`);
    return undefined;
  }
}

/** Checks an entry against the size, total and ratio caps before it is inflated. */
function withinCaps(w: Walk, e: ZipEntry, name: string, max: number): boolean {
  const { limits } = w;
  if (e.size > max) {
    w.warn(`${name}: ${e.size} bytes uncompressed, over the ${max}-byte cap; not read`);
    return false;
  }
  if (w.bytes + e.size > limits.maxTotalBytes) {
    w.warn(`${name}: reading it would inflate more than ${limits.maxTotalBytes} bytes in all; not read`);
    return false;
  }
  if (e.size > RATIO_FLOOR_BYTES && e.size > e.compressedSize * limits.maxRatio) {
    const ratio = Math.round(e.size / Math.max(e.compressedSize, 1));
    w.warn(
      `${name}: compression ratio ${ratio}:1 is over the ${limits.maxRatio}:1 cap (zip bomb?); not read`,
    );
    return false;
  }
  return true;
}

/** Reads every Maven artifact an archive (and what it nests) names. Never throws on bad archives. */
export function analyzeJavaArchive(
  file: FileInput,
  warn: (reason: string) => void,
  limits: JavaArchiveLimits = JAVA_ARCHIVE_LIMITS,
): Package[] {
  const ra = openRandomAccess(file);
  try {
    const w: Walk = { file, limits, warn, packages: [], bytes: 0, entries: 0 };
    walkArchive(w, ra, '', file.path.slice(file.path.lastIndexOf('/') + 1), 1);
    return w.packages;
  } finally {
    ra.close();
  }
}

function analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput {
  const warn = boundedWarn(ctx);
  const packages = analyzeJavaArchive(file, warn);
  warn.flush();
  return packages.length > 0 ? { packages } : {};
}

/** Maven artifacts in jar, war, ear, jpi and hpi files. */
export const javaArchive = {
  name: 'java-archive',
  version: ANALYZER_VERSIONS['java-archive'],
  maxSize: 1024 * MiB,
  wants: (path: string) => ARCHIVE_RE.test(path),
  analyze,
} satisfies Analyzer;
