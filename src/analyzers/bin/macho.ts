/** Mach-O headers (<mach-o/loader.h>, <mach-o/fat.h>); universal binaries are read through their first slice. */
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

const LC_SEGMENT = 0x1;
const LC_SEGMENT_64 = 0x19;
const VM_PROT_WRITE = 0x2;
const VM_PROT_EXECUTE = 0x4;
const S_ZEROFILL = 0x1;
const S_GB_ZEROFILL = 0xc;
const S_THREAD_LOCAL_ZEROFILL = 0x12;
/** a universal binary lists a handful of architectures; a Java class file has its version here (≥ 45) */
const MAX_FAT_ARCHS = 30;
const MAX_COMMANDS_BYTES = 16 * 1024 * 1024;

export function parseMachO(ra: RandomAccess): Executable {
  let base = 0;
  const first = readExact(ra, 0, 8, 'Mach-O header');
  if (first.readUInt32BE(0) === 0xcafebabe) {
    const n = first.readUInt32BE(4);
    if (n === 0 || n > MAX_FAT_ARCHS) throw new ExeError('not a universal binary (a Java class file?)', true);
    base = readExact(ra, 8, 20, 'universal binary arch table').readUInt32BE(8);
  }
  const magic = readExact(ra, base, 4, 'Mach-O header').readUInt32BE(0);
  const is64 = magic === 0xfeedfacf || magic === 0xcffaedfe;
  const littleEndian = magic === 0xcefaedfe || magic === 0xcffaedfe;
  if (!is64 && magic !== 0xfeedface && magic !== 0xcefaedfe) throw new ExeError('no Mach-O magic');
  const r = littleEndian ? LE : BE;
  const hsize = is64 ? 32 : 28;
  const h = readExact(ra, base, hsize, 'Mach-O header');
  const ncmds = r.u32(h, 16);
  const sizeofcmds = r.u32(h, 20);
  if (sizeofcmds > MAX_COMMANDS_BYTES)
    throw new ExeError(`Mach-O header declares ${sizeofcmds} bytes of load commands`);
  const cmds = readExact(ra, base + hsize, sizeofcmds, 'Mach-O load commands');
  const sections: Section[] = [];
  const segments: Segment[] = [];
  let dataStart: number | undefined;
  let o = 0;
  for (let i = 0; i < ncmds; i++) {
    if (o + 8 > cmds.length) throw new ExeError(`Mach-O load command ${i} runs past the load commands`);
    const cmd = r.u32(cmds, o);
    const size = r.u32(cmds, o + 4);
    if (size < 8 || o + size > cmds.length)
      throw new ExeError(`Mach-O load command ${i} has a bad size ${size}`);
    if (cmd === LC_SEGMENT_64 || cmd === LC_SEGMENT) {
      const w = cmd === LC_SEGMENT_64;
      const word = (at: number) => (w ? r.u64(cmds, at) : r.u32(cmds, at));
      const segname = cString(cmds, o + 8, 16);
      const p = o + 24;
      const vmaddr = word(p);
      const fileoff = word(w ? p + 16 : p + 8);
      const filesize = word(w ? p + 24 : p + 12);
      const initprot = r.u32(cmds, w ? p + 36 : p + 20);
      const nsects = r.u32(cmds, w ? p + 40 : p + 24);
      const writable = (initprot & VM_PROT_WRITE) !== 0;
      segments.push({
        addr: vmaddr,
        offset: base + fileoff,
        fileSize: filesize,
        writable,
        executable: (initprot & VM_PROT_EXECUTE) !== 0,
      });
      // Go's debug/buildinfo: without __go_buildinfo, the first non-empty writable segment
      if (dataStart === undefined && writable && vmaddr !== 0 && filesize !== 0 && segname !== '__PAGEZERO') {
        dataStart = vmaddr;
      }
      const secSize = w ? 80 : 68;
      let s = o + (w ? 72 : 56);
      for (let j = 0; j < nsects && s + secSize <= o + size; j++, s += secSize) {
        const flags = r.u32(cmds, w ? s + 64 : s + 56);
        const type = flags & 0xff;
        const zerofill = type === S_ZEROFILL || type === S_GB_ZEROFILL || type === S_THREAD_LOCAL_ZEROFILL;
        sections.push({
          name: cString(cmds, s, 16),
          segment: cString(cmds, s + 16, 16),
          addr: w ? r.u64(cmds, s + 32) : r.u32(cmds, s + 32),
          offset: base + r.u32(cmds, w ? s + 48 : s + 40),
          fileSize: zerofill ? 0 : w ? r.u64(cmds, s + 40) : r.u32(cmds, s + 36),
          writable,
        });
      }
    }
    o += size;
  }
  return { format: 'macho', ptrSize: is64 ? 8 : 4, littleEndian, sections, segments, dataStart };
}
