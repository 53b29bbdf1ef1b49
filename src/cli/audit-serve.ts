import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import type { Alert } from '../detect/alert.js';
import type { AuditEvent } from '../detect/event.js';
import type { AlertForwarder } from '../detect/forward/types.js';
import { errorMessage, MoatError } from '../errors.js';
import { log } from '../log.js';
import { defaultDataDir } from '../util/dirs.js';
import { packagePath } from '../util/package-path.js';
import {
  AUDIT_RULE_OPTIONS,
  alertSeverity,
  auditRuleSettings,
  checkFormat,
  lineSink,
  loadAuditRules,
  reportLoad,
} from './audit.js';
import { type CommandContext, commandContext, setExitCode } from './context.js';
import { addOptions, type OptionName } from './options.js';

/**
 * The live side of `moat audit` (docs/detect/webhook.md): `serve` is the API server's audit webhook
 * backend feeding the detector, `install` writes what the API server needs to call it, `coverage` says
 * which rules an audit policy leaves blind.
 */

export const FORWARD_OPTIONS = [
  'forward',
  'forward-ca',
  'forward-cert',
  'forward-key',
  'forward-header',
  'syslog-facility',
] as const satisfies readonly OptionName[];

const SERVE_OPTIONS = [
  ...AUDIT_RULE_OPTIONS,
  ...FORWARD_OPTIONS,
  'cluster-name',
  'dedup-window',
  'severity',
  'listen',
  'tls-cert',
  'tls-key',
  'token-file',
  'client-ca',
  'data-dir',
  'max-batch-size',
  'wal-retention',
] as const satisfies readonly OptionName[];

const INSTALL_OPTIONS = ['server-url', 'out-dir'] as const satisfies readonly OptionName[];
const COVERAGE_OPTIONS = AUDIT_RULE_OPTIONS;

/** The forwarders --forward asks for (none: undefined). Bad targets are usage errors before anything starts. */
export async function forwardersFrom(ctx: CommandContext): Promise<AlertForwarder | undefined> {
  const targets = ctx.get<string[] | undefined>('forward') ?? [];
  if (targets.length === 0) return undefined;
  const { createForwarders } = await import('../detect/forward/target.js');
  const opt = <T>(name: OptionName) => ctx.get<T | undefined>(name);
  return createForwarders(targets, {
    ...(opt<string>('forward-ca') ? { caFile: opt<string>('forward-ca') } : {}),
    ...(opt<string>('forward-cert') ? { certFile: opt<string>('forward-cert') } : {}),
    ...(opt<string>('forward-key') ? { keyFile: opt<string>('forward-key') } : {}),
    ...(opt<string[]>('forward-header') ? { headers: opt<string[]>('forward-header') } : {}),
    facility: ctx.get<string>('syslog-facility'),
  });
}

/** `:9443`, `0.0.0.0:9443`, `[::1]:9443`, `localhost:9443` → host (undefined: every interface) and port. */
export function parseListen(v: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new MoatError('USAGE', `--listen ${v}: expected HOST:PORT or :PORT`);
  }
  const host = m[1] ?? m[2];
  return host ? { host, port } : { port };
}

function serveCommand(): Command {
  const cmd = new Command('serve').description(
    "run the API server's audit webhook backend (HTTPS: POST /audit, GET /healthz /metrics): batches are written to a write-ahead log before they are acknowledged, then run through the rules; alerts go to stdout/--output and --forward targets until SIGTERM",
  );
  addOptions(cmd, ['format', 'output', 'quiet', 'debug', 'config', ...SERVE_OPTIONS]);
  cmd.action(async (_opts: unknown, c: Command) => {
    const ctx = await commandContext(c, SERVE_OPTIONS);
    const format = checkFormat(ctx, ['table', 'jsonl', 'json'] as const, 'moat audit serve');
    const { host, port } = parseListen(ctx.get<string>('listen'));
    const certFile = ctx.get<string | undefined>('tls-cert');
    const keyFile = ctx.get<string | undefined>('tls-key');
    if (!certFile || !keyFile) {
      throw new MoatError(
        'USAGE',
        'audit serve needs --tls-cert and --tls-key (moat audit install writes them)',
      );
    }
    const tokenFile = ctx.get<string | undefined>('token-file');
    const clientCa = ctx.get<string | undefined>('client-ca');
    if (!tokenFile && !clientCa) {
      throw new MoatError(
        'USAGE',
        'audit serve needs --token-file or --client-ca: the API server must authenticate (moat audit install writes a token)',
      );
    }
    const quiet = ctx.get<boolean | undefined>('quiet') === true;
    const set = await loadAuditRules(await auditRuleSettings(ctx));
    await reportLoad(set, quiet);
    const forwarder = await forwardersFrom(ctx);
    const [{ createDetector, eventTime }, { alertTarget, renderAlertLine }, { startAuditWebhook }] =
      await Promise.all([
        import('../detect/engine/detector.js'),
        import('../report/alerts.js'),
        import('../detect/webhook/server.js'),
      ]);
    const cluster = ctx.get<string | undefined>('cluster-name');
    const dedupMs = ctx.get<number>('dedup-window');
    const detector = createDetector(set.rules, { dedupWindowMs: dedupMs, ...(cluster ? { cluster } : {}) });
    const only = ctx.get<string[] | undefined>('severity');
    const keep = only && only.length > 0 ? new Set(only.map(alertSeverity)) : undefined;
    const sink = lineSink(ctx.get<string | undefined>('output'));
    // `table`: one human line per alert, for a terminal or a plain log
    const alertText = (a: Alert, update: boolean) =>
      `${a.lastSeen} ${a.severity.padEnd(8)} ${a.rule.id} ${alertTarget(a)} user=${a.user} count=${a.count}${update ? ' (final)' : ''} id=${a.id}\n`;
    // an alert is written when it is raised (detection should not wait for the dedup window) and once
    // more, with the same id, when its window closes if more events folded into it
    const written = new Map<string, number>();
    const write = (a: Alert, update: boolean) => {
      if (keep && !keep.has(a.severity)) return;
      sink.write(format === 'table' ? alertText(a, update) : renderAlertLine(a));
      forwarder?.send(update ? a : structuredClone(a));
    };
    const closeAlerts = (alerts: readonly Alert[]) => {
      for (const a of alerts) {
        const n = written.get(a.id);
        written.delete(a.id);
        if (n === undefined || n !== a.count) write(a, true);
      }
    };
    let lastEvent = Date.now();
    const onEvents = (events: AuditEvent[]) => {
      for (const e of events) {
        for (const a of detector.process(e)) {
          written.set(a.id, a.count);
          write(a, false);
        }
      }
      const last = events[events.length - 1];
      if (last) detector.advance(eventTime(last, Number.NaN));
      lastEvent = Date.now();
      closeAlerts(detector.drain());
    };
    const dataDir = resolve(ctx.get<string | undefined>('data-dir') ?? defaultDataDir());
    const server = await startAuditWebhook({
      dataDir,
      tls: { certFile, keyFile },
      ...(host ? { host } : {}),
      port,
      ...(tokenFile ? { tokenFile } : {}),
      ...(clientCa ? { clientCaFile: clientCa } : {}),
      maxBodyBytes: ctx.get<number>('max-batch-size'),
      wal: { retentionBytes: ctx.get<number>('wal-retention') },
      ...(cluster ? { cluster } : {}),
      onEvents,
    });
    // with no events coming, the wall clock (less the API server's batching delay) closes alerts
    const IDLE_LAG_MS = 60_000;
    const idle = setInterval(() => {
      if (Date.now() - lastEvent < 5_000) return;
      detector.advance(Date.now() - IDLE_LAG_MS);
      closeAlerts(detector.drain());
    }, 5_000);
    idle.unref();
    if (!quiet) {
      process.stderr.write(
        `moat: audit webhook on ${server.url} (${set.rules.rules.length} rules, write-ahead log in ${join(dataDir, 'audit-wal')})\n`,
      );
    }
    await new Promise<void>((done) => {
      process.once('SIGTERM', done);
      process.once('SIGINT', done);
    });
    clearInterval(idle);
    await server.close();
    closeAlerts(detector.flush());
    const fwd = forwarder ? await forwarder.close(5_000) : undefined;
    sink.close();
    if (!quiet) {
      const s = server.stats();
      const d = detector.stats();
      process.stderr.write(
        `moat: audit webhook stopped: ${s.eventsAccepted} events accepted (${s.duplicates} duplicates, ${s.malformed} malformed), ${d.alertsOpened} alerts${fwd ? `; forwarded ${fwd.sent}, dropped ${fwd.dropped}, failed ${fwd.failed + fwd.abandoned}` : ''}\n`,
      );
    }
  });
  return cmd;
}

function installCommand(): Command {
  const cmd = new Command('install').description(
    'write what the API server needs to send audit events to moat audit serve: a CA and server certificate for --server-url, a bearer token, the --audit-webhook-config-file kubeconfig and the audit policy the rules need',
  );
  addOptions(cmd, ['quiet', 'debug', 'config', ...INSTALL_OPTIONS]);
  cmd.action(async (_opts: unknown, c: Command) => {
    const ctx = await commandContext(c, INSTALL_OPTIONS);
    const serverUrl = ctx.get<string | undefined>('server-url');
    const outDir = ctx.get<string | undefined>('out-dir');
    if (!serverUrl || !outDir) {
      throw new MoatError(
        'USAGE',
        'audit install needs --server-url (the https URL the API server calls) and --out-dir',
      );
    }
    let url: URL;
    try {
      url = new URL(serverUrl);
    } catch {
      throw new MoatError('USAGE', `--server-url ${serverUrl}: not a URL`);
    }
    if (url.protocol !== 'https:') throw new MoatError('USAGE', `--server-url ${serverUrl}: must be https`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const [{ generateCa, issueServerCertificate }, { auditWebhookKubeconfig, generateAuditWebhookToken }] =
      await Promise.all([import('../admission/certs.js'), import('../detect/webhook/kubeconfig.js')]);
    const ca = generateCa(`moat audit webhook CA (${host})`);
    // the API server may call an address or a name; a name also gets localhost for checks on the host
    const names = isIP(host) ? [host] : [host, 'localhost'];
    const server = issueServerCertificate(ca, names);
    const token = generateAuditWebhookToken();
    const dir = resolve(outDir);
    try {
      mkdirSync(dir, { recursive: true });
      const put = (name: string, text: string, secret = false) => {
        writeFileSync(join(dir, name), text, { mode: secret ? 0o600 : 0o644 });
        if (secret) chmodSync(join(dir, name), 0o600);
      };
      put('ca.crt', ca.cert);
      put('tls.crt', server.cert);
      put('tls.key', server.key, true);
      put('token', `${token}\n`, true);
      put(
        'audit-webhook.kubeconfig',
        auditWebhookKubeconfig({ url: url.href, caCert: ca.cert, token }),
        true,
      );
      const policy = packagePath('deploy', 'audit', 'audit-policy.yaml');
      if (!policy)
        throw new MoatError(
          'INTERNAL',
          'deploy/audit/audit-policy.yaml is missing from this moat installation',
        );
      copyFileSync(policy, join(dir, 'audit-policy.yaml'));
    } catch (e) {
      if (e instanceof MoatError) throw e;
      throw new MoatError('USAGE', `--out-dir ${dir}: ${errorMessage(e)}`);
    }
    const port = url.port || '443';
    process.stdout.write(
      [
        `Wrote ${dir}: ca.crt, tls.crt, tls.key, token, audit-webhook.kubeconfig, audit-policy.yaml`,
        '',
        'Run moat where the API server can reach it:',
        `  moat audit serve --listen :${port} --tls-cert ${join(dir, 'tls.crt')} --tls-key ${join(dir, 'tls.key')} --token-file ${join(dir, 'token')}`,
        '',
        'Give the API server (copy the two files to its host, e.g. /etc/kubernetes/moat/):',
        '  --audit-policy-file=/etc/kubernetes/moat/audit-policy.yaml',
        '  --audit-webhook-config-file=/etc/kubernetes/moat/audit-webhook.kubeconfig',
        '  --audit-webhook-batch-max-wait=5s',
        '(deploy/audit/kind-config.yaml and kubeadm-audit.yaml show the mounts.)',
        '',
      ].join('\n'),
    );
    log.debug({ dir, names }, 'audit webhook material written');
  });
  return cmd;
}

function coverageCommand(): Command {
  const cmd = new Command('coverage')
    .description(
      'check an API server audit policy against the rules: which rules it leaves blind (requests logged at None, or below the level the rule reads); exit 1 when any rule is blind or partly blind',
    )
    .argument('<policy>', 'audit Policy file (audit.k8s.io/v1)');
  addOptions(cmd, ['format', 'output', 'quiet', 'debug', 'config', ...COVERAGE_OPTIONS]);
  cmd.action(async (file: string, _opts: unknown, c: Command) => {
    const ctx = await commandContext(c, COVERAGE_OPTIONS);
    const format = checkFormat(ctx, ['table', 'json'] as const, 'moat audit coverage');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new MoatError(
        'NOT_FOUND',
        `cannot read audit policy ${file}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`,
      );
    }
    const [{ parseAuditPolicy, ruleCoverage }, { textTable }] = await Promise.all([
      import('../detect/audit-policy.js'),
      import('../report/text-table.js'),
    ]);
    const policy = parseAuditPolicy(text, file);
    const set = await loadAuditRules(await auditRuleSettings(ctx));
    await reportLoad(set, ctx.get<boolean | undefined>('quiet') === true);
    const cov = ruleCoverage(policy, set.rules.rules);
    if (format === 'json') {
      ctx.write(`${JSON.stringify({ policy: file, rules: cov }, null, 2)}\n`);
    } else {
      const rows = cov.map((r) => {
        const missing = r.probes
          .filter((p) => !p.ok)
          .map(
            (p) =>
              `${p.verb} ${[p.apiGroup, p.resource].filter((x) => x).join('/')}${p.subresource ? `/${p.subresource}` : ''} at ${p.level}${p.stages.length === 0 ? ' (stage omitted)' : ''}`,
          );
        return [r.verdict.toUpperCase(), r.rule, r.needed, missing.join('; ')];
      });
      const counts = { ok: 0, partial: 0, blind: 0 };
      for (const r of cov) counts[r.verdict]++;
      ctx.write(
        `${textTable(
          [
            { header: 'VERDICT' },
            { header: 'RULE' },
            { header: 'NEEDS' },
            { header: 'NOT LOGGED AS NEEDED', flexible: true },
          ],
          rows,
          process.stdout.isTTY ? (process.stdout.columns ?? 0) : 0,
        )}\n${cov.length} rules: ${counts.ok} ok, ${counts.partial} partial, ${counts.blind} blind\n`,
      );
    }
    if (cov.some((r) => r.verdict !== 'ok')) setExitCode(1);
  });
  return cmd;
}

export function auditLiveCommands(): Command[] {
  return [serveCommand(), installCommand(), coverageCommand()];
}
