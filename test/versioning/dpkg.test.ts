import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dpkg } from '../../src/versioning/dpkg.js';
import { hasCommand, pick, prng, runShell, shQuote } from './helpers.js';

const DIGITS = ['0', '1', '2', '9', '10', '01', '007', '123', '20240101', '4294967296'];
const LETTERS = ['a', 'b', 'z', 'A', 'Z', 'rc', 'dfsg', 'git', 'bpo', 'ubuntu'];
const UPSTREAM_SEPARATORS = ['.', '.', '+', '~', '~~'];
const REVISION_SEPARATORS = ['.', '+', '~'];
// Characters dpkg accepts with only a "bad syntax" warning; it still compares such versions.
const ODD = ['_', '%', '=', '!', ',', '@'];
const EDIT_CHARS = '0123456789azAZ.+~';

function part(rand: () => number, separators: string[]): string {
  const r = rand();
  if (r < 0.4) return pick(rand, DIGITS);
  if (r < 0.7) return pick(rand, LETTERS);
  return pick(rand, separators);
}

/** A random version: mostly policy-conforming, with epochs, tildes, letters, revisions, and a few odd ones. */
function version(rand: () => number): string {
  const epoch = rand() < 0.3 ? `${pick(rand, ['0', '1', '2', '10', '01', '00'])}:` : '';
  const revision = rand() < 0.6;
  let upstream = pick(rand, DIGITS);
  for (let n = Math.floor(rand() * 5); n > 0; n--) {
    upstream += part(rand, UPSTREAM_SEPARATORS);
    if (epoch && rand() < 0.05) upstream += ':';
    if (revision && rand() < 0.05) upstream += '-';
  }
  let v = epoch + upstream;
  if (revision) {
    let rev = pick(rand, [...DIGITS, ...LETTERS]);
    for (let n = Math.floor(rand() * 3); n > 0; n--) rev += part(rand, REVISION_SEPARATORS);
    v += `-${rev}`;
  }
  if (rand() < 0.05) {
    const at = Math.floor(rand() * (v.length + 1));
    v = v.slice(0, at) + pick(rand, [...ODD, 'x']) + v.slice(at);
  }
  return v;
}

/** A near neighbour of v, so that comparisons are decided deep inside the strings. */
function mutate(rand: () => number, v: string): string {
  for (let edits = 1 + Math.floor(rand() * 2); edits > 0; edits--) {
    const at = Math.floor(rand() * (v.length + 1));
    const op = rand();
    if (op < 0.3) v = v.slice(0, at) + pick(rand, [...EDIT_CHARS]) + v.slice(at);
    else if (op < 0.55 && at < v.length && v[at] !== ':' && v[at] !== '-')
      v = v.slice(0, at) + v.slice(at + 1);
    else if (op < 0.75 && at < v.length && v[at] !== ':' && v[at] !== '-') {
      v = v.slice(0, at) + pick(rand, [...EDIT_CHARS]) + v.slice(at + 1);
    } else if (op < 0.82) v += '~';
    else if (op < 0.88) v = v.includes('-') ? v.slice(0, v.lastIndexOf('-')) : `${v}-0`;
    else if (op < 0.94) v = v.includes(':') ? v.slice(v.indexOf(':') + 1) : `0:${v}`;
    else v = v.replace(/\d+/, (d) => `0${d}`);
  }
  return v;
}

// Edge cases of parsing and validity, compared with themselves (and so checked by dpkg for syntax).
const EDGES = [
  '1.0',
  ' 1.0',
  '1.0 ',
  '1 .0',
  '1:',
  ':1',
  '1:a',
  'a:1',
  '-1',
  '1-',
  '1.0-a-b',
  '0:0:0',
  '0:0-0:0',
  '1:1-',
  '2147483647:1',
  '2147483648:1',
  '99999999999999999999:1',
  '1_0',
  'a1',
  '1.0-1_2',
  '~',
  '1~',
  '1.0+~-~',
  '0:09azAZ.-+~:-0',
  '1.0-+',
  '+1:1',
  '-0:1',
  '-1:1',
  '',
  ' ',
];

describe('dpkg', () => {
  it('orders epoch first, numerically, then upstream, then revision', () => {
    assert.equal(dpkg.compare('1:0.1', '0:9.9'), 1);
    assert.equal(dpkg.compare('10:1', '9:1'), 1);
    assert.equal(dpkg.compare('0010:1', '10:1'), 0);
    assert.equal(dpkg.compare('1.0-2', '1.0.1-1'), -1);
    assert.equal(dpkg.compare('1.0-1', '1.0'), 1);
    assert.equal(dpkg.compare('1.0-0', '1.0'), 0);
  });

  it('falls back without throwing for strings dpkg rejects', () => {
    // Empty revision compares like none; a non-numeric epoch is part of the upstream string.
    assert.equal(dpkg.compare('1.0-', '1.0'), 0);
    assert.equal(dpkg.compare('a:1', '0:a:1'), 0);
    assert.equal(dpkg.compare('99999999999999999999:1', '99999999999999999998:2'), 1);
    assert.equal(dpkg.valid('1.0-'), false);
    assert.equal(dpkg.valid('a:1'), false);
  });

  it('agrees with `dpkg --compare-versions` on generated pairs, and valid() with its syntax checks', async (t) => {
    if (!hasCommand('dpkg', ['--version'])) {
      t.skip('dpkg not installed (Debian package: dpkg)');
      return;
    }
    const rand = prng(0x5eed_d9c6);
    const pairs: [string, string][] = EDGES.map((v) => [v, v]);
    for (const v of EDGES) pairs.push([v, '1.0']);
    while (pairs.length < 3000) {
      const a = version(rand);
      pairs.push([a, rand() < 0.35 ? version(rand) : mutate(rand, a)]);
    }
    // One dpkg run per pair asks whether our answer holds (exit 0), is wrong (1) or the input is an error (2).
    const ops = pairs.map(([a, b]) => {
      const r = dpkg.compare(a, b);
      return r < 0 ? 'lt' : r > 0 ? 'gt' : 'eq';
    });
    // dpkg takes a first argument starting with '-' for an option, so such a pair is asked the other way round.
    const REVERSED = { lt: 'gt', gt: 'lt', eq: 'eq' } as const;
    const asked = pairs.map(([a, b], i) => (a.startsWith('-') ? [b, REVERSED[ops[i]!], a] : [a, ops[i]!, b]));
    const lines = asked.map(([a, op, b]) =>
      a!.startsWith('-')
        ? 'echo skip'
        : `dpkg --compare-versions ${shQuote(a!)} ${op} ${shQuote(b!)}; echo $?`,
    );
    const batches = 2;
    const size = Math.ceil(lines.length / batches);
    const results = await Promise.all(
      Array.from({ length: batches }, (_, k) =>
        runShell(`${lines.slice(k * size, (k + 1) * size).join('\n')}\n`),
      ),
    );
    const codes = results.flatMap((r) => r.stdout.trim().split('\n'));
    assert.equal(codes.length, pairs.length);

    // Versions dpkg reported, with a warning or an error, as having bad syntax.
    const bad = new Set<string>();
    for (const r of results) {
      for (const m of r.stderr.matchAll(/version '([^']*)' has bad syntax/g)) bad.add(m[1]!);
    }
    const wrong: string[] = [];
    let confirmed = 0;
    pairs.forEach(([a, b], i) => {
      if (codes[i] === 'skip') return;
      if (codes[i] === '0') confirmed++;
      else if (codes[i] === '1') wrong.push(`${a} ${ops[i]} ${b} is false for dpkg`);
      else if (!bad.has(a) && !bad.has(b))
        wrong.push(`${a} vs ${b}: dpkg exit ${codes[i]} without a syntax error`);
    });
    assert.deepEqual(wrong, []);
    assert.ok(confirmed >= 2800, `only ${confirmed} of ${pairs.length} pairs were confirmed by dpkg`);

    const mismatched: string[] = [];
    // Versions dpkg parsed: the first argument, and the second unless the first was already an error.
    const parsed = new Set<string>();
    asked.forEach(([a, , b], i) => {
      if (codes[i] === 'skip') return;
      parsed.add(a!);
      if (codes[i] !== '2' || !bad.has(a!)) parsed.add(b!);
    });
    for (const v of parsed) {
      if (v === '') continue; // dpkg --compare-versions takes '' as the blank version, not as a syntax error
      if (dpkg.valid(v) === bad.has(v)) mismatched.push(`${JSON.stringify(v)}: valid() = ${dpkg.valid(v)}`);
    }
    assert.deepEqual(mismatched, []);
    assert.ok(bad.size > 20, 'the generated set includes versions dpkg rejects');
  });
});
