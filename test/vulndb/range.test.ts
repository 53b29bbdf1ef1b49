import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { getScheme } from '../../src/versioning/index.js';
import { semver } from '../../src/versioning/semver.js';
import type { VersionScheme } from '../../src/versioning/types.js';
import type { OsvRecord } from '../../src/vulndb/osv.js';
import {
  evaluateEntry,
  type StoredEntry,
  type StoredEvent,
  type StoredRange,
  simpleFix,
  toStoredEntry,
} from '../../src/vulndb/range.js';
import { fixture } from './helpers.js';

const dpkg = getScheme('dpkg') as VersionScheme;
const KIND = { introduced: 'i', fixed: 'f', last_affected: 'l', limit: 'm' } as const;
type Ev = [keyof typeof KIND, string];
const ev = (...pairs: Ev[]): StoredEvent[] => pairs.map(([k, v]): StoredEvent => [KIND[k], v]);
const range = (t: 'E' | 'S', ...pairs: Ev[]): StoredEntry => ({ r: [{ t, e: ev(...pairs) }] });

/** [version, affected?, fixed version expected] */
type Row = [string, boolean, string?];

function check(name: string, entry: StoredEntry, scheme: VersionScheme | undefined, rows: Row[]): void {
  it(name, () => {
    for (const [v, affected, fixed] of rows) {
      const m = evaluateEntry(entry, v, scheme);
      assert.equal(m !== undefined, affected, `${name}: ${v} affected`);
      if (affected) assert.equal(m?.fixed, fixed, `${name}: ${v} fixed version`);
    }
  });
}

// The examples of https://ossf.github.io/osv-schema/#examples and #evaluation
describe('OSV range evaluation (schema examples)', () => {
  check('unfixed: introduced 0 only', range('S', ['introduced', '0']), semver, [
    ['0.0.1', true, undefined],
    ['99.0.0', true, undefined],
  ]);
  check('fixed: everything before 1.0.2', range('S', ['introduced', '0'], ['fixed', '1.0.2']), semver, [
    ['0.1.0', true, '1.0.2'],
    ['1.0.1', true, '1.0.2'],
    ['1.0.2', false],
    ['2.0.0', false],
  ]);
  const multi: Ev[] = [
    ['introduced', '1.0.0'],
    ['fixed', '1.0.2'],
    ['introduced', '3.0.0'],
    ['fixed', '3.2.5'],
  ];
  const multiRows: Row[] = [
    ['0.9.0', false],
    ['1.0.0', true, '1.0.2'],
    ['1.0.1', true, '1.0.2'],
    ['1.0.2', false],
    ['2.5.0', false],
    ['3.0.0', true, '3.2.5'],
    ['3.2.4', true, '3.2.5'],
    ['3.2.5', false],
    ['4.0.0', false],
  ];
  check('multiple introduced: [1.0.0, 1.0.2) and [3.0.0, 3.2.5)', range('S', ...multi), semver, multiRows);
  check(
    'events in any order are sorted by the scheme',
    range('S', ...[...multi].reverse()),
    semver,
    multiRows,
  );
  check(
    'last_affected: 2.1.214 is still affected, no fix known',
    range('E', ['introduced', '0'], ['last_affected', '2.1.214']),
    semver,
    [
      ['2.1.0', true, undefined],
      ['2.1.214', true, undefined],
      ['2.1.215', false],
    ],
  );
  check(
    'fixed 2.1.214: 2.1.214 is not affected',
    range('S', ['introduced', '0'], ['fixed', '2.1.214']),
    semver,
    [
      ['2.1.213', true, '2.1.214'],
      ['2.1.214', false],
    ],
  );
  check(
    'limit: versions at or above every limit are outside',
    range('S', ['introduced', '0'], ['limit', '2.0.0']),
    semver,
    [
      ['1.9.9', true, undefined],
      ['2.0.0', false],
    ],
  );
  check('limit "*" is infinity', range('S', ['introduced', '1.0.0'], ['limit', '*']), semver, [
    ['0.5.0', false],
    ['100.0.0', true, undefined],
  ]);
  check(
    'several limits: below any one of them',
    range('S', ['introduced', '0'], ['fixed', '5.0.0'], ['limit', '2.0.0'], ['limit', '4.0.0']),
    semver,
    [
      ['3.0.0', true, '5.0.0'],
      ['4.5.0', false],
    ],
  );
  check('versions list', { v: ['1.0.0', '1.1.0'] }, semver, [
    ['1.1.0', true, undefined],
    ['1.0.5', false],
  ]);
  check(
    'versions list with an ECOSYSTEM range moat cannot order: the single fix is reported',
    { r: [{ t: 'E', e: ev(['introduced', '0'], ['fixed', '3.15.0']) }], v: ['3.14.0'] },
    undefined,
    [
      ['3.14.0', true, '3.15.0'],
      ['3.16.0', false],
    ],
  );
  check(
    'SEMVER pre-releases sort below the release; build metadata is ignored',
    range('S', ['introduced', '0'], ['fixed', '1.0.0']),
    semver,
    [
      ['1.0.0-rc.1', true, '1.0.0'],
      ['1.0.0+build.5', false],
      ['v0.9.0', true, '1.0.0'],
    ],
  );
  check(
    'ECOSYSTEM ranges are ordered by the ecosystem scheme (dpkg)',
    range('E', ['introduced', '1.0-1'], ['fixed', '1.0-1+deb12u1']),
    dpkg,
    [
      ['1.0-1~bpo1', false],
      ['1.0-1', true, '1.0-1+deb12u1'],
      ['1.0-1+b2', true, '1.0-1+deb12u1'],
      ['1.0-1+deb12u1', false],
    ],
  );
  check('dpkg epochs: 1:0.1 is above 9.9', range('E', ['introduced', '0'], ['fixed', '1:0.1-1']), dpkg, [
    ['9.9-1', true, '1:0.1-1'],
    ['1:0.1-1', false],
  ]);
  check(
    'versions lists compare with the scheme\'s equality ("1.0" equals "1.0-0" in dpkg)',
    { v: ['1.0-0'] },
    dpkg,
    [
      ['1.0', true, undefined],
      ['1.0-1', false],
    ],
  );
});

describe('real records', () => {
  it('GO-2023-2153 (grpc): three SEMVER intervals in one range', () => {
    const rec = JSON.parse(readFileSync(fixture('records', 'GO-2023-2153.json'), 'utf8')) as OsvRecord;
    const a = rec.affected?.find((x) => x.package?.name === 'google.golang.org/grpc');
    assert.ok(a);
    const entry = toStoredEntry(a);
    assert.ok(entry);
    const rows: Row[] = [
      ['1.56.2', true, '1.56.3'],
      ['1.56.3', false],
      ['1.57.0', true, '1.57.1'],
      ['1.57.1', false],
      ['1.58.2', true, '1.58.3'],
      ['1.59.0', false],
    ];
    for (const [v, affected, fixed] of rows) {
      const m = evaluateEntry(entry, v, undefined);
      assert.equal(m !== undefined, affected, v);
      if (affected) assert.equal(m?.fixed, fixed, v);
    }
  });

  it('GIT ranges are dropped and entries that can never match are not stored', () => {
    assert.equal(
      toStoredEntry({
        package: { ecosystem: 'OSS-Fuzz', name: 'icu' },
        ranges: [{ type: 'GIT', events: [{ introduced: 'abc' }] }],
      }),
      undefined,
    );
  });

  it('simpleFix recognises only [ECOSYSTEM introduced 0 (, fixed X)]', () => {
    const r = (t: 'E' | 'S', ...pairs: Ev[]): StoredRange => ({ t, e: ev(...pairs) });
    assert.deepEqual(simpleFix([{ r: [r('E', ['introduced', '0'], ['fixed', '2.0'])] }]), { fix: '2.0' });
    assert.deepEqual(simpleFix([{ r: [r('E', ['introduced', '0'])] }]), {});
    assert.equal(simpleFix([{ r: [r('S', ['introduced', '0'], ['fixed', '2.0'])] }]), undefined);
    assert.equal(simpleFix([{ r: [r('E', ['introduced', '1.0'], ['fixed', '2.0'])] }]), undefined);
    assert.equal(simpleFix([{ r: [r('E', ['introduced', '0'], ['fixed', '2.0'])], v: ['1.0'] }]), undefined);
    assert.equal(simpleFix([{ r: [r('E', ['introduced', '0'], ['last_affected', '2.0'])] }]), undefined);
  });
});

describe('semver ordering', () => {
  it('follows the precedence example of semver.org §11', () => {
    const order = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.1.0',
      '2.0.0',
    ];
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) {
        assert.equal(semver.compare(order[i]!, order[j]!), Math.sign(i - j), `${order[i]} vs ${order[j]}`);
      }
    }
  });
});
