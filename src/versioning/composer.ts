import { boundedMemo } from '../util/memo.js';
import type { VersionScheme } from './types.js';

/**
 * Composer (Packagist) versions: normalised as Composer\Semver\VersionParser::normalize() does, then
 * ordered as Composer\Semver\Semver::sort() orders them, which is PHP's version_compare() on the
 * normalised forms (https://getcomposer.org/doc/articles/versions.md).
 *
 * Normalisation: whitespace trimmed, an ` as ALIAS` and an `@stability` flag dropped, build metadata
 * (`+...`) dropped, an optional `v`; up to four numbers (`1.2` = `1.2.0.0`; leading zeros kept, and
 * version_compare reads `01` as 1), or a date (`2010-01-02` = `2010.01.02`); then a stability suffix,
 * with or without a `-`, `.` or `_` before it: alpha/a, beta/b, RC, patch/pl/p with optional numbers
 * (`1.0.0-b2` = `1.0.0.0-beta2`), and/or `-dev`. `1.x-dev` is the branch `1.9999999.9999999.9999999-dev`.
 * Order (version_compare): dev < alpha < beta < RC < a release < patch (`1.0-patch1` > `1.0`), numbers by
 * value, a missing part below a number (`1.0.0.0` < `1.0.0.0.1`) but above a pre-release tag.
 *
 * Branches: `dev-master`, `dev-trunk` and `dev-default` (also `master`, `trunk`, `default`) are
 * `9999999-dev`, above every release, as Semver::sort() has them. Other `dev-NAME` branches have no order
 * against versions in Composer (its Comparator says neither < nor > nor ==); here they sort below every
 * version, as version_compare() has them, and among themselves by name. Strings that normalize() rejects
 * (`1.0.0-meh`, `1.0.0.0.0`) sort below everything else, and among themselves by their UTF-16 code units.
 */

const STABILITY = '(stable|beta|b|RC|alpha|a|patch|pl|p)';
const MODIFIER = `[._-]?(?:${STABILITY}((?:[.-]?\\d+)*)?)?([.-]?dev)?`;
const ALIAS = /^([^,\s]+) +as +([^,\s]+)$/;
const FLAG = /@(?:stable|RC|beta|alpha|dev)$/i;
const METADATA = /^([^,\s+]+)\+[^\s]+$/;
const CLASSICAL = new RegExp(`^v?(\\d{1,5})(\\.\\d+)?(\\.\\d+)?(\\.\\d+)?${MODIFIER}$`, 'i');
// Composer 2.x's newer CalVer form: a date with up to two short parts after it (20230131.0.0).
const DATE = new RegExp(`^v?(\\d{4}(?:[.:-]?\\d{2}){1,6}(?:[.:-]?\\d{1,3}){0,2})${MODIFIER}$`, 'i');
const DEV_SUFFIX = /^(.*?)[.-]?dev$/i;
const NUMERIC_BRANCH = /^v?(\d+)(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?$/i;
const DEFAULT_BRANCHES = new Set(['dev-master', 'dev-trunk', 'dev-default']);
const PHP_TRIM = /^[ \t\n\r\0\x0B]+|[ \t\n\r\0\x0B]+$/g;

function expandStability(s: string): string {
  const l = s.toLowerCase();
  return l === 'a' ? 'alpha' : l === 'b' ? 'beta' : l === 'p' || l === 'pl' ? 'patch' : l === 'rc' ? 'RC' : l;
}

/** VersionParser::normalizeBranch() for a numeric branch (`1.x` → 1.9999999.9999999.9999999-dev). */
function numericBranch(name: string): string | undefined {
  const m = NUMERIC_BRANCH.exec(name.replace(PHP_TRIM, ''));
  if (!m) return undefined;
  let v = '';
  for (let i = 1; i < 5; i++) v += m[i] !== undefined ? m[i]!.replace(/[*X]/g, 'x') : '.x';
  return `${v.replaceAll('x', '9999999')}-dev`;
}

/** VersionParser::normalize(), or undefined where it throws. */
export function normalizeComposer(input: string): string | undefined {
  let v = input.replace(PHP_TRIM, '');
  const alias = ALIAS.exec(v);
  if (alias) v = alias[1]!;
  const flag = FLAG.exec(v);
  if (flag) v = v.slice(0, v.length - flag[0].length);
  if (v === 'master' || v === 'trunk' || v === 'default') v = `dev-${v}`;
  if (v.slice(0, 4).toLowerCase() === 'dev-') return `dev-${v.slice(4)}`;
  const meta = METADATA.exec(v);
  if (meta) v = meta[1]!;
  let m = CLASSICAL.exec(v);
  let out: string;
  let index: number;
  if (m) {
    out = m[1]! + (m[2] || '.0') + (m[3] || '.0') + (m[4] || '.0');
    index = 5;
  } else {
    m = DATE.exec(v);
    if (!m) {
      const dev = DEV_SUFFIX.exec(v);
      return dev ? numericBranch(dev[1]!) : undefined;
    }
    out = m[1]!.replace(/\D/g, '.');
    index = 2;
  }
  const stability = m[index];
  if (stability) {
    if (stability === 'stable') return out;
    out += `-${expandStability(stability)}${(m[index + 1] ?? '').replace(/^[.-]+/, '')}`;
  }
  if (m[index + 2]) out += '-dev';
  return out;
}

// --- PHP's version_compare() (ext/standard/versioning.c) ---

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlnum(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** php_canonicalize_version(): `-_+` become `.`, and a `.` goes between digits and non-digits. */
function canonicalize(s: string): string {
  if (s === '') return s;
  let out = s[0]!;
  let lp = s.charCodeAt(0);
  for (let i = 1; i < s.length; i++) {
    const p = s.charCodeAt(i);
    const dot = out.charCodeAt(out.length - 1) !== 46;
    if (p === 45 || p === 95 || p === 43) {
      if (dot) out += '.';
    } else if (lp !== 46 && p !== 46 && isDigit(lp) !== isDigit(p)) {
      if (dot) out += '.';
      out += s[i];
    } else if (!isAlnum(p)) {
      if (dot) out += '.';
    } else out += s[i];
    lp = p;
  }
  return out;
}

// The special forms, matched as prefixes in this order (so "patch" counts as "p").
const FORMS: [string, number][] = [
  ['dev', 0],
  ['alpha', 1],
  ['a', 1],
  ['beta', 2],
  ['b', 2],
  ['RC', 3],
  ['rc', 3],
  ['#', 4],
  ['pl', 5],
  ['p', 5],
];

function formOrder(s: string): number {
  for (const [name, order] of FORMS) if (s.startsWith(name)) return order;
  return -1;
}

const LONG_MAX = 9223372036854775807n;

/** strtol() of a digit run: the value, saturated at LONG_MAX as PHP's is. */
function strtol(s: string): number | bigint {
  let e = 0;
  while (e < s.length && isDigit(s.charCodeAt(e))) e++;
  if (e <= 15) return Number(s.slice(0, e));
  const v = BigInt(s.slice(0, e));
  return v > LONG_MAX ? LONG_MAX : v;
}

function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function compareToken(a: string, b: string): -1 | 0 | 1 {
  const ad = isDigit(a.charCodeAt(0));
  const bd = isDigit(b.charCodeAt(0));
  if (ad && bd) return cmp(strtol(a), strtol(b));
  return sign(formOrder(ad ? '#N#' : a) - formOrder(bd ? '#N#' : b));
}

/** php_version_compare(). */
export function phpVersionCompare(v1: string, v2: string): -1 | 0 | 1 {
  if (v1 === '' || v2 === '') return v1 === v2 ? 0 : v1 !== '' ? 1 : -1;
  const a = (v1[0] === '#' ? v1 : canonicalize(v1)).split('.');
  const b = (v2[0] === '#' ? v2 : canonicalize(v2)).split('.');
  // C walks NUL-ended parts while both sides have text left: a lone empty last part ends a side.
  let k = 0;
  while (
    k < a.length &&
    k < b.length &&
    (k < a.length - 1 || a[k] !== '') &&
    (k < b.length - 1 || b[k] !== '')
  ) {
    const r = compareToken(a[k]!, b[k]!);
    if (r !== 0) return r;
    k++;
  }
  // One side has parts left: a number there wins, anything else compares against a number.
  if (k < a.length) {
    const rest = a.slice(k).join('.');
    return isDigit(rest.charCodeAt(0)) ? 1 : phpVersionCompare(rest, '#N#');
  }
  if (k < b.length) {
    const rest = b.slice(k).join('.');
    return isDigit(rest.charCodeAt(0)) ? -1 : phpVersionCompare('#N#', rest);
  }
  return 0;
}

/** A part of a canonical version: a number (by value) or a word (by its special-form rank). */
interface Token {
  digits: boolean;
  value: number | bigint;
  order: number;
}

// The "#N#" stand-in for a number that version_compare() compares leftover words against.
const NUMBER_MARK: Token[] = [{ digits: false, value: 0, order: 4 }];

function tokens(canonical: string): Token[] {
  return canonical.split('.').map((t) => {
    const digits = isDigit(t.charCodeAt(0));
    return { digits, value: digits ? strtol(t) : 0, order: digits ? 4 : formOrder(t) };
  });
}

/** php_version_compare() over pre-split parts; normalised versions have no empty part. */
function compareTokens(a: Token[], b: Token[]): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const r = x.digits && y.digits ? cmp(x.value, y.value) : sign(x.order - y.order);
    if (r !== 0) return r;
  }
  if (a.length > n) return a[n]!.digits ? 1 : compareTokens(a.slice(n), NUMBER_MARK);
  if (b.length > n) return b[n]!.digits ? -1 : compareTokens(NUMBER_MARK, b.slice(n));
  return 0;
}

function cmp(a: number | bigint | string, b: number | bigint | string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Parsed {
  /** 0: rejected by normalize(), 1: a dev-NAME branch, 2: a version */
  kind: 0 | 1 | 2;
  /** the normalised form (the input itself when rejected) */
  norm: string;
  /** a version's canonical parts, split once for the matching loops */
  parts: Token[];
}

function parse(v: string): Parsed {
  const n = normalizeComposer(v);
  if (n === undefined) return { kind: 0, norm: v, parts: [] };
  const norm = DEFAULT_BRANCHES.has(n) ? '9999999-dev' : n;
  if (norm.startsWith('dev-')) return { kind: 1, norm, parts: [] };
  return { kind: 2, norm, parts: tokens(canonicalize(norm)) };
}

// Matching loops compare one package version against many range events: keep recent parses.
const parsed = boundedMemo(parse);

function compare(a: string, b: string): -1 | 0 | 1 {
  const pa = parsed(a);
  const pb = parsed(b);
  if (pa.kind !== pb.kind) return pa.kind < pb.kind ? -1 : 1;
  if (pa.kind === 2) return compareTokens(pa.parts, pb.parts);
  return cmp(pa.norm, pb.norm);
}

function valid(v: string): boolean {
  return parsed(v).kind !== 0;
}

export const composer = { name: 'composer', compare, valid } satisfies VersionScheme;
