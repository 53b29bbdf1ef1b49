import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { OsInfo, Package } from '../../src/model/package.js';
import { getScheme } from '../../src/versioning/index.js';
import { semver } from '../../src/versioning/semver.js';
import { type PackageQuery, queriesFor } from '../../src/vulndb/ecosystem.js';
import { importOsv } from '../../src/vulndb/import.js';
import { Matcher, matchPackages, primaryId } from '../../src/vulndb/matcher.js';
import type { OsvRecord } from '../../src/vulndb/osv.js';
import { openVulnDb, type VulnDb } from '../../src/vulndb/store.js';
import { fixture, tempDir } from './helpers.js';

const record = (id: string): OsvRecord =>
  JSON.parse(readFileSync(fixture('records', `${id}.json`), 'utf8')) as OsvRecord;

/** A package as a language analyzer would give it: the matcher only reads name, version and path from it. */
const pkg = (name: string, version: string): Package => ({ type: 'dpkg', name, version, path: 'test' });
const query = (ecosystem: string, name: string, version: string): PackageQuery => ({
  ecosystems: [ecosystem],
  prefixes: [],
  name,
  version,
  scheme: undefined,
});

async function dbWith(t: { after(fn: () => void): void }, records: OsvRecord[]): Promise<VulnDb> {
  const dir = tempDir(t);
  const input = join(dir, 'records');
  mkdirSync(input);
  for (const r of records) writeFileSync(join(input, `${r.id}.json`), JSON.stringify(r));
  await importOsv(join(dir, 'vulndb.sqlite'), input);
  const db = openVulnDb(join(dir, 'vulndb.sqlite'));
  t.after(() => db.close());
  return db;
}

describe('aliases', () => {
  it('records sharing an alias become one finding per package, with the CVE as id', async (t) => {
    const ghsa = record('GHSA-77rm-9x9h-xj3g');
    const pysec = record('PYSEC-2022-48');
    const db = await dbWith(t, [ghsa, pysec]);
    const v = pysec.affected![0]!.versions!.at(-1)!;
    const findings = new Matcher(db).match(pkg('protobuf', v), [query('PyPI', 'protobuf', v)]);
    assert.equal(findings.length, 1);
    const f = findings[0]!;
    const cve = [...ghsa.aliases!, ...pysec.aliases!].find((a) => a.startsWith('CVE-'))!;
    assert.equal(f.id, cve);
    assert.deepEqual(f.records, [ghsa.id, pysec.id].sort());
    assert.deepEqual(f.aliases, [ghsa.id, pysec.id].sort());
    // the fix both records name; PYSEC has no CVSS, GHSA's vector decides
    const fixed = pysec.affected![0]!.ranges![0]!.events.find((e) => e.fixed)!.fixed;
    assert.equal(f.fixedVersion, fixed);
    assert.equal(f.status, 'fixed');
    assert.equal(f.severitySource, 'cvss-v3');
    assert.equal(f.cvss.length, 1);
    assert.equal(f.cvss[0]!.vector, ghsa.severity![0]!.score);
    assert.equal(f.title, ghsa.summary);
  });

  it('identical vectors of merged records are listed once', async (t) => {
    const ghsa = record('GHSA-rhrv-645h-fjfh');
    const pysec = record('PYSEC-2023-188');
    const db = await dbWith(t, [ghsa, pysec]);
    const v = pysec.affected![0]!.versions![0]!;
    const [f, ...rest] = new Matcher(db).match(pkg('avro', v), [query('PyPI', 'avro', v)]);
    assert.equal(rest.length, 0);
    assert.ok(f);
    assert.equal(f.id, 'CVE-2023-39410');
    assert.equal(f.records.length, 2);
    assert.equal(ghsa.severity![0]!.score, pysec.severity![0]!.score);
    assert.equal(f.cvss.length, 1);
  });

  it('the fixed version is the lowest among merged records', async (t) => {
    // derived: a second record for the same CVE (linked by alias) that names a later fix
    const pysec = record('PYSEC-2022-48');
    const later = structuredClone(pysec);
    later.id = 'TEST-LATER-FIX';
    const ev = later.affected![0]!.ranges![0]!.events;
    const fixed = ev.find((e) => e.fixed)!;
    const original = fixed.fixed!;
    const [major, minor] = original.split('.').map(Number);
    fixed.fixed = `${major}.${minor! + 1}.0`;
    const v = pysec.affected![0]!.versions!.at(-1)!;
    const q: PackageQuery = { ...query('PyPI', 'protobuf', v), scheme: semver };
    const alone = await dbWith(t, [later]);
    assert.equal(new Matcher(alone).match(pkg('protobuf', v), [q])[0]?.fixedVersion, fixed.fixed);
    const db = await dbWith(t, [later, pysec]);
    const [f] = new Matcher(db).match(pkg('protobuf', v), [q]);
    assert.ok(f);
    assert.deepEqual(f.records, ['PYSEC-2022-48', 'TEST-LATER-FIX']);
    assert.equal(f.fixedVersion, original);
  });

  it('primaryId prefers a CVE, then a GHSA id', () => {
    assert.equal(primaryId(['DEBIAN-CVE-2024-1', 'CVE-2024-1']), 'CVE-2024-1');
    assert.equal(primaryId(['GO-2024-1', 'GHSA-aaaa-bbbb-cccc']), 'GHSA-aaaa-bbbb-cccc');
    assert.equal(primaryId(['GO-2024-1']), 'GO-2024-1');
  });
});

describe('withdrawn records and unfixed vulnerabilities', () => {
  for (const id of ['GO-2024-2442', 'GO-2022-0617']) {
    it(`${id} is withdrawn: skipped; the same record without "withdrawn" matches with status "no fix"`, async (t) => {
      const withdrawn = record(id);
      assert.ok(withdrawn.withdrawn);
      const name = withdrawn.affected![0]!.package!.name;
      const q: PackageQuery = { ...query('Go', name, '1.0.0'), scheme: semver };
      const db = await dbWith(t, [withdrawn]);
      assert.deepEqual(new Matcher(db).match(pkg(name, '1.0.0'), [q]), []);

      const live = structuredClone(withdrawn);
      delete live.withdrawn;
      const db2 = await dbWith(t, [live]);
      const [f, ...rest] = new Matcher(db2).match(pkg(name, '1.0.0'), [q]);
      assert.equal(rest.length, 0);
      assert.ok(f);
      assert.equal(f.status, 'no fix');
      assert.equal(f.fixedVersion, undefined);
      assert.equal(f.remediation, `No fix available yet for ${name} in Go; watch for an update or mitigate`);
      // Go's placeholder dates are not shown
      assert.equal(withdrawn.published, '0001-01-01T00:00:00Z');
      assert.equal(f.published, undefined);
    });
  }

  it('a last_affected range gives status "no fix" (PYSEC-2022-42969, matched through its versions list)', async (t) => {
    const rec = record('PYSEC-2022-42969');
    const db = await dbWith(t, [rec]);
    const last = rec.affected![0]!.ranges![0]!.events.find((e) => e.last_affected)!.last_affected!;
    const [f] = new Matcher(db).match(pkg('py', last), [query('PyPI', 'py', last)]);
    assert.ok(f);
    assert.equal(f.status, 'no fix');
    assert.equal(
      f.id,
      rec.aliases!.find((a) => a.startsWith('CVE-')),
    );
    assert.deepEqual(new Matcher(db).match(pkg('py', '999.0'), [query('PyPI', 'py', '999.0')]), []);
  });

  it('a record with an empty "affected" is imported without rows', async (t) => {
    const db = await dbWith(t, [record('DLA-3623-1')]);
    assert.equal(db.sqlite.prepare('SELECT COUNT(*) FROM affected').pluck().get(), 0);
  });
});

describe('OS packages', () => {
  const debian7: OsInfo = {
    family: 'debian',
    name: 'Debian 7',
    version: '7',
    ecosystem: 'Debian:7',
    source: 'etc/os-release',
  };
  const debian12: OsInfo = { ...debian7, version: '12', ecosystem: 'Debian:12' };
  const nginx = (version: string): Package => ({
    type: 'dpkg',
    name: 'nginx-light',
    version,
    source: { name: 'nginx', version },
    path: 'var/lib/dpkg/status',
  });

  it('DSA-3029-1 (Debian:7) matches a wheezy nginx below its fix, through the source package', async (t) => {
    const dsa = record('DSA-3029-1');
    const db = await dbWith(t, [dsa]);
    const fixed = dsa.affected![0]!.ranges![0]!.events.find((e) => e.fixed)!.fixed!;
    const dpkg = getScheme('dpkg')!;
    const below = '1.2.1-2.2+wheezy2';
    assert.equal(dpkg.compare(below, fixed), -1);
    const [f, ...rest] = matchPackages(db, { os: debian7, packages: [nginx(below)] });
    assert.equal(rest.length, 0);
    assert.ok(f);
    assert.equal(f.id, dsa.aliases![0]);
    assert.deepEqual(f.aliases, [dsa.id]);
    assert.equal(f.fixedVersion, fixed);
    assert.equal(f.package.matchedName, 'nginx');
    assert.equal(f.ecosystem, 'Debian:7');
    assert.equal(f.title, dsa.summary);
    assert.deepEqual(matchPackages(db, { os: debian7, packages: [nginx(fixed)] }), []);
    // another release's records do not apply
    assert.deepEqual(matchPackages(db, { os: debian12, packages: [nginx(below)] }), []);
    // without an OS ecosystem nothing is looked up
    assert.deepEqual(matchPackages(db, { packages: [nginx(below)] }), []);
  });

  it('a Debian record without a release suffix applies to every release', async (t) => {
    const unscoped = record('DSA-3029-1');
    unscoped.affected![0]!.package!.ecosystem = 'Debian';
    const db = await dbWith(t, [unscoped]);
    assert.equal(matchPackages(db, { os: debian12, packages: [nginx('1.2.1-2.2+wheezy2')] }).length, 1);
  });
});

describe('ecosystem mapping', () => {
  const os = (family: string, version: string, ecosystem: string): OsInfo => ({
    family,
    name: family,
    version,
    ecosystem,
    source: 'x',
  });

  it('Debian and Ubuntu: source package at the source version', () => {
    const p: Package = {
      type: 'dpkg',
      name: 'libbrotli1',
      version: '1.0.9-2+b6',
      source: { name: 'brotli', version: '1.0.9-2' },
      path: 'x',
    };
    const [q, ...rest] = queriesFor(p, os('debian', '12', 'Debian:12'));
    assert.equal(rest.length, 0);
    assert.deepEqual(
      [q?.ecosystems, q?.name, q?.version, q?.scheme?.name],
      [['Debian:12', 'Debian'], 'brotli', '1.0.9-2', 'dpkg'],
    );
    // Ubuntu's release suffix is mandatory in OSV: no bare "Ubuntu" lookup
    const [u] = queriesFor(p, os('ubuntu', '22.04', 'Ubuntu:22.04:LTS'));
    assert.deepEqual([u?.ecosystems, u?.name], [['Ubuntu:22.04:LTS'], 'brotli']);
  });

  it('Alpine: the origin at the package version', () => {
    const p: Package = {
      type: 'apk',
      name: 'libcrypto3',
      version: '3.3.2-r0',
      source: { name: 'openssl', version: '3.3.2-r0' },
      path: 'x',
    };
    const [q] = queriesFor(p, os('alpine', '3.20.3', 'Alpine:v3.20'));
    assert.deepEqual(
      [q?.ecosystems, q?.name, q?.version, q?.scheme?.name],
      [['Alpine:v3.20'], 'openssl', '3.3.2-r0', 'apk'],
    );
  });

  it('rpm: the binary name and the source RPM name at [epoch:]version-release; Red Hat CPE streams by prefix', () => {
    const p: Package = {
      type: 'rpm',
      name: 'openssl-libs',
      version: '1:3.0.7-27.el9',
      source: { name: 'openssl', version: '1:3.0.7-27.el9' },
      path: 'x',
    };
    const qs = queriesFor(p, os('rocky', '9.4', 'Rocky Linux:9'));
    assert.deepEqual(qs[0]?.ecosystems, ['Rocky Linux:9', 'Rocky Linux']);
    assert.deepEqual(
      qs.map((q) => [q.name, q.version, q.scheme?.name]),
      [
        ['openssl-libs', '1:3.0.7-27.el9', 'rpm'],
        ['openssl', '1:3.0.7-27.el9', 'rpm'],
      ],
    );
    const [rh] = queriesFor(p, os('rhel', '9.4', 'Red Hat'));
    assert.deepEqual(rh?.prefixes, ['Red Hat:enterprise_linux:9::']);
  });

  it('no OS ecosystem: no lookups', () => {
    const p: Package = { type: 'apk', name: 'musl', version: '1.2.5-r0', path: 'x' };
    assert.deepEqual(queriesFor(p, undefined), []);
    assert.deepEqual(queriesFor(p, { family: 'x', name: 'x', version: '1', source: 'x' }), []);
  });
});
