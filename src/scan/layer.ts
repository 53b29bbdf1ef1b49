/**
 * Reads one layer (blob → decompress → tar, or a dir: walk) and runs the analyzers on the files they
 * want. Only those files are buffered: in memory up to a cap, else in a spool file under the cache
 * dir. Everything else the merge step needs (whiteouts, opaque dirs, symlinks, hardlinks, the file
 * index) is recorded as plain data, so a LayerAnalysis can be cached as JSON.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { AnalysisOutput, Analyzer, FileInput, OwnedFiles } from '../analyzers/types.js';
import { errorMessage, MoatError } from '../errors.js';
import { decompressLayer } from '../image/decompress.js';
import { TarReader } from '../image/tar.js';
import type { LayerDescriptor, LayerEntry, LayerVisitor } from '../image/types.js';
import { log } from '../log.js';
import type { ScanWarning } from '../model/result.js';

/**
 * Version of the LayerAnalysis shape and of the rules that fill it: part of the cache key.
 * 2: `fileMeta` (sizes and modes, for analyzers that pick binaries), owned-file lists.
 */
export const LAYER_FORMAT = 2;

/** What one analyzer found in one file of a layer. */
export interface FileResult {
  /** path the analyzer was given (for an alias read: the path it wanted, reached through a link) */
  path: string;
  analyzer: string;
  output: AnalysisOutput;
  /** alias reads only: the file whose presence makes this result count (a file or hardlink path) */
  entry?: string;
}

/** Everything the merge needs from one layer. JSON-serialisable (it is what the layer cache stores). */
export interface LayerAnalysis {
  format: number;
  digest: string;
  outputs: FileResult[];
  /** paths deleted from lower layers by `.wh.NAME` entries */
  whiteouts: string[];
  /** directories whose lower-layer content is hidden (`.wh..wh..opq`) */
  opaqueDirs: string[];
  /** every symlink: [path, target as written] */
  symlinks: [string, string][];
  /** every hardlink: [path, root-relative target] */
  hardlinks: [string, string][];
  /** every regular file (and special file) path: needed to find files reached through symlinked dirs */
  files: string[];
  /**
   * size and mode of each `files` entry, flattened ([size0, mode0, size1, mode1, ...]): a file reached
   * through a link is offered to analyzers with its own size and mode, as in the first pass
   */
  fileMeta: number[];
  dirs: string[];
  warnings: ScanWarning[];
  /** tar entries read */
  entries: number;
  /** decompressed bytes read */
  bytes: number;
}

/** A file to read again, analyzed under another path (it is reached through a symlink or hardlink). */
export interface AliasRequest {
  /** path of the regular file in this layer's tar whose content is read */
  real: string;
  /** path handed to the analyzer */
  as: string;
  analyzer: string;
  /** path whose visibility decides whether the result counts (the file or the hardlink) */
  entry: string;
}

export interface AnalyzeOptions {
  analyzers: readonly Analyzer[];
  /** spool directory for large wanted files (`<cacheDir>/tmp`) */
  tmpDir: string;
  /** decompressed-size cap for the layer */
  maxLayerBytes: number;
  /** global cap on a file handed to analyzers (each analyzer's own maxSize applies too) */
  maxFileBytes: number;
  /** files up to this size are buffered in memory, larger ones spooled */
  memoryCap: number;
  /** compressed bytes read so far (progress) */
  onBytes?: (n: number) => void;
  signal?: AbortSignal;
}

export const DEFAULT_MAX_LAYER_BYTES = 8 * 1024 ** 3;
export const DEFAULT_MAX_FILE_BYTES = 512 * 1024 ** 2;
export const DEFAULT_MEMORY_CAP = 16 * 1024 ** 2;

interface Planned {
  analyzer: Analyzer;
  as: string;
  entry: string;
}

/**
 * Decides which entries are read and runs the analyzers on them. Shared by the tar reader and the
 * dir: walk; in `alias` mode it reads only the requested files and records nothing else.
 */
class Collector {
  readonly result: LayerAnalysis;
  private readonly tasks: Promise<void>[] = [];
  private readonly byName = new Map<string, Analyzer>();
  private pending: Planned[] | undefined;
  /**
   * the latest occurrence of each analyzed path: a tar may hold a path twice (the later one wins, as
   * on extraction), so results of an earlier occurrence are dropped
   */
  private readonly latest = new Map<string, number>();
  private seq = 0;
  private readonly meta = { size: 0, mode: 0 };
  /** where each result's content came from: its occurrence and real path */
  private readonly origin = new WeakMap<FileResult, { seq: number; real: string }>();
  private readonly aliases: Map<string, AliasRequest[]> | undefined;

  constructor(
    private readonly layer: LayerDescriptor,
    private readonly opts: AnalyzeOptions,
    aliases?: readonly AliasRequest[],
  ) {
    this.result = {
      format: LAYER_FORMAT,
      digest: layer.digest,
      outputs: [],
      whiteouts: [],
      opaqueDirs: [],
      symlinks: [],
      hardlinks: [],
      files: [],
      fileMeta: [],
      dirs: [],
      warnings: [],
      entries: 0,
      bytes: 0,
    };
    for (const a of opts.analyzers) this.byName.set(a.name, a);
    if (aliases) {
      this.aliases = new Map();
      for (const r of aliases) {
        const list = this.aliases.get(r.real);
        if (list) list.push(r);
        else this.aliases.set(r.real, [r]);
      }
    }
  }

  /** true when the entry's content is wanted */
  entry(e: LayerEntry): boolean {
    this.result.entries++;
    // a directory walk has no chunks to check between: stop at the next entry
    if (this.opts.signal?.aborted) throw this.opts.signal.reason ?? new Error('aborted');
    if (this.latest.has(e.path)) this.latest.set(e.path, ++this.seq);
    if (e.size > this.opts.maxLayerBytes) {
      throw new MoatError(
        'LAYER_TOO_LARGE',
        `layer ${this.layer.digest}: entry "${e.path}" declares ${e.size} bytes, more than the ${this.opts.maxLayerBytes}-byte layer cap`,
      );
    }
    if (this.aliases) return this.planAlias(e);
    const slash = e.path.lastIndexOf('/');
    const base = slash < 0 ? e.path : e.path.slice(slash + 1);
    // OCI image-spec layer.md: ".wh." marks a deletion, ".wh..wh..opq" an opaque directory
    if (base.startsWith('.wh.')) {
      const dir = slash < 0 ? '' : e.path.slice(0, slash);
      if (base === '.wh..wh..opq') this.result.opaqueDirs.push(dir);
      else if (!base.startsWith('.wh..wh.'))
        this.result.whiteouts.push(dir === '' ? base.slice(4) : `${dir}/${base.slice(4)}`);
      return false;
    }
    switch (e.type) {
      case 'symlink':
        this.result.symlinks.push([e.path, e.linkname ?? '']);
        return false;
      case 'hardlink':
        this.result.hardlinks.push([e.path, e.linkname ?? '']);
        return false;
      case 'dir':
        this.result.dirs.push(e.path);
        return false;
      case 'other':
        this.result.files.push(e.path);
        this.result.fileMeta.push(e.size, e.mode);
        return false;
      case 'file':
        break;
    }
    this.result.files.push(e.path);
    this.result.fileMeta.push(e.size, e.mode);
    // one object for every call: wants() is called for each file and must not keep it
    const meta = this.meta;
    meta.size = e.size;
    meta.mode = e.mode;
    let planned: Planned[] | undefined;
    for (const a of this.opts.analyzers) {
      if (!a.wants(e.path, meta) || !this.fits(e, a, e.path)) continue;
      planned ??= [];
      planned.push({ analyzer: a, as: e.path, entry: e.path });
    }
    this.pending = planned;
    if (planned) this.wanted.set(e.path, planned.length === 1 ? planned[0]!.analyzer.name : '*');
    return planned !== undefined;
  }

  /** real paths of alias requests met in the layer */
  readonly found = new Set<string>();

  private planAlias(e: LayerEntry): boolean {
    if (e.type !== 'file') return false;
    const reqs = this.aliases?.get(e.path);
    if (!reqs) return false;
    this.found.add(e.path);
    let planned: Planned[] | undefined;
    for (const r of reqs) {
      const a = this.byName.get(r.analyzer);
      if (!a || !this.fits(e, a, r.as)) continue;
      planned ??= [];
      planned.push({ analyzer: a, as: r.as, entry: r.entry });
    }
    this.pending = planned;
    return planned !== undefined;
  }

  private fits(e: LayerEntry, a: Analyzer, as: string): boolean {
    const cap = Math.min(a.maxSize, this.opts.maxFileBytes);
    if (e.size <= cap) return true;
    this.warn(
      'file-too-large',
      `${as}: ${e.size} bytes is over the ${a.name} analyzer's ${cap}-byte limit; skipped`,
      as,
    );
    return false;
  }

  warn(code: string, message: string, file?: string): void {
    const subject = file ? `${this.layer.digest}:${file}` : this.layer.digest;
    this.result.warnings.push({ code, message: `layer ${this.layer.digest}: ${message}`, subject });
    // returned as data (the CLI prints the result's warnings); the log line only helps --debug
    log.debug({ layer: this.layer.digest, file, reason: message }, 'layer file skipped');
  }

  /** runs the planned analyzers on a complete file; `spoolPath` is removed afterwards */
  content(e: LayerEntry, input: { data?: Buffer; spoolPath?: string; size: number }): void {
    const planned = this.pending;
    this.pending = undefined;
    if (!planned) {
      if (input.spoolPath) rmSync(input.spoolPath, { force: true });
      return;
    }
    const seq = ++this.seq;
    this.latest.set(e.path, seq);
    this.tasks.push(this.run(planned, input, { seq, real: e.path }));
  }

  private async run(
    planned: Planned[],
    input: { data?: Buffer; spoolPath?: string; size: number },
    origin: { seq: number; real: string },
  ): Promise<void> {
    try {
      for (const p of planned) {
        const file: FileInput = { path: p.as, size: input.size };
        if (input.data) file.data = input.data;
        if (input.spoolPath) file.spoolPath = input.spoolPath;
        try {
          const output = await p.analyzer.analyze(file, {
            warn: (reason) => this.warn('analyzer-warning', `${p.as}: ${p.analyzer.name}: ${reason}`, p.as),
          });
          if (!output || (!output.os && !output.packages?.length && !output.owned?.length)) continue;
          const r: FileResult = { path: p.as, analyzer: p.analyzer.name, output };
          if (this.aliases) r.entry = p.entry;
          this.origin.set(r, origin);
          this.result.outputs.push(r);
        } catch (err) {
          this.warn(
            'analyzer-failed',
            `${p.as}: ${p.analyzer.name} analyzer failed: ${errorMessage(err)}`,
            p.as,
          );
        }
      }
    } finally {
      if (input.spoolPath) rmSync(input.spoolPath, { force: true });
    }
  }

  async finish(): Promise<LayerAnalysis> {
    await Promise.all(this.tasks);
    this.result.outputs = this.result.outputs.filter((r) => {
      const o = this.origin.get(r);
      return o !== undefined && this.latest.get(o.real) === o.seq && this.keepOwned(r);
    });
    // analyzers finish in any order; keep outputs in a stable order for the cache and the merge
    this.result.outputs.sort((a, b) => cmp(a.path, b.path) || cmp(a.analyzer, b.analyzer));
    return this.result;
  }

  /**
   * Narrows an OS package manager's owned-file lists to the paths another analyzer reads (language
   * metadata, binaries): the only ones the scan asks about, and a small fraction of every file the OS
   * installed. A file of this layer counts when another analyzer read it in this pass (with its size
   * and mode); a path this layer does not hold (a file list written apart from its files, a path
   * behind a symlinked directory) is judged by its name alone. Returns false when the result holds
   * nothing else.
   */
  private keepOwned(r: FileResult): boolean {
    const owned = r.output.owned;
    if (!owned) return true;
    const others = this.opts.analyzers.filter((a) => a.name !== r.analyzer);
    this.present ??= new Set([...this.result.files, ...this.result.dirs]);
    const present = this.present;
    const wanted = this.wanted;
    const kept: OwnedFiles[] = [];
    for (const o of owned) {
      const paths = o.paths.filter((p) => {
        const by = wanted.get(p);
        if (by !== undefined) return by !== r.analyzer;
        return !present.has(p) && others.some((a) => a.wants(p));
      });
      if (paths.length > 0) kept.push({ owner: o.owner, paths });
    }
    if (kept.length > 0) r.output.owned = kept;
    else delete r.output.owned;
    return kept.length > 0 || r.output.os !== undefined || (r.output.packages?.length ?? 0) > 0;
  }

  /** files read in this pass: path → the analyzer that wanted it, or "*" for several */
  private readonly wanted = new Map<string, string>();
  /** every file and directory of the layer, built when an owned-file list needs it */
  private present: Set<string> | undefined;

  /** waits for analyzers still running (after a failure), so spool files are gone when we return */
  async settle(): Promise<void> {
    await Promise.allSettled(this.tasks);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Gathers wanted tar bodies into one buffer, or into a spool file when larger than the memory cap. */
class Gather {
  private buf: Buffer | undefined;
  private off = 0;
  private fd = -1;
  private spool: string | undefined;
  private tmpReady = false;

  constructor(
    private readonly c: Collector,
    private readonly opts: AnalyzeOptions,
  ) {}

  entry(e: LayerEntry): boolean {
    if (!this.c.entry(e)) return false;
    if (e.size <= this.opts.memoryCap) {
      this.buf = Buffer.allocUnsafe(e.size);
      this.off = 0;
    } else {
      if (!this.tmpReady) {
        mkdirSync(this.opts.tmpDir, { recursive: true, mode: 0o700 });
        this.tmpReady = true;
      }
      this.spool = join(this.opts.tmpDir, `spool-${process.pid}-${randomBytes(6).toString('hex')}`);
      this.fd = openSync(this.spool, 'wx', 0o600);
    }
    return true;
  }

  data(chunk: Buffer): void {
    if (this.buf) {
      chunk.copy(this.buf, this.off);
      this.off += chunk.length;
    } else {
      // synchronous writes keep the parser's backpressure trivial; spooling is rare (large databases)
      let o = 0;
      while (o < chunk.length) o += writeSync(this.fd, chunk, o);
    }
  }

  end(e: LayerEntry): void {
    if (this.buf) {
      const data = this.buf;
      this.buf = undefined;
      this.c.content(e, { data, size: e.size });
    } else {
      closeSync(this.fd);
      this.fd = -1;
      const spoolPath = this.spool!;
      this.spool = undefined;
      this.c.content(e, { spoolPath, size: e.size });
    }
  }

  /** drops a half-written spool file after a failure */
  abort(): void {
    this.buf = undefined;
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    if (this.spool) rmSync(this.spool, { force: true });
    this.spool = undefined;
  }
}

async function readTar(
  blob: Readable,
  layer: LayerDescriptor,
  c: Collector,
  opts: AnalyzeOptions,
): Promise<void> {
  const gather = new Gather(c, opts);
  const tar = new TarReader(gather, layer.digest);
  try {
    const chunks = decompressLayer(blob, {
      layer: layer.digest,
      mediaType: layer.mediaType,
      maxBytes: opts.maxLayerBytes,
      onCompressedBytes: opts.onBytes,
      onMismatch: (declared, actual) =>
        c.warn(
          'media-type-mismatch',
          `media type ${layer.mediaType} says ${declared} but the data is ${actual}`,
        ),
    });
    for await (const chunk of chunks) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      c.result.bytes += chunk.length;
      tar.push(chunk);
    }
    tar.end();
  } catch (e) {
    gather.abort();
    await c.settle();
    throw e;
  }
}

/** Reads a layer blob and analyzes the files the analyzers want. */
export async function analyzeLayer(
  blob: Readable,
  layer: LayerDescriptor,
  opts: AnalyzeOptions,
): Promise<LayerAnalysis> {
  const c = new Collector(layer, opts);
  await readTar(blob, layer, c, opts);
  return c.finish();
}

/** Same as analyzeLayer for a source without tar layers (dir:), through its `walk`. */
export async function analyzeWalk(
  walk: (v: LayerVisitor) => Promise<void>,
  layer: LayerDescriptor,
  opts: AnalyzeOptions,
): Promise<LayerAnalysis> {
  // the decompressed-layer cap means nothing for files already on disk
  const c = new Collector(layer, { ...opts, maxLayerBytes: Number.POSITIVE_INFINITY });
  await runWalk(walk, c, opts);
  return c.finish();
}

async function runWalk(
  walk: (v: LayerVisitor) => Promise<void>,
  c: Collector,
  opts: AnalyzeOptions,
): Promise<void> {
  const visitor: LayerVisitor = {
    entry: (e) => c.entry(e),
    content: (e, d) => c.content(e, d),
    memoryCap: opts.memoryCap,
    spoolDir: opts.tmpDir,
    warn: (path, reason) => c.warn('unreadable-file', `${path}: ${reason}`, path),
  };
  try {
    await walk(visitor);
  } catch (e) {
    await c.settle();
    throw e;
  }
}

/**
 * Reads the requested files of a layer again and analyzes each under the path it is reached by
 * (second pass, for files reached through symlinked directories or hardlinks). Rare: only images
 * whose package databases sit behind links need it.
 */
export async function readAliases(
  source: { blob: Readable } | { walk: (v: LayerVisitor) => Promise<void> },
  layer: LayerDescriptor,
  requests: readonly AliasRequest[],
  opts: AnalyzeOptions,
): Promise<{ outputs: FileResult[]; warnings: ScanWarning[] }> {
  const c = new Collector(layer, opts, requests);
  if ('blob' in source) await readTar(source.blob, layer, c, opts);
  else await runWalk(source.walk, c, opts);
  const r = await c.finish();
  // a hardlink whose target is not a regular file of this layer (tar allows no more)
  for (const req of requests) {
    if (!c.found.has(req.real)) {
      c.warn(
        'link-target-missing',
        `${req.as}: links to ${req.real}, which is not a file in this layer`,
        req.as,
      );
    }
  }
  return { outputs: r.outputs, warnings: r.warnings };
}

/**
 * Removes spool files left behind by a moat process that was killed mid-layer (a normal run removes
 * its own). Only files older than `maxAgeMs` go, so that concurrent scans keep theirs.
 */
export function sweepSpool(tmpDir: string, maxAgeMs = 3_600_000): void {
  let names: string[];
  try {
    names = readdirSync(tmpDir);
  } catch {
    return;
  }
  const cutoff = Date.now() - maxAgeMs;
  for (const name of names) {
    if (!name.startsWith('spool-')) continue;
    const p = join(tmpDir, name);
    try {
      if (statSync(p).mtimeMs < cutoff) rmSync(p, { force: true });
    } catch {
      // gone already, or not ours to remove
    }
  }
}
