/**
 * Cargo.lock, formats v1 to v4 (cargo's src/cargo/core/resolver/encode.rs): one `[[package]]` table per
 * crate with `name`, `version`, `source` (absent for the workspace's own crates) and `dependencies`
 * ("name", "name version" or "name version (source)"; v1 always writes the long form). Crates that a
 * workspace member depends on are direct; workspace members are reported too (they are what the lock
 * belongs to), marked `extra.source = "local"`.
 */
import type { Package } from '../model/package.js';
import { readAll } from './input.js';
import { parseToml, type TomlTable } from './lang/toml.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';

const MiB = 1024 * 1024;
/** crates in `~/.cargo/registry` or git checkouts ship their own (development) lockfiles */
const CARGO_HOME = /(?:^|\/)\.cargo\/(?:registry|git)\//;

export interface LockedCrate {
  name: string;
  version: string;
  source?: string;
  dependencies: string[];
}

/** The crates of a Cargo.lock; throws TomlError when it is not TOML, or Error when it has no packages table. */
export function parseCargoLock(text: string): LockedCrate[] {
  const doc = parseToml(text);
  const list = doc.package;
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new Error('"package" is not an array of tables');
  const out: LockedCrate[] = [];
  for (const p of list) {
    if (typeof p !== 'object' || Array.isArray(p)) continue;
    const t = p as TomlTable;
    if (typeof t.name !== 'string' || typeof t.version !== 'string' || !t.name || !t.version) continue;
    const c: LockedCrate = { name: t.name, version: t.version, dependencies: [] };
    if (typeof t.source === 'string') c.source = t.source;
    if (Array.isArray(t.dependencies)) {
      for (const d of t.dependencies) if (typeof d === 'string') c.dependencies.push(d);
    }
    out.push(c);
  }
  return out;
}

/** Marks the crates that workspace members depend on; undefined `direct` when the lock has no member. */
function directCrates(crates: LockedCrate[]): Set<LockedCrate> | undefined {
  const members = crates.filter((c) => c.source === undefined);
  if (members.length === 0) return undefined;
  const byName = new Map<string, LockedCrate[]>();
  for (const c of crates) {
    const l = byName.get(c.name);
    if (l) l.push(c);
    else byName.set(c.name, [c]);
  }
  const direct = new Set<LockedCrate>();
  for (const m of members) {
    for (const dep of m.dependencies) {
      const [name, version] = dep.split(' ', 2);
      const cands = byName.get(name!) ?? [];
      const hit =
        version === undefined && cands.length === 1 ? cands[0] : cands.find((c) => c.version === version);
      if (hit) direct.add(hit);
    }
  }
  return direct;
}

function analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput {
  let crates: LockedCrate[];
  try {
    crates = parseCargoLock(readAll(file).toString('utf8'));
  } catch (e) {
    // TomlError names the line; the other errors are parseCargoLock's own shape checks
    ctx.warn(`malformed Cargo.lock: ${(e as Error).message}`);
    return {};
  }
  const direct = directCrates(crates);
  const seen = new Set<string>();
  const packages: Package[] = [];
  for (const c of crates) {
    const key = `${c.name}@${c.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const pkg: Package = {
      type: 'cargo',
      name: c.name,
      version: c.version,
      path: file.path,
      foundBy: 'lockfile',
    };
    if (c.source === undefined) pkg.extra = { source: 'local' };
    else if (direct) pkg.direct = direct.has(c);
    if (c.source?.startsWith('git+')) pkg.extra = { source: c.source };
    packages.push(pkg);
  }
  return { packages };
}

/** Crates locked by Cargo. */
export const cargoLock = {
  name: 'cargo-lock',
  version: ANALYZER_VERSIONS['cargo-lock'],
  maxSize: 64 * MiB,
  wants: (path: string) => (path === 'Cargo.lock' || path.endsWith('/Cargo.lock')) && !CARGO_HOME.test(path),
  analyze,
} satisfies Analyzer;
