import { apk } from './apk.js';
import { cargoLock } from './cargo-lock.js';
import { composer } from './composer.js';
import { composerInstalled } from './composer-installed.js';
import { dotnetDeps } from './dotnet-deps.js';
import { dpkg } from './dpkg.js';
import { gemfileLock } from './gemfile-lock.js';
import { gemspec } from './gemspec.js';
import { goBinary } from './go-binary.js';
import { gomod } from './gomod.js';
import { gosum } from './gosum.js';
import { javaArchive } from './java-archive.js';
import { nodeModules } from './node-modules.js';
import { npmLock } from './npm-lock.js';
import { nugetConfig } from './nuget-config.js';
import { nugetLock } from './nuget-lock.js';
import { osRelease } from './os-release.js';
import { pipenv } from './pipenv.js';
import { pnpm } from './pnpm.js';
import { poetry } from './poetry.js';
import { pythonMetadata } from './python-metadata.js';
import { pipRequirements } from './requirements.js';
import { rpm } from './rpm.js';
import { rustBinary } from './rust-binary.js';
import type { Analyzer } from './types.js';
import { analyzerKey as versionsKey } from './versions.js';
import { yarn } from './yarn.js';

export type { AnalysisOutput, Analyzer, AnalyzerContext, FileInput, OsHint } from './types.js';

/** Every analyzer moat runs on image files. Adding a format: one file in this folder and one line here. */
// biome-ignore format: one line per analyzer, so that adding one is a one-line change
export const ANALYZERS: readonly Analyzer[] = [
  osRelease,
  dpkg,
  apk,
  rpm,
  npmLock,
  yarn,
  pnpm,
  nodeModules,
  pythonMetadata,
  poetry,
  pipenv,
  pipRequirements,
  composer,
  composerInstalled,
  gomod,
  gosum,
  goBinary,
  rustBinary,
  javaArchive,
  gemspec,
  gemfileLock,
  cargoLock,
  dotnetDeps,
  nugetLock,
  nugetConfig,
];

/**
 * The cache-key string of a set of analyzers (see versions.ts); for the registered set it equals
 * `analyzerKey()` of versions.ts, which needs no analyzer loaded.
 */
export function analyzerKey(analyzers: readonly Analyzer[] = ANALYZERS): string {
  return versionsKey(Object.fromEntries(analyzers.map((a) => [a.name, a.version])));
}
