import type { Alert } from '../alert.js';

/**
 * Alert forwarders send alerts to another system (a webhook, a syslog collector) without ever holding up
 * the caller: `send` puts the alert in a bounded in-memory queue and returns; a forwarder that is slow,
 * failing or disconnected fills its queue, and past its capacity alerts are dropped and counted. Every
 * alert handed to `send` ends up in exactly one counter:
 * sent + failed + dropped + abandoned + queued + inFlight = alerts sent to the forwarder.
 */
export interface AlertForwarder {
  /** the target as the user named it, with any credentials and query string removed */
  readonly name: string;
  /** Queues the alert (or drops it when the queue is full or the forwarder is closed). Never blocks, never throws. */
  send(alert: Alert): void;
  stats(): ForwarderStats;
  /**
   * Stops accepting alerts, delivers what is queued for up to `timeoutMs` (default 5 s), then gives up on
   * the rest (counted as `abandoned`), closes connections and resolves with the final counters.
   */
  close(timeoutMs?: number): Promise<ForwarderStats>;
}

export interface ForwarderStats {
  /** alerts waiting in the queue */
  queued: number;
  /** alerts taken from the queue and not yet delivered or failed (a request or socket write under way) */
  inFlight: number;
  /** delivered: a 2xx from the webhook, or written to the syslog connection */
  sent: number;
  /** not queued because the queue was full (or the forwarder closed) */
  dropped: number;
  /** given up on: a 4xx other than 429, retries exhausted, or a connection lost with the alert unwritten */
  failed: number;
  /** webhook requests repeated after a 429, a 5xx or a network error; syslog reconnection attempts */
  retries: number;
  /** still queued or in flight when close() reached its deadline */
  abandoned: number;
  /** syslog: whether a connection is up now */
  connected?: boolean;
  /** the last delivery or connection error, one line, and when it happened (RFC 3339) */
  lastError?: string;
  lastErrorAt?: string;
}

/** What a full queue throws away: the alert being added (the default) or the oldest one waiting. */
export type OverflowPolicy = 'drop-newest' | 'drop-oldest';

export interface QueueOptions {
  /** alerts held while the target is slow or down; default 10,000 */
  queueSize?: number;
  /** default 'drop-newest' (see docs/detect/forwarders.md) */
  overflow?: OverflowPolicy;
}

/** TLS settings shared by HTTPS webhooks and syslog over TLS: PEM text, not file names. */
export interface TlsOptions {
  /** CA certificates to trust instead of Node's bundled roots */
  ca?: string;
  /** client certificate and key, for targets that require mutual TLS */
  cert?: string;
  key?: string;
}
