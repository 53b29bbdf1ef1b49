/**
 * Package URLs (https://github.com/package-url/purl-spec: docs/standard/specification.md and the type
 * definitions): built for every package of a scan, and parsed back into packages by `moat scan sbom`.
 *
 *   dpkg      pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12&upstream=glibc
 *   apk       pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.18.4&upstream=musl
 *   rpm       pkg:rpm/redhat/bash@5.1.8-6.el9?arch=x86_64&distro=rhel-9.4&epoch=1&upstream=bash
 *   npm       pkg:npm/%40scope/name@1.0.0        python   pkg:pypi/pyyaml@6.0 (PEP 503 name)
 *   go        pkg:golang/github.com/x/y@v1.2.3    maven    pkg:maven/group/artifact@1.0
 *   gem, cargo, nuget  pkg:<type>/name@v          composer pkg:composer/vendor/name@v
 *
 * OS packages carry `distro=<family>-<version>` (Syft's form; Trivy writes the bare version and the vendor
 * in the namespace, which the parser also reads) and `upstream=<source>[@<source version>]` when the
 * package has a source package, because Debian, Ubuntu and Alpine advisories are keyed on it: without it
 * an SBOM could not be matched as the image was. RPM versions leave the epoch to the `epoch` qualifier, as
 * the rpm type definition asks; Debian versions keep it in the version (dpkg's own syntax).
 */
import type { OsInfo, Package, PackageType } from '../model/package.js';

export interface Purl {
  type: string;
  /** decoded segments joined with '/' */
  namespace?: string;
  name: string;
  version?: string;
  qualifiers: Record<string, string>;
  subpath?: string;
}

/** Characters left as they are: alphanumerics, `.-_~` and the colon (spec: Character encoding). */
const UNENCODED = /[A-Za-z0-9.\-_~:]/;

export function encodeComponent(s: string): string {
  let out = '';
  for (const ch of s) {
    if (UNENCODED.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The canonical string of a purl: qualifiers sorted by key, empty values dropped. */
export function formatPurl(p: Purl): string {
  let s = `pkg:${p.type.toLowerCase()}/`;
  if (p.namespace) s += `${p.namespace.split('/').filter(Boolean).map(encodeComponent).join('/')}/`;
  s += encodeComponent(p.name);
  if (p.version) s += `@${encodeComponent(p.version)}`;
  const keys = Object.keys(p.qualifiers)
    .filter((k) => p.qualifiers[k] !== undefined && p.qualifiers[k] !== '')
    .sort();
  if (keys.length > 0)
    s += `?${keys.map((k) => `${k.toLowerCase()}=${encodeComponent(p.qualifiers[k]!)}`).join('&')}`;
  if (p.subpath) s += `#${p.subpath.split('/').filter(Boolean).map(encodeComponent).join('/')}`;
  return s;
}

/**
 * Parses a purl (the spec's "how to parse" steps: subpath from the right, then qualifiers, scheme, type,
 * version, name, namespace). Returns undefined for anything that is not a `pkg:` URL with a type and name.
 */
export function parsePurl(input: string): Purl | undefined {
  let s = input.trim();
  let subpath: string | undefined;
  const hash = s.indexOf('#');
  if (hash >= 0) {
    const segs = s
      .slice(hash + 1)
      .split('/')
      .filter((x) => x && x !== '.' && x !== '..')
      .map(decodeComponent);
    if (segs.length) subpath = segs.join('/');
    s = s.slice(0, hash);
  }
  const qualifiers: Record<string, string> = {};
  const q = s.indexOf('?');
  if (q >= 0) {
    for (const pair of s.slice(q + 1).split('&')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const value = decodeComponent(pair.slice(eq + 1));
      if (value !== '') qualifiers[pair.slice(0, eq).toLowerCase()] = value;
    }
    s = s.slice(0, q);
  }
  if (!/^pkg:/i.test(s)) return undefined;
  s = s.slice(4).replace(/^\/+/, '');
  const slash = s.indexOf('/');
  if (slash <= 0) return undefined;
  const type = s.slice(0, slash).toLowerCase();
  if (!/^[a-z][a-z0-9.+-]*$/.test(type)) return undefined;
  s = s.slice(slash + 1).replace(/\/+$/, '');
  let version: string | undefined;
  const at = s.lastIndexOf('@');
  // an '@' in the last segment separates the version; a leading %40 (npm scope) is encoded, never raw
  if (at > s.lastIndexOf('/')) {
    version = decodeComponent(s.slice(at + 1)) || undefined;
    s = s.slice(0, at);
  }
  const segs = s.split('/').filter(Boolean);
  const name = decodeComponent(segs.pop() ?? '');
  if (!name) return undefined;
  const namespace = segs.length ? segs.map(decodeComponent).join('/') : undefined;
  return { type, namespace, name, version, qualifiers, subpath };
}

/** PEP 503 normalisation: lower case, runs of `-`, `_`, `.` become one `-`. */
export function pep503(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** rpm purl vendors for os-release IDs that differ from the vendor's usual name. */
const RPM_VENDOR: Record<string, string> = {
  rhel: 'redhat',
  amzn: 'amazon',
  ol: 'oracle',
  sles: 'suse',
  sled: 'suse',
  sles_sap: 'suse',
  'opensuse-leap': 'opensuse',
  'opensuse-tumbleweed': 'opensuse',
  'opensuse-leap-micro': 'opensuse',
};

function osQualifiers(pkg: Package, os: Pick<OsInfo, 'family' | 'version'> | undefined) {
  const q: Record<string, string> = {};
  if (pkg.arch) q.arch = pkg.arch;
  if (os?.family) q.distro = os.version ? `${os.family}-${os.version}` : os.family;
  const src = pkg.source;
  if (src?.name) {
    q.upstream = src.version && src.version !== pkg.version ? `${src.name}@${src.version}` : src.name;
  }
  return q;
}

/** The purl of a package; `os` gives OS packages their vendor and distro qualifier. */
export function purlFor(pkg: Package, os?: Pick<OsInfo, 'family' | 'version'>): string {
  switch (pkg.type) {
    case 'dpkg':
      return formatPurl({
        type: 'deb',
        namespace: os?.family || 'debian',
        name: pkg.name,
        version: pkg.version,
        qualifiers: osQualifiers(pkg, os),
      });
    case 'apk':
      return formatPurl({
        type: 'apk',
        namespace: os?.family || 'alpine',
        name: pkg.name.toLowerCase(),
        version: pkg.version,
        qualifiers: osQualifiers(pkg, os),
      });
    case 'rpm': {
      const q = osQualifiers(pkg, os);
      const epoch = pkg.epoch ?? epochOf(pkg.version);
      if (epoch !== undefined) q.epoch = String(epoch);
      const version =
        pkg.upstreamVersion && pkg.release
          ? `${pkg.upstreamVersion}-${pkg.release}`
          : pkg.version.replace(/^\d+:/, '');
      const family = os?.family;
      return formatPurl({
        type: 'rpm',
        namespace: family ? (RPM_VENDOR[family] ?? family) : undefined,
        name: pkg.name,
        version,
        qualifiers: q,
      });
    }
    case 'npm': {
      // "@scope/name": the scope (with its @) is the namespace
      const m = /^(@[^/]+)\/(.+)$/.exec(pkg.name);
      return formatPurl({
        type: 'npm',
        namespace: m?.[1],
        name: (m?.[2] ?? pkg.name).toLowerCase(),
        version: pkg.version,
        qualifiers: {},
      });
    }
    case 'python':
      return formatPurl({ type: 'pypi', name: pep503(pkg.name), version: pkg.version, qualifiers: {} });
    case 'go': {
      const segs = pkg.name.split('/');
      const name = segs.pop() ?? pkg.name;
      return formatPurl({
        type: 'golang',
        namespace: segs.join('/') || undefined,
        name,
        version: pkg.version,
        qualifiers: {},
      });
    }
    case 'maven': {
      const [group, artifact] = splitOnce(pkg.name, ':');
      return formatPurl({
        type: 'maven',
        namespace: artifact ? group : undefined,
        name: artifact ?? group,
        version: pkg.version,
        qualifiers: {},
      });
    }
    case 'composer': {
      const [vendor, name] = splitOnce(pkg.name.toLowerCase(), '/');
      return formatPurl({
        type: 'composer',
        namespace: name ? vendor : undefined,
        name: name ?? vendor,
        version: pkg.version,
        qualifiers: {},
      });
    }
    case 'gem':
    case 'cargo':
    case 'nuget':
      return formatPurl({ type: pkg.type, name: pkg.name, version: pkg.version, qualifiers: {} });
  }
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function epochOf(version: string): number | undefined {
  const m = /^(\d+):/.exec(version);
  return m ? Number(m[1]) : undefined;
}

/** Sets `purl` on every package that has none (the scan pipeline and SBOM writers call this). */
export function assignPurls(packages: Package[], os?: Pick<OsInfo, 'family' | 'version'>): Package[] {
  for (const p of packages) p.purl ??= purlFor(p, os);
  return packages;
}

const PURL_TYPE_TO_PACKAGE: Record<string, PackageType> = {
  deb: 'dpkg',
  apk: 'apk',
  rpm: 'rpm',
  npm: 'npm',
  pypi: 'python',
  golang: 'go',
  maven: 'maven',
  gem: 'gem',
  cargo: 'cargo',
  composer: 'composer',
  nuget: 'nuget',
};

/** The package type for a purl type, undefined when moat has no such package type. */
export function packageTypeOfPurl(type: string): PackageType | undefined {
  return PURL_TYPE_TO_PACKAGE[type.toLowerCase()];
}

/** The package name moat uses for a purl (the inverse of purlFor's name mapping). */
export function packageNameOfPurl(p: Purl): string {
  switch (p.type) {
    case 'npm':
    case 'golang':
    case 'composer':
      return p.namespace ? `${p.namespace}/${p.name}` : p.name;
    case 'maven':
      return p.namespace ? `${p.namespace}:${p.name}` : p.name;
    default:
      return p.name;
  }
}

/**
 * A package from a purl: name and version per type, and for OS packages the arch, epoch and source package
 * (the `upstream` qualifier: `name`, `name@version`, or Syft's source RPM file name). Undefined when the purl
 * has no version or a type moat does not scan.
 */
export function packageFromPurl(p: Purl, path: string): Package | undefined {
  const type = packageTypeOfPurl(p.type);
  if (!type || !p.version) return undefined;
  const pkg: Package = { type, name: packageNameOfPurl(p), version: p.version, path };
  const q = p.qualifiers;
  if (type === 'dpkg' || type === 'apk' || type === 'rpm') {
    if (q.arch) pkg.arch = q.arch;
    const epoch = q.epoch && /^\d+$/.test(q.epoch) ? Number(q.epoch) : undefined;
    if (type === 'rpm') {
      const bare = p.version.replace(/^\d+:/, '');
      const e = epoch ?? epochOf(p.version);
      pkg.version = e !== undefined ? `${e}:${bare}` : bare;
      if (e !== undefined) pkg.epoch = e;
      const dash = bare.lastIndexOf('-');
      if (dash > 0) {
        pkg.upstreamVersion = bare.slice(0, dash);
        pkg.release = bare.slice(dash + 1);
      }
    } else if (type === 'dpkg' && epoch && !/^\d+:/.test(p.version)) {
      // Trivy writes the dpkg epoch as a qualifier
      pkg.version = `${epoch}:${p.version}`;
    }
    const src = upstreamOf(q.upstream, pkg);
    if (src) pkg.source = src;
  }
  return pkg;
}

function upstreamOf(raw: string | undefined, pkg: Package): { name: string; version: string } | undefined {
  if (!raw) return undefined;
  // Syft: a source RPM file name, name-version-release.src.rpm
  const srpm = /^(.+)-([^-]+)-([^-]+)\.(?:src|nosrc)\.rpm$/.exec(raw);
  if (srpm) {
    const e = pkg.epoch !== undefined ? `${pkg.epoch}:` : '';
    return { name: srpm[1]!, version: `${e}${srpm[2]}-${srpm[3]}` };
  }
  const at = raw.indexOf('@');
  if (at > 0) return { name: raw.slice(0, at), version: raw.slice(at + 1) };
  return { name: raw, version: pkg.version };
}

/**
 * The OS a purl's distro qualifier names: `debian-12` (Syft, moat), `ubuntu-22.04`, `alpine-3.18.4`, or
 * Trivy's bare `12.5`/`3.18.4` with the vendor in the namespace. Codenames (`distro=bookworm`) give a family
 * without a version.
 */
export function osFromPurl(p: Purl): { family: string; version: string; codename?: string } | undefined {
  const distro = p.qualifiers.distro;
  const vendor = p.namespace?.toLowerCase();
  if (!distro) return undefined;
  const m = /^([a-z][a-z0-9._]*(?:-[a-z][a-z0-9._]*)*)-(\d[\w.+~-]*)$/i.exec(distro);
  if (m) return { family: osFamily(m[1]!), version: m[2]! };
  if (/^\d/.test(distro) && vendor) return { family: osFamily(vendor), version: distro };
  if (vendor) return { family: osFamily(vendor), version: '', codename: distro.toLowerCase() };
  return undefined;
}

/** The os-release ID for a distribution or rpm vendor name (the reverse of RPM_VENDOR where unambiguous). */
export function osFamily(vendor: string): string {
  const name = vendor.toLowerCase();
  switch (name) {
    case 'redhat':
      return 'rhel';
    case 'amazon':
      return 'amzn';
    case 'oracle':
      return 'ol';
    default:
      return name;
  }
}
