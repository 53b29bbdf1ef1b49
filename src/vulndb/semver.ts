import type { VersionScheme } from '../versioning/types.js';

/**
 * SemVer 2.0 precedence (https://semver.org/#spec-item-11), which OSV prescribes for `SEMVER` ranges whatever
 * the ecosystem. Lenient on input as osv-scanner is: a leading "v", missing minor/patch (read as 0) and build
 * metadata (ignored) are accepted. Anything else compares as a plain string after the numeric core.
 */
interface Parsed {
  core: number[];
  pre: string[];
}

const CORE = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]*)?$/;

function parse(v: string): Parsed | undefined {
  const m = CORE.exec(v.trim());
  if (!m) return undefined;
  return {
    core: [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)],
    pre: m[4] ? m[4].split('.') : [],
  };
}

const sign = (n: number): -1 | 0 | 1 => (n < 0 ? -1 : n > 0 ? 1 : 0);
const NUMERIC = /^\d+$/;

function comparePre(a: string[], b: string[]): -1 | 0 | 1 {
  // a version without pre-release ranks above any pre-release of the same core
  if (a.length === 0 || b.length === 0) return sign(b.length - a.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    const xn = NUMERIC.test(x);
    const yn = NUMERIC.test(y);
    if (xn && yn) return sign(Number(x) - Number(y));
    if (xn !== yn) return xn ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return sign(a.length - b.length);
}

export const semver: VersionScheme = {
  name: 'semver',
  compare(a: string, b: string): -1 | 0 | 1 {
    const pa = parse(a);
    const pb = parse(b);
    if (!pa || !pb) {
      // invalid versions sort below valid ones, and among themselves by string: a stable, total order
      if (pa) return 1;
      if (pb) return -1;
      return a < b ? -1 : a > b ? 1 : 0;
    }
    for (let i = 0; i < 3; i++) {
      const d = sign(pa.core[i]! - pb.core[i]!);
      if (d !== 0) return d;
    }
    return comparePre(pa.pre, pb.pre);
  },
  valid(v: string): boolean {
    return parse(v) !== undefined;
  },
};
