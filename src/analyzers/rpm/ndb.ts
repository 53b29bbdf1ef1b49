/**
 * rpm's NDB backend (`Packages.db`, SUSE since SLE 15 SP3 / openSUSE), layout from rpm's
 * lib/backend/ndb/rpmpkg.c. Everything is little-endian:
 *   file header (32 bytes): magic "RpmP", version 0, generation, slot page count, next package index, ...
 *   slot pages (4096 bytes each, the header occupying the first two 16-byte slots):
 *     { magic "Slot", package index (0 = free), block offset, block count } — blocks are 16 bytes
 *   blobs at blockOffset × 16: { magic "BlbS", package index, generation, length } + header blob + tail.
 */
import type { RandomAccess } from '../input.js';
import { RpmDbError } from './errors.js';

const DB_MAGIC = 0x506d7052; // "RpmP"
const SLOT_MAGIC = 0x746f6c53; // "Slot"
const BLOB_MAGIC = 0x53626c42; // "BlbS"
const PAGE_SIZE = 4096;
const SLOT_SIZE = 16;
const BLK_SIZE = 16;
const BLOB_HEAD = 16;
/** rpm keeps the slot table small; a bigger count is corruption, bounded again by the file size */
const MAX_SLOT_PAGES = 2048;
const MAX_BLOB = 0x0fffffff + 8 + 0xffff * 16;

class NdbError extends RpmDbError {
  override name = 'NdbError';
}

export interface NdbBlob {
  pkgIndex: number;
  blob: Buffer;
}

/** True when the file starts with the NDB package database magic. */
export function isNdb(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === DB_MAGIC;
}

/**
 * The header blobs of an NDB package database in slot order. Throws NdbError when the file is not a usable
 * NDB database; a damaged slot or blob is reported through `warn` and skipped.
 */
export function* readNdb(ra: RandomAccess, warn: (reason: string) => void): Generator<NdbBlob> {
  const head = ra.read(0, 32);
  if (head.length < 32 || !isNdb(head)) throw new NdbError('not an rpm NDB database (bad magic)');
  const version = head.readUInt32LE(4);
  if (version !== 0) throw new NdbError(`unsupported NDB version ${version}`);
  const slotPages = head.readUInt32LE(12);
  if (slotPages === 0 || slotPages > MAX_SLOT_PAGES || slotPages * PAGE_SIZE > ra.size) {
    throw new NdbError(`NDB header declares ${slotPages} slot pages in a ${ra.size}-byte file`);
  }
  const table = ra.read(0, slotPages * PAGE_SIZE);
  const nslots = (slotPages * PAGE_SIZE) / SLOT_SIZE;
  // blobs never overlap, so together they fit in the file; more means slots share blobs (hostile)
  let total = 0;
  // the first two slots hold the file header
  for (let i = 2; i < nslots; i++) {
    const at = i * SLOT_SIZE;
    if (table.readUInt32LE(at) !== SLOT_MAGIC) {
      warn(`NDB slot ${i} has a bad magic; the rest of the slot table is skipped`);
      return;
    }
    const pkgIndex = table.readUInt32LE(at + 4);
    if (pkgIndex === 0) continue;
    const blkOffset = table.readUInt32LE(at + 8);
    const blkCount = table.readUInt32LE(at + 12);
    const start = blkOffset * BLK_SIZE;
    if (blkOffset === 0 || start < slotPages * PAGE_SIZE || start + BLOB_HEAD > ra.size) {
      warn(`NDB slot ${i} points outside the blob area`);
      continue;
    }
    const bh = ra.read(start, BLOB_HEAD);
    if (bh.readUInt32LE(0) !== BLOB_MAGIC || bh.readUInt32LE(4) !== pkgIndex) {
      warn(`NDB blob of package ${pkgIndex} has a bad head`);
      continue;
    }
    const len = bh.readUInt32LE(12);
    if (len > MAX_BLOB || start + BLOB_HEAD + len > ra.size || BLOB_HEAD + len > blkCount * BLK_SIZE) {
      warn(`NDB blob of package ${pkgIndex} declares ${len} bytes beyond its blocks`);
      continue;
    }
    total += len;
    if (total > ra.size) {
      warn('NDB slots point at overlapping blobs; the rest of the slot table is skipped');
      return;
    }
    yield { pkgIndex, blob: ra.read(start + BLOB_HEAD, len) };
  }
}
