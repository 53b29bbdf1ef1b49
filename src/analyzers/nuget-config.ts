/**
 * NuGet's `packages.config` (the pre-PackageReference format; https://learn.microsoft.com/nuget/reference/packages-config):
 * one `<package id="..." version="..." />` per installed package. Packages marked
 * `developmentDependency="true"` (analyzers, build tools) never reach the built output and are left out,
 * as Trivy does.
 */
import { PackageSet } from './lang/packages.js';
import { basename, readText } from './lang/text.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { boundedWarn } from './warn.js';

const MiB = 1024 * 1024;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[e] ?? m;
  });
}

/** The attributes of every `<package>` element (comments removed first). */
export function packagesConfigEntries(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  const body = text.replace(/<!--[\s\S]*?-->/g, '');
  for (const m of body.matchAll(/<package\s([^>]*?)\/?>/g)) {
    const attrs: Record<string, string> = {};
    for (const a of m[1]!.matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      attrs[a[1]!] = unescapeXml(a[2] ?? a[3] ?? '');
    }
    out.push(attrs);
  }
  return out;
}

function analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput {
  const text = readText(file);
  if (!/<packages[\s>/]/.test(text)) {
    ctx.warn('no <packages> element: not a packages.config file');
    return {};
  }
  const warn = boundedWarn(ctx);
  const set = new PackageSet('nuget', file.path, 'lockfile');
  for (const a of packagesConfigEntries(text)) {
    if (a.developmentDependency?.toLowerCase() === 'true') continue;
    if (!a.id || !a.version) {
      warn(`a <package> element lacks id or version${a.id ? ` (${a.id})` : ''}`);
      continue;
    }
    set.add({ name: a.id, version: a.version });
  }
  warn.flush();
  return { packages: set.list() };
}

/** NuGet packages listed in `packages.config`. */
export const nugetConfig = {
  name: 'nuget-config',
  version: ANALYZER_VERSIONS['nuget-config'],
  maxSize: 16 * MiB,
  wants: (path: string) => basename(path) === 'packages.config',
  analyze,
} satisfies Analyzer;
