import { MoatError } from '../errors.js';
import { apk } from './apk.js';
import { composer } from './composer.js';
import { dpkg } from './dpkg.js';
import { go } from './go.js';
import { maven } from './maven.js';
import { nuget } from './nuget.js';
import { pep440 } from './pep440.js';
import { rpm } from './rpm.js';
import { rubygems } from './rubygems.js';
import { semver } from './semver.js';
import type { VersionScheme } from './types.js';

export type { VersionScheme } from './types.js';

/** Every version scheme moat knows, by name. Adding a scheme: one file and one line here. */
export const SCHEMES = {
  dpkg,
  apk,
  rpm,
  semver,
  go,
  pep440,
  maven,
  rubygems,
  nuget,
  composer,
} satisfies Record<string, VersionScheme>;

export type SchemeName = keyof typeof SCHEMES;

export function getScheme(name: string): VersionScheme | undefined {
  return Object.hasOwn(SCHEMES, name) ? SCHEMES[name as SchemeName] : undefined;
}

/** Compares two versions with the named scheme: -1, 0 or 1. Throws a USAGE error for an unknown scheme. */
export function compareVersions(scheme: string, a: string, b: string): -1 | 0 | 1 {
  const s = getScheme(scheme);
  if (!s) {
    throw new MoatError(
      'USAGE',
      `unknown version scheme "${scheme}" (known: ${Object.keys(SCHEMES).join(', ')})`,
    );
  }
  return s.compare(a, b);
}

/**
 * The scheme for an OSV ecosystem name. OSV ecosystems may carry a release suffix ("Debian:12",
 * "Ubuntu:22.04:LTS", "Alpine:v3.20", "Red Hat:enterprise_linux:9::appstream"); the part before the first
 * colon decides.
 */
const ECOSYSTEM_SCHEMES: Record<string, SchemeName> = {
  Debian: 'dpkg',
  Ubuntu: 'dpkg',
  Alpine: 'apk',
  Wolfi: 'apk',
  Chainguard: 'apk',
  'Red Hat': 'rpm',
  'Rocky Linux': 'rpm',
  AlmaLinux: 'rpm',
  openSUSE: 'rpm',
  SUSE: 'rpm',
  Mageia: 'rpm',
  openEuler: 'rpm',
  'Amazon Linux': 'rpm',
  'Oracle Linux': 'rpm',
  CentOS: 'rpm',
  Fedora: 'rpm',
  npm: 'semver',
  'crates.io': 'semver',
  Go: 'go',
  PyPI: 'pep440',
  Maven: 'maven',
  RubyGems: 'rubygems',
  NuGet: 'nuget',
  Packagist: 'composer',
};

export function schemeForEcosystem(ecosystem: string): VersionScheme | undefined {
  const base = ecosystem.split(':', 1)[0] ?? ecosystem;
  const name = ECOSYSTEM_SCHEMES[base];
  return name ? SCHEMES[name] : undefined;
}
