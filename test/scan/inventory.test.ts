import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Analyzer } from '../../src/analyzers/types.js';
import { MoatError } from '../../src/errors.js';
import type { ImageConfig, OpenedImage } from '../../src/image/types.js';
import type { ProgressEvent } from '../../src/model/progress.js';
import { collectInventory, type InventoryOptions, layerRefs } from '../../src/scan/inventory.js';
import { fakeImage } from './fake-image.js';
import { parseStatus, status, TEST_ANALYZERS } from './test-analyzers.js';

const tmp = mkdtempSync(join(tmpdir(), 'moat-inv-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const opts = (over: Partial<InventoryOptions> = {}): InventoryOptions => ({
  analyzers: TEST_ANALYZERS,
  cacheDir: join(tmp, `cache${n++}`),
  ...over,
});

const STATUS = 'var/lib/dpkg/status';

const CONFIG: ImageConfig = {
  rootfs: { type: 'layers', diff_ids: ['sha256:d0', 'sha256:d1', 'sha256:d2'] },
  history: [
    { created_by: 'ADD rootfs.tar /' },
    { created_by: 'CMD ["bash"]', empty_layer: true },
    { created_by: 'RUN apt-get install curl' },
    { created_by: 'ENV X=1', empty_layer: true },
    { created_by: 'RUN apt-get upgrade' },
  ],
};

function threeLayers() {
  return fakeImage(
    [
      [
        { path: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        { path: 'usr/lib/os-release', body: 'ID=debian\nVERSION_ID="12"\n' },
        { path: STATUS, body: status('base=1', 'libc=2.36') },
      ],
      [{ path: STATUS, body: status('base=1', 'libc=2.36', 'curl=7.88') }],
      [{ path: STATUS, body: status('base=1', 'libc=2.37') }, { path: 'usr/bin/.wh.curl' }],
    ],
    { config: CONFIG },
  );
}

describe('collectInventory', () => {
  it('merges the layers into packages with layer refs from the config', async () => {
    const img = threeLayers();
    const inv = await collectInventory(img, opts());
    assert.deepEqual(inv.packages.map((p) => `${p.name}=${p.version}@${p.layer?.index}`).sort(), [
      'base=1@0',
      'libc=2.37@2',
    ]);
    const libc = inv.packages.find((p) => p.name === 'libc')!;
    assert.deepEqual(libc.layer, {
      index: 2,
      digest: img.layers[2]!.digest,
      diffId: 'sha256:d2',
      createdBy: 'RUN apt-get upgrade',
    });
    assert.deepEqual(
      inv.layers.map((l) => l.createdBy),
      ['ADD rootfs.tar /', 'RUN apt-get install curl', 'RUN apt-get upgrade'],
    );
    assert.deepEqual(
      inv.osHints.map((h) => [h.os.family, h.os.source]),
      [['debian', 'usr/lib/os-release']],
    );
    assert.equal(inv.cacheHits, 0);
    assert.deepEqual(inv.warnings, []);
  });

  it('answers a rescan from the layer cache without opening any layer', async () => {
    const o = opts();
    const first = await collectInventory(threeLayers(), o);
    const img = threeLayers();
    const t0 = performance.now();
    const again = await collectInventory(img, o);
    const ms = performance.now() - t0;
    assert.deepEqual(img.opened, []);
    assert.equal(again.cacheHits, 3);
    assert.deepEqual(again.packages, first.packages);
    assert.deepEqual(again.osHints, first.osHints);
    assert.ok(ms < 1000, `warm inventory took ${ms} ms`);
  });

  it('reuses shared layers between images and reads only the new ones', async () => {
    const o = opts();
    await collectInventory(threeLayers(), o);
    const base = threeLayers();
    const other = fakeImage([
      [
        { path: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        { path: 'usr/lib/os-release', body: 'ID=debian\nVERSION_ID="12"\n' },
        { path: STATUS, body: status('base=1', 'libc=2.36') },
      ],
      [{ path: STATUS, body: status('base=1', 'libc=2.36', 'python3=3.11') }],
    ]);
    assert.equal(other.layers[0]!.digest, base.layers[0]!.digest);
    const inv = await collectInventory(other, o);
    assert.deepEqual(other.opened, [1]);
    assert.equal(inv.cacheHits, 1);
  });

  it('changes the cache key with the analyzer versions', async () => {
    const o = opts();
    await collectInventory(threeLayers(), o);
    const bumped = TEST_ANALYZERS.map((a): Analyzer => (a.name === 'dpkg-test' ? { ...a, version: 2 } : a));
    const img = threeLayers();
    await collectInventory(img, { ...o, analyzers: bumped });
    assert.deepEqual(img.opened.sort(), [0, 1, 2]);
  });

  it('neither reads nor writes the cache with noCache', async () => {
    const o = opts({ noCache: true });
    await collectInventory(threeLayers(), o);
    assert.equal(existsSync(join(o.cacheDir, 'layers.sqlite')), false);
  });

  it('reports progress per layer, ending with a finished event', async () => {
    const events: ProgressEvent[] = [];
    const img = threeLayers();
    await collectInventory(img, opts({ onProgress: (e) => events.push(e) }));
    const finished = events.filter((e) => e.finished);
    assert.deepEqual(finished.map((e) => e.id).sort(), img.layers.map((l) => l.digest).sort());
    for (const e of finished) assert.equal(e.done, img.layers.find((l) => l.digest === e.id)!.size);
  });

  it('reads files reached through a symlinked directory in a second pass, and caches that too', async () => {
    const o = opts();
    const build = () =>
      fakeImage([
        [{ path: 'usr/lib/sysimage/rpm/Packages', body: 'bash=5.2\nzlib=1.3\n' }],
        [{ path: 'var/lib/rpm', type: 'symlink', linkname: '../../usr/lib/sysimage/rpm' }],
      ]);
    const img = build();
    const inv = await collectInventory(img, o);
    assert.deepEqual(
      inv.packages.map((p) => [p.name, p.version, p.path, p.layer?.index]),
      [
        ['bash', '5.2', 'var/lib/rpm/Packages', 0],
        ['zlib', '1.3', 'var/lib/rpm/Packages', 0],
      ],
    );
    // layer 0 read twice: the second pass only knows what to look for once layer 1 is known
    assert.deepEqual(img.opened.sort(), [0, 0, 1]);
    const again = build();
    const inv2 = await collectInventory(again, o);
    assert.deepEqual(again.opened, []);
    assert.equal(inv2.cacheHits, 3);
    assert.deepEqual(inv2.packages, inv.packages);
  });

  it('analyzes a wanted path that is a hardlink, and one that is a symlink out of the root', async () => {
    const inv = await collectInventory(
      fakeImage([
        [
          { path: 'srv/db', body: status('a=1') },
          { path: STATUS, type: 'hardlink', linkname: 'srv/db' },
          // must resolve to the image's own etc/host-os, never the host's /etc
          { path: 'etc/host-os', body: 'ID=inside\n' },
          { path: 'etc/os-release', type: 'symlink', linkname: '../../../../../etc/host-os' },
        ],
      ]),
      opts(),
    );
    assert.deepEqual(
      inv.packages.map((p) => [p.name, p.path]),
      [['a', STATUS]],
    );
    assert.deepEqual(
      inv.osHints.map((h) => [h.os.family, h.os.source]),
      [['inside', 'etc/os-release']],
    );
  });

  it('warns when a wanted hardlink points at no file of its layer', async () => {
    const inv = await collectInventory(
      fakeImage([[{ path: STATUS, type: 'hardlink', linkname: 'gone/status' }]]),
      opts(),
    );
    assert.deepEqual(inv.packages, []);
    assert.deepEqual(
      inv.warnings.map((w) => w.code),
      ['link-target-missing'],
    );
    assert.match(inv.warnings[0]!.message, /var\/lib\/dpkg\/status: links to gone\/status/);
  });

  it('gives an empty inventory for an image without layers', async () => {
    const inv = await collectInventory(fakeImage([]), opts());
    assert.deepEqual(inv, { osHints: [], packages: [], layers: [], warnings: [], cacheHits: 0 });
  });

  it('fails with SYMLINK_LOOP when a wanted path loops', async () => {
    await assert.rejects(
      collectInventory(
        fakeImage(
          [
            [
              { path: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
              { path: 'usr/lib/os-release', type: 'symlink', linkname: '/etc/os-release' },
            ],
          ],
          { name: 'loopy:1' },
        ),
        opts(),
      ),
      (e: unknown) => e instanceof MoatError && e.code === 'SYMLINK_LOOP' && e.message.includes('loopy:1'),
    );
  });

  it('fails on a bad layer, stops the others and leaves no spool file', async () => {
    const good = Array.from({ length: 4 }, (_, i) => [{ path: `f${i}`, body: 'x'.repeat(100_000) }]);
    const img = fakeImage([...good, [{ path: '../../etc/passwd', body: 'root' }], ...good]);
    const o = opts({ memoryCap: 10 });
    await assert.rejects(
      collectInventory(img, o),
      (e: unknown) => e instanceof MoatError && e.code === 'PATH_TRAVERSAL',
    );
    assert.ok(img.opened.length < 9, 'layers after the failure were not all read');
    const spool = join(o.cacheDir, 'tmp');
    assert.deepEqual(existsSync(spool) ? readdirSync(spool) : [], []);
  });

  it('fails with UNSUPPORTED_MEDIA_TYPE for a non-layer blob', async () => {
    const img = fakeImage([[{ path: 'a' }]], { mediaType: 'application/vnd.oci.image.config.v1+json' });
    await assert.rejects(
      collectInventory(img, opts()),
      (e: unknown) => e instanceof MoatError && e.code === 'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('keeps going with a warning when the cache file is corrupt', async () => {
    const o = opts();
    await collectInventory(threeLayers(), o);
    writeFileSync(join(o.cacheDir, 'layers.sqlite'), Buffer.alloc(4096, 7));
    rmSync(join(o.cacheDir, 'layers.sqlite-wal'), { force: true });
    rmSync(join(o.cacheDir, 'layers.sqlite-shm'), { force: true });
    const inv = await collectInventory(threeLayers(), o);
    assert.equal(inv.packages.length, 2);
    assert.ok(inv.warnings.some((w) => w.code === 'cache-recreated'));
  });
});

describe('layerRefs', () => {
  it('leaves createdBy out when the history does not line up with the layers', () => {
    const img = threeLayers();
    const refs = layerRefs({ ...img, config: { ...CONFIG, history: [{ created_by: 'only one' }] } });
    assert.deepEqual(
      refs.map((r) => [r.diffId, r.createdBy]),
      [
        ['sha256:d0', undefined],
        ['sha256:d1', undefined],
        ['sha256:d2', undefined],
      ],
    );
  });
});

// Real images from test/scripts/make-test-images.sh, read straight from the OCI layout.
const IMAGES = process.env.MOAT_TEST_IMAGES ?? '/var/tmp/moat-test-images';
const OCI = join(IMAGES, 'oci');

function ociImage(ref: string): OpenedImage & { opened: number[] } {
  const blobPath = (d: string) => join(OCI, 'blobs', d.replace(':', '/'));
  const index = JSON.parse(readFileSync(join(OCI, 'index.json'), 'utf8'));
  const desc = index.manifests.find(
    (m: { annotations?: Record<string, string> }) =>
      m.annotations?.['org.opencontainers.image.ref.name'] === ref,
  );
  const manifest = JSON.parse(readFileSync(blobPath(desc.digest), 'utf8'));
  const opened: number[] = [];
  return {
    source: 'oci',
    ref: `oci:${OCI}:${ref}`,
    name: ref,
    config: JSON.parse(readFileSync(blobPath(manifest.config.digest), 'utf8')),
    layers: manifest.layers.map((l: { digest: string; mediaType: string; size: number }, index: number) => ({
      index,
      ...l,
    })),
    opened,
    openLayer: async (l) => {
      opened.push(l.index);
      return createReadStream(blobPath(l.digest));
    },
    close: async () => {},
  };
}

/** the packages of each layer's own dpkg status, read with GNU tar (independently of moat's reader) */
function statusPerLayer(img: OpenedImage): (Map<string, string> | undefined)[] {
  return img.layers.map((l) => {
    const blob = join(OCI, 'blobs', l.digest.replace(':', '/'));
    const members = execFileSync('tar', ['-tzf', blob], { maxBuffer: 256 << 20, encoding: 'utf8' }).split(
      '\n',
    );
    const member = members.find((m) => m.replace(/^\.\//, '') === STATUS);
    if (!member) return undefined;
    const text = execFileSync('tar', ['-xzOf', blob, member], { maxBuffer: 64 << 20, encoding: 'utf8' });
    return new Map(parseStatus(text, STATUS).map((p) => [`${p.name}:${p.arch}`, p.version]));
  });
}

describe('collectInventory on real images', { skip: !existsSync(join(OCI, 'index.json')) }, () => {
  it('multilayer: final packages are the top status file, attributed by continuous presence', async () => {
    const img = ociImage('multilayer');
    const inv = await collectInventory(img, opts());
    const perLayer = statusPerLayer(img);
    // every layer of this image rewrites the status file, so visibility is simply "the latest one"
    assert.ok(perLayer.every((m) => m !== undefined));
    const top = perLayer.at(-1)!;
    const got = new Map(inv.packages.map((p) => [`${p.name}:${p.arch}`, p.version]));
    assert.deepEqual(got, top);
    for (const p of inv.packages) {
      const key = `${p.name}:${p.arch}`;
      let from: number = perLayer.length - 1;
      while (from > 0 && perLayer[from - 1]!.get(key) === p.version) from--;
      assert.equal(p.layer?.index, from, `${key}=${p.version}`);
    }
    // the image was built to have packages from every layer: base, "install curl", "upgrade"
    const layersSeen = new Set(inv.packages.map((p) => p.layer?.index));
    assert.ok(layersSeen.has(0) && layersSeen.has(2), `layers attributed: ${[...layersSeen]}`);
    assert.ok(!got.has('curl:amd64'), 'curl was purged in the last layer');
    assert.equal(inv.osHints[0]?.os.family, 'debian');
  });

  it('distroless: one package per status.d file, matching the exported database', async () => {
    const inv = await collectInventory(ociImage('distroless'), opts());
    const dir = join(IMAGES, 'rootfs/distroless/var/lib/dpkg/status.d');
    const expected = readdirSync(dir)
      .filter((f) => !f.endsWith('.md5sums'))
      .flatMap((f) => parseStatus(readFileSync(join(dir, f), 'utf8'), `var/lib/dpkg/status.d/${f}`))
      .map((p) => `${p.name}=${p.version}@${p.path}`)
      .sort();
    assert.ok(expected.length > 0);
    assert.deepEqual(inv.packages.map((p) => `${p.name}=${p.version}@${p.path}`).sort(), expected);
  });

  it('base: warm rescan hits the cache for every layer', async () => {
    const o = opts();
    await collectInventory(ociImage('base'), o);
    const img = ociImage('base');
    const t0 = performance.now();
    const inv = await collectInventory(img, o);
    const ms = performance.now() - t0;
    assert.deepEqual(img.opened, []);
    assert.equal(inv.cacheHits, img.layers.length);
    const exported = parseStatus(readFileSync(join(IMAGES, 'rootfs/base', STATUS), 'utf8'), STATUS);
    assert.deepEqual(
      inv.packages.map((p) => `${p.name}=${p.version}`).sort(),
      exported.map((p) => `${p.name}=${p.version}`).sort(),
    );
    assert.ok(ms < 100, `warm collectInventory took ${ms.toFixed(1)} ms`);
  });
});
