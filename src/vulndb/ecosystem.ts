import { isOsPackageType, type LangPackageType, type OsInfo, type Package } from '../model/package.js';
import { schemeForEcosystem } from '../versioning/index.js';
import type { VersionScheme } from '../versioning/types.js';
import { baseEcosystem } from './osv.js';

/**
 * Which OSV ecosystems, package name and version a package is looked up under.
 *
 * - Debian, Ubuntu: the source package (dpkg `Source:`) at the source version — Debian and Ubuntu
 *   advisories are keyed on source packages, and a binNMU (`1.0.9-2+b6`) keeps its source's version.
 * - Alpine (and Wolfi/Chainguard): the origin (the aports source package) at the package version.
 * - rpm distributions: the binary name at `[epoch:]version-release` (Red Hat lists binary RPMs), and the
 *   source RPM name when it differs (AlmaLinux, Rocky Linux, SUSE and openSUSE key on the source RPM).
 *
 * Ecosystems: the OS's own (`Debian:12`), plus the bare distribution name (`Debian`) where the OSV schema
 * makes the release suffix optional (Debian, AlmaLinux, Rocky Linux): a record without one is not scoped to
 * a release, so it applies to all of them. Where the suffix is mandatory (Ubuntu, Alpine, ...) a bare record
 * is malformed and ignored. Ubuntu Pro (`Ubuntu:Pro:22.04:LTS`) fixes are not applied: they need an ESM
 * subscription. Red Hat records are scoped by CPE (`Red Hat:enterprise_linux:9::appstream`), so a RHEL image
 * looks up every stream under `Red Hat:enterprise_linux:<major>::`.
 *
 * Language packages are looked up in their own ecosystem whatever the OS (LANG_ECOSYSTEMS), under the
 * name as the ecosystem compares names (normalizeName) and, for Go, the version without its `v` prefix
 * (OSV's Go records write SEMVER events without it; the toolchain's `go1.21.3` becomes `1.21.3` under
 * the package `stdlib`). Language packages that an OS package installed (`osPackage`) are left to the
 * distribution's advisories unless `osManagedLang` is set: distributions backport fixes without
 * changing the upstream version.
 */
export interface PackageQuery {
  /** exact ecosystems to look up */
  ecosystems: string[];
  /** ecosystem prefixes to look up (Red Hat CPE streams) */
  prefixes: string[];
  name: string;
  version: string;
  /** orders ECOSYSTEM ranges; undefined when moat has no scheme for the ecosystem (then only `versions` match) */
  scheme: VersionScheme | undefined;
  /** the name and version are the package's own, only normalised for the lookup: not reported as matched ones */
  asInstalled?: boolean;
  /** put back in front of fixed versions in findings (Go module versions carry a `v` that OSV's events omit) */
  fixPrefix?: string;
}

/** The OSV ecosystem of each language package type (https://ossf.github.io/osv-schema/#defined-ecosystems). */
export const LANG_ECOSYSTEMS = {
  npm: 'npm',
  python: 'PyPI',
  go: 'Go',
  maven: 'Maven',
  gem: 'RubyGems',
  cargo: 'crates.io',
  composer: 'Packagist',
  nuget: 'NuGet',
} as const satisfies Record<LangPackageType, string>;

/**
 * A package name as its ecosystem compares names, so that lookups and deduplication agree with the
 * registry: PyPI per PEP 503 (case-insensitive, runs of `-`, `_`, `.` equal one `-`), NuGet
 * case-insensitive (ids are compared ignoring case); npm, Go module paths, Maven `groupId:artifactId`,
 * RubyGems, crates.io and Packagist exactly. The database stores PyPI and NuGet names in this form too.
 */
export function normalizeName(ecosystem: string, name: string): string {
  switch (ecosystem) {
    case 'PyPI':
      return name.toLowerCase().replace(/[-_.]+/g, '-');
    case 'NuGet':
      return name.toLowerCase();
    default:
      return name;
  }
}

/** A Go toolchain version (`go1.21.3`, `go1.22rc1`, `1.19`) as OSV's `stdlib` records write it (SemVer, no `v`). */
export function goToolchainSemver(v: string): string | undefined {
  // "go1.22.1 X:boringcrypto": experiments follow a space
  const m = /^(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(beta|rc)(\d+))?$/.exec(v.trim().split(' ', 1)[0]!);
  if (!m) return undefined;
  const core = `${m[1]}.${m[2] ?? '0'}.${m[3] ?? '0'}`;
  return m[4] ? `${core}-${m[4]}.${m[5]}` : core;
}

/** The version a language package is looked up with; undefined when it names no release. */
function langVersion(pkg: Package): string | undefined {
  const v = pkg.version.trim();
  if (v === '') return undefined;
  if (pkg.type !== 'go') return v;
  if (pkg.name === 'stdlib') return goToolchainSemver(v);
  // "(devel)" is the main module of a binary built from a checkout: no release to compare
  if (v === '(devel)') return undefined;
  return v.startsWith('v') ? v.slice(1) : v;
}

export interface QueryOptions {
  /** also match language packages an OS package installed (--os-managed-lang) */
  osManagedLang?: boolean;
}

/** The lookup of a language package in its ecosystem; none for an OS-managed one unless asked. */
function langQueries(pkg: Package, opts: QueryOptions): PackageQuery[] {
  if (pkg.osPackage && !opts.osManagedLang) return [];
  const ecosystem: string | undefined = LANG_ECOSYSTEMS[pkg.type as LangPackageType];
  const version = ecosystem ? langVersion(pkg) : undefined;
  if (!ecosystem || version === undefined) return [];
  const q: PackageQuery = {
    ecosystems: [ecosystem],
    prefixes: [],
    name: normalizeName(ecosystem, pkg.name),
    version,
    scheme: schemeForEcosystem(ecosystem),
    asInstalled: true,
  };
  if (pkg.type === 'go' && pkg.name !== 'stdlib' && pkg.version.startsWith('v')) q.fixPrefix = 'v';
  return [q];
}

/** Distributions whose OSV ecosystem "might optionally have a :<RELEASE> suffix" (OSV schema, ecosystems list). */
const OPTIONAL_RELEASE = new Set(['Debian', 'AlmaLinux', 'Rocky Linux']);

/** The ecosystems an OS's packages are looked up in (exact names and prefixes). */
export function ecosystemsFor(os: OsInfo): { ecosystems: string[]; prefixes: string[] } {
  const eco = os.ecosystem;
  if (!eco) return { ecosystems: [], prefixes: [] };
  const base = baseEcosystem(eco);
  const ecosystems = eco !== base && OPTIONAL_RELEASE.has(base) ? [eco, base] : [eco];
  const prefixes: string[] = [];
  if (base === 'Red Hat') {
    const major = os.version.split('.', 1)[0];
    if (major && /^\d+$/.test(major)) prefixes.push(`Red Hat:enterprise_linux:${major}::`);
  }
  return { ecosystems, prefixes };
}

/**
 * The lookups for one package: an OS package on its OS (none when the OS has no OSV ecosystem), a
 * language package in its ecosystem.
 */
export function queriesFor(pkg: Package, os: OsInfo | undefined, opts: QueryOptions = {}): PackageQuery[] {
  if (!isOsPackageType(pkg.type)) return langQueries(pkg, opts);
  if (!os?.ecosystem) return [];
  const { ecosystems, prefixes } = ecosystemsFor(os);
  const scheme = schemeForEcosystem(os.ecosystem);
  const q = (name: string, version: string): PackageQuery => ({
    ecosystems,
    prefixes,
    name,
    version,
    scheme,
  });
  switch (pkg.type) {
    case 'dpkg':
      return [q(pkg.source?.name || pkg.name, pkg.source?.version || pkg.version)];
    case 'apk':
      return [q(pkg.source?.name || pkg.name, pkg.version)];
    case 'rpm': {
      const out = [q(pkg.name, pkg.version)];
      const src = pkg.source?.name;
      if (src && src !== pkg.name) out.push(q(src, pkg.source?.version || pkg.version));
      return out;
    }
  }
}
