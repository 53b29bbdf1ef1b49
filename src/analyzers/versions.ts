/**
 * The version of every analyzer, in one small table: each analyzer takes its `version` from here, and the
 * cache keys are computed from it without loading the analyzers themselves (a warm rescan answered from
 * the result cache never needs them). Bump an analyzer's number whenever its output for the same input
 * changes: cached layer and scan results made with the old number are then not used.
 */
// biome-ignore format: one line per analyzer
export const ANALYZER_VERSIONS = {
  'apk': 2,
  'cargo-lock': 1,
  'composer': 1,
  'composer-installed': 1,
  'dotnet-deps': 1,
  'dpkg': 2,
  'gemfile-lock': 1,
  'gemspec': 1,
  'go-binary': 1,
  'gomod': 1,
  'gosum': 1,
  'java-archive': 1,
  'node-modules': 1,
  'npm-lock': 1,
  'nuget-config': 1,
  'nuget-lock': 1,
  'os-release': 1,
  'pip-requirements': 1,
  'pipenv': 1,
  'pnpm': 1,
  'poetry': 1,
  'python-metadata': 1,
  'rpm': 2,
  'rust-binary': 1,
  'yarn': 1,
} as const satisfies Record<string, number>;

export type AnalyzerName = keyof typeof ANALYZER_VERSIONS;

/**
 * A stable string naming the analyzers and their versions (part of the layer and result cache keys):
 * bumping a version, or adding or removing an analyzer, invalidates what was cached with the old set.
 */
export function analyzerKey(versions: Readonly<Record<string, number>> = ANALYZER_VERSIONS): string {
  return Object.entries(versions)
    .map(([name, version]) => `${name}@${version}`)
    .sort()
    .join(',');
}
