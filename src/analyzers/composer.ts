import { type LangEntry, PackageSet } from './lang/packages.js';
import { basename, isObject, type JsonObject, parseJson, readText, str, underDir } from './lang/text.js';
import type { Analyzer } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { type BoundedWarn, boundedWarn } from './warn.js';

const MiB = 1024 * 1024;

/** One package object of composer.lock or installed.json (https://getcomposer.org/doc/04-schema.md). */
export function composerEntry(p: unknown, where: string, warn: BoundedWarn): LangEntry | undefined {
  if (!isObject(p)) {
    warn(`${where}: not an object`);
    return undefined;
  }
  const name = str(p.name);
  const version = str(p.version);
  if (name === undefined || version === undefined) {
    warn(`${where}: no name or version`);
    return undefined;
  }
  const entry: LangEntry = { name, version };
  const license = composerLicense(p);
  if (license) entry.license = license;
  return entry;
}

/** `license` is an array of SPDX identifiers (several meaning a choice), or a single string in old files. */
function composerLicense(p: JsonObject): string | undefined {
  if (typeof p.license === 'string') return p.license || undefined;
  if (!Array.isArray(p.license)) return undefined;
  const names = p.license.filter((l): l is string => typeof l === 'string' && l !== '');
  return names.length > 0 ? names.join(', ') : undefined;
}

/**
 * composer.lock: `packages` (what `composer install --no-dev` installs) and `packages-dev`. Which packages
 * the project requires directly is in composer.json, not here.
 */
export function parseComposerLock(text: string, path: string, warn: BoundedWarn): PackageSet {
  const set = new PackageSet('composer', path, 'lockfile');
  const parsed = parseJson(text);
  if (!parsed.ok) {
    warn(parsed.reason);
    return set;
  }
  const lock = parsed.value;
  if (!isObject(lock)) {
    warn('not a JSON object');
    return set;
  }
  for (const section of ['packages', 'packages-dev'] as const) {
    const list = lock[section];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      warn(`"${section}" is not an array`);
      continue;
    }
    for (const [i, p] of list.entries()) {
      const e = composerEntry(p, `${section}[${i}]`, warn);
      if (e) set.add({ ...e, dev: section === 'packages-dev' });
    }
  }
  return set;
}

/** Composer's lockfile of a project (not the ones shipped by packages under vendor/). */
export const composer = {
  name: 'composer',
  version: ANALYZER_VERSIONS['composer'],
  maxSize: 128 * MiB,
  wants: (path: string) =>
    path.endsWith('composer.lock') && basename(path) === 'composer.lock' && !underDir(path, 'vendor'),
  analyze(file, ctx) {
    const warn = boundedWarn(ctx);
    const set = parseComposerLock(readText(file), file.path, warn);
    warn.flush();
    return { packages: set.list() };
  },
} satisfies Analyzer;
