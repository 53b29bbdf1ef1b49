/**
 * One image through every source gives one result: OCI layout, docker-archive, dir: (a root extracted
 * from the layer with GNU tar, and the dpkg database buildah exported), and a real registry (Debian's
 * docker-registry, anonymous here; auth in registry-auth.test.ts). Then the image shapes that only some
 * sources have: a multi-platform index with --platform, a Docker schema-2 manifest, a zstd layer.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { importedCache, moat, moatJson, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';
import {
  layoutBlob,
  layoutRef,
  pushImage,
  type RunningRegistry,
  startRegistry,
  type TestImages,
  testImages,
} from '../helpers/registry.js';
import { type Report, sourceView } from './lib.js';

const run = promisify(execFile);

let images: TestImages;
let sb: Sandbox;
let reg: RunningRegistry;

before(async () => {
  requireBuild();
  images = await testImages();
  sb = await sandbox({ cacheFrom: await importedCache() });
  reg = await startRegistry();
  await Promise.all([
    pushImage(images.oci, 'base-old', `${reg.host}/moat-test/base-old:latest`),
    pushImage(images.fixtures, 'multiarch', `${reg.host}/moat-test/multiarch:latest`, undefined, {
      all: true,
    }),
    // skopeo's oci: transport does not read back the v2s2 descriptor of the fixture layout: convert base
    pushImage(images.oci, 'base', `${reg.host}/moat-test/base-v2s2:latest`, undefined, { format: 'v2s2' }),
    pushImage(images.fixtures, 'base-zstd', `${reg.host}/moat-test/base-zstd:latest`),
  ]);
});
after(async () => {
  await reg?.stop();
  sb?.remove();
});

// every source reads its layers itself: a layer cache hit would skip the blob download being tested
const scan = (ref: string, ...extra: string[]): Promise<Report> =>
  moatJson<Report>(sb, ['scan', 'image', ref, '--list-packages', '--skip-layer-cache', ...extra]);

describe('the same image through every source', () => {
  let reference: Report;
  before(async () => {
    reference = await scan(`oci:${images.oci}:base-old`);
    assert.ok(reference.findings.length > 0, 'base-old should have findings to compare');
    assert.ok((reference.packages ?? []).length > 50);
  });

  it('docker-archive', async () => {
    const r = await scan(`docker-archive:${images.archives}/base-old.tar`);
    assert.equal(r.target.source, 'docker-archive');
    assert.deepEqual(sourceView(r), sourceView(reference));
  });

  it('registry (anonymous, plain HTTP on loopback)', async () => {
    const r = await scan(`${reg.host}/moat-test/base-old:latest`);
    assert.equal(r.target.source, 'registry');
    assert.equal(r.target.digest, layoutRef(images.oci, 'base-old').digest);
    assert.deepEqual(sourceView(r), sourceView(reference));
  });

  it('registry by digest', async () => {
    const digest = layoutRef(images.oci, 'base-old').digest;
    const r = await scan(`${reg.host}/moat-test/base-old@${digest}`);
    assert.equal(r.target.digest, digest);
    assert.deepEqual(sourceView(r), sourceView(reference));
  });

  it('dir: a root filesystem extracted from the layer by GNU tar', async () => {
    const manifest = layoutBlob<{ layers: { digest: string }[] }>(
      images.oci,
      layoutRef(images.oci, 'base-old').digest,
    );
    assert.equal(manifest.layers.length, 1, 'base-old is a one-layer image');
    const root = join(sb.inputs, 'base-old-root');
    mkdirSync(root);
    const blob = join(images.oci, 'blobs', ...manifest.layers[0]!.digest.split(':'));
    await run('tar', ['--no-same-owner', '--no-same-permissions', '-xzf', blob, '-C', root]);
    const r = await scan(`dir:${root}`);
    assert.equal(r.target.source, 'dir');
    assert.deepEqual(sourceView(r, false), sourceView(reference, false));
  });

  it('dir: the dpkg database and os-release exported by buildah', async () => {
    const r = await scan(`dir:${join(images.root, 'rootfs', 'base-old')}`);
    assert.deepEqual(sourceView(r, false), sourceView(reference, false));
  });
});

describe('multi-platform index', () => {
  const index = () =>
    layoutBlob<{ manifests: { digest: string; platform: { architecture: string; variant?: string } }[] }>(
      images.fixtures,
      layoutRef(images.fixtures, 'multiarch').digest,
    );
  const digestFor = (arch: string) => index().manifests.find((m) => m.platform.architecture === arch)?.digest;

  for (const [where, ref] of [
    ['OCI layout', () => `oci:${images.fixtures}:multiarch`],
    ['registry', () => `${reg.host}/moat-test/multiarch:latest`],
  ] as const) {
    it(`${where}: linux/amd64 by default, --platform linux/arm64 picks the arm64 image`, async () => {
      const base = await scan(`oci:${images.oci}:base`);
      const amd64 = await scan(ref());
      assert.equal(amd64.target.platform, 'linux/amd64');
      assert.equal(amd64.target.digest, digestFor('amd64'));
      assert.deepEqual(sourceView(amd64), sourceView(base));

      const arm64 = await scan(ref(), '--platform', 'linux/arm64');
      assert.equal(arm64.target.digest, digestFor('arm64'));
      assert.match(arm64.target.platform ?? '', /^linux\/arm64/);
      // the arm64 image is os-release plus a marker file: Debian, no packages
      assert.equal(arm64.os?.ecosystem, 'Debian:12');
      assert.deepEqual(arm64.packages, []);
      assert.equal(arm64.summary.healthy, true);

      const arm = await scan(ref(), '--platform', 'linux/arm/v7');
      assert.equal(arm.target.digest, digestFor('arm'));
    });
  }

  it('a platform the index does not have is an input error naming it', async () => {
    const r = await moat(sb, [
      'scan',
      'image',
      `oci:${images.fixtures}:multiarch`,
      '--platform',
      'linux/s390x',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.lines.length, 1, r.stderr);
    assert.match(r.lines[0]!, /linux\/s390x/);
  });
});

describe('manifest and layer formats', () => {
  let base: Report;
  before(async () => {
    base = await scan(`oci:${images.oci}:base`);
  });

  for (const [where, ref] of [
    ['OCI layout', () => `oci:${images.fixtures}:base-v2s2`],
    ['registry', () => `${reg.host}/moat-test/base-v2s2:latest`],
  ] as const) {
    it(`Docker schema 2 manifest (${where})`, async () => {
      const r = await scan(ref());
      assert.equal(r.target.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
      assert.deepEqual(sourceView(r), sourceView(base));
    });
  }

  for (const [where, ref] of [
    ['OCI layout', () => `oci:${images.fixtures}:base-zstd`],
    ['registry', () => `${reg.host}/moat-test/base-zstd:latest`],
  ] as const) {
    it(`zstd-compressed layer (${where})`, async () => {
      const manifest = layoutBlob<{ layers: { mediaType: string; digest: string }[] }>(
        images.fixtures,
        layoutRef(images.fixtures, 'base-zstd').digest,
      );
      assert.match(manifest.layers[0]!.mediaType, /\+zstd$/);
      const r = await scan(ref());
      assert.equal(r.target.layers[0]?.digest, manifest.layers[0]!.digest, 'the zstd blob was scanned');
      assert.deepEqual(sourceView(r), sourceView(base));
    });
  }
});
