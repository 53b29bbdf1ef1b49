import { boundedMemo } from '../util/memo.js';
import type { VersionScheme } from './types.js';

/**
 * Go module versions, ordered as golang.org/x/mod/semver's Compare: SemVer 2.0.0 with a required `v`
 * prefix, the shorthands `v1` (= v1.0.0) and `v1.2` (= v1.2.0, neither may carry a pre-release or build),
 * no leading zeros in numbers or numeric pre-release identifiers. Build metadata is ignored, so
 * `v2.0.0+incompatible` equals v2.0.0; pseudo-versions (`v0.0.0-20220906165146-f3363e06e74c`,
 * `v1.2.4-0.20191109021931-daa7c04131f5`) are pre-releases and sort by their timestamp as designed.
 *
 * OSV records for the Go ecosystem store versions without the `v` (`1.2.3`), so a string that does not
 * start with `v` is read as if it did, by compare() and valid() alike. As in x/mod, every invalid string
 * sorts below every valid one and all invalid strings compare equal (`(devel)` = `junk`).
 */

interface Parsed {
  ok: boolean;
  major: string;
  minor: string;
  patch: string;
  /** the pre-release identifiers; empty for a release */
  pre: string[];
}

const INVALID: Parsed = { ok: false, major: '', minor: '', patch: '', pre: [] };

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isIdentChar(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45;
}

/** End of the decimal number at s[i] (no leading zero unless it is "0"), or -1. */
function intEnd(s: string, i: number): number {
  if (i >= s.length || !isDigit(s.charCodeAt(i))) return -1;
  let j = i + 1;
  while (j < s.length && isDigit(s.charCodeAt(j))) j++;
  return s.charCodeAt(i) === 48 && j !== i + 1 ? -1 : j;
}

/** A numeric identifier with a leading zero, which SemVer forbids ("01"). */
function isBadNum(s: string, start: number, end: number): boolean {
  if (end - start < 2 || s.charCodeAt(start) !== 48) return false;
  for (let i = start + 1; i < end; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** End of dot-separated non-empty identifiers starting after s[i-1] (`-` or `+`), stopping at `stop`, or -1. */
function identsEnd(s: string, i: number, stop: number, pre: boolean): number {
  let start = i;
  let j = i;
  for (; j < s.length && s.charCodeAt(j) !== stop; j++) {
    const c = s.charCodeAt(j);
    if (c === 46) {
      if (start === j || (pre && isBadNum(s, start, j))) return -1;
      start = j + 1;
    } else if (!isIdentChar(c)) return -1;
  }
  return start === j || (pre && isBadNum(s, start, j)) ? -1 : j;
}

function parse(input: string): Parsed {
  const v = input.charCodeAt(0) === 118 /* v */ ? input : `v${input}`;
  const e1 = intEnd(v, 1);
  if (e1 < 0) return INVALID;
  const major = v.slice(1, e1);
  if (e1 === v.length) return { ok: true, major, minor: '0', patch: '0', pre: [] };
  if (v.charCodeAt(e1) !== 46) return INVALID;
  const e2 = intEnd(v, e1 + 1);
  if (e2 < 0) return INVALID;
  const minor = v.slice(e1 + 1, e2);
  if (e2 === v.length) return { ok: true, major, minor, patch: '0', pre: [] };
  if (v.charCodeAt(e2) !== 46) return INVALID;
  const e3 = intEnd(v, e2 + 1);
  if (e3 < 0) return INVALID;
  let i = e3;
  let pre: string[] = [];
  if (v.charCodeAt(i) === 45 /* - */) {
    const end = identsEnd(v, i + 1, 43 /* + */, true);
    if (end < 0) return INVALID;
    pre = v.slice(i + 1, end).split('.');
    i = end;
  }
  if (v.charCodeAt(i) === 43 /* + */) {
    i = identsEnd(v, i + 1, -1, false);
    if (i < 0) return INVALID;
  }
  if (i !== v.length) return INVALID;
  return { ok: true, major, minor, patch: v.slice(e2 + 1, e3), pre };
}

// Matching loops compare one module version against many range events: keep recent parses.
const parsed = boundedMemo(parse);

/** Decimal strings without leading zeros: the longer is larger, else by characters. */
function compareInt(x: string, y: string): -1 | 0 | 1 {
  if (x === y) return 0;
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : 1;
}

function isNum(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

function comparePrerelease(xs: string[], ys: string[]): -1 | 0 | 1 {
  // A release ranks above its pre-releases.
  if (xs.length === 0 || ys.length === 0) return xs.length === ys.length ? 0 : xs.length === 0 ? 1 : -1;
  const n = Math.min(xs.length, ys.length);
  for (let i = 0; i < n; i++) {
    const dx = xs[i]!;
    const dy = ys[i]!;
    if (dx === dy) continue;
    const ix = isNum(dx);
    const iy = isNum(dy);
    if (ix !== iy) return ix ? -1 : 1;
    if (ix && dx.length !== dy.length) return dx.length < dy.length ? -1 : 1;
    return dx < dy ? -1 : 1;
  }
  return xs.length === ys.length ? 0 : xs.length < ys.length ? -1 : 1;
}

function compare(a: string, b: string): -1 | 0 | 1 {
  const pa = parsed(a);
  const pb = parsed(b);
  if (!pa.ok || !pb.ok) return pa.ok === pb.ok ? 0 : pa.ok ? 1 : -1;
  return (
    compareInt(pa.major, pb.major) ||
    compareInt(pa.minor, pb.minor) ||
    compareInt(pa.patch, pb.patch) ||
    comparePrerelease(pa.pre, pb.pre)
  );
}

function valid(v: string): boolean {
  return parsed(v).ok;
}

export const go = { name: 'go', compare, valid } satisfies VersionScheme;
