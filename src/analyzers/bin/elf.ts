/** ELF headers (System V gABI, https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html). */
import type { RandomAccess } from '../input.js';
import {
  BE,
  cString,
  type Executable,
  ExeError,
  LE,
  readExact,
  type Section,
  type Segment,
} from './common.js';

const PT_LOAD = 1;
const PF_X = 1;
const PF_W = 2;
const SHT_NOBITS = 8;
const SHF_WRITE = 1;
/** more would be a corrupt header: real binaries have tens of sections and a dozen program headers */
const MAX_SECTIONS = 65536;
const MAX_PHDRS = 4096;
/** section names live in one string table; a larger one is not a real binary's */
const MAX_SHSTRTAB = 16 * 1024 * 1024;

export function parseElf(ra: RandomAccess): Executable {
  const ident = readExact(ra, 0, 16, 'ELF identification');
  const is64 = ident[4] === 2;
  if (ident[4] !== 1 && !is64) throw new ExeError(`unknown ELF class ${ident[4]}`);
  const littleEndian = ident[5] !== 2;
  if (ident[5] !== 1 && ident[5] !== 2) throw new ExeError(`unknown ELF data encoding ${ident[5]}`);
  const r = littleEndian ? LE : BE;
  const h = readExact(ra, 0, is64 ? 64 : 52, 'ELF header');
  const word = (o: number) => (is64 ? r.u64(h, o) : r.u32(h, o));
  const phoff = word(is64 ? 0x20 : 0x1c);
  const shoff = word(is64 ? 0x28 : 0x20);
  const phentsize = r.u16(h, is64 ? 0x36 : 0x2a);
  let phnum = r.u16(h, is64 ? 0x38 : 0x2c);
  const shentsize = r.u16(h, is64 ? 0x3a : 0x2e);
  let shnum = r.u16(h, is64 ? 0x3c : 0x30);
  let shstrndx = r.u16(h, is64 ? 0x3e : 0x32);
  const shsize = is64 ? 64 : 40;
  const phsize = is64 ? 56 : 32;

  // extended numbering: counts that do not fit 16 bits live in section header 0 (gABI "Sections")
  if (shoff !== 0 && (shnum === 0 || shstrndx === 0xffff || phnum === 0xffff)) {
    if (shentsize < shsize) throw new ExeError(`ELF section header size ${shentsize} is too small`);
    const s0 = readExact(ra, shoff, shsize, 'ELF section header 0');
    if (shnum === 0) shnum = is64 ? r.u64(s0, 0x20) : r.u32(s0, 0x14);
    if (shstrndx === 0xffff) shstrndx = r.u32(s0, is64 ? 0x28 : 0x18);
    if (phnum === 0xffff) phnum = r.u32(s0, is64 ? 0x2c : 0x1c);
  }

  const segments: Segment[] = [];
  if (phoff !== 0 && phnum > 0) {
    if (phentsize < phsize) throw new ExeError(`ELF program header size ${phentsize} is too small`);
    if (phnum > MAX_PHDRS) throw new ExeError(`ELF header declares ${phnum} program headers`);
    const ph = readExact(ra, phoff, phnum * phentsize, 'ELF program header table');
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (r.u32(ph, o) !== PT_LOAD) continue;
      const flags = r.u32(ph, is64 ? o + 4 : o + 24);
      segments.push({
        offset: is64 ? r.u64(ph, o + 8) : r.u32(ph, o + 4),
        addr: is64 ? r.u64(ph, o + 16) : r.u32(ph, o + 8),
        fileSize: is64 ? r.u64(ph, o + 32) : r.u32(ph, o + 16),
        writable: (flags & PF_W) !== 0,
        executable: (flags & PF_X) !== 0,
      });
    }
  }

  const sections: Section[] = [];
  if (shoff !== 0 && shnum > 0) {
    if (shentsize < shsize) throw new ExeError(`ELF section header size ${shentsize} is too small`);
    if (shnum > MAX_SECTIONS) throw new ExeError(`ELF header declares ${shnum} sections`);
    const sh = readExact(ra, shoff, shnum * shentsize, 'ELF section header table');
    const raw: { name: number; type: number; flags: number; addr: number; offset: number; size: number }[] =
      [];
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      raw.push({
        name: r.u32(sh, o),
        type: r.u32(sh, o + 4),
        flags: is64 ? r.u64(sh, o + 8) : r.u32(sh, o + 8),
        addr: is64 ? r.u64(sh, o + 16) : r.u32(sh, o + 12),
        offset: is64 ? r.u64(sh, o + 24) : r.u32(sh, o + 16),
        size: is64 ? r.u64(sh, o + 32) : r.u32(sh, o + 20),
      });
    }
    const strtab = raw[shstrndx];
    let names: Buffer | undefined;
    if (strtab && strtab.type !== SHT_NOBITS && strtab.size <= MAX_SHSTRTAB) {
      names = readExact(ra, strtab.offset, strtab.size, 'ELF section name table');
    }
    for (const s of raw) {
      sections.push({
        name: names ? cString(names, s.name) : '',
        segment: '',
        addr: s.addr,
        offset: s.offset,
        fileSize: s.type === SHT_NOBITS ? 0 : s.size,
        writable: (s.flags & SHF_WRITE) !== 0,
      });
    }
  }

  // Go's debug/buildinfo: without a .go.buildinfo section the blob is at the start of the first
  // writable, non-executable PT_LOAD segment
  const data = segments.find((s) => s.writable && !s.executable);
  return {
    format: 'elf',
    ptrSize: is64 ? 8 : 4,
    littleEndian,
    sections,
    segments,
    dataStart: data?.addr,
  };
}
