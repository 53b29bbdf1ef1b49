import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { apk, parseApkDatabase } from '../../src/analyzers/apk.js';
import { caseFiles, expectedOf, pkgdbCases, runAnalyzer } from './helpers.js';

const FIELDS = [
  'name',
  'version',
  'arch',
  'origin',
  'license',
  'maintainer',
  'commit',
  'checksum',
  'size',
  'installedSize',
  'buildTime',
  'description',
  'url',
  'depends',
  'provides',
  'files',
] as const;

describe('apk analyzer over the shared pkgdb fixtures', () => {
  const cases = pkgdbCases('apk');
  it('has fixtures', () => assert.ok(cases.length >= 10));
  for (const c of cases) {
    it(c.case, async () => {
      const exp = expectedOf(c);
      const files = caseFiles(c);
      const warnings: string[] = [];
      const records = parseApkDatabase(readFileSync(files[0]!.abs, 'utf8'), (r) => warnings.push(r));
      // every field the expected file records, absent ones as null
      const got = records.map((r) => Object.fromEntries(FIELDS.map((f) => [f, r[f] ?? null])));
      const want = (exp.packages as Record<string, unknown>[]).map((p) =>
        Object.fromEntries(FIELDS.map((f) => [f, p[f] ?? null])),
      );
      assert.deepEqual(got, want);
      assert.equal(records.length, exp.package_count);
      assert.equal(warnings.length, exp.skipped_stanzas?.names?.length ?? 0, warnings.join('; '));

      for (const mode of ['data', 'spool'] as const) {
        const res = await runAnalyzer(apk, files, mode);
        assert.deepEqual(res.wanted, ['lib/apk/db/installed']);
        assert.deepEqual(
          res.packages.map((p) => [p.type, p.name, p.version, p.arch ?? null, p.source, p.license ?? null]),
          want.map((p) => [
            'apk',
            p.name,
            p.version,
            p.arch,
            // the source package is the origin, or the package itself when the database has none
            { name: p.origin ?? p.name, version: p.version },
            p.license,
          ]),
        );
      }
    });
  }
});

describe('apk on hostile input', () => {
  it('survives binary junk and truncated stanzas', () => {
    const text = '\x00\x01P\nP:\nV:1\n\nP:ok\nV:1.0-r0\nA:x86_64\nF:usr\nR:\n\nP:cut\nV:';
    const warnings: string[] = [];
    const out = parseApkDatabase(text, (r) => warnings.push(r));
    assert.deepEqual(
      out.map((r) => r.name),
      ['ok'],
    );
    assert.equal(warnings.length, 2);
  });

  it('only wants the installed database', () => {
    assert.ok(apk.wants('lib/apk/db/installed'));
    assert.equal(apk.wants('lib/apk/db/installed.old'), false);
    assert.equal(apk.wants('usr/lib/apk/db/installed'), false);
  });
});
