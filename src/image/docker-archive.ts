import { createReadStream, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { MoatError } from '../errors.js';
import type { OpenImageOptions } from './index.js';
import {
  configPlatform,
  type Descriptor,
  type ImageManifest,
  layerDescriptors,
  MAX_CONFIG_BYTES,
  MAX_MANIFEST_BYTES,
  MEDIA,
  type ParsedManifest,
  parseImageConfig,
  parseManifest,
} from './manifest.js';
import { type LayoutFiles, openLayoutImage, READ_CHUNK, splitPathRef } from './oci-layout.js';
import { parseReference } from './reference.js';
import type { LayerDescriptor, OpenedImage } from './types.js';
import { sha256Digest, verifiedStream, verifyBuffer } from './verify.js';

/** A member of the outer tar: where its data starts in the file and how long it is. */
interface TarMember {
  name: string;
  offset: number;
  size: number;
  /** tar typeflag: "0" file, "1" hardlink, "2" symlink, "5" dir, ... */
  type: string;
  linkname: string;
}

const BLOCK = 512;
/** `docker save` writes a few files per layer; this bounds memory on hostile archives. */
const MAX_MEMBERS = 100_000;
const MAX_META = 1024 * 1024;
const MAX_LINK_HOPS = 8;
const BLOB_PATH = /^blobs\/(sha256|sha512)\/([0-9a-f]+)$/;
const DIGEST_NAME = /^(?:blobs\/sha256\/)?([0-9a-f]{64})(?:\.json)?$/;

function badArchive(file: string, why: string): MoatError {
  return new MoatError('BAD_ARCHIVE', `${file}: ${why}`);
}

function cstr(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end === -1 || end > start + len ? start + len : end);
}

/** Octal numeric field, or GNU base-256 when the high bit of the first byte is set (sizes over 8 GiB). */
function numeric(b: Buffer, start: number, len: number): number {
  if (b[start]! & 0x80) {
    let n = b[start]! & 0x7f;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = cstr(b, start, len).trim();
  return s ? Number.parseInt(s, 8) : 0;
}

function normalizeName(name: string): string {
  const n = posix.normalize(`/${name}`).slice(1);
  return n.endsWith('/') ? n.slice(0, -1) : n;
}

/** PAX extended header records: "<len> <key>=<value>\n". */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number.parseInt(data.toString('ascii', i, sp), 10);
    if (!(len > 0) || i + len > data.length) break;
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * Indexes a tar file by reading only its headers and seeking over member data, so that a multi-GB
 * `docker save` archive is indexed in a few reads per member. Handles ustar prefixes, PAX and GNU long names.
 */
async function indexTar(fh: FileHandle, file: string, fileSize: number): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  const header = Buffer.alloc(BLOCK);
  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  const readData = async (at: number, size: number): Promise<Buffer> => {
    if (size > MAX_META) throw badArchive(file, `tar metadata entry of ${size} bytes at offset ${at}`);
    const buf = Buffer.alloc(size);
    const { bytesRead } = await fh.read(buf, 0, size, at);
    if (bytesRead < size) throw badArchive(file, 'truncated tar archive');
    return buf;
  };
  while (pos + BLOCK <= fileSize) {
    const { bytesRead } = await fh.read(header, 0, BLOCK, pos);
    if (bytesRead < BLOCK) throw badArchive(file, 'truncated tar archive');
    if (header.every((x) => x === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
    if (sum !== numeric(header, 148, 8)) {
      throw badArchive(file, pos === 0 ? 'not a tar archive' : `corrupt tar header at offset ${pos}`);
    }
    const type = String.fromCharCode(header[156] || 0x30);
    const size = numeric(header, 124, 12);
    const dataAt = pos + BLOCK;
    if (dataAt + size > fileSize) throw badArchive(file, 'truncated tar archive');
    pos = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      pax = parsePax(await readData(dataAt, size));
      continue;
    }
    if (type === 'L' || type === 'K') {
      const v = cstr(await readData(dataAt, size), 0, size);
      if (type === 'L') longName = v;
      else longLink = v;
      continue;
    }
    if (type === 'g') continue;
    let name = cstr(header, 0, 100);
    if (header.toString('ascii', 257, 262) === 'ustar') {
      const prefix = cstr(header, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    name = pax.path ?? longName ?? name;
    const linkname = pax.linkpath ?? longLink ?? cstr(header, 157, 100);
    const realSize = pax.size !== undefined ? Number(pax.size) : size;
    if (pax.size !== undefined) pos = dataAt + Math.ceil(realSize / BLOCK) * BLOCK;
    pax = {};
    longName = undefined;
    longLink = undefined;
    if (members.size >= MAX_MEMBERS) throw badArchive(file, `more than ${MAX_MEMBERS} tar members`);
    const key = normalizeName(name);
    if (key.startsWith('..')) continue;
    members.set(key, { name: key, offset: dataAt, size: realSize, type, linkname });
  }
  return members;
}

/** An indexed tar file whose members are read by byte range, following links inside the archive. */
class TarFile {
  readonly path: string;
  readonly #fh: FileHandle;
  readonly #members: Map<string, TarMember>;
  #closing?: Promise<void>;

  private constructor(path: string, fh: FileHandle, members: Map<string, TarMember>) {
    this.path = path;
    this.#fh = fh;
    this.#members = members;
  }

  static async open(path: string): Promise<TarFile> {
    let fh: FileHandle;
    try {
      fh = await open(path);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT') throw new MoatError('NOT_FOUND', `${path}: no such file`);
      throw badArchive(path, `cannot open: ${(e as Error).message}`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw badArchive(path, 'not a regular file');
      return new TarFile(path, fh, await indexTar(fh, path, st.size));
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** The regular-file member at `name`, following symlinks and hardlinks within the archive. */
  member(name: string): TarMember | undefined {
    let key = normalizeName(name);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const m = this.#members.get(key);
      if (!m) return undefined;
      if (m.type === '2') {
        key = normalizeName(
          m.linkname.startsWith('/') ? m.linkname : posix.join(posix.dirname(key), m.linkname),
        );
      } else if (m.type === '1') {
        key = normalizeName(m.linkname);
      } else {
        return m.type === '0' || m.type === '7' || m.type === '\0' ? m : undefined;
      }
    }
    return undefined;
  }

  async read(m: TarMember, max: number, subject: string): Promise<Buffer> {
    if (m.size > max)
      throw badArchive(this.path, `${subject} is ${m.size} bytes, over the ${max}-byte limit`);
    const buf = Buffer.alloc(m.size);
    const { bytesRead } = await this.#fh.read(buf, 0, m.size, m.offset);
    if (bytesRead < m.size) throw badArchive(this.path, 'truncated tar archive');
    return buf;
  }

  /** The first bytes of a member, for sniffing compression. */
  async head(m: TarMember, n: number): Promise<Buffer> {
    const buf = Buffer.alloc(Math.min(n, m.size));
    await this.#fh.read(buf, 0, buf.length, m.offset);
    return buf;
  }

  /** A member's bytes; each stream has its own descriptor so several layers can be read at once. */
  stream(m: TarMember): Readable {
    if (m.size === 0) return Readable.from([]);
    return createReadStream(this.path, {
      start: m.offset,
      end: m.offset + m.size - 1,
      highWaterMark: READ_CHUNK,
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#fh.close();
    return this.#closing;
  }
}

interface ArchiveEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function parseArchiveManifest(bytes: Buffer, file: string): ArchiveEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw badArchive(file, 'manifest.json is not JSON');
  }
  if (!Array.isArray(doc) || doc.length === 0)
    throw badArchive(file, 'manifest.json is not a non-empty list');
  return doc.map((e, i) => {
    const o = e as Partial<Record<keyof ArchiveEntry, unknown>> | null;
    if (
      typeof o?.Config !== 'string' ||
      !Array.isArray(o.Layers) ||
      !o.Layers.every((l) => typeof l === 'string')
    ) {
      throw badArchive(file, `manifest.json entry ${i} lacks Config or Layers`);
    }
    const tags = Array.isArray(o.RepoTags)
      ? o.RepoTags.filter((t): t is string => typeof t === 'string')
      : [];
    return { Config: o.Config, RepoTags: tags, Layers: o.Layers as string[] };
  });
}

/** Canonical form of a tag for comparison ("alpine:3" and "docker.io/library/alpine:3" are equal). */
function canonicalTag(t: string): string {
  try {
    return parseReference(t).name;
  } catch {
    return t;
  }
}

function pickEntry(entries: ArchiveEntry[], refName: string | undefined, file: string): ArchiveEntry {
  const tags = entries.flatMap((e) => e.RepoTags);
  if (refName?.startsWith('@')) {
    const n = Number(refName.slice(1));
    const e = Number.isInteger(n) ? entries[n] : undefined;
    if (!e)
      throw new MoatError('NOT_FOUND', `${file}: no image ${refName} (the archive holds ${entries.length})`);
    return e;
  }
  if (refName !== undefined) {
    const want = canonicalTag(refName);
    const e = entries.find((x) => x.RepoTags.some((t) => t === refName || canonicalTag(t) === want));
    if (!e)
      throw new MoatError(
        'NOT_FOUND',
        `${file}: no image tagged "${refName}" (tags: ${tags.join(', ') || 'none'})`,
      );
    return e;
  }
  if (entries.length === 1) return entries[0]!;
  throw new MoatError(
    'BAD_REFERENCE',
    `${file}: the archive holds ${entries.length} images; name one as docker-archive:${file}:TAG or :@N (tags: ${tags.join(', ') || 'none'})`,
  );
}

/** How many index.json documents are read looking for an archive's manifest digest. */
const MAX_LOOKUPS = 64;

/**
 * Docker 25+ archives carry an OCI index.json beside manifest.json: the image manifest whose config is
 * ours gives the image's manifest digest (what a registry would call it) and its layer media types.
 */
async function findOciManifest(
  tar: TarFile,
  configDigest: string,
  subject: string,
): Promise<{ digest: string; manifest: ImageManifest } | undefined> {
  const indexMember = tar.member('index.json');
  if (!indexMember) return undefined;
  const queue: Descriptor[] = [];
  const top = parseManifest(
    await tar.read(indexMember, MAX_MANIFEST_BYTES, 'index.json'),
    `${subject}: index.json`,
    MEDIA.ociIndex,
  );
  if (top.kind === 'index') queue.push(...top.manifests);
  for (let n = 0; n < queue.length && n < MAX_LOOKUPS; n++) {
    const d = queue[n]!;
    const blob = BLOB_PATH.exec(blobPathOf(d.digest));
    const m = blob ? tar.member(blobPathOf(d.digest)) : undefined;
    if (!m || m.size > MAX_MANIFEST_BYTES) continue;
    const bytes = await tar.read(m, MAX_MANIFEST_BYTES, d.digest);
    verifyBuffer(bytes, { digest: d.digest, size: d.size, subject: `${subject}: manifest ${d.digest}` });
    let doc: ParsedManifest;
    try {
      doc = parseManifest(bytes, `${subject}: manifest ${d.digest}`, d.mediaType);
    } catch {
      continue; // attestations and other artifacts are not ours to judge here
    }
    if (doc.kind === 'index') queue.push(...doc.manifests);
    else if (doc.config.digest === configDigest) return { digest: d.digest, manifest: doc };
  }
  return undefined;
}

function blobPathOf(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

/** An OCI layout stored inside the tar (Docker 25+ `docker save`, `oci-archive`). */
function tarLayoutFiles(tar: TarFile): LayoutFiles {
  return {
    describe: tar.path,
    async read(path, max, subject) {
      const m = tar.member(path);
      return m ? tar.read(m, max, subject) : undefined;
    },
    async open(path) {
      const m = tar.member(path);
      if (!m) throw Object.assign(new Error(`${path} not in archive`), { code: 'ENOENT' });
      return tar.stream(m);
    },
    close: () => tar.close(),
  };
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/**
 * Opens `docker-archive:FILE[:REF]` (REF: a RepoTag or @N). The archive is indexed once, never extracted.
 * manifest.json (legacy and Docker 25+ archives) lists config and layer paths; an archive with only an
 * index.json is read as an OCI layout.
 */
export async function openDockerArchive(
  spec: string,
  ref: string,
  opts: OpenImageOptions,
): Promise<OpenedImage> {
  const isFile = (p: string) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  const { path: file, ref: refName } = splitPathRef(spec, isFile);
  const name = refName ? `${file}:${refName}` : file;
  const tar = await TarFile.open(file);
  try {
    const manifestMember = tar.member('manifest.json');
    if (!manifestMember) {
      if (tar.member('index.json'))
        return await openLayoutImage(tarLayoutFiles(tar), refName, opts, {
          source: 'docker-archive',
          ref,
          name,
        });
      throw badArchive(file, 'not a docker-archive (no manifest.json or index.json)');
    }
    const entries = parseArchiveManifest(
      await tar.read(manifestMember, MAX_MANIFEST_BYTES, 'manifest.json'),
      file,
    );
    const entry = pickEntry(entries, refName, file);

    const configMember = tar.member(entry.Config);
    if (!configMember) throw badArchive(file, `config ${entry.Config} is missing`);
    const configBytes = await tar.read(configMember, MAX_CONFIG_BYTES, `config ${entry.Config}`);
    const named = DIGEST_NAME.exec(normalizeName(entry.Config));
    // the file name of the config is its digest (the image id) in every docker save format
    if (named)
      verifyBuffer(configBytes, { digest: `sha256:${named[1]}`, subject: `${name}: config ${entry.Config}` });
    const config = parseImageConfig(configBytes, `${name}: config`);
    const diffIds = config.rootfs?.diff_ids ?? [];

    const descs: Descriptor[] = [];
    for (const [i, layerPath] of entry.Layers.entries()) {
      const m = tar.member(layerPath);
      if (!m) throw badArchive(file, `layer ${layerPath} is missing`);
      const head = await tar.head(m, 4);
      const compression = head.subarray(0, 2).equals(GZIP_MAGIC)
        ? 'gzip'
        : head.equals(ZSTD_MAGIC)
          ? 'zstd'
          : undefined;
      const blob = BLOB_PATH.exec(normalizeName(layerPath));
      if (blob) {
        const mediaType =
          compression === 'gzip'
            ? MEDIA.ociLayerGzip
            : compression === 'zstd'
              ? MEDIA.ociLayerZstd
              : MEDIA.ociLayerTar;
        descs.push({ mediaType, digest: `${blob[1]}:${blob[2]}`, size: m.size });
        continue;
      }
      // legacy layout: <id>/layer.tar holds the uncompressed layer, whose digest is the config's diff_id
      const diffId = diffIds.length === entry.Layers.length ? diffIds[i] : undefined;
      if (!diffId) throw badArchive(file, `config has no diff_id for layer ${layerPath}`);
      if (compression) {
        throw badArchive(
          file,
          `layer ${layerPath} is ${compression}-compressed; legacy archives are verified against uncompressed diff_ids`,
        );
      }
      descs.push({ mediaType: MEDIA.dockerLayerTar, digest: diffId, size: m.size });
    }
    const configDigest = sha256Digest(configBytes);
    const oci = await findOciManifest(tar, configDigest, name);
    if (oci) {
      // the OCI manifest beside manifest.json knows the layers' real media types
      for (const d of descs)
        d.mediaType = oci.manifest.layers.find((l) => l.digest === d.digest)?.mediaType ?? d.mediaType;
    }
    const layers = layerDescriptors(descs, config);
    const paths = new Map(layers.map((l, i) => [l, entry.Layers[i]!]));
    return {
      source: 'docker-archive',
      ref,
      name,
      digest: oci?.digest,
      mediaType: oci?.manifest.mediaType,
      configDigest,
      platform: configPlatform(config),
      config,
      layers,
      async openLayer(layer: LayerDescriptor): Promise<Readable> {
        const layerSubject = `layer ${layer.index} (${layer.digest}) of ${name}`;
        const path = paths.get(layer) ?? entry.Layers[layer.index];
        const m = path === undefined ? undefined : tar.member(path);
        if (!m) throw badArchive(file, `${layerSubject} is not in the archive`);
        return verifiedStream(
          tar.stream(m),
          { digest: layer.digest, size: layer.size, subject: layerSubject },
          {
            signal: opts.signal,
          },
        );
      },
      close: () => tar.close(),
    };
  } catch (e) {
    await tar.close();
    throw e;
  }
}
