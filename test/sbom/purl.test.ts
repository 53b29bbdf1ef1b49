import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Package } from '../../src/model/package.js';
import { formatPurl, osFromPurl, packageFromPurl, parsePurl, pep503, purlFor } from '../../src/scan/purl.js';

const debian = { family: 'debian', version: '12' };

/** [package, os, expected purl]: one row per package type, following the purl type definitions. */
const ROWS: [Package, { family: string; version: string } | undefined, string][] = [
  [
    {
      type: 'dpkg',
      name: 'libc6',
      version: '2.36-9+deb12u4',
      arch: 'amd64',
      source: { name: 'glibc', version: '2.36-9+deb12u4' },
      path: 'var/lib/dpkg/status',
    },
    debian,
    'pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc',
  ],
  [
    {
      type: 'dpkg',
      name: 'libgcc-s1',
      version: '12.2.0-14',
      arch: 'amd64',
      source: { name: 'gcc-12', version: '12.2.0-14' },
      path: 'var/lib/dpkg/status',
    },
    debian,
    'pkg:deb/debian/libgcc-s1@12.2.0-14?arch=amd64&distro=debian-12&upstream=gcc-12',
  ],
  [
    // binNMU: the source keeps its own version; the colon of an epoch stays unencoded
    {
      type: 'dpkg',
      name: 'libx',
      version: '1:1.0-2+b1',
      arch: 'arm64',
      source: { name: 'x', version: '1:1.0-2' },
      path: 'var/lib/dpkg/status',
    },
    debian,
    'pkg:deb/debian/libx@1:1.0-2%2Bb1?arch=arm64&distro=debian-12&upstream=x%401:1.0-2',
  ],
  [
    {
      type: 'apk',
      name: 'musl',
      version: '1.2.4-r2',
      arch: 'x86_64',
      source: { name: 'musl', version: '1.2.4-r2' },
      path: 'lib/apk/db/installed',
    },
    { family: 'alpine', version: '3.18.4' },
    'pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.18.4&upstream=musl',
  ],
  [
    {
      type: 'rpm',
      name: 'bash',
      version: '1:5.1.8-6.el9',
      epoch: 1,
      upstreamVersion: '5.1.8',
      release: '6.el9',
      arch: 'x86_64',
      path: 'var/lib/rpm/rpmdb.sqlite',
    },
    { family: 'rhel', version: '9.4' },
    'pkg:rpm/redhat/bash@5.1.8-6.el9?arch=x86_64&distro=rhel-9.4&epoch=1',
  ],
  [
    { type: 'npm', name: '@types/node', version: '20.1.0', path: 'package-lock.json' },
    undefined,
    'pkg:npm/%40types/node@20.1.0',
  ],
  [{ type: 'npm', name: 'lodash', version: '4.17.15', path: 'x' }, debian, 'pkg:npm/lodash@4.17.15'],
  [
    { type: 'python', name: 'Typing_Extensions', version: '4.5.0', path: 'x' },
    undefined,
    'pkg:pypi/typing-extensions@4.5.0',
  ],
  [
    { type: 'python', name: 'zope.interface', version: '6.0', path: 'x' },
    undefined,
    'pkg:pypi/zope-interface@6.0',
  ],
  [
    { type: 'go', name: 'github.com/gin-gonic/gin', version: 'v1.9.0', path: 'app' },
    undefined,
    'pkg:golang/github.com/gin-gonic/gin@v1.9.0',
  ],
  [{ type: 'go', name: 'stdlib', version: 'v1.21.0', path: 'app' }, undefined, 'pkg:golang/stdlib@v1.21.0'],
  [
    { type: 'maven', name: 'org.apache.logging.log4j:log4j-core', version: '2.14.1', path: 'a.jar' },
    undefined,
    'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
  ],
  [{ type: 'gem', name: 'rack', version: '2.2.3', path: 'x' }, undefined, 'pkg:gem/rack@2.2.3'],
  [{ type: 'cargo', name: 'smallvec', version: '1.6.0', path: 'x' }, undefined, 'pkg:cargo/smallvec@1.6.0'],
  [
    { type: 'composer', name: 'Symfony/Http-Kernel', version: 'v5.4.0', path: 'x' },
    undefined,
    'pkg:composer/symfony/http-kernel@v5.4.0',
  ],
  [
    { type: 'nuget', name: 'Newtonsoft.Json', version: '12.0.1', path: 'x' },
    undefined,
    'pkg:nuget/Newtonsoft.Json@12.0.1',
  ],
];

describe('purl construction', () => {
  for (const [pkg, os, expected] of ROWS) {
    test(`${pkg.type} ${pkg.name}`, () => {
      assert.equal(purlFor(pkg, os), expected);
    });
  }

  test('PEP 503 collapses runs of separators', () => {
    assert.equal(pep503('Foo__Bar.-baz'), 'foo-bar-baz');
  });
});

describe('purl parsing', () => {
  test('every constructed purl parses back to the same string', () => {
    for (const [, , purl] of ROWS) {
      const p = parsePurl(purl);
      assert.ok(p, purl);
      assert.equal(formatPurl(p), purl);
    }
  });

  test('the spec examples: subpath, qualifiers, encoded namespace, pkg:// form', () => {
    const p = parsePurl('pkg://npm/%40angular/animation@12.3.1?b=2&a=1#dist/x');
    assert.deepEqual(p, {
      type: 'npm',
      namespace: '@angular',
      name: 'animation',
      version: '12.3.1',
      qualifiers: { a: '1', b: '2' },
      subpath: 'dist/x',
    });
    assert.equal(formatPurl(p!), 'pkg:npm/%40angular/animation@12.3.1?a=1&b=2#dist/x');
    assert.equal(parsePurl('not a purl'), undefined);
    assert.equal(parsePurl('pkg:npm'), undefined);
    assert.equal(parsePurl('pkg:deb/debian/curl')?.version, undefined);
  });

  test('packages back from purls: names, versions, arch, epoch and source packages', () => {
    for (const [pkg, os, purl] of ROWS) {
      const back = packageFromPurl(parsePurl(purl)!, pkg.path);
      assert.ok(back, purl);
      assert.equal(back.type, pkg.type, purl);
      assert.equal(back.version, pkg.version, purl);
      assert.equal(back.arch, pkg.arch, purl);
      assert.deepEqual(back.source, pkg.source, purl);
      // purl names are canonical: PyPI and Composer names come back normalised
      const canonical =
        pkg.type === 'python'
          ? pep503(pkg.name)
          : pkg.type === 'composer'
            ? pkg.name.toLowerCase()
            : pkg.name;
      assert.equal(back.name, canonical, purl);
      const osPackage = pkg.type === 'dpkg' || pkg.type === 'apk' || pkg.type === 'rpm';
      assert.deepEqual(osFromPurl(parsePurl(purl)!), osPackage ? os : undefined, purl);
    }
  });

  test("other tools' forms: Trivy's epoch qualifier and bare distro version, Syft's source RPM", () => {
    const trivy = packageFromPurl(
      parsePurl('pkg:deb/debian/bsdutils@2.38.1-5%2Bb1?arch=amd64&distro=debian-12.5&epoch=1')!,
      'f',
    );
    assert.equal(trivy?.version, '1:2.38.1-5+b1');
    assert.deepEqual(osFromPurl(parsePurl('pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=3.18.4')!), {
      family: 'alpine',
      version: '3.18.4',
    });
    const syft = packageFromPurl(
      parsePurl(
        'pkg:rpm/rhel/bash@5.1.8-6.el9?arch=x86_64&upstream=bash-5.1.8-6.el9.src.rpm&distro=rhel-9.4',
      )!,
      'f',
    );
    assert.deepEqual(syft?.source, { name: 'bash', version: '5.1.8-6.el9' });
    assert.equal(syft?.upstreamVersion, '5.1.8');
    assert.equal(syft?.release, '6.el9');
    assert.deepEqual(osFromPurl(parsePurl('pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie')!), {
      family: 'debian',
      version: '',
      codename: 'jessie',
    });
    assert.equal(packageFromPurl(parsePurl('pkg:generic/openssl@1.1.10g')!, 'f'), undefined);
    assert.equal(packageFromPurl(parsePurl('pkg:npm/lodash')!, 'f'), undefined, 'no version');
  });
});
