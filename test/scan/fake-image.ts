/** An OpenedImage over in-memory layer blobs, counting how often each layer is opened. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ImageConfig, LayerDescriptor, OpenedImage } from '../../src/image/types.js';
import { buildTarGz, type TarSpec } from './tar-builder.js';

export interface FakeImage extends OpenedImage {
  opened: number[];
}

export function fakeImage(
  layers: TarSpec[][],
  opts: { config?: ImageConfig; name?: string; mediaType?: string } = {},
): FakeImage {
  const blobs = layers.map((l) => buildTarGz(l));
  const descs: LayerDescriptor[] = blobs.map((b, index) => ({
    index,
    digest: `sha256:${createHash('sha256').update(b).digest('hex')}`,
    mediaType: opts.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip',
    size: b.length,
  }));
  const opened: number[] = [];
  return {
    source: 'oci',
    ref: `oci:${opts.name ?? 'fake'}`,
    name: opts.name ?? 'fake',
    config: opts.config,
    layers: descs,
    opened,
    openLayer: async (l) => {
      opened.push(l.index);
      // small pieces, as a file or socket would deliver them
      const b = blobs[l.index]!;
      const parts: Buffer[] = [];
      for (let o = 0; o < b.length; o += 1000) parts.push(b.subarray(o, o + 1000));
      return Readable.from(parts);
    },
    close: async () => {},
  };
}
