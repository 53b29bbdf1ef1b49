import { accessSync, closeSync, constants, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { addAbortSignal } from 'node:stream';
import { Command } from 'commander';
import type { Alert, AlertSeverity } from '../detect/alert.js';
import type { AuditEvent } from '../detect/event.js';
import type { IngestStats } from '../detect/ingest/stats.js';
import type { ListSource } from '../detect/lists.js';
import type { LoadedRules } from '../detect/rules/load.js';
import type { RuleFile, RuleLoadError, RuleSpec } from '../detect/rules/types.js';
import { errorMessage, MoatError } from '../errors.js';
import { MOAT_VERSION } from '../util/version.js';
import { type CommandContext, commandContext, setExitCode } from './context.js';
import { addOptions, type OptionName } from './options.js';

/**
 * `moat audit`: threat detection over Kubernetes audit logs (docs/detect/cli.md). `scan` reads files,
 * directories, stdin or a growing file offline; `rules` lists and validates the rules a scan would run.
 * The detection code (rules, CEL, ingest) is imported inside the actions: defining the commands at start-up
 * loads none of it.
 */

/** Options that decide which rules run; a live `audit serve` takes the same ones. */
export const AUDIT_RULE_OPTIONS = ['rules', 'activity', 'list'] as const satisfies readonly OptionName[];

const SCAN_OPTIONS = [
  ...AUDIT_RULE_OPTIONS,
  'cluster-name',
  'dedup-window',
  'severity',
  'fail-on',
  'follow',
] as const satisfies readonly OptionName[];

const SCAN_FORMATS = ['table', 'json', 'jsonl'] as const;
const RULES_FORMATS = ['table', 'json'] as const;

export interface AuditRuleSettings {
  /** user rule files and directories, loaded after the shipped packs */
  ruleFiles: string[];
  /** load the optional activity pack */
  activity: boolean;
  /** list files (`--list NAME=FILE`) appended to the rules' lists */
  lists: ListSource[];
}

export interface AuditRuleSet {
  rules: LoadedRules;
  /** every rule read (packs and user files), compiled or not, in file order */
  specs: RuleSpec[];
  /** entries per list after merging (packs, user files, list files) */
  listSizes: Record<string, number>;
  /** problems that do not stop a scan (a list no rule reads) */
  warnings: string[];
}

export async function auditRuleSettings(ctx: CommandContext): Promise<AuditRuleSettings> {
  const { parseListSource } = await import('../detect/lists.js');
  return {
    ruleFiles: ctx.get<string[] | undefined>('rules') ?? [],
    activity: ctx.get<boolean | undefined>('activity') === true,
    lists: (ctx.get<string[] | undefined>('list') ?? []).map(parseListSource),
  };
}

/**
 * The shipped packs, then the user's rule files, then the list files, compiled together. A broken rule
 * (or exception, or list line) is an error as data and the rest loads; a user file that cannot be read
 * or is not YAML at all is a config error (exit 2), since running without the exceptions it holds would
 * raise alerts the user has already dismissed.
 */
export async function loadAuditRules(s: AuditRuleSettings): Promise<AuditRuleSet> {
  const [load, { parseRuleFile }, lists, { default: yamlLib }] = await Promise.all([
    import('../detect/rules/load.js'),
    import('../detect/rules/parse.js'),
    import('../detect/lists.js'),
    // yaml is CommonJS: its exports object is the default export, in Node and in the bundle alike
    import('yaml'),
  ]);
  const packs = load
    .ruleFilesIn([load.DEFAULT_RULES_DIR])
    .filter((f) => s.activity || !load.OPTIONAL_PACKS.has(f.slice(f.lastIndexOf('/') + 1)));
  const user: string[] = [];
  for (const p of s.ruleFiles) {
    try {
      user.push(...load.ruleFilesIn([p]));
    } catch (e) {
      throw new MoatError('CONFIG', `rule file ${p}: cannot read: ${errCode(e)}`, { cause: e });
    }
  }
  const files: RuleFile[] = [];
  const errors: RuleLoadError[] = [];
  for (const file of [...packs, ...user]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new MoatError('CONFIG', `rule file ${file}: cannot read: ${errCode(e)}`, { cause: e });
    }
    if (user.includes(file)) {
      const doc = yamlLib.parseDocument(text, { prettyErrors: false });
      const bad = doc.errors[0];
      if (bad) {
        const line = text.slice(0, bad.pos[0]).split('\n').length;
        throw new MoatError('CONFIG', `rule file ${file}:${line}: ${bad.message.split('\n')[0]}`);
      }
      if (doc.contents !== null && !yamlLib.isMap(doc.contents))
        throw new MoatError(
          'CONFIG',
          `rule file ${file}: not a rule file (a map with rules, lists, exceptions, enable or disable)`,
        );
    }
    const parsed = parseRuleFile(text, file);
    files.push(parsed.file);
    errors.push(...parsed.errors);
  }
  const specs = files.flatMap((f) => f.rules);
  const usage = lists.listUsage(specs);
  const warnings: string[] = [];
  const loadedLists = s.lists.map((src) => {
    const l = lists.readListFile(src, usage.get(src.name) ?? 'string');
    errors.push(...l.errors);
    if (!usage.has(src.name)) warnings.push(`list ${src.name} (${src.file}) is not read by any loaded rule`);
    return l;
  });
  if (loadedLists.length > 0) files.push(lists.listsAsRuleFile(loadedLists));
  const rules = load.compileRuleFiles(files, errors);
  const listSizes: Record<string, number> = {};
  for (const [name, items] of Object.entries(rules.data)) listSizes[name] = items.length;
  return { rules, specs, listSizes, warnings };
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? errorMessage(e);
}

export async function reportLoad(set: AuditRuleSet, quiet: boolean): Promise<void> {
  const { formatLoadError } = await import('../report/alerts.js');
  for (const e of set.rules.errors) process.stderr.write(`moat: ${formatLoadError(e)}\n`);
  if (!quiet) for (const w of set.warnings) process.stderr.write(`moat: warning: ${w}\n`);
}

/** The alert scale has INFO where findings have UNKNOWN: both mean "the lowest". */
export function alertSeverity(s: string): AlertSeverity {
  return (s === 'UNKNOWN' ? 'INFO' : s) as AlertSeverity;
}

export function checkFormat<T extends string>(
  ctx: CommandContext,
  formats: readonly T[],
  command: string,
): T {
  const f = ctx.get<string>('format');
  if (!(formats as readonly string[]).includes(f))
    throw new MoatError('USAGE', `--format ${f}: ${command} writes ${formats.join(', ')}`);
  return f as T;
}

/** Where streamed alert lines go: stdout or the --output file, written as they come. */
export function lineSink(output: string | undefined): { write(s: string): void; close(): void } {
  if (!output || output === '-') return { write: (s) => void process.stdout.write(s), close() {} };
  let fd: number;
  try {
    fd = openSync(output, 'w');
  } catch (e) {
    throw new MoatError('USAGE', `output file ${output}: ${errorMessage(e)}`);
  }
  return {
    write: (s) => void writeSync(fd, s),
    close: () => closeSync(fd),
  };
}

/** Inputs are checked before anything is read, so a typo fails at once with one line and no output. */
function checkInputs(inputs: readonly string[], follow: boolean): void {
  if (inputs.length === 0)
    throw new MoatError('USAGE', 'moat audit scan needs audit log files, directories or - (stdin)');
  if (inputs.filter((i) => i === '-').length > 1) throw new MoatError('USAGE', 'stdin (-) can be read once');
  if (follow && (inputs.length !== 1 || inputs[0] === '-'))
    throw new MoatError(
      'USAGE',
      '--follow reads one growing file: give one file path (stdin is read until it closes without it)',
    );
  for (const input of inputs) {
    if (input === '-') continue;
    try {
      accessSync(input, constants.R_OK);
      if (follow && statSync(input).isDirectory())
        throw new MoatError(
          'USAGE',
          `--follow ${input}: a directory; give the log file the API server writes`,
        );
    } catch (e) {
      if (e instanceof MoatError) throw e;
      throw new MoatError('NOT_FOUND', `cannot read audit log ${input}: ${errCode(e)}`, { cause: e });
    }
  }
}

/** stdin in chunks, gunzipped when it starts with the gzip magic (`cat audit.log.gz | moat audit scan -`). */
async function* stdinChunks(signal: AbortSignal): AsyncGenerator<Buffer> {
  const { createGunzip } = await import('node:zlib');
  const input = addAbortSignal(signal, process.stdin);
  const it = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head = first.value;
  if (head.length < 2 || head[0] !== 0x1f || head[1] !== 0x8b) {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    return;
  }
  const gunzip = createGunzip();
  const feed = async () => {
    gunzip.write(head);
    for (let r = await it.next(); !r.done; r = await it.next()) {
      if (!gunzip.write(r.value)) await new Promise((res) => gunzip.once('drain', res));
    }
    gunzip.end();
  };
  feed().catch((e: unknown) => gunzip.destroy(e as Error));
  yield* gunzip as AsyncIterable<Buffer>;
}

/** Events from every input in order: files and directories through ingest, `-` from stdin, or a followed file. */
async function* auditBatches(
  inputs: readonly string[],
  opts: { stats: IngestStats; cluster?: string; signal: AbortSignal; follow: boolean },
): AsyncGenerator<AuditEvent[]> {
  const ingest = await import('../detect/ingest/index.js');
  const read = { stats: opts.stats, signal: opts.signal, ...(opts.cluster ? { cluster: opts.cluster } : {}) };
  if (opts.follow) {
    yield* ingest.followAuditFile(inputs[0] as string, read);
    return;
  }
  for (const input of inputs) {
    if (opts.signal.aborted) return;
    if (input !== '-') {
      yield* ingest.readAuditBatches(input, read);
      continue;
    }
    const reader = new ingest.ChunkDecoder(new ingest.AuditDecoder(opts.stats, read), '-', {});
    try {
      for await (const chunk of stdinChunks(opts.signal)) {
        reader.push(chunk);
        if (reader.out.length > 0) yield reader.take();
      }
    } catch (e) {
      // stopped by a signal: what was read stands; a corrupt gzip ends the input as it does for files
      if (!opts.signal.aborted) {
        ingest.recordMalformed(opts.stats, `unreadable data: ${errorMessage(e)}`, '-', reader.line + 1);
        reader.reset();
      }
    }
    reader.end();
    if (reader.out.length > 0) yield reader.take();
  }
}

function scanCommand(): Command {
  const cmd = new Command('scan')
    .description(
      'detect threats in Kubernetes audit logs: JSON-lines files (rotated, gzipped), directories, EKS/AKS/GKE exports, - for stdin',
    )
    .argument('[inputs...]', 'audit log files or directories; - reads stdin');
  addOptions(cmd, ['format', 'output', 'quiet', 'debug', 'config', ...SCAN_OPTIONS]);
  cmd.action(async (inputs: string[], _opts: unknown, c: Command) => {
    const ctx = await commandContext(c, SCAN_OPTIONS);
    const format = checkFormat(ctx, SCAN_FORMATS, 'moat audit scan');
    const follow = ctx.get<boolean | undefined>('follow') === true;
    const quiet = ctx.get<boolean | undefined>('quiet') === true;
    checkInputs(inputs, follow);
    const set = await loadAuditRules(await auditRuleSettings(ctx));
    await reportLoad(set, quiet);
    const [{ createDetector, eventTime }, { newIngestStats }, report] = await Promise.all([
      import('../detect/engine/detector.js'),
      import('../detect/ingest/stats.js'),
      import('../report/alerts.js'),
    ]);
    const cluster = ctx.get<string | undefined>('cluster-name');
    const detector = createDetector(set.rules, {
      dedupWindowMs: ctx.get<number>('dedup-window'),
      ...(cluster ? { cluster } : {}),
    });
    // a few malformed records are logged as they are met (with file and line); the rest only counted
    const stats = newIngestStats(5);
    const only = ctx.get<string[] | undefined>('severity');
    const keep = only && only.length > 0 ? new Set(only.map(alertSeverity)) : undefined;
    const failOn = ctx.get<string | undefined>('fail-on');
    const threshold = failOn ? report.alertSeverityRank(alertSeverity(failOn)) : Number.POSITIVE_INFINITY;
    const stream = format === 'jsonl';
    const sink = stream ? lineSink(ctx.get<string | undefined>('output')) : undefined;
    const kept: Alert[] = [];
    const emitted: Alert['severity'][] = [];
    let filtered = 0;
    let failed = false;
    const emit = (alerts: readonly Alert[]) => {
      for (const a of alerts) {
        if (keep && !keep.has(a.severity)) {
          filtered++;
          continue;
        }
        emitted.push(a.severity);
        if (report.alertSeverityRank(a.severity) >= threshold) failed = true;
        if (sink) sink.write(report.renderAlertLine(a));
        else kept.push(a);
      }
    };
    // following a file or reading stdin ends on SIGINT/SIGTERM: the open alerts are flushed and written
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    const live = follow || inputs.includes('-');
    if (live) {
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    }
    try {
      const batches = auditBatches(inputs, {
        stats,
        signal: stop.signal,
        follow,
        ...(cluster ? { cluster } : {}),
      });
      for await (const batch of batches) {
        for (let i = 0; i < batch.length; i++) detector.process(batch[i] as AuditEvent);
        // routine traffic moves the clock too, so a followed log closes alerts without new matches
        const last = batch[batch.length - 1];
        if (last) detector.advance(eventTime(last, Number.NaN));
        emit(detector.drain());
      }
      emit(detector.flush());
    } finally {
      if (live) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      sink?.close();
    }
    const summary = report.alertReport({
      version: MOAT_VERSION,
      inputs,
      alerts: kept,
      ingest: stats,
      rulesLoaded: set.rules.rules.length,
      skippedRules: set.rules.skipped,
      errors: set.rules.errors,
      filtered,
      dropped: detector.stats().droppedAlerts,
    });
    if (!stream)
      ctx.write(
        report.renderAlerts(summary, format, {
          width: process.stdout.isTTY ? (process.stdout.columns ?? 0) : 0,
        }),
      );
    if (!quiet) {
      if (stats.malformed > 0)
        process.stderr.write(
          `moat: warning: ${stats.malformed} malformed audit ${stats.malformed === 1 ? 'record' : 'records'} skipped${stats.samples.length > 0 ? ` (first at ${stats.samples[0]?.file ?? '-'}:${stats.samples[0]?.line ?? 0}: ${stats.samples[0]?.reason})` : ''}\n`,
        );
      if (stats.events === 0 && stats.malformed === 0)
        process.stderr.write(`moat: warning: no audit events read from ${inputs.join(', ')}\n`);
      if (stream) {
        // jsonl keeps stdout for alerts only: the summary the other formats carry goes to stderr
        const by = Object.entries(report.countBySeverity(emitted.map((severity) => ({ severity }))))
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`);
        process.stderr.write(
          `moat: ${stats.events} events read, ${emitted.length} alerts${by.length > 0 ? ` (${by.join(', ')})` : ''}${filtered > 0 ? `, ${filtered} below --severity` : ''}\n`,
        );
      }
    }
    if (failed) setExitCode(1);
  });
  return cmd;
}

interface RuleRow {
  id: string;
  name: string;
  severity: AlertSeverity;
  tactic: string;
  technique: string;
  status: 'enabled' | 'skipped' | 'error';
  /** why a rule is skipped (disabled, a list to configure) or the first error that left it out */
  reason?: string;
  file: string;
  line: number;
  defender: string[];
  falco: string[];
}

/** Every rule read, with what became of it: compiled and run, skipped on purpose, or left out by an error. */
function ruleRows(set: AuditRuleSet): RuleRow[] {
  const running = new Set(set.rules.rules.map((r) => r.spec));
  const skipped = new Map(set.rules.skipped.map((s) => [`${s.rule}\u0000${s.file}:${s.line}`, s.reason]));
  const errors = new Map<string, string>();
  for (const e of set.rules.errors) {
    const key = `${e.rule}\u0000${e.file}`;
    if (e.rule && !errors.has(key)) errors.set(key, `${e.line > 0 ? `line ${e.line}: ` : ''}${e.message}`);
  }
  return set.specs.map((s) => {
    const row: RuleRow = {
      id: s.id,
      name: s.name,
      severity: s.severity,
      tactic: s.mitre.tactic,
      technique: s.mitre.technique,
      status: 'error',
      file: s.pos.file,
      line: s.pos.line,
      defender: s.defender,
      falco: s.falco,
    };
    const skip = skipped.get(`${s.id}\u0000${s.pos.file}:${s.pos.line}`);
    if (running.has(s)) row.status = 'enabled';
    else if (skip !== undefined) {
      row.status = 'skipped';
      row.reason = skip;
    } else row.reason = errors.get(`${s.id}\u0000${s.pos.file}`) ?? 'not loaded';
    return row;
  });
}

function rulesCommand(): Command {
  const cmd = new Command('rules').description(
    'list the detection rules a scan would run (shipped packs, --rules files, --list files) with their status; exit 2 when a file has errors',
  );
  addOptions(cmd, ['format', 'output', 'quiet', 'debug', 'config', ...AUDIT_RULE_OPTIONS]);
  cmd.action(async (_opts: unknown, c: Command) => {
    const ctx = await commandContext(c, AUDIT_RULE_OPTIONS);
    const format = checkFormat(ctx, RULES_FORMATS, 'moat audit rules');
    const set = await loadAuditRules(await auditRuleSettings(ctx));
    await reportLoad(set, ctx.get<boolean | undefined>('quiet') === true);
    const rows = ruleRows(set);
    if (format === 'json') {
      ctx.write(
        `${JSON.stringify({ generator: { name: 'moat', version: MOAT_VERSION }, rules: rows, lists: set.listSizes, errors: set.rules.errors }, null, 2)}\n`,
      );
    } else {
      const { textTable } = await import('../report/text-table.js');
      const running = rows.filter((r) => r.status === 'enabled').length;
      const table = textTable(
        [
          { header: 'RULE' },
          { header: 'SEVERITY' },
          { header: 'MITRE' },
          { header: 'STATUS' },
          { header: 'DEFENDER' },
          { header: 'FALCO', flexible: true },
        ],
        rows.map((r) => [
          r.id,
          r.severity,
          `${r.tactic}/${r.technique}`,
          r.status === 'enabled' ? 'enabled' : `${r.status}: ${r.reason}`,
          r.defender.join(', '),
          r.falco.join(', '),
        ]),
        process.stdout.isTTY ? (process.stdout.columns ?? 0) : 0,
      );
      const errs = set.rules.errors.length;
      ctx.write(
        `${table}\n${rows.length} rules: ${running} enabled, ${set.rules.skipped.length} skipped, ${errs} ${errs === 1 ? 'error' : 'errors'}\n`,
      );
    }
    if (set.rules.errors.length > 0) setExitCode(2);
  });
  return cmd;
}

export function auditCommand(): Command {
  const cmd = new Command('audit').description(
    'threat detection over Kubernetes audit logs: rules with MITRE ATT&CK tactics, deduplicated alerts',
  );
  cmd.addCommand(scanCommand());
  cmd.addCommand(rulesCommand());
  // serve, install and coverage (src/cli/audit-serve.ts) are added by main.ts: that module builds on
  // this one's exports, so importing it from here would be circular
  return cmd;
}
