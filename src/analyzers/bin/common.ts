/** Shared shapes and readers of the executable-format parsers (elf.ts, pe.ts, macho.ts). */
import type { RandomAccess } from '../input.js';

export type ExeFormat = 'elf' | 'pe' | 'macho';

export interface Section {
  name: string;
  /** Mach-O segment name (`__DATA`); empty for ELF and PE */
  segment: string;
  /** virtual address (PE: image base included) */
  addr: number;
  /** file offset of the section's bytes */
  offset: number;
  /** bytes present in the file (0 for ELF NOBITS / Mach-O zerofill) */
  fileSize: number;
  writable: boolean;
}

/** A run of the file mapped at a virtual address (ELF PT_LOAD, Mach-O segment, PE section). */
export interface Segment {
  addr: number;
  offset: number;
  fileSize: number;
  writable: boolean;
  executable: boolean;
}

export interface Executable {
  format: ExeFormat;
  ptrSize: 4 | 8;
  littleEndian: boolean;
  sections: Section[];
  /** ordered as in the file's headers */
  segments: Segment[];
  /** where Go's linker puts build info when it has no section of its own (the first writable data) */
  dataStart: number | undefined;
}

/** The file is not a usable executable of a known format (cut short, offsets out of range, ...). */
export class ExeError extends Error {
  override readonly name = 'ExeError';
  /**
   * @param foreign the magic matched but the file is something else (a DOS program, a Java class file):
   * callers skip it silently instead of reporting a damaged executable
   */
  constructor(
    message: string,
    readonly foreign = false,
  ) {
    super(message);
  }
}

/** `len` bytes at `offset`, or an ExeError naming `what` when the file ends first. */
export function readExact(ra: RandomAccess, offset: number, len: number, what: string): Buffer {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + len > ra.size) {
    throw new ExeError(
      `${what} at offset ${offset} (+${len} bytes) lies past the end of the file (${ra.size} bytes)`,
    );
  }
  return ra.read(offset, len);
}

/** A fixed-width unsigned integer reader for one byte order; 64-bit values beyond 2^53 are an ExeError. */
export interface Reader {
  u16(b: Buffer, o: number): number;
  u32(b: Buffer, o: number): number;
  u64(b: Buffer, o: number): number;
}

function safe(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ExeError(`value ${v} is out of range`);
  return Number(v);
}

export const LE: Reader = {
  u16: (b, o) => b.readUInt16LE(o),
  u32: (b, o) => b.readUInt32LE(o),
  u64: (b, o) => safe(b.readBigUInt64LE(o)),
};
export const BE: Reader = {
  u16: (b, o) => b.readUInt16BE(o),
  u32: (b, o) => b.readUInt32BE(o),
  u64: (b, o) => safe(b.readBigUInt64BE(o)),
};

/** A NUL-terminated string inside `b` starting at `o` (latin1: section names are ASCII). */
export function cString(b: Buffer, o: number, max = b.length - o): string {
  if (o < 0 || o >= b.length) return '';
  const end = b.indexOf(0, o);
  const stop = end < 0 || end > o + max ? Math.min(b.length, o + max) : end;
  return b.toString('latin1', o, stop);
}
