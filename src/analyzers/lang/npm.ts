import { isObject } from './text.js';

/**
 * The license of a package.json or lockfile entry: SPDX `license` string, the deprecated `{ type, url }`
 * object, or the legacy `licenses` array (of objects or strings), several licenses joined with ", "
 * (https://docs.npmjs.com/cli/v10/configuring-npm/package-json#license).
 */
export function npmLicense(license: unknown, licenses?: unknown): string | undefined {
  const one = licenseName(license);
  if (one) return one;
  const list = Array.isArray(license) ? license : Array.isArray(licenses) ? licenses : undefined;
  if (!list) return undefined;
  const names: string[] = [];
  for (const l of list) {
    const n = licenseName(l);
    if (n && !names.includes(n)) names.push(n);
  }
  return names.length > 0 ? names.join(', ') : undefined;
}

function licenseName(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() || undefined;
  if (isObject(v) && typeof v.type === 'string') return v.type.trim() || undefined;
  return undefined;
}

const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Whether `v` is a semver 2.0 version (what the npm registry publishes). */
export function isSemver(v: string): boolean {
  return v.length <= 256 && SEMVER.test(v);
}

/** Splits `name@rest` where a scoped name starts with `@`; undefined without a separator. */
export function splitAt(spec: string): { name: string; rest: string } | undefined {
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  if (at <= 0) return undefined;
  return { name: spec.slice(0, at), rest: spec.slice(at + 1) };
}

/** The package name at the end of a node_modules path (`a/node_modules/@s/b` → `@s/b`), or undefined. */
export function nameFromNodeModulesPath(path: string): string | undefined {
  const i = path.lastIndexOf('node_modules/');
  if (i < 0 || (i > 0 && path[i - 1] !== '/')) return undefined;
  const name = path.slice(i + 'node_modules/'.length);
  return name !== '' ? name : undefined;
}
