/**
 * Writes tar archives byte by byte for tests, including the malformed ones a real tar tool refuses to
 * produce (absolute paths, "..", bad checksums, lying sizes). Layout per POSIX ustar; pax and GNU
 * long-name records as GNU tar writes them.
 */
import { gzipSync } from 'node:zlib';

export interface TarSpec {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo';
  body?: string | Buffer;
  linkname?: string;
  mode?: number;
  /** pax records for this entry (written as an 'x' header before it) */
  pax?: Record<string, string>;
  /** write the name through a GNU 'L' record (and the link through 'K') */
  gnuLong?: boolean;
  /** declared size, when it must differ from the body's */
  size?: number;
  /** declare the size in GNU base-256 */
  base256?: boolean;
  /** corrupt the checksum */
  badChecksum?: boolean;
  /** raw typeflag character (overrides type) */
  typeflag?: string;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', dir: '5', fifo: '6' } as const;

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(`${value.toString(8).padStart(len - 1, '0')}\0`, off, len, 'latin1');
}

export function header(
  name: string,
  opts: {
    typeflag: string;
    size: number;
    mode?: number;
    linkname?: string;
    base256?: boolean;
    badChecksum?: boolean;
    gnu?: boolean;
  },
): Buffer {
  const h = Buffer.alloc(512);
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 100) {
    // ustar split: prefix (<=155 bytes) "/" name (<=100 bytes)
    let at = name.indexOf('/');
    while (at >= 0 && Buffer.byteLength(name.slice(at + 1)) > 100) at = name.indexOf('/', at + 1);
    if (at <= 0 || Buffer.byteLength(name.slice(0, at)) > 155)
      throw new Error(`name too long for ustar: ${name}`);
    h.write(name.slice(at + 1), 0, 100, 'utf8');
    h.write(name.slice(0, at), 345, 155, 'utf8');
  } else nameBytes.copy(h, 0);
  octal(h, 100, 8, opts.mode ?? 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  if (opts.base256) {
    h[124] = 0x80;
    let v = BigInt(opts.size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  } else octal(h, 124, 12, opts.size);
  octal(h, 136, 12, 1_700_000_000);
  h.write(opts.typeflag, 156, 1, 'latin1');
  if (opts.linkname) h.write(opts.linkname, 157, 100, 'utf8');
  if (opts.gnu) h.write('ustar  \0', 257, 8, 'latin1');
  else h.write('ustar\x0000', 257, 8, 'latin1');
  h.write('root', 265, 32, 'latin1');
  h.write('root', 297, 32, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (opts.badChecksum) sum += 1;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

function padded(body: Buffer): Buffer[] {
  const r = body.length % 512;
  return r === 0 ? [body] : [body, Buffer.alloc(512 - r)];
}

function paxBody(records: Record<string, string>): Buffer {
  let out = '';
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len)
      len = String(len).length + Buffer.byteLength(rest);
    out += `${len}${rest}`;
  }
  return Buffer.from(out, 'utf8');
}

/** A tar archive of the given entries, ending with the two zero blocks unless `end` is false. */
export function buildTar(
  entries: TarSpec[],
  opts: { end?: boolean; globalPax?: Record<string, string> } = {},
): Buffer {
  const parts: Buffer[] = [];
  if (opts.globalPax) {
    const body = paxBody(opts.globalPax);
    parts.push(header('pax_global_header', { typeflag: 'g', size: body.length }), ...padded(body));
  }
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    if (e.pax) {
      const pb = paxBody(e.pax);
      parts.push(
        header(`PaxHeaders/${e.path.slice(0, 80)}`, { typeflag: 'x', size: pb.length }),
        ...padded(pb),
      );
    }
    let name = e.path;
    let linkname = e.linkname;
    if (e.gnuLong) {
      const nb = Buffer.from(`${e.path}\0`, 'utf8');
      parts.push(header('././@LongLink', { typeflag: 'L', size: nb.length, gnu: true }), ...padded(nb));
      name = e.path.slice(0, 99);
      if (linkname !== undefined) {
        const lb = Buffer.from(`${linkname}\0`, 'utf8');
        parts.push(header('././@LongLink', { typeflag: 'K', size: lb.length, gnu: true }), ...padded(lb));
        linkname = linkname.slice(0, 99);
      }
    } else if (e.pax?.path !== undefined) {
      name = 'placeholder';
    }
    parts.push(
      header(name, {
        typeflag: e.typeflag ?? TYPEFLAG[type],
        size: e.size ?? body.length,
        mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
        linkname,
        base256: e.base256,
        badChecksum: e.badChecksum,
        gnu: e.gnuLong,
      }),
    );
    if (body.length > 0) parts.push(...padded(body));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function buildTarGz(entries: TarSpec[], opts?: { end?: boolean }): Buffer {
  return gzipSync(buildTar(entries, opts));
}
