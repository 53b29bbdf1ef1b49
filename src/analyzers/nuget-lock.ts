/**
 * NuGet's `packages.lock.json` (version 1 and 2; https://learn.microsoft.com/nuget/consume-packages/package-references-in-project-files#locking-dependencies):
 * `dependencies` per target framework, each package with a `type` (Direct, Transitive, CentralTransitive,
 * or Project for the solution's own projects, which are not NuGet packages) and its `resolved` version.
 * A package locked for several frameworks is reported once, direct when it is direct for any.
 */
import { PackageSet } from './lang/packages.js';
import { basename, isObject, parseJson, readText } from './lang/text.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { boundedWarn } from './warn.js';

const MiB = 1024 * 1024;

function analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput {
  const doc = parseJson(readText(file));
  if (!doc.ok) {
    ctx.warn(doc.reason);
    return {};
  }
  if (!isObject(doc.value) || !isObject(doc.value.dependencies)) {
    ctx.warn('no "dependencies" object: not a NuGet lock file');
    return {};
  }
  const warn = boundedWarn(ctx);
  const set = new PackageSet('nuget', file.path, 'lockfile');
  for (const [framework, deps] of Object.entries(doc.value.dependencies)) {
    if (!isObject(deps)) {
      warn(`framework "${framework}" is not an object`);
      continue;
    }
    for (const [name, dep] of Object.entries(deps)) {
      if (!isObject(dep) || dep.type === 'Project') continue;
      if (typeof dep.resolved !== 'string' || dep.resolved === '') {
        warn(`${framework}: package "${name}" has no resolved version`);
        continue;
      }
      set.add({ name, version: dep.resolved, direct: dep.type === 'Direct' });
    }
  }
  warn.flush();
  return { packages: set.list() };
}

/** NuGet packages locked by `packages.lock.json`. */
export const nugetLock = {
  name: 'nuget-lock',
  version: ANALYZER_VERSIONS['nuget-lock'],
  maxSize: 64 * MiB,
  wants: (path: string) => basename(path) === 'packages.lock.json',
  analyze,
} satisfies Analyzer;
