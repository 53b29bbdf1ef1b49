import type { VersionScheme } from './types.js';

/**
 * RPM versions, `[epoch:]version[-release]`, with librpm's rpmvercmp() (rpmio/rpmvercmp.c) for each part.
 *
 * rpmvercmp: the string is cut into runs of ASCII digits and runs of ASCII letters; anything else is a
 * separator and only separates (`2_0` = `2.0`). `~` sorts before anything, even the end (`1.0~rc1` <
 * `1.0`); `^` sorts after the end but before any further segment (`1.0` < `1.0^git1` < `1.0.1`). Digit runs
 * compare by value of any length (leading zeros ignored), letter runs bytewise, and a digit run is newer
 * than a letter run. When one string runs out, the one with segments left is newer.
 *
 * EVR split as rpm's parseEVR(): the epoch is a leading run of digits ended by `:` (empty means 0), the
 * release is what follows the last `-`. A missing epoch is 0.
 *
 * Missing release: when one side has no release (or an empty one), the releases are not compared, so
 * `1.2` = `1.2-3.el9`. This is rpm's dependency-range rule (rpmverOverlap(), what rpmdsCompare uses for
 * `Requires: foo = 1.2` or `>= 1.2`), and the one OSV ranges need: a bound without a release names
 * every build of that version. rpm's labelCompare()/rpmverCmp() instead put a missing release before any
 * release; that total order is not used here. With a release on both sides, or on neither, the two rules
 * agree. Never throws: any string splits into the three parts, and stray characters are separators.
 */

const CH_0 = 48;
const CH_9 = 57;
const CH_TILDE = 126;
const CH_CARET = 94;

// Character classes of rpmvercmp (ASCII only, like its risdigit/risalpha); anything else separates.
const SEP = 0;
const DIGIT = 1;
const ALPHA = 2;
const MARK = 3; // '~' or '^'
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  CLASS[c] =
    c >= CH_0 && c <= CH_9
      ? DIGIT
      : (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
        ? ALPHA
        : c === CH_TILDE || c === CH_CARET
          ? MARK
          : SEP;
}

function charClass(c: number): number {
  return c < 128 ? CLASS[c]! : SEP;
}

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** rpmvercmp() over a[ai, ae) and b[bi, be). */
function vercmp(a: string, ai: number, ae: number, b: string, bi: number, be: number): -1 | 0 | 1 {
  while (ai < ae || bi < be) {
    while (ai < ae && charClass(a.charCodeAt(ai)) === SEP) ai++;
    while (bi < be && charClass(b.charCodeAt(bi)) === SEP) bi++;
    const ac = ai < ae ? a.charCodeAt(ai) : -1;
    const bc = bi < be ? b.charCodeAt(bi) : -1;

    if (ac === CH_TILDE || bc === CH_TILDE) {
      if (ac !== CH_TILDE) return 1;
      if (bc !== CH_TILDE) return -1;
      ai++;
      bi++;
      continue;
    }
    // `^` is like `~` except that the end of the other string (the base version) is lower.
    if (ac === CH_CARET || bc === CH_CARET) {
      if (ac === -1) return -1;
      if (bc === -1) return 1;
      if (ac !== CH_CARET) return 1;
      if (bc !== CH_CARET) return -1;
      ai++;
      bi++;
      continue;
    }
    if (ac === -1 || bc === -1) break;

    const kind = charClass(ac);
    const numeric = kind === DIGIT;
    let aj = ai + 1;
    let bj = bi;
    while (aj < ae && charClass(a.charCodeAt(aj)) === kind) aj++;
    while (bj < be && charClass(b.charCodeAt(bj)) === kind) bj++;
    // Segments of different kinds: the numeric one is newer.
    if (bj === bi) return numeric ? 1 : -1;

    let as = ai;
    let bs = bi;
    if (numeric) {
      while (as < aj && a.charCodeAt(as) === CH_0) as++;
      while (bs < bj && b.charCodeAt(bs) === CH_0) bs++;
      if (aj - as !== bj - bs) return aj - as > bj - bs ? 1 : -1;
    }
    const n = Math.min(aj - as, bj - bs);
    for (let k = 0; k < n; k++) {
      const d = a.charCodeAt(as + k) - b.charCodeAt(bs + k);
      if (d !== 0) return d < 0 ? -1 : 1;
    }
    if (aj - as !== bj - bs) return aj - as < bj - bs ? -1 : 1;
    ai = aj;
    bi = bj;
  }
  // All segments equal: the side with characters left is newer (only separators may remain on neither).
  if (ai >= ae && bi >= be) return 0;
  return ai >= ae ? -1 : 1;
}

// Offsets filled by split(): the epoch is v[0, EPOCH_END) (0: none or empty), the version
// v[V0, V1), the release v[R0, R1) (R0 = -1: no release, or an empty one).
const EPOCH_END = 0;
const V0 = 1;
const V1 = 2;
const R0 = 3;
const R1 = 4;
const spanA = new Int32Array(5);
const spanB = new Int32Array(5);

function split(v: string, out: Int32Array): void {
  let i = 0;
  while (i < v.length && isDigit(v.charCodeAt(i))) i++;
  const hasEpoch = i < v.length && v.charCodeAt(i) === 58; /* : */
  out[EPOCH_END] = hasEpoch ? i : 0;
  out[V0] = hasEpoch ? i + 1 : 0;
  // The last '-' always lies past the epoch digits, as parseEVR() requires.
  const hyphen = v.lastIndexOf('-');
  if (hyphen >= 0) {
    out[V1] = hyphen;
    out[R0] = hyphen + 1 < v.length ? hyphen + 1 : -1;
  } else {
    out[V1] = v.length;
    out[R0] = -1;
  }
  out[R1] = v.length;
}

const ZERO = '0';

function compare(a: string, b: string): -1 | 0 | 1 {
  split(a, spanA);
  split(b, spanB);
  // An empty or missing epoch is "0", compared with rpmvercmp like rpm does.
  const ae = spanA[EPOCH_END]! > 0;
  const be = spanB[EPOCH_END]! > 0;
  if (ae || be) {
    const byEpoch = vercmp(
      ae ? a : ZERO,
      0,
      ae ? spanA[EPOCH_END]! : 1,
      be ? b : ZERO,
      0,
      be ? spanB[EPOCH_END]! : 1,
    );
    if (byEpoch !== 0) return byEpoch;
  }
  const byVersion = vercmp(a, spanA[V0]!, spanA[V1]!, b, spanB[V0]!, spanB[V1]!);
  if (byVersion !== 0 || spanA[R0]! < 0 || spanB[R0]! < 0) return byVersion;
  return vercmp(a, spanA[R0]!, spanA[R1]!, b, spanB[R0]!, spanB[R1]!);
}

/**
 * true for a well-formed EVR as rpmbuild would produce it: optional numeric epoch, then version and
 * optional release, each non-empty, of ASCII letters, digits and `._+~^` (rpmbuild's allowed set minus
 * unexpanded macro characters), with no `..` (rpmbuild rejects it).
 */
function valid(v: string): boolean {
  split(v, spanA);
  if (spanA[R0]! < 0 && v.indexOf('-') >= 0) return false; // empty release ("1.0-")
  if (spanA[V0]! > 0 && spanA[EPOCH_END]! === 0) return false; // empty epoch (":1.0")
  return part(v, spanA[V0]!, spanA[V1]!) && (spanA[R0]! < 0 || part(v, spanA[R0]!, spanA[R1]!));
}

function part(v: string, start: number, end: number): boolean {
  if (start >= end) return false;
  let prevDot = false;
  for (let i = start; i < end; i++) {
    const c = v.charCodeAt(i);
    const dot = c === 46;
    if (dot && prevDot) return false;
    if (!dot && !isDigit(c) && !isAlpha(c) && c !== 95 && c !== 43 && c !== CH_TILDE && c !== CH_CARET)
      return false;
    prevDot = dot;
  }
  return true;
}

export const rpm = { name: 'rpm', compare, valid } satisfies VersionScheme;
