/**
 * Language packages through the scan pipeline, with the small test analyzers of lang-analyzers.ts:
 * size and mode reach `wants` in every path a file can take (tar layers, the layer cache, second reads
 * through symlinks and hardlinks, dir: walks), layer attribution per declaring file, whiteouts, and
 * the merge of one package seen installed and in a lockfile.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { Analyzer } from '../../src/analyzers/types.js';
import { MoatError } from '../../src/errors.js';
import { openDir, openFilesystem } from '../../src/image/dir.js';
import type { LayerRef, Package } from '../../src/model/package.js';
import { collectInventory, type InventoryOptions } from '../../src/scan/inventory.js';
import { analyzeLayer, type LayerAnalysis } from '../../src/scan/layer.js';
import { LayeredFs, mergeLayers } from '../../src/scan/merge.js';
import { fakeImage } from './fake-image.js';
import {
  appBinLike,
  BIN_MIN,
  binLike,
  installedLike,
  lockLike,
  packageJson,
  pkgInfo,
  pyLike,
} from './lang-analyzers.js';
import { buildTarGz, type TarSpec } from './tar-builder.js';

const tmp = mkdtempSync(join(tmpdir(), 'moat-lang-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

const LANG: readonly Analyzer[] = [lockLike, installedLike, pyLike, binLike, appBinLike];
const opts = (over: Partial<InventoryOptions> = {}): InventoryOptions => ({
  analyzers: LANG,
  cacheDir: join(tmp, `cache${n++}`),
  ...over,
});

/** "name@version path layer [foundBy]" per package, sorted */
const view = (pkgs: readonly Package[]): string[] =>
  pkgs.map((p) => `${p.name}@${p.version} ${p.path} ${p.layer?.index ?? '-'} ${p.foundBy ?? ''}`).sort();

const bin = (...nv: string[]): string => `BIN ${nv.join(' ')}\n`;

async function mergedLayers(layers: TarSpec[][]): Promise<{ packages: Package[] }> {
  const analyses: LayerAnalysis[] = [];
  for (const [index, entries] of layers.entries()) {
    analyses.push(
      await analyzeLayer(
        Readable.from([buildTarGz(entries)]),
        {
          index,
          digest: `sha256:${String(index).repeat(8)}`,
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        },
        {
          analyzers: LANG,
          tmpDir: join(tmp, 'spool'),
          maxLayerBytes: 1e9,
          maxFileBytes: 1e8,
          memoryCap: 1e6,
        },
      ),
    );
  }
  const refs: LayerRef[] = analyses.map((a, index) => ({ index, digest: a.digest }));
  return mergeLayers({ fs: new LayeredFs('test', analyses), refs });
}

describe('wants gets the entry size and mode', () => {
  const layer: TarSpec[] = [
    { path: 'usr/local/bin/app', body: bin('example.com/m=v1.0.0'), mode: 0o755 },
    // same content, not executable: not a binary to read
    { path: 'usr/local/share/app.txt', body: bin('example.com/n=v1.0.0'), mode: 0o644 },
    // executable but smaller than the analyzer's minimum
    { path: 'usr/local/bin/tiny', body: 'BIN x', mode: 0o755 },
  ];

  it('in a tar layer, and the same through the layer cache', async () => {
    assert.ok('BIN x'.length < BIN_MIN);
    const o = opts();
    const first = await collectInventory(fakeImage([layer]), o);
    assert.deepEqual(view(first.packages), ['example.com/m@v1.0.0 usr/local/bin/app 0 binary']);
    const img = fakeImage([layer]);
    const again = await collectInventory(img, o);
    assert.deepEqual(img.opened, []);
    assert.equal(again.cacheHits, 1);
    assert.deepEqual(again.packages, first.packages);
  });

  it('in a second read: an executable reached through a symlinked directory and through a hardlink', async () => {
    // tar hardlinks name a file of their own layer: the helper and its link share layer 1
    const img = fakeImage([
      [
        { path: 'srv/app-1.0/bin/tool', body: bin('example.com/tool=v2.0.0'), mode: 0o755 },
        { path: 'srv/app-1.0/bin/notes', body: bin('example.com/notes=v9.9.9'), mode: 0o644 },
      ],
      [
        { path: 'opt/app', type: 'symlink', linkname: '../srv/app-1.0' },
        { path: 'srv/helper', body: bin('example.com/helper=v3.0.0'), mode: 0o700 },
        { path: 'srv/app-1.0/bin/hl', type: 'hardlink', linkname: 'srv/helper' },
      ],
    ]);
    const inv = await collectInventory(img, opts({ analyzers: [appBinLike] }));
    // the non-executable file under the same directory is never offered; the hardlink is read with its
    // target's mode, under the path the analyzer asked for
    assert.deepEqual(view(inv.packages), [
      'example.com/helper@v3.0.0 opt/app/bin/hl 1 binary',
      'example.com/tool@v2.0.0 opt/app/bin/tool 0 binary',
    ]);
    // each layer read once, then once more for the files only its links reach
    assert.deepEqual(img.opened.sort(), [0, 0, 1, 1]);
  });

  it('never reads a layer twice for files an analyzer already had under their own path', async () => {
    // merged /usr: every executable is also reachable as bin/<name>; binLike wants both names
    const img = fakeImage([
      [
        { path: 'bin', type: 'symlink', linkname: 'usr/bin' },
        { path: 'usr/bin/app', body: bin('example.com/m=v1.0.0'), mode: 0o755 },
        { path: 'usr/bin/bash', body: 'ELF, but not a Go binary', mode: 0o755 },
      ],
    ]);
    const inv = await collectInventory(img, opts({ analyzers: [binLike] }));
    assert.deepEqual(img.opened, [0]);
    assert.deepEqual(
      inv.packages.map((p) => [p.name, p.path, p.locations]),
      [['example.com/m', 'usr/bin/app', undefined]],
    );
  });

  it('in a dir: walk, without following a symlink out of the tree', async () => {
    const root = join(tmp, `root${n++}`);
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    mkdirSync(join(root, 'srv/app-1.0/bin'), { recursive: true });
    writeFileSync(join(root, 'usr/local/bin/app'), bin('example.com/m=v1.0.0'));
    chmodSync(join(root, 'usr/local/bin/app'), 0o755);
    writeFileSync(join(root, 'usr/local/bin/data'), bin('example.com/n=v1.0.0'));
    chmodSync(join(root, 'usr/local/bin/data'), 0o644);
    writeFileSync(join(root, 'srv/app-1.0/bin/tool'), bin('example.com/tool=v2.0.0'));
    chmodSync(join(root, 'srv/app-1.0/bin/tool'), 0o755);
    mkdirSync(join(root, 'opt'));
    symlinkSync('../srv/app-1.0', join(root, 'opt/app'));
    // an absolute link resolves inside the tree, never on the host
    const outside = join(tmp, `outside${n++}`);
    mkdirSync(join(outside, 'bin'), { recursive: true });
    writeFileSync(join(outside, 'bin/evil'), bin('example.com/evil=v6.6.6'));
    chmodSync(join(outside, 'bin/evil'), 0o755);
    symlinkSync(outside, join(root, 'opt/ext'));
    const inv = await collectInventory(await openDir(root), opts());
    // the tool is found twice (its own path, and the symlinked one appbin-test asks for): one package
    assert.deepEqual(
      inv.packages.map((p) => [p.name, p.path, p.locations]),
      [
        ['example.com/tool', 'srv/app-1.0/bin/tool', ['srv/app-1.0/bin/tool', 'opt/app/bin/tool']],
        ['example.com/m', 'usr/local/bin/app', undefined],
      ],
    );
  });
});

describe('layer attribution of language packages', () => {
  it('a lockfile rewritten by a later layer keeps the layer that introduced each package', async () => {
    const r = await mergedLayers([
      [{ path: 'app/test.lock', body: 'a=1\nb=1\n' }],
      [{ path: 'app/test.lock', body: 'a=1\nb=2\nc=1\n' }],
      [{ path: 'app/test.lock', body: 'a=1\nb=2\nc=1\n' }],
    ]);
    assert.deepEqual(view(r.packages), [
      'a@1 app/test.lock 0 lockfile',
      'b@2 app/test.lock 1 lockfile',
      'c@1 app/test.lock 1 lockfile',
    ]);
  });

  it('a per-package file belongs to its own layer, even when another file declared the same package earlier', async () => {
    const r = await mergedLayers([
      [
        { path: 'one/node_modules/lodash/package.json', body: packageJson('lodash', '4.17.15') },
        { path: 'one/test.lock', body: 'lodash=4.17.15\n' },
      ],
      [{ path: 'two/node_modules/lodash/package.json', body: packageJson('lodash', '4.17.15') }],
    ]);
    assert.deepEqual(view(r.packages), [
      'lodash@4.17.15 one/node_modules/lodash/package.json 0 installed',
      'lodash@4.17.15 one/test.lock 0 lockfile',
      'lodash@4.17.15 two/node_modules/lodash/package.json 1 installed',
    ]);
  });

  it('whiteouts and opaque directories hide language files as they hide OS databases', async () => {
    const r = await mergedLayers([
      [
        { path: 'app/test.lock', body: 'gone=1\n' },
        { path: 'srv/node_modules/x/package.json', body: packageJson('x', '1.0.0') },
        { path: 'srv/node_modules/y/package.json', body: packageJson('y', '1.0.0') },
        { path: 'usr/lib/python3/dist-packages/kept-1.0.egg-info/PKG-INFO', body: pkgInfo('kept', '1.0') },
      ],
      [
        { path: 'app/.wh.test.lock' },
        { path: 'srv/node_modules/.wh..wh..opq' },
        { path: 'srv/node_modules/y/package.json', body: packageJson('y', '2.0.0') },
      ],
    ]);
    assert.deepEqual(view(r.packages), [
      'kept@1.0 usr/lib/python3/dist-packages/kept-1.0.egg-info/PKG-INFO 0 installed',
      'y@2.0.0 srv/node_modules/y/package.json 1 installed',
    ]);
  });
});

describe('installed and lockfile-declared packages', () => {
  it('are reported once, with every file and the strongest evidence', async () => {
    const img = fakeImage([
      [{ path: 'app/test.lock', body: 'lodash=4.17.15 prod\nminimist=1.2.0 dev\nleft-pad=1.3.0\n' }],
      [
        { path: 'app/node_modules/lodash/package.json', body: packageJson('lodash', '4.17.15') },
        { path: 'app/node_modules/minimist/package.json', body: packageJson('minimist', '1.2.0') },
        // another version of a locked package: a different package
        { path: 'app/node_modules/left-pad/package.json', body: packageJson('left-pad', '1.1.0') },
      ],
    ]);
    const inv = await collectInventory(img, opts());
    const byKey = new Map(inv.packages.map((p) => [`${p.name}@${p.version}`, p]));
    assert.deepEqual([...byKey.keys()].sort(), [
      'left-pad@1.1.0',
      'left-pad@1.3.0',
      'lodash@4.17.15',
      'minimist@1.2.0',
    ]);
    const lodash = byKey.get('lodash@4.17.15')!;
    assert.equal(lodash.foundBy, 'installed');
    assert.equal(lodash.path, 'app/node_modules/lodash/package.json');
    assert.equal(lodash.layer?.index, 1);
    assert.deepEqual(lodash.locations, ['app/node_modules/lodash/package.json', 'app/test.lock']);
    // what only the lockfile knows survives the merge
    assert.equal(lodash.direct, true);
    assert.equal(lodash.dev, false);
    assert.equal(byKey.get('minimist@1.2.0')!.dev, true);
    assert.equal(byKey.get('left-pad@1.3.0')!.foundBy, 'lockfile');
    assert.equal(byKey.get('left-pad@1.3.0')!.locations, undefined);
    assert.equal(byKey.get('left-pad@1.1.0')!.foundBy, 'installed');
  });
});

describe('project directories (openFilesystem)', () => {
  it('finds lockfiles anywhere in the tree and skips .git', async () => {
    const root = join(tmp, `proj${n++}`);
    for (const d of ['.git/refs', 'web', 'services/api', 'vendor/.git'])
      mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'test.lock'), 'top=1\n');
    writeFileSync(join(root, 'web/test.lock'), 'web=1\n');
    writeFileSync(join(root, 'services/api/test.lock'), 'api=1\n');
    // a lockfile inside a repository's object store is history, not the project
    writeFileSync(join(root, '.git/test.lock'), 'old=1\n');
    writeFileSync(join(root, 'vendor/.git/test.lock'), 'old2=1\n');
    const dir = await openFilesystem(root);
    assert.equal(dir.ref, root);
    const inv = await collectInventory(dir, opts());
    assert.deepEqual(view(inv.packages), [
      'api@1 services/api/test.lock 0 lockfile',
      'top@1 test.lock 0 lockfile',
      'web@1 web/test.lock 0 lockfile',
    ]);
    // dir: keeps reading everything, as before
    const all = await collectInventory(await openDir(root), opts());
    assert.equal(all.packages.length, 5);
  });

  it('stops a walk when the time limit passes (--timeout), naming the directory', async () => {
    const root = join(tmp, `slow${n++}`);
    mkdirSync(join(root, 'a'), { recursive: true });
    writeFileSync(join(root, 'a/test.lock'), 'x=1\n');
    const signal = AbortSignal.abort();
    await assert.rejects(
      collectInventory(await openFilesystem(root), opts({ signal })),
      (e: unknown) => e instanceof MoatError && e.code === 'TIMEOUT' && e.message.startsWith(`${root}:`),
    );
  });
});
