import type { OsInfo, Package } from '../model/package.js';
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

/** The lookups for one package on one OS; empty when the OS has no OSV ecosystem. */
export function queriesFor(pkg: Package, os: OsInfo | undefined): PackageQuery[] {
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
    default:
      // language packages are matched in their own ecosystems, whatever the OS (not yet wired)
      return [];
  }
}
