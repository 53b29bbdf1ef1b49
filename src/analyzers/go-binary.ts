/**
 * Go modules compiled into a binary, from the build info the Go linker embeds (what `go version -m`
 * prints), and the toolchain version as the `stdlib` package (the name OSV's Go ecosystem gives the
 * standard library). Layout per Go's debug/buildinfo: a 32-byte header starting `\xff Go buildinf:`, at
 * the start of the `.go.buildinfo` (ELF) / `__go_buildinfo` (Mach-O) section, or 16-byte aligned in the
 * first 64 KiB of the first writable data (older linkers, PE); then the Go version and the module info,
 * inline as varint-prefixed strings (Go ≥ 1.18, flag bit 2) or as pointers to Go string headers.
 */
import type { Package } from '../model/package.js';
import {
  type Executable,
  ExeError,
  exeFormat,
  findSection,
  openExecutable,
  readAtAddress,
} from './bin/exe.js';
import { openRandomAccess, type RandomAccess } from './input.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** a Go binary holds the runtime: even a stripped hello-world is over 1 MiB */
const MIN_SIZE = 256 * KiB;
const MAX_SIZE = 256 * MiB;
const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_SIZE = 32;
const ALIGN = 16;
/** debug/buildinfo searches this much of the data segment */
const SEARCH_SIZE = 64 * KiB;
/** build info of the largest real binaries (kubelet, terraform) is under 100 KiB */
const MAX_STRING = 4 * MiB;
/** cmd/go/internal/modload's infoStart/infoEnd sentinels around the module info: 16 bytes each */
const SENTINEL = 16;

export interface GoBuildInfo {
  /** as the toolchain wrote it: `go1.19.8`, `go1.21.0 X:boringcrypto`, `devel go1.23-abc...` */
  goVersion: string;
  /** the module info text (`path`, `mod`, `dep`, `=>`, `build` lines); empty for GOPATH-mode builds */
  modInfo: string;
}

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
  /** a `=>` line: the module that was compiled in its place */
  replace?: GoModule;
}

export interface GoModInfo {
  /** main package path (`path` line) */
  path?: string;
  /** main module (`mod` line) */
  main?: GoModule;
  deps: GoModule[];
  /** `build` lines: key → value */
  settings: Record<string, string>;
}

/**
 * Reads the build info of a Go executable. Undefined when the file is no Go binary; an ExeError when the
 * blob is there but cut short.
 */
export function readGoBuildInfo(exe: Executable, ra: RandomAccess): GoBuildInfo | undefined {
  const at = locate(exe, ra);
  if (at === undefined) return undefined;
  const head = ra.read(at, HEADER_SIZE);
  if (head.length < HEADER_SIZE) throw new ExeError('the Go build info header is cut short');
  const ptrSize = head[14]!;
  const flags = head[15]!;
  let vers: Buffer;
  let mod: Buffer;
  if (flags & 2) {
    const v = varintString(ra, at + HEADER_SIZE);
    vers = v.value;
    mod = varintString(ra, v.next).value;
  } else {
    // before Go 1.18: two pointers to Go string headers {data pointer, length}
    if (ptrSize !== 4 && ptrSize !== 8)
      throw new ExeError(`the Go build info declares a ${ptrSize}-byte pointer size`);
    const big = flags !== 0;
    const ptr = (b: Buffer, o: number) =>
      ptrSize === 8
        ? Number(big ? b.readBigUInt64BE(o) : b.readBigUInt64LE(o))
        : big
          ? b.readUInt32BE(o)
          : b.readUInt32LE(o);
    const str = (addr: number): Buffer => {
      const hdr = readAtAddress(exe, ra, addr, 2 * ptrSize);
      if (!hdr) throw new ExeError(`the Go build info points at unmapped address 0x${addr.toString(16)}`);
      const data = ptr(hdr, 0);
      const len = ptr(hdr, ptrSize);
      if (len === 0) return Buffer.alloc(0);
      if (len > MAX_STRING) throw new ExeError(`a Go build info string is ${len} bytes long`);
      const b = readAtAddress(exe, ra, data, len);
      if (!b) throw new ExeError(`the Go build info points at unmapped address 0x${data.toString(16)}`);
      return b;
    };
    vers = str(ptr(head, 16));
    mod = str(ptr(head, 16 + ptrSize));
  }
  if (vers.length === 0) return undefined;
  let modInfo = '';
  if (mod.length >= 2 * SENTINEL + 1 && mod[mod.length - SENTINEL - 1] === 0x0a) {
    modInfo = mod.toString('utf8', SENTINEL, mod.length - SENTINEL);
  }
  return { goVersion: vers.toString('utf8'), modInfo };
}

/** File offset of the build info header, if the binary has one. */
function locate(exe: Executable, ra: RandomAccess): number | undefined {
  const sec = findSection(exe, '.go.buildinfo') ?? findSection(exe, '__go_buildinfo');
  if (sec && sec.fileSize >= HEADER_SIZE) {
    if (sec.offset + HEADER_SIZE > ra.size)
      throw new ExeError('the .go.buildinfo section lies past the end of the file');
    const head = ra.read(sec.offset, MAGIC.length);
    if (head.equals(MAGIC)) return sec.offset;
  }
  if (exe.dataStart === undefined) return undefined;
  const seg = exe.segments.find((s) => exe.dataStart! >= s.addr && exe.dataStart! < s.addr + s.fileSize);
  if (!seg) return undefined;
  const start = seg.offset + (exe.dataStart - seg.addr);
  const data = ra.read(start, Math.min(SEARCH_SIZE, seg.fileSize - (exe.dataStart - seg.addr)));
  for (let i = data.indexOf(MAGIC); i >= 0; i = data.indexOf(MAGIC, i + 1)) {
    if (i % ALIGN === 0) return start + i;
  }
  return undefined;
}

function varintString(ra: RandomAccess, pos: number): { value: Buffer; next: number } {
  const head = ra.read(pos, 10);
  let len = 0;
  let shift = 0;
  let i = 0;
  for (; ; i++) {
    if (i >= head.length) throw new ExeError('the Go build info is cut short');
    const b = head[i]!;
    len += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) break;
    if (shift > 35) throw new ExeError('the Go build info has a malformed string length');
  }
  if (len > MAX_STRING) throw new ExeError(`a Go build info string is ${len} bytes long`);
  const value = ra.read(pos + i + 1, len);
  if (value.length < len) throw new ExeError('the Go build info is cut short');
  return { value, next: pos + i + 1 + len };
}

/** Parses module info text as debug/buildinfo.ParseBuildInfo does (tab-separated fields, one per line). */
export function parseGoModInfo(text: string): GoModInfo {
  const out: GoModInfo = { deps: [], settings: {} };
  let last: GoModule | undefined;
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    const mod = (): GoModule => {
      const m: GoModule = { path: f[1] ?? '', version: f[2] ?? '' };
      if (f[3]) m.sum = f[3];
      return m;
    };
    switch (f[0]) {
      case 'path':
        out.path = f[1];
        break;
      case 'mod':
        last = out.main = mod();
        break;
      case 'dep':
        last = mod();
        out.deps.push(last);
        break;
      case '=>':
        if (last) last.replace = mod();
        last = undefined;
        break;
      case 'build': {
        const eq = (f[1] ?? '').indexOf('=');
        if (eq > 0) out.settings[f[1]!.slice(0, eq)] = f[1]!.slice(eq + 1);
        break;
      }
    }
  }
  return out;
}

/**
 * The standard library's version as OSV's Go ecosystem writes it (`go1.19.8` → `1.19.8`, `go1.20` →
 * `1.20.0`, `go1.21rc2` → `1.21.0-rc.2`), after golang.org/x/vuln's GoTagToSemver without the `v`.
 * Undefined for development builds (`devel go1.23-...`).
 */
export function goStdlibVersion(goVersion: string): string | undefined {
  const tag = goVersion.trim().split(/\s+/, 1)[0] ?? '';
  if (tag === 'go1') return '1.0.0';
  const m = /^go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(alpha|beta|rc)(\d+))?$/.exec(tag);
  if (!m || tag === 'go1.0') return undefined;
  const v = `${m[1]}.${m[2] ?? 0}.${m[3] ?? 0}`;
  return m[4] ? `${v}-${m[4]}.${m[5]}` : v;
}

/** The packages a Go binary's build info names. */
export function goBinaryPackages(info: GoBuildInfo, path: string): Package[] {
  const mi = parseGoModInfo(info.modInfo);
  const pkgs: Package[] = [];
  const pkg = (name: string, version: string, extra?: Package['extra']): Package => {
    const p: Package = { type: 'go', name, version, path, foundBy: 'binary' };
    if (extra) p.extra = extra;
    return p;
  };
  const std = goStdlibVersion(info.goVersion);
  if (std) pkgs.push(pkg('stdlib', std, { goVersion: info.goVersion }));
  // `go build` in a checkout stamps the main module "(devel)" (before Go 1.24): no version to match
  const main = mi.main?.replace ?? mi.main;
  if (main?.path && main.version && main.version !== '(devel)')
    pkgs.push(pkg(main.path, main.version, { main: true }));
  for (const d of mi.deps) {
    // a replacement by a local directory (no version, or "(devel)"): its code is not the module's release
    const m = d.replace ?? d;
    if (!m.path || !m.version || m.version === '(devel)') continue;
    pkgs.push(pkg(m.path, m.version, d.replace ? { replaces: `${d.path}@${d.version}` } : undefined));
  }
  return pkgs;
}

function wants(path: string, meta?: { size: number; mode: number }): boolean {
  if (!meta || meta.size < MIN_SIZE || meta.size > MAX_SIZE) return false;
  return (meta.mode & 0o111) !== 0 || path.endsWith('.exe');
}

function analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput {
  const ra = openRandomAccess(file);
  try {
    const format = exeFormat(ra.read(0, 4));
    if (!format) return {};
    try {
      const info = readGoBuildInfo(openExecutable(ra, format), ra);
      return info ? { packages: goBinaryPackages(info, file.path) } : {};
    } catch (e) {
      if (!(e instanceof ExeError)) throw e;
      if (!e.foreign) ctx.warn(`unreadable ${format.toUpperCase()} executable: ${e.message}`);
      return {};
    }
  } finally {
    ra.close();
  }
}

/** Go modules and the Go standard library of Go executables (ELF, PE, Mach-O). */
export const goBinary = {
  name: 'go-binary',
  version: ANALYZER_VERSIONS['go-binary'],
  maxSize: MAX_SIZE,
  wants,
  analyze,
} satisfies Analyzer;
