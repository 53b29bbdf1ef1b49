/**
 * The audit webhook's write-ahead log: every accepted batch is one record, appended and fsynced before
 * the API server gets its 2xx, so an acknowledged event survives a crash (kill -9, OOM, power loss on a
 * disk that honours fdatasync).
 *
 * Layout: `<dir>/<first seq, 20 digits>.wal` segments, a `checkpoint` file (how far the consumer got)
 * and a `lock` file. A record is a 24-byte header and a body, little-endian:
 *
 *   0 u32 body length   4 u32 CRC-32 of bytes 8..end   8 u64 seq   16 u32 event count
 *   20 u8 type (1: the request body as received, 2: a JSON array of the accepted events)
 *   21 u8 version (1)   22 u16 zero   24 keys (count × 17 bytes, see dedup.ts)   then the payload
 *
 * Keys sit beside the payload so that the dedup index is rebuilt at start from headers alone, without
 * parsing JSON. Appends are group-committed: records that arrive while a write and fdatasync are in
 * flight go out together in the next one, so concurrent requests share one fsync.
 *
 * Recovery: only the newest segment can end in a torn record (segments rotate after an fsync); at open
 * it is read in full and cut at the first record whose length, CRC or sequence is wrong. Older
 * segments are checked when the consumer reads them; a bad record there (bit rot) skips the rest of
 * its segment, logged and counted.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { errorMessage, MoatError } from '../../errors.js';
import { log } from '../../log.js';
import { DEFAULT_DEDUP_KEYS, DedupIndex, KEY_BYTES } from './dedup.js';

export type WalRecordType = 'body' | 'events';

export interface WalOptions {
  /** a segment is closed and a new one started past this size; default 64 MiB */
  segmentBytes?: number;
  /** oldest segments are deleted while the log is larger than this; default 1 GiB */
  retentionBytes?: number;
  /** segments whose last write is older than this are deleted; default 7 days */
  retentionMs?: number;
  /** dedup keys kept (auditID + stage); default 1,048,576 (~30 MB) */
  dedupKeys?: number;
  /** how often a moved checkpoint is written; default 1 s */
  checkpointIntervalMs?: number;
}

export interface WalRecord {
  seq: number;
  type: WalRecordType;
  /** events in the record (and keys) */
  count: number;
  keys: Buffer;
  payload: Buffer;
}

export interface WalStats {
  /** highest sequence number written and fsynced */
  durableSeq: number;
  /** highest sequence number the consumer has processed */
  checkpoint: number;
  /** bytes on disk over all segments */
  bytes: number;
  segments: number;
  /** records and bytes appended since open */
  appendedRecords: number;
  appendedBytes: number;
  fsyncs: number;
  /** bytes cut from the newest segment at open (a torn tail after a crash) */
  tornBytes: number;
  /** records that failed their check when read (bit rot), each ending its segment's read */
  corruptRecords: number;
  /** segments deleted by retention */
  deletedSegments: number;
  /** records deleted by retention before the consumer reached them */
  deletedUnconsumed: number;
}

export interface WalReader {
  /** the next sequence number it will return; records before it are skipped */
  position: number;
  /** durable records from the position on, up to about `maxBytes`; [] when caught up */
  next(maxBytes?: number): Promise<WalRecord[]>;
  close(): Promise<void>;
}

export interface Wal {
  readonly dir: string;
  /** the keys of the most recent events, rebuilt at open */
  readonly dedup: DedupIndex;
  /** the last sequence number on disk at open: records up to it are a replay */
  readonly openSeq: number;
  durableSeq(): number;
  checkpoint(): number;
  /** records the consumer's progress; written to disk within checkpointIntervalMs and at close */
  setCheckpoint(seq: number): void;
  /** appends one record; resolves with its sequence number once it is on disk */
  append(type: WalRecordType, keys: Buffer, count: number, payload: Buffer): Promise<number>;
  /** resolves once every record appended so far is on disk */
  barrier(): Promise<void>;
  reader(fromSeq: number): WalReader;
  /** the write or fsync error that stopped the log (every later append fails), if any */
  failure(): Error | undefined;
  stats(): WalStats;
  /** waits for pending appends, writes the checkpoint, releases the directory */
  close(): Promise<void>;
}

const HEADER = 24;
const VERSION = 1;
const TYPE_CODE: Record<WalRecordType, number> = { body: 1, events: 2 };
const TYPE_NAME: Record<number, WalRecordType> = { 1: 'body', 2: 'events' };
const SEGMENT = /^(\d{20})\.wal$/;
/** larger than any body the server accepts: a longer length field is corruption, not a record */
const MAX_RECORD_BYTES = 1 << 30;
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const DEFAULT_RETENTION_BYTES = 1024 * 1024 * 1024;
const DEFAULT_RETENTION_MS = 7 * 86_400_000;
const READ_BYTES = 8 * 1024 * 1024;

interface Segment {
  first: number;
  /** seq of its last durable record (first - 1 when empty) */
  last: number;
  path: string;
  /** durable bytes */
  size: number;
  mtimeMs: number;
}

interface Header {
  bodyLen: number;
  crc: number;
  seq: number;
  count: number;
  type: number;
}

interface Pending {
  seq: number;
  bufs: Buffer[];
  bytes: number;
  resolve: (seq: number) => void;
  reject: (e: Error) => void;
}

/** Runs `task` unless one is running; the slot is cleared when it settles (even synchronously). */
function single(
  get: () => Promise<void> | undefined,
  set: (p: Promise<void> | undefined) => void,
  task: () => Promise<void>,
): Promise<void> {
  const running = get();
  if (running) return running;
  const p = task().finally(() => {
    if (get() === p) set(undefined);
  });
  set(p);
  return p;
}

const segmentName = (first: number) => `${String(first).padStart(20, '0')}.wal`;

function parseHeader(b: Buffer): Header {
  return {
    bodyLen: b.readUInt32LE(0),
    crc: b.readUInt32LE(4),
    seq: b.readUInt32LE(8) + b.readUInt32LE(12) * 0x1_0000_0000,
    count: b.readUInt32LE(16),
    type: b[20] as number,
  };
}

/** Why a header cannot start a record at `pos` of a file of `size` bytes, or undefined. */
function badHeader(h: Header, b: Buffer, pos: number, size: number): string | undefined {
  if (b[21] !== VERSION || b.readUInt16LE(22) !== 0 || TYPE_NAME[h.type] === undefined) return 'bad header';
  if (h.bodyLen > MAX_RECORD_BYTES || h.count * KEY_BYTES > h.bodyLen) return 'bad length';
  if (pos + HEADER + h.bodyLen > size) return 'record runs past the end';
  return undefined;
}

function checksum(header: Buffer, body: Buffer): number {
  return crc32(body, crc32(header.subarray(8, HEADER)));
}

async function readExactly(fh: FileHandle, buf: Buffer, pos: number): Promise<boolean> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, pos + done);
    if (bytesRead === 0) return false;
    done += bytesRead;
  }
  return true;
}

async function writeAll(fh: FileHandle, bufs: Buffer[], bytes: number): Promise<void> {
  let written = (await fh.writev(bufs)).bytesWritten;
  // a short write on a regular file is rare (a signal, a full disk): finish it or fail
  while (written < bytes) {
    const rest = Buffer.concat(bufs).subarray(written);
    const n = (await fh.write(rest)).bytesWritten;
    if (n === 0) throw new Error('short write');
    written += n;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// directories open in this process: the lock file cannot tell them apart (same pid)
const openDirs = new Set<string>();

/** A process's start time in clock ticks since boot (Linux /proc), telling a live owner from a reused pid. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name, which may itself hold spaces and parentheses; starttime is field 22
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * One writer per directory: a second process would interleave records. The lock file names the owner
 * (pid and start time); a lock whose owner is gone, or whose pid now belongs to another process (a
 * container restarted after kill -9 reuses low pids), is stale and taken over.
 */
function lockDir(dir: string): void {
  if (openDirs.has(dir)) throw new MoatError('CONFIG', `audit WAL ${dir} is already open in this process`);
  const file = join(dir, 'lock');
  let owner: { pid: number; start?: string } | undefined;
  try {
    const [pid, start] = readFileSync(file, 'utf8').trim().split(' ');
    owner = { pid: Number(pid), start };
  } catch {
    // no lock file
  }
  if (owner && Number.isSafeInteger(owner.pid) && owner.pid > 0 && owner.pid !== process.pid) {
    let alive = false;
    try {
      process.kill(owner.pid, 0);
      alive = true;
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    const now = startTime(owner.pid);
    if (alive && owner.start !== undefined && now !== undefined && now !== owner.start) alive = false;
    if (alive) throw new MoatError('CONFIG', `audit WAL ${dir} is in use by process ${owner.pid}`);
  }
  const start = startTime(process.pid);
  writeFileSync(file, `${process.pid}${start ? ` ${start}` : ''}\n`);
  openDirs.add(dir);
}

export async function openWal(dir: string, opts: WalOptions = {}): Promise<Wal> {
  const root = resolve(dir);
  try {
    await mkdir(root, { recursive: true });
  } catch (e) {
    throw new MoatError('CONFIG', `audit WAL directory ${root}: ${errorMessage(e)}`, { cause: e });
  }
  lockDir(root);
  try {
    return await WalImpl.open(root, opts);
  } catch (e) {
    openDirs.delete(root);
    if (e instanceof MoatError) throw e;
    throw new MoatError('CONFIG', `audit WAL ${root}: ${errorMessage(e)}`, { cause: e });
  }
}

class WalImpl implements Wal {
  readonly dedup: DedupIndex;
  openSeq = 0;
  private segments: Segment[] = [];
  private active: { seg: Segment; fh: FileHandle } | undefined;
  private assigned = 0;
  private durable = 0;
  private consumed = 0;
  private savedCheckpoint = 0;
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private flushRunning = false;
  private waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private error: Error | undefined;
  private closed: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;
  private readonly counters = {
    appendedRecords: 0,
    appendedBytes: 0,
    fsyncs: 0,
    tornBytes: 0,
    corruptRecords: 0,
    deletedSegments: 0,
    deletedUnconsumed: 0,
  };
  private readonly segmentBytes: number;
  private readonly retentionBytes: number;
  private readonly retentionMs: number;

  private constructor(
    readonly dir: string,
    opts: WalOptions,
  ) {
    this.dedup = new DedupIndex(opts.dedupKeys ?? DEFAULT_DEDUP_KEYS);
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.retentionBytes = opts.retentionBytes ?? DEFAULT_RETENTION_BYTES;
    this.retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
  }

  static async open(dir: string, opts: WalOptions): Promise<WalImpl> {
    const wal = new WalImpl(dir, opts);
    await wal.recover();
    wal.timer = setInterval(() => {
      void wal.saveCheckpoint();
      void wal.enforceRetention();
    }, opts.checkpointIntervalMs ?? 1000);
    wal.timer.unref();
    return wal;
  }

  private async recover(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => SEGMENT.test(n)).sort();
    for (const n of names) {
      const path = join(this.dir, n);
      const s = await stat(path);
      this.segments.push({ first: Number(n.slice(0, 20)), last: 0, path, size: s.size, mtimeMs: s.mtimeMs });
    }
    for (let i = 0; i < this.segments.length - 1; i++) {
      const seg = this.segments[i] as Segment;
      seg.last = (this.segments[i + 1] as Segment).first - 1;
    }
    const keys: Buffer[][] = [];
    const last = this.segments.at(-1);
    if (last) keys.push(await this.recoverLast(last));
    // the dedup index wants the most recent keys: older segments newest first, headers and keys only
    let collected = keys[0]?.reduce((n, k) => n + k.length / KEY_BYTES, 0) ?? 0;
    for (let i = this.segments.length - 2; i >= 0 && collected < this.dedup.capacity; i--) {
      const segKeys = await this.readKeys(this.segments[i] as Segment);
      keys.push(segKeys);
      collected += segKeys.reduce((n, k) => n + k.length / KEY_BYTES, 0);
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      for (const k of keys[i] as Buffer[]) {
        for (let off = 0; off < k.length; off += KEY_BYTES) this.dedup.addIfNew(k, off);
      }
    }
    this.consumed = this.savedCheckpoint = await this.loadCheckpoint();
    const lastSeq = last ? last.last : 0;
    this.openSeq = lastSeq;
    // sequence numbers never go back, even when retention deleted every segment
    this.assigned = this.durable = Math.max(lastSeq, this.consumed);
    if (this.consumed > lastSeq && last) {
      log.warn(
        { dir: this.dir, checkpoint: this.consumed, last: lastSeq },
        'audit WAL checkpoint is past its end',
      );
    }
  }

  /** Reads the newest segment in full, cuts a torn tail; returns its keys. */
  private async recoverLast(seg: Segment): Promise<Buffer[]> {
    const fh = await open(seg.path, 'r+');
    const keys: Buffer[] = [];
    try {
      const size = seg.size;
      const head = Buffer.allocUnsafe(HEADER);
      let pos = 0;
      let expect = seg.first;
      let reason: string | undefined;
      while (pos < size) {
        if (pos + HEADER > size || !(await readExactly(fh, head, pos))) {
          reason = 'partial header';
          break;
        }
        const h = parseHeader(head);
        reason = badHeader(h, head, pos, size);
        if (reason === undefined && h.seq !== expect) reason = `sequence ${h.seq}, expected ${expect}`;
        if (reason !== undefined) break;
        const body = Buffer.allocUnsafe(h.bodyLen);
        if (!(await readExactly(fh, body, pos + HEADER)) || checksum(head, body) !== h.crc) {
          reason = 'checksum mismatch';
          break;
        }
        // copied, so that the payloads are not kept alive until the index is built
        keys.push(Buffer.from(body.subarray(0, h.count * KEY_BYTES)));
        pos += HEADER + h.bodyLen;
        expect++;
        reason = undefined;
      }
      if (pos < size) {
        // a record cut by a crash mid-write: it was never acknowledged, so dropping it loses nothing
        await fh.truncate(pos);
        await fh.sync();
        this.counters.tornBytes += size - pos;
        log.warn(
          { file: seg.path, offset: pos, bytes: size - pos, reason },
          'cut a torn record from the audit WAL',
        );
      }
      seg.size = pos;
      seg.last = expect - 1;
    } finally {
      await fh.close();
    }
    return keys;
  }

  private async readKeys(seg: Segment): Promise<Buffer[]> {
    const keys: Buffer[] = [];
    const fh = await open(seg.path, 'r');
    try {
      const head = Buffer.allocUnsafe(HEADER);
      let pos = 0;
      while (pos + HEADER <= seg.size && (await readExactly(fh, head, pos))) {
        const h = parseHeader(head);
        if (badHeader(h, head, pos, seg.size) !== undefined) break;
        const k = Buffer.allocUnsafe(h.count * KEY_BYTES);
        if (!(await readExactly(fh, k, pos + HEADER))) break;
        keys.push(k);
        pos += HEADER + h.bodyLen;
      }
    } finally {
      await fh.close();
    }
    return keys;
  }

  private async loadCheckpoint(): Promise<number> {
    const file = join(this.dir, 'checkpoint');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return 0;
    }
    const seq = (() => {
      try {
        return (JSON.parse(text) as { seq?: unknown }).seq;
      } catch {
        return undefined;
      }
    })();
    if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) return seq;
    log.warn({ file }, 'unreadable audit WAL checkpoint; replaying every record');
    return 0;
  }

  durableSeq(): number {
    return this.durable;
  }

  checkpoint(): number {
    return this.consumed;
  }

  setCheckpoint(seq: number): void {
    if (seq > this.consumed) this.consumed = Math.min(seq, this.durable);
  }

  failure(): Error | undefined {
    return this.error;
  }

  append(type: WalRecordType, keys: Buffer, count: number, payload: Buffer): Promise<number> {
    if (this.error) return Promise.reject(this.error);
    if (this.closed) return Promise.reject(new MoatError('INTERNAL', `audit WAL ${this.dir} is closed`));
    const seq = ++this.assigned;
    const k = keys.subarray(0, count * KEY_BYTES);
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32LE(k.length + payload.length, 0);
    header.writeUInt32LE(seq % 0x1_0000_0000, 8);
    header.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), 12);
    header.writeUInt32LE(count, 16);
    header[20] = TYPE_CODE[type];
    header[21] = VERSION;
    header.writeUInt16LE(0, 22);
    header.writeUInt32LE(crc32(payload, crc32(k, crc32(header.subarray(8, HEADER)))), 4);
    return new Promise((resolve, reject) => {
      this.pending.push({
        seq,
        bufs: [header, k, payload],
        bytes: HEADER + k.length + payload.length,
        resolve,
        reject,
      });
      // a flag, not the promise: a loop that has just ended but not yet settled must not swallow this record
      if (!this.flushRunning) {
        this.flushRunning = true;
        this.flushing = this.flushLoop();
      }
    });
  }

  barrier(): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.durable >= this.assigned) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq: this.assigned, resolve, reject }));
  }

  private async flushLoop(): Promise<void> {
    for (;;) {
      if (this.pending.length === 0 || this.error) {
        // cleared in the same turn as the check: an append after it starts a new loop
        this.flushRunning = false;
        this.flushing = undefined;
        return;
      }
      const batch = this.pending;
      this.pending = [];
      try {
        const first = batch[0] as Pending;
        if (!this.active || this.active.seg.size >= this.segmentBytes) await this.rotate(first.seq);
        const { seg, fh } = this.active as { seg: Segment; fh: FileHandle };
        const bufs: Buffer[] = [];
        let bytes = 0;
        for (const p of batch) {
          bufs.push(...p.bufs);
          bytes += p.bytes;
        }
        await writeAll(fh, bufs, bytes);
        // fdatasync: the data and the file size, which is what reading the records back needs
        await fh.datasync();
        this.counters.fsyncs++;
        this.counters.appendedRecords += batch.length;
        this.counters.appendedBytes += bytes;
        seg.size += bytes;
        seg.last = (batch.at(-1) as Pending).seq;
        seg.mtimeMs = Date.now();
        this.durable = seg.last;
      } catch (e) {
        this.fail(e, batch);
        continue;
      }
      for (const p of batch) p.resolve(p.seq);
      if (this.waiters.length > 0) {
        const ready = this.waiters.filter((w) => w.seq <= this.durable);
        this.waiters = this.waiters.filter((w) => w.seq > this.durable);
        for (const w of ready) w.resolve();
      }
    }
  }

  /**
   * After a failed write or fsync the kernel may have dropped the dirty pages (and a retried fsync
   * reports success on data that is gone), so the log stops: every pending and later append fails and
   * the server answers 503 until it is restarted and recovers from what is on disk.
   */
  private fail(e: unknown, batch: Pending[]): void {
    this.error = new MoatError('INTERNAL', `audit WAL ${this.dir}: write failed: ${errorMessage(e)}`, {
      cause: e,
    });
    log.error({ dir: this.dir, reason: errorMessage(e) }, 'audit WAL write failed; refusing further batches');
    for (const p of [...batch, ...this.pending]) p.reject(this.error);
    this.pending = [];
    for (const w of this.waiters) w.reject(this.error);
    this.waiters = [];
  }

  private async rotate(first: number): Promise<void> {
    if (this.active) {
      await this.active.fh.close();
      this.active = undefined;
    }
    const last = this.segments.at(-1);
    let seg: Segment;
    if (last && last.size < this.segmentBytes && last.last === first - 1) {
      // the newest segment after a restart: append to it
      seg = last;
    } else {
      seg = {
        first,
        last: first - 1,
        path: join(this.dir, segmentName(first)),
        size: 0,
        mtimeMs: Date.now(),
      };
      this.segments.push(seg);
    }
    const fh = await open(seg.path, 'a');
    // a new file's directory entry must be durable too, or the file may vanish with its records
    if (seg.size === 0) await fsyncDir(this.dir);
    this.active = { seg, fh };
    if (seg !== last) void this.enforceRetention();
  }

  private retaining: Promise<void> | undefined;

  private enforceRetention(): Promise<void> {
    return single(
      () => this.retaining,
      (p) => {
        this.retaining = p;
      },
      () => this.deleteOldSegments(),
    );
  }

  private async deleteOldSegments(): Promise<void> {
    const now = Date.now();
    let total = this.segments.reduce((n, s) => n + s.size, 0);
    while (this.segments.length > 1) {
      const oldest = this.segments[0] as Segment;
      if (oldest === this.active?.seg) break;
      if (total <= this.retentionBytes && now - oldest.mtimeMs <= this.retentionMs) break;
      this.segments.shift();
      total -= oldest.size;
      this.counters.deletedSegments++;
      const unconsumed = oldest.last - Math.max(oldest.first, this.consumed + 1) + 1;
      if (unconsumed > 0) {
        this.counters.deletedUnconsumed += unconsumed;
        log.warn(
          { file: oldest.path, records: unconsumed },
          'audit WAL retention deleted records the consumer had not reached',
        );
      }
      await unlink(oldest.path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT')
          log.warn({ file: oldest.path, reason: e.message }, 'cannot delete WAL segment');
      });
    }
  }

  private saveCheckpoint(): Promise<void> {
    if (this.consumed === this.savedCheckpoint && !this.saving) return Promise.resolve();
    return single(
      () => this.saving,
      (p) => {
        this.saving = p;
      },
      () => this.writeCheckpoint(this.consumed),
    );
  }

  private async writeCheckpoint(seq: number): Promise<void> {
    const file = join(this.dir, 'checkpoint');
    const tmp = `${file}.tmp`;
    try {
      // fsynced before the rename: a checkpoint lost to a crash only means a longer replay, but an
      // empty one would replay the whole log
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(JSON.stringify({ seq, time: new Date().toISOString() }));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      this.savedCheckpoint = seq;
    } catch (e) {
      log.warn({ file, reason: errorMessage(e) }, 'cannot write the audit WAL checkpoint');
    }
  }

  /** The segment holding `seq`, else the first one after it (records before it were deleted). */
  locate(seq: number): Segment | undefined {
    for (const s of this.segments) if (s.last >= seq || s.first >= seq) return s;
    return undefined;
  }

  noteCorrupt(file: string, pos: number, reason: string): void {
    this.counters.corruptRecords++;
    log.error({ file, offset: pos, reason }, 'corrupt audit WAL record; skipping the rest of the segment');
  }

  reader(fromSeq: number): WalReader {
    return new Reader(this, Math.max(1, fromSeq));
  }

  stats(): WalStats {
    return {
      durableSeq: this.durable,
      checkpoint: this.consumed,
      bytes: this.segments.reduce((n, s) => n + s.size, 0),
      segments: this.segments.length,
      ...this.counters,
    };
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      while (this.flushing) await this.flushing;
      clearInterval(this.timer);
      await this.saving;
      await this.saveCheckpoint();
      await this.retaining;
      if (this.active) await this.active.fh.close();
      this.active = undefined;
      await unlink(join(this.dir, 'lock')).catch(() => {});
      openDirs.delete(this.dir);
    })();
    return this.closed;
  }
}

class Reader implements WalReader {
  private seg: Segment | undefined;
  private fh: FileHandle | undefined;
  private pos = 0;
  private readonly head = Buffer.allocUnsafe(HEADER);

  constructor(
    private readonly wal: WalImpl,
    public position: number,
  ) {}

  async next(maxBytes = READ_BYTES): Promise<WalRecord[]> {
    const out: WalRecord[] = [];
    let bytes = 0;
    while (bytes < maxBytes && this.position <= this.wal.durableSeq()) {
      if (!this.seg || (this.pos >= this.seg.size && this.seg.last < this.position)) {
        if (!(await this.move())) break;
        continue;
      }
      const seg = this.seg;
      const fh = this.fh as FileHandle;
      if (this.pos >= seg.size) break;
      const head = this.head;
      if (this.pos + HEADER > seg.size || !(await readExactly(fh, head, this.pos))) {
        this.corrupt('partial header');
        continue;
      }
      const h = parseHeader(head);
      const bad = badHeader(h, head, this.pos, seg.size);
      if (bad !== undefined) {
        this.corrupt(bad);
        continue;
      }
      if (h.seq < this.position) {
        this.pos += HEADER + h.bodyLen;
        continue;
      }
      const body = Buffer.allocUnsafe(h.bodyLen);
      if (!(await readExactly(fh, body, this.pos + HEADER)) || checksum(head, body) !== h.crc) {
        this.corrupt('checksum mismatch');
        continue;
      }
      const k = h.count * KEY_BYTES;
      out.push({
        seq: h.seq,
        type: TYPE_NAME[h.type] as WalRecordType,
        count: h.count,
        keys: body.subarray(0, k),
        payload: body.subarray(k),
      });
      bytes += HEADER + h.bodyLen;
      this.pos += HEADER + h.bodyLen;
      this.position = h.seq + 1;
    }
    return out;
  }

  /** Opens the segment holding `position` (or the next one when it was deleted); false when none. */
  private async move(): Promise<boolean> {
    await this.fh?.close();
    this.fh = undefined;
    this.seg = undefined;
    const seg = this.wal.locate(this.position);
    if (!seg || seg.size === 0) return false;
    if (seg.first > this.position) {
      log.warn(
        { from: this.position, to: seg.first },
        'audit WAL records were deleted before they were read',
      );
      this.position = seg.first;
    }
    try {
      this.fh = await open(seg.path, 'r');
    } catch (e) {
      // deleted by retention between locate() and open()
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.position = seg.last + 1;
        return true;
      }
      throw e;
    }
    this.seg = seg;
    this.pos = 0;
    return true;
  }

  private corrupt(reason: string): void {
    const seg = this.seg as Segment;
    this.wal.noteCorrupt(seg.path, this.pos, reason);
    this.position = Math.max(this.position, seg.last + 1);
    this.pos = seg.size;
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}

/**
 * How many times each event key (dedup.ts `eventKey`) is stored in the WAL at `dir`, over every record
 * still on disk, and the torn bytes cut at open: what the crash test and the webhook benchmark check
 * (every acknowledged event once, none twice). Opens the WAL, so the server must not be running.
 */
export async function storedEventKeys(
  dir: string,
): Promise<{ counts: Map<string, number>; tornBytes: number }> {
  const wal = await openWal(dir);
  const counts = new Map<string, number>();
  try {
    const reader = wal.reader(1);
    try {
      for (let recs = await reader.next(); recs.length > 0; recs = await reader.next()) {
        for (const r of recs) {
          for (let off = 0; off < r.keys.length; off += KEY_BYTES) {
            const k = r.keys.toString('latin1', off, off + KEY_BYTES);
            counts.set(k, (counts.get(k) ?? 0) + 1);
          }
        }
      }
    } finally {
      await reader.close();
    }
    return { counts, tornBytes: wal.stats().tornBytes };
  } finally {
    await wal.close();
  }
}
