import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FoundBy, Package, PackageType } from '../../src/model/package.js';
import { dedupePackages } from '../../src/scan/dedupe.js';

const p = (type: PackageType, name: string, version: string, path: string, foundBy?: FoundBy): Package => {
  const pkg: Package = { type, name, version, path };
  if (foundBy) pkg.foundBy = foundBy;
  return pkg;
};

/** "name version path foundBy [locations]" per result */
const lines = (pkgs: Package[]): string[] =>
  pkgs.map(
    (x) =>
      `${x.name} ${x.version} ${x.path} ${x.foundBy ?? '-'}${x.locations ? ` [${x.locations.join(',')}]` : ''}`,
  );

describe('dedupePackages', () => {
  it('compares names as each ecosystem does', () => {
    const cases: [PackageType, string, string, boolean][] = [
      // PEP 503: case, and runs of -_. are one separator
      ['python', 'PyYAML', 'pyyaml', true],
      ['python', 'zope.interface', 'Zope_Interface', true],
      ['python', 'jinja2', 'jinja-2', false],
      // npm names are exact (the registry forbids new upper-case names; old ones are distinct packages)
      ['npm', 'JSONStream', 'jsonstream', false],
      ['npm', '@types/node', '@types/node', true],
      // NuGet ids ignore case
      ['nuget', 'Newtonsoft.Json', 'newtonsoft.json', true],
      // Maven groupId:artifactId, Go module paths, gems, crates, composer: exact
      ['maven', 'org.apache.logging.log4j:log4j-core', 'org.apache.logging.log4j:log4j-core', true],
      ['maven', 'org.apache.logging.log4j:log4j-core', 'org.apache.logging.log4j:log4j-api', false],
      ['go', 'github.com/BurntSushi/toml', 'github.com/burntsushi/toml', false],
      ['gem', 'rack', 'Rack', false],
      ['cargo', 'tokio', 'tokio', true],
    ];
    for (const [type, a, b, same] of cases) {
      const out = dedupePackages([
        p(type, a, '1.0', 'x/installed', 'installed'),
        p(type, b, '1.0', 'y/lock', 'lockfile'),
      ]);
      assert.equal(out.length, same ? 1 : 2, `${type} ${a} vs ${b}`);
    }
    // different versions or types never merge
    assert.equal(dedupePackages([p('npm', 'a', '1.0', 'x'), p('npm', 'a', '1.1', 'y')]).length, 2);
    assert.equal(dedupePackages([p('npm', 'a', '1.0', 'x'), p('cargo', 'a', '1.0', 'y')]).length, 2);
  });

  it('keeps the strongest evidence: installed over binary over lockfile, whatever the order', () => {
    const all = [
      p('go', 'golang.org/x/net', 'v0.7.0', 'src/go.mod', 'lockfile'),
      p('go', 'golang.org/x/net', 'v0.7.0', 'usr/bin/app', 'binary'),
      p('go', 'golang.org/x/net', 'v0.7.0', 'root/go/pkg/mod/golang.org/x/net@v0.7.0', 'installed'),
    ];
    for (const order of [all, [...all].reverse(), [all[1]!, all[0]!, all[2]!]]) {
      const out = dedupePackages(order);
      assert.equal(out.length, 1);
      assert.equal(out[0]!.foundBy, 'installed');
      assert.equal(out[0]!.path, 'root/go/pkg/mod/golang.org/x/net@v0.7.0');
      assert.deepEqual([...out[0]!.locations!].sort(), all.map((x) => x.path).sort());
    }
    const two = dedupePackages([all[0]!, all[1]!]);
    assert.deepEqual(lines(two), ['golang.org/x/net v0.7.0 usr/bin/app binary [usr/bin/app,src/go.mod]']);
  });

  it('merges dependency facts and keeps OS-owned copies apart', () => {
    const lock: Package = {
      ...p('npm', 'a', '1.0.0', 'app/package-lock.json', 'lockfile'),
      dev: true,
      direct: false,
    };
    const lock2: Package = {
      ...p('npm', 'a', '1.0.0', 'web/yarn.lock', 'lockfile'),
      dev: false,
      direct: true,
    };
    const inst: Package = {
      ...p('npm', 'a', '1.0.0', 'app/node_modules/a/package.json', 'installed'),
      license: 'MIT',
    };
    const [merged] = dedupePackages([lock, inst, lock2]);
    assert.equal(merged!.dev, false, 'a runtime dependency somewhere is not development-only');
    assert.equal(merged!.direct, true);
    assert.equal(merged!.license, 'MIT');
    assert.deepEqual(
      dedupePackages([lock]).map((x) => [x.dev, x.direct]),
      [[true, false]],
    );

    const os: Package = {
      ...p('python', 'requests', '2.28.1', 'usr/lib/python3/dist-packages/requests.egg-info', 'installed'),
      osPackage: 'python3-requests',
    };
    const pip = p(
      'python',
      'requests',
      '2.28.1',
      'usr/local/lib/python3.11/dist-packages/requests.dist-info/METADATA',
      'installed',
    );
    assert.equal(dedupePackages([os, pip]).length, 2);
    // inputs are not modified; OS packages pass through in place
    const dpkg = p('dpkg', 'python3-requests', '2.28.1+dfsg-1', 'var/lib/dpkg/status');
    const out = dedupePackages([dpkg, inst, lock]);
    assert.equal(out[0], dpkg);
    assert.equal(inst.locations, undefined);
    assert.equal(out.length, 2);
  });
});
