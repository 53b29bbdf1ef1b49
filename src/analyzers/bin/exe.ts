/**
 * Just enough of ELF, PE and Mach-O to find a section by name, the first writable data segment, and the
 * file bytes behind a virtual address: what Go build info and cargo-auditable data need. Headers are read
 * through positioned reads, so a spooled 200 MB binary costs a few kilobytes of I/O.
 */
import type { RandomAccess } from '../input.js';
import type { Executable, ExeFormat, Section } from './common.js';
import { parseElf } from './elf.js';
import { parseMachO } from './macho.js';
import { parsePe } from './pe.js';

export type { Executable, ExeFormat, Section, Segment } from './common.js';
export { ExeError } from './common.js';

/** Executable format from the first bytes, without parsing further; undefined for anything else. */
export function exeFormat(head: Buffer): ExeFormat | undefined {
  if (head.length < 4) return undefined;
  if (head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) return 'elf';
  if (head[0] === 0x4d && head[1] === 0x5a) return 'pe';
  const m = head.readUInt32BE(0);
  if (m === 0xfeedface || m === 0xfeedfacf || m === 0xcefaedfe || m === 0xcffaedfe) return 'macho';
  // universal binaries share 0xcafebabe with Java class files; parseMachO tells them apart by arch count
  if (m === 0xcafebabe) return 'macho';
  return undefined;
}

/** Parses the headers of an executable; throws ExeError when it is truncated or malformed. */
export function openExecutable(ra: RandomAccess, format: ExeFormat): Executable {
  switch (format) {
    case 'elf':
      return parseElf(ra);
    case 'pe':
      return parsePe(ra);
    case 'macho':
      return parseMachO(ra);
  }
}

/** File bytes behind `len` bytes of virtual memory at `addr`, when one segment maps them all. */
export function readAtAddress(
  exe: Executable,
  ra: RandomAccess,
  addr: number,
  len: number,
): Buffer | undefined {
  for (const s of exe.segments) {
    if (addr >= s.addr && addr + len <= s.addr + s.fileSize) {
      const off = s.offset + (addr - s.addr);
      if (off + len > ra.size) return undefined;
      return ra.read(off, len);
    }
  }
  return undefined;
}

export function findSection(exe: Executable, name: string, segment?: string): Section | undefined {
  return exe.sections.find((s) => s.name === name && (segment === undefined || s.segment === segment));
}
