import type { VersionScheme } from './types.js';

/**
 * Debian package versions, `[epoch:]upstream[-revision]`, ordered as deb-version(5) and Debian Policy
 * §5.6.12 say and as dpkg's lib/dpkg/version.c implements it.
 *
 * Parsing follows dpkg's parseversion(): surrounding blanks are trimmed, the epoch is what precedes the
 * first `:` (read like strtol(), so `+1:` is epoch 1 and `-0:` epoch 0), the revision what follows the last
 * `-`; a missing revision compares like `0`. The empty string is dpkg's blank version, lower than any
 * other (as `dpkg --compare-versions '' lt X` says).
 *
 * Fallback for strings dpkg rejects with an error (compare never throws): a non-numeric, empty or negative
 * epoch means no epoch (the whole string, colon included, is upstream-revision, epoch 0); an epoch past
 * INT_MAX still compares by magnitude; an empty revision (`1.0-`) compares like no revision; embedded
 * blanks are characters like any other. Strings dpkg accepts with a "bad syntax" warning (a leading letter,
 * characters outside the policy set) compare exactly as dpkg compares them: every character has a place in
 * dpkg's order, so every string has a place in one total order.
 */

const CH_0 = 48;
const CH_9 = 57;
const CH_TILDE = 126;
const CH_COLON = 58;
const CH_HYPHEN = 45;
const CH_PLUS = 43;
const CH_DOT = 46;

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** dpkg's order(): `~` before the end of a part, the end before letters, letters before other symbols. */
function order(c: number): number {
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === CH_TILDE) return -1;
  return c + 256;
}

/** dpkg's verrevcmp() over a[ai, ae) and b[bi, be): alternating non-digit (by order()) and numeric runs. */
function verrevcmp(a: string, ai: number, ae: number, b: string, bi: number, be: number): -1 | 0 | 1 {
  while (ai < ae || bi < be) {
    let firstDiff = 0;
    while ((ai < ae && !isDigit(a.charCodeAt(ai))) || (bi < be && !isDigit(b.charCodeAt(bi)))) {
      // The end of a part, like a digit, has order 0.
      const ac = ai < ae ? order(a.charCodeAt(ai)) : 0;
      const bc = bi < be ? order(b.charCodeAt(bi)) : 0;
      if (ac !== bc) return ac < bc ? -1 : 1;
      ai++;
      bi++;
    }
    while (ai < ae && a.charCodeAt(ai) === CH_0) ai++;
    while (bi < be && b.charCodeAt(bi) === CH_0) bi++;
    while (ai < ae && bi < be) {
      const ac = a.charCodeAt(ai);
      const bc = b.charCodeAt(bi);
      if (!isDigit(ac) || !isDigit(bc)) break;
      if (firstDiff === 0) firstDiff = ac - bc;
      ai++;
      bi++;
    }
    if (ai < ae && isDigit(a.charCodeAt(ai))) return 1;
    if (bi < be && isDigit(b.charCodeAt(bi))) return -1;
    if (firstDiff !== 0) return firstDiff < 0 ? -1 : 1;
  }
  return 0;
}

/** Compares two runs of ASCII digits by value, without overflow. */
function compareDigits(a: string, ai: number, ae: number, b: string, bi: number, be: number): -1 | 0 | 1 {
  while (ai < ae && a.charCodeAt(ai) === CH_0) ai++;
  while (bi < be && b.charCodeAt(bi) === CH_0) bi++;
  if (ae - ai !== be - bi) return ae - ai < be - bi ? -1 : 1;
  for (; ai < ae; ai++, bi++) {
    const d = a.charCodeAt(ai) - b.charCodeAt(bi);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

// Span offsets filled by split(): epoch, upstream and revision as [start, end) pairs of the input.
const E0 = 0;
const E1 = 1;
const U0 = 2;
const U1 = 3;
const R0 = 4;
const R1 = 5;
const T0 = 6; // start after trimming blanks
// Two scratch buffers, so compare() allocates nothing (it never re-enters).
const spanA = new Int32Array(7);
const spanB = new Int32Array(7);

function isZero(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (s.charCodeAt(i) !== CH_0) return false;
  return true;
}

function allDigits(s: string, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

function split(v: string, out: Int32Array): void {
  let start = 0;
  let end = v.length;
  while (start < end && isBlank(v.charCodeAt(start))) start++;
  while (end > start && isBlank(v.charCodeAt(end - 1))) end--;
  out[T0] = start;
  out[E0] = start;
  out[E1] = start;
  let upstream = start;
  const colon = v.indexOf(':', start);
  if (colon >= 0 && colon < end) {
    // dpkg reads the epoch with strtol(), so a sign is tolerated: "+1:" is 1, "-0:" is 0, "-1:" is an error.
    const sign = v.charCodeAt(start);
    const digits = sign === CH_PLUS || sign === CH_HYPHEN ? start + 1 : start;
    if (allDigits(v, digits, colon) && (sign !== CH_HYPHEN || isZero(v, digits, colon))) {
      out[E0] = digits;
      out[E1] = colon;
      upstream = colon + 1;
    }
  }
  out[U0] = upstream;
  const hyphen = v.lastIndexOf('-', end - 1);
  if (hyphen >= upstream) {
    out[U1] = hyphen;
    out[R0] = hyphen + 1;
  } else {
    out[U1] = end;
    out[R0] = end;
  }
  out[R1] = end;
}

function compare(a: string, b: string): -1 | 0 | 1 {
  split(a, spanA);
  split(b, spanB);
  // The empty string is dpkg's "blank" version (as in `dpkg --compare-versions '' lt X`): below all others.
  const blankA = spanA[T0] === spanA[R1];
  const blankB = spanB[T0] === spanB[R1];
  if (blankA || blankB) return blankA === blankB ? 0 : blankA ? -1 : 1;
  const byEpoch = compareDigits(a, spanA[E0]!, spanA[E1]!, b, spanB[E0]!, spanB[E1]!);
  if (byEpoch !== 0) return byEpoch;
  const byUpstream = verrevcmp(a, spanA[U0]!, spanA[U1]!, b, spanB[U0]!, spanB[U1]!);
  if (byUpstream !== 0) return byUpstream;
  // A missing revision is the empty string, which dpkg compares like "0".
  return verrevcmp(a, spanA[R0]!, spanA[R1]!, b, spanB[R0]!, spanB[R1]!);
}

const INT_MAX_DIGITS = '2147483647';

function isRevisionChar(c: number): boolean {
  return isDigit(c) || isAlpha(c) || c === CH_DOT || c === CH_PLUS || c === CH_TILDE;
}

/**
 * true when dpkg's parseversion() accepts the string without error or warning: optional blanks around,
 * epoch of digits up to INT_MAX, upstream starting with a digit and made of [A-Za-z0-9.+~-:] (`-` only
 * with a revision, `:` only with an epoch), a non-empty revision of [A-Za-z0-9.+~].
 */
function valid(v: string): boolean {
  split(v, spanA);
  const start = spanA[T0]!;
  const end = spanA[R1]!;
  if (start >= end) return false;
  for (let i = start; i < end; i++) if (isBlank(v.charCodeAt(i))) return false;
  const e0 = spanA[E0]!;
  const e1 = spanA[E1]!;
  if (e1 > e0) {
    if (compareDigits(v, e0, e1, INT_MAX_DIGITS, 0, INT_MAX_DIGITS.length) > 0) return false;
  } else {
    // A colon without a numeric epoch before it: dpkg reports a bad epoch.
    const colon = v.indexOf(':', start);
    if (colon >= 0 && colon < end) return false;
  }
  const u0 = spanA[U0]!;
  const u1 = spanA[U1]!;
  const r0 = spanA[R0]!;
  const r1 = spanA[R1]!;
  if (u0 >= u1 || !isDigit(v.charCodeAt(u0))) return false;
  for (let i = u0 + 1; i < u1; i++) {
    const c = v.charCodeAt(i);
    if (!isRevisionChar(c) && c !== CH_COLON && c !== CH_HYPHEN) return false;
  }
  if (u1 !== end && r0 >= r1) return false;
  for (let i = r0; i < r1; i++) {
    const c = v.charCodeAt(i);
    if (!isRevisionChar(c)) return false;
  }
  return true;
}

export const dpkg = { name: 'dpkg', compare, valid } satisfies VersionScheme;
