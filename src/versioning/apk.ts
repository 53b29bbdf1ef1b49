import type { VersionScheme } from './types.js';

/**
 * Alpine package versions, `digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]`, ordered as apk-tools
 * 3.x (src/version.c) does, which is what the shared vectors come from.
 *
 * The string is read as tokens; each token type may only follow certain others. Two versions are compared
 * token by token while both have a token of the same type. Numbers compare by value, except that a
 * dot-separated component with a leading zero on either side compares as a string (`1.02` < `1.1`,
 * `8.2.0` < `8.2.001`, Gentoo's rule); letters by character; suffixes in the order alpha < beta < pre <
 * rc < (none) < cvs < svn < git < hg < p; commit hashes as strings. At the first difference in token
 * type, a pre-release suffix is lower; otherwise the side whose token type comes later in the order digit,
 * letter, suffix, suffix number, hash, revision, end, invalid is lower (`1.0` < `1.0.1`, `1.0` < `1.0-r1`,
 * `1.0-r1` < `1.0a`, `1.0_rc1` < `1.0`).
 *
 * Invalid versions (how apk-tools treats them, kept here): reading stops at the first character that
 * cannot start an allowed token, and that spot counts as an INVALID token, lower than anything but a
 * pre-release suffix. So `1.0` > `1.0-foo`, valid versions sort above `abc`, and two strings that turn
 * invalid at the same token after equal prefixes are equal (`1.0_foo` = `1.0_bar`, `abc` = `xyz`).
 * Unlike apk-tools, which reads numbers into fixed-width integers, numbers of any length compare by their
 * exact value.
 */

// Token types, in apk-tools' order (the order matters for the final comparison).
const INITIAL_DIGIT = 0;
const DIGIT = 1;
const LETTER = 2;
const SUFFIX = 3;
const SUFFIX_NO = 4;
const COMMIT_HASH = 5;
const REVISION_NO = 6;
const END = 7;
const INVALID = 8;

// Suffix ranks; below NONE is a pre-release.
const SUFFIX_INVALID = -1;
const SUFFIX_NONE = 4;

const CH_0 = 48;
const CH_9 = 57;
const CH_A = 97;
const CH_F = 102;
const CH_Z = 122;

/** A tokenizer position over one version string; two live instances are reused by every compare. */
class Cursor {
  s = '';
  pos = 0;
  token = INVALID;
  start = 0;
  end = 0;
  suffix = SUFFIX_INVALID;

  first(s: string): void {
    this.s = s;
    this.pos = 0;
    this.token = this.digits() ? INITIAL_DIGIT : INVALID;
  }

  next(): void {
    this.token = this.scan(this.token);
  }

  /** Reads the token after one of type t, or says why there is none (END, INVALID). */
  private scan(t: number): number {
    const s = this.s;
    if (this.pos >= s.length) return END;
    const c = s.charCodeAt(this.pos);
    if (c >= CH_A && c <= CH_Z) {
      if (t > DIGIT) return INVALID;
      this.start = this.pos;
      this.end = ++this.pos;
      return LETTER;
    }
    if (c === 46 /* . */ || (c >= CH_0 && c <= CH_9)) {
      if (c === 46) {
        if (t > DIGIT) return INVALID;
        this.pos++;
      }
      const next = t === INITIAL_DIGIT || t === DIGIT ? DIGIT : t === SUFFIX ? SUFFIX_NO : INVALID;
      return next !== INVALID && this.digits() ? next : INVALID;
    }
    if (c === 95 /* _ */) {
      if (t > SUFFIX_NO) return INVALID;
      let i = ++this.pos;
      while (i < s.length && s.charCodeAt(i) >= CH_A && s.charCodeAt(i) <= CH_Z) i++;
      this.start = this.pos;
      this.end = this.pos = i;
      this.suffix = suffixRank(s, this.start, i);
      return this.suffix === SUFFIX_INVALID ? INVALID : SUFFIX;
    }
    if (c === 126 /* ~ */) {
      if (t >= COMMIT_HASH) return INVALID;
      let i = ++this.pos;
      for (; i < s.length; i++) {
        const h = s.charCodeAt(i);
        if (!((h >= CH_0 && h <= CH_9) || (h >= CH_A && h <= CH_F))) break;
      }
      this.start = this.pos;
      this.end = this.pos = i;
      return i === this.start ? INVALID : COMMIT_HASH;
    }
    if (c === 45 /* - */) {
      if (t >= REVISION_NO || s.charCodeAt(this.pos + 1) !== 114 /* r */) return INVALID;
      this.pos += 2;
      return this.digits() ? REVISION_NO : INVALID;
    }
    return INVALID;
  }

  /** Reads a run of digits; false when there is none. */
  private digits(): boolean {
    const s = this.s;
    let i = this.pos;
    while (i < s.length && s.charCodeAt(i) >= CH_0 && s.charCodeAt(i) <= CH_9) i++;
    this.start = this.pos;
    this.end = this.pos = i;
    return i > this.start;
  }
}

function suffixRank(s: string, start: number, end: number): number {
  const len = end - start;
  switch (s.charCodeAt(start)) {
    case 97:
      return len === 5 && s.startsWith('alpha', start) ? 0 : SUFFIX_INVALID;
    case 98:
      return len === 4 && s.startsWith('beta', start) ? 1 : SUFFIX_INVALID;
    case 112:
      if (len === 1) return 9;
      return len === 3 && s.startsWith('pre', start) ? 2 : SUFFIX_INVALID;
    case 114:
      return len === 2 && s.charCodeAt(start + 1) === 99 /* c */ ? 3 : SUFFIX_INVALID;
    case 99:
      return len === 3 && s.startsWith('cvs', start) ? 5 : SUFFIX_INVALID;
    case 115:
      return len === 3 && s.startsWith('svn', start) ? 6 : SUFFIX_INVALID;
    case 103:
      return len === 3 && s.startsWith('git', start) ? 7 : SUFFIX_INVALID;
    case 104:
      return len === 2 && s.charCodeAt(start + 1) === 103 /* g */ ? 8 : SUFFIX_INVALID;
    default:
      return SUFFIX_INVALID;
  }
}

function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** apk_blob_sort(): bytewise over the common length, then the shorter first. */
function compareStrings(a: Cursor, b: Cursor): -1 | 0 | 1 {
  const la = a.end - a.start;
  const lb = b.end - b.start;
  const n = Math.min(la, lb);
  for (let i = 0; i < n; i++) {
    const d = a.s.charCodeAt(a.start + i) - b.s.charCodeAt(b.start + i);
    if (d !== 0) return sign(d);
  }
  return sign(la - lb);
}

/** Digit runs by value, of any length. */
function compareNumbers(a: Cursor, b: Cursor): -1 | 0 | 1 {
  let ai = a.start;
  let bi = b.start;
  while (ai < a.end && a.s.charCodeAt(ai) === CH_0) ai++;
  while (bi < b.end && b.s.charCodeAt(bi) === CH_0) bi++;
  const la = a.end - ai;
  const lb = b.end - bi;
  if (la !== lb) return la < lb ? -1 : 1;
  for (; ai < a.end; ai++, bi++) {
    const d = a.s.charCodeAt(ai) - b.s.charCodeAt(bi);
    if (d !== 0) return sign(d);
  }
  return 0;
}

function compareTokens(a: Cursor, b: Cursor): -1 | 0 | 1 {
  switch (a.token) {
    case DIGIT:
      if (a.s.charCodeAt(a.start) === CH_0 || b.s.charCodeAt(b.start) === CH_0) return compareStrings(a, b);
      return compareNumbers(a, b);
    case INITIAL_DIGIT:
    case SUFFIX_NO:
    case REVISION_NO:
      return compareNumbers(a, b);
    case LETTER:
      return sign(a.s.charCodeAt(a.start) - b.s.charCodeAt(b.start));
    case SUFFIX:
      return sign(a.suffix - b.suffix);
    default:
      return compareStrings(a, b);
  }
}

const curA = new Cursor();
const curB = new Cursor();

function compare(a: string, b: string): -1 | 0 | 1 {
  const ta = curA;
  const tb = curB;
  ta.first(a);
  tb.first(b);
  while (ta.token === tb.token && ta.token < END) {
    const r = compareTokens(ta, tb);
    if (r !== 0) return r;
    ta.next();
    tb.next();
  }
  if (ta.token === tb.token) return 0;
  // The first difference in token type: a pre-release suffix is lower, else the later token type is.
  if (ta.token === SUFFIX && ta.suffix < SUFFIX_NONE) return -1;
  if (tb.token === SUFFIX && tb.suffix < SUFFIX_NONE) return 1;
  return ta.token > tb.token ? -1 : 1;
}

/** true when apk-tools would accept the string as a package version (apk_version_validate). */
function valid(v: string): boolean {
  const t = curA;
  t.first(v);
  while (t.token < END) t.next();
  return t.token === END;
}

export const apk = { name: 'apk', compare, valid } satisfies VersionScheme;
