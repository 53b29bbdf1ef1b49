import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import type { OsvRecord, OsvSeverity } from '../../src/vulndb/osv.js';
import {
  type CvssLib,
  loadCvss,
  rate,
  remediation,
  scoreCvss,
  sourceRank,
  titleOf,
} from '../../src/vulndb/severity.js';
import { fixture } from './helpers.js';

const record = (id: string): OsvRecord =>
  JSON.parse(readFileSync(fixture('records', `${id}.json`), 'utf8')) as OsvRecord;
const vectors = (id: string, type: string): string[] =>
  (record(id).severity ?? []).filter((s) => s.type === type).map((s) => s.score);

let lib: CvssLib;
before(async () => {
  lib = await loadCvss();
});

describe('CVSS scores of real vectors', () => {
  // [record, severity type, published base score, rating]: the scores NVD / the GitHub Advisory Database
  // publish for these vectors (CVE-2021-44228 10.0, CVE-2021-22570 7.5, CVE-2024-25638 6.5 and 7.7 (v4),
  // CVE-2023-44487 as GitHub rates it 5.3 and 6.9 (v4))
  const table: [string, string, number, string][] = [
    ['GHSA-jfh8-c2jp-5v3q', 'CVSS_V3', 10, 'CRITICAL'],
    ['GHSA-77rm-9x9h-xj3g', 'CVSS_V3', 7.5, 'HIGH'],
    ['GHSA-crjg-w57m-rqqf', 'CVSS_V3', 6.5, 'MEDIUM'],
    ['GHSA-crjg-w57m-rqqf', 'CVSS_V4', 7.7, 'HIGH'],
    ['GHSA-qppj-fm5r-hxr3', 'CVSS_V3', 5.3, 'MEDIUM'],
    ['GHSA-qppj-fm5r-hxr3', 'CVSS_V4', 6.9, 'MEDIUM'],
  ];
  for (const [id, type, score, severity] of table) {
    it(`${id} ${type}: ${score} ${severity}`, () => {
      const [vector] = vectors(id, type);
      assert.ok(vector, `${id} has a ${type} vector`);
      const c = scoreCvss(lib, { type, score: vector });
      assert.deepEqual(c && [c.score, c.severity, c.version], [
        score,
        severity,
        type === 'CVSS_V4' ? '4.0' : vector.slice(5, 8),
      ]);
    });
  }

  it("v2 and v3.0 vectors, with the specifications' reference scores", () => {
    // CVSS v2 guide: AV:N/AC:L/Au:N/C:P/I:P/A:P = 7.5; v3.0 AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H = 9.8;
    // the v4.0 specification's reference vector with VC/VI/VA high = 9.3
    const cases: [OsvSeverity, number, string, string][] = [
      [{ type: 'CVSS_V2', score: 'AV:N/AC:L/Au:N/C:P/I:P/A:P' }, 7.5, 'HIGH', '2.0'],
      [{ type: 'CVSS_V2', score: '(AV:N/AC:L/Au:N/C:P/I:P/A:P)' }, 7.5, 'HIGH', '2.0'],
      [{ type: 'CVSS_V3', score: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }, 9.8, 'CRITICAL', '3.0'],
      [
        { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' },
        9.3,
        'CRITICAL',
        '4.0',
      ],
    ];
    for (const [s, score, severity, version] of cases) {
      const c = scoreCvss(lib, s);
      assert.deepEqual(c && [c.score, c.severity, c.version], [score, severity, version], s.score);
    }
  });

  it('invalid vectors and unknown types give no score', () => {
    assert.equal(scoreCvss(lib, { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N' }), undefined);
    assert.equal(scoreCvss(lib, { type: 'CVSS_V4', score: 'not a vector' }), undefined);
    assert.equal(scoreCvss(lib, { type: 'Ubuntu', score: 'high' }), undefined);
  });
});

describe('severity precedence (docs/severity.md)', () => {
  const affected = (r: OsvRecord) => r.affected ?? [];

  it('CVSS v4 before v3', () => {
    const r = record('GHSA-crjg-w57m-rqqf');
    const got = rate(lib, r, affected(r));
    assert.equal(got.source, 'cvss-v4');
    assert.equal(
      got.severity,
      scoreCvss(lib, { type: 'CVSS_V4', score: vectors(r.id, 'CVSS_V4')[0]! })!.severity,
    );
    assert.equal(got.cvss.length, 2);
  });

  it('the database rating (GHSA database_specific.severity) when there is no vector', () => {
    const r = record('GHSA-2x83-r56g-cv47');
    assert.equal(r.severity, undefined);
    const got = rate(lib, r, affected(r));
    assert.deepEqual([got.severity, got.source], ['HIGH', 'ghsa']);
  });

  it('a MODERATE database rating is MEDIUM', () => {
    const r = record('GHSA-crjg-w57m-rqqf');
    delete r.severity;
    assert.equal(r.database_specific?.severity, 'MODERATE');
    assert.deepEqual(
      [rate(lib, r, affected(r)).severity, rate(lib, r, affected(r)).source],
      ['MEDIUM', 'ghsa'],
    );
  });

  it('nothing: UNKNOWN (Go records carry no severity)', () => {
    const r = record('GO-2023-2153');
    assert.deepEqual(rate(lib, r, affected(r)), { severity: 'UNKNOWN', source: 'none', cvss: [] });
  });

  it("the distribution's rating of the package comes first (derived: log4j's record with a Debian urgency)", () => {
    const r = record('GHSA-jfh8-c2jp-5v3q');
    const entries = affected(r).map((a) => ({ ...a, ecosystem_specific: { urgency: 'low' } }));
    const got = rate(lib, r, entries);
    assert.deepEqual([got.severity, got.source], ['LOW', 'debian-urgency']);
    assert.equal(got.cvss[0]?.severity, 'CRITICAL', 'the vector is still reported');
    // "not yet assigned" is no rating: the vector decides
    const pending = rate(
      lib,
      r,
      affected(r).map((a) => ({ ...a, ecosystem_specific: { urgency: 'not yet assigned' } })),
    );
    assert.deepEqual([pending.severity, pending.source], ['CRITICAL', 'cvss-v3']);
  });

  it('Ubuntu priorities and package-level ratings', () => {
    const r = record('GO-2023-2153');
    const ubuntu = { ...r, severity: [{ type: 'Ubuntu', score: 'medium' }] };
    assert.deepEqual(rate(lib, ubuntu, affected(r)).severity, 'MEDIUM');
    assert.deepEqual(rate(lib, ubuntu, affected(r)).source, 'ubuntu-priority');
    const eco = affected(r).map((a) => ({ ...a, ecosystem_specific: { severity: 'Important' } }));
    assert.deepEqual([rate(lib, r, eco).severity, rate(lib, r, eco).source], ['HIGH', 'ecosystem-specific']);
  });

  it("a changelog's upload urgency (database_specific.urgency) is not a severity", () => {
    const r = record('GO-2023-2153');
    const entries = affected(r).map((a) => ({
      ...a,
      database_specific: { source: 'changelog', urgency: 'emergency' },
    }));
    assert.deepEqual(rate(lib, r, entries).severity, 'UNKNOWN');
  });

  it('ranks sources: distribution < CVSS v4 < v3 < v2 < database < none', () => {
    const order = ['debian-urgency', 'cvss-v4', 'cvss-v3', 'cvss-v2', 'ghsa', 'none'];
    for (let i = 1; i < order.length; i++)
      assert.ok(sourceRank(order[i - 1]!) < sourceRank(order[i]!), order[i]);
  });
});

describe('title and remediation', () => {
  it('title: the summary, else the first line of the details without markdown markers', () => {
    assert.equal(titleOf('Remote code injection in Log4j', 'details'), 'Remote code injection in Log4j');
    assert.equal(
      titleOf(undefined, '\n* [SECURITY] CVE-2005-0448 revisited: File::Path\n  more'),
      '[SECURITY] CVE-2005-0448 revisited: File::Path',
    );
    assert.equal(titleOf('', '### Impact\nx'), 'Impact');
    assert.equal(titleOf(undefined, undefined), undefined);
    assert.equal(titleOf('x'.repeat(500), undefined)?.length, 200);
  });

  it('remediation lines', () => {
    assert.equal(
      remediation({ name: 'apt', fixedVersion: '2.6.2', ecosystem: 'Debian:12' }),
      'Upgrade apt to 2.6.2 or later',
    );
    assert.equal(
      remediation({
        name: 'libssl3',
        source: { name: 'openssl', version: '3.0.20-1~deb12u2' },
        fixedVersion: '3.0.22-1~deb12u1',
        ecosystem: 'Debian:12',
      }),
      'Upgrade libssl3 to a version built from source package openssl 3.0.22-1~deb12u1 or later',
    );
    assert.equal(
      remediation({
        name: 'libssl3',
        source: { name: 'openssl', version: '3.0.20-1~deb12u2' },
        ecosystem: 'Debian:12',
      }),
      'No fix available yet for libssl3 (source package openssl) in Debian:12; watch for an update or mitigate',
    );
  });
});
