import { log } from '../log.js';
import { splitAt } from './lang/npm.js';
import { PackageSet } from './lang/packages.js';
import { basename, readText, underDir } from './lang/text.js';
import type { Analyzer } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { type BoundedWarn, boundedWarn } from './warn.js';

const MiB = 1024 * 1024;

/** One entry of a yarn.lock: the descriptors it resolves, its scalar fields and its dependency list. */
export interface YarnEntry {
  /** `name@range` descriptors as written in the entry's key, quotes removed */
  descriptors: string[];
  fields: Map<string, string>;
  dependencies: [name: string, range: string][];
  line: number;
}

export interface YarnLock {
  /** berry (yarn 2+) writes a `__metadata` entry; classic (yarn 1) does not */
  berry: boolean;
  entries: YarnEntry[];
}

/**
 * Reads both yarn.lock dialects line by line: classic (yarn 1's own format: `version "1.2.3"`, keys listing
 * several `name@range` descriptors) and berry (a YAML subset: `version: 1.2.3`, `resolution:`, one quoted
 * key holding all descriptors). npm can write the classic dialect with quoted field names too.
 */
export function readYarnLock(text: string, warn: BoundedWarn): YarnLock {
  const lock: YarnLock = { berry: false, entries: [] };
  let cur: YarnEntry | undefined;
  let section: string | undefined;
  let lineNo = 0;
  let pos = 0;
  while (pos <= text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    let line = text.slice(pos, end);
    pos = end + 1;
    lineNo++;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    let indent = 0;
    while (indent < line.length && line.charCodeAt(indent) === 0x20) indent++;
    if (indent === line.length || line.charCodeAt(indent) === 0x23 /* # */) continue;
    const content = line.slice(indent);
    if (indent === 0) {
      section = undefined;
      if (!content.endsWith(':')) {
        warn(`line ${lineNo}: expected "<descriptors>:", found ${JSON.stringify(content.slice(0, 80))}`);
        cur = undefined;
        continue;
      }
      const key = content.slice(0, -1);
      if (key === '__metadata' || key === '"__metadata"') {
        lock.berry = true;
        cur = undefined;
        continue;
      }
      const descriptors = key
        .split(',')
        .map((d) => stripQuotes(d.trim()))
        .filter((d) => d !== '');
      cur = { descriptors, fields: new Map(), dependencies: [], line: lineNo };
      lock.entries.push(cur);
      continue;
    }
    if (!cur) continue;
    const kv = keyValue(content);
    if (!kv) continue;
    if (indent <= 2) {
      if (kv.value === '') section = kv.key;
      else {
        cur.fields.set(kv.key, kv.value);
        section = undefined;
      }
    } else if (indent <= 4 && (section === 'dependencies' || section === 'optionalDependencies')) {
      cur.dependencies.push([kv.key, kv.value]);
    }
  }
  return lock;
}

/** `key value`, `key: value`, `"key" "value"` or `"key": value`; an empty value opens a nested block. */
function keyValue(content: string): { key: string; value: string } | undefined {
  let key: string;
  let rest: string;
  if (content.charCodeAt(0) === 0x22 /* " */) {
    const close = content.indexOf('"', 1);
    if (close < 0) return undefined;
    key = content.slice(1, close);
    rest = content.slice(close + 1);
  } else {
    let i = 0;
    while (i < content.length) {
      const c = content.charCodeAt(i);
      if (
        c === 0x20 ||
        (c === 0x3a /* : */ && (i + 1 === content.length || content.charCodeAt(i + 1) === 0x20))
      )
        break;
      i++;
    }
    key = content.slice(0, i);
    rest = content.slice(i);
  }
  if (rest.startsWith(':')) rest = rest.slice(1);
  return { key, value: stripQuotes(rest.trim()) };
}

function stripQuotes(s: string): string {
  let a = 0;
  let b = s.length;
  if (s.charCodeAt(0) === 0x22) a++;
  if (b > a && s.charCodeAt(b - 1) === 0x22) b--;
  return s.slice(a, b);
}

interface Descriptor {
  name: string;
  /** text before the first `:` of the range (`npm`, `workspace`, `patch`, `git+https`, ...), or "" */
  protocol: string;
  range: string;
}

/** `name@[protocol:]range` as yarn writes descriptors and resolutions. */
export function parseDescriptor(d: string): Descriptor | undefined {
  const s = splitAt(d);
  if (!s || s.name.includes(' ')) return undefined;
  const colon = s.rest.indexOf(':');
  // a protocol is a word before the first colon; "^1 || ^2" and "user/repo#tag" have none
  if (colon > 0 && /^[a-z][a-z0-9+.-]*$/i.test(s.rest.slice(0, colon)))
    return { name: s.name, protocol: s.rest.slice(0, colon), range: s.rest.slice(colon + 1) };
  return { name: s.name, protocol: '', range: s.rest };
}

/** The installed package's name when a descriptor is an npm alias (`foo@npm:bar@^1`), else undefined. */
function aliasTarget(d: Descriptor): string | undefined {
  if (d.protocol !== 'npm') return undefined;
  return splitAt(d.range)?.name;
}

export function parseYarnLock(text: string, path: string, warn: BoundedWarn): PackageSet {
  const lock = readYarnLock(text, warn);
  const set = new PackageSet('npm', path, 'lockfile');
  const byDescriptor = new Map<string, YarnEntry>();
  const direct = new Set<YarnEntry>();
  if (lock.berry) {
    for (const e of lock.entries) for (const d of e.descriptors) byDescriptor.set(d, e);
    // the lock's workspace entries list what the project's package.json files declare
    for (const e of lock.entries) {
      if (parseDescriptor(e.fields.get('resolution') ?? e.descriptors[0] ?? '')?.protocol !== 'workspace')
        continue;
      for (const [name, range] of e.dependencies) {
        const dep = byDescriptor.get(`${name}@${range}`) ?? byDescriptor.get(`${name}@npm:${range}`);
        if (dep) direct.add(dep);
      }
    }
  }
  const hasWorkspaces = direct.size > 0;

  for (const e of lock.entries) {
    const version = e.fields.get('version');
    if (version === undefined) {
      warn(`entry at line ${e.line} has no version`);
      continue;
    }
    const first = parseDescriptor(e.descriptors[0] ?? '');
    if (!first) {
      warn(`entry at line ${e.line} has no name@range key`);
      continue;
    }
    let name = first.name;
    if (lock.berry) {
      // berry: `resolution` names what was installed; only registry packages (npm:) are releases
      const res = parseDescriptor(e.fields.get('resolution') ?? '') ?? first;
      if (res.protocol !== 'npm') {
        skipped(e, res.protocol);
        continue;
      }
      name = aliasTarget(res) ?? res.name;
    } else {
      // classic: git, file, link and tarball URLs are not registry releases (yarn 1 keys carry the protocol)
      if (first.protocol !== '' && first.protocol !== 'npm') {
        skipped(e, first.protocol);
        continue;
      }
      for (const d of e.descriptors) {
        const p = parseDescriptor(d);
        const target = p && aliasTarget(p);
        if (target) {
          name = target;
          break;
        }
      }
    }
    set.add({ name, version, direct: hasWorkspaces ? direct.has(e) : undefined });
  }
  return set;
}

function skipped(e: YarnEntry, protocol: string): void {
  log.debug({ entry: e.descriptors[0], protocol }, 'yarn.lock entry is not a registry package');
}

/** yarn.lock of a project, classic (v1) or berry (v2+). */
export const yarn = {
  name: 'yarn',
  version: ANALYZER_VERSIONS['yarn'],
  maxSize: 128 * MiB,
  wants: (path: string) =>
    path.endsWith('yarn.lock') && basename(path) === 'yarn.lock' && !underDir(path, 'node_modules'),
  analyze(file, ctx) {
    const warn = boundedWarn(ctx);
    const set = parseYarnLock(readText(file), file.path, warn);
    warn.flush();
    return { packages: set.list() };
  },
} satisfies Analyzer;
