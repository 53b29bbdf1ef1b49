/**
 * Crates compiled into a Rust binary built with cargo-auditable: a `.dep-v0` section (ELF, PE; Mach-O
 * `__DATA,.dep-v0`) holding zlib-compressed JSON, `{"packages":[{"name","version","source","kind",
 * "dependencies","root"}]}` (https://github.com/rust-secure-code/cargo-auditable/blob/master/PARAMETERS.md
 * and its `auditable-serde` crate). Build-time dependencies (`"kind":"build"`: build scripts, proc macros)
 * are not linked into the binary and are left out, as Trivy and cargo-audit do.
 */
import { inflateSync } from 'node:zlib';
import type { Package } from '../model/package.js';
import { ExeError, exeFormat, findSection, openExecutable } from './bin/exe.js';
import { openRandomAccess } from './input.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MIN_SIZE = 4 * KiB;
const MAX_SIZE = 256 * MiB;
const SECTION = '.dep-v0';
/** real dependency lists are tens of kilobytes compressed, a few hundred inflated */
const MAX_COMPRESSED = 8 * MiB;
const MAX_JSON = 8 * MiB;

interface AuditablePackage {
  name?: unknown;
  version?: unknown;
  source?: unknown;
  kind?: unknown;
  root?: unknown;
}

/** The packages of cargo-auditable's JSON; throws (SyntaxError, TypeError) on a malformed document. */
export function parseAuditableJson(json: string, path: string): Package[] {
  const doc = JSON.parse(json) as { packages?: unknown };
  if (!Array.isArray(doc.packages)) throw new TypeError('no "packages" array');
  const out: Package[] = [];
  for (const p of doc.packages as AuditablePackage[]) {
    if (typeof p !== 'object' || p === null) continue;
    if (typeof p.name !== 'string' || typeof p.version !== 'string' || !p.name || !p.version) continue;
    if (p.kind === 'build') continue;
    const pkg: Package = { type: 'cargo', name: p.name, version: p.version, path, foundBy: 'binary' };
    const extra: Record<string, string | boolean> = {};
    if (typeof p.source === 'string') extra.source = p.source;
    // the crate the binary was built from
    if (p.root === true) extra.main = true;
    if (Object.keys(extra).length > 0) pkg.extra = extra;
    out.push(pkg);
  }
  return out;
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
    let section: ReturnType<typeof findSection>;
    try {
      section = findSection(openExecutable(ra, format), SECTION);
    } catch (e) {
      // a damaged executable is reported once, by the go-binary analyzer, which reads every executable too
      if (e instanceof ExeError) return {};
      throw e;
    }
    if (!section) return {};
    if (section.fileSize > MAX_COMPRESSED) {
      ctx.warn(`the ${SECTION} section is ${section.fileSize} bytes, over the ${MAX_COMPRESSED}-byte cap`);
      return {};
    }
    const raw = ra.read(section.offset, section.fileSize);
    if (raw.length < section.fileSize) {
      ctx.warn(`the ${SECTION} section lies past the end of the file (truncated binary?)`);
      return {};
    }
    let json: string;
    try {
      json = inflateSync(raw, { maxOutputLength: MAX_JSON }).toString('utf8');
    } catch (e) {
      ctx.warn(
        `the ${SECTION} section is not zlib data or inflates past ${MAX_JSON} bytes: ${(e as Error).message}`,
      );
      return {};
    }
    try {
      return { packages: parseAuditableJson(json, file.path) };
    } catch (e) {
      ctx.warn(`the ${SECTION} section holds malformed cargo-auditable JSON: ${(e as Error).message}`);
      return {};
    }
  } finally {
    ra.close();
  }
}

/** Crates of Rust executables built with cargo-auditable. */
export const rustBinary = {
  name: 'rust-binary',
  version: ANALYZER_VERSIONS['rust-binary'],
  maxSize: MAX_SIZE,
  wants,
  analyze,
} satisfies Analyzer;
