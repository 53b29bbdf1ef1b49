/**
 * The language package fixtures copied from the shared set (test/fixtures/langpkg, see its SOURCES.md), and
 * the comparison of an analyzer's output with a case's expected.json, which holds trivy's test expectations.
 * Where moat reports differently on purpose, the adjustment is made here, in one place, with its reason.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANALYZERS } from '../../src/analyzers/index.js';
import type { Analyzer } from '../../src/analyzers/types.js';
import type { Package } from '../../src/model/package.js';
import { FIXTURES, type RunResult, runAnalyzer } from './helpers.js';

export const LANGPKG = join(FIXTURES, 'langpkg');

export interface LangCase {
  ecosystem: string;
  case: string;
  dir: string;
  input: string;
  expect_error: boolean;
  package_count: number;
}

export interface ExpectedPackage {
  name: string;
  version?: string;
  dev?: boolean;
  relationship?: string;
  licenses?: string[] | null;
}

export interface Expected {
  expect_error: boolean;
  error_contains?: string;
  package_count: number;
  parser_options?: Record<string, unknown>;
  packages: ExpectedPackage[];
}

export function langCases(ecosystem: string): LangCase[] {
  const index = JSON.parse(readFileSync(join(LANGPKG, 'index.json'), 'utf8')) as { cases: LangCase[] };
  return index.cases.filter((c) => c.ecosystem === ecosystem);
}

export function inputOf(c: LangCase): string {
  return join(LANGPKG, c.dir, c.input);
}

export function expectedOf(c: LangCase): Expected {
  return JSON.parse(readFileSync(join(LANGPKG, c.dir, 'expected.json'), 'utf8')) as Expected;
}

/** Runs the one registered analyzer that wants `imagePath` (asserting there is exactly one) on a case's input. */
export async function runCase(
  c: LangCase,
  imagePath: string,
  analyzerName: string,
  mode: 'data' | 'spool' = 'data',
): Promise<RunResult & { analyzer: Analyzer }> {
  const wanting = ANALYZERS.filter((a) => a.wants(imagePath));
  assert.deepEqual(
    wanting.map((a) => a.name),
    [analyzerName],
    `${imagePath} must be wanted by ${analyzerName} alone`,
  );
  const analyzer = wanting[0]!;
  const res = await runAnalyzer(analyzer, [{ path: imagePath, abs: inputOf(c) }], mode);
  return { ...res, analyzer };
}

export const key = (name: string, version: string | undefined) => `${name}@${version ?? ''}`;

/** License names as a set: moat joins several with ", " and keeps "A or B" as written; trivy lists them. */
export function licenseTokens(l: string | string[] | null | undefined): string[] {
  const list = Array.isArray(l) ? l : l ? [l] : [];
  return [
    ...new Set(
      list
        .flatMap((x) => x.split(/, | or | OR /))
        .map((x) => x.trim())
        .filter((x) => x !== ''),
    ),
  ].sort();
}

export interface CompareOptions {
  /** expected packages are only the non-dev ones (trivy drops dev packages of some formats) */
  expectedOmitsDev?: boolean;
  /** maps an expected license list to what moat reports (documented differences) */
  licenses?: (l: string[] | null | undefined) => string[] | undefined;
}

/**
 * Compares name+version sets, and dev, direct and license where the expected package states them. Expected
 * entries that repeat a name+version (pnpm peer variants, npm nested copies) are merged as moat merges them:
 * dev when every copy is dev, direct when any copy is.
 */
export function compareWithExpected(got: Package[], exp: Expected, opts: CompareOptions = {}): void {
  const want = new Map<string, { dev?: boolean; direct?: boolean | null; licenses?: string[] }>();
  // trivy's expectations come from Go literals, where `Dev: false` is omitted: once a case states dev for
  // one package, an absent dev means false
  const statesDev = exp.packages.some((p) => p.dev !== undefined);
  for (const p of exp.packages) {
    const k = key(p.name, p.version);
    const prev = want.get(k) ?? {};
    if (statesDev) {
      const dev = p.dev ?? false;
      prev.dev = prev.dev === undefined ? dev : prev.dev && dev;
    }
    if (p.relationship === 'direct' || p.relationship === 'indirect')
      prev.direct = prev.direct === true || p.relationship === 'direct';
    // "unknown": the format cannot tell (npm lockfile v1), so moat leaves `direct` unset
    else if (p.relationship === 'unknown') prev.direct = null;
    if (p.licenses !== undefined) {
      const l = opts.licenses ? opts.licenses(p.licenses) : (p.licenses ?? undefined);
      if (l !== undefined) prev.licenses = licenseTokens(l);
    }
    want.set(k, prev);
  }
  const gotKeys = got.map((p) => key(p.name, p.version));
  assert.equal(new Set(gotKeys).size, gotKeys.length, 'one package per name and version');
  const compared = opts.expectedOmitsDev ? got.filter((p) => p.dev !== true) : got;
  assert.deepEqual(compared.map((p) => key(p.name, p.version)).sort(), [...want.keys()].sort());
  if (opts.expectedOmitsDev) {
    for (const p of got)
      if (!want.has(key(p.name, p.version))) assert.equal(p.dev, true, `${key(p.name, p.version)}`);
  }
  for (const p of compared) {
    const w = want.get(key(p.name, p.version))!;
    const k = key(p.name, p.version);
    if (w.dev !== undefined) assert.equal(p.dev ?? false, w.dev, `${k} dev`);
    if (w.direct !== undefined) assert.equal(p.direct, w.direct ?? undefined, `${k} direct`);
    if (w.licenses !== undefined) assert.deepEqual(licenseTokens(p.license), w.licenses, `${k} license`);
  }
}
