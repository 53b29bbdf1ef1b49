import { writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { errorMessage, MoatError } from '../errors.js';
import { setLogLevel } from '../log.js';
import { defaultCacheDir, defaultDbPath } from '../util/dirs.js';
import { loadConfig } from './config.js';
import { GLOBAL_OPTIONS, type OptionName, resolveSettings } from './options.js';
import { terminalProgress } from './progress.js';

/** What every command action starts from: resolved settings, output and progress. */
export interface CommandContext {
  settings: Record<string, unknown>;
  get<T>(name: OptionName): T;
  cacheDir: string;
  dbPath: string;
  progress: ReturnType<typeof terminalProgress>;
  /** writes the report to --output or stdout */
  write(text: string): void;
}

export async function commandContext(cmd: Command, names: readonly OptionName[]): Promise<CommandContext> {
  const all = [...new Set<OptionName>([...GLOBAL_OPTIONS, ...names])];
  const config = await loadConfig(cmd.opts().config as string | undefined);
  let settings: Record<string, unknown>;
  try {
    settings = resolveSettings(cmd, all, config.values, config.file);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new MoatError('CONFIG', e.message);
    throw e;
  }
  const quiet = settings.quiet === true;
  const debug = settings.debug === true;
  setLogLevel(debug ? 'debug' : quiet ? 'error' : 'warn');
  const cacheDir = (settings['cache-dir'] as string | undefined) ?? defaultCacheDir();
  const dbPath = (settings['db-path'] as string | undefined) ?? defaultDbPath(cacheDir);
  const output = settings.output as string | undefined;
  return {
    settings,
    get: <T>(name: OptionName) => settings[name] as T,
    cacheDir,
    dbPath,
    progress: terminalProgress(!quiet),
    write(text: string) {
      if (!output || output === '-') {
        process.stdout.write(text);
        return;
      }
      try {
        writeFileSync(output, text);
      } catch (e) {
        throw new MoatError('USAGE', `output file ${output}: ${errorMessage(e)}`);
      }
    },
  };
}

let exitCode = 0;
/** Actions report a non-zero outcome (e.g. --fail-on) here; run() returns it. */
export function setExitCode(code: number): void {
  exitCode = code;
}
export function takeExitCode(): number {
  const c = exitCode;
  exitCode = 0;
  return c;
}

/**
 * `--format jsonl` and severity `INFO` exist for audit alerts (one option table serves every command);
 * a command reporting findings, whose scale has UNKNOWN instead of INFO, refuses both.
 */
export function rejectAlertOnlyValues(ctx: CommandContext, command: string): void {
  if (ctx.get<string | undefined>('format') === 'jsonl') {
    throw new MoatError(
      'USAGE',
      `--format jsonl: only moat audit scan writes JSON lines; ${command} writes json`,
    );
  }
  const severity = ctx.get<string[] | undefined>('severity') ?? [];
  const failOn = ctx.get<string | undefined>('fail-on');
  if (severity.includes('INFO') || failOn === 'INFO') {
    throw new MoatError(
      'USAGE',
      `${failOn === 'INFO' ? '--fail-on' : '--severity'} INFO: ${command} severities are CRITICAL, HIGH, MEDIUM, LOW and UNKNOWN (INFO is for audit alerts)`,
    );
  }
}
