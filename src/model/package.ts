/** OS package managers. */
export const OS_PACKAGE_TYPES = ['dpkg', 'apk', 'rpm'] as const;
export type OsPackageType = (typeof OS_PACKAGE_TYPES)[number];

/**
 * Language package types, one per packaging ecosystem: npm (package-lock, yarn, pnpm, node_modules),
 * python (PyPI: dist-info, egg-info, poetry, Pipfile, requirements), go (Go modules: go.mod, binaries),
 * maven (Java archives), gem (RubyGems), cargo (crates.io), composer (Packagist), nuget (.NET).
 */
export const LANG_PACKAGE_TYPES = [
  'npm',
  'python',
  'go',
  'maven',
  'gem',
  'cargo',
  'composer',
  'nuget',
] as const;
export type LangPackageType = (typeof LANG_PACKAGE_TYPES)[number];

/** Which kind of package manager a package belongs to. */
export type PackageType = OsPackageType | LangPackageType;

export function isOsPackageType(t: string): t is OsPackageType {
  return (OS_PACKAGE_TYPES as readonly string[]).includes(t);
}

/**
 * How a language package was found: metadata of an installed package (node_modules/x/package.json,
 * *.dist-info/METADATA, gemspecs, composer's installed.json, a jar's pom.properties), a declaration in a
 * lockfile or manifest (package-lock.json, poetry.lock, go.mod, ...), or build info embedded in a binary.
 */
export type FoundBy = 'installed' | 'lockfile' | 'binary';

/** Where in an image something was found: the layer that introduced it. */
export interface LayerRef {
  /** 0-based position in the image's layer list */
  index: number;
  /** compressed blob digest as listed in the manifest (sha256:...) */
  digest: string;
  /** uncompressed digest from the image config's rootfs.diff_ids, when known */
  diffId?: string;
  /** the history entry's created_by, when the config has one */
  createdBy?: string;
}

export interface Package {
  type: PackageType;
  name: string;
  /**
   * The full version in the package manager's own syntax, as its version scheme compares it:
   * dpkg `[epoch:]upstream[-revision]`, apk `1.2.3-r0`, rpm `[epoch:]version-release` (epoch only when set).
   */
  version: string;
  /** rpm: epoch (null in the database is omitted here); dpkg: parsed from the version */
  epoch?: number;
  /** rpm: version without release; absent for other types */
  upstreamVersion?: string;
  /** rpm: release */
  release?: string;
  arch?: string;
  /** source package: dpkg `Source:` (or the package itself), apk origin, rpm SOURCERPM name/version */
  source?: { name: string; version: string };
  license?: string;
  maintainer?: string;
  /** database file the package was read from, relative to the image root (no leading slash) */
  path: string;
  /** layer that introduced the package (filled in by the scan pipeline) */
  layer?: LayerRef;
  /** format-specific extras that renderers may show (dpkg status, rpm modularity label, apk commit, ...) */
  extra?: Record<string, string | number | boolean | null>;
  /** package URL (purl spec), set for every package by the scan pipeline */
  purl?: string;
  /** language packages: how it was found (see FoundBy) */
  foundBy?: FoundBy;
  /** language packages: every file that declares it, when more than `path` (deduplicated packages) */
  locations?: string[];
  /** language packages: a development-only dependency (lockfiles that say so) */
  dev?: boolean;
  /** language packages: a direct dependency of the project (lockfiles that say so) */
  direct?: boolean;
  /**
   * language packages whose files belong to an OS package (e.g. Debian's python3-requests owns
   * dist-packages/requests*): the owning OS package's name. Such packages are not matched against
   * language advisories unless asked (--os-managed-lang): distributions backport fixes.
   */
  osPackage?: string;
}

/** Operating system of an image, from /etc/os-release and fallbacks. */
export interface OsInfo {
  /** lower-case distribution id: debian, ubuntu, alpine, rhel, rocky, almalinux, centos, fedora, sles, opensuse-leap, amzn, ... */
  family: string;
  /** human name, e.g. "Debian GNU/Linux 12 (bookworm)" */
  name: string;
  /** release as the distribution numbers it (VERSION_ID, or the release file's content): "12", "22.04", "3.20.3", "9.4" */
  version: string;
  codename?: string;
  /** OSV ecosystem for OS packages, e.g. "Debian:12", "Ubuntu:22.04:LTS", "Alpine:v3.20"; absent when unknown */
  ecosystem?: string;
  /** end-of-life status from data/eol.json */
  eol?: EolStatus;
  /** file it was read from */
  source: string;
}

export interface EolStatus {
  /** true when the release is past its end of life (regular and, where there is one, LTS/extended) */
  ended: boolean;
  /** end of regular support (YYYY-MM-DD) */
  date?: string;
  /** end of LTS / extended support (YYYY-MM-DD), when the distribution has one */
  ltsDate?: string;
  /** true when past regular support but still inside LTS */
  inLts?: boolean;
  /** release not in the table */
  unknown?: boolean;
}
