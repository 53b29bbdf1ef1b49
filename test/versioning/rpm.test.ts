import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { rpm } from '../../src/versioning/rpm.js';
import { pick, prng } from './helpers.js';

/**
 * librpm through its Python binding (Debian: python3-rpm). Debian's module is built for the system
 * interpreter, which may not be the first python3 on PATH.
 */
type Release = 'none' | 'empty' | 'some';

function pythonWithRpm(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import rpm'], { stdio: 'ignore' });
    if (r.error === undefined && r.status === 0) return py;
  }
  return undefined;
}

// For each pair: rpmverCmp (what rpm.labelCompare and rpm.ver order by) and the dependency-range overlap
// of "= a" with "= b" and with "< b" (rpmdsCompare → rpmverOverlap, whose release rule moat follows).
const ORACLE = `
import json, sys, rpm
def ds(flags, evr):
    return rpm.ds(('x', flags, evr), rpm.RPMTAG_PROVIDENAME)
E, L = rpm.RPMSENSE_EQUAL, rpm.RPMSENSE_LESS
def rel(v):
    return 'none' if v.r is None else ('empty' if v.r == '' else 'some')
out = []
for a, b in json.load(sys.stdin):
    try:
        va, vb = rpm.ver(a), rpm.ver(b)
    except ValueError:
        out.append(None)
        continue
    cmp = -1 if va < vb else (1 if va > vb else 0)
    eq = bool(ds(E, a).Compare(ds(E, b)))
    lt = bool(ds(E, a).Compare(ds(L, b)))
    out.append([cmp, 0 if eq else (-1 if lt else 1), rel(va), rel(vb)])
json.dump(out, sys.stdout)
`;

const SEGMENTS = [
  '0',
  '1',
  '2',
  '9',
  '10',
  '01',
  '007',
  '123',
  '20240101',
  'a',
  'b',
  'Z',
  'rc',
  'git',
  'el9',
  'fc40',
];
const SEPARATORS = ['.', '.', '.', '_', '+', '~', '^'];

function part(rand: () => number): string {
  let s = pick(rand, SEGMENTS);
  for (let n = Math.floor(rand() * 4); n > 0; n--) {
    s += rand() < 0.6 ? pick(rand, SEPARATORS) + pick(rand, SEGMENTS) : pick(rand, SEGMENTS);
  }
  if (rand() < 0.08) s += pick(rand, ['~', '^', '.', '~rc1']);
  return s;
}

function evr(rand: () => number): string {
  const epoch = rand() < 0.25 ? `${pick(rand, ['0', '1', '2', '00', '10'])}:` : '';
  return epoch + part(rand) + (rand() < 0.6 ? `-${part(rand)}` : '');
}

/** A near neighbour, so that pairs often agree up to a late segment. */
function mutate(rand: () => number, v: string): string {
  const at = Math.floor(rand() * (v.length + 1));
  const op = rand();
  if (op < 0.35)
    return v.slice(0, at) + pick(rand, ['0', '1', 'a', 'Z', '.', '~', '^', '_', '%', '@']) + v.slice(at);
  if (op < 0.6 && at < v.length && v[at] !== '-' && v[at] !== ':') return v.slice(0, at) + v.slice(at + 1);
  if (op < 0.75) return v.includes('-') ? v.slice(0, v.lastIndexOf('-')) : `${v}-1`;
  if (op < 0.85) return v.includes(':') ? v.slice(v.indexOf(':') + 1) : `0:${v}`;
  return v.replace(/\d+/, (d) => `0${d}`);
}

describe('rpm', () => {
  it('compares epoch (missing = 0), then version, then release only when both sides have one', () => {
    assert.equal(rpm.compare('1:1.0', '2.0'), 1);
    assert.equal(rpm.compare('0:1.0-1', '1.0-1'), 0);
    assert.equal(rpm.compare(':1.0', '0:1.0'), 0);
    assert.equal(rpm.compare('1.0-1.el9', '1.0-2.el9'), -1);
    assert.equal(rpm.compare('1.0', '1.0-2.el9'), 0);
    assert.equal(rpm.compare('1.0-', '1.0-2'), 0);
    assert.equal(rpm.compare('1.0~rc1-5', '1.0-1'), -1);
    assert.equal(rpm.compare('1.0^git1', '1.0-9'), 1);
  });

  it('valid() accepts well-formed EVRs only', () => {
    for (const v of ['1.0', '1:1.0-1.el9', '0:2.4^20240101git1-3.fc40', '1.0~rc1_2+b-1', 'a']) {
      assert.equal(rpm.valid(v), true, v);
    }
    for (const v of ['', '-1', '1.0-', ':1.0', 'a:1.0', '1:', '1.0..1', '1.0-1 ', '1.0/1', '1.0-%{dist}']) {
      assert.equal(rpm.valid(v), false, v);
    }
  });

  it('agrees with librpm (python3-rpm) on generated EVR pairs', (t) => {
    const py = pythonWithRpm();
    if (!py) {
      t.skip('librpm Python binding not found (Debian package: python3-rpm)');
      return;
    }
    const rand = prng(0x52504d);
    const pairs: [string, string][] = [];
    while (pairs.length < 4000) {
      const a = evr(rand);
      pairs.push([a, rand() < 0.3 ? evr(rand) : mutate(rand, mutate(rand, a))]);
    }
    const r = spawnSync(py, ['-c', ORACLE], {
      input: JSON.stringify(pairs),
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    assert.equal(r.status, 0, r.stderr);
    const oracle = JSON.parse(r.stdout) as ([number, number, Release, Release] | null)[];
    assert.equal(oracle.length, pairs.length);

    const wrong: string[] = [];
    let mixed = 0;
    let equalAcross = 0;
    pairs.forEach(([a, b], i) => {
      const answer = oracle[i];
      if (answer === null || answer === undefined) {
        // rpm.ver() refuses an empty EVR; so does valid().
        if (rpm.valid(a) && rpm.valid(b))
          wrong.push(`${a} vs ${b}: librpm rejected a version valid() accepts`);
        return;
      }
      const [cmp, overlap, relA, relB] = answer;
      const ours = rpm.compare(a, b);
      if (ours !== overlap) wrong.push(`${a} vs ${b}: ours ${ours}, rpm range overlap says ${overlap}`);
      if (relA === relB && relA !== 'empty') {
        // With a release on both sides or on neither, rpm's total order (labelCompare) agrees too.
        if (ours !== cmp) wrong.push(`${a} vs ${b}: ours ${ours}, rpm.labelCompare ${cmp}`);
      } else if (relA === 'some' || relB === 'some') {
        mixed++;
        if (ours === 0 && cmp !== 0) equalAcross++;
      }
    });
    assert.deepEqual(wrong.slice(0, 20), []);
    // The generated set exercises the release rule where it differs from labelCompare.
    assert.ok(
      mixed > 200 && equalAcross > 20,
      `mixed ${mixed}, equal across a missing release ${equalAcross}`,
    );
  });
});
