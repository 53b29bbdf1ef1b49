/**
 * Go modules named by a `go.sum` (https://go.dev/ref/mod#go-sum-files): `module version[/go.mod] hash`
 * lines, one entry per module at the highest version listed (the `/go.mod`-only lines included), as
 * Trivy reads it. go.sum also records modules the build never compiles in (the go.mod files of every
 * version the resolver looked at), so it is a weak inventory: the pipeline drops these packages when a
 * go.mod in the same directory declares the requirements (src/scan/dedupe.ts) and keeps them for a
 * go.sum alone. Marked with `extra.goSum`.
 */
import { go as goScheme } from '../versioning/go.js';
import { PackageSet } from './lang/packages.js';
import { basename, readText } from './lang/text.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { boundedWarn } from './warn.js';

const MiB = 1024 * 1024;
/** the module cache keeps downloaded modules' own files: not the application's */
const MODULE_CACHE = /(?:^|\/)pkg\/mod\/.*@[^/]+\//;

/** Module path → highest version, from go.sum text; malformed lines are reported through `warn`. */
export function parseGoSum(text: string, warn: (reason: string) => void): Map<string, string> {
  const best = new Map<string, string>();
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.trim();
    if (line === '') continue;
    const f = line.split(/\s+/);
    if (f.length !== 3 || !f[2]!.includes(':') || !f[1]!.startsWith('v')) {
      warn(`line ${lineNo}: not "module version hash"`);
      continue;
    }
    const module = f[0]!;
    const version = f[1]!.endsWith('/go.mod') ? f[1]!.slice(0, -'/go.mod'.length) : f[1]!;
    const seen = best.get(module);
    if (seen === undefined || goScheme.compare(version, seen) > 0) best.set(module, version);
  }
  return best;
}

function analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput {
  const warn = boundedWarn(ctx);
  const modules = parseGoSum(readText(file), warn);
  warn.flush();
  const set = new PackageSet('go', file.path, 'lockfile');
  for (const [name, version] of modules) set.add({ name, version, extra: { goSum: true } });
  return { packages: set.list() };
}

export const gosum = {
  name: 'gosum',
  version: ANALYZER_VERSIONS['gosum'],
  maxSize: 64 * MiB,
  wants: (path: string) => basename(path) === 'go.sum' && !MODULE_CACHE.test(path),
  analyze,
} satisfies Analyzer;
