import { boundedMemo } from '../util/memo.js';
import type { VersionScheme } from './types.js';

/**
 * Semantic Versioning 2.0.0 precedence (https://semver.org/#spec-item-11), as npm's node-semver orders it:
 * the scheme of npm and crates.io, and the order OSV prescribes for SEMVER ranges in any ecosystem.
 *
 * Accepted by compare() (node-semver's loose grammar, after trimming whitespace): any run of `v`, `=` and
 * whitespace before the version (`v1.2.3`, `=1.2.3`, `v 1.2.3`), leading zeros in numbers (`01.2.3` is
 * 1.2.3), and a pre-release without its hyphen (`1.2.3beta` is 1.2.3-beta). Build metadata is ignored.
 * Beyond node-semver, as osv-scanner does for OSV data: a partial version `MAJOR[.MINOR]` (optionally with
 * `-pre` and `+build`) compares as if the missing parts were 0 (`1.2` = 1.2.0). Numbers of any size
 * compare by exact value (node-semver rejects numbers above 2^53-1).
 *
 * Anything else is invalid: invalid versions sort below every valid one, and among themselves by their
 * UTF-16 code units, so the order stays total.
 *
 * valid() is node-semver's strict `semver.valid()`: optional surrounding whitespace, at most one leading
 * `v`, no leading zeros in numeric identifiers, numbers up to 2^53-1, at most 256 characters.
 */

type Num = number | bigint;
type Ident = Num | string;

interface Parsed {
  /** 0: invalid (compares by `raw`), 1: a version */
  ok: 0 | 1;
  raw: string;
  major: Num;
  minor: Num;
  patch: Num;
  pre: Ident[];
}

const PRE_ID = '(?:\\d*[a-zA-Z-][a-zA-Z0-9-]*|\\d+)';
const PRE = `${PRE_ID}(?:\\.${PRE_ID})*`;
const BUILD = '[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)*';
const LOOSE = new RegExp(`^[v=\\s]*(\\d+)\\.(\\d+)\\.(\\d+)(?:-?(${PRE}))?(?:\\+${BUILD})?$`);
// The same groups, patch never matching: MAJOR[.MINOR][-PRE][+BUILD].
const PARTIAL = new RegExp(`^[v=\\s]*(\\d+)(?:\\.(\\d+))?()?(?:-(${PRE}))?(?:\\+${BUILD})?$`);

const STRICT_NUM = '(?:0|[1-9]\\d*)';
const STRICT_PRE_ID = `(?:\\d*[a-zA-Z-][a-zA-Z0-9-]*|${STRICT_NUM})`;
const STRICT = new RegExp(
  `^v?(${STRICT_NUM})\\.(${STRICT_NUM})\\.(${STRICT_NUM})` +
    `(?:-${STRICT_PRE_ID}(?:\\.${STRICT_PRE_ID})*)?(?:\\+${BUILD})?$`,
);
const MAX_LENGTH = 256;
const DIGITS = /^\d+$/;

/** A digit run as an exact number: a double while that is exact, else a bigint (both compare with `<`). */
function num(digits: string): Num {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 48) i++;
  return digits.length - i <= 15 ? Number(digits.slice(i)) : BigInt(digits);
}

function parse(v: string): Parsed {
  const s = v.trim();
  const m = LOOSE.exec(s) ?? PARTIAL.exec(s);
  if (!m) return { ok: 0, raw: v, major: 0, minor: 0, patch: 0, pre: [] };
  const pre: Ident[] = m[4] ? m[4].split('.').map((id) => (DIGITS.test(id) ? num(id) : id)) : [];
  return { ok: 1, raw: v, major: num(m[1]!), minor: num(m[2] ?? '0'), patch: num(m[3] || '0'), pre };
}

// Matching loops compare one package version against many range events: keep recent parses.
const parsed = boundedMemo(parse);

function cmp(a: Num | string, b: Num | string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Pre-release identifiers: numeric ones by value and below alphanumeric ones, which compare in ASCII order. */
function compareIdent(a: Ident, b: Ident): -1 | 0 | 1 {
  const an = typeof a !== 'string';
  const bn = typeof b !== 'string';
  if (an !== bn) return an ? -1 : 1;
  return cmp(a, b);
}

function compare(a: string, b: string): -1 | 0 | 1 {
  const pa = parsed(a);
  const pb = parsed(b);
  if (pa.ok !== pb.ok) return pa.ok ? 1 : -1;
  if (!pa.ok) return cmp(pa.raw, pb.raw);
  const byCore = cmp(pa.major, pb.major) || cmp(pa.minor, pb.minor) || cmp(pa.patch, pb.patch);
  if (byCore !== 0) return byCore;
  const x = pa.pre;
  const y = pb.pre;
  // A version without pre-release ranks above any pre-release of the same core.
  if (x.length === 0 || y.length === 0) return x.length === y.length ? 0 : x.length === 0 ? 1 : -1;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const r = compareIdent(x[i]!, y[i]!);
    if (r !== 0) return r;
  }
  return cmp(x.length, y.length);
}

function valid(v: string): boolean {
  if (v.length > MAX_LENGTH) return false;
  const m = STRICT.exec(v.trim());
  if (!m) return false;
  for (let i = 1; i <= 3; i++) if (!Number.isSafeInteger(Number(m[i]))) return false;
  return true;
}

export const semver = { name: 'semver', compare, valid } satisfies VersionScheme;
