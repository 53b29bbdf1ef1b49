/**
 * Hands the WAL's records to the consumer (the detector) in sequence order, one call at a time, and
 * moves the WAL checkpoint past each record once the call returns. Delivery is at least once: records
 * after the last written checkpoint are given again after a restart (the checkpoint is written about
 * once a second), so a consumer may see up to a second of events twice after a crash, never none.
 *
 * Fresh records are passed from memory (the request's decoded events); when the consumer falls behind
 * by more than `maxQueuedEvents`, or at start-up (the replay), they are read back from the WAL instead,
 * so a slow consumer costs disk reads, not memory, and never holds up ingest.
 */
import { errorMessage } from '../../errors.js';
import { log } from '../../log.js';
import type { AuditEvent } from '../event.js';
import { AuditDecoder, type DecodeOptions } from '../ingest/normalize.js';
import { type IngestStats, newIngestStats } from '../ingest/stats.js';
import type { Wal, WalReader, WalRecord } from './wal.js';

export interface BatchInfo {
  /** the WAL record's sequence number */
  seq: number;
  /** true for records written before this process opened the WAL (given again after a restart) */
  replay: boolean;
}

export type AuditConsumer = (events: AuditEvent[], batch: BatchInfo) => void | Promise<void>;

export interface ConsumerStats {
  /** events and records handed to the consumer */
  events: number;
  batches: number;
  /** of those, read back from the WAL after a restart */
  replayedEvents: number;
  /** calls that threw or rejected (their events are not given again) */
  errors: number;
  /** records read back from disk because they were no longer in memory */
  readFromDisk: number;
}

export const DEFAULT_MAX_QUEUED_EVENTS = 100_000;

/** Events of one WAL record, decoded as when the request came in. */
export function decodeWalRecord(record: WalRecord, decoder: AuditDecoder, cluster?: string): AuditEvent[] {
  const out: AuditEvent[] = [];
  let value: unknown;
  try {
    value = JSON.parse(record.payload.toString('utf8'));
  } catch (e) {
    // the record passed its CRC, so this is a writer bug, not damage
    log.error({ seq: record.seq, reason: errorMessage(e) }, 'audit WAL record is not JSON');
    return out;
  }
  decoder.decodeValue(value, { file: undefined, line: undefined, cluster, format: 'webhook' }, out);
  return out;
}

export class Dispatcher {
  readonly stats: ConsumerStats = { events: 0, batches: 0, replayedEvents: 0, errors: 0, readFromDisk: 0 };
  /** malformed records met while decoding records read back (none, unless the writer changed) */
  readonly replayIngest: IngestStats = newIngestStats(5);
  private queue: { seq: number; events: AuditEvent[] }[] = [];
  private queued = 0;
  private next: number;
  private wake: (() => void) | undefined;
  private stopped = false;
  private yielded = false;
  private reader: WalReader | undefined;
  private readonly decoder: AuditDecoder;
  private readonly running: Promise<void>;

  constructor(
    private readonly wal: Wal,
    private readonly consumer: AuditConsumer,
    private readonly decodeOptions: DecodeOptions,
    private readonly maxQueuedEvents = DEFAULT_MAX_QUEUED_EVENTS,
  ) {
    this.next = wal.checkpoint() + 1;
    this.decoder = new AuditDecoder(this.replayIngest, decodeOptions);
    this.running = this.loop();
  }

  /** A record just made durable, with its decoded events (offered in sequence order). */
  offer(seq: number, events: AuditEvent[]): void {
    if (this.queued + events.length <= this.maxQueuedEvents) {
      this.queue.push({ seq, events });
      this.queued += events.length;
    }
    this.wake?.();
  }

  /** Starts no further call: what is left is replayed at the next start. */
  halt(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Lets the call in progress finish, then stops. */
  async stop(): Promise<void> {
    this.halt();
    await this.running;
    await this.reader?.close();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (this.next > this.wal.durableSeq()) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      while (this.queue.length > 0 && (this.queue[0] as { seq: number }).seq < this.next) this.drop();
      const head = this.queue[0];
      if (head && head.seq === this.next) {
        this.drop();
        await this.deliver(head.seq, head.events);
        continue;
      }
      if (!this.yielded) {
        // the request that made this record durable may not have offered it yet: give it a turn
        this.yielded = true;
        await new Promise((r) => setImmediate(r));
        continue;
      }
      this.yielded = false;
      const records = await this.readBack();
      if (records.length === 0) {
        // nothing readable below the durable end (deleted by retention, or corrupt): skip to what is
        this.next = Math.max(this.next, this.reader?.position ?? this.next);
        if (this.next <= this.wal.durableSeq() && !this.stopped) await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      for (const r of records) {
        if (this.stopped) break;
        if (r.seq < this.next) continue;
        this.stats.readFromDisk++;
        await this.deliver(r.seq, decodeWalRecord(r, this.decoder, this.decodeOptions.cluster));
      }
    }
  }

  private drop(): void {
    const e = this.queue.shift();
    if (e) this.queued -= e.events.length;
  }

  private async readBack(): Promise<WalRecord[]> {
    this.reader ??= this.wal.reader(this.next);
    if (this.reader.position < this.next) this.reader.position = this.next;
    try {
      return await this.reader.next();
    } catch (e) {
      log.error({ reason: errorMessage(e) }, 'cannot read the audit WAL back');
      await this.reader.close();
      this.reader = undefined;
      return [];
    }
  }

  private async deliver(seq: number, events: AuditEvent[]): Promise<void> {
    const replay = seq <= this.wal.openSeq;
    try {
      if (events.length > 0) await this.consumer(events, { seq, replay });
    } catch (e) {
      this.stats.errors++;
      // a consumer that always fails would log twelve lines a second: the first few, then every 1,000th
      if (this.stats.errors <= 5 || this.stats.errors % 1000 === 0) {
        log.warn({ seq, errors: this.stats.errors, reason: errorMessage(e) }, 'audit event consumer failed');
      }
    }
    this.stats.batches++;
    this.stats.events += events.length;
    if (replay) this.stats.replayedEvents += events.length;
    this.next = seq + 1;
    this.wal.setCheckpoint(seq);
  }
}
