/**
 * RPM header blobs as rpm stores them in its database (Packages hash values, the `blob` column of
 * rpmdb.sqlite, NDB blobs): no leading 8-byte magic, then
 *   il (int32 BE): number of index entries, dl (int32 BE): size of the data store,
 *   il × { tag, type, offset, count } (int32 BE each), then dl bytes of data.
 * Layout per rpm's lib/header.c and the file format spec
 * (https://rpm-software-management.github.io/rpm/manual/format_header.html).
 */

import { RpmDbError } from './errors.js';

/** rpm's limits (lib/header_internal.h): more is corruption or an attack, never a real header. */
const HEADER_TAGS_MAX = 0xffff;
const HEADER_DATA_MAX = 0x0fffffff;
const ENTRY_SIZE = 16;

const TYPE = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9,
} as const;

const TAG = {
  /** region tags: the first entry of a header read from a package or database */
  HEADERIMAGE: 61,
  HEADERSIGNATURES: 62,
  HEADERIMMUTABLE: 63,
  SIGMD5: 261,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  PACKAGER: 1015,
  ARCH: 1022,
  SOURCERPM: 1044,
  /** file lists: OLDFILENAMES (rpm < 4.1 headers), then DIRINDEXES/BASENAMES/DIRNAMES */
  OLDFILENAMES: 1027,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  LONGSIZE: 5009,
  MODULARITYLABEL: 5096,
} as const;

class RpmHeaderError extends RpmDbError {
  override name = 'RpmHeaderError';
}

/** The fields moat reads from an installed package's header. */
export interface RpmHeaderInfo {
  name: string;
  /** null when the header has no EPOCH tag */
  epoch: number | null;
  version: string;
  release: string;
  arch: string | null;
  sourceRpm: string | null;
  size: number | null;
  license: string | null;
  vendor: string | null;
  packager: string | null;
  modularityLabel: string | null;
  summary: string | null;
  /** SIGMD5 as lower-case hex */
  sigMD5: string | null;
}

interface Entry {
  type: number;
  offset: number;
  count: number;
}

/** Index entries by tag plus the data store, with bounds-checked accessors. */
class RpmHeader {
  private readonly entries = new Map<number, Entry>();
  private readonly data: Buffer;

  constructor(blob: Buffer) {
    if (blob.length < 8) throw new RpmHeaderError(`header blob of ${blob.length} bytes is truncated`);
    const il = blob.readUInt32BE(0);
    const dl = blob.readUInt32BE(4);
    if (il === 0 || il > HEADER_TAGS_MAX) throw new RpmHeaderError(`header declares ${il} index entries`);
    if (dl > HEADER_DATA_MAX) throw new RpmHeaderError(`header declares ${dl} bytes of data`);
    const dataStart = 8 + il * ENTRY_SIZE;
    if (dataStart + dl > blob.length) {
      throw new RpmHeaderError(`header needs ${dataStart + dl} bytes but the blob has ${blob.length}`);
    }
    this.data = blob.subarray(dataStart, dataStart + dl);
    for (let i = 0; i < il; i++) {
      const at = 8 + i * ENTRY_SIZE;
      const tag = blob.readUInt32BE(at);
      const type = blob.readUInt32BE(at + 4);
      const offset = blob.readInt32BE(at + 8);
      const count = blob.readUInt32BE(at + 12);
      // region tags point at a trailer that describes the signed region; their contents are not needed
      if (tag === TAG.HEADERIMAGE || tag === TAG.HEADERSIGNATURES || tag === TAG.HEADERIMMUTABLE) continue;
      if (type > TYPE.I18NSTRING || offset < 0 || offset > dl || count === 0) continue;
      // entries appended after the region at install time ("dribbles") override region entries, as in rpm
      this.entries.set(tag, { type, offset, count });
    }
  }

  has(tag: number): boolean {
    return this.entries.has(tag);
  }

  /** The first string of a STRING, STRING_ARRAY or I18NSTRING (the C locale) entry. */
  string(tag: number): string | undefined {
    const e = this.entries.get(tag);
    if (!e || (e.type !== TYPE.STRING && e.type !== TYPE.STRING_ARRAY && e.type !== TYPE.I18NSTRING)) {
      return undefined;
    }
    const end = this.data.indexOf(0, e.offset);
    if (end < 0) return undefined;
    return this.data.toString('utf8', e.offset, end);
  }

  /** The first value of an integer entry (INT8 .. INT64); INT64 beyond 2^53 loses precision. */
  int(tag: number): number | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    const d = this.data;
    switch (e.type) {
      case TYPE.CHAR:
      case TYPE.INT8:
        return e.offset + 1 <= d.length ? d.readUInt8(e.offset) : undefined;
      case TYPE.INT16:
        return e.offset + 2 <= d.length ? d.readUInt16BE(e.offset) : undefined;
      case TYPE.INT32:
        return e.offset + 4 <= d.length ? d.readUInt32BE(e.offset) : undefined;
      case TYPE.INT64:
        return e.offset + 8 <= d.length ? Number(d.readBigUInt64BE(e.offset)) : undefined;
      default:
        return undefined;
    }
  }

  /** Every string of a STRING_ARRAY entry (count NUL-terminated strings); undefined when malformed. */
  strings(tag: number): string[] | undefined {
    const e = this.entries.get(tag);
    if (!e || e.type !== TYPE.STRING_ARRAY) return undefined;
    const out: string[] = [];
    let at = e.offset;
    for (let i = 0; i < e.count; i++) {
      const end = this.data.indexOf(0, at);
      if (end < 0) return undefined;
      out.push(this.data.toString('utf8', at, end));
      at = end + 1;
    }
    return out;
  }

  /** Every value of an INT32 array entry; undefined when it does not fit the data. */
  int32s(tag: number): number[] | undefined {
    const e = this.entries.get(tag);
    if (!e || e.type !== TYPE.INT32 || e.offset + 4 * e.count > this.data.length) return undefined;
    const out = new Array<number>(e.count);
    for (let i = 0; i < e.count; i++) out[i] = this.data.readUInt32BE(e.offset + 4 * i);
    return out;
  }

  bin(tag: number): Buffer | undefined {
    const e = this.entries.get(tag);
    if (!e || e.type !== TYPE.BIN || e.offset + e.count > this.data.length) return undefined;
    return this.data.subarray(e.offset, e.offset + e.count);
  }
}

/** Reads the package identity and metadata from a header blob; throws RpmHeaderError when it is unusable. */
export function parseRpmHeader(blob: Buffer): RpmHeaderInfo {
  const h = new RpmHeader(blob);
  const name = h.string(TAG.NAME);
  const version = h.string(TAG.VERSION);
  const release = h.string(TAG.RELEASE);
  if (!name || version === undefined || release === undefined) {
    throw new RpmHeaderError('header has no NAME, VERSION or RELEASE');
  }
  const md5 = h.bin(TAG.SIGMD5);
  return {
    name,
    epoch: h.int(TAG.EPOCH) ?? null,
    version,
    release,
    arch: h.string(TAG.ARCH) ?? null,
    sourceRpm: h.string(TAG.SOURCERPM) ?? null,
    // packages over 4 GiB carry only LONGSIZE
    size: h.int(TAG.SIZE) ?? h.int(TAG.LONGSIZE) ?? null,
    license: h.string(TAG.LICENSE) ?? null,
    vendor: h.string(TAG.VENDOR) ?? null,
    packager: h.string(TAG.PACKAGER) ?? null,
    modularityLabel: h.string(TAG.MODULARITYLABEL) ?? null,
    summary: h.string(TAG.SUMMARY) ?? null,
    sigMD5: md5 ? md5.toString('hex') : null,
  };
}

/**
 * The files a header lists, as root-relative paths: DIRNAMES[DIRINDEXES[i]] + BASENAMES[i] (rpm ≥ 4.1),
 * or OLDFILENAMES. Empty when the header lists none or the lists do not line up (a damaged header).
 */
export function rpmHeaderFiles(blob: Buffer): string[] {
  const h = new RpmHeader(blob);
  const base = h.strings(TAG.BASENAMES);
  const out: string[] = [];
  if (base) {
    const dirs = h.strings(TAG.DIRNAMES);
    const idx = h.int32s(TAG.DIRINDEXES);
    if (!dirs || !idx || idx.length !== base.length) return out;
    for (let i = 0; i < base.length; i++) {
      const d = dirs[idx[i]!];
      if (d === undefined) return [];
      out.push(`${d}${base[i]}`.replace(/^\/+/, ''));
    }
    return out;
  }
  for (const f of h.strings(TAG.OLDFILENAMES) ?? []) out.push(f.replace(/^\/+/, ''));
  return out;
}

/** `name-version-release.src.rpm` → its parts; undefined when the file name does not have that shape. */
export function parseSourceRpm(
  sourceRpm: string,
): { name: string; version: string; release: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(sourceRpm);
  if (!m) return undefined;
  return { name: m[1]!, version: m[2]!, release: m[3]! };
}
