import { errorMessage } from '../../errors.js';
import { log } from '../../log.js';
import type { Alert } from '../alert.js';
import { AlertQueue } from './queue.js';
import type { ForwarderStats, QueueOptions } from './types.js';

const DEFAULT_QUEUE_SIZE = 10_000;
const DEFAULT_CLOSE_MS = 5_000;
/** a full queue is reported when it starts dropping, then at most this often while it keeps dropping */
const DROP_LOG_EVERY_MS = 60_000;

/**
 * The bookkeeping every forwarder shares: the bounded queue, the counters, drop reporting and the
 * close-with-deadline dance. A forwarder supplies `wake` (start delivering if idle) and `shutdown`
 * (abort what is under way, close connections) and reports each delivery through `delivered`/`failed`.
 */
export class ForwarderCore {
  readonly queue: AlertQueue;
  /** aborted when close() gives up: requests, backoff sleeps and sockets listen to it */
  readonly abort = new AbortController();
  inFlight = 0;
  closing = false;
  /** close() is over: late completions are not counted again */
  finished = false;
  connected: boolean | undefined;
  private sent = 0;
  private dropped = 0;
  private failedCount = 0;
  private retries = 0;
  private abandoned = 0;
  private lastError: string | undefined;
  private lastErrorAt: string | undefined;
  private dropsSinceLog = 0;
  private lastDropLog = 0;
  private idle: (() => void) | undefined;
  private closed: Promise<ForwarderStats> | undefined;

  constructor(
    readonly name: string,
    opts: QueueOptions,
    private readonly hooks: { wake(): void; shutdown(): void },
  ) {
    this.queue = new AlertQueue(opts.queueSize ?? DEFAULT_QUEUE_SIZE, opts.overflow ?? 'drop-newest');
  }

  send(alert: Alert): void {
    if (this.closing) {
      this.dropped++;
      return;
    }
    if (!this.queue.push(alert)) this.noteDrop();
    try {
      this.hooks.wake();
    } catch (e) {
      // send() must not throw into the detector's loop; a wake failure is a forwarder bug, kept visible
      this.error(e);
    }
  }

  private noteDrop(): void {
    this.dropped++;
    this.dropsSinceLog++;
    const now = Date.now();
    if (now - this.lastDropLog < DROP_LOG_EVERY_MS) return;
    log.warn(
      {
        forwarder: this.name,
        dropped: this.dropsSinceLog,
        queueSize: this.queue.capacity,
        overflow: this.queue.overflow,
        lastError: this.lastError,
      },
      'forwarder queue full, dropping alerts',
    );
    this.lastDropLog = now;
    this.dropsSinceLog = 0;
  }

  delivered(n: number): void {
    if (this.finished) return;
    this.inFlight -= n;
    this.sent += n;
    this.checkIdle();
  }

  failed(n: number, e: unknown): void {
    if (this.finished) return;
    this.inFlight -= n;
    this.failedCount += n;
    this.error(e);
    this.checkIdle();
  }

  retried(): void {
    this.retries++;
  }

  error(e: unknown): void {
    this.lastError = errorMessage(e).replace(/\s+/g, ' ').slice(0, 300);
    this.lastErrorAt = new Date().toISOString();
  }

  checkIdle(): void {
    if (this.closing && this.queue.length === 0 && this.inFlight === 0) this.idle?.();
  }

  stats(): ForwarderStats {
    const s: ForwarderStats = {
      queued: this.queue.length,
      inFlight: this.inFlight,
      sent: this.sent,
      dropped: this.dropped,
      failed: this.failedCount,
      retries: this.retries,
      abandoned: this.abandoned,
    };
    if (this.connected !== undefined) s.connected = this.connected;
    if (this.lastError !== undefined) {
      s.lastError = this.lastError;
      s.lastErrorAt = this.lastErrorAt;
    }
    return s;
  }

  close(timeoutMs = DEFAULT_CLOSE_MS): Promise<ForwarderStats> {
    this.closed ??= this.closeOnce(timeoutMs);
    return this.closed;
  }

  private async closeOnce(timeoutMs: number): Promise<ForwarderStats> {
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    // this timer is the one thing kept referenced: it holds the process up while the queue drains
    await new Promise<void>((resolve) => {
      this.idle = resolve;
      timer = setTimeout(resolve, Math.max(0, timeoutMs));
      this.hooks.wake();
      this.checkIdle();
    });
    clearTimeout(timer);
    this.abandoned += this.queue.clear() + this.inFlight;
    this.inFlight = 0;
    this.finished = true;
    this.abort.abort();
    this.hooks.shutdown();
    const s = this.stats();
    if (s.dropped + s.failed + s.abandoned > 0) {
      log.warn(
        { forwarder: this.name, sent: s.sent, dropped: s.dropped, failed: s.failed, abandoned: s.abandoned },
        'forwarder closed with undelivered alerts',
      );
    }
    return s;
  }
}
