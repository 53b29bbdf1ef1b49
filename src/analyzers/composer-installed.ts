import { composerEntry } from './composer.js';
import { PackageSet } from './lang/packages.js';
import { isObject, parseJson, readText } from './lang/text.js';
import type { Analyzer } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { type BoundedWarn, boundedWarn } from './warn.js';

const MiB = 1024 * 1024;

/**
 * `vendor/composer/installed.json`, what Composer installed: an array of packages (Composer 1) or
 * `{ packages: [...], dev: bool, "dev-package-names": [...] }` (Composer 2), which names the dev ones.
 */
export function parseComposerInstalled(text: string, path: string, warn: BoundedWarn): PackageSet {
  const set = new PackageSet('composer', path, 'installed');
  const parsed = parseJson(text);
  if (!parsed.ok) {
    warn(parsed.reason);
    return set;
  }
  const doc = parsed.value;
  let list: unknown;
  let devNames: Set<string> | undefined;
  if (Array.isArray(doc)) list = doc;
  else if (isObject(doc)) {
    list = doc.packages;
    if (Array.isArray(doc['dev-package-names']))
      devNames = new Set(doc['dev-package-names'].filter((n): n is string => typeof n === 'string'));
  }
  if (!Array.isArray(list)) {
    warn('neither an array of packages nor an object with a "packages" array');
    return set;
  }
  for (const [i, p] of list.entries()) {
    const e = composerEntry(p, `packages[${i}]`, warn);
    if (!e) continue;
    if (devNames) e.dev = devNames.has(e.name);
    set.add(e);
  }
  return set;
}

/** Packages Composer installed into a vendor directory. */
export const composerInstalled = {
  name: 'composer-installed',
  version: ANALYZER_VERSIONS['composer-installed'],
  maxSize: 128 * MiB,
  wants: (path: string) =>
    path.endsWith('composer/installed.json') &&
    (path === 'composer/installed.json' || path.endsWith('/composer/installed.json')),
  analyze(file, ctx) {
    const warn = boundedWarn(ctx);
    const set = parseComposerInstalled(readText(file), file.path, warn);
    warn.flush();
    return { packages: set.list() };
  },
} satisfies Analyzer;
