/**
 * Small analyzers for the pipeline tests (the real ones live in src/analyzers and are tested there):
 * a minimal dpkg status reader, an os-release reader and a "database" that only exists under one path.
 */
import { readFileSync } from 'node:fs';
import type { Analyzer, FileInput, OsHint } from '../../src/analyzers/types.js';
import type { Package } from '../../src/model/package.js';

export function content(f: FileInput): string {
  return (f.data ?? readFileSync(f.spoolPath!)).toString('utf8');
}

/** Package/Version/Architecture of each stanza, skipping packages that are not installed. */
export function parseStatus(text: string, path: string): Package[] {
  const out: Package[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(stanza)?.[1]?.trim();
    const name = field('Package');
    const version = field('Version');
    const status = field('Status');
    if (!name || !version || (status && !status.endsWith(' installed'))) continue;
    const p: Package = { type: 'dpkg', name, version, path };
    const arch = field('Architecture');
    if (arch) p.arch = arch;
    out.push(p);
  }
  return out;
}

export const dpkgLike: Analyzer = {
  name: 'dpkg-test',
  version: 1,
  maxSize: 64 * 1024 * 1024,
  wants: (p) =>
    p === 'var/lib/dpkg/status' ||
    (p.startsWith('var/lib/dpkg/status.d/') && !p.endsWith('.md5sums') && p.indexOf('/', 22) < 0),
  analyze: (f) => ({ packages: parseStatus(content(f), f.path) }),
};

export const osLike: Analyzer = {
  name: 'os-test',
  version: 1,
  maxSize: 1024 * 1024,
  wants: (p) => p === 'etc/os-release' || p === 'usr/lib/os-release',
  analyze: (f): { os?: OsHint } => {
    const text = content(f);
    const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1];
    const id = get('ID');
    if (!id) return {};
    return {
      os: {
        priority: f.path === 'etc/os-release' ? 0 : 1,
        os: { family: id, name: get('PRETTY_NAME') ?? id, version: get('VERSION_ID') ?? '', source: f.path },
      },
    };
  },
};

/** wants only var/lib/rpm/Packages: in the test images the file lives elsewhere behind a symlink */
export const rpmLike: Analyzer = {
  name: 'rpm-test',
  version: 1,
  maxSize: 1024 * 1024,
  wants: (p) => p === 'var/lib/rpm/Packages',
  analyze: (f) => ({
    packages: content(f)
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => {
        const [name, version] = l.split('=') as [string, string];
        return { type: 'rpm', name, version, path: f.path } satisfies Package;
      }),
  }),
};

export const TEST_ANALYZERS: readonly Analyzer[] = [dpkgLike, osLike, rpmLike];

/** a dpkg status file for the given name=version pairs */
export function status(...pkgs: string[]): string {
  return pkgs
    .map((p) => {
      const [name, version] = p.split('=');
      return `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n`;
    })
    .join('\n');
}
