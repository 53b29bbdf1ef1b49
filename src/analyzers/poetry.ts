import { type LangEntry, PackageSet } from './lang/packages.js';
import { basename, readText } from './lang/text.js';
import { parseToml, TomlError, type TomlTable, type TomlValue } from './lang/toml.js';
import type { Analyzer } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { type BoundedWarn, boundedWarn } from './warn.js';

const MiB = 1024 * 1024;

function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * poetry.lock: one `[[package]]` per locked release. Development-only packages are marked by
 * `category = "dev"` (lock format 1.x) or by `groups` not containing "main" (lock format 2.x, Poetry 2).
 * Which packages the project declares directly is in pyproject.toml, not here.
 */
export function parsePoetryLock(text: string, path: string, warn: BoundedWarn): PackageSet {
  const set = new PackageSet('python', path, 'lockfile');
  let doc: TomlTable;
  try {
    doc = parseToml(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    warn(`invalid TOML: ${err.message}`);
    return set;
  }
  const list = doc.package;
  if (list === undefined) return set;
  if (!Array.isArray(list)) {
    warn('"package" is not an array of tables');
    return set;
  }
  for (const [i, p] of list.entries()) {
    if (!isTable(p) || typeof p.name !== 'string' || typeof p.version !== 'string' || !p.name || !p.version) {
      warn(`package #${i + 1} has no name or version`);
      continue;
    }
    const entry: LangEntry = { name: p.name, version: p.version };
    if (typeof p.category === 'string') entry.dev = p.category === 'dev';
    else if (Array.isArray(p.groups)) entry.dev = !p.groups.includes('main');
    if (p.optional === true) entry.extra = { optional: true };
    set.add(entry);
  }
  return set;
}

/** Poetry's lockfile. */
export const poetry = {
  name: 'poetry',
  version: ANALYZER_VERSIONS['poetry'],
  maxSize: 128 * MiB,
  wants: (path: string) => path.endsWith('poetry.lock') && basename(path) === 'poetry.lock',
  analyze(file, ctx) {
    const warn = boundedWarn(ctx);
    const set = parsePoetryLock(readText(file), file.path, warn);
    warn.flush();
    return { packages: set.list() };
  },
} satisfies Analyzer;
