import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { MoatError } from '../../src/errors.js';
import {
  type DecompressOptions,
  declaredCompression,
  decompressLayer,
  detectCompression,
  MAX_ZSTD_WINDOW,
} from '../../src/image/decompress.js';

const FIX = join(import.meta.dirname, '../fixtures/layers');
const TAR = readFileSync(join(FIX, 'small.tar'));
const OCI_GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
const OCI_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const OCI_TAR = 'application/vnd.oci.image.layer.v1.tar';

/** A blob stream in small pieces, like a network or file read. */
function blob(buf: Buffer, piece = 4096): Readable {
  const parts: Buffer[] = [];
  for (let o = 0; o < buf.length; o += piece) parts.push(buf.subarray(o, o + piece));
  return Readable.from(parts, { objectMode: false });
}

async function collect(
  src: Readable,
  opts: Partial<DecompressOptions> & { mediaType?: string },
): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of decompressLayer(src, { layer: 'sha256:layer', maxBytes: 1e9, ...opts })) out.push(c);
  return Buffer.concat(out);
}

async function rejects(p: Promise<unknown>, code: string, ...needles: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MoatError, `expected MoatError, got ${e}`);
    assert.equal(e.code, code, e.message);
    for (const n of needles) assert.ok(e.message.includes(n), `"${e.message}" should mention ${n}`);
    return true;
  });
}

describe('decompressLayer', () => {
  const cases: [string, string, string][] = [
    ['gzip', 'small.tar.gz', OCI_GZ],
    ['zstd', 'small.tar.zst', OCI_ZSTD],
    ['zstd, two frames', 'small.multiframe.tar.zst', OCI_ZSTD],
    ['uncompressed', 'small.tar', OCI_TAR],
    ['docker gzip', 'small.tar.gz', 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
    ['foreign', 'small.tar.gz', 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'],
    [
      'nondistributable zstd',
      'small.tar.zst',
      'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
    ],
    ['no media type', 'small.tar.zst', ''],
  ];
  for (const [name, file, mediaType] of cases) {
    it(`gives the tar bytes of a ${name} layer`, async () => {
      for (const piece of [1000, 65536]) {
        const got = await collect(blob(readFileSync(join(FIX, file)), piece), { mediaType });
        assert.ok(got.equals(TAR), `${file} in ${piece}-byte pieces`);
      }
    });
  }

  it('reads a mislabelled layer by its magic bytes and reports the mismatch', async () => {
    const seen: string[] = [];
    const got = await collect(blob(readFileSync(join(FIX, 'small.tar.zst'))), {
      mediaType: OCI_GZ,
      onMismatch: (d, a) => seen.push(`${d}->${a}`),
    });
    assert.ok(got.equals(TAR));
    assert.deepEqual(seen, ['gzip->zstd']);
    const plain = await collect(blob(TAR), {
      mediaType: OCI_GZ,
      onMismatch: (d, a) => seen.push(`${d}->${a}`),
    });
    assert.ok(plain.equals(TAR));
    assert.deepEqual(seen, ['gzip->zstd', 'gzip->none']);
  });

  it('counts compressed bytes for progress', async () => {
    const gz = readFileSync(join(FIX, 'small.tar.gz'));
    let n = 0;
    await collect(blob(gz), { mediaType: OCI_GZ, onCompressedBytes: (k) => (n += k) });
    assert.equal(n, gz.length);
  });

  it('treats an empty blob as an empty layer', async () => {
    assert.equal((await collect(blob(Buffer.alloc(0)), { mediaType: OCI_TAR })).length, 0);
  });

  it('refuses media types that are not filesystem layers', async () => {
    for (const mt of [
      'application/vnd.oci.image.config.v1+json',
      'application/vnd.in-toto+json',
      'application/vnd.oci.image.layer.v1.tar+gzip+encrypted',
      'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
    ]) {
      await rejects(collect(blob(TAR), { mediaType: mt }), 'UNSUPPORTED_MEDIA_TYPE', 'sha256:layer', mt);
      assert.throws(() => declaredCompression(mt, 'l'), /unsupported layer media type/);
    }
  });

  it('stops at the decompressed-size cap with LAYER_TOO_LARGE naming the layer and the cap', async () => {
    // 64 MiB of zeros gzip to ~64 KiB: the cap, not the blob size, must stop it
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    await rejects(
      collect(blob(bomb), { mediaType: OCI_GZ, maxBytes: 1_000_000 }),
      'LAYER_TOO_LARGE',
      'sha256:layer',
      '1000000',
    );
    await rejects(collect(blob(TAR), { mediaType: OCI_TAR, maxBytes: 10_000 }), 'LAYER_TOO_LARGE', '10000');
  });

  it('reports corrupt gzip as CORRUPT_LAYER', async () => {
    const gz = Buffer.from(readFileSync(join(FIX, 'small.tar.gz')));
    for (let i = 2000; i < 2400; i++) gz[i] = gz[i]! ^ 0x5a;
    await rejects(collect(blob(gz), { mediaType: OCI_GZ }), 'CORRUPT_LAYER', 'sha256:layer', 'gzip');
  });

  it('reports truncated gzip as CORRUPT_LAYER', async () => {
    const gz = readFileSync(join(FIX, 'small.tar.gz'));
    await rejects(
      collect(blob(gz.subarray(0, gz.length - 100)), { mediaType: OCI_GZ }),
      'CORRUPT_LAYER',
      'gzip',
    );
  });

  it('reports corrupt and truncated zstd as CORRUPT_LAYER', async () => {
    const zst = Buffer.from(readFileSync(join(FIX, 'small.tar.zst')));
    await rejects(
      collect(blob(zst.subarray(0, zst.length - 500)), { mediaType: OCI_ZSTD }),
      'CORRUPT_LAYER',
      'zstd',
    );
    for (let i = 100; i < 400; i++) zst[i] = zst[i]! ^ 0xa5;
    await rejects(collect(blob(zst), { mediaType: OCI_ZSTD }), 'CORRUPT_LAYER', 'sha256:layer', 'zstd');
  });

  it('refuses a zstd frame whose declared window is over the limit, before allocating it', async () => {
    const magic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
    // window descriptor exponent 21: 2^31 bytes; then one raw block of 3 bytes
    const windowed = Buffer.concat([
      magic,
      Buffer.from([0x00, 21 << 3, 0x19, 0x00, 0x00]),
      Buffer.from('abc'),
    ]);
    await rejects(
      collect(blob(windowed), { mediaType: OCI_ZSTD }),
      'LAYER_TOO_LARGE',
      'sha256:layer',
      'window',
    );
    // single-segment frame claiming 2^40 bytes of content (the content size is its window)
    const fcs = Buffer.alloc(8);
    fcs.writeBigUInt64LE(2n ** 40n);
    const single = Buffer.concat([
      magic,
      Buffer.from([0xe0]),
      fcs,
      Buffer.from([0x19, 0, 0]),
      Buffer.from('abc'),
    ]);
    await rejects(collect(blob(single, 3), { mediaType: OCI_ZSTD }), 'LAYER_TOO_LARGE', 'window');
    assert.ok(MAX_ZSTD_WINDOW >= 8 * 1024 * 1024, 'the spec-recommended 8 MiB window must pass');
  });

  it('reads zstd with skippable frames around the data frames', async () => {
    const skippable = (n: number) => {
      const b = Buffer.alloc(8 + n, 0x33);
      b.writeUInt32LE(0x184d2a5a, 0);
      b.writeUInt32LE(n, 4);
      return b;
    };
    const zst = Buffer.concat([
      skippable(10),
      readFileSync(join(FIX, 'small.multiframe.tar.zst')),
      skippable(0),
    ]);
    for (const piece of [1, 7, 4096]) {
      assert.ok((await collect(blob(zst, piece), { mediaType: OCI_ZSTD })).equals(TAR), `pieces of ${piece}`);
    }
  });

  it('refuses garbage declared as gzip', async () => {
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256));
    await rejects(collect(blob(junk), { mediaType: OCI_GZ }), 'CORRUPT_LAYER', 'neither gzip nor tar');
    await rejects(collect(blob(junk), { mediaType: OCI_TAR }), 'CORRUPT_LAYER', 'not a tar archive');
  });

  it('passes the blob stream errors through unchanged', async () => {
    const gz = readFileSync(join(FIX, 'small.tar.gz'));
    const src = new Readable({
      read() {
        this.push(gz.subarray(0, 5000));
        this.destroy(new MoatError('DIGEST_MISMATCH', 'blob sha256:layer does not match its digest'));
      },
    });
    await rejects(collect(src, { mediaType: OCI_GZ }), 'DIGEST_MISMATCH', 'does not match');
  });

  it('detects compression by magic', () => {
    assert.equal(detectCompression(readFileSync(join(FIX, 'small.tar.gz'))), 'gzip');
    assert.equal(detectCompression(readFileSync(join(FIX, 'small.tar.zst'))), 'zstd');
    assert.equal(detectCompression(TAR), 'none');
    assert.equal(detectCompression(Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 0, 0, 0, 0])), 'zstd'); // skippable frame
  });
});

// Real layers built by test/scripts/make-test-images.sh: the decompressed bytes must hash to the
// config's diff_id, which the image builder computed independently.
const IMAGES = process.env.MOAT_TEST_IMAGES ?? '/var/tmp/moat-test-images';
describe('decompressLayer on real image layers', {
  skip: !existsSync(join(IMAGES, 'oci/index.json')),
}, () => {
  it('reproduces every diff_id of the multilayer image', async () => {
    const oci = join(IMAGES, 'oci');
    const blobPath = (d: string) => join(oci, 'blobs', d.replace(':', '/'));
    const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8'));
    const desc = index.manifests.find(
      (m: { annotations?: Record<string, string> }) =>
        m.annotations?.['org.opencontainers.image.ref.name'] === 'multilayer',
    );
    const manifest = JSON.parse(readFileSync(blobPath(desc.digest), 'utf8'));
    const config = JSON.parse(readFileSync(blobPath(manifest.config.digest), 'utf8'));
    assert.ok(manifest.layers.length >= 2);
    for (const [i, l] of manifest.layers.entries()) {
      const h = createHash('sha256');
      for await (const c of decompressLayer(createReadStream(blobPath(l.digest)), {
        layer: l.digest,
        mediaType: l.mediaType,
        maxBytes: 1e10,
      })) {
        h.update(c);
      }
      assert.equal(`sha256:${h.digest('hex')}`, config.rootfs.diff_ids[i]);
    }
  });
});
