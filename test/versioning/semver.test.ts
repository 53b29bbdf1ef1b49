import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { semver } from '../../src/versioning/semver.js';
import { checkTotalOrder, pick, prng } from './helpers.js';

interface NodeSemver {
  compare(a: string, b: string, opts: { loose: boolean }): number;
  valid(v: string): string | null;
  parse(v: string, opts: { loose: boolean }): unknown;
  SEMVER_SPEC_VERSION: string;
}

/** node-semver as npm bundles it (`$(npm root -g)/npm/node_modules/semver`): node itself ships none. */
function npmSemver(): NodeSemver | undefined {
  const r = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  const dir = join(r.stdout.trim(), 'npm', 'node_modules', 'semver');
  if (!existsSync(join(dir, 'package.json'))) return undefined;
  return createRequire(import.meta.url)(dir) as NodeSemver;
}

const NUMBERS = [
  '0',
  '1',
  '2',
  '9',
  '10',
  '01',
  '00',
  '123',
  '9007199254740991',
  '9007199254740992',
  '99999999999999999999',
];
const IDENTS = [
  'alpha',
  'beta',
  'rc',
  'pre',
  '0',
  '1',
  '2',
  '11',
  '01',
  'a-b',
  '-',
  'x1',
  '1x',
  'A',
  'Z',
  'z',
  'RC',
];

/** A random, often malformed, version string in npm's style. */
function version(rand: () => number): string {
  let v = `${pick(rand, ['', '', '', '', 'v', '=', 'v=', ' ', '  v', 'V', '=v '])}${pick(rand, NUMBERS)}`;
  if (rand() < 0.93) v += `.${pick(rand, NUMBERS)}`;
  if (rand() < 0.9) v += `.${pick(rand, NUMBERS)}`;
  if (rand() < 0.6) {
    const ids = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(rand, IDENTS));
    v += pick(rand, ['-', '-', '-', '']) + ids.join('.');
  }
  if (rand() < 0.2) v += `+${pick(rand, ['b1', 'x.y', '001', 'meta-data', '', 'a..b'])}`;
  if (rand() < 0.08) v = v.slice(0, Math.floor(rand() * v.length));
  if (rand() < 0.05) v += pick(rand, [' ', '.', '..', '+', '-', '_x', '.4']);
  return v;
}

describe('semver', () => {
  it('orders by SemVer 2.0.0 precedence (semver.org item 11 examples)', () => {
    const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2'];
    ordered.push('1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '2.0.0', '2.1.0', '2.1.1');
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        assert.equal(
          semver.compare(ordered[i]!, ordered[j]!),
          Math.sign(i - j),
          `${ordered[i]} vs ${ordered[j]}`,
        );
      }
    }
  });

  it('ignores build metadata and reads loose prefixes and leading zeros as node-semver does', () => {
    assert.equal(semver.compare('1.0.0+build.1', '1.0.0+build.2'), 0);
    assert.equal(semver.compare('=v1.2.3', 'v 1.2.3'), 0);
    assert.equal(semver.compare('01.002.0003', '1.2.3'), 0);
    assert.equal(semver.compare('1.2.3beta', '1.2.3-beta'), 0);
    assert.equal(semver.compare('1.2.3-01', '1.2.3-1'), 0);
  });

  it('reads partial versions as zero-filled, as OSV SEMVER data needs, and compares numbers exactly', () => {
    assert.equal(semver.compare('1.2', '1.2.0'), 0);
    assert.equal(semver.compare('v1', '1.0.0'), 0);
    assert.equal(semver.compare('1.2-rc.1', '1.2.0'), -1);
    assert.equal(semver.compare('1.0.99999999999999999999', '1.0.99999999999999999998'), 1);
    assert.equal(semver.compare('1.0.0-99999999999999999999', '1.0.0-99999999999999999998'), 1);
  });

  it('sorts invalid strings below valid ones, and among themselves by code unit', () => {
    assert.equal(semver.compare('not-a-version', '0.0.0-0'), -1);
    assert.equal(semver.compare('1.2.3.4', '0.0.1'), -1);
    assert.equal(semver.compare('abc', 'abd'), -1);
    assert.equal(semver.compare('', 'x'), -1);
  });

  it('valid() is strict: one optional v, no leading zeros, safe integers, at most 256 characters', () => {
    for (const v of [
      '1.2.3',
      'v1.2.3',
      ' 1.2.3 ',
      '1.2.3-0',
      '1.2.3-rc.1+b.2',
      '9007199254740991.0.0',
      '1.0.0-x-y-z.--',
    ]) {
      assert.equal(semver.valid(v), true, v);
    }
    for (const v of [
      '',
      '1.2',
      '=1.2.3',
      'vv1.2.3',
      '01.2.3',
      '1.2.3-01',
      '1.2.3beta',
      '9007199254740992.0.0',
    ]) {
      assert.equal(semver.valid(v), false, v);
    }
    assert.equal(semver.valid(`1.2.3-${'a'.repeat(250)}`), true);
    assert.equal(semver.valid(`1.2.3-${'a'.repeat(251)}`), false);
  });

  it('is a total order on generated strings, valid or not', () => {
    const rand = prng(0x5e3);
    assert.deepEqual(
      checkTotalOrder(
        semver.compare,
        Array.from({ length: 700 }, () => version(rand)),
      ),
      [],
    );
  });

  it("agrees with npm's node-semver on generated pairs (compare loose, valid strict)", (t) => {
    const ns = npmSemver();
    if (!ns) {
      t.skip('npm and its bundled semver package not found');
      return;
    }
    const rand = prng(0x5e4);
    const wrong: string[] = [];
    let compared = 0;
    for (let i = 0; i < 20000; i++) {
      const a = version(rand);
      const b = rand() < 0.5 ? version(rand) : a.replace(/\d+/, pick(rand, ['0', '1', '2', '01']));
      for (const v of [a, b]) {
        if (semver.valid(v) !== (ns.valid(v) !== null))
          wrong.push(`valid(${JSON.stringify(v)}): ours ${semver.valid(v)}`);
      }
      let expected: number;
      try {
        expected = ns.compare(a, b, { loose: true });
      } catch {
        continue; // outside node-semver's grammar: moat's fallback order, checked above
      }
      compared++;
      const ours = semver.compare(a, b);
      if (ours !== expected)
        wrong.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: ours ${ours}, node-semver ${expected}`);
    }
    assert.deepEqual(wrong.slice(0, 20), []);
    assert.ok(compared > 5000, `only ${compared} pairs in node-semver's grammar`);
  });
});
