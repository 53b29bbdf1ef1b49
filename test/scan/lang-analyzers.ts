/**
 * Small language analyzers for the pipeline tests (the real ones live in src/analyzers and are tested
 * there): a lockfile of `name=version` lines, installed `node_modules/<name>/package.json` files, Python
 * `*.egg-info/PKG-INFO` metadata, and "binaries" picked by mode and size as binary analyzers pick them,
 * whose content is `BIN name=version ...`.
 */
import type { Analyzer } from '../../src/analyzers/types.js';
import type { Package } from '../../src/model/package.js';
import { content } from './test-analyzers.js';

export const lockLike: Analyzer = {
  name: 'lock-test',
  version: 1,
  maxSize: 1024 * 1024,
  wants: (p) => p === 'test.lock' || p.endsWith('/test.lock'),
  analyze: (f) => ({
    packages: content(f)
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => {
        const [name, version, dev] = l.split(/[= ]/) as [string, string, string?];
        const p: Package = { type: 'npm', name, version, path: f.path, foundBy: 'lockfile' };
        if (dev !== undefined) p.dev = dev === 'dev';
        p.direct = true;
        return p;
      }),
  }),
};

export const installedLike: Analyzer = {
  name: 'installed-test',
  version: 1,
  maxSize: 1024 * 1024,
  wants: (p) => /(^|\/)node_modules\/[^/]+\/package\.json$/.test(p),
  analyze: (f) => {
    const j = JSON.parse(content(f)) as { name: string; version: string };
    return {
      packages: [{ type: 'npm', name: j.name, version: j.version, path: f.path, foundBy: 'installed' }],
    };
  },
};

export const pyLike: Analyzer = {
  name: 'py-test',
  version: 1,
  maxSize: 1024 * 1024,
  // a single-file egg-info (distutils' form) is PKG-INFO under another name
  wants: (p) =>
    p.endsWith('.egg-info/PKG-INFO') || p.endsWith('.dist-info/METADATA') || p.endsWith('.egg-info'),
  analyze: (f) => {
    const text = content(f);
    const name = /^Name: (.*)$/m.exec(text)?.[1];
    const version = /^Version: (.*)$/m.exec(text)?.[1];
    if (!name || !version) return {};
    return { packages: [{ type: 'python', name, version, path: f.path, foundBy: 'installed' }] };
  },
};

/** smallest "binary" the test analyzer takes, as real binary analyzers skip tiny executables */
export const BIN_MIN = 8;

export const binLike: Analyzer = {
  name: 'bin-test',
  version: 1,
  maxSize: 1024 * 1024,
  wants: (_p, meta) => meta !== undefined && meta.size >= BIN_MIN && (meta.mode & 0o111) !== 0,
  analyze: (f) => {
    const text = content(f);
    if (!text.startsWith('BIN ')) return {};
    return {
      packages: text
        .slice(4)
        .trim()
        .split(/\s+/)
        .map((nv) => {
          const [name, version] = nv.split('=') as [string, string];
          return { type: 'go', name, version, path: f.path, foundBy: 'binary' } satisfies Package;
        }),
    };
  },
};

/** wants executables only under opt/app/bin/: files reached there through a symlinked directory */
export const appBinLike: Analyzer = {
  ...binLike,
  name: 'appbin-test',
  wants: (p, meta) => p.startsWith('opt/app/bin/') && binLike.wants(p, meta),
};

/** a PKG-INFO body */
export const pkgInfo = (name: string, version: string): string =>
  `Metadata-Version: 1.2\nName: ${name}\nVersion: ${version}\n`;

/** a node_modules package.json body */
export const packageJson = (name: string, version: string): string => JSON.stringify({ name, version });
