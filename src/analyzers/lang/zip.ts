/**
 * A bounded zip reader over positioned reads (APPNOTE.TXT 6.3.10): the central directory (zip64 too, and
 * data prepended to the archive, as in Spring Boot's executable jars), and entries stored or deflated.
 * Nothing is read that the caller does not ask for, and every read has a cap: an entry's declared size
 * bounds its inflated output, so a lying header cannot make it allocate more.
 */
import { inflateRawSync } from 'node:zlib';
import type { RandomAccess } from '../input.js';

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CDH_SIG = 0x02014b50;
const LFH_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const CDH_SIZE = 46;
const LFH_SIZE = 30;
const ZIP64_EXTRA = 0x0001;
const FLAG_ENCRYPTED = 1;
const FLAG_UTF8 = 1 << 11;
export const STORED = 0;
export const DEFLATED = 8;

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  /** uncompressed size as the central directory declares it */
  size: number;
  /** offset of the local file header, prepended data included */
  localOffset: number;
}

/** The archive or one entry is not readable zip data; the message says what is wrong. */
export class ZipError extends Error {
  override readonly name: string = 'ZipError';
}

/** An entry's uncompressed size is over the caller's cap. */
export class ZipLimitError extends ZipError {
  override readonly name = 'ZipLimitError';
}

/** A RandomAccess over a byte range of another (a stored entry read in place) or over a Buffer. */
export function sliceAccess(ra: RandomAccess, start: number, size: number): RandomAccess {
  return {
    size,
    read: (offset, length) => {
      const o = Math.min(Math.max(offset, 0), size);
      return ra.read(start + o, Math.min(length, size - o));
    },
    close: () => {},
  };
}

export function bufferAccess(data: Buffer): RandomAccess {
  return {
    size: data.length,
    read: (offset, length) =>
      data.subarray(Math.min(offset, data.length), Math.min(offset + length, data.length)),
    close: () => {},
  };
}

/**
 * Lists the entries of a zip archive from its central directory. Throws ZipError when there is no
 * end-of-central-directory record or the directory is cut short, and ZipLimitError past `maxEntries`.
 */
export function readZipDirectory(ra: RandomAccess, maxEntries: number): ZipEntry[] {
  if (ra.size < EOCD_SIZE) throw new ZipError('too short for a zip archive');
  const tailLen = Math.min(ra.size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = ra.size - tailLen;
  const tail = ra.read(tailStart, tailLen);
  let at = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    // the comment length must reach exactly to the end, or a signature inside the comment would match
    if (tail.readUInt32LE(i) === EOCD_SIG && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new ZipError('no end-of-central-directory record (not a zip archive, or cut short)');
  let count = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  let dirEnd = tailStart + at;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = dirEnd >= 20 ? ra.read(dirEnd - 20, 20) : undefined;
    if (loc?.length === 20 && loc.readUInt32LE(0) === EOCD64_LOCATOR_SIG) {
      const recOff = num64(loc, 8);
      const rec = ra.read(recOff, 56);
      if (rec.length < 56 || rec.readUInt32LE(0) !== EOCD64_SIG)
        throw new ZipError('bad zip64 end-of-central-directory record');
      count = num64(rec, 32);
      cdSize = num64(rec, 40);
      cdOffset = num64(rec, 48);
      dirEnd = recOff;
    }
  }
  if (count > maxEntries) throw new ZipLimitError(`${count} entries, over the ${maxEntries}-entry cap`);
  // bytes before the archive proper (a launch script, a self-extractor stub) shift every offset
  const base = dirEnd - cdSize - cdOffset;
  if (base < 0) throw new ZipError('the central directory lies outside the file');
  const cd = ra.read(base + cdOffset, cdSize);
  if (cd.length < cdSize) throw new ZipError('the central directory is cut short');
  const entries: ZipEntry[] = [];
  let o = 0;
  for (let i = 0; i < count; i++) {
    if (o + CDH_SIZE > cd.length || cd.readUInt32LE(o) !== CDH_SIG) {
      throw new ZipError(`central directory entry ${i} is malformed`);
    }
    const flags = cd.readUInt16LE(o + 8);
    const nameLen = cd.readUInt16LE(o + 28);
    const extraLen = cd.readUInt16LE(o + 30);
    const commentLen = cd.readUInt16LE(o + 32);
    const end = o + CDH_SIZE + nameLen + extraLen + commentLen;
    if (end > cd.length) throw new ZipError(`central directory entry ${i} runs past the directory`);
    const e: ZipEntry = {
      name: cd.toString(flags & FLAG_UTF8 ? 'utf8' : 'latin1', o + CDH_SIZE, o + CDH_SIZE + nameLen),
      method: cd.readUInt16LE(o + 10),
      flags,
      compressedSize: cd.readUInt32LE(o + 20),
      size: cd.readUInt32LE(o + 24),
      localOffset: cd.readUInt32LE(o + 42),
    };
    if (e.size === 0xffffffff || e.compressedSize === 0xffffffff || e.localOffset === 0xffffffff) {
      zip64Extra(cd, o + CDH_SIZE + nameLen, extraLen, e);
    }
    e.localOffset += base;
    entries.push(e);
    o = end;
  }
  return entries;
}

function num64(b: Buffer, o: number): number {
  const v = b.readBigUInt64LE(o);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError('a zip64 field is out of range');
  return Number(v);
}

/** Fills the sizes and offset that the zip64 extra field carries, in APPNOTE 4.5.3's order. */
function zip64Extra(cd: Buffer, start: number, len: number, e: ZipEntry): void {
  let p = start;
  while (p + 4 <= start + len) {
    const id = cd.readUInt16LE(p);
    const size = cd.readUInt16LE(p + 2);
    if (id === ZIP64_EXTRA) {
      let q = p + 4;
      const stop = q + size;
      if (e.size === 0xffffffff && q + 8 <= stop) {
        e.size = num64(cd, q);
        q += 8;
      }
      if (e.compressedSize === 0xffffffff && q + 8 <= stop) {
        e.compressedSize = num64(cd, q);
        q += 8;
      }
      if (e.localOffset === 0xffffffff && q + 8 <= stop) e.localOffset = num64(cd, q);
      return;
    }
    p += 4 + size;
  }
}

/** Offset of an entry's (compressed) data, after its local header. */
export function entryDataOffset(ra: RandomAccess, e: ZipEntry): number {
  const h = ra.read(e.localOffset, LFH_SIZE);
  if (h.length < LFH_SIZE || h.readUInt32LE(0) !== LFH_SIG) throw new ZipError(`${e.name}: bad local header`);
  const start = e.localOffset + LFH_SIZE + h.readUInt16LE(26) + h.readUInt16LE(28);
  if (start + e.compressedSize > ra.size)
    throw new ZipError(`${e.name}: data runs past the end of the archive`);
  return start;
}

/**
 * The uncompressed content of an entry, at most `maxBytes` (ZipLimitError beyond). Inflation stops at
 * the declared size: an entry whose data inflates further is corrupt (or a bomb that lies about it).
 */
export function readZipEntry(ra: RandomAccess, e: ZipEntry, maxBytes: number): Buffer {
  if (e.flags & FLAG_ENCRYPTED) throw new ZipError(`${e.name}: encrypted`);
  if (e.size > maxBytes) throw new ZipLimitError(`${e.name}: ${e.size} bytes, over the ${maxBytes}-byte cap`);
  const start = entryDataOffset(ra, e);
  const raw = ra.read(start, e.compressedSize);
  if (e.method === STORED) {
    if (e.compressedSize !== e.size) throw new ZipError(`${e.name}: stored entry with differing sizes`);
    return raw;
  }
  if (e.method !== DEFLATED) throw new ZipError(`${e.name}: unsupported compression method ${e.method}`);
  if (e.size === 0) return Buffer.alloc(0);
  let out: Buffer;
  try {
    out = inflateRawSync(raw, { maxOutputLength: e.size });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ZipError(`${e.name}: inflates past its declared ${e.size} bytes`);
    }
    throw new ZipError(`${e.name}: corrupt deflate data (${(err as Error).message})`);
  }
  if (out.length !== e.size)
    throw new ZipError(`${e.name}: inflates to ${out.length} bytes, not the declared ${e.size}`);
  return out;
}
