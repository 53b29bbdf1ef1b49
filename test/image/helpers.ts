import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MoatError } from '../../src/errors.js';
import type { OpenedImage } from '../../src/image/types.js';

/** Reads a stream to its end, hashing it independently of moat's verifier. */
export async function hashStream(s: Readable): Promise<{ bytes: number; digest: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of s as AsyncIterable<Buffer>) {
    h.update(c);
    bytes += c.length;
  }
  return { bytes, digest: `sha256:${h.digest('hex')}` };
}

/** Reads every layer of an opened image fully; each must hash to its digest and have its size. */
export async function checkLayers(img: OpenedImage): Promise<void> {
  for (const l of img.layers) {
    const { bytes, digest } = await hashStream(await img.openLayer(l));
    assert.equal(digest, l.digest, `layer ${l.index} of ${img.name}`);
    if (l.size !== undefined) assert.equal(bytes, l.size);
  }
}

/** An assert.rejects/throws validator: a MoatError with this code and a message matching `pattern`. */
export function isMoat(code: string, pattern?: RegExp) {
  return (e: unknown) => {
    if (!(e instanceof MoatError)) throw e;
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}
