import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openImage } from '../../src/image/index.js';
import { MEDIA } from '../../src/image/manifest.js';
import { layoutBlob, layoutRef, type TestImages, tempDir, testImages } from '../helpers/registry.js';
import { checkLayers, hashStream, isMoat } from './helpers.js';

const run = promisify(execFile);

interface ArchiveEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

let images: TestImages;
let tmp: { path: string; remove(): Promise<void> };
before(async () => {
  images = await testImages();
  tmp = await tempDir('moat-archive-test-');
});
after(() => tmp.remove());

/** A member of a tar read with GNU tar, independently of moat's tar index. */
async function member(file: string, name: string): Promise<string> {
  return (await run('tar', ['-xOf', file, name], { maxBuffer: 16 * 1024 * 1024 })).stdout;
}

/** Extracts an archive into a fresh directory under tmp. */
async function extract(file: string, into: string): Promise<string> {
  const dir = join(tmp.path, into);
  await mkdir(dir, { recursive: true });
  await run('tar', ['-xf', file, '-C', dir]);
  return dir;
}

describe('docker-archive: legacy `docker save` archives of the real images', () => {
  it('opens every archive; config and layers agree with the OCI layout of the same image', async () => {
    const names = readdirSync(images.archives)
      .filter((f) => f.endsWith('.tar'))
      .map((f) => basename(f, '.tar'));
    assert.ok(names.length >= 7, `expected the seven test archives, found ${names.join(', ')}`);
    for (const name of names) {
      const file = join(images.archives, `${name}.tar`);
      const manifest = layoutBlob<{ config: { digest: string } }>(
        images.oci,
        layoutRef(images.oci, name).digest,
      );
      const config = layoutBlob<{ rootfs: { diff_ids: string[] }; os: string; architecture: string }>(
        images.oci,
        manifest.config.digest,
      );
      const entries = JSON.parse(await member(file, 'manifest.json')) as ArchiveEntry[];
      const img = await openImage(`docker-archive:${file}`);
      try {
        assert.equal(img.source, 'docker-archive');
        assert.equal(img.name, file);
        // the image id is the same whichever way the image was exported
        assert.equal(img.configDigest, manifest.config.digest);
        assert.equal(img.platform, `${config.os}/${config.architecture}`);
        assert.equal(img.layers.length, entries[0]!.Layers.length);
        // legacy layers are uncompressed tars: their digests are the config's diff_ids
        assert.deepEqual(
          img.layers.map((l) => [l.digest, l.diffId, l.mediaType]),
          config.rootfs.diff_ids.map((d) => [d, d, MEDIA.dockerLayerTar]),
        );
        await checkLayers(img);
      } finally {
        await img.close();
      }
    }
  });

  it('selects an image by RepoTag in any spelling, or by @N', async () => {
    const file = join(images.archives, 'go-scratch.tar');
    const [entry] = JSON.parse(await member(file, 'manifest.json')) as ArchiveEntry[];
    const tag = entry!.RepoTags[0]!;
    for (const ref of [tag, tag.replace(/:latest$/, ''), '@0']) {
      const img = await openImage(`docker-archive:${file}:${ref}`);
      assert.equal(img.name, `${file}:${ref}`);
      assert.equal(img.layers.length, entry!.Layers.length);
      await img.close();
    }
    await assert.rejects(
      openImage(`docker-archive:${file}:other:1`),
      isMoat('NOT_FOUND', new RegExp(`no image tagged "other:1" \\(tags: ${tag}\\)`)),
    );
    await assert.rejects(
      openImage(`docker-archive:${file}:@1`),
      isMoat('NOT_FOUND', /no image @1 \(the archive holds 1\)/),
    );
  });

  it('reads multi-image archives with long (PAX and GNU) member names', async () => {
    const a = await extract(join(images.archives, 'go-scratch.tar'), 'multi');
    const b = await extract(join(images.archives, 'distroless.tar'), 'multi-b');
    const entries: ArchiveEntry[] = [];
    const long = `${'very-long-directory-name-'.repeat(8)}x`;
    await mkdir(join(a, long), { recursive: true });
    for (const dir of [a, b]) {
      const [e] = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ArchiveEntry[];
      for (const [i, l] of e!.Layers.entries()) {
        // move layers under a >100-character path so that plain ustar headers cannot hold the name
        const to = join(long, `${basename(dir)}-${i}-layer.tar`);
        await rename(join(dir, l), join(a, to));
        e!.Layers[i] = to;
      }
      if (dir !== a) copyFileSync(join(dir, e!.Config), join(a, e!.Config));
      entries.push(e!);
    }
    await writeFile(join(a, 'manifest.json'), JSON.stringify(entries));
    for (const format of ['pax', 'gnu']) {
      const file = join(tmp.path, `multi-${format}.tar`);
      await run('tar', [
        `--format=${format}`,
        '-cf',
        file,
        '-C',
        a,
        'manifest.json',
        long,
        ...entries.map((e) => e.Config),
      ]);
      await assert.rejects(
        openImage(`docker-archive:${file}`),
        isMoat(
          'BAD_REFERENCE',
          /holds 2 images; name one as docker-archive:.*:TAG or :@N \(tags: .*go-scratch.*, .*distroless/,
        ),
      );
      for (const [i, e] of entries.entries()) {
        for (const ref of [e.RepoTags[0]!, `@${i}`]) {
          const img = await openImage(`docker-archive:${file}:${ref}`);
          assert.equal(img.configDigest, `sha256:${e.Config.replace(/\.json$/, '')}`);
          await checkLayers(img);
          await img.close();
        }
      }
    }
  });
});

describe('docker-archive: OCI-layout archives', () => {
  it('reads the Docker 25+ form (manifest.json pointing into blobs/) with its manifest digest', async () => {
    const file = join(images.fixtureArchives, 'distroless-oci.tar');
    const index = JSON.parse(await member(file, 'index.json')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(
      await member(file, `blobs/${index.manifests[0]!.digest.replace(':', '/')}`),
    ) as {
      config: { digest: string };
      layers: { digest: string; size: number; mediaType: string }[];
    };
    const img = await openImage(`docker-archive:${file}`);
    assert.equal(img.digest, index.manifests[0]!.digest);
    assert.equal(img.configDigest, manifest.config.digest);
    assert.deepEqual(
      img.layers.map((l) => [l.digest, l.size, l.mediaType]),
      manifest.layers.map((l) => [l.digest, l.size, l.mediaType]),
    );
    // same config as the distroless image of the OCI layout: decompressing layers keeps diff_ids
    const distroless = layoutBlob<{ config: { digest: string } }>(
      images.oci,
      layoutRef(images.oci, 'distroless').digest,
    );
    assert.equal(img.configDigest, distroless.config.digest);
    await checkLayers(img);
    await img.close();
  });

  it('reads an archive holding only an OCI layout (oci-archive) through its index.json', async () => {
    const file = join(tmp.path, 'oci-archive.tar');
    await run('skopeo', ['copy', '--quiet', `oci:${images.oci}:go-scratch`, `oci-archive:${file}:go`]);
    const img = await openImage(`docker-archive:${file}:go`);
    assert.equal(img.digest, layoutRef(images.oci, 'go-scratch').digest);
    await checkLayers(img);
    await img.close();
    const anyName = await openImage(`docker-archive:${file}`);
    assert.equal(anyName.digest, img.digest);
    await anyName.close();
  });
});

describe('docker-archive: bad archives', () => {
  const go = () => join(images.archives, 'go-scratch.tar');

  it('refuses files that are not tar archives, or not image archives', async () => {
    await assert.rejects(
      openImage(`docker-archive:${join(tmp.path, 'nope.tar')}`),
      isMoat('NOT_FOUND', /no such file/),
    );
    const json = join(tmp.path, 'not-a-tar.tar');
    await writeFile(json, JSON.stringify({ hello: 'world' }).repeat(100));
    await assert.rejects(openImage(`docker-archive:${json}`), isMoat('BAD_ARCHIVE', /not a tar archive/));
    const plain = join(tmp.path, 'plain.tar');
    await run('tar', ['-cf', plain, '-C', join(import.meta.dirname, '../fixtures/images'), 'SOURCES.md']);
    await assert.rejects(
      openImage(`docker-archive:${plain}`),
      isMoat('BAD_ARCHIVE', /not a docker-archive \(no manifest.json or index.json\)/),
    );
  });

  it('points at the docker-archive: prefix when a path is given as a reference', async () => {
    await assert.rejects(
      openImage(go()),
      isMoat('BAD_REFERENCE', new RegExp(`for a local image write docker-archive:${go()}$`)),
    );
  });

  it('refuses a truncated archive', async () => {
    const file = join(tmp.path, 'truncated.tar');
    const size = statSync(go()).size;
    const src = await open(go());
    const buf = Buffer.alloc(Math.floor(size * 0.6));
    await src.read(buf, 0, buf.length, 0);
    await src.close();
    await writeFile(file, buf);
    await assert.rejects(openImage(`docker-archive:${file}`), isMoat('BAD_ARCHIVE', /truncated tar archive/));
  });

  it('fails reading a layer whose bytes were changed, naming image and digest', async () => {
    const file = join(tmp.path, 'tampered.tar');
    copyFileSync(go(), file);
    const [entry] = JSON.parse(await member(file, 'manifest.json')) as ArchiveEntry[];
    const layerName = entry!.Layers[0]!;
    // find the layer's data offset with GNU tar's block listing, then flip one byte in the middle
    const listing = (await run('tar', ['-tvRf', file])).stdout;
    const line = listing.split('\n').find((l) => l.endsWith(` ${layerName}`))!;
    const block = Number(/^block (\d+):/.exec(line)![1]);
    const fh = await open(file, 'r+');
    const at = (block + 1) * 512 + 1000;
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
    await fh.close();
    const img = await openImage(`docker-archive:${file}`);
    const digest = img.layers[0]!.digest;
    await assert.rejects(
      hashStream(await img.openLayer(img.layers[0]!)),
      isMoat(
        'DIGEST_MISMATCH',
        new RegExp(`^layer 0 \\(${digest}\\) of ${file}: content does not match digest ${digest}`),
      ),
    );
    await img.close();
  });

  it('refuses a config that does not match its name, and a missing layer', async () => {
    const dir = await extract(go(), 'bad-config');
    const [entry] = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ArchiveEntry[];
    const config = readFileSync(join(dir, entry!.Config), 'utf8');
    await writeFile(join(dir, entry!.Config), config.replace('"amd64"', '"arm64"'));
    const file = join(tmp.path, 'bad-config.tar');
    await run('tar', ['-cf', file, '-C', dir, '.']);
    await assert.rejects(
      openImage(`docker-archive:${file}`),
      isMoat('DIGEST_MISMATCH', /config .*content does not match digest/),
    );

    const dir2 = await extract(go(), 'missing-layer');
    const file2 = join(tmp.path, 'missing-layer.tar');
    await run('tar', ['-cf', file2, '-C', dir2, 'manifest.json', entry!.Config]);
    await assert.rejects(openImage(`docker-archive:${file2}`), isMoat('BAD_ARCHIVE', /layer .* is missing/));
  });
});
