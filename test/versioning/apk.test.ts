import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apk } from '../../src/versioning/apk.js';
import { pick, prng, VECTORS_DIR } from './helpers.js';

/** apk-tools' own validity cases (test/unit/version.data), as `version<TAB>true|false`. */
function validityRows(): { version: string; valid: boolean }[] {
  const [header, ...lines] = readFileSync(join(VECTORS_DIR, 'apk-valid.tsv'), 'utf8').trimEnd().split('\n');
  assert.equal(header, 'version\tvalid');
  return lines.map((l) => {
    const [version, valid] = l.split('\t');
    assert.ok(version !== undefined && (valid === 'true' || valid === 'false'), l);
    return { version, valid: valid === 'true' };
  });
}

const SUFFIXES = ['alpha', 'beta', 'pre', 'rc', 'cvs', 'svn', 'git', 'hg', 'p'];

/** A random apk version; about one in six is damaged somewhere (an invalid tail or character). */
function version(rand: () => number): string {
  let v = pick(rand, ['0', '1', '2', '10', '01', '006']);
  for (let n = Math.floor(rand() * 4); n > 0; n--)
    v += `.${pick(rand, ['0', '1', '2', '9', '10', '00', '01', '007'])}`;
  if (rand() < 0.2) v += pick(rand, ['a', 'b', 'z']);
  for (let n = Math.floor(rand() * 3); n > 0; n--) {
    v += `_${pick(rand, SUFFIXES)}${rand() < 0.5 ? pick(rand, ['', '0', '1', '2', '10', '20240101']) : ''}`;
  }
  if (rand() < 0.15) v += `~${pick(rand, ['0', '1a', 'abc', 'ff00', 'deadbeef'])}`;
  if (rand() < 0.5) v += `-r${pick(rand, ['0', '1', '2', '10', '01'])}`;
  if (rand() < 0.17) {
    const at = Math.floor(rand() * (v.length + 1));
    v = v.slice(0, at) + pick(rand, ['-', '_', '.', 'x', '!', '_foo', '-r', 'A', '~']) + v.slice(at);
  }
  return v;
}

describe('apk', () => {
  it("valid() agrees with apk-tools' validity cases", () => {
    const rows = validityRows();
    assert.ok(rows.length > 20);
    for (const r of rows) assert.equal(apk.valid(r.version), r.valid, r.version);
  });

  it('orders suffixes alpha < beta < pre < rc < release < cvs < svn < git < hg < p', () => {
    const order = [
      '1.0_alpha',
      '1.0_beta',
      '1.0_pre',
      '1.0_rc',
      '1.0',
      '1.0_cvs',
      '1.0_svn',
      '1.0_git',
      '1.0_hg',
    ];
    order.push('1.0_p');
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) {
        assert.equal(apk.compare(order[i]!, order[j]!), Math.sign(i - j), `${order[i]} vs ${order[j]}`);
      }
    }
  });

  it('treats an invalid tail as lower than the end, and equal tails of invalidity as equal', () => {
    // apk-tools stops at the first character no token may start with, and ranks that spot lowest.
    for (const base of ['1.0', '2.3a', '1_rc1', '1.0-r1', '3~abc']) {
      for (const tail of ['-foo', '_bar', '!', '.', '_']) {
        if (apk.valid(base + tail)) continue;
        assert.equal(apk.compare(base, base + tail), 1, `${base} vs ${base}${tail}`);
        assert.equal(apk.compare(`${base}${tail}x`, `${base}${tail}y`), 0, `${base}${tail}…`);
      }
    }
    assert.equal(apk.compare('abc', 'xyz'), 0);
    assert.equal(apk.compare('0', 'abc'), 1);
  });

  it('compares numbers of any length exactly, and leading-zero components as strings', () => {
    assert.equal(apk.compare('1.0_pre20191002222144', '1.0_pre20191002222145'), -1);
    assert.equal(apk.compare('123456789012345678901234567890', '123456789012345678901234567891'), -1);
    assert.equal(apk.compare('1.0-r18446744073709551617', '1.0-r18446744073709551616'), 1);
    assert.equal(apk.compare('1.02', '1.1'), -1); // "02" vs "1" as strings
    assert.equal(apk.compare('1.010', '1.01'), 1);
    assert.equal(apk.compare('01.2', '1.2'), 0); // the first component is always numeric
  });

  it('gives a consistent order over generated versions, valid and not', () => {
    const rand = prng(0xa1b2);
    const versions = Array.from({ length: 600 }, () => version(rand));
    assert.ok(versions.filter((v) => !apk.valid(v)).length > 30, 'some generated versions are invalid');
    versions.sort(apk.compare);
    for (let i = 0; i < versions.length; i++) {
      for (let j = i + 1; j < versions.length; j++) {
        const r = apk.compare(versions[i]!, versions[j]!);
        if (r > 0) assert.fail(`sorted order broken: ${versions[i]} > ${versions[j]}`);
        assert.equal(apk.compare(versions[j]!, versions[i]!), -r || 0);
      }
    }
  });
});
