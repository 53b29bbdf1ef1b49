import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { checkDpkgVersion, dpkg, isInstalled, parseDpkgDatabase } from '../../src/analyzers/dpkg.js';
import { caseFiles, expectedOf, type PkgdbCase, pkgdbCases, runAnalyzer } from './helpers.js';

interface Expected {
  name: string;
  version: string;
  arch: string | null;
  source: string;
  sourceVersion: string;
  status: string | null;
  maintainer: string | null;
  installedSizeKiB: number | null;
}

const cases: PkgdbCase[] = [...pkgdbCases('dpkg'), ...pkgdbCases('dpkg-status.d')];

describe('dpkg analyzer over the shared pkgdb fixtures', () => {
  it('has fixtures', () => assert.ok(cases.length >= 30));
  for (const c of cases) {
    it(`${c.format}/${c.case}`, async () => {
      const exp = expectedOf(c);
      const files = caseFiles(c);
      // every stanza dpkg-query accepts, installed or not, with its fields
      const parsed = [];
      const parseWarnings: string[] = [];
      for (const f of files) {
        if (!dpkg.wants(f.path)) continue;
        parsed.push(...parseDpkgDatabase(readFileSync(f.abs, 'utf8'), (r) => parseWarnings.push(r)));
      }
      const got: Expected[] = parsed.map((r) => ({
        name: r.name,
        version: r.version,
        arch: r.arch ?? null,
        source: r.source,
        sourceVersion: r.sourceVersion,
        status: r.status ?? null,
        maintainer: r.maintainer ?? null,
        installedSizeKiB: r.installedSizeKiB ?? null,
      }));
      const want = (exp.packages as (Expected & { note?: string })[]).map(({ note: _n, ...p }) => p);
      assert.deepEqual(got, want);
      assert.equal(parseWarnings.length, (exp.skipped_stanzas ?? []).length, parseWarnings.join('; '));

      // what the analyzer reports: the installed ones, as Packages
      for (const mode of ['data', 'spool'] as const) {
        const res = await runAnalyzer(dpkg, files, mode);
        const installed = want.filter((p) => isInstalled(p.status ?? undefined));
        assert.equal(res.packages.length, exp.installed_count);
        assert.deepEqual(
          res.packages.map((p) => [p.name, p.version, p.arch ?? null, p.source?.name, p.source?.version]),
          installed.map((p) => [p.name, p.version, p.arch, p.source, p.sourceVersion]),
        );
        for (const p of res.packages) {
          assert.equal(p.type, 'dpkg');
          assert.ok(res.wanted.includes(p.path));
          const colon = p.version.indexOf(':');
          assert.equal(p.epoch, colon > 0 ? Number(p.version.slice(0, colon)) : undefined);
        }
      }
    });
  }
});

describe('dpkg wants', () => {
  it('takes the status file and status.d control files only', () => {
    assert.ok(dpkg.wants('var/lib/dpkg/status'));
    assert.ok(dpkg.wants('var/lib/dpkg/status.d/libssl1.1'));
    assert.ok(dpkg.wants('var/lib/dpkg/status.d/base-files'));
    for (const p of [
      'var/lib/dpkg/status-old',
      'var/lib/dpkg/available',
      'var/lib/dpkg/status.d/libssl1.1.md5sums',
      'var/lib/dpkg/status.d/tzdata.list',
      'var/lib/dpkg/status.d/sub/dir',
      'var/lib/dpkg/info/tar.md5sums',
      'usr/var/lib/dpkg/status',
    ]) {
      assert.equal(dpkg.wants(p), false, p);
    }
  });
});

describe('dpkg status rules', () => {
  it('counts install/hold ok installed and status-less stanzas as installed', () => {
    const table: [string | undefined, boolean][] = [
      [undefined, true],
      ['install ok installed', true],
      ['hold ok installed', true],
      ['install ok half-configured', false],
      ['install ok unpacked', false],
      ['deinstall ok config-files', false],
      ['deinstall ok installed', false],
      ['purge ok installed', false],
      ['install reinstreq installed', false],
      ['install reinstreq half-installed', false],
    ];
    for (const [status, want] of table) assert.equal(isInstalled(status), want, String(status));
  });

  it('validates versions like dpkg', () => {
    for (const ok of ['1.0', '1:2.3-4', '2.1.2-54+usrmerge', '1.2~rc1-0ubuntu1', '0:1', 'a1.0']) {
      assert.equal(checkDpkgVersion(ok), undefined, ok);
    }
    for (const bad of ['', '1.0 2', ':1', 'x:1', '1:', '1.0-', '5.#', '1-2#', '-1']) {
      assert.notEqual(checkDpkgVersion(bad), undefined, bad);
    }
  });
});

describe('dpkg on hostile input', () => {
  const run = (text: string) => {
    const warnings: string[] = [];
    const out = dpkg.analyze(
      { path: 'var/lib/dpkg/status', size: text.length, data: Buffer.from(text) },
      {
        warn: (r) => warnings.push(r),
      },
    );
    return { packages: 'then' in out ? [] : (out.packages ?? []), warnings };
  };

  it('skips bad stanzas and keeps good ones', () => {
    const text = [
      'Package: good\nStatus: install ok installed\nVersion: 1.0\n',
      'Package: dup\nVersion: 1\nVersion: 2\n',
      ' leading continuation\nPackage: x\nVersion: 1\n',
      'Package: bad name!\nVersion: 1\n',
      'Package: src\nVersion: 1\nSource: foo (1.#)\n',
      'Package: crlf\r\nVersion: 2:1.0-1\r\nSource: up (1.0-1)\r\n',
      '\x00\x01\x02 binary junk\n',
    ].join('\n');
    const { packages, warnings } = run(text);
    assert.deepEqual(
      packages.map((p) => [p.name, p.version, p.epoch, p.source?.name, p.source?.version]),
      [
        ['good', '1.0', undefined, 'good', '1.0'],
        ['crlf', '2:1.0-1', 2, 'up', '1.0-1'],
      ],
    );
    assert.equal(warnings.length, 5);
  });

  it('bounds the number of warnings on a large garbage file', () => {
    const text = 'junk line\n\n'.repeat(5000);
    const { packages, warnings } = run(text);
    assert.equal(packages.length, 0);
    assert.ok(warnings.length <= 21);
    assert.match(warnings.at(-1)!, /4980 more/);
  });
});
