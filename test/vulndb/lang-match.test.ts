/**
 * Language packages in the matcher: each package type is looked up in its own OSV ecosystem whatever
 * the OS, under the name as that ecosystem compares names, Go versions without their `v`, OS-managed
 * packages only on request. Expectations come from the real records in test/fixtures/vulndb.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Package, PackageType } from '../../src/model/package.js';
import { goToolchainSemver, LANG_ECOSYSTEMS, normalizeName, queriesFor } from '../../src/vulndb/ecosystem.js';
import { importOsv } from '../../src/vulndb/import.js';
import { matchPackages } from '../../src/vulndb/matcher.js';
import type { OsvRecord } from '../../src/vulndb/osv.js';
import { openVulnDb, type VulnDb } from '../../src/vulndb/store.js';
import { DEBIAN_12, extractZip, fixture, tempDir } from './helpers.js';

const record = (id: string): OsvRecord =>
  JSON.parse(readFileSync(fixture('records', `${id}.json`), 'utf8')) as OsvRecord;

const pkg = (type: PackageType, name: string, version: string, extra: Partial<Package> = {}): Package => ({
  type,
  name,
  version,
  path: `app/${type}.lock`,
  ...extra,
});

async function dbWith(
  t: { after(fn: () => void): void },
  records: OsvRecord[],
  zips: string[] = [],
): Promise<VulnDb> {
  const dir = tempDir(t);
  const input = join(dir, 'records');
  mkdirSync(input);
  for (const r of records) writeFileSync(join(input, `${r.id}.json`), JSON.stringify(r));
  for (const z of zips) await extractZip(z, input);
  await importOsv(join(dir, 'vulndb.sqlite'), input);
  const db = openVulnDb(join(dir, 'vulndb.sqlite'));
  t.after(() => db.close());
  return db;
}

describe('queriesFor language packages', () => {
  it('looks each type up in its ecosystem, independent of the OS', () => {
    for (const [type, ecosystem] of Object.entries(LANG_ECOSYSTEMS)) {
      for (const os of [undefined, DEBIAN_12]) {
        const qs = queriesFor(pkg(type as PackageType, 'Some_Name', '1.0.0'), os);
        assert.equal(qs.length, 1, type);
        assert.deepEqual(qs[0]!.ecosystems, [ecosystem]);
        assert.deepEqual(qs[0]!.prefixes, []);
        assert.equal(qs[0]!.name, normalizeName(ecosystem, 'Some_Name'));
      }
    }
    assert.equal(normalizeName('PyPI', 'Some_Name'), 'some-name');
    assert.equal(normalizeName('NuGet', 'Some_Name'), 'some_name');
    assert.equal(normalizeName('npm', 'Some_Name'), 'Some_Name');
  });

  it('leaves OS package lookups as they were', () => {
    const q = queriesFor(
      {
        type: 'dpkg',
        name: 'libssl3',
        version: '3.0.11-1~deb12u2',
        source: { name: 'openssl', version: '3.0.11-1~deb12u2' },
        path: 'var/lib/dpkg/status',
      },
      DEBIAN_12,
    );
    assert.deepEqual(
      q.map((x) => [x.ecosystems, x.name, x.version, x.scheme?.name, x.asInstalled]),
      [[['Debian:12', 'Debian'], 'openssl', '3.0.11-1~deb12u2', 'dpkg', undefined]],
    );
    assert.deepEqual(queriesFor({ type: 'dpkg', name: 'a', version: '1', path: 'x' }, undefined), []);
  });

  it('writes Go versions as OSV does', () => {
    const v = (name: string, version: string) => queriesFor(pkg('go', name, version), undefined)[0]?.version;
    assert.equal(v('golang.org/x/net', 'v0.7.0'), '0.7.0');
    assert.equal(
      v('golang.org/x/net', 'v0.0.0-20220722155237-a158d28d115b'),
      '0.0.0-20220722155237-a158d28d115b',
    );
    assert.equal(v('example.com/app', '(devel)'), undefined);
    assert.equal(v('stdlib', 'go1.19.8'), '1.19.8');
    assert.equal(v('stdlib', 'go1.21'), '1.21.0');
    assert.equal(v('stdlib', '1.20.3'), '1.20.3');
    assert.equal(goToolchainSemver('go1.22rc1'), '1.22.0-rc.1');
    assert.equal(goToolchainSemver('go1.9beta2'), '1.9.0-beta.2');
    assert.equal(goToolchainSemver('go1.22.1 X:boringcrypto'), '1.22.1');
    assert.equal(goToolchainSemver('devel go1.23-abcdef'), undefined);
  });

  it('skips OS-managed language packages unless asked', () => {
    const owned = pkg('python', 'requests', '2.28.1', { osPackage: 'python3-requests' });
    assert.deepEqual(queriesFor(owned, DEBIAN_12), []);
    assert.equal(queriesFor(owned, DEBIAN_12, { osManagedLang: true }).length, 1);
  });
});

describe('matching language packages', () => {
  it('finds one record through every ecosystem it lists, names compared as each ecosystem does', async (t) => {
    // GHSA-77rm-9x9h-xj3g (protobuf) affects NuGet, Packagist, Maven, Go and PyPI packages
    const ghsa = record('GHSA-77rm-9x9h-xj3g');
    const db = await dbWith(t, [ghsa]);
    const typeOf = Object.fromEntries(Object.entries(LANG_ECOSYSTEMS).map(([k, v]) => [v, k])) as Record<
      string,
      PackageType
    >;
    // the name as an installed package's metadata may spell it
    const spell: Record<string, (n: string) => string> = {
      PyPI: (n) => n.toUpperCase().replace(/-/g, '_'),
      NuGet: (n) => n.toLowerCase(),
    };
    let checked = 0;
    for (const a of ghsa.affected!) {
      const eco = a.package!.ecosystem;
      const name = (spell[eco] ?? ((n: string) => n))(a.package!.name);
      const fixed = a.ranges![0]!.events.find((e) => e.fixed)!.fixed!;
      // affected: a listed version, or for the SEMVER-only Go entry one below the fix; unaffected: the fix
      const hit = a.versions?.length
        ? a.versions[0]!
        : `v${fixed.replace(/^(\d+)\..*/, (_, m) => `${Number(m) - 1}.0.0`)}`;
      const type = typeOf[eco]!;
      const found = matchPackages(db, { packages: [pkg(type, name, hit)] });
      assert.equal(found.length, 1, `${eco} ${name} ${hit}`);
      assert.ok(found[0]!.records.includes(ghsa.id));
      assert.equal(found[0]!.ecosystem, eco);
      assert.equal(found[0]!.package.matchedName, undefined, 'a normalised name is not a different name');
      assert.equal(found[0]!.fixedVersion, type === 'go' ? `v${fixed}` : fixed);
      const unaffected = type === 'go' ? `v${fixed}` : fixed;
      assert.deepEqual(
        matchPackages(db, { packages: [pkg(type, name, unaffected)] }),
        [],
        `${eco} ${unaffected}`,
      );
      checked++;
    }
    assert.equal(checked, 5);
  });

  it('Go: module versions with their v against SEMVER events without, and stdlib from the toolchain version', async (t) => {
    const rec = record('GO-2023-2102');
    const db = await dbWith(t, [rec]);
    const net = rec.affected!.find((a) => a.package!.name === 'golang.org/x/net')!;
    const netFix = net.ranges![0]!.events.find((e) => e.fixed)!.fixed!;
    const [f] = matchPackages(db, {
      packages: [pkg('go', 'golang.org/x/net', 'v0.7.0', { foundBy: 'binary' })],
    });
    assert.equal(f?.fixedVersion, `v${netFix}`);
    assert.equal(f?.package.matchedVersion, undefined);
    assert.equal(f?.installedVersion, 'v0.7.0');
    assert.deepEqual(matchPackages(db, { packages: [pkg('go', 'golang.org/x/net', `v${netFix}`)] }), []);

    // stdlib: [introduced 0, fixed A, introduced B, fixed C]: below A and between B and C are affected
    const std = rec.affected!.find((a) => a.package!.name === 'stdlib')!.ranges![0]!.events;
    const [a, b, c] = [std[1]!.fixed!, std[2]!.introduced!, std[3]!.fixed!];
    const at = (v: string) => matchPackages(db, { packages: [pkg('go', 'stdlib', v)] });
    const minor = (v: string) => v.split('.').slice(0, 2).join('.');
    assert.equal(at(`go${minor(a)}`)[0]?.fixedVersion, a, `go${minor(a)} is below ${a}`);
    assert.deepEqual(at(`go${a}`), []);
    assert.equal(at(`go${minor(b.replace(/-0$/, ''))}.0`)[0]?.fixedVersion, c);
    assert.deepEqual(at(`go${c}`), []);
  });

  it('npm records from the GHSA export', async (t) => {
    const db = await dbWith(t, [], [fixture('osv-export', 'npm', 'all.zip')]);
    const lodash = matchPackages(db, { packages: [pkg('npm', 'lodash', '4.17.15')] });
    assert.ok(lodash.some((f) => f.records.includes('GHSA-35jh-r3h4-6jhm')));
    assert.deepEqual(matchPackages(db, { packages: [pkg('npm', 'Lodash', '4.17.15')] }), []);
  });

  it('OS-managed packages only with osManagedLang, whatever the OS', async (t) => {
    const rec = record('PYSEC-2022-48');
    const db = await dbWith(t, [rec]);
    const v = rec.affected![0]!.versions![0]!;
    const p = pkg('python', 'protobuf', v, { osPackage: 'python3-protobuf' });
    assert.deepEqual(matchPackages(db, { os: DEBIAN_12, packages: [p] }), []);
    const found = matchPackages(db, { os: DEBIAN_12, packages: [p], osManagedLang: true });
    assert.deepEqual(
      found.map((f) => f.records),
      [[rec.id]],
    );
  });
});
