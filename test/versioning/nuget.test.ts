import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nuget } from '../../src/versioning/nuget.js';
import { checkTotalOrder, pick, prng, readValidity } from './helpers.js';

const NUMBERS = ['0', '1', '2', '10', '01', '007', '2147483647', '2147483648'];
const LABELS = [
  'alpha',
  'Alpha',
  'ALPHA',
  'beta',
  'rc',
  'RC',
  '0',
  '1',
  '2',
  '10',
  '01',
  '-1',
  '-',
  'a-b',
  'zzz',
  'x1',
];

/** A random NuGet version: 1 to 5 numbers, labels, metadata, sometimes damaged. */
function version(rand: () => number): string {
  let v = pick(rand, NUMBERS);
  for (let n = Math.floor(rand() * 4); n > 0; n--) v += `.${pick(rand, NUMBERS)}`;
  if (rand() < 0.5)
    v += `-${Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(rand, LABELS)).join('.')}`;
  if (rand() < 0.2) v += `+${pick(rand, ['meta', '01', 'a.b', '', 'x..y', 'sha-1'])}`;
  if (rand() < 0.1) v = pick(rand, [' ', '', '\u00a0']) + v + pick(rand, [' ', '', '.', '-', '*']);
  return v;
}

describe('nuget', () => {
  it("valid() agrees with NuGet.Versioning's parsing tests (NuGetVersionTest, SemVer201SpecTests, VersionParsingTests)", () => {
    const rows = readValidity('nuget-valid.tsv');
    assert.ok(rows.length > 100);
    for (const r of rows)
      assert.equal(nuget.valid(r.version), r.valid, `line ${r.line}: ${JSON.stringify(r.version)}`);
  });

  it('compares four numbers, then labels case-insensitively, numeric labels by value and first', () => {
    assert.equal(nuget.compare('1.0.0.1', '1.0.0'), 1);
    assert.equal(nuget.compare('1.0.0.0', '1.0'), 0);
    assert.equal(nuget.compare('1.0.0-RC.1', '1.0.0-rc.1'), 0);
    assert.equal(nuget.compare('1.0.0-2', '1.0.0-10'), -1);
    assert.equal(nuget.compare('1.0.0-10', '1.0.0-a'), -1);
    assert.equal(nuget.compare('1.0.0-a', '1.0.0-a.0'), -1);
    // int.TryParse reads a label "-1" as a number.
    assert.equal(nuget.compare('1.0.0--1', '1.0.0-0'), -1);
    assert.equal(nuget.compare('1.0.0+b', '1.0.0+a'), 0);
  });

  it('sorts rejected strings below every version, and among themselves by code unit', () => {
    assert.equal(nuget.compare('1.2.3.4.5', '0.0.0-0'), -1);
    assert.equal(nuget.compare('$version$', 'So.is.this'), -1);
    assert.equal(nuget.compare('', '0'), -1);
  });

  it('is a total order on generated strings, valid or not', () => {
    const rand = prng(0x4e7);
    assert.deepEqual(
      checkTotalOrder(
        nuget.compare,
        Array.from({ length: 700 }, () => version(rand)),
      ),
      [],
    );
  });
});
