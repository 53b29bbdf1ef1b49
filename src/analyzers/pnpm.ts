import { isSemver, splitAt } from './lang/npm.js';
import { type LangEntry, PackageSet } from './lang/packages.js';
import { basename, oneLine, readText, underDir } from './lang/text.js';
import { parseYamlLite, YamlLiteUnsupported, type YamlMap, type YamlValue } from './lang/yaml-lite.js';
import type { Analyzer } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { type BoundedWarn, boundedWarn } from './warn.js';

const MiB = 1024 * 1024;
/** the general YAML parser takes seconds per megabyte on lockfile-shaped input: only small files go to it */
const FULL_YAML_MAX = 2 * MiB;

function isMap(v: YamlValue | undefined): v is YamlMap {
  return v instanceof Map;
}

function text(v: YamlValue | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** flow-style fields of pnpm's package entries that moat does not read */
const UNREAD = new Set(['resolution', 'engines', 'os', 'cpu', 'libc', 'peerDependenciesMeta', 'bin']);

/**
 * The documents of a YAML file, by the fast subset reader or, for other YAML, the full parser (loaded only
 * then: start-up time counts for every scan, and yaml is CommonJS, its exports on the default export).
 */
export async function readYamlDocuments(src: string, warn: BoundedWarn): Promise<YamlValue[] | undefined> {
  try {
    return parseYamlLite(src, { rawFlowKeys: UNREAD });
  } catch (err) {
    if (!(err instanceof YamlLiteUnsupported)) throw err;
    if (src.length > FULL_YAML_MAX) {
      warn(
        `YAML outside the lockfile subset (${err.message}) in a file over ${FULL_YAML_MAX} bytes; not read`,
      );
      return undefined;
    }
  }
  const { parseAllDocuments } = (await import('yaml')).default;
  const docs = parseAllDocuments(src, { schema: 'failsafe', uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: YamlValue[] = [];
  for (const d of list) {
    if (d.errors.length > 0) {
      warn(`invalid YAML: ${oneLine(d.errors[0]!.message)}`);
      return undefined;
    }
    out.push(d.toJS({ mapAsMap: true, maxAliasCount: 100 }) as YamlValue);
  }
  return out;
}

const DEP_FIELDS = ['dependencies', 'optionalDependencies', 'devDependencies'] as const;

/** An importer's dependency reference: v5 writes the version string, v6+ `{ specifier, version }`. */
function refOf(v: YamlValue | undefined): string | undefined {
  return isMap(v) ? text(v.get('version')) : text(v);
}

/**
 * Name and version from a dependency path, the key of `packages`/`snapshots`
 * (https://github.com/pnpm/spec/blob/master/dependency-path.md): v5 `/@scope/name/1.0.0_peer@2`, v6
 * `/@scope/name@1.0.0(peer@2)`, v9 `@scope/name@1.0.0(peer@2)`; v5 and v6 may prefix a registry host.
 * Tarball and directory keys (`name@https://...`, `name@file:dir`) carry no version.
 */
export function parseDepPath(
  key: string,
  lockVersion: number,
): { name: string; version: string } | undefined {
  let path = key;
  if (lockVersion < 9) {
    const slash = path.indexOf('/');
    if (slash < 0) return undefined;
    path = path.slice(slash + 1);
  }
  let name: string;
  let version: string;
  if (lockVersion < 6) {
    let scope = '';
    if (path.startsWith('@')) {
      const s = path.indexOf('/');
      if (s < 0) return undefined;
      scope = path.slice(0, s + 1);
      path = path.slice(s + 1);
    }
    const s = path.indexOf('/');
    if (s < 0) return undefined;
    name = scope + path.slice(0, s);
    version = path.slice(s + 1);
  } else {
    const at = splitAt(path);
    if (!at) return undefined;
    name = at.name;
    version = at.rest;
  }
  const peers = version.search(/[_(]/);
  if (peers >= 0) version = version.slice(0, peers);
  return { name, version: isSemver(version) ? version : '' };
}

/** The key a dependency reference points at, among `keys` (packages or snapshots). */
function resolve(name: string, ref: string, lockVersion: number, keys: YamlMap): string | undefined {
  if (ref.startsWith('link:')) return undefined;
  const candidates =
    lockVersion >= 9
      ? [`${name}@${ref}`, ref]
      : lockVersion >= 6
        ? [`/${name}@${ref}`, ref, `/${ref}`]
        : [`/${name}/${ref}`, ref, `/${ref}`];
  for (const c of candidates) if (keys.has(c)) return c;
  return undefined;
}

/** pnpm 11 puts its own "env" lockfile (pnpm and config dependencies) first in a multi-document file. */
function isEnvDocument(doc: YamlMap): boolean {
  const importers = doc.get('importers');
  if (!isMap(importers)) return false;
  let env = false;
  for (const imp of importers.values()) {
    if (!isMap(imp)) continue;
    if (DEP_FIELDS.some((f) => imp.has(f))) return false;
    env ||= imp.has('packageManagerDependencies') || imp.has('configDependencies');
  }
  return env;
}

export async function parsePnpmLock(src: string, path: string, warn: BoundedWarn): Promise<PackageSet> {
  const set = new PackageSet('npm', path, 'lockfile');
  const docs = await readYamlDocuments(src, warn);
  if (!docs) return set;
  let read = 0;
  for (const doc of docs) {
    if (doc === null) continue;
    if (!isMap(doc)) {
      warn('a document is not a mapping');
      continue;
    }
    if (isEnvDocument(doc)) continue;
    const lockVersion = Number.parseFloat(text(doc.get('lockfileVersion')) ?? '');
    if (!Number.isFinite(lockVersion)) {
      warn('no lockfileVersion');
      continue;
    }
    parseDocument(doc, lockVersion, set, warn);
    read++;
  }
  if (read === 0 && docs.some((d) => d !== null)) warn('no pnpm lockfile document found');
  return set;
}

function parseDocument(doc: YamlMap, lockVersion: number, set: PackageSet, warn: BoundedWarn): void {
  const p = doc.get('packages');
  const packages: YamlMap = isMap(p) ? p : new Map();
  // v9 splits packages (metadata per release) from snapshots (one per resolved peer set, with dependencies)
  const snapshots = doc.get('snapshots');
  const nodes = lockVersion >= 9 && isMap(snapshots) ? snapshots : packages;
  const imps = doc.get('importers');
  // v5/v6 without workspaces: the root importer's fields sit at the top level
  const importers: YamlMap[] = isMap(imps) ? [...imps.values()].filter(isMap) : [doc];

  const direct = new Set<string>();
  const prodRoots: string[] = [];
  const devRoots: string[] = [];
  for (const imp of importers) {
    for (const field of DEP_FIELDS) {
      const deps = imp.get(field);
      if (!isMap(deps)) continue;
      for (const [name, v] of deps) {
        const ref = refOf(v);
        const key = ref === undefined ? undefined : resolve(name, ref, lockVersion, nodes);
        if (key === undefined) continue;
        direct.add(key);
        (field === 'devDependencies' ? devRoots : prodRoots).push(key);
      }
    }
  }
  // v5/v6 mark each package `dev: true|false` (absent: both); v9 does not, so walk from the importers
  let devOnly: Set<string> | undefined;
  if (lockVersion >= 9)
    devOnly = reachable(devRoots, nodes, lockVersion, reachable(prodRoots, nodes, lockVersion));

  for (const [key, node] of nodes) {
    // `name@1.0.0: {}` and an entry with no fields at all (`""`) are both empty
    if (!isMap(node) && node !== '' && node !== null) {
      warn(`package ${key} is not a mapping`);
      continue;
    }
    const meta = packages.get(nodes === packages ? key : stripPeers(key));
    const info = isMap(meta) ? meta : isMap(node) ? node : undefined;
    const parsed = parseDepPath(key, lockVersion);
    const name = text(info?.get('name')) ?? parsed?.name;
    if (!name) {
      warn(`package ${key}: no name`);
      continue;
    }
    const entry: LangEntry = {
      name,
      version: text(info?.get('version')) ?? parsed?.version ?? '',
      direct: direct.has(key),
      dev: devOnly ? devOnly.has(key) : text(info?.get('dev')) === 'true',
    };
    if (text(info?.get('optional')) === 'true' || (isMap(node) && text(node.get('optional')) === 'true'))
      entry.extra = { optional: true };
    set.add(entry);
  }
}

function stripPeers(key: string): string {
  const i = key.indexOf('(');
  return i > 0 ? key.slice(0, i) : key;
}

/** Keys reachable from `roots` through the nodes' dependencies (a worklist: lockfiles have cycles). */
function reachable(roots: string[], nodes: YamlMap, lockVersion: number, stop?: Set<string>): Set<string> {
  const seen = new Set<string>();
  const work = roots.filter((r) => !stop?.has(r));
  while (work.length > 0) {
    const key = work.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const node = nodes.get(key);
    if (!isMap(node)) continue;
    for (const field of ['dependencies', 'optionalDependencies'] as const) {
      const deps = node.get(field);
      if (!isMap(deps)) continue;
      for (const [name, v] of deps) {
        const ref = text(v);
        const dep = ref === undefined ? undefined : resolve(name, ref, lockVersion, nodes);
        if (dep !== undefined && !seen.has(dep) && !stop?.has(dep)) work.push(dep);
      }
    }
  }
  return seen;
}

/** pnpm-lock.yaml, lockfile versions 5.x, 6.x and 9.x. */
export const pnpm = {
  name: 'pnpm',
  version: ANALYZER_VERSIONS['pnpm'],
  maxSize: 128 * MiB,
  wants: (path: string) =>
    path.endsWith('pnpm-lock.yaml') && basename(path) === 'pnpm-lock.yaml' && !underDir(path, 'node_modules'),
  async analyze(file, ctx) {
    const warn = boundedWarn(ctx);
    const set = await parsePnpmLock(readText(file), file.path, warn);
    warn.flush();
    return { packages: set.list() };
  },
} satisfies Analyzer;
