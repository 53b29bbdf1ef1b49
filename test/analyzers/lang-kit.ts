/**
 * Shared pieces of the Go, Java, Ruby, Rust and .NET analyzer tests: the trivy-derived fixture cases
 * under test/fixtures/langpkg/<ecosystem>/<case>/ (input file + expected.json), a runner that feeds a
 * file through an analyzer as the scan pipeline does (wants with size and mode, then analyze from memory
 * or from a spool file), and the compiled fixtures of test/scripts/make-lang-binaries.sh.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Analyzer, FileInput } from '../../src/analyzers/types.js';
import type { Package } from '../../src/model/package.js';
import { FIXTURES } from './helpers.js';

export const LANGPKG = join(FIXTURES, 'langpkg');
const SCRIPTS = join(FIXTURES, '..', 'scripts');

export interface ExpectedPackage {
  name: string;
  version?: string;
  relationship?: string;
  dev?: boolean;
  licenses?: string[];
}

export interface LangCase {
  ecosystem: string;
  case: string;
  dir: string;
  input: string;
  expectError: boolean;
  packageCount: number;
  packages: ExpectedPackage[];
  parserOptions: Record<string, unknown>;
}

/** Every case of an ecosystem folder (the folder is the source of truth, not a shared index). */
export function langCases(ecosystem: string): LangCase[] {
  const root = join(LANGPKG, ecosystem);
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'expected.json')))
    .map((d) => {
      const dir = join(root, d.name);
      const e = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
      return {
        ecosystem,
        case: d.name,
        dir,
        input: e.input,
        expectError: e.expect_error === true,
        packageCount: e.package_count,
        packages: e.packages ?? [],
        parserOptions: e.parser_options ?? {},
      };
    });
}

export interface LangRun {
  wanted: boolean;
  packages: Package[];
  warnings: string[];
}

/**
 * Runs one file through an analyzer at an image path: `wants(path, meta)` first (meta from the file on
 * disk unless given), then `analyze` from memory or from a spool file. Analyzers must not throw.
 */
export async function runLang(
  analyzer: Analyzer,
  path: string,
  abs: string,
  mode: 'data' | 'spool' = 'data',
  meta?: { size: number; mode: number },
): Promise<LangRun> {
  const st = statSync(abs);
  const wanted = analyzer.wants(path, meta ?? { size: st.size, mode: st.mode });
  const warnings: string[] = [];
  const input: FileInput =
    mode === 'data'
      ? { path, size: st.size, data: readFileSync(abs) }
      : { path, size: st.size, spoolPath: abs };
  const out = await analyzer.analyze(input, { warn: (r) => warnings.push(r) });
  return { wanted, packages: out.packages ?? [], warnings };
}

/** `name@version`, sorted: the set comparisons of the tests. */
export function ids(pkgs: readonly { name: string; version?: string }[]): string[] {
  return [...new Set(pkgs.map((p) => `${p.name}@${p.version}`))].sort();
}

/** Expected packages that have a version (trivy lists the main module of a go.mod without one). */
export function expectedVersioned(c: LangCase): ExpectedPackage[] {
  return c.packages.filter((p) => p.version !== undefined && p.version !== '');
}

/** Checks `direct` against trivy's relationship where it gives one (direct / indirect). */
export function relationshipMismatches(c: LangCase, got: readonly Package[]): string[] {
  const out: string[] = [];
  for (const e of c.packages) {
    if (e.relationship !== 'direct' && e.relationship !== 'indirect') continue;
    const p = got.find((g) => g.name === e.name && g.version === e.version);
    if (!p) continue;
    if (p.direct !== (e.relationship === 'direct'))
      out.push(`${e.name}@${e.version}: direct=${p.direct}, want ${e.relationship}`);
  }
  return out;
}

let built: Promise<string> | undefined;

/**
 * The compiled fixtures (Go/Rust binaries, Java archives) built by make-lang-binaries.sh on first use and
 * cached under $MOAT_TEST_IMAGES/lang-binaries (a stamp makes later runs instant).
 */
export function langBinaries(): Promise<string> {
  built ??= (async () => {
    const out = join(process.env.MOAT_TEST_IMAGES ?? '/var/tmp/moat-test-images', 'lang-binaries');
    await promisify(execFile)('bash', [join(SCRIPTS, 'make-lang-binaries.sh'), out], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: 15 * 60 * 1000,
    });
    return out;
  })();
  return built;
}
