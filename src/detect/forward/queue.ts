import type { Alert } from '../alert.js';
import type { OverflowPolicy } from './types.js';

/**
 * A fixed-capacity FIFO ring of alerts. Pushing never allocates past the capacity given at creation and
 * never waits: when full, the policy decides whether the new alert or the oldest one is thrown away.
 */
export class AlertQueue {
  private readonly items: (Alert | undefined)[];
  private head = 0;
  private size = 0;

  constructor(
    readonly capacity: number,
    readonly overflow: OverflowPolicy = 'drop-newest',
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`queue size must be >= 1: ${capacity}`);
    this.items = new Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Adds the alert; returns false when an alert (this one or the oldest) was dropped to keep the bound. */
  push(alert: Alert): boolean {
    if (this.size === this.capacity) {
      if (this.overflow === 'drop-newest') return false;
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.size--;
      this.items[(this.head + this.size) % this.capacity] = alert;
      this.size++;
      return false;
    }
    this.items[(this.head + this.size) % this.capacity] = alert;
    this.size++;
    return true;
  }

  shift(): Alert | undefined {
    if (this.size === 0) return undefined;
    const a = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return a;
  }

  /** Removes and returns up to `n` alerts, oldest first. */
  take(n: number): Alert[] {
    const out: Alert[] = [];
    while (out.length < n && this.size > 0) out.push(this.shift() as Alert);
    return out;
  }

  clear(): number {
    const n = this.size;
    this.items.fill(undefined);
    this.head = 0;
    this.size = 0;
    return n;
  }
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so a fleet of moat
 * instances that lost the same collector do not reconnect in lockstep.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(d / 2 + Math.random() * (d / 2));
}
