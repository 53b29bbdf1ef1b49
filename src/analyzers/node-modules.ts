import type { Package } from '../model/package.js';
import { npmLicense } from './lang/npm.js';
import { isObject, parseJson, readText, str } from './lang/text.js';
import type { Analyzer } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';

const MiB = 1024 * 1024;

/**
 * Whether `path` is the manifest of an installed package: `node_modules/<name>/package.json` or
 * `node_modules/@scope/<name>/package.json`, at any depth. Other package.json files (the project's own, or
 * the `{"type": "module"}` markers packages keep in subfolders) are not packages.
 */
export function isInstalledManifest(path: string): boolean {
  if (!path.endsWith('/package.json')) return false;
  const end = path.length - '/package.json'.length;
  let dir = path.lastIndexOf('/', end - 1);
  // a package folder name never starts with "." (node_modules/.bin, .cache, .pnpm's store layout aside)
  if (path.charCodeAt(dir + 1) === 0x2e) return false;
  if (path.charCodeAt(dir + 1) === 0x40 /* @ */) return false;
  if (dir > 0) {
    const parent = path.lastIndexOf('/', dir - 1);
    if (path.charCodeAt(parent + 1) === 0x40 /* @scope */) dir = parent;
  }
  const nm = dir - 'node_modules'.length;
  return nm >= 0 && path.startsWith('node_modules', nm) && (nm === 0 || path.charCodeAt(nm - 1) === 0x2f);
}

/** The package a node_modules package.json describes, or a reason it describes none. */
export function parseInstalledManifest(text: string, path: string): Package | string | undefined {
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed.reason;
  const m = parsed.value;
  if (!isObject(m)) return 'not a JSON object';
  const name = str(m.name);
  const version = str(m.version);
  // folders without both (a package's own fixtures, half-removed installs) are not installed releases
  if (name === undefined || version === undefined) return undefined;
  const pkg: Package = { type: 'npm', name, version, path, foundBy: 'installed' };
  const license = npmLicense(m.license, m.licenses);
  if (license) pkg.license = license;
  return pkg;
}

/** npm packages installed in `node_modules` folders, read from each package's own package.json. */
export const nodeModules = {
  name: 'node-modules',
  version: ANALYZER_VERSIONS['node-modules'],
  maxSize: 16 * MiB,
  wants: isInstalledManifest,
  analyze(file, ctx) {
    const r = parseInstalledManifest(readText(file), file.path);
    if (typeof r === 'string') {
      ctx.warn(r);
      return { packages: [] };
    }
    return { packages: r ? [r] : [] };
  },
} satisfies Analyzer;
