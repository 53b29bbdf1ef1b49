import { PackageSet } from './lang/packages.js';
import { basename, isObject, parseJson, readText } from './lang/text.js';
import type { Analyzer } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { type BoundedWarn, boundedWarn } from './warn.js';

const MiB = 1024 * 1024;

/**
 * Pipfile.lock (JSON): `default` holds the packages an install puts in place, `develop` those of
 * `pipenv install --dev`; each entry's `version` is a pin (`==1.2.3`). Entries installed from git or a
 * path have no version and are not releases.
 */
export function parsePipfileLock(text: string, path: string, warn: BoundedWarn): PackageSet {
  const set = new PackageSet('python', path, 'lockfile');
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
  for (const section of ['default', 'develop'] as const) {
    const deps = lock[section];
    if (deps === undefined) continue;
    if (!isObject(deps)) {
      warn(`"${section}" is not an object`);
      continue;
    }
    for (const [name, e] of Object.entries(deps)) {
      if (!isObject(e)) {
        warn(`${section} entry ${name} is not an object`);
        continue;
      }
      if (e.version === undefined) continue;
      if (typeof e.version !== 'string' || !e.version.startsWith('==')) {
        warn(`${section} entry ${name} has an unpinned version`);
        continue;
      }
      // `===` is PEP 440's arbitrary equality; both pin one release
      const version = e.version.replace(/^={2,3}/, '').trim();
      if (version !== '') set.add({ name, version, dev: section === 'develop' });
    }
  }
  return set;
}

/** Pipenv's lockfile. */
export const pipenv = {
  name: 'pipenv',
  version: ANALYZER_VERSIONS['pipenv'],
  maxSize: 128 * MiB,
  wants: (path: string) => path.endsWith('Pipfile.lock') && basename(path) === 'Pipfile.lock',
  analyze(file, ctx) {
    const warn = boundedWarn(ctx);
    const set = parsePipfileLock(readText(file), file.path, warn);
    warn.flush();
    return { packages: set.list() };
  },
} satisfies Analyzer;
