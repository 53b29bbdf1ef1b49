import type { Readable } from 'node:stream';
import type { ImageSourceKind } from '../model/result.js';

/** One layer of an image as its manifest lists it. */
export interface LayerDescriptor {
  index: number;
  /** blob digest (sha256:<hex>) as in the manifest; for a dir: source a synthetic "dir:<path>" */
  digest: string;
  mediaType: string;
  /** compressed size in bytes from the manifest, when known */
  size?: number;
  diffId?: string;
  createdBy?: string;
}

/** The parts of an OCI/Docker image config that scans use. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    Labels?: Record<string, string>;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string }[];
}

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

/** One entry of a layer (a tar member, or a file of a dir: source). */
export interface LayerEntry {
  /** normalised path relative to the root: no leading `/` or `./`, no trailing `/`, no `..` */
  path: string;
  type: EntryType;
  size: number;
  mode: number;
  /** symlink target as written (may be absolute or relative); hardlink target as a normalised root-relative path */
  linkname?: string;
}

/**
 * Receives a layer's entries in order. For each entry, `entry()` decides whether the file's content is
 * wanted; if so, `content()` is called once the whole file has been read (in memory up to `memoryCap`,
 * else in a spool file). Returning a promise from `content()` is allowed; the reader does not wait for
 * it, the caller collects them.
 */
export interface LayerVisitor {
  entry(e: LayerEntry): boolean;
  content(e: LayerEntry, data: { data?: Buffer; spoolPath?: string; size: number }): void;
  /** walkers that read files themselves (dir:) buffer in memory up to this many bytes (default 16 MiB) */
  memoryCap?: number;
  /** where such walkers copy larger wanted files (inside moat's cache dir); the visitor removes them */
  spoolDir?: string;
  /** a file or directory that could not be read; the walk goes on */
  warn?(path: string, reason: string): void;
}

/** An image opened from any source, ready to stream its layers. */
export interface OpenedImage {
  source: ImageSourceKind;
  /** the reference as given */
  ref: string;
  /** canonical name (registry/repo:tag, or the local path) */
  name: string;
  /** manifest digest, if the source has one */
  digest?: string;
  /** digest of the index (manifest list) the platform's manifest was selected from, when there was one */
  indexDigest?: string;
  configDigest?: string;
  mediaType?: string;
  /** "os/arch[/variant]" */
  platform?: string;
  config?: ImageConfig;
  layers: LayerDescriptor[];
  /**
   * The layer's blob as stored (compressed or not), verified against `layer.digest` while streaming:
   * the stream fails with a DIGEST_MISMATCH MoatError at its end when the bytes do not match.
   * Not used for dir: sources (see `walk`).
   */
  openLayer(layer: LayerDescriptor): Promise<Readable>;
  /** For sources without tar layers (dir:): visits the filesystem as a single layer. */
  walk?(visitor: LayerVisitor): Promise<void>;
  close(): Promise<void>;
}
