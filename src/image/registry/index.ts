import type { Readable } from 'node:stream';
import type { OpenImageOptions } from '../index.js';
import { DEFAULT_PLATFORM, parsePlatform, resolveImage } from '../manifest.js';
import { parseReference } from '../reference.js';
import type { LayerDescriptor, OpenedImage } from '../types.js';
import { verifiedStream } from '../verify.js';
import { Authenticator } from './auth.js';
import { RegistryClient } from './client.js';
import { findCredentials } from './credentials.js';
import { Transport } from './http.js';

/** Connect, response-header and idle-body timeout unless the caller sets one. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Opens `host[:port]/repo[:tag|@digest]` from its registry: manifest (platform selected), config, layers. */
export async function openRegistryImage(refString: string, opts: OpenImageOptions): Promise<OpenedImage> {
  const ref = parseReference(refString);
  const want = parsePlatform(opts.platform ?? DEFAULT_PLATFORM);
  const creds = await findCredentials(ref.registry, opts);
  const transport = new Transport({
    insecure: opts.insecure === true,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    userAgent: opts.userAgent ?? 'moat',
    signal: opts.signal,
  });
  const client = new RegistryClient(ref, transport, new Authenticator(transport, ref.registry, creds));
  const subject = ref.name;
  try {
    const top = await client.getManifest(ref.digest ?? ref.tag!, subject);
    const resolved = await resolveImage({
      subject,
      top: { mediaType: top.mediaType ?? '', digest: top.digest, size: top.bytes.length },
      topBytes: top.bytes,
      want,
      explicitPlatform: opts.platform !== undefined,
      fetch: async (d, kind, max) =>
        kind === 'manifest'
          ? (await client.getManifest(d.digest, subject)).bytes
          : client.getBlobBytes(d.digest, max, `${subject}: config ${d.digest}`),
    });
    return {
      source: 'registry',
      ref: refString,
      name: ref.name,
      digest: resolved.manifestDigest,
      indexDigest: resolved.indexDigest,
      configDigest: resolved.manifest.config.digest,
      mediaType: resolved.manifest.mediaType,
      platform: resolved.platform,
      config: resolved.config,
      layers: resolved.layers,
      async openLayer(layer: LayerDescriptor): Promise<Readable> {
        const layerSubject = `layer ${layer.index} (${layer.digest}) of ${subject}`;
        const blob = await client.openBlob(layer.digest, layerSubject);
        return verifiedStream(
          blob,
          { digest: layer.digest, size: layer.size, subject: layerSubject },
          { onProgress: opts.onProgress, signal: opts.signal },
        );
      },
      close: () => transport.close(),
    };
  } catch (e) {
    await transport.close();
    throw e;
  }
}
