import { nameFromNodeModulesPath, npmLicense, splitAt } from './lang/npm.js';
import { type LangEntry, PackageSet } from './lang/packages.js';
import { basename, isObject, type JsonObject, parseJson, readText, str, underDir } from './lang/text.js';
import type { Analyzer } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { type BoundedWarn, boundedWarn } from './warn.js';

const MiB = 1024 * 1024;
/** v1 nests `dependencies` one level per node_modules level; real trees stay far below this */
const MAX_V1_DEPTH = 1000;

/**
 * Packages of a `package-lock.json` or `npm-shrinkwrap.json`
 * (https://docs.npmjs.com/cli/v10/configuring-npm/package-lock-json). Lockfile v2 and v3 list every
 * installed folder under `packages`, keyed by its path (`node_modules/a/node_modules/b`); v1 (npm 5-6) nests
 * `dependencies` objects instead and cannot tell direct dependencies apart.
 */
export function parseNpmLock(text: string, path: string, warn: BoundedWarn): PackageSet | undefined {
  const parsed = parseJson(text);
  if (!parsed.ok) {
    warn(parsed.reason);
    return undefined;
  }
  const lock = parsed.value;
  if (!isObject(lock)) {
    warn('not a JSON object');
    return undefined;
  }
  const set = new PackageSet('npm', path, 'lockfile');
  const version = lock.lockfileVersion;
  if (isObject(lock.packages) && version !== 1) parsePackages(lock.packages, set, warn);
  else if (isObject(lock.dependencies)) parseV1(lock.dependencies, set, warn);
  else if (lock.packages !== undefined || lock.dependencies !== undefined)
    warn('"packages" and "dependencies" are not objects');
  return set;
}

/** v2/v3: the `packages` map. The root entry ("") is the project itself, not a dependency. */
function parsePackages(packages: JsonObject, set: PackageSet, warn: BoundedWarn): void {
  const root = isObject(packages['']) ? packages[''] : {};
  // Links (`link: true`, npm 7+ workspaces and `file:` folders) point at a folder elsewhere in the map; the
  // folder's entry and everything under it are installed as if they sat at the link's node_modules path.
  const links = new Map<string, string>();
  for (const [key, e] of Object.entries(packages)) {
    if (!isObject(e) || e.link !== true) continue;
    const target = str(e.resolved);
    if (target === undefined) {
      warn(`link ${key} has no "resolved" target; skipped`);
      continue;
    }
    links.set(target, key);
  }
  const workspaces = workspacePatterns(root.workspaces);
  const rootDeps = new Set<string>();
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
    const deps = root[field];
    if (isObject(deps)) for (const name of Object.keys(deps)) rootDeps.add(`node_modules/${name}`);
  }

  for (const [key, e] of Object.entries(packages)) {
    if (key === '') continue;
    if (!isObject(e)) {
      warn(`entry ${key} is not an object`);
      continue;
    }
    if (e.link === true) continue;
    let installedAt = key;
    let workspace = false;
    if (!key.startsWith('node_modules/')) {
      const link = linkFor(key, links);
      if (link) {
        installedAt = link.key + key.slice(link.target.length);
        workspace = link.target === key && workspaces.some((w) => w.test(key));
      } else if (!key.includes('/node_modules/')) {
        // a folder of the project that nothing links to (a workspace whose link was not written)
        continue;
      }
    }
    const name = str(e.name) ?? nameFromNodeModulesPath(installedAt);
    if (name === undefined) {
      warn(`entry ${key} has no package name`);
      continue;
    }
    if (e.version !== undefined && typeof e.version !== 'string') {
      warn(`entry ${key} has a non-string version`);
      continue;
    }
    const entry: LangEntry = {
      name,
      version: e.version ?? '',
      dev: e.dev === true,
      // a workspace counts as a direct dependency of the root project, as npm's own tree shows it
      direct: workspace || rootDeps.has(installedAt),
      license: npmLicense(e.license, e.licenses),
    };
    const extra = flags(e);
    if (extra) entry.extra = extra;
    set.add(entry);
  }
}

/** The link whose target folder is `key` or contains it (the deepest one when targets nest). */
function linkFor(key: string, links: Map<string, string>): { key: string; target: string } | undefined {
  if (links.size === 0) return undefined;
  let end = key.length;
  while (end > 0) {
    const target = key.slice(0, end);
    const link = links.get(target);
    if (link !== undefined) return { key: link, target };
    end = key.lastIndexOf('/', end - 1);
  }
  return undefined;
}

/** Root `workspaces` (an array, or `{ packages: [...] }` as yarn writes it) as path matchers. */
function workspacePatterns(v: unknown): RegExp[] {
  const list = Array.isArray(v) ? v : isObject(v) && Array.isArray(v.packages) ? v.packages : [];
  const out: RegExp[] = [];
  for (const p of list) {
    if (typeof p !== 'string' || p === '' || p.length > 1000) continue;
    // glob as Go's path.Match reads it: `*` and `?` stay inside one path segment
    const re = p
      .replace(/^\.\//, '')
      .replace(/\/+$/, '')
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*/g, '\u0000')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')
      .replace(/\u0000/g, '.*');
    out.push(new RegExp(`^${re}$`));
  }
  return out;
}

function flags(e: JsonObject): LangEntry['extra'] | undefined {
  const extra: NonNullable<LangEntry['extra']> = {};
  for (const f of ['optional', 'peer', 'devOptional', 'inBundle'] as const)
    if (e[f] === true) extra[f] = true;
  // v1 says `bundled` where v2 says `inBundle`
  if (e.bundled === true) extra.inBundle = true;
  return Object.keys(extra).length > 0 ? extra : undefined;
}

/** v1: nested `dependencies` objects keyed by package name; walked without recursion. */
function parseV1(deps: JsonObject, set: PackageSet, warn: BoundedWarn): void {
  const stack: { deps: JsonObject; depth: number }[] = [{ deps, depth: 0 }];
  while (stack.length > 0) {
    const { deps: level, depth } = stack.pop()!;
    for (const [key, e] of Object.entries(level)) {
      if (!isObject(e)) {
        warn(`dependency ${key} is not an object`);
        continue;
      }
      if (typeof e.version !== 'string') {
        warn(`dependency ${key} has no version`);
        continue;
      }
      let name = key;
      let version = e.version;
      // an alias (`"lodash": { "version": "npm:lodash-es@4.17.21" }`) installs another package under this name
      if (version.startsWith('npm:')) {
        const alias = splitAt(version.slice(4));
        if (alias) {
          name = alias.name;
          version = alias.rest;
        }
      }
      const entry: LangEntry = { name, version, dev: e.dev === true };
      const extra = flags(e);
      if (extra) entry.extra = extra;
      set.add(entry);
      if (isObject(e.dependencies)) {
        if (depth + 1 >= MAX_V1_DEPTH)
          warn(`dependencies nested deeper than ${MAX_V1_DEPTH} levels; not read`);
        else stack.push({ deps: e.dependencies, depth: depth + 1 });
      }
    }
  }
}

/** npm lockfiles: `package-lock.json` and `npm-shrinkwrap.json` of a project (not those shipped in node_modules). */
export const npmLock = {
  name: 'npm-lock',
  version: ANALYZER_VERSIONS['npm-lock'],
  maxSize: 128 * MiB,
  wants(path: string) {
    if (!path.endsWith('package-lock.json') && !path.endsWith('npm-shrinkwrap.json')) return false;
    const base = basename(path);
    return (
      (base === 'package-lock.json' || base === 'npm-shrinkwrap.json') && !underDir(path, 'node_modules')
    );
  },
  analyze(file, ctx) {
    const warn = boundedWarn(ctx);
    const set = parseNpmLock(readText(file), file.path, warn);
    warn.flush();
    return { packages: set ? set.list() : [] };
  },
} satisfies Analyzer;
