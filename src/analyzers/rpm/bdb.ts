/**
 * A read-only walker for the Berkeley DB hash databases rpm used up to 4.16 (`Packages`): key = package
 * number, value = header blob. Layouts from Berkeley DB's dbinc/db_page.h and hash.h (DB 4.x–5.x, hash
 * versions 7–10); both byte orders, page sizes 512–65536, page checksums, overflow chains.
 */
import type { RandomAccess } from '../input.js';
import { RpmDbError } from './errors.js';

const HASH_MAGIC = 0x061561;
const BTREE_MAGIC = 0x053162;
const QUEUE_MAGIC = 0x042253;
const HEAP_MAGIC = 0x074582;

// page types (db_page.h)
const P_INVALID = 0;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;

// hash item types
const H_KEYDATA = 1;
const H_DUPLICATE = 2;
const H_OFFPAGE = 3;
const H_OFFDUP = 4;

/** generic page header: lsn(8) pgno(4) prev_pgno(4) next_pgno(4) entries(2) hf_offset(2) level(1) type(1) */
const PAGE_HEADER = 26;
/** with page checksums the header is followed by 2 bytes of padding and a 4-byte checksum */
const PAGE_HEADER_CHKSUM = 32;
const DBMETA_CHKSUM = 0x01;
/** off-page item: type(1) unused(3) pgno(4) tlen(4) */
const HOFFPAGE_SIZE = 12;
/** no rpm header is larger than rpm's own data limit plus its index */
const MAX_VALUE = 0x0fffffff + 8 + 0xffff * 16;

class BdbError extends RpmDbError {
  override name = 'BdbError';
}

export interface BdbItem {
  key: Buffer;
  value: Buffer;
}

/** Structural problems met while walking; the walk goes on with the next bucket or item. */
export type BdbWarn = (reason: string) => void;

/** True when the file carries a Berkeley DB magic of any access method, in either byte order. */
export function isBdb(head: Buffer): boolean {
  if (head.length < 16) return false;
  const magics = [HASH_MAGIC, BTREE_MAGIC, QUEUE_MAGIC, HEAP_MAGIC];
  return magics.includes(head.readUInt32LE(12)) || magics.includes(head.readUInt32BE(12));
}

interface Meta {
  le: boolean;
  pageSize: number;
  overhead: number;
  lastPgno: number;
  maxBucket: number;
  spares: number[];
}

function readMeta(ra: RandomAccess): Meta {
  // the meta page is at least 512 bytes (the smallest page size)
  const head = ra.read(0, 512);
  if (head.length < 512) throw new BdbError('not a Berkeley DB file (too short)');
  let le: boolean;
  const magicLE = head.readUInt32LE(12);
  const magicBE = head.readUInt32BE(12);
  if (magicLE === HASH_MAGIC) le = true;
  else if (magicBE === HASH_MAGIC) le = false;
  else if (magicLE === BTREE_MAGIC || magicBE === BTREE_MAGIC) {
    throw new BdbError('Berkeley DB btree file (an rpm index), not the Packages hash database');
  } else if ([QUEUE_MAGIC, HEAP_MAGIC].includes(magicLE) || [QUEUE_MAGIC, HEAP_MAGIC].includes(magicBE)) {
    throw new BdbError('Berkeley DB file of an access method rpm does not use for Packages');
  } else throw new BdbError('not a Berkeley DB file (bad magic)');
  const u32 = (o: number) => (le ? head.readUInt32LE(o) : head.readUInt32BE(o));
  const version = u32(16);
  if (version < 7 || version > 10) throw new BdbError(`unsupported Berkeley DB hash version ${version}`);
  const pageSize = u32(20);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new BdbError(`invalid Berkeley DB page size ${pageSize}`);
  }
  if (head[24] !== 0) throw new BdbError('encrypted Berkeley DB files are not supported');
  if (head[25] !== P_HASHMETA) throw new BdbError(`Berkeley DB meta page has type ${head[25]}, not hash`);
  const overhead = (head[26]! & DBMETA_CHKSUM) !== 0 ? PAGE_HEADER_CHKSUM : PAGE_HEADER;
  // pages are reached only through links, so the file size bounds them (last_pgno can lag behind it)
  const lastPgno = Math.floor(ra.size / pageSize) - 1;
  const maxBucket = u32(72);
  if (maxBucket > lastPgno)
    throw new BdbError(`hash declares ${maxBucket + 1} buckets in ${lastPgno + 1} pages`);
  const spares: number[] = [];
  for (let i = 0; i < 32; i++) spares.push(u32(96 + i * 4));
  return { le, pageSize, overhead, lastPgno, maxBucket, spares };
}

/** ceil(log2(n)) as Berkeley DB's __db_log2 computes it */
function log2(n: number): number {
  let i = 0;
  for (let limit = 1; limit < n; limit *= 2) i++;
  return i;
}

interface PageHeader {
  pgno: number;
  next: number;
  entries: number;
  hfOffset: number;
  type: number;
}

class Pages {
  /**
   * Pages already used by a bucket chain or an overflow chain. In a valid file every page has one owner, so a
   * page met twice is a loop or a shared chain; refusing it keeps the walk linear in the file size.
   */
  private readonly seen: Uint8Array;

  constructor(
    private readonly ra: RandomAccess,
    readonly m: Meta,
  ) {
    this.seen = new Uint8Array(m.lastPgno + 1);
  }

  /** Marks a page as used; throws when it already was. */
  claim(pgno: number, what: string): void {
    if (pgno < 1 || pgno > this.m.lastPgno)
      throw new BdbError(`${what} points at page ${pgno}, outside the file`);
    if (this.seen[pgno]) throw new BdbError(`page ${pgno} is linked twice (a loop or a shared chain)`);
    this.seen[pgno] = 1;
  }

  read(pgno: number): Buffer {
    if (pgno < 1 || pgno > this.m.lastPgno) throw new BdbError(`page ${pgno} is outside the file`);
    const page = this.ra.read(pgno * this.m.pageSize, this.m.pageSize);
    if (page.length < this.m.pageSize) throw new BdbError(`page ${pgno} is truncated`);
    return page;
  }

  header(page: Buffer): PageHeader {
    const le = this.m.le;
    return {
      pgno: le ? page.readUInt32LE(8) : page.readUInt32BE(8),
      next: le ? page.readUInt32LE(16) : page.readUInt32BE(16),
      entries: le ? page.readUInt16LE(20) : page.readUInt16BE(20),
      hfOffset: le ? page.readUInt16LE(22) : page.readUInt16BE(22),
      type: page[25]!,
    };
  }

  u16(page: Buffer, at: number): number {
    return this.m.le ? page.readUInt16LE(at) : page.readUInt16BE(at);
  }

  u32(page: Buffer, at: number): number {
    return this.m.le ? page.readUInt32LE(at) : page.readUInt32BE(at);
  }

  /** Reassembles an item stored on a chain of overflow pages. */
  overflow(first: number, tlen: number): Buffer {
    if (tlen > MAX_VALUE || tlen > this.ra.size) throw new BdbError(`off-page item declares ${tlen} bytes`);
    const out = Buffer.allocUnsafe(tlen);
    const room = this.m.pageSize - this.m.overhead;
    // a valid chain fills every page but the last; a much longer one is a loop or corruption
    const maxPages = Math.ceil(tlen / room) + 2;
    let got = 0;
    let pgno = first;
    for (let n = 0; pgno !== 0; n++) {
      if (n >= maxPages) throw new BdbError(`overflow chain from page ${first} is longer than its item`);
      this.claim(pgno, `overflow chain from page ${first}`);
      const page = this.read(pgno);
      const h = this.header(page);
      if (h.type !== P_OVERFLOW) throw new BdbError(`page ${pgno} in an overflow chain has type ${h.type}`);
      const len = h.hfOffset;
      if (len > room || got + len > tlen)
        throw new BdbError(`overflow page ${pgno} holds more than its item`);
      page.copy(out, got, this.m.overhead, this.m.overhead + len);
      got += len;
      pgno = h.next;
    }
    if (got !== tlen) throw new BdbError(`overflow chain from page ${first} holds ${got} of ${tlen} bytes`);
    return out;
  }

  /** The key/data items of one hash page, in page order. */
  *items(page: Buffer, pgno: number, warn: BdbWarn): Generator<BdbItem> {
    const h = this.header(page);
    const { overhead, pageSize } = this.m;
    const n = h.entries;
    if (overhead + n * 2 > pageSize) throw new BdbError(`hash page ${pgno} declares ${n} entries`);
    const offsets: number[] = [];
    for (let i = 0; i < n; i++) {
      const off = this.u16(page, overhead + i * 2);
      // items are packed from the end of the page downwards, after the offset table
      const limit = i === 0 ? pageSize : offsets[i - 1]!;
      if (off < overhead + n * 2 || off >= limit)
        throw new BdbError(`hash page ${pgno} has a bad item offset`);
      offsets.push(off);
    }
    const item = (i: number): Buffer | undefined => {
      const off = offsets[i]!;
      const end = i === 0 ? pageSize : offsets[i - 1]!;
      const type = page[off];
      if (type === H_KEYDATA) return page.subarray(off + 1, end);
      if (type === H_OFFPAGE) {
        if (off + HOFFPAGE_SIZE > end) throw new BdbError(`hash page ${pgno} has a truncated off-page item`);
        return this.overflow(this.u32(page, off + 4), this.u32(page, off + 8));
      }
      if (type === H_DUPLICATE || type === H_OFFDUP) {
        warn(`hash page ${pgno} holds duplicate items, which rpm never writes; skipped`);
        return undefined;
      }
      throw new BdbError(`hash page ${pgno} has an item of unknown type ${type}`);
    };
    for (let i = 0; i + 1 < n; i += 2) {
      try {
        const key = item(i);
        const value = item(i + 1);
        if (key && value) yield { key, value };
      } catch (e) {
        if (!(e instanceof BdbError)) throw e;
        warn(e.message);
      }
    }
  }
}

/**
 * Every key/value pair of a Berkeley DB hash database, in the order a cursor returns them (bucket by bucket,
 * following each bucket's page chain). Throws BdbError when the file is not a usable hash database; damage
 * inside it (a bad bucket, a broken overflow chain) is reported through `warn` and skipped.
 */
export function* readBdbHash(ra: RandomAccess, warn: BdbWarn): Generator<BdbItem> {
  const m = readMeta(ra);
  const pages = new Pages(ra, m);
  // every page belongs to at most one bucket chain: a page seen twice is a loop
  const seen = new Uint8Array(m.lastPgno + 1);
  for (let bucket = 0; bucket <= m.maxBucket; bucket++) {
    let pgno = bucket + (m.spares[log2(bucket + 1)] ?? 0);
    try {
      while (pgno !== 0) {
        if (pgno > m.lastPgno)
          throw new BdbError(`bucket ${bucket} points at page ${pgno}, outside the file`);
        if (seen[pgno]) throw new BdbError(`page ${pgno} is linked twice (a loop)`);
        seen[pgno] = 1;
        const page = pages.read(pgno);
        const h = pages.header(page);
        // a bucket whose page was never written reads as zeros: an empty bucket
        if (h.type === P_INVALID && h.entries === 0) break;
        if (h.type !== P_HASH && h.type !== P_HASH_UNSORTED) {
          throw new BdbError(`bucket ${bucket} page ${pgno} has type ${h.type}, not a hash page`);
        }
        yield* pages.items(page, pgno, warn);
        pgno = h.next;
      }
    } catch (e) {
      if (!(e instanceof BdbError)) throw e;
      warn(e.message);
    }
  }
}
