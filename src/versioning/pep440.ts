import { boundedMemo } from '../util/memo.js';
import type { VersionScheme } from './types.js';

/**
 * Python package versions, PEP 440 (https://peps.python.org/pep-0440/), parsed and ordered as the
 * `packaging` library's Version does (packaging 22 to 26 agree): `[N!]N(.N)*[{a|b|rc}N][.postN][.devN]
 * [+local]`, case-insensitive, with its normalisations: a leading `v`, surrounding whitespace, `.`/`-`/`_`
 * or nothing between parts (`1.0-rc1` = `1.0rc1`), spellings alpha/beta/c/pre/preview (= a, b, rc, rc,
 * rc), rev/r (= post), implicit numbers (`1.0.post` = `1.0.post0`, `1.0a` = `1.0a0`), `1.0-1` as a post
 * release, and release segments compared without trailing zeros (`1.0` = `1.0.0`).
 *
 * Order: epoch, release, then pre-release (a dev release with neither pre nor post sorts below every
 * pre-release of its release: 1.0.dev1 < 1.0a1), post-release, dev release, and the local label last
 * (none < any; its segments numeric above alphanumeric, alphanumeric ones lowercased and lexical, a longer
 * label above its prefix).
 *
 * Strings that are not PEP 440 versions (packaging raises InvalidVersion since 22.0) compare as
 * packaging < 22 compared them, as a LegacyVersion: below every valid version, and among themselves by
 * setuptools' historical parse_version key. valid() is false for them.
 */

type Num = number | bigint;
type LocalPart = Num | string;

interface Parsed {
  /** -1 for a legacy (invalid) version, else the epoch */
  epoch: Num;
  release: Num[];
  /** pre rank (dev-only -1, a 0, b 1, rc 2, none 3), pre n, post rank, post n, dev rank, dev n */
  suffix: Num[];
  local: LocalPart[] | undefined;
  legacy: string[] | undefined;
}

// Python's `\s` (str.isspace), which differs from JavaScript's around U+001C-U+001F, U+0085 and U+FEFF.
const WS =
  '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*';
// packaging's VERSION_PATTERN, anchored with the whitespace its Version allows around it.
const VERSION = new RegExp(
  `^${WS}v?(?:(?:([0-9]+)!)?([0-9]+(?:\\.[0-9]+)*)` +
    '(?:[._-]?(alpha|a|beta|b|preview|pre|c|rc)[._-]?([0-9]+)?)?' +
    '(?:-([0-9]+)|[._-]?(post|rev|r)[._-]?([0-9]+)?)?' +
    `(?:[._-]?(dev)[._-]?([0-9]+)?)?)(?:\\+([a-z0-9]+(?:[._-][a-z0-9]+)*))?${WS}$`,
  'i',
);
const PRE_RANK: Record<string, number> = { a: 0, alpha: 0, b: 1, beta: 1, c: 2, pre: 2, preview: 2, rc: 2 };
const DIGITS = /^[0-9]+$/;

function num(digits: string): Num {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 48) i++;
  return digits.length - i <= 15 ? Number(digits.slice(i)) : BigInt(digits);
}

function parse(v: string): Parsed {
  const m = VERSION.exec(v);
  if (!m) return { epoch: -1, release: [], suffix: [], local: undefined, legacy: legacyKey(v) };
  const release = m[2]!.split('.').map(num);
  // 1.0 == 1.0.0: trailing zeros do not count.
  let n = release.length;
  while (n > 0 && release[n - 1] === 0) n--;
  release.length = n;
  const preL = m[3]?.toLowerCase();
  const hasPost = m[5] !== undefined || m[6] !== undefined;
  const hasDev = m[8] !== undefined;
  const suffix: Num[] = [
    preL !== undefined ? PRE_RANK[preL]! : hasDev && !hasPost ? -1 : 3,
    preL !== undefined ? num(m[4] ?? '0') : 0,
    hasPost ? 1 : 0,
    hasPost ? num(m[5] ?? m[7] ?? '0') : 0,
    hasDev ? 0 : 1,
    hasDev ? num(m[9] ?? '0') : 0,
  ];
  const local = m[10]?.split(/[._-]/).map((p) => (DIGITS.test(p) ? num(p) : p.toLowerCase()));
  return { epoch: num(m[1] ?? '0'), release, suffix, local, legacy: undefined };
}

// packaging < 22's LegacyVersion key (from setuptools' pre-PEP 440 parse_version).
const LEGACY_PART = /(\p{Nd}+|[a-z]+|\.|-)/u;
const LEGACY_REPLACE: Record<string, string> = { pre: 'c', preview: 'c', '-': 'final-', rc: 'c', dev: '@' };

function legacyKey(v: string): string[] {
  const parts: string[] = [];
  for (const raw of v.toLowerCase().split(LEGACY_PART)) {
    const part = LEGACY_REPLACE[raw] ?? raw;
    if (part === '' || part === '.') continue;
    const c = part.charCodeAt(0);
    if (c >= 48 && c <= 57) {
      parts.push(part.padStart(8, '0'));
      continue;
    }
    const tag = `*${part}`;
    // A pre-release tag drops the "-" before it, and each tag ends a numeric series: trailing zeros go.
    if (tag < '*final') while (parts.at(-1) === '*final-') parts.pop();
    while (parts.at(-1) === '00000000') parts.pop();
    parts.push(tag);
  }
  while (parts.at(-1) === '00000000') parts.pop();
  parts.push('*final');
  return parts;
}

// Matching loops compare one package version against many range events: keep recent parses.
const parsed = boundedMemo(parse);

function cmp(a: Num | string, b: Num | string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Python's tuple order over elements of one type: first difference, else the shorter first. */
function compareSeq<T extends Num | string>(a: readonly T[], b: readonly T[]): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const r = cmp(a[i]!, b[i]!);
    if (r !== 0) return r;
  }
  return cmp(a.length, b.length);
}

/** Local segments: numeric ones above alphanumeric ones; then by value. */
function compareLocal(a: LocalPart[] | undefined, b: LocalPart[] | undefined): -1 | 0 | 1 {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const xs = typeof x === 'string';
    if (xs !== (typeof y === 'string')) return xs ? -1 : 1;
    const r = cmp(x, y);
    if (r !== 0) return r;
  }
  return cmp(a.length, b.length);
}

function compare(a: string, b: string): -1 | 0 | 1 {
  const pa = parsed(a);
  const pb = parsed(b);
  const byEpoch = cmp(pa.epoch, pb.epoch);
  if (byEpoch !== 0) return byEpoch;
  if (pa.legacy || pb.legacy) return compareSeq(pa.legacy!, pb.legacy!);
  return (
    compareSeq(pa.release, pb.release) || compareSeq(pa.suffix, pb.suffix) || compareLocal(pa.local, pb.local)
  );
}

function valid(v: string): boolean {
  return parsed(v).legacy === undefined;
}

export const pep440 = { name: 'pep440', compare, valid } satisfies VersionScheme;
