import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnalysisOutput, Analyzer, FileInput } from '../../src/analyzers/types.js';
import type { Package } from '../../src/model/package.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const PKGDB = join(FIXTURES, 'pkgdb');

export interface PkgdbCase {
  format: string;
  case: string;
  dir: string;
  input: string;
  files: string[];
  package_count: number;
  expect_error: boolean;
  license: string;
}

export function pkgdbCases(format: string): PkgdbCase[] {
  const index = JSON.parse(readFileSync(join(PKGDB, 'index.json'), 'utf8')) as { cases: PkgdbCase[] };
  return index.cases.filter((c) => c.format === format);
}

export function caseDir(c: PkgdbCase): string {
  return join(PKGDB, c.format, c.case);
}

// biome-ignore lint/suspicious/noExplicitAny: expected.json files are free-form per format
export function expectedOf(c: PkgdbCase): any {
  return JSON.parse(readFileSync(join(caseDir(c), 'expected.json'), 'utf8'));
}

export interface RunResult {
  packages: Package[];
  outputs: AnalysisOutput[];
  warnings: string[];
  /** files the analyzer asked for */
  wanted: string[];
}

/**
 * Feeds files (image path → file on disk) through an analyzer as the scan pipeline does: `wants` decides,
 * then `analyze` gets the content in memory (`data`) or as a spool file on disk (`spool`).
 */
export async function runAnalyzer(
  analyzer: Analyzer,
  files: { path: string; abs: string }[],
  mode: 'data' | 'spool' = 'data',
): Promise<RunResult> {
  const res: RunResult = { packages: [], outputs: [], warnings: [], wanted: [] };
  for (const f of files) {
    if (!analyzer.wants(f.path)) continue;
    res.wanted.push(f.path);
    const size = statSync(f.abs).size;
    const input: FileInput =
      mode === 'data'
        ? { path: f.path, size, data: readFileSync(f.abs) }
        : { path: f.path, size, spoolPath: f.abs };
    const out = await analyzer.analyze(input, { warn: (r) => res.warnings.push(r) });
    res.outputs.push(out);
    if (out.packages) res.packages.push(...out.packages);
  }
  return res;
}

/** The files of a pkgdb case, at their image paths. */
export function caseFiles(
  c: PkgdbCase,
  mapPath: (p: string) => string = (p) => p,
): { path: string; abs: string }[] {
  return c.files.map((p) => ({ path: mapPath(p), abs: join(caseDir(c), p) }));
}
