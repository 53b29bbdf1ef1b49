import { statSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { MoatError } from '../errors.js';
import { log } from '../log.js';
import type { ImageSourceKind } from '../model/result.js';
import type { OpenImageOptions } from './index.js';
import {
  DEFAULT_PLATFORM,
  type Descriptor,
  fetchVerified,
  type ImageIndex,
  MAX_MANIFEST_BYTES,
  type Platform,
  parseManifest,
  parsePlatform,
  resolveImage,
  selectPlatform,
} from './manifest.js';
import type { LayerDescriptor, OpenedImage } from './types.js';
import { parseDigest, verifiedStream } from './verify.js';

/** The files of an OCI image layout, wherever they are: a directory, or members of a tar archive. */
export interface LayoutFiles {
  /** names the layout in messages */
  describe: string;
  /** a whole small file, refusing more than `max` bytes; undefined when it does not exist */
  read(path: string, max: number, subject: string): Promise<Buffer | undefined>;
  /** a stream of the file; throws when it does not exist */
  open(path: string): Promise<Readable>;
  close(): Promise<void>;
}

const REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd's export names images this way (and some tools write only this one) */
const CONTAINERD_NAME = 'io.containerd.image.name';
/** Big reads make fewer, cheaper trips through the verifier and the decompressor. */
export const READ_CHUNK = 512 * 1024;

/** blobs/<alg>/<hex> for a digest; the digest is validated first, so the path cannot escape the layout. */
function blobPath(digest: string, subject: string): string {
  const { algorithm, hex } = parseDigest(digest, subject);
  return `blobs/${algorithm}/${hex}`;
}

/**
 * Splits "PATH[:REF]" where both may contain ":": the whole string if it names an existing path, else
 * the shortest prefix before a ":" that does (skopeo splits at the first ":", which breaks paths with one).
 */
export function splitPathRef(spec: string, exists: (p: string) => boolean): { path: string; ref?: string } {
  if (exists(spec)) return { path: spec };
  for (let i = spec.indexOf(':'); i > 0; i = spec.indexOf(':', i + 1)) {
    if (exists(spec.slice(0, i))) return { path: spec.slice(0, i), ref: spec.slice(i + 1) || undefined };
  }
  return { path: spec };
}

function refNames(d: Descriptor): string[] {
  return [d.annotations?.[REF_NAME], d.annotations?.[CONTAINERD_NAME]].filter((n): n is string => !!n);
}

/** A layout in a directory: blobs are opened by digest-derived paths only. */
function dirLayoutFiles(dir: string): LayoutFiles {
  return {
    describe: dir,
    async read(path, max, subject) {
      let fh: Awaited<ReturnType<typeof open>>;
      try {
        fh = await open(join(dir, path));
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') return undefined;
        throw new MoatError(
          'BAD_ARCHIVE',
          `${subject}: cannot read ${path} in ${dir}: ${(e as Error).message}`,
        );
      }
      try {
        const { size } = await fh.stat();
        if (size > max)
          throw new MoatError(
            'BAD_MANIFEST',
            `${subject}: ${path} is ${size} bytes, over the ${max}-byte limit`,
          );
        return await fh.readFile();
      } finally {
        await fh.close();
      }
    },
    async open(path) {
      const fh = await open(join(dir, path));
      return fh.createReadStream({ highWaterMark: READ_CHUNK });
    },
    async close() {},
  };
}

/** Opens `oci:DIR[:REF]`. */
export async function openOciLayout(spec: string, ref: string, opts: OpenImageOptions): Promise<OpenedImage> {
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  const { path, ref: refName } = splitPathRef(spec, isDir);
  const st = await stat(path).catch(() => undefined);
  if (!st?.isDirectory()) throw new MoatError('NOT_FOUND', `${ref}: no OCI layout directory at ${path}`);
  const name = refName ? `${path}:${refName}` : path;
  return openLayoutImage(dirLayoutFiles(path), refName, opts, { source: 'oci', ref, name });
}

/**
 * Opens one image of an OCI layout: index.json's entry named `refName` (or the only one), through nested
 * indexes to the platform's manifest; every document and blob is checked against its digest.
 */
export async function openLayoutImage(
  files: LayoutFiles,
  refName: string | undefined,
  opts: OpenImageOptions,
  meta: { source: ImageSourceKind; ref: string; name: string },
): Promise<OpenedImage> {
  const subject = meta.name;
  try {
    const layoutFile = await files.read('oci-layout', 64 * 1024, subject);
    const indexBytes = await files.read('index.json', MAX_MANIFEST_BYTES, subject);
    if (!indexBytes) {
      throw new MoatError(
        'BAD_ARCHIVE',
        `${subject}: ${files.describe} is not an OCI image layout (no index.json)`,
      );
    }
    if (!layoutFile) log.debug({ layout: files.describe }, 'OCI layout has no oci-layout file');
    const index = parseManifest(
      indexBytes,
      `${subject}: index.json`,
      'application/vnd.oci.image.index.v1+json',
    );
    if (index.kind !== 'index')
      throw new MoatError('BAD_MANIFEST', `${subject}: index.json is not an image index`);

    const want = parsePlatform(opts.platform ?? DEFAULT_PLATFORM);
    const top = pickTop(index, refName, want, subject, `${meta.source}:${files.describe}`);
    const fetch = async (d: Descriptor, _kind: string, max: number) => {
      const bytes = await files.read(blobPath(d.digest, subject), max, subject);
      if (!bytes) throw missingBlob(subject, files.describe, d.digest);
      return bytes;
    };
    const topBytes = await fetchVerified(fetch, top, 'manifest', `${subject}: manifest ${top.digest}`);
    const resolved = await resolveImage({
      subject,
      top,
      topBytes,
      want,
      explicitPlatform: opts.platform !== undefined,
      fetch,
    });
    return {
      source: meta.source,
      ref: meta.ref,
      name: meta.name,
      digest: resolved.manifestDigest,
      indexDigest: resolved.indexDigest,
      configDigest: resolved.manifest.config.digest,
      mediaType: resolved.manifest.mediaType,
      platform: resolved.platform,
      config: resolved.config,
      layers: resolved.layers,
      async openLayer(layer: LayerDescriptor): Promise<Readable> {
        const layerSubject = `layer ${layer.index} (${layer.digest}) of ${subject}`;
        let stream: Readable;
        try {
          stream = await files.open(blobPath(layer.digest, layerSubject));
        } catch (e) {
          if (e instanceof MoatError) throw e;
          throw missingBlob(subject, files.describe, layer.digest, e);
        }
        const expected = { digest: layer.digest, size: layer.size, subject: layerSubject };
        return verifiedStream(stream, expected, { signal: opts.signal });
      },
      close: () => files.close(),
    };
  } catch (e) {
    await files.close();
    throw e;
  }
}

function missingBlob(subject: string, layout: string, digest: string, cause?: unknown): MoatError {
  const why =
    (cause as { code?: string } | undefined)?.code === 'ENOENT' || !cause ? 'is missing' : 'cannot be read';
  return new MoatError('BAD_ARCHIVE', `${subject}: blob ${digest} ${why} in layout ${layout}`, { cause });
}

/**
 * The index.json entry to open. With a name: the entries carrying it (several entries with one name are
 * the platforms of one image). Without: the only entry, or, when every entry has a platform, the one for
 * the wanted platform.
 */
function pickTop(
  index: ImageIndex,
  refName: string | undefined,
  want: Platform,
  subject: string,
  layout: string,
): Descriptor {
  const all = index.manifests;
  const names = [...new Set(all.flatMap(refNames))];
  let candidates = all;
  if (refName !== undefined) {
    candidates = all.filter((d) => refNames(d).includes(refName));
    if (candidates.length === 0) {
      throw new MoatError(
        'NOT_FOUND',
        `${subject}: no image named "${refName}" in ${layout} (names: ${names.join(', ') || 'none'})`,
      );
    }
  }
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) throw new MoatError('BAD_ARCHIVE', `${subject}: ${layout} holds no images`);
  if (candidates.every((d) => d.platform)) {
    return selectPlatform({ ...index, manifests: candidates }, want, subject);
  }
  throw new MoatError(
    'BAD_REFERENCE',
    `${subject}: ${layout} holds ${candidates.length} images; name one as ${layout}:NAME (names: ${names.join(', ') || 'none'})`,
  );
}
