/**
 * .NET's `*.deps.json` (written by the SDK next to every app and library it builds; format in
 * dotnet/runtime docs/design/features/host-runtime-information.md): `libraries` keyed `Name/Version` with a
 * `type` of "package" (NuGet) or "project" (the solution's own assemblies), and `targets[runtimeTarget]`
 * saying which assets each library contributes. As in Trivy, a library the runtime target lists without
 * runtime, runtimeTargets or native assets (a reference-only package, a metapackage) is left out: nothing
 * of it ships. Projects are reported too, marked `extra.project`; the one project no other project depends
 * on is the app (`extra.root`), and the packages it references are direct.
 */
import type { Package } from '../model/package.js';
import { isObject, type JsonObject, parseJson, readText } from './lang/text.js';
import type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput } from './types.js';
import { ANALYZER_VERSIONS } from './versions.js';
import { boundedWarn } from './warn.js';

const MiB = 1024 * 1024;
const ASSETS = ['runtime', 'runtimeTargets', 'native'];

function nonEmpty(v: unknown): boolean {
  return isObject(v) ? Object.keys(v).length > 0 : Array.isArray(v) && v.length > 0;
}

/** Parses deps.json text into packages; `warn` gets the reasons entries or the file are skipped. */
export function parseDepsJson(text: string, path: string, warn: (reason: string) => void): Package[] {
  const doc = parseJson(text);
  if (!doc.ok) {
    warn(doc.reason);
    return [];
  }
  if (!isObject(doc.value) || !isObject(doc.value.libraries)) {
    warn('no "libraries" object: not a .deps.json file');
    return [];
  }
  const { libraries, targets, runtimeTarget } = doc.value;
  const targetName = isObject(runtimeTarget) ? runtimeTarget.name : undefined;
  const target =
    typeof targetName === 'string' && isObject(targets) && isObject(targets[targetName])
      ? (targets[targetName] as JsonObject)
      : undefined;

  const kept: { name: string; version: string; project: boolean; key: string }[] = [];
  for (const [key, lib] of Object.entries(libraries)) {
    if (!isObject(lib) || typeof lib.type !== 'string') continue;
    const type = lib.type.toLowerCase();
    if (type !== 'package' && type !== 'project') continue;
    const slash = key.indexOf('/');
    if (slash <= 0 || slash === key.length - 1 || key.indexOf('/', slash + 1) >= 0) {
      warn(`library "${key}" is not "Name/Version"`);
      continue;
    }
    // a target that does not list the library says nothing about its assets: keep it, as Trivy does
    const entry = target?.[key];
    if (isObject(entry) && !ASSETS.some((a) => nonEmpty(entry[a]))) continue;
    kept.push({ name: key.slice(0, slash), version: key.slice(slash + 1), project: type === 'project', key });
  }

  // the app: the one project that no other project depends on
  const dependsOn = (key: string): string[] => {
    const e = target?.[key];
    return isObject(e) && isObject(e.dependencies) ? Object.keys(e.dependencies) : [];
  };
  const projects = kept.filter((k) => k.project);
  const used = new Set(projects.flatMap((p) => dependsOn(p.key)));
  const roots = projects.filter((p) => !used.has(p.name));
  const root = roots.length === 1 ? roots[0] : undefined;
  const direct = root ? new Set(dependsOn(root.key)) : undefined;

  return kept.map((k) => {
    const pkg: Package = { type: 'nuget', name: k.name, version: k.version, path, foundBy: 'lockfile' };
    if (k.project) pkg.extra = k === root ? { project: true, root: true } : { project: true };
    else if (direct) pkg.direct = direct.has(k.name);
    return pkg;
  });
}

function analyze(file: FileInput, ctx: AnalyzerContext): AnalysisOutput {
  const warn = boundedWarn(ctx);
  const packages = parseDepsJson(readText(file), file.path, warn);
  warn.flush();
  return packages.length > 0 ? { packages } : {};
}

/** NuGet packages (and projects) of a built .NET app, from its deps.json. */
export const dotnetDeps = {
  name: 'dotnet-deps',
  version: ANALYZER_VERSIONS['dotnet-deps'],
  maxSize: 64 * MiB,
  wants: (path: string) => path.endsWith('.deps.json'),
  analyze,
} satisfies Analyzer;
