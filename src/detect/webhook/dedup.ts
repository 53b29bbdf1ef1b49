/**
 * Duplicate detection for the audit webhook: the API server retries a whole batch when it did not get a
 * 2xx (a lost response, a timeout), so the same events arrive again up to ~100 s later (retry backoff
 * 10 s × 1.5^n, 5 attempts, k8s.io/apiserver/pkg/util/webhook). An event is identified by auditID and
 * stage (one request logs up to three stages under one auditID).
 *
 * Keys are 17 bytes: the auditID's 16 bytes when it is a UUID (as the API server makes them), else an
 * MD5 of auditID and stage, and one stage byte. The index holds the most recent `capacity` keys in a
 * ring (oldest evicted first) with an open-addressing table over it: ~28 bytes a key, where a Set of
 * strings costs ~110, so a million keys (over three minutes at 5,000 events/s) take ~30 MB.
 */
import { createHash } from 'node:crypto';

export const KEY_BYTES = 17;
export const DEFAULT_DEDUP_KEYS = 1 << 20;

const STAGES: Record<string, number> = {
  RequestReceived: 1,
  ResponseStarted: 2,
  ResponseComplete: 3,
  Panic: 4,
};
// keys of non-UUID auditIDs are hashes: their stage byte is kept apart from the UUID ones
const HASHED = 0x80;

function hexNibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/** Writes the UUID's 16 bytes at `off`; false when `id` is not a UUID (8-4-4-4-12 hex). */
function writeUuid(id: string, out: Buffer, off: number): boolean {
  if (id.length !== 36) return false;
  let o = off;
  for (let i = 0; i < 36; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (id.charCodeAt(i) !== 45) return false;
      i++;
      continue;
    }
    const hi = hexNibble(id.charCodeAt(i));
    const lo = hexNibble(id.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return false;
    out[o++] = (hi << 4) | lo;
    i += 2;
  }
  return true;
}

/** The dedup key of (auditID, stage) as a string (latin1: one character per key byte), for Maps and Sets. */
export function eventKey(auditID: string, stage: string): string {
  const out = Buffer.allocUnsafe(KEY_BYTES);
  writeEventKey(auditID, stage, out, 0);
  return out.toString('latin1');
}

/** The dedup key of (auditID, stage), written at `out[off..off+17)`. */
export function writeEventKey(auditID: string, stage: string, out: Buffer, off: number): void {
  const code = STAGES[stage];
  if (code !== undefined && writeUuid(auditID, out, off)) {
    out[off + 16] = code;
    return;
  }
  createHash('md5').update(`${auditID}\u0000${stage}`).digest().copy(out, off);
  out[off + 16] = HASHED | (code ?? 0x7f);
}

export class DedupIndex {
  readonly capacity: number;
  private readonly ring: Uint32Array;
  private readonly stage: Uint8Array;
  private readonly table: Int32Array;
  private readonly mask: number;
  private head = 0;
  private count = 0;

  constructor(capacity = DEFAULT_DEDUP_KEYS) {
    this.capacity = Math.max(1, Math.floor(capacity));
    this.ring = new Uint32Array(this.capacity * 4);
    this.stage = new Uint8Array(this.capacity);
    // load factor at most one half keeps linear probes short
    let size = 2;
    while (size < this.capacity * 2) size *= 2;
    this.table = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  has(keys: Buffer, off: number): boolean {
    return this.find(keys, off) >= 0;
  }

  /** Adds a key that is not present (check with has() first); evicts the oldest when full. */
  add(keys: Buffer, off: number): void {
    if (this.count === this.capacity) this.remove(this.head);
    else this.count++;
    const r = this.head;
    const w = r * 4;
    this.ring[w] = keys.readUInt32LE(off);
    this.ring[w + 1] = keys.readUInt32LE(off + 4);
    this.ring[w + 2] = keys.readUInt32LE(off + 8);
    this.ring[w + 3] = keys.readUInt32LE(off + 12);
    this.stage[r] = keys[off + 16] as number;
    let slot = this.slotOf(r);
    while (this.table[slot] !== 0) slot = (slot + 1) & this.mask;
    this.table[slot] = r + 1;
    this.head = (r + 1) % this.capacity;
  }

  /** Adds the key unless present; true when it was new. */
  addIfNew(keys: Buffer, off: number): boolean {
    if (this.has(keys, off)) return false;
    this.add(keys, off);
    return true;
  }

  private hash(w0: number, w1: number, w2: number, w3: number, stage: number): number {
    // UUIDv4 and MD5 bytes are already uniform: a cheap mix of the words is enough
    let h = Math.imul(w0 ^ stage, 0x9e3779b1) ^ w1;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ w2 ^ Math.imul(w3, 0xc2b2ae35);
    return (h ^ (h >>> 13)) & this.mask;
  }

  private slotOf(r: number): number {
    const w = r * 4;
    const ring = this.ring;
    return this.hash(
      ring[w] as number,
      ring[w + 1] as number,
      ring[w + 2] as number,
      ring[w + 3] as number,
      this.stage[r] as number,
    );
  }

  private find(keys: Buffer, off: number): number {
    const w0 = keys.readUInt32LE(off);
    const w1 = keys.readUInt32LE(off + 4);
    const w2 = keys.readUInt32LE(off + 8);
    const w3 = keys.readUInt32LE(off + 12);
    const st = keys[off + 16] as number;
    const ring = this.ring;
    for (let slot = this.hash(w0, w1, w2, w3, st); ; slot = (slot + 1) & this.mask) {
      const e = this.table[slot] as number;
      if (e === 0) return -1;
      const r = e - 1;
      const w = r * 4;
      if (
        ring[w] === w0 &&
        ring[w + 1] === w1 &&
        ring[w + 2] === w2 &&
        ring[w + 3] === w3 &&
        this.stage[r] === st
      )
        return slot;
    }
  }

  /** Deletes ring entry `r` from the table (backward-shift deletion keeps probe chains intact). */
  private remove(r: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = this.slotOf(r);
    while (table[i] !== r + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      table[i] = 0;
      for (;;) {
        j = (j + 1) & mask;
        const e = table[j] as number;
        if (e === 0) return;
        const k = this.slotOf(e - 1);
        // the entry at j stays when its home slot k lies cyclically in (i, j]
        if (i <= j ? i < k && k <= j : i < k || k <= j) continue;
        table[i] = e;
        i = j;
        break;
      }
    }
  }
}
