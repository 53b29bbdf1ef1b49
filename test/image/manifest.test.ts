import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MoatError } from '../../src/errors.js';
import {
  checkImageManifest,
  formatPlatform,
  type ImageIndex,
  layerDescriptors,
  MAX_MANIFEST_BYTES,
  MEDIA,
  parseImageConfig,
  parseManifest,
  parsePlatform,
  platformMatches,
  selectPlatform,
} from '../../src/image/manifest.js';
import { layoutRef, readBlob, type TestImages, testImages } from '../helpers/registry.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/images');

function isMoat(code: string, pattern?: RegExp) {
  return (e: unknown) => e instanceof MoatError && e.code === code && (!pattern || pattern.test(e.message));
}

interface RawDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
}

let images: TestImages;
before(async () => {
  images = await testImages();
});

describe('parseManifest on real documents', () => {
  it('parses the multi-platform index and every manifest it lists', () => {
    const top = layoutRef(images.fixtures, 'multiarch');
    const raw = JSON.parse(readBlob(images.fixtures, top.digest).toString()) as {
      manifests: RawDescriptor[];
    };
    const index = parseManifest(readBlob(images.fixtures, top.digest), 'multiarch', top.mediaType);
    assert.equal(index.kind, 'index');
    assert.deepEqual(
      (index as ImageIndex).manifests.map((m) => [
        m.digest,
        m.size,
        m.platform && formatPlatform(m.platform),
      ]),
      raw.manifests.map((m) => [m.digest, m.size, formatPlatform(m.platform!)]),
    );
    for (const m of raw.manifests) {
      const parsed = parseManifest(readBlob(images.fixtures, m.digest), m.digest, m.mediaType);
      assert.equal(parsed.kind, 'manifest');
    }
  });

  it('parses the Docker schema 2 manifest and joins layers with the config', () => {
    const top = layoutRef(images.fixtures, 'base-v2s2');
    const bytes = readBlob(images.fixtures, top.digest);
    const raw = JSON.parse(bytes.toString()) as { config: RawDescriptor; layers: RawDescriptor[] };
    const m = parseManifest(bytes, 'base-v2s2');
    assert.ok(m.kind === 'manifest');
    assert.equal(m.mediaType, MEDIA.dockerManifest);
    checkImageManifest(m, 'base-v2s2');
    const configBytes = readBlob(images.fixtures, m.config.digest);
    const rawConfig = JSON.parse(configBytes.toString()) as {
      rootfs: { diff_ids: string[] };
      architecture: string;
    };
    const config = parseImageConfig(configBytes, 'base-v2s2');
    assert.equal(config.architecture, rawConfig.architecture);
    const layers = layerDescriptors(m.layers, config);
    assert.deepEqual(
      layers.map((l) => [l.index, l.digest, l.size, l.diffId, l.mediaType]),
      raw.layers.map((l, i) => [i, l.digest, l.size, rawConfig.rootfs.diff_ids[i], MEDIA.dockerLayerGzip]),
    );
  });

  it('takes the media type from the shape when the document and the declaration omit it', () => {
    const top = layoutRef(images.oci, 'go-scratch');
    const doc = JSON.parse(readBlob(images.oci, top.digest).toString()) as Record<string, unknown>;
    delete doc.mediaType;
    const m = parseManifest(Buffer.from(JSON.stringify(doc)), 'go-scratch', 'application/json');
    assert.equal(m.mediaType, MEDIA.ociManifest);
    const index = parseManifest(readFileSync(join(images.oci, 'index.json')), 'index.json');
    assert.equal(index.mediaType, MEDIA.ociIndex);
  });

  it('refuses Docker schema 1, saying so', () => {
    const bytes = readFileSync(join(FIXTURES, 'schema1-signed.json'));
    assert.throws(
      () => parseManifest(bytes, 'hello-world', 'application/vnd.docker.distribution.manifest.v1+prettyjws'),
      isMoat('UNSUPPORTED_MEDIA_TYPE', /^hello-world: Docker schema 1 manifests are not supported/),
    );
    // also when the registry labels it application/json
    assert.throws(
      () => parseManifest(bytes, 'hello-world', 'application/json'),
      isMoat('UNSUPPORTED_MEDIA_TYPE', /schema 1/),
    );
  });

  it('refuses unknown manifest types and non-image artifacts', () => {
    const helm = readFileSync(join(FIXTURES, 'helm-chart-manifest.json'));
    const m = parseManifest(helm, 'charts/nginx:1');
    assert.ok(m.kind === 'manifest');
    assert.throws(
      () => checkImageManifest(m, 'charts/nginx:1'),
      isMoat(
        'UNSUPPORTED_MEDIA_TYPE',
        /not a container image \(config media type "application\/vnd\.cncf\.helm\.config\.v1\+json"\)/,
      ),
    );
    const doc = JSON.parse(helm.toString()) as Record<string, unknown>;
    doc.mediaType = 'application/vnd.example.unknown+json';
    assert.throws(
      () => parseManifest(Buffer.from(JSON.stringify(doc)), 'x'),
      isMoat(
        'UNSUPPORTED_MEDIA_TYPE',
        /unsupported manifest media type "application\/vnd\.example\.unknown\+json"/,
      ),
    );
    const layerDoc = JSON.parse(readBlob(images.oci, layoutRef(images.oci, 'go-scratch').digest).toString());
    layerDoc.layers[0].mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted';
    const enc = parseManifest(Buffer.from(JSON.stringify(layerDoc)), 'enc');
    assert.ok(enc.kind === 'manifest');
    assert.throws(
      () => checkImageManifest(enc, 'enc'),
      isMoat('UNSUPPORTED_MEDIA_TYPE', /layer 0 .* unsupported media type/),
    );
  });

  it('refuses malformed and oversized documents with BAD_MANIFEST', () => {
    const cases: [string, RegExp][] = [
      ['not json', /not JSON/],
      ['[]', /not a JSON object/],
      ['{"schemaVersion":2}', /neither an image manifest nor an index/],
      [`{"schemaVersion":3,"mediaType":"${MEDIA.ociManifest}","config":{},"layers":[]}`, /schemaVersion 3/],
      [`{"schemaVersion":2,"mediaType":"${MEDIA.ociManifest}","layers":[]}`, /config is not an object/],
      [
        `{"schemaVersion":2,"mediaType":"${MEDIA.ociIndex}","manifests":[{"mediaType":"x","digest":"sha256:zz","size":1}]}`,
        /not a digest/,
      ],
      [
        `{"schemaVersion":2,"mediaType":"${MEDIA.ociIndex}","manifests":[{"mediaType":"x","digest":"sha256:${'a'.repeat(64)}","size":-1}]}`,
        /no valid size/,
      ],
    ];
    for (const [text, why] of cases)
      assert.throws(() => parseManifest(Buffer.from(text), 'img'), isMoat('BAD_MANIFEST', why));
    const big = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
    assert.throws(() => parseManifest(big, 'img'), isMoat('BAD_MANIFEST', /exceeds the 4194304-byte limit/));
  });
});

describe('platform selection', () => {
  let index: ImageIndex;
  let raw: RawDescriptor[];
  before(() => {
    const top = layoutRef(images.fixtures, 'multiarch');
    index = parseManifest(readBlob(images.fixtures, top.digest), 'multiarch') as ImageIndex;
    raw = (JSON.parse(readBlob(images.fixtures, top.digest).toString()) as { manifests: RawDescriptor[] })
      .manifests;
  });

  it('picks each platform the index lists', () => {
    for (const m of raw) {
      const want = formatPlatform(m.platform!);
      assert.equal(selectPlatform(index, parsePlatform(want), 'multiarch').digest, m.digest, want);
    }
  });

  it('applies the default variants and architecture aliases', () => {
    const arm64 = raw.find((m) => m.platform?.architecture === 'arm64')!;
    const arm = raw.find((m) => m.platform?.architecture === 'arm')!;
    const amd64 = raw.find((m) => m.platform?.architecture === 'amd64')!;
    assert.equal(selectPlatform(index, parsePlatform('linux/arm64'), 'x').digest, arm64.digest);
    assert.equal(selectPlatform(index, parsePlatform('linux/aarch64'), 'x').digest, arm64.digest);
    assert.equal(selectPlatform(index, parsePlatform('linux/arm'), 'x').digest, arm.digest);
    assert.equal(selectPlatform(index, parsePlatform('linux/armhf'), 'x').digest, arm.digest);
    assert.equal(selectPlatform(index, parsePlatform('LINUX/x86_64'), 'x').digest, amd64.digest);
  });

  it('lists what is available when nothing matches', () => {
    const available = raw.map((m) => formatPlatform(m.platform!));
    for (const want of ['linux/s390x', 'linux/arm/v6', 'windows/amd64']) {
      assert.throws(
        () => selectPlatform(index, parsePlatform(want), 'multiarch'),
        (e) =>
          e instanceof MoatError &&
          e.code === 'NO_MATCHING_PLATFORM' &&
          e.message.startsWith(`multiarch: no image for platform ${want}; available: `) &&
          available.every((p) => e.message.includes(p)),
      );
    }
  });

  it('never picks attestation entries', () => {
    const withAttestation: ImageIndex = {
      ...index,
      manifests: [
        { ...index.manifests[0]!, platform: { os: 'unknown', architecture: 'unknown' } },
        ...index.manifests.slice(1),
      ],
    };
    assert.throws(
      () => selectPlatform(withAttestation, parsePlatform('linux/amd64'), 'x'),
      isMoat('NO_MATCHING_PLATFORM'),
    );
  });

  it('parses platform strings and rejects bad ones', () => {
    assert.deepEqual(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.ok(
      platformMatches({ os: 'linux', architecture: 'arm64', variant: 'v8' }, parsePlatform('linux/arm64')),
    );
    assert.ok(
      !platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, parsePlatform('linux/arm')),
    );
    for (const bad of ['linux', 'linux/', 'a/b/c/d', 'linux/amd 64']) {
      assert.throws(() => parsePlatform(bad), isMoat('USAGE', /expected os\/arch\[\/variant\]/));
    }
  });
});
