import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { before, describe, it } from 'node:test';
import { MoatError } from '../../src/errors.js';
import { verifiedStream, verifyBuffer } from '../../src/image/verify.js';
import type { ProgressEvent } from '../../src/model/progress.js';
import { layoutBlob, layoutRef, readBlob, type TestImages, testImages } from '../helpers/registry.js';

let images: TestImages;
let layer: { digest: string; size: number };
let file: string;
before(async () => {
  images = await testImages();
  const manifest = layoutBlob<{ layers: { digest: string; size: number }[] }>(
    images.oci,
    layoutRef(images.oci, 'go-scratch').digest,
  );
  layer = manifest.layers[0]!;
  file = join(images.oci, 'blobs', ...layer.digest.split(':'));
});

async function drain(s: Readable): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of s as AsyncIterable<Buffer>) {
    h.update(c);
    bytes += c.length;
  }
  return { bytes, sha256: `sha256:${h.digest('hex')}` };
}

/** The blob with one byte flipped at `at`. */
function tampered(at: number): Readable {
  const data = readBlob(images.oci, layer.digest);
  data[at] = data[at]! ^ 0xff;
  return Readable.from([data.subarray(0, at + 1), data.subarray(at + 1)]);
}

describe('verifiedStream', () => {
  it('passes a real layer through unchanged and reports progress to the end', async () => {
    const events: ProgressEvent[] = [];
    const s = verifiedStream(
      createReadStream(file),
      { digest: layer.digest, size: layer.size, subject: 'layer 0 of go-scratch' },
      { onProgress: (e) => events.push(e) },
    );
    const out = await drain(s);
    assert.deepEqual(out, { bytes: layer.size, sha256: layer.digest });
    const last = events.at(-1)!;
    assert.deepEqual(last, {
      phase: 'download',
      id: layer.digest,
      done: layer.size,
      total: layer.size,
      unit: 'bytes',
      finished: true,
    });
    assert.ok(events.slice(0, -1).every((e, i, a) => !e.finished && (i === 0 || e.done > a[i - 1]!.done)));
  });

  it('fails at the end with DIGEST_MISMATCH naming the subject and both digests', async () => {
    const s = verifiedStream(tampered(layer.size >> 1), {
      digest: layer.digest,
      size: layer.size,
      subject: 'layer 0 (x) of go-scratch',
    });
    await assert.rejects(drain(s), (e) => {
      assert.ok(e instanceof MoatError);
      assert.equal(e.code, 'DIGEST_MISMATCH');
      assert.match(
        e.message,
        new RegExp(
          `^layer 0 \\(x\\) of go-scratch: content does not match digest ${layer.digest} \\(got sha256:[0-9a-f]{64}\\)$`,
        ),
      );
      return true;
    });
  });

  it('fails on a short blob and stops a long one as soon as it passes the size', async () => {
    const data = readBlob(images.oci, layer.digest);
    const short = verifiedStream(Readable.from([data.subarray(0, 1000)]), { ...layer, subject: 's' });
    await assert.rejects(
      drain(short),
      (e) => e instanceof MoatError && /size is 1000 bytes, the descriptor says/.test(e.message),
    );
    let pulled = 0;
    const endless = new Readable({
      read() {
        pulled += 65536;
        this.push(Buffer.alloc(65536));
      },
    });
    const long = verifiedStream(endless, { digest: layer.digest, size: 100_000, subject: 'l' });
    await assert.rejects(
      drain(long),
      (e) => e instanceof MoatError && /size is more than 100000 bytes/.test(e.message),
    );
    assert.ok(pulled < 10 * 65536, 'the verifier stopped reading early');
  });

  it('verifies sha512 digests when the descriptor uses one', async () => {
    const data = readBlob(images.oci, layer.digest);
    const digest = `sha512:${createHash('sha512').update(data).digest('hex')}`;
    const out = await drain(
      verifiedStream(Readable.from([data]), { digest, size: data.length, subject: 's' }),
    );
    assert.equal(out.sha256, layer.digest);
    data[0] = data[0]! ^ 1;
    await assert.rejects(
      drain(verifiedStream(Readable.from([data]), { digest, subject: 's' })),
      (e) => e instanceof MoatError && e.code === 'DIGEST_MISMATCH' && e.message.includes('(got sha512:'),
    );
  });

  it('propagates source errors and stops on abort', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk on fire'));
      },
    });
    await assert.rejects(drain(verifiedStream(failing, { ...layer, subject: 's' })), /disk on fire/);
    const ac = new AbortController();
    const s = verifiedStream(createReadStream(file), { ...layer, subject: 's' }, { signal: ac.signal });
    ac.abort();
    await assert.rejects(drain(s), (e) => (e as Error).name === 'AbortError');
  });
});

describe('verifyBuffer', () => {
  it('accepts a real config and rejects a changed one', () => {
    const manifest = layoutBlob<{ config: { digest: string; size: number } }>(
      images.oci,
      layoutRef(images.oci, 'go-scratch').digest,
    );
    const config = readBlob(images.oci, manifest.config.digest);
    verifyBuffer(config, { ...manifest.config, subject: 'config' });
    const changed = Buffer.from(config.toString().replace('amd64', 'arm64'));
    assert.throws(
      () => verifyBuffer(changed, { ...manifest.config, subject: 'go-scratch: config' }),
      (e) => e instanceof MoatError && e.code === 'DIGEST_MISMATCH',
    );
    assert.throws(
      () => verifyBuffer(config, { digest: 'sha256:xyz', subject: 'c' }),
      (e) => e instanceof MoatError && e.code === 'BAD_MANIFEST',
    );
  });
});
