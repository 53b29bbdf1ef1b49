import { boundedMemo } from '../util/memo.js';
import type { VersionScheme } from './types.js';

/**
 * NuGet package versions, parsed and ordered as NuGet.Versioning's NuGetVersion.TryParse and
 * VersionComparer.Default (https://learn.microsoft.com/nuget/concepts/package-versioning):
 * `Major[.Minor[.Patch[.Revision]]][-label(.label)*][+metadata]`, surrounding whitespace trimmed.
 *
 * Version numbers are 32-bit signed integers (0 to 2147483647) with leading zeros allowed and dropped
 * (`1.01` = 1.1.0.0); missing parts are 0 (`1` = `1.0` = `1.0.0.0`). Release labels are non-empty
 * [0-9A-Za-z-] identifiers, numeric ones without leading zeros; metadata identifiers are [0-9A-Za-z-] too
 * and are ignored. Order: the four numbers, then a release ranks below no release, labels compare one by
 * one (numeric ones by value and below alphanumeric ones, alphanumeric ones case-insensitively by
 * ordinal), and more labels rank above fewer when all shared ones are equal.
 *
 * Strings NuGet rejects sort below every valid version, and among themselves by their UTF-16 code units.
 */

interface Parsed {
  ok: boolean;
  raw: string;
  /** major, minor, patch, revision */
  version: number[];
  /** release labels, uppercased for the ordinal-ignore-case comparison; empty for none */
  labels: (number | string)[];
}

const INT32_MAX = 2147483647;
// .NET's char.IsWhiteSpace, which String.Trim() strips (JavaScript's \s differs on U+0085 and U+FEFF).
const WS = '[\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const TRIM = new RegExp(`^${WS}+|${WS}+$`, 'g');
// The white space System.Version's int parsing allows around each number.
const NUMBER_PART = /^[\t\n\v\f\r ]*([0-9]+)[\t\n\v\f\r ]*$/;
const IDENT = /^[0-9A-Za-z-]+$/;
// int.TryParse on a label: an optional sign; "-" is a label character, so "-1" is numeric too.
const INT_LABEL = /^-?[0-9]+$/;

function invalid(raw: string): Parsed {
  return { ok: false, raw, version: [], labels: [] };
}

/** An identifier NuGet accepts: non-empty [0-9A-Za-z-], and if all digits then no leading zero. */
function validIdent(s: string, allowLeadingZeros: boolean): boolean {
  if (!IDENT.test(s)) return false;
  return allowLeadingZeros || s.length === 1 || s.charCodeAt(0) !== 48 || !/^[0-9]+$/.test(s);
}

function parse(raw: string): Parsed {
  const s = raw.replace(TRIM, '');
  // The version part ends at the first `-` or `+`; labels run from that `-` to the next `+`.
  let end = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 45 || c === 43) {
      end = i;
      break;
    }
  }
  if (end === 0 || end === s.length - 1) return invalid(raw);
  const parts = s.slice(0, end).split('.');
  if (parts.length > 4) return invalid(raw);
  const version = [0, 0, 0, 0];
  for (let i = 0; i < parts.length; i++) {
    const m = NUMBER_PART.exec(parts[i]!);
    const n = m ? Number(m[1]) : Number.NaN;
    if (!(n <= INT32_MAX)) return invalid(raw);
    version[i] = n;
  }
  let rest = s.slice(end);
  let labels: (number | string)[] = [];
  if (rest.charCodeAt(0) === 45) {
    const plus = rest.indexOf('+');
    const release = plus < 0 ? rest.slice(1) : rest.slice(1, plus);
    rest = plus < 0 ? '' : rest.slice(plus);
    const ids = release.split('.');
    if (!ids.every((id) => validIdent(id, false))) return invalid(raw);
    labels = ids.map((id) => {
      const n = INT_LABEL.test(id) ? Number(id) : Number.NaN;
      return Math.abs(n) <= INT32_MAX ? n : id.toUpperCase();
    });
  }
  if (
    rest !== '' &&
    !rest
      .slice(1)
      .split('.')
      .every((id) => validIdent(id, true))
  )
    return invalid(raw);
  return { ok: true, raw, version, labels };
}

// Matching loops compare one package version against many range events: keep recent parses.
const parsed = boundedMemo(parse);

function cmp(a: number | string, b: number | string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compare(a: string, b: string): -1 | 0 | 1 {
  const pa = parsed(a);
  const pb = parsed(b);
  if (!pa.ok || !pb.ok) return pa.ok !== pb.ok ? (pa.ok ? 1 : -1) : cmp(pa.raw, pb.raw);
  for (let i = 0; i < 4; i++) {
    const r = cmp(pa.version[i]!, pb.version[i]!);
    if (r !== 0) return r;
  }
  const x = pa.labels;
  const y = pb.labels;
  if (x.length === 0 || y.length === 0) return x.length === y.length ? 0 : x.length === 0 ? 1 : -1;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const l = x[i]!;
    const r = y[i]!;
    const ln = typeof l === 'number';
    if (ln !== (typeof r === 'number')) return ln ? -1 : 1;
    const c = cmp(l, r);
    if (c !== 0) return c;
  }
  return cmp(x.length, y.length);
}

function valid(v: string): boolean {
  return parsed(v).ok;
}

export const nuget = { name: 'nuget', compare, valid } satisfies VersionScheme;
