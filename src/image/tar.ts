/**
 * A streaming push parser for tar archives (ustar, GNU and pax), built for layer scanning: chunks are
 * pushed in, entries come out through callbacks, and bodies nobody wants are skipped by arithmetic
 * without copying. No promise or stream per entry. References: POSIX pax (IEEE 1003.1 "pax"),
 * GNU tar's format notes, and Go's archive/tar (whose tolerances we follow).
 */
import { MoatError } from '../errors.js';
import type { EntryType, LayerEntry } from './types.js';

export interface TarHandler {
  /** a new entry; return true to receive its body through `data()` and `end()` */
  entry(e: LayerEntry): boolean;
  /** a piece of the wanted entry's body: a view of the pushed chunk (copy it if the chunk is reused) */
  data(chunk: Buffer): void;
  /** the wanted entry's body is complete */
  end(e: LayerEntry): void;
}

const BLOCK = 512;
/** pax and GNU long-name bodies above this are treated as hostile */
const MAX_META = 1 << 20;

type State = 'header' | 'body' | 'meta' | 'padding' | 'zero' | 'done';
type MetaKind = 'pax' | 'global' | 'longname' | 'longlink';

interface PaxAttrs {
  path?: string;
  linkpath?: string;
  size?: number;
}

export class TarReader {
  private state: State = 'header';
  private readonly hdr = Buffer.alloc(BLOCK);
  private hdrLen = 0;
  /** bytes of the current body (or padding) still to come */
  private remain = 0;
  private padding = 0;
  private wanted = false;
  private current: LayerEntry | undefined;
  private metaKind: MetaKind = 'pax';
  private metaBuf: Buffer = Buffer.alloc(0);
  private metaLen = 0;
  private pax: PaxAttrs = {};
  private global: PaxAttrs = {};
  private longName: string | undefined;
  private longLink: string | undefined;
  private total = 0;
  /** entries seen (including skipped ones) */
  entries = 0;

  /** `layer` names the archive in error messages (a layer digest, or a file name) */
  constructor(
    private readonly handler: TarHandler,
    private readonly layer: string,
  ) {}

  /** true once the end-of-archive marker has been read; later bytes are ignored */
  get done(): boolean {
    return this.state === 'done';
  }

  push(chunk: Buffer): void {
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      switch (this.state) {
        case 'header':
        case 'zero': {
          // parse in place when a whole block is in this chunk, else gather it
          if (this.hdrLen === 0 && len - off >= BLOCK) {
            this.header(chunk, off);
            off += BLOCK;
            this.total += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.hdrLen, len - off);
            chunk.copy(this.hdr, this.hdrLen, off, off + n);
            this.hdrLen += n;
            off += n;
            this.total += n;
            if (this.hdrLen === BLOCK) {
              this.hdrLen = 0;
              this.header(this.hdr, 0);
            }
          }
          break;
        }
        case 'body': {
          const n = Math.min(this.remain, len - off);
          if (this.wanted && n > 0) this.handler.data(chunk.subarray(off, off + n));
          off += n;
          this.total += n;
          this.remain -= n;
          if (this.remain === 0) this.endBody();
          break;
        }
        case 'meta': {
          const n = Math.min(this.remain, len - off);
          chunk.copy(this.metaBuf, this.metaLen, off, off + n);
          this.metaLen += n;
          off += n;
          this.total += n;
          this.remain -= n;
          if (this.remain === 0) this.endMeta();
          break;
        }
        case 'padding': {
          const n = Math.min(this.padding, len - off);
          off += n;
          this.total += n;
          this.padding -= n;
          if (this.padding === 0) this.state = 'header';
          break;
        }
        case 'done':
          return;
      }
    }
  }

  /**
   * The input has ended. An archive that stops inside a header or a body is truncated; one that stops
   * at an entry boundary without the end-of-archive blocks is accepted, as Go's archive/tar does.
   */
  end(): void {
    if (this.state === 'done' || this.state === 'zero') return;
    if (this.state === 'header' && this.hdrLen === 0 && !this.hasPendingMeta()) return;
    const where = this.current ? ` in entry "${this.current.path}"` : '';
    throw new MoatError(
      'CORRUPT_LAYER',
      `layer ${this.layer}: tar archive is truncated${where} after ${this.total} bytes`,
    );
  }

  private hasPendingMeta(): boolean {
    return (
      this.longName !== undefined ||
      this.longLink !== undefined ||
      this.pax.path !== undefined ||
      this.pax.linkpath !== undefined ||
      this.pax.size !== undefined
    );
  }

  private corrupt(reason: string): MoatError {
    return new MoatError(
      'CORRUPT_LAYER',
      `layer ${this.layer}: bad tar header at byte ${this.total}: ${reason}`,
    );
  }

  private header(b: Buffer, o: number): void {
    // one pass gives both the checksum and the all-zero test
    let sum = 0;
    let signed = 0;
    for (let i = o; i < o + BLOCK; i++) {
      const v = b[i]!;
      sum += v;
      signed += v > 127 ? v - 256 : v;
    }
    if (sum === 0) {
      if (this.state === 'zero') this.state = 'done';
      else this.state = 'zero';
      return;
    }
    if (this.state === 'zero') throw this.corrupt('a zero block followed by data');
    // the checksum field counts as eight spaces
    let fieldSum = 0;
    let fieldSigned = 0;
    for (let i = o + 148; i < o + 156; i++) {
      const v = b[i]!;
      fieldSum += v;
      fieldSigned += v > 127 ? v - 256 : v;
    }
    const want = parseNumber(b, o + 148, 8);
    if (want === undefined) throw this.corrupt('unreadable checksum field');
    if (sum - fieldSum + 256 !== want && signed - fieldSigned + 256 !== want) {
      throw this.corrupt('checksum mismatch');
    }

    const flag = b[o + 156]!;
    let size = parseNumber(b, o + 124, 12);
    if (size === undefined) throw this.corrupt('unreadable size field');
    const mode = parseNumber(b, o + 100, 8) ?? 0;
    this.entries++;

    // pax extended headers and GNU long names describe the next entry
    let meta: MetaKind | undefined;
    if (flag === 0x78 /* x */ || flag === 0x58 /* X, Solaris */) meta = 'pax';
    else if (flag === 0x67 /* g */) meta = 'global';
    else if (flag === 0x4c /* L */) meta = 'longname';
    else if (flag === 0x4b /* K */) meta = 'longlink';
    if (meta) {
      if (size > MAX_META) throw this.corrupt(`${meta} header of ${size} bytes`);
      this.metaKind = meta;
      this.metaBuf = Buffer.allocUnsafe(size);
      this.metaLen = 0;
      this.remain = size;
      this.padding = pad(size);
      this.current = undefined;
      if (size === 0) this.endMeta();
      else this.state = 'meta';
      return;
    }

    const gnu = b[o + 257] === 0x75 && b[o + 262] === 0x20; // "ustar " + " \0"
    let name = this.longName ?? this.pax.path ?? this.global.path;
    if (name === undefined) {
      name = cstring(b, o, 100);
      // ustar splits long names into prefix + name; GNU uses that area for other fields
      if (!gnu && b[o + 257] === 0x75 && b[o + 345] !== 0) name = `${cstring(b, o + 345, 155)}/${name}`;
    }
    let link = this.longLink ?? this.pax.linkpath ?? this.global.linkpath;
    if (link === undefined && (flag === 0x31 || flag === 0x32)) link = cstring(b, o + 157, 100);
    const paxSize = this.pax.size ?? this.global.size;
    if (paxSize !== undefined) size = paxSize;
    this.longName = undefined;
    this.longLink = undefined;
    this.pax = {};

    let type: EntryType;
    switch (flag) {
      case 0:
      case 0x30: // '0'
      case 0x37: // '7' contiguous file
        type = name.endsWith('/') ? 'dir' : 'file';
        break;
      case 0x31:
        type = 'hardlink';
        break;
      case 0x32:
        type = 'symlink';
        break;
      case 0x35:
        type = 'dir';
        break;
      default:
        type = 'other';
    }
    // like Go's archive/tar: these types never carry a body, whatever their size field says
    if (type === 'hardlink' || type === 'symlink' || type === 'dir' || (flag >= 0x33 && flag <= 0x36))
      size = 0;

    const path = normalizePath(name, this.layer);
    let linkname: string | undefined;
    if (type === 'hardlink') linkname = normalizePath(link ?? '', this.layer) ?? '';
    else if (type === 'symlink') linkname = link ?? '';

    this.remain = size;
    this.padding = pad(size);
    if (path === undefined) {
      // the root directory itself: nothing to report
      this.current = undefined;
      this.wanted = false;
    } else {
      const e: LayerEntry = { path, type, size, mode: mode & 0o7777 };
      if (linkname !== undefined) e.linkname = linkname;
      this.current = e;
      this.wanted = this.handler.entry(e) && type === 'file';
    }
    if (size === 0) this.endBody();
    else this.state = 'body';
  }

  private endBody(): void {
    if (this.wanted && this.current) this.handler.end(this.current);
    this.wanted = false;
    this.current = undefined;
    this.state = this.padding > 0 ? 'padding' : 'header';
  }

  private endMeta(): void {
    const buf = this.metaBuf.subarray(0, this.metaLen);
    this.metaBuf = Buffer.alloc(0);
    switch (this.metaKind) {
      case 'longname':
        this.longName = cstring(buf, 0, buf.length);
        break;
      case 'longlink':
        this.longLink = cstring(buf, 0, buf.length);
        break;
      case 'pax':
        this.pax = this.parsePax(buf, {});
        break;
      case 'global':
        this.global = this.parsePax(buf, this.global);
        break;
    }
    this.state = this.padding > 0 ? 'padding' : 'header';
  }

  /** pax records are "<len> <key>=<value>\n", len counting the whole record */
  private parsePax(buf: Buffer, base: PaxAttrs): PaxAttrs {
    const out: PaxAttrs = { ...base };
    let off = 0;
    while (off < buf.length) {
      if (buf[off] === 0) break; // some writers pad the body with NULs
      let sp = off;
      let n = 0;
      while (sp < buf.length && buf[sp] !== 0x20) {
        const d = buf[sp]! - 0x30;
        if (d < 0 || d > 9) throw this.corrupt('malformed pax record length');
        n = n * 10 + d;
        sp++;
      }
      const end = off + n;
      if (sp >= buf.length || n === 0 || end > buf.length || buf[end - 1] !== 0x0a) {
        throw this.corrupt('malformed pax record');
      }
      const eq = buf.indexOf(0x3d, sp + 1);
      if (eq < 0 || eq >= end) throw this.corrupt('pax record without "="');
      const key = buf.toString('utf8', sp + 1, eq);
      const value = buf.toString('utf8', eq + 1, end - 1);
      // an empty value removes the attribute (POSIX pax, "keyword= ")
      if (key === 'path') out.path = value === '' ? undefined : value;
      else if (key === 'linkpath') out.linkpath = value === '' ? undefined : value;
      else if (key === 'size') {
        if (value === '') out.size = undefined;
        else {
          if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
            throw this.corrupt(`pax size "${value.slice(0, 30)}" is not a usable number`);
          }
          out.size = Number(value);
        }
      }
      off = end;
    }
    return out;
  }
}

function pad(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** a NUL-terminated field */
function cstring(b: Buffer, o: number, len: number): string {
  let end = b.indexOf(0, o);
  if (end < 0 || end > o + len) end = o + len;
  return b.toString('utf8', o, end);
}

/**
 * A numeric field: octal text (space/NUL padded), or GNU base-256 when the high bit of the first byte
 * is set. Returns undefined for garbage; values beyond 2^53 are refused as unusable.
 */
function parseNumber(b: Buffer, o: number, len: number): number | undefined {
  const first = b[o]!;
  if (first & 0x80) {
    if (first === 0xff) return undefined; // negative
    let v = first & 0x7f;
    for (let i = o + 1; i < o + len; i++) {
      v = v * 256 + b[i]!;
      if (v > Number.MAX_SAFE_INTEGER) return undefined;
    }
    return v;
  }
  let i = o;
  const end = o + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0x20 || c === 0) break;
    const d = c - 0x30;
    if (d < 0 || d > 7) return undefined;
    v = v * 8 + d;
    digits++;
  }
  return digits === 0 ? 0 : v;
}

// segments that need the slow path: ".", "..", empty ones, or a leading "/"
const NEEDS_WORK = /(?:^|\/)\.{1,2}(?:\/|$)|\/\/|^\//;

/**
 * Normalises an entry path to the root-relative form LayerEntry promises: strips "./" and trailing
 * "/", collapses "//", resolves "a/../b". Returns undefined for the root itself. An absolute path or
 * a ".." that climbs above the root is a PATH_TRAVERSAL error: a layer that tries it is hostile.
 */
export function normalizePath(raw: string, layer: string): string | undefined {
  if (!NEEDS_WORK.test(raw)) {
    const p = raw.endsWith('/') ? raw.slice(0, -1) : raw;
    return p === '' ? undefined : p;
  }
  if (raw.startsWith('/')) {
    throw new MoatError('PATH_TRAVERSAL', `layer ${layer}: tar entry "${raw}" has an absolute path`);
  }
  const out: string[] = [];
  for (const seg of raw.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) {
        throw new MoatError('PATH_TRAVERSAL', `layer ${layer}: tar entry "${raw}" escapes the image root`);
      }
      out.pop();
    } else out.push(seg);
  }
  return out.length === 0 ? undefined : out.join('/');
}
