import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openImage } from '../../src/image/index.js';
import { MEDIA } from '../../src/image/manifest.js';
import { layoutBlob, layoutRef, type TestImages, tempDir, testImages } from '../helpers/registry.js';
import { checkLayers, hashStream, isMoat } from './helpers.js';

const run = promisify(execFile);

interface RawManifest {
  mediaType?: string;
  config: { digest: string; size: number };
  layers: { mediaType: string; digest: string; size: number }[];
}
interface RawIndex {
  manifests: {
    mediaType: string;
    digest: string;
    size: number;
    platform?: { os: string; architecture: string; variant?: string };
    annotations?: Record<string, string>;
  }[];
}

let images: TestImages;
let tmp: { path: string; remove(): Promise<void> };
before(async () => {
  images = await testImages();
  tmp = await tempDir('moat-oci-test-');
});
after(() => tmp.remove());

/** A private copy of one image as a single-image layout (skopeo, independent of moat). */
async function copyImage(name: string, dir: string, ref?: string): Promise<string> {
  await run('skopeo', ['copy', '--quiet', `oci:${images.oci}:${name}`, `oci:${dir}${ref ? `:${ref}` : ''}`]);
  return dir;
}

describe('oci: layouts of the real test images', () => {
  it('opens every image by name, matching the layout data, and every layer verifies', async () => {
    const index = JSON.parse(readFileSync(join(images.oci, 'index.json'), 'utf8')) as RawIndex;
    const names = index.manifests.map((m) => m.annotations!['org.opencontainers.image.ref.name']!);
    assert.ok(names.length >= 7, `expected the seven test images, found ${names.join(', ')}`);
    for (const d of index.manifests) {
      const name = d.annotations!['org.opencontainers.image.ref.name']!;
      const manifest = layoutBlob<RawManifest>(images.oci, d.digest);
      const config = layoutBlob<{ rootfs: { diff_ids: string[] }; os: string; architecture: string }>(
        images.oci,
        manifest.config.digest,
      );
      const img = await openImage(`oci:${images.oci}:${name}`);
      try {
        assert.equal(img.source, 'oci');
        assert.equal(img.name, `${images.oci}:${name}`);
        assert.equal(img.digest, d.digest);
        assert.equal(img.indexDigest, undefined);
        assert.equal(img.configDigest, manifest.config.digest);
        assert.equal(img.mediaType, d.mediaType);
        assert.equal(img.platform, `${config.os}/${config.architecture}`);
        assert.deepEqual(
          img.layers.map((l) => [l.index, l.digest, l.size, l.mediaType, l.diffId]),
          manifest.layers.map((l, i) => [i, l.digest, l.size, l.mediaType, config.rootfs.diff_ids[i]]),
        );
        assert.ok(img.layers.every((l) => typeof l.createdBy === 'string'));
        await checkLayers(img);
      } finally {
        await img.close();
      }
    }
  });

  it('selects platforms from the multi-platform index (nested under index.json)', async () => {
    const top = layoutRef(images.fixtures, 'multiarch');
    const index = layoutBlob<RawIndex>(images.fixtures, top.digest);
    for (const m of index.manifests) {
      const p = m.platform!;
      const platform = [p.os, p.architecture, p.variant].filter(Boolean).join('/');
      const img = await openImage(`oci:${images.fixtures}:multiarch`, { platform });
      assert.equal(img.digest, m.digest);
      assert.equal(img.indexDigest, top.digest);
      assert.equal(img.platform, platform);
      await checkLayers(img);
      await img.close();
    }
    // the default is linux/amd64, which is the base image
    const dflt = await openImage(`oci:${images.fixtures}:multiarch`);
    assert.equal(dflt.digest, layoutRef(images.oci, 'base').digest);
    await dflt.close();
    await assert.rejects(
      openImage(`oci:${images.fixtures}:multiarch`, { platform: 'linux/riscv64' }),
      isMoat('NO_MATCHING_PLATFORM', /available: linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7/),
    );
  });

  it('reads a Docker schema 2 image and a zstd-compressed layer', async () => {
    const v2 = await openImage(`oci:${images.fixtures}:base-v2s2`);
    assert.equal(v2.mediaType, MEDIA.dockerManifest);
    assert.deepEqual(new Set(v2.layers.map((l) => l.mediaType)), new Set([MEDIA.dockerLayerGzip]));
    await checkLayers(v2);
    await v2.close();
    const z = await openImage(`oci:${images.fixtures}:base-zstd`);
    assert.deepEqual(new Set(z.layers.map((l) => l.mediaType)), new Set([MEDIA.ociLayerZstd]));
    const raw = layoutBlob<RawManifest>(images.fixtures, layoutRef(images.fixtures, 'base-zstd').digest);
    assert.deepEqual(
      z.layers.map((l) => l.digest),
      raw.layers.map((l) => l.digest),
    );
    await checkLayers(z);
    // the same image: the config (and so the diff_ids) are unchanged by recompression
    const base = layoutBlob<RawManifest>(images.oci, layoutRef(images.oci, 'base').digest);
    assert.equal(z.configDigest, base.config.digest);
    await z.close();
  });

  it('takes the only image when no name is given, and handles ":" in paths', async () => {
    const dir = await copyImage('go-scratch', join(tmp.path, 'single'));
    const expected = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as RawIndex;
    const img = await openImage(`oci:${dir}`);
    assert.equal(img.digest, expected.manifests[0]!.digest);
    await img.close();
    const colon = await copyImage('go-scratch', join(tmp.path, 'with:colon'), 'v1');
    const named = await openImage(`oci:${colon}:v1`);
    assert.equal(named.name, `${colon}:v1`);
    assert.equal(named.digest, expected.manifests[0]!.digest);
    await named.close();
  });

  it('selects by platform when index.json lists platform manifests directly', async () => {
    const dir = join(tmp.path, 'flat');
    await mkdir(dir);
    await symlink(join(images.fixtures, 'blobs'), join(dir, 'blobs'));
    const nested = layoutBlob<RawIndex>(images.fixtures, layoutRef(images.fixtures, 'multiarch').digest);
    await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(
      join(dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: nested.manifests }),
    );
    const arm = nested.manifests.find((m) => m.platform?.architecture === 'arm')!;
    const img = await openImage(`oci:${dir}`, { platform: 'linux/arm/v7' });
    assert.equal(img.digest, arm.digest);
    await img.close();
  });

  it('names the choices when the layout has several images and no name is given', async () => {
    await assert.rejects(
      openImage(`oci:${images.oci}`),
      isMoat('BAD_REFERENCE', /holds \d+ images; name one as oci:.*:NAME \(names: .*base.*go-scratch/),
    );
    await assert.rejects(
      openImage(`oci:${images.oci}:nope`),
      isMoat('NOT_FOUND', /no image named "nope" in oci:.* \(names: .*distroless/),
    );
    await assert.rejects(
      openImage(`oci:${join(tmp.path, 'missing')}`),
      isMoat('NOT_FOUND', /no OCI layout directory/),
    );
    const notLayout = join(tmp.path, 'empty');
    await mkdir(notLayout);
    await assert.rejects(
      openImage(`oci:${notLayout}`),
      isMoat('BAD_ARCHIVE', /is not an OCI image layout \(no index.json\)/),
    );
  });
});

describe('oci: layouts with bad content', () => {
  async function tamperedCopy(
    name: string,
    what: 'layer' | 'config' | 'manifest',
  ): Promise<{ dir: string; digest: string }> {
    const dir = await copyImage('go-scratch', join(tmp.path, name), 'img');
    const manifestDigest = layoutRef(dir, 'img').digest;
    const manifest = layoutBlob<RawManifest>(dir, manifestDigest);
    const digest =
      what === 'layer'
        ? manifest.layers[0]!.digest
        : what === 'config'
          ? manifest.config.digest
          : manifestDigest;
    const file = join(dir, 'blobs', ...digest.split(':'));
    const data = readFileSync(file);
    data[data.length >> 1] = data[data.length >> 1]! ^ 0x55;
    await rm(file);
    await writeFile(file, data);
    return { dir, digest };
  }

  it('fails reading a layer whose bytes were changed, naming image and digest', async () => {
    const { dir, digest } = await tamperedCopy('bad-layer', 'layer');
    const img = await openImage(`oci:${dir}:img`);
    await assert.rejects(
      hashStream(await img.openLayer(img.layers[0]!)),
      isMoat(
        'DIGEST_MISMATCH',
        new RegExp(`^layer 0 \\(${digest}\\) of ${dir}:img: content does not match digest ${digest}`),
      ),
    );
    await img.close();
  });

  it('refuses to open an image whose config or manifest was changed', async () => {
    const config = await tamperedCopy('bad-config', 'config');
    await assert.rejects(
      openImage(`oci:${config.dir}:img`),
      isMoat('DIGEST_MISMATCH', new RegExp(`config ${config.digest}`)),
    );
    const manifest = await tamperedCopy('bad-manifest', 'manifest');
    await assert.rejects(
      openImage(`oci:${manifest.dir}:img`),
      isMoat('DIGEST_MISMATCH', new RegExp(`manifest ${manifest.digest}`)),
    );
  });

  it('reports a missing layer blob', async () => {
    const dir = await copyImage('go-scratch', join(tmp.path, 'missing-blob'), 'img');
    const manifest = layoutBlob<RawManifest>(dir, layoutRef(dir, 'img').digest);
    await rm(join(dir, 'blobs', ...manifest.layers[0]!.digest.split(':')));
    const img = await openImage(`oci:${dir}:img`);
    await assert.rejects(
      img.openLayer(img.layers[0]!),
      isMoat('BAD_ARCHIVE', /blob sha256:[0-9a-f]{64} is missing in layout/),
    );
    await img.close();
  });

  it('refuses artifacts and schema 1 manifests stored in a layout', async () => {
    const dir = join(tmp.path, 'artifacts');
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    const put = async (data: Buffer) => {
      const hex = createHash('sha256').update(data).digest('hex');
      await writeFile(join(dir, 'blobs', 'sha256', hex), data);
      return { digest: `sha256:${hex}`, size: data.length };
    };
    const helm = JSON.parse(
      readFileSync(join(import.meta.dirname, '../fixtures/images/helm-chart-manifest.json'), 'utf8'),
    );
    helm.config = { ...helm.config, ...(await put(Buffer.from('{"name":"nginx","version":"1.0.0"}'))) };
    const chart = await put(Buffer.from(JSON.stringify(helm)));
    const schema1 = await put(
      readFileSync(join(import.meta.dirname, '../fixtures/images/schema1-signed.json')),
    );
    await writeFile(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MEDIA.ociManifest,
            ...chart,
            annotations: { 'org.opencontainers.image.ref.name': 'chart' },
          },
          {
            mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
            ...schema1,
            annotations: { 'org.opencontainers.image.ref.name': 'old' },
          },
        ],
      }),
    );
    await assert.rejects(
      openImage(`oci:${dir}:chart`),
      isMoat('UNSUPPORTED_MEDIA_TYPE', /not a container image/),
    );
    await assert.rejects(
      openImage(`oci:${dir}:old`),
      isMoat('UNSUPPORTED_MEDIA_TYPE', /schema 1 manifests are not supported/),
    );
  });
});
