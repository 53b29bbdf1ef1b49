import { boundedMemo } from '../util/memo.js';
import type { VersionScheme } from './types.js';

/**
 * RubyGems versions, ordered as Gem::Version#<=> (rubygems/version.rb).
 *
 * A version is digits, then `.`-separated alphanumeric parts, then optionally `-` and `.`-separated
 * parts of [0-9A-Za-z-], with ASCII whitespace around it allowed. Every `-` reads as `.pre.`
 * (`1.0.0-rc1` = `1.0.0.pre.rc1`). The segments are the runs of digits (numbers) and of letters (strings):
 * `1.0.a1` is [1, 0, "a", 1]. The canonical segments drop trailing zeros from the numeric part before the
 * first string and from the part after it (`1.0.a.0` = `1.a`). Segments compare in order, a missing one
 * as 0; a string ranks below a number (a letter anywhere makes a prerelease: `1.0.a` < `1.0`), and strings
 * compare bytewise, case-sensitively.
 *
 * Gem::Version reads a blank string as "0"; compare() does too, but valid('') is false (moat treats an
 * empty version as missing). Strings Gem::Version rejects sort below every valid version, and among
 * themselves by their UTF-16 code units.
 */

type Segment = number | bigint | string;

interface Parsed {
  ok: boolean;
  raw: string;
  segments: Segment[];
}

const PATTERN =
  /^[ \t\r\n\f\v]*(?:[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?[ \t\r\n\f\v]*$/;
const SEGMENT = /[0-9]+|[a-z]+/gi;

function segment(s: string): Segment {
  const c = s.charCodeAt(0);
  if (c < 48 || c > 57) return s;
  let i = 0;
  while (i < s.length - 1 && s.charCodeAt(i) === 48) i++;
  return s.length - i <= 15 ? Number(s.slice(i)) : BigInt(s);
}

/** Drops trailing zeros: Gem::Version#canonical_segments does this to each half. */
function trimZeros(segs: Segment[], start: number, end: number): Segment[] {
  let e = end;
  while (e > start && segs[e - 1] === 0) e--;
  return segs.slice(start, e);
}

function parse(v: string): Parsed {
  if (!PATTERN.test(v)) return { ok: false, raw: v, segments: [] };
  const segs = (v.trim().replaceAll('-', '.pre.').match(SEGMENT) ?? []).map(segment);
  const firstString = segs.findIndex((s) => typeof s === 'string');
  const split = firstString === -1 ? segs.length : firstString;
  return {
    ok: true,
    raw: v,
    segments: [...trimZeros(segs, 0, split), ...trimZeros(segs, split, segs.length)],
  };
}

// Matching loops compare one gem version against many range events: keep recent parses.
const parsed = boundedMemo(parse);

function compare(a: string, b: string): -1 | 0 | 1 {
  const pa = parsed(a);
  const pb = parsed(b);
  if (!pa.ok || !pb.ok) {
    if (pa.ok !== pb.ok) return pa.ok ? 1 : -1;
    return pa.raw < pb.raw ? -1 : pa.raw > pb.raw ? 1 : 0;
  }
  const x = pa.segments;
  const y = pb.segments;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const l = x[i] ?? 0;
    const r = y[i] ?? 0;
    if (l === r) continue;
    const ls = typeof l === 'string';
    if (ls !== (typeof r === 'string')) return ls ? -1 : 1;
    // Strings compare bytewise; the segments are ASCII, so code units order them alike.
    return l < r ? -1 : l > r ? 1 : 0;
  }
  return 0;
}

function valid(v: string): boolean {
  return v.trim() !== '' && parsed(v).ok;
}

export const rubygems = { name: 'rubygems', compare, valid } satisfies VersionScheme;
