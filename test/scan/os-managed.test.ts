/**
 * Language packages installed by the OS package manager: the real dpkg, apk and rpm analyzers' file
 * lists, narrowed in the layer to what language analyzers read, and the packages they mark.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { apk } from '../../src/analyzers/apk.js';
import { dpkg, parseFileList } from '../../src/analyzers/dpkg.js';
import { rpm } from '../../src/analyzers/rpm.js';
import type { Analyzer } from '../../src/analyzers/types.js';
import type { Package } from '../../src/model/package.js';
import { collectInventory } from '../../src/scan/inventory.js';
import { analyzeLayer } from '../../src/scan/layer.js';
import { markOsManaged } from '../../src/scan/os-managed.js';
import { fakeImage } from './fake-image.js';
import { binLike, installedLike, packageJson, pkgInfo, pyLike } from './lang-analyzers.js';
import type { TarSpec } from './tar-builder.js';
import { buildTarGz } from './tar-builder.js';

const tmp = mkdtempSync(join(tmpdir(), 'moat-osm-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const ANALYZERS: readonly Analyzer[] = [dpkg, apk, rpm, pyLike, installedLike, binLike];
const inventory = (layers: TarSpec[][], analyzers = ANALYZERS) =>
  collectInventory(fakeImage(layers), { analyzers, cacheDir: join(tmp, `c${n++}`) });

/** "name@version path → owner" of the language packages, sorted */
const owners = (pkgs: readonly Package[]): string[] =>
  pkgs
    .filter((p) => p.type !== 'dpkg' && p.type !== 'apk' && p.type !== 'rpm')
    .map((p) => `${p.name}@${p.version} ${p.path} -> ${p.osPackage ?? '-'}`)
    .sort();

const STATUS = 'var/lib/dpkg/status';
const stanza = (name: string, version: string) =>
  `Package: ${name}\nStatus: install ok installed\nArchitecture: all\nVersion: ${version}\n`;
const DIST = 'usr/lib/python3/dist-packages';
const REQUESTS_INFO = `${DIST}/requests-2.28.1.egg-info/PKG-INFO`;
/** what dpkg writes for python3-requests, abridged: directories, metadata, code, docs */
const REQUESTS_LIST = [
  '/.',
  '/usr',
  '/usr/lib',
  '/usr/lib/python3',
  `/${DIST}`,
  `/${DIST}/requests`,
  `/${DIST}/requests/__init__.py`,
  `/${DIST}/requests-2.28.1.egg-info`,
  `/${REQUESTS_INFO}`,
  `/${DIST}/requests-2.28.1.egg-info/top_level.txt`,
  '/usr/share/doc/python3-requests/copyright',
  '',
].join('\n');

describe('dpkg file lists', () => {
  it('parses a .list file into root-relative paths and the package name (multi-arch qualifier dropped)', () => {
    const l = parseFileList(REQUESTS_LIST, 'var/lib/dpkg/info/python3-requests.list');
    assert.equal(l.owner, 'python3-requests');
    assert.equal(l.paths[0], 'usr');
    assert.ok(l.paths.includes(REQUESTS_INFO));
    assert.equal(
      l.paths.length,
      REQUESTS_LIST.split('\n').filter((x) => x.startsWith('/') && x !== '/.').length,
    );
    assert.equal(parseFileList('/.\n/lib/x\n', 'var/lib/dpkg/info/libc6:amd64.list').owner, 'libc6');
    assert.ok(dpkg.wants('var/lib/dpkg/info/libc6:amd64.list'));
    assert.equal(dpkg.wants('var/lib/dpkg/info/libc6.md5sums'), false);
    assert.equal(dpkg.wants('var/lib/dpkg/info/sub/x.list'), false);
  });

  const layer: TarSpec[] = [
    { path: STATUS, body: `${stanza('python3-requests', '2.28.1+dfsg-1')}\n${stanza('tool', '1.0-1')}` },
    { path: 'var/lib/dpkg/info/python3-requests.list', body: REQUESTS_LIST },
    { path: 'var/lib/dpkg/info/tool.list', body: '/.\n/usr\n/usr/bin\n/usr/bin/tool\n/usr/bin/tool.conf\n' },
    { path: `${DIST}/requests-2.28.1.egg-info`, type: 'dir' },
    { path: `${DIST}/requests/__init__.py`, body: '' },
    { path: REQUESTS_INFO, body: pkgInfo('requests', '2.28.1') },
    { path: `${DIST}/requests-2.28.1.egg-info/top_level.txt`, body: 'requests\n' },
    { path: 'usr/share/doc/python3-requests/copyright', body: 'text' },
    { path: 'usr/bin/tool', body: 'BIN example.com/tool=v1.2.3\n', mode: 0o755 },
    // the same bytes, not executable: a binary analyzer never reads it, so its ownership is not kept
    { path: 'usr/bin/tool.conf', body: 'BIN example.com/tool=v1.2.3\n', mode: 0o644 },
    // pip-installed next to the OS one: nobody's
    {
      path: 'usr/local/lib/python3.11/dist-packages/requests-2.31.0.dist-info/METADATA',
      body: pkgInfo('requests', '2.31.0'),
    },
  ];

  it('keeps only the owned paths other analyzers read, with their size and mode', async () => {
    const a = await analyzeLayer(
      Readable.from([buildTarGz(layer)]),
      { index: 0, digest: 'sha256:0000', mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
      {
        analyzers: ANALYZERS,
        tmpDir: join(tmp, 'spool'),
        maxLayerBytes: 1e9,
        maxFileBytes: 1e8,
        memoryCap: 1e6,
      },
    );
    const owned = a.outputs.flatMap((o) =>
      (o.output.owned ?? []).map((x) => `${x.owner}: ${x.paths.join(' ')}`),
    );
    assert.deepEqual(owned.sort(), [`python3-requests: ${REQUESTS_INFO}`, 'tool: usr/bin/tool']);
  });

  it('marks the Debian-installed packages with their owner, and only those', async () => {
    const inv = await inventory([layer]);
    assert.deepEqual(owners(inv.packages), [
      'example.com/tool@v1.2.3 usr/bin/tool -> tool',
      `requests@2.28.1 ${REQUESTS_INFO} -> python3-requests`,
      'requests@2.31.0 usr/local/lib/python3.11/dist-packages/requests-2.31.0.dist-info/METADATA -> -',
    ]);
  });

  it('follows the final filesystem: merged /usr symlinks, removed file lists', async () => {
    // the list names /lib/python3/..., the file sits under usr/ behind lib -> usr/lib
    const merged = await inventory([
      [
        { path: 'lib', type: 'symlink', linkname: 'usr/lib' },
        { path: STATUS, body: stanza('python3-x', '1.0-1') },
        { path: 'var/lib/dpkg/info/python3-x.list', body: '/.\n/lib/python3/dist-packages/x-1.0.egg-info\n' },
        { path: `${DIST}/x-1.0.egg-info`, body: pkgInfo('x', '1.0') },
      ],
    ]);
    assert.deepEqual(owners(merged.packages), [`x@1.0 ${DIST}/x-1.0.egg-info -> python3-x`]);

    // purged in a later layer, its files left behind (or put back by hand): owned by nobody any more
    const purged = await inventory([
      [
        { path: STATUS, body: stanza('python3-requests', '2.28.1+dfsg-1') },
        { path: 'var/lib/dpkg/info/python3-requests.list', body: REQUESTS_LIST },
        { path: REQUESTS_INFO, body: pkgInfo('requests', '2.28.1') },
      ],
      [{ path: STATUS, body: '' }, { path: 'var/lib/dpkg/info/.wh.python3-requests.list' }],
    ]);
    assert.deepEqual(owners(purged.packages), [`requests@2.28.1 ${REQUESTS_INFO} -> -`]);
  });

  it('distroless status.d images keep no file lists: no owner', async () => {
    const inv = await inventory([
      [
        { path: 'var/lib/dpkg/status.d/python3-requests', body: stanza('python3-requests', '2.28.1+dfsg-1') },
        {
          path: 'var/lib/dpkg/status.d/python3-requests.md5sums',
          body: `d41d8cd98f00b204e9800998ecf8427e  ${REQUESTS_INFO}\n`,
        },
        { path: REQUESTS_INFO, body: pkgInfo('requests', '2.28.1') },
      ],
    ]);
    assert.deepEqual(owners(inv.packages), [`requests@2.28.1 ${REQUESTS_INFO} -> -`]);
  });

  it('keeps an OS-managed copy apart from a pip-installed one of the same version', async () => {
    const inv = await inventory([
      [
        { path: STATUS, body: stanza('python3-requests', '2.28.1+dfsg-1') },
        { path: 'var/lib/dpkg/info/python3-requests.list', body: REQUESTS_LIST },
        { path: REQUESTS_INFO, body: pkgInfo('requests', '2.28.1') },
        {
          path: 'opt/venv/lib/python3.11/site-packages/requests-2.28.1.dist-info/METADATA',
          body: pkgInfo('Requests', '2.28.1'),
        },
      ],
    ]);
    assert.deepEqual(owners(inv.packages), [
      `Requests@2.28.1 opt/venv/lib/python3.11/site-packages/requests-2.28.1.dist-info/METADATA -> -`,
      `requests@2.28.1 ${REQUESTS_INFO} -> python3-requests`,
    ]);
  });
});

describe('apk and rpm file lists', () => {
  it('apk: R: lines under their F: directory', async () => {
    const db = [
      'P:py3-idna',
      'V:3.4-r4',
      'A:noarch',
      'o:py3-idna',
      'F:usr/lib/python3.11/site-packages/idna-3.4.dist-info',
      'R:METADATA',
      'R:RECORD',
      'F:usr/lib/node_modules/semver',
      'R:package.json',
      '',
      'P:nodejs',
      'V:18.18.2-r0',
      'F:usr/bin',
      'R:node',
      '',
    ].join('\n');
    const inv = await inventory([
      [
        { path: 'lib/apk/db/installed', body: db },
        {
          path: 'usr/lib/python3.11/site-packages/idna-3.4.dist-info/METADATA',
          body: pkgInfo('idna', '3.4'),
        },
        { path: 'usr/lib/node_modules/semver/package.json', body: packageJson('semver', '7.5.4') },
        { path: 'app/node_modules/semver/package.json', body: packageJson('semver', '7.5.4') },
      ],
    ]);
    assert.deepEqual(owners(inv.packages), [
      'idna@3.4 usr/lib/python3.11/site-packages/idna-3.4.dist-info/METADATA -> py3-idna',
      'semver@7.5.4 app/node_modules/semver/package.json -> -',
      'semver@7.5.4 usr/lib/node_modules/semver/package.json -> py3-idna',
    ]);
  });

  it('rpm: DIRNAMES/BASENAMES/DIRINDEXES agree with rpm itself', (t) => {
    let hasRpm = true;
    try {
      execFileSync('rpm', ['--version'], { stdio: 'ignore' });
    } catch {
      hasRpm = false;
    }
    if (!hasRpm) return t.skip('rpm (Debian package "rpm") is not installed');
    for (const c of ['cbl-mariner-2.0', 'reimported-centos5-8-mix']) {
      const src = join(import.meta.dirname, '../fixtures/pkgdb/rpm-sqlite', c, 'rpmdb.sqlite');
      const dir = mkdtempSync(join(tmp, 'rpmdb-'));
      copyFileSync(src, join(dir, 'rpmdb.sqlite'));
      const expected = execFileSync('rpm', ['--dbpath', dir, '-qa', '--qf', '[%{=NAME}\t%{FILENAMES}\n]'], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      })
        .split('\n')
        .filter((l) => l !== '' && !l.endsWith('\t(none)'))
        .map((l) => l.replace('\t/', '\t'))
        .sort();
      const data = readFileSync(src);
      const out = rpm.analyze(
        { path: 'var/lib/rpm/rpmdb.sqlite', size: data.length, data },
        { warn: () => {} },
      );
      assert.ok(!(out instanceof Promise));
      const got = (out.owned ?? []).flatMap((o) => o.paths.map((p) => `${o.owner}\t${p}`)).sort();
      assert.ok(expected.length > 1000, `${c}: rpm lists ${expected.length} files`);
      assert.deepEqual(got, expected, c);
    }
  });

  it('rpm: a Python egg-info owned by its rpm', async () => {
    const src = join(
      import.meta.dirname,
      '../fixtures/pkgdb/rpm-sqlite/reimported-centos5-8-mix/rpmdb.sqlite',
    );
    const egg = 'usr/lib/python2.7/site-packages/urlgrabber-3.10-py2.7.egg-info';
    const inv = await inventory([
      [
        { path: 'var/lib/rpm/rpmdb.sqlite', body: readFileSync(src) },
        { path: egg, body: pkgInfo('urlgrabber', '3.10') },
      ],
    ]);
    assert.deepEqual(owners(inv.packages), [`urlgrabber@3.10 ${egg} -> python-urlgrabber`]);
  });
});

describe('markOsManaged', () => {
  it('checks every location of a package and leaves OS packages alone', () => {
    const pkgs: Package[] = [
      {
        type: 'npm',
        name: 'a',
        version: '1',
        path: 'app/package-lock.json',
        locations: ['app/package-lock.json', 'usr/share/nodejs/a/package.json'],
      },
      { type: 'dpkg', name: 'node-a', version: '1-1', path: STATUS },
      { type: 'npm', name: 'b', version: '1', path: 'app/node_modules/b/package.json' },
    ];
    const marked = markOsManaged(pkgs, [
      { owner: 'node-a', paths: ['usr/share/nodejs/a/package.json'] },
      { owner: 'node-b', paths: [STATUS] },
    ]);
    assert.equal(marked, 1);
    assert.deepEqual(
      pkgs.map((p) => p.osPackage),
      ['node-a', undefined, undefined],
    );
  });
});
