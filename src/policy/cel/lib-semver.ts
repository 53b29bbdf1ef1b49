import type { Environment } from '@marcbachmann/cel-js';
import { type CelComparable, celError, fn } from './values.js';

/**
 * Kubernetes' semver library (k8s.io/apiserver/pkg/cel/library/semverlib.go): semver(s[, normalize]),
 * isSemver(s[, normalize]), major/minor/patch and comparisons, with semver.org 2.0 precedence.
 */
export class Semver implements CelComparable {
  constructor(
    readonly major: bigint,
    readonly minor: bigint,
    readonly patch: bigint,
    readonly pre: readonly string[],
    readonly build: readonly string[],
  ) {}

  compare(o: Semver): number {
    for (const [a, b] of [
      [this.major, o.major],
      [this.minor, o.minor],
      [this.patch, o.patch],
    ] as const) {
      if (a !== b) return a < b ? -1 : 1;
    }
    if (this.pre.length === 0 || o.pre.length === 0) return Math.sign(o.pre.length - this.pre.length);
    for (let i = 0; i < Math.min(this.pre.length, o.pre.length); i++) {
      const c = comparePre(this.pre[i] as string, o.pre[i] as string);
      if (c !== 0) return c;
    }
    return Math.sign(this.pre.length - o.pre.length);
  }

  celEquals(o: unknown): boolean {
    return o instanceof Semver && this.compare(o) === 0;
  }

  toString(): string {
    const pre = this.pre.length ? `-${this.pre.join('.')}` : '';
    const build = this.build.length ? `+${this.build.join('.')}` : '';
    return `${this.major}.${this.minor}.${this.patch}${pre}${build}`;
  }
}

function comparePre(a: string, b: string): number {
  const na = /^[0-9]+$/.test(a);
  const nb = /^[0-9]+$/.test(b);
  if (na && nb) return Math.sign(Number(BigInt(a) - BigInt(b)));
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const NUM = '(0|[1-9][0-9]*)';
const SEMVER = new RegExp(
  `^${NUM}\\.${NUM}\\.${NUM}(?:-([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?(?:\\+([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?$`,
);

/** Strict semver 2.0; a string result is the reason it is invalid. */
export function parseSemver(s: string): Semver | string {
  const m = SEMVER.exec(s);
  if (!m) return `invalid semantic version ${JSON.stringify(s)}`;
  const pre = m[4] ? m[4].split('.') : [];
  if (pre.some((p) => /^0[0-9]+$/.test(p)))
    return `invalid semantic version ${JSON.stringify(s)}: numeric prerelease with leading zero`;
  return new Semver(
    BigInt(m[1] as string),
    BigInt(m[2] as string),
    BigInt(m[3] as string),
    pre,
    m[5] ? m[5].split('.') : [],
  );
}

/** The library's normalization: drop a leading "v", fill missing minor/patch, drop leading zeros. */
export function normalizeSemver(s: string): Semver | string {
  const parts = (s.startsWith('v') ? s.slice(1) : s).split('.');
  const head = parts.slice(0, 2);
  const tail = parts.length > 2 ? parts.slice(2).join('.') : undefined;
  const fields = tail === undefined ? head : [...head, tail];
  const cleaned = fields.map((p) => {
    if (p.length <= 1) return p;
    const t = p.replace(/^0+/, '');
    return t === '' || !/^[0-9]/.test(t) ? `0${t}` : t;
  });
  if (cleaned.length < 3) {
    if (/[+-]/.test(cleaned[cleaned.length - 1] ?? ''))
      return 'short version cannot contain PreRelease/Build meta data';
    while (cleaned.length < 3) cleaned.push('0');
  }
  return parseSemver(cleaned.join('.'));
}

function must(v: Semver | string): Semver {
  if (typeof v === 'string') throw celError('invalid_semver', v);
  return v;
}

export function registerSemver(env: Environment): void {
  env.registerType('kubernetes.Semver', Semver);
  fn(env, 'semver(string): kubernetes.Semver', (s: string) => must(parseSemver(s)));
  fn(env, 'semver(string, bool): kubernetes.Semver', (s: string, n: boolean) =>
    must(n ? normalizeSemver(s) : parseSemver(s)),
  );
  fn(env, 'isSemver(string): bool', (s: string) => typeof parseSemver(s) !== 'string');
  fn(
    env,
    'isSemver(string, bool): bool',
    (s: string, n: boolean) => typeof (n ? normalizeSemver(s) : parseSemver(s)) !== 'string',
  );
  fn(env, 'kubernetes.Semver.major(): int', (v: Semver) => v.major);
  fn(env, 'kubernetes.Semver.minor(): int', (v: Semver) => v.minor);
  fn(env, 'kubernetes.Semver.patch(): int', (v: Semver) => v.patch);
  fn(env, 'kubernetes.Semver.compareTo(kubernetes.Semver): int', (a: Semver, b: Semver) =>
    BigInt(a.compare(b)),
  );
  fn(
    env,
    'kubernetes.Semver.isGreaterThan(kubernetes.Semver): bool',
    (a: Semver, b: Semver) => a.compare(b) > 0,
  );
  fn(
    env,
    'kubernetes.Semver.isLessThan(kubernetes.Semver): bool',
    (a: Semver, b: Semver) => a.compare(b) < 0,
  );
  fn(env, 'string(kubernetes.Semver): string', (v: Semver) => v.toString());
  env.registerOperator('kubernetes.Semver == kubernetes.Semver', (a: Semver, b: Semver) => a.celEquals(b));
}
