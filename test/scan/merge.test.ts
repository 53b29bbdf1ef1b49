import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { MoatError } from '../../src/errors.js';
import type { LayerRef } from '../../src/model/package.js';
import { analyzeLayer, type LayerAnalysis } from '../../src/scan/layer.js';
import { LayeredFs, mergeLayers, planAliasReads } from '../../src/scan/merge.js';
import { buildTarGz, type TarSpec } from './tar-builder.js';
import { status, TEST_ANALYZERS } from './test-analyzers.js';

const tmp = mkdtempSync(join(tmpdir(), 'moat-merge-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function analyze(layers: TarSpec[][]): Promise<{ analyses: LayerAnalysis[]; refs: LayerRef[] }> {
  const analyses: LayerAnalysis[] = [];
  for (const [index, entries] of layers.entries()) {
    const digest = `sha256:${String(index).repeat(4)}`;
    analyses.push(
      await analyzeLayer(
        Readable.from([buildTarGz(entries)]),
        { index, digest, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
        {
          analyzers: TEST_ANALYZERS,
          tmpDir: join(tmp, 'tmp'),
          maxLayerBytes: 1e9,
          maxFileBytes: 1e8,
          memoryCap: 1e6,
        },
      ),
    );
  }
  return { analyses, refs: analyses.map((a, index) => ({ index, digest: a.digest })) };
}

async function merged(layers: TarSpec[][]) {
  const { analyses, refs } = await analyze(layers);
  return mergeLayers({ fs: new LayeredFs('test-image', analyses), refs });
}

/** "name=version@layer" of each final package, sorted */
function pkgs(r: { packages: { name: string; version: string; layer?: LayerRef }[] }): string[] {
  return r.packages.map((p) => `${p.name}=${p.version}@${p.layer?.index}`).sort();
}

const STATUS = 'var/lib/dpkg/status';

describe('mergeLayers: whiteouts and opaque dirs', () => {
  it('a whiteout in an upper layer hides the lower file', async () => {
    const r = await merged([[{ path: STATUS, body: status('a=1') }], [{ path: 'var/lib/dpkg/.wh.status' }]]);
    assert.deepEqual(pkgs(r), []);
  });

  it('entries of the whiteout layer itself survive', async () => {
    const r = await merged([
      [{ path: STATUS, body: status('a=1') }],
      [{ path: 'var/lib/dpkg/.wh.status' }, { path: STATUS, body: status('b=1') }],
    ]);
    assert.deepEqual(pkgs(r), ['b=1@1']);
  });

  it('an opaque dir hides lower content but keeps its own layer entries', async () => {
    const r = await merged([
      [
        { path: 'var/lib/dpkg/status.d/a', body: status('a=1') },
        { path: 'var/lib/dpkg/status.d/b', body: status('b=1') },
      ],
      [
        { path: 'var/lib/dpkg/status.d/.wh..wh..opq' },
        { path: 'var/lib/dpkg/status.d/c', body: status('c=1') },
      ],
    ]);
    assert.deepEqual(pkgs(r), ['c=1@1']);
  });

  it('a whiteout of the directory holding the dpkg status hides it, and a later layer can bring it back', async () => {
    const base = [{ path: STATUS, body: status('a=1', 'b=1') }];
    assert.deepEqual(pkgs(await merged([base, [{ path: 'var/lib/.wh.dpkg' }]])), []);
    assert.deepEqual(pkgs(await merged([base, [{ path: 'var/.wh.lib' }]])), []);
    const back = await merged([
      base,
      [{ path: 'var/lib/.wh.dpkg' }],
      [{ path: STATUS, body: status('a=1') }],
    ]);
    // a=1 vanished in layer 1, so it is attributed to the layer that brought it back
    assert.deepEqual(pkgs(back), ['a=1@2']);
  });

  it('a symlink replacing a directory hides what was under it', async () => {
    const r = await merged([
      [{ path: STATUS, body: status('a=1') }],
      [{ path: 'var/lib/dpkg', type: 'symlink', linkname: '/nowhere' }],
    ]);
    assert.deepEqual(pkgs(r), []);
  });

  it('a directory replacing a symlink hides the symlink', async () => {
    const { analyses } = await analyze([
      [{ path: 'var/lib/rpm', type: 'symlink', linkname: '/x' }],
      [{ path: 'var/lib/rpm/', type: 'dir' }],
    ]);
    assert.equal(new LayeredFs('img', analyses).resolve('var/lib/rpm/Packages'), 'var/lib/rpm/Packages');
  });

  it('takes OS hints from the final filesystem only', async () => {
    const osr = (id: string) => ({ path: 'usr/lib/os-release', body: `ID=${id}\nVERSION_ID=1\n` });
    assert.deepEqual(
      (await merged([[osr('debian')], [osr('ubuntu')]])).osHints.map((h) => h.os.family),
      ['ubuntu'],
    );
    assert.deepEqual((await merged([[osr('debian')], [{ path: 'usr/lib/.wh.os-release' }]])).osHints, []);
  });
});

describe('mergeLayers: layer attribution', () => {
  it('attributes a package in a rewritten database to the lowest layer of its continuous presence', async () => {
    const r = await merged([
      [{ path: STATUS, body: status('a=1', 'b=1', 'd=1') }],
      [{ path: STATUS, body: status('a=1', 'b=1', 'c=1') }],
      [{ path: STATUS, body: status('a=2', 'b=1', 'c=1', 'd=1') }],
    ]);
    assert.deepEqual(pkgs(r), ['a=2@2', 'b=1@0', 'c=1@1', 'd=1@2']);
  });

  it('attributes per-package files (status.d) to the layer of the file', async () => {
    const r = await merged([
      [{ path: 'var/lib/dpkg/status.d/a', body: status('a=1') }],
      [{ path: 'var/lib/dpkg/status.d/b', body: status('b=1') }],
      [{ path: 'var/lib/dpkg/status.d/b.md5sums', body: 'abc  /x' }],
    ]);
    assert.deepEqual(pkgs(r), ['a=1@0', 'b=1@1']);
  });

  it('keeps the LayerRef given for the layer', async () => {
    const { analyses } = await analyze([[{ path: STATUS, body: status('a=1') }]]);
    const ref = { index: 0, digest: analyses[0]!.digest, diffId: 'sha256:diff', createdBy: 'ADD rootfs' };
    const r = mergeLayers({ fs: new LayeredFs('x', analyses), refs: [ref] });
    assert.deepEqual(r.packages[0]!.layer, ref);
  });
});

describe('LayeredFs.resolve', () => {
  const links: TarSpec[] = [
    { path: 'bin', type: 'symlink', linkname: 'usr/bin' },
    { path: 'usr/lib/sysimage/rpm/', type: 'dir' },
    { path: 'var/lib/rpm', type: 'symlink', linkname: '../../usr/lib/sysimage/rpm' },
    { path: 'etc/abs', type: 'symlink', linkname: '/usr/lib/os-release' },
    { path: 'etc/escape', type: 'symlink', linkname: '../../../../../etc/shadow' },
    { path: 'etc/rel', type: 'symlink', linkname: './abs' },
    { path: 'loop/a', type: 'symlink', linkname: 'b' },
    { path: 'loop/b', type: 'symlink', linkname: '/loop/a' },
    { path: 'self', type: 'symlink', linkname: 'self/x' },
  ];
  const cases: [string, string][] = [
    ['bin/sh', 'usr/bin/sh'],
    ['var/lib/rpm/rpmdb.sqlite', 'usr/lib/sysimage/rpm/rpmdb.sqlite'],
    ['etc/abs', 'usr/lib/os-release'],
    ['etc/rel', 'usr/lib/os-release'],
    // a target climbing out of the image stops at the image root: never the host's /etc/shadow
    ['etc/escape', 'etc/shadow'],
    ['/var/lib/../lib/rpm/x', 'usr/lib/sysimage/rpm/x'],
    ['usr/bin/../../../../x', 'x'],
  ];
  for (const [path, want] of cases) {
    it(`${path} → ${want}`, async () => {
      const { analyses } = await analyze([links]);
      assert.equal(new LayeredFs('img', analyses).resolve(path), want);
    });
  }

  for (const path of ['loop/a', 'loop/b/c', 'self']) {
    it(`${path} loops: SYMLINK_LOOP naming the image and the path`, async () => {
      const { analyses } = await analyze([links]);
      assert.throws(
        () => new LayeredFs('img:tag', analyses).resolve(path),
        (e: unknown) =>
          e instanceof MoatError &&
          e.code === 'SYMLINK_LOOP' &&
          e.message.includes('img:tag') &&
          e.message.includes(path),
      );
    });
  }

  it('uses the final state of the links across layers', async () => {
    const { analyses } = await analyze([
      [{ path: 'lib', type: 'symlink', linkname: 'usr/lib' }],
      [{ path: '.wh.lib' }, { path: 'lib', type: 'symlink', linkname: 'opt/lib' }],
    ]);
    assert.equal(new LayeredFs('img', analyses).resolve('lib/x'), 'opt/lib/x');
  });
});

describe('planAliasReads', () => {
  it('asks for nothing when the analyzer already read the link target', async () => {
    const { analyses } = await analyze([
      [
        { path: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        { path: 'usr/lib/os-release', body: 'ID=debian\n' },
      ],
    ]);
    assert.deepEqual([...planAliasReads(new LayeredFs('img', analyses), TEST_ANALYZERS)], []);
  });

  it('asks for a wanted symlink whose target nobody wanted, in the layer holding the target', async () => {
    const { analyses } = await analyze([
      [{ path: 'opt/info/os', body: 'ID=custom\n' }],
      [{ path: 'etc/os-release', type: 'symlink', linkname: '/opt/info/os' }],
    ]);
    assert.deepEqual(
      [...planAliasReads(new LayeredFs('img', analyses), TEST_ANALYZERS)],
      [[0, [{ real: 'opt/info/os', as: 'etc/os-release', analyzer: 'os-test', entry: 'opt/info/os' }]]],
    );
  });

  it('asks for files under a symlinked parent directory that an analyzer wants', async () => {
    const { analyses } = await analyze([
      [
        { path: 'usr/lib/sysimage/rpm/Packages', body: 'bash=5\n' },
        { path: 'var/lib/rpm', type: 'symlink', linkname: '../../usr/lib/sysimage/rpm' },
      ],
    ]);
    assert.deepEqual(
      [...planAliasReads(new LayeredFs('img', analyses), TEST_ANALYZERS)],
      [
        [
          0,
          [
            {
              real: 'usr/lib/sysimage/rpm/Packages',
              as: 'var/lib/rpm/Packages',
              analyzer: 'rpm-test',
              entry: 'usr/lib/sysimage/rpm/Packages',
            },
          ],
        ],
      ],
    );
  });

  it('asks for the target of a hardlink at a wanted path', async () => {
    const { analyses } = await analyze([
      [
        { path: 'srv/status-copy', body: status('a=1') },
        { path: STATUS, type: 'hardlink', linkname: 'srv/status-copy' },
      ],
    ]);
    assert.deepEqual(
      [...planAliasReads(new LayeredFs('img', analyses), TEST_ANALYZERS)],
      [[0, [{ real: 'srv/status-copy', as: STATUS, analyzer: 'dpkg-test', entry: STATUS }]]],
    );
  });

  it('fails with SYMLINK_LOOP when a wanted path loops, and ignores loops nobody wants', async () => {
    const { analyses: harmless } = await analyze([[{ path: 'x/a', type: 'symlink', linkname: 'a' }]]);
    assert.deepEqual([...planAliasReads(new LayeredFs('img', harmless), TEST_ANALYZERS)], []);
    const { analyses } = await analyze([
      [
        { path: 'etc/os-release', type: 'symlink', linkname: 'os-release2' },
        { path: 'etc/os-release2', type: 'symlink', linkname: '/etc/os-release' },
      ],
    ]);
    assert.throws(
      () => planAliasReads(new LayeredFs('img', analyses), TEST_ANALYZERS),
      (e: unknown) =>
        e instanceof MoatError && e.code === 'SYMLINK_LOOP' && /img.*etc\/os-release/.test(e.message),
    );
  });
});
