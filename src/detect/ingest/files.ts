/**
 * Audit log files: JSON lines as `--audit-log-path` writes them, gzip-compressed or not (told by the
 * magic bytes, not the name), whole JSON documents (a saved EventList, `aws logs filter-log-events`
 * output, an Event Hub `{records: [...]}` message), and directories of rotated files read oldest first.
 * Streams in chunks: memory is bounded by the chunk size plus the longest line, never the file.
 */
import { createReadStream, type Dirent } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { MoatError } from '../../errors.js';
import type { AuditEvent } from '../event.js';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter } from './lines.js';
import { AuditDecoder, type DecodeOptions } from './normalize.js';
import { type IngestStats, newIngestStats, recordMalformed } from './stats.js';

export interface ReadOptions extends DecodeOptions {
  /** counters shared across files (and with the caller); a new one when absent */
  stats?: IngestStats;
  signal?: AbortSignal;
  maxLineBytes?: number;
  /** a file that is one JSON document rather than JSON lines is parsed whole up to this size */
  maxDocumentBytes?: number;
  chunkBytes?: number;
}

export const DEFAULT_MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;

/** Directory entries that can be audit logs: JSON/log text, rotated (`audit.log.3`) or gzipped. */
const AUDIT_FILE = /(\.(log|json|jsonl|ndjson|txt|gz)|\.log\.\d+)$/;
// lumberjack's rotated name (kube-apiserver `--audit-log-maxbackup`): audit-2026-01-02T03-04-05.678.log
const ROTATED_STAMP = /-(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})(?:\.(\d{3}))?/;

/** The audit files in `dir`, oldest first: by the rotation timestamp in the name, else by mtime. */
export async function listAuditFiles(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new MoatError('NOT_FOUND', `cannot read audit log directory ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const keyed: { path: string; name: string; time: number }[] = [];
  for (const d of entries) {
    if (!d.isFile() || d.name.startsWith('.') || !AUDIT_FILE.test(d.name)) continue;
    const path = join(dir, d.name);
    const m = ROTATED_STAMP.exec(d.name);
    const time = m
      ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, m[7] ? +m[7] : 0)
      : (await stat(path)).mtimeMs;
    keyed.push({ path, name: d.name, time });
  }
  keyed.sort((a, b) => a.time - b.time || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return keyed.map((k) => k.path);
}

/** Files and directories (expanded in time order) → file paths. */
async function expand(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(input);
    } catch (e) {
      throw new MoatError('NOT_FOUND', `cannot read audit log ${input}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (s.isDirectory()) files.push(...(await listAuditFiles(input)));
    else files.push(input);
  }
  return files;
}

/**
 * Events from files and directories, in batches (one per chunk read, a few hundred events), so a
 * consumer pays one await per batch rather than per event. Malformed records end up in `stats`.
 */
export async function* readAuditBatches(
  inputs: string | readonly string[],
  options: ReadOptions = {},
): AsyncGenerator<AuditEvent[]> {
  const stats = options.stats ?? newIngestStats();
  const decoder = new AuditDecoder(stats, options);
  for (const file of await expand(typeof inputs === 'string' ? [inputs] : inputs)) {
    if (options.signal?.aborted) return;
    yield* readFileBatches(file, decoder, options);
  }
}

/** Events one at a time (convenience over readAuditBatches). */
export async function* readAuditEvents(
  inputs: string | readonly string[],
  options: ReadOptions = {},
): AsyncGenerator<AuditEvent> {
  for await (const batch of readAuditBatches(inputs, options)) yield* batch;
}

/** gzip magic (RFC 1952): 1f 8b */
export async function isGzipFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

export function openAuditStream(file: string, gzip: boolean, chunkBytes = CHUNK_BYTES): Readable {
  const raw = createReadStream(file, { highWaterMark: chunkBytes });
  if (!gzip) return raw;
  const gunzip = createGunzip({ chunkSize: chunkBytes });
  raw.on('error', (e) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

async function* readFileBatches(
  file: string,
  decoder: AuditDecoder,
  options: ReadOptions,
): AsyncGenerator<AuditEvent[]> {
  let gzip: boolean;
  try {
    gzip = await isGzipFile(file);
  } catch (e) {
    throw new MoatError('NOT_FOUND', `cannot read audit log ${file}: ${(e as Error).message}`, { cause: e });
  }
  const reader = new ChunkDecoder(decoder, file, options);
  const stream = openAuditStream(file, gzip, options.chunkBytes);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (options.signal?.aborted) return;
      reader.push(chunk);
      if (reader.out.length > 0) yield reader.take();
    }
  } catch (e) {
    // a truncated or corrupt .gz ends that file: what was read so far stands, the cut line is dropped
    const reason = `unreadable ${gzip ? 'gzip ' : ''}data: ${(e as Error).message}`;
    recordMalformed(decoder.stats, reason, file, reader.line + 1);
    reader.reset();
  } finally {
    stream.destroy();
  }
  reader.end();
  if (reader.out.length > 0) yield reader.take();
}

/**
 * Bytes → events for one file. The first line decides the mode: if it is a complete JSON value (or
 * not JSON at all) the file is JSON lines; if it opens a value it does not close (`{` of a pretty-
 * printed document), the whole file is one JSON document, parsed at the end.
 */
export class ChunkDecoder {
  out: AuditEvent[] = [];
  private mode: 'sniff' | 'lines' | 'document' | 'skip' = 'sniff';
  private readonly splitter: LineSplitter;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private readonly maxDocumentBytes: number;

  constructor(
    private readonly decoder: AuditDecoder,
    private readonly file: string | undefined,
    options: ReadOptions = {},
  ) {
    this.maxDocumentBytes = options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
    const maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.splitter = new LineSplitter(
      (text, line) => decoder.decodeText(text, file, line, this.out),
      (line, bytes) =>
        recordMalformed(decoder.stats, `line longer than ${maxLine} bytes (${bytes})`, file, line),
      maxLine,
    );
  }

  get line(): number {
    return this.splitter.line;
  }

  take(): AuditEvent[] {
    const batch = this.out;
    this.out = [];
    return batch;
  }

  push(chunk: Buffer): void {
    if (this.mode === 'lines') {
      this.splitter.push(chunk);
      return;
    }
    if (this.mode === 'skip') return;
    // copied: a tailing reader reuses its buffer
    this.held.push(Buffer.from(chunk));
    this.heldBytes += chunk.length;
    if (this.heldBytes > this.maxDocumentBytes) this.tooLarge();
    else if (this.mode === 'sniff' && chunk.indexOf(10) >= 0) this.decide();
  }

  end(): void {
    if (this.mode === 'sniff') this.decide();
    if (this.mode === 'lines') this.splitter.end();
    else if (this.mode === 'document') this.parseDocument();
  }

  /** Forget a partial line (a followed file was truncated). */
  reset(): void {
    this.splitter.reset();
  }

  private decide(): void {
    const all = Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    const nl = all.indexOf(10);
    const first = all.toString('utf8', 0, nl < 0 ? all.length : nl).trim();
    const opener = first.charCodeAt(0);
    if (nl >= 0 && (opener === 123 || opener === 91) && !isJson(first)) {
      this.mode = 'document';
      this.held.push(all);
      this.heldBytes = all.length;
      return;
    }
    this.mode = 'lines';
    this.splitter.push(all);
  }

  private parseDocument(): void {
    const text = Buffer.concat(this.held, this.heldBytes).toString('utf8');
    this.held = [];
    this.heldBytes = 0;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      const reason = `neither JSON lines nor one JSON document: ${(e as Error).message}`;
      recordMalformed(this.decoder.stats, reason, this.file, 1, text);
      return;
    }
    const ctx = { file: this.file, line: undefined, cluster: this.decoder.cluster, format: 'k8s' };
    this.decoder.decodeValue(value, ctx, this.out);
  }

  private tooLarge(): void {
    const reason = `first line or JSON document larger than ${this.maxDocumentBytes} bytes`;
    recordMalformed(this.decoder.stats, reason, this.file, 1);
    this.held = [];
    this.heldBytes = 0;
    this.mode = 'skip';
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
