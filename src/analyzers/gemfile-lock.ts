/**
 * Bundler's lockfile (`Gemfile.lock`, or `gems.locked`): every `specs:` list of the GEM, GIT and PATH
 * sources (4-space `name (version[-platform])` lines; 6-space lines are their requirements), and the
 * DEPENDENCIES section, which lists the Gemfile's own gems: those are direct.
 */
import type { Package } from '../model/package.js';
import { readAll, splitLines } from './input.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { boundedWarn } from './warn.js';

const MiB = 1024 * 1024;
const SOURCES = new Set(['GEM', 'GIT', 'PATH', 'PLUGIN SOURCE']);

export interface LockedGem {
  name: string;
  version: string;
  /** lock section: GEM (a gem server), GIT, PATH */
  source: string;
  platform?: string;
  direct: boolean;
}

/** Parses Gemfile.lock text; `warn` gets lines in specs lists that are not `name (version)`. */
export function parseGemfileLock(text: string, warn: (reason: string) => void): LockedGem[] {
  const gems = new Map<string, LockedGem>();
  const direct = new Set<string>();
  let section = '';
  let inSpecs = false;
  let lineNo = 0;
  for (const line of splitLines(text)) {
    lineNo++;
    if (line === '') continue;
    if (line[0] !== ' ') {
      section = line.trim();
      inSpecs = false;
      continue;
    }
    if (SOURCES.has(section)) {
      if (line === '  specs:') inSpecs = true;
      else if (/^ {2}\S/.test(line)) inSpecs = false;
      else if (inSpecs && /^ {4}\S/.test(line)) {
        const m = /^ {4}(\S+) \(([^)\s]+)\)$/.exec(line);
        if (!m) {
          warn(`line ${lineNo}: not a "name (version)" spec: ${line.trim()}`);
          continue;
        }
        // platform gems carry their platform after the version: nokogiri (1.13.6-x86_64-linux)
        const dash = m[2]!.indexOf('-');
        const version = dash < 0 ? m[2]! : m[2]!.slice(0, dash);
        const g: LockedGem = { name: m[1]!, version, source: section, direct: false };
        if (dash >= 0) g.platform = m[2]!.slice(dash + 1);
        const key = `${g.name}@${g.version}`;
        if (!gems.has(key)) gems.set(key, g);
      }
    } else if (section === 'DEPENDENCIES') {
      // "  rails (~> 7.0)", "  my_gem!" (a git/path source)
      const m = /^ {2}([^\s!(]+)/.exec(line);
      if (m) direct.add(m[1]!);
    }
  }
  const out = [...gems.values()];
  for (const g of out) g.direct = direct.has(g.name);
  return out;
}

/** an installed gem's own lockfile (gems/NAME-VERSION/Gemfile.lock) locks its development setup, not the app */
const IN_GEM_DIR = /(?:^|\/)gems\/[^/]+-\d[^/]*\/[^/]+$/;

function wants(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return (base === 'Gemfile.lock' || base === 'gems.locked') && !IN_GEM_DIR.test(path);
}

function analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput {
  const text = readAll(file).toString('utf8');
  const warn = boundedWarn(ctx);
  const gems = parseGemfileLock(text, warn);
  warn.flush();
  if (gems.length === 0 && !/^(GEM|GIT|PATH)$/m.test(text)) {
    ctx.warn('no GEM, GIT or PATH section: not a Bundler lockfile');
    return {};
  }
  const packages = gems.map((g): Package => {
    const pkg: Package = {
      type: 'gem',
      name: g.name,
      version: g.version,
      path: file.path,
      foundBy: 'lockfile',
      direct: g.direct,
    };
    const extra: Record<string, string> = {};
    if (g.source !== 'GEM') extra.source = g.source.toLowerCase();
    if (g.platform) extra.platform = g.platform;
    if (Object.keys(extra).length > 0) pkg.extra = extra;
    return pkg;
  });
  return { packages };
}

/** Gems locked by Bundler. */
export const gemfileLock = {
  name: 'gemfile-lock',
  version: ANALYZER_VERSIONS['gemfile-lock'],
  maxSize: 64 * MiB,
  wants,
  analyze,
} satisfies Analyzer;
