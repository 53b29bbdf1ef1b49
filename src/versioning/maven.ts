import { boundedMemo } from '../util/memo.js';
import type { VersionScheme } from './types.js';

/**
 * Maven versions, ordered as maven-artifact's ComparableVersion on Maven's master (4.x) line
 * (https://maven.apache.org/pom.html#version-order-specification). Maven 3.8/3.9 order most versions
 * alike but differ on qualifiers joined to numbers by `-` (`1-a-1`), on release qualifiers followed by more
 * (`1-ga1`, MNG-7714) and on a few malformed forms; moat follows the current algorithm.
 *
 * The lowercased string is split into items at `.` and `-` and at every change between ASCII digits and
 * other characters. A `-`, or a change from digits to letters, opens a sub-list (which ranks below a
 * number: `1-1` < `1.1`); a trailing `.X` qualifier is read like `-X` (`2.0.X` = `2-X`). Letters followed by
 * digits form one combination item (`rc1`, and `rc-1` likewise); `a1`/`b1`/`m1` stand for alpha/beta/
 * milestone 1, `cr` for rc. Numbers compare by value, qualifiers in the order alpha < beta < milestone <
 * rc < snapshot < "" (= ga = final = release) < sp, unknown qualifiers after them in lexical order, and
 * a number ranks above any qualifier. Trailing zeros and empty qualifiers are dropped (`1.0` = `1` =
 * `1-ga`). Only ASCII 0-9 count as digits (`1` > U+0668, which is a qualifier).
 *
 * Every string is a version here, as in Maven; two fallbacks where ComparableVersion throws: strings
 * longer than 256 characters are compared all the same, and a combination whose digit part has letters
 * after a non-ASCII digit (`a٨b1`) takes the value of its leading digits. valid() is true for non-empty
 * strings of at most 256 characters without whitespace or control characters.
 */

type Num = number | bigint;

const NUM = 0;
const STR = 1;
const COMB = 2;
const LIST = 3;

interface NumItem {
  t: typeof NUM;
  v: Num;
}
interface StrItem {
  t: typeof STR;
  /** the qualifier's sort key: "0".."6" for known qualifiers ("5" for release), "7-<name>" for others */
  q: string;
  empty: boolean;
}
interface CombItem {
  t: typeof COMB;
  s: StrItem;
  d: NumItem;
}
interface ListItem {
  t: typeof LIST;
  items: Item[];
}
type Item = NumItem | StrItem | CombItem | ListItem;

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const RELEASE = String(QUALIFIERS.indexOf(''));

function qualifierKey(q: string): string {
  if (q === 'ga' || q === 'final' || q === 'release') return RELEASE;
  const i = QUALIFIERS.indexOf(q);
  return i === -1 ? `${QUALIFIERS.length}-${q}` : String(i);
}

function strItem(value: string, followedByDigit: boolean): StrItem {
  let v = value;
  if (followedByDigit && v.length === 1)
    v = v === 'a' ? 'alpha' : v === 'b' ? 'beta' : v === 'm' ? 'milestone' : v;
  return { t: STR, q: qualifierKey(v === 'cr' ? 'rc' : v), empty: v === '' };
}

// Java's Character.isDigit(char): any decimal digit of the BMP, which CombinationItem uses to split.
const UNICODE_DIGIT = /\p{Nd}/u;

function isUnicodeDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c < 128) return c >= 48 && c <= 57;
  return c < 0xd800 || c > 0xdfff ? UNICODE_DIGIT.test(s[i]!) : false;
}

/** The value of a decimal digit of any script (Unicode digits come in runs of ten from zero). */
function digitValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 128) return c - 48;
  let zero = c;
  while (zero > c - 9 && UNICODE_DIGIT.test(String.fromCharCode(zero - 1))) zero--;
  return c - zero;
}

function numItem(buf: string): NumItem {
  // Integer.parseInt and BigInteger read digits of any script; stop at anything else (a fallback).
  let i = 0;
  let ascii = true;
  for (; i < buf.length && isUnicodeDigit(buf, i); i++) if (buf.charCodeAt(i) > 57) ascii = false;
  if (i === 0) return { t: NUM, v: 0 };
  if (ascii) {
    let z = 0;
    while (z < i - 1 && buf.charCodeAt(z) === 48) z++;
    return { t: NUM, v: i - z <= 15 ? Number(buf.slice(z, i)) : BigInt(buf.slice(z, i)) };
  }
  let v = 0n;
  for (let j = 0; j < i; j++) v = v * 10n + BigInt(digitValue(buf, j));
  return { t: NUM, v: v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v };
}

function combItem(value: string): CombItem {
  let index = 0;
  for (let i = 0; i < value.length; i++) {
    if (isUnicodeDigit(value, i)) {
      index = i;
      break;
    }
  }
  return { t: COMB, s: strItem(value.slice(0, index), true), d: numItem(value.slice(index)) };
}

function parseItem(isCombination: boolean, isDigit: boolean, buf: string): Item {
  if (isCombination) return combItem(buf.replaceAll('-', ''));
  if (isDigit) return numItem(buf);
  return strItem(buf, false);
}

/** Item.isNull(): zero, the empty qualifier, an empty list. */
function isNull(item: Item): boolean {
  switch (item.t) {
    case NUM:
      return item.v === 0 || item.v === 0n;
    case STR:
      return item.empty;
    case COMB:
      return false;
    default:
      return item.items.length === 0;
  }
}

/** ComparableVersion.ListItem.normalize(): drops null items before a qualifier or at the end. */
function normalize(list: ListItem): void {
  const items = list.items;
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (!isNull(item)) continue;
    const next = items[i + 1];
    if (next === undefined || next.t === STR) items.splice(i, 1);
    else if (next.t === LIST) {
      const first = next.items[0];
      if (first !== undefined && (first.t === COMB || first.t === STR)) items.splice(i, 1);
    }
  }
  // Removing a zero prefix must not leave an extra level of nesting ("0-x" = "x").
  const only = items.length === 1 ? items[0] : undefined;
  if (only?.t === LIST) list.items = only.items;
}

function isAsciiDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function parse(version: string): ListItem {
  const v = version.toLowerCase();
  const root: ListItem = { t: LIST, items: [] };
  let list = root;
  const stack: ListItem[] = [root];
  let isDigit = false;
  let isCombination = false;
  let start = 0;
  const push = (): void => {
    const child: ListItem = { t: LIST, items: [] };
    list.items.push(child);
    list = child;
    stack.push(child);
  };
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 46 /* . */) {
      list.items.push(i === start ? { t: NUM, v: 0 } : parseItem(isCombination, isDigit, v.slice(start, i)));
      isCombination = false;
      start = i + 1;
    } else if (c === 45 /* - */) {
      if (i === start) list.items.push({ t: NUM, v: 0 });
      else {
        // X-1 is read as X1.
        if (!isDigit && i !== v.length - 1 && isUnicodeDigit(v, i + 1)) {
          isCombination = true;
          continue;
        }
        list.items.push(parseItem(isCombination, isDigit, v.slice(start, i)));
      }
      start = i + 1;
      if (list.items.length > 0) push();
      isCombination = false;
    } else if (isAsciiDigit(c)) {
      if (!isDigit && i > start) {
        isCombination = true;
        if (list.items.length > 0) push();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.items.push(parseItem(isCombination, true, v.slice(start, i)));
        start = i;
        push();
        isCombination = false;
      }
      isDigit = false;
    }
  }
  if (v.length > start) {
    // 1.0.0.X1 < 1.0.0-X2: a trailing .X is read as -X.
    if (!isDigit && list.items.length > 0) push();
    list.items.push(parseItem(isCombination, isDigit, v.slice(start)));
  }
  for (let i = stack.length - 1; i >= 0; i--) normalize(stack[i]!);
  return root;
}

function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function cmpStr(a: string, b: string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** a.compareTo(b) of ComparableVersion's items; b undefined is Java's null (a missing item). */
function compareItem(a: Item, b: Item | undefined): -1 | 0 | 1 {
  switch (a.t) {
    case NUM:
      if (b === undefined) return isNull(a) ? 0 : 1;
      if (b.t !== NUM) return 1;
      return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
    case STR:
      if (b === undefined) return cmpStr(a.q, RELEASE);
      switch (b.t) {
        case NUM:
          return -1;
        case STR:
          return cmpStr(a.q, b.q);
        case COMB: {
          const r = compareItem(a, b.s);
          if (r !== 0) return r;
          return compareItem(a, undefined) === 0 ? sign(-compareItem(b.d, undefined)) : -1;
        }
        default:
          return sign(-compareItem(b, a));
      }
    case COMB:
      if (b === undefined) return compareItem(a.s, undefined) || compareItem(a.d, undefined);
      switch (b.t) {
        case NUM:
          return -1;
        case STR: {
          const r = compareItem(a.s, b);
          if (r !== 0) return r;
          // X1 > X, except that a release qualifier's number decides: 1-ga1 > 1-ga.
          return compareItem(a.s, undefined) === 0 ? compareItem(a.d, undefined) : 1;
        }
        case COMB:
          return compareItem(a.s, b.s) || compareItem(a.d, b.d);
        default:
          return sign(-compareItem(b, a));
      }
    default:
      return compareList(a, b);
  }
}

function compareList(a: ListItem, b: Item | undefined): -1 | 0 | 1 {
  const items = a.items;
  if (b === undefined) {
    // The whole list against null, not just its first item (MNG-6964).
    for (const item of items) {
      const r = compareItem(item, undefined);
      if (r !== 0) return r;
    }
    return 0;
  }
  switch (b.t) {
    case NUM:
      return -1;
    case STR:
    case COMB: {
      let r = items.length === 0 ? sign(-compareItem(b, undefined)) : compareItem(items[0]!, b);
      for (let i = 1; r === 0 && i < items.length; i++) r = compareItem(items[i]!, undefined);
      return r;
    }
    default: {
      const other = b.items;
      const n = Math.max(items.length, other.length);
      for (let i = 0; i < n; i++) {
        const l = items[i];
        const r = other[i];
        const c =
          l === undefined ? (r === undefined ? 0 : sign(-compareItem(r, undefined))) : compareItem(l, r);
        if (c !== 0) return c;
      }
      return 0;
    }
  }
}

// Matching loops compare one package version against many range events: keep recent parses.
const parsed = boundedMemo(parse);

function compare(a: string, b: string): -1 | 0 | 1 {
  return compareList(parsed(a), parsed(b));
}

const MAX_LENGTH = 256;
const BAD_CHAR = /[\s\u0000-\u001f\u007f]/u;

function valid(v: string): boolean {
  return v.length > 0 && v.length <= MAX_LENGTH && !BAD_CHAR.test(v);
}

export const maven = { name: 'maven', compare, valid } satisfies VersionScheme;
