import { Command, CommanderError } from 'commander';
import { EXIT, isMoatError } from '../errors.js';
import { MOAT_VERSION } from '../util/version.js';
import { admissionCommand } from './admission.js';
import { auditCommand } from './audit.js';
import { auditLiveCommands } from './audit-serve.js';
import { takeExitCode } from './context.js';
import { dbCommand } from './db.js';
import { postureCommand } from './posture.js';
import { sbomCommand } from './sbom.js';
import { scanCommand } from './scan.js';

export function buildProgram(): Command {
  const program = new Command('moat')
    .description(
      'container security platform: scan images for vulnerable packages against OSV data, assess Kubernetes posture, admission control, threat detection from audit logs',
    )
    .version(MOAT_VERSION, '-V, --version', 'print the version')
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: true })
    .exitOverride();
  program.addCommand(scanCommand());
  program.addCommand(dbCommand());
  program.addCommand(sbomCommand());
  program.addCommand(postureCommand());
  program.addCommand(admissionCommand());
  const audit = auditCommand();
  for (const c of auditLiveCommands()) audit.addCommand(c);
  program.addCommand(audit);
  applyExitOverride(program);
  return program;
}

function applyExitOverride(cmd: Command): void {
  cmd.exitOverride();
  // usage errors look like every other error: one "moat: ..." line
  cmd.configureOutput({ outputError: (text, write) => write(`moat: ${text.replace(/^error: /, '')}`) });
  for (const c of cmd.commands) applyExitOverride(c);
}

/** Runs the CLI and returns the exit code (documented in docs/cli.md): 0, 1 (--fail-on), 2 input, 3 internal. */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes('--debug') || /^(1|true|yes|on)$/i.test(process.env.MOAT_DEBUG ?? '');
  // the CLI is a minified bundle: stack traces are only readable through its source maps
  if (debug) process.setSourceMapsEnabled(true);
  try {
    takeExitCode();
    await program.parseAsync([...argv]);
    return takeExitCode();
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message; asked-for help and --version exit 0, help shown because a
      // command is missing is a usage error
      return e.exitCode === 0 ? EXIT.ok : EXIT.input;
    }
    if (isMoatError(e)) {
      process.stderr.write(`moat: ${e.message}\n`);
      if (debug && e.cause instanceof Error && e.cause.stack) process.stderr.write(`${e.cause.stack}\n`);
      return e.exitCode;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(
      `moat: internal error: ${err.message}${debug ? '' : ' (run with --debug for details)'}\n`,
    );
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    return EXIT.internal;
  }
}
