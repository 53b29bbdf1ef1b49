/**
 * Builders of hostile inputs for the end-to-end bad-input suite: tar bytes written by hand (a real tar
 * tool refuses to write "../" or absolute names), gzip through node:zlib, OCI image layouts whose JSON is
 * written here without moat's code, and registry-shaped servers that fail in chosen ways. The image
 * content is real data from the project's fixtures: Debian 12's os-release and a real dpkg status file.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { REPO } from './cli.js';
import { type LayoutServer, sendError, serveLayout } from './registry.js';

export interface TarEntry {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  body?: string | Buffer;
  linkname?: string;
  mode?: number;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', dir: '5' } as const;

function octal(h: Buffer, off: number, len: number, value: number): void {
  h.write(`${value.toString(8).padStart(len - 1, '0')}\0`, off, len, 'latin1');
}

/** One POSIX ustar header block (names up to 100 bytes; that is all these tests need). */
function tarHeader(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(e.path) > 100) throw new Error(`tar name too long for this writer: ${e.path}`);
  h.write(e.path, 0, 100, 'utf8');
  const type = e.type ?? 'file';
  octal(h, 100, 8, e.mode ?? (type === 'dir' ? 0o755 : 0o644));
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, 1_700_000_000);
  h.write(TYPEFLAG[type], 156, 1, 'latin1');
  if (e.linkname) h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar\x0000', 257, 8, 'latin1');
  h.write('root', 265, 32, 'latin1');
  h.write('root', 297, 32, 'latin1');
  // the checksum is computed with its own field read as spaces
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

/** A tar archive of `entries`, ended by the two zero blocks. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.type === undefined || e.type === 'file' ? Buffer.from(e.body ?? '') : Buffer.alloc(0);
    parts.push(tarHeader(e, body.length), body);
    if (body.length % 512) parts.push(Buffer.alloc(512 - (body.length % 512)));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function gzip(data: Buffer): Buffer {
  return gzipSync(data, { level: 6 });
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

const OS_RELEASE = join(REPO, 'test/fixtures/os-release/debian-12/usr/lib/os-release');
const DPKG_STATUS = join(REPO, 'test/fixtures/vulndb/ground-truth/image-base-old.status');

/** A small real Debian 12 root: os-release and the dpkg status of the base-old image. */
export function debianRoot(): TarEntry[] {
  return [
    { path: 'etc/', type: 'dir' },
    { path: 'etc/os-release', body: readFileSync(OS_RELEASE) },
    { path: 'var/', type: 'dir' },
    { path: 'var/lib/', type: 'dir' },
    { path: 'var/lib/dpkg/', type: 'dir' },
    { path: 'var/lib/dpkg/status', body: readFileSync(DPKG_STATUS) },
  ];
}

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  schema1: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export interface LayoutLayer {
  /** the blob as stored */
  blob: Buffer;
  mediaType?: string;
  /** the uncompressed tar, for the config's diff_ids (default: the blob itself) */
  tar?: Buffer;
}

export interface LayoutSpec {
  layers: LayoutLayer[];
  /** the ref name in index.json (default "img") */
  ref?: string;
  /** replace the manifest document (e.g. a schema-1 manifest) */
  rawManifest?: Buffer;
  /** the media type index.json gives the manifest (default OCI manifest) */
  manifestMediaType?: string;
}

export interface BuiltLayout {
  dir: string;
  /** `oci:DIR:REF` */
  ref: string;
  manifestDigest: string;
  layerDigests: string[];
}

function putBlob(dir: string, data: Buffer): string {
  const digest = sha256(data);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
  return digest;
}

/** Writes an OCI image layout (oci-layout, index.json, blobs) for one linux/amd64 image. */
export function writeLayout(dir: string, spec: LayoutSpec): BuiltLayout {
  const refName = spec.ref ?? 'img';
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const layers = spec.layers.map((l) => ({
    mediaType: l.mediaType ?? MEDIA.layerGzip,
    digest: putBlob(dir, l.blob),
    size: l.blob.length,
    diffId: sha256(l.tar ?? l.blob),
  }));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created: '2026-01-01T00:00:00Z', created_by: `hostile layer ${i}` })),
    }),
  );
  const configDigest = putBlob(dir, config);
  const manifest =
    spec.rawManifest ??
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: { mediaType: MEDIA.config, digest: configDigest, size: config.length },
        layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
      }),
    );
  const manifestDigest = putBlob(dir, manifest);
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [
        {
          mediaType: spec.manifestMediaType ?? MEDIA.manifest,
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': refName },
        },
      ],
    }),
  );
  return { dir, ref: `oci:${dir}:${refName}`, manifestDigest, layerDigests: layers.map((l) => l.digest) };
}

/** Overwrites a blob's bytes in place, keeping its (now false) digest name. */
export function tamperBlob(dir: string, digest: string, edit: (b: Buffer) => Buffer): void {
  const file = join(dir, 'blobs', ...digest.split(':'));
  writeFileSync(file, edit(readFileSync(file)));
}

export type HostileLayoutKind =
  | 'corrupt-gzip'
  | 'truncated-tar'
  | 'manifest-digest'
  | 'blob-digest'
  | 'blob-size'
  | 'unknown-layer-media-type'
  | 'unknown-manifest-media-type'
  | 'schema1'
  | 'path-traversal'
  | 'absolute-path'
  | 'symlink-loop'
  | 'big-layer'
  | 'big-layer-many';

/** The bytes of the decompressed layer of 'big-layer' (a file of zeros: gzip makes it tiny). */
export const BIG_LAYER_FILE_BYTES = 4 * 1024 * 1024;

/**
 * An OCI layout in `dir` that is broken in one way. Each is a small Debian root whose digests are right
 * unless the case is about digests, so that exactly one thing is wrong.
 */
export function hostileLayout(dir: string, kind: HostileLayoutKind): BuiltLayout {
  const good = tar(debianRoot());
  const gz = (t: Buffer): LayoutLayer => ({ blob: gzip(t), tar: t });
  switch (kind) {
    case 'corrupt-gzip': {
      const blob = gzip(good);
      // overwrite a run in the middle of the deflate data; the stored digest is of the corrupt bytes
      const bad = Buffer.from(blob);
      bad.fill(0xff, Math.floor(bad.length / 2), Math.floor(bad.length / 2) + 64);
      return writeLayout(dir, { layers: [{ blob: bad, tar: good }] });
    }
    case 'truncated-tar': {
      // cut inside the body of the last entry (the dpkg status), which moat must read
      const cut = good.subarray(0, good.length - 1024 - 3000);
      return writeLayout(dir, { layers: [gz(cut)] });
    }
    case 'manifest-digest': {
      const l = writeLayout(dir, { layers: [gz(good)] });
      // the same manifest with two keys swapped: valid, the same size, but not the bytes index.json names
      tamperBlob(dir, l.manifestDigest, (b) => {
        const { mediaType, ...rest } = JSON.parse(b.toString('utf8')) as Record<string, unknown>;
        const swapped = Buffer.from(JSON.stringify({ mediaType, ...rest }));
        if (swapped.length !== b.length || swapped.equals(b)) throw new Error('manifest swap changed size');
        return swapped;
      });
      return l;
    }
    case 'blob-digest': {
      const l = writeLayout(dir, { layers: [gz(good)] });
      // another OS byte in the gzip header (RFC 1952 2.3): still valid gzip of the same tar, same size,
      // so only the digest can tell
      tamperBlob(dir, l.layerDigests[0]!, (b) => {
        const t = Buffer.from(b);
        t[9] = t[9] === 0xff ? 0x03 : 0xff;
        return t;
      });
      return l;
    }
    case 'blob-size': {
      const l = writeLayout(dir, { layers: [gz(good)] });
      // a valid gzip of another valid tar, longer than the descriptor's size
      tamperBlob(dir, l.layerDigests[0]!, () =>
        gzip(tar([...debianRoot(), { path: 'etc/motd', body: 'hi\n' }])),
      );
      return l;
    }
    case 'unknown-layer-media-type':
      return writeLayout(dir, {
        layers: [{ ...gz(good), mediaType: 'application/vnd.example.unknown.layer.v1+gzip' }],
      });
    case 'unknown-manifest-media-type': {
      // a manifest of a type moat does not know, in the descriptor and in the document itself
      const mediaType = 'application/vnd.example.unknown.manifest.v1+json';
      return writeLayout(dir, {
        layers: [gz(good)],
        rawManifest: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, blobs: [] })),
        manifestMediaType: mediaType,
      });
    }
    case 'schema1':
      return writeLayout(dir, {
        layers: [gz(good)],
        rawManifest: readFileSync(join(REPO, 'test/fixtures/images/schema1-signed.json')),
        manifestMediaType: MEDIA.schema1,
      });
    case 'path-traversal':
      return writeLayout(dir, {
        layers: [gz(tar([...debianRoot(), { path: '../../../moat-escape', body: 'escaped\n' }]))],
      });
    case 'absolute-path':
      return writeLayout(dir, {
        layers: [gz(tar([...debianRoot(), { path: '/tmp/moat-absolute', body: 'absolute\n' }]))],
      });
    case 'symlink-loop': {
      const entries = debianRoot().filter((e) => e.path !== 'etc/os-release');
      entries.push(
        { path: 'etc/os-release', type: 'symlink', linkname: 'os-release.loop' },
        { path: 'etc/os-release.loop', type: 'symlink', linkname: '../etc/os-release' },
      );
      return writeLayout(dir, { layers: [gz(tar(entries))] });
    }
    case 'big-layer-many': {
      // eight files of an eighth each: no single entry is over a cap of half the total, the layer is
      const eighth = BIG_LAYER_FILE_BYTES / 8;
      const files = Array.from({ length: 8 }, (_, i) => ({
        path: `zeros-${i}.bin`,
        body: Buffer.alloc(eighth),
      }));
      return writeLayout(dir, { layers: [gz(tar([...debianRoot(), ...files]))] });
    }
    case 'big-layer':
      return writeLayout(dir, {
        layers: [gz(tar([...debianRoot(), { path: 'zeros.bin', body: Buffer.alloc(BIG_LAYER_FILE_BYTES) }]))],
      });
  }
}

export type HostileRegistryKind = 'error-500' | 'stall-manifest' | 'stall-blob';

/**
 * A registry-shaped server over an OCI layout that misbehaves: answers every manifest request with
 * HTTP 500, or accepts a request and then never answers it (manifest) or stops mid-body (blob).
 * Stalled responses are ended by close().
 */
export async function hostileRegistry(layout: string, kind: HostileRegistryKind): Promise<LayoutServer> {
  const stalled = new Set<ServerResponse>();
  const server = await serveLayout(layout, {
    intercept({ kind: k, res }) {
      if (kind === 'error-500' && k === 'manifest') {
        sendError(res, 500, 'UNKNOWN', 'storage backend unavailable');
        return true;
      }
      if (kind === 'stall-manifest' && k === 'manifest') {
        stalled.add(res);
        return true;
      }
      if (kind === 'stall-blob' && k === 'blob') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1048576' });
        res.write(Buffer.alloc(100));
        stalled.add(res);
        return true;
      }
      return false;
    },
  });
  return {
    ...server,
    close: async () => {
      for (const r of stalled) r.destroy();
      await server.close();
    },
  };
}
