/** PE/COFF headers (https://learn.microsoft.com/windows/win32/debug/pe-format). */
import type { RandomAccess } from '../input.js';
import { cString, type Executable, ExeError, LE, readExact, type Section, type Segment } from './common.js';

const IMAGE_SCN_CNT_CODE = 0x20;
const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x40;
const IMAGE_SCN_MEM_EXECUTE = 0x20000000;
const IMAGE_SCN_MEM_WRITE = 0x80000000;
const MAX_SECTIONS = 96; // the PE loader's own limit
const SYMBOL_SIZE = 18;

export function parsePe(ra: RandomAccess): Executable {
  const dos = readExact(ra, 0, 64, 'DOS header');
  const peOff = dos.readUInt32LE(0x3c);
  const sig = readExact(ra, peOff, 24, 'PE header');
  if (sig.readUInt32BE(0) !== 0x50450000) throw new ExeError('no PE signature behind the DOS header', true);
  const nsect = LE.u16(sig, 6);
  const symtab = LE.u32(sig, 12);
  const nsyms = LE.u32(sig, 16);
  const optSize = LE.u16(sig, 20);
  if (nsect > MAX_SECTIONS) throw new ExeError(`PE header declares ${nsect} sections`);
  const optOff = peOff + 24;
  const opt = readExact(ra, optOff, Math.max(optSize, 2), 'PE optional header');
  const magic = LE.u16(opt, 0);
  let imageBase = 0;
  let ptrSize: 4 | 8 = 4;
  if (magic === 0x20b && opt.length >= 32) {
    imageBase = LE.u64(opt, 24);
    ptrSize = 8;
  } else if (magic === 0x10b && opt.length >= 32) {
    imageBase = LE.u32(opt, 28);
  } else if (optSize !== 0) {
    throw new ExeError(`unknown PE optional header magic 0x${magic.toString(16)}`);
  }
  const table = readExact(ra, optOff + optSize, nsect * 40, 'PE section table');
  // names longer than 8 bytes are "/<offset>" into the COFF string table that follows the symbols
  let strings: Buffer | undefined;
  const strtab = symtab + nsyms * SYMBOL_SIZE;
  const sections: Section[] = [];
  const segments: Segment[] = [];
  let dataStart: number | undefined;
  for (let i = 0; i < nsect; i++) {
    const o = i * 40;
    let name = cString(table, o, 8);
    if (name.startsWith('/') && symtab !== 0) {
      const at = Number(name.slice(1));
      if (strings === undefined && strtab + 4 <= ra.size) {
        const size = ra.read(strtab, 4).readUInt32LE(0);
        strings = ra.read(strtab, Math.min(size, 1 << 20));
      }
      if (strings && Number.isInteger(at)) name = cString(strings, at);
    }
    const vaddr = imageBase + LE.u32(table, o + 12);
    const rawSize = LE.u32(table, o + 16);
    const rawOff = LE.u32(table, o + 20);
    const flags = LE.u32(table, o + 36);
    const writable = (flags & IMAGE_SCN_MEM_WRITE) !== 0;
    const executable = (flags & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE)) !== 0;
    sections.push({ name, segment: '', addr: vaddr, offset: rawOff, fileSize: rawSize, writable });
    segments.push({ addr: vaddr, offset: rawOff, fileSize: rawSize, writable, executable });
    // Go's debug/buildinfo: the first writable initialized-data section holds the build info blob
    if (
      dataStart === undefined &&
      writable &&
      !executable &&
      (flags & IMAGE_SCN_CNT_INITIALIZED_DATA) !== 0 &&
      rawSize > 0
    ) {
      dataStart = vaddr;
    }
  }
  return { format: 'pe', ptrSize, littleEndian: true, sections, segments, dataStart };
}
