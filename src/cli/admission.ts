import { createWriteStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Command } from 'commander';
import { errorMessage, MoatError } from '../errors.js';
import type { PolicyConfig } from '../policy/engine.js';
import { type CommandContext, commandContext } from './context.js';
import { addOptions, type OptionName, POLICY_OPTIONS } from './options.js';

const SERVE_OPTIONS = [
  ...POLICY_OPTIONS,
  'port',
  'tls-cert',
  'tls-key',
  'namespace',
  'service-account',
  'exclude-namespaces',
  'bypass-users',
  'bypass-groups',
  'audit-log',
  'max-body-size',
  'drain-delay',
] as const satisfies readonly OptionName[];

const INSTALL_OPTIONS = [
  ...POLICY_OPTIONS,
  'namespace',
  'image',
  'failure-policy',
  'webhook-timeout',
  'exclude-namespaces',
] as const satisfies readonly OptionName[];

/** The engine `serve` runs: the policy options plus compiled custom policies (compile errors stop the start). */
async function policyEngine(ctx: CommandContext) {
  const { policySettings } = await import('./policy.js');
  const { config, policyFiles } = policySettings(ctx);
  const [{ PolicyEngine }, { loadCustomChecks }] = await Promise.all([
    import('../policy/engine.js'),
    import('../posture/index.js'),
  ]);
  const custom = await loadCustomChecks(policyFiles);
  if (custom.errors.length > 0) {
    const e = custom.errors[0];
    throw new MoatError(
      'CONFIG',
      `${e?.source}${e?.line ? `:${e.line}` : ''}: ${e?.message}${custom.errors.length > 1 ? ` (and ${custom.errors.length - 1} more errors)` : ''}`,
    );
  }
  const cfg: PolicyConfig = { ...config, extraChecks: custom.checks };
  return new PolicyEngine(cfg);
}

function serveCommand(): Command {
  const cmd = new Command('serve').description(
    'run the validating admission webhook (HTTPS: POST /validate, GET /healthz /readyz /metrics) until SIGTERM',
  );
  addOptions(cmd, ['quiet', 'debug', 'config', ...SERVE_OPTIONS]);
  cmd.action(async (_opts: unknown, c: Command) => {
    const ctx = await commandContext(c, SERVE_OPTIONS);
    const certFile = ctx.get<string | undefined>('tls-cert');
    const keyFile = ctx.get<string | undefined>('tls-key');
    if (!certFile || !keyFile) {
      throw new MoatError(
        'USAGE',
        'admission serve needs --tls-cert and --tls-key (moat admission install generates them)',
      );
    }
    const engine = await policyEngine(ctx);
    const { startAdmissionServer } = await import('../admission/server.js');
    const auditLog = ctx.get<string>('audit-log');
    const sink =
      auditLog === '-' ? process.stdout : auditLog ? createWriteStream(auditLog, { flags: 'a' }) : undefined;
    sink?.on('error', (e) => process.stderr.write(`moat: audit log ${auditLog}: ${errorMessage(e)}\n`));
    const server = await startAdmissionServer({
      engine,
      tls: { certFile, keyFile },
      port: ctx.get<number>('port'),
      maxBodyBytes: ctx.get<number>('max-body-size'),
      drainDelayMs: ctx.get<number>('drain-delay'),
      bypass: {
        namespace: ctx.get<string | undefined>('namespace') ?? 'moat-system',
        serviceAccount: ctx.get<string>('service-account'),
        excludedNamespaces: ctx.get<string[]>('exclude-namespaces'),
        users: ctx.get<string[] | undefined>('bypass-users') ?? [],
        groups: ctx.get<string[] | undefined>('bypass-groups') ?? [],
      },
      ...(sink ? { audit: (r) => sink.write(`${JSON.stringify(r)}\n`) } : {}),
    });
    if (ctx.get('quiet') !== true) {
      const kinds = [...server.reviewer.evaluatedKinds()].sort();
      process.stderr.write(
        `moat: admission webhook on port ${server.port}: ${engine.active.length} checks over ${kinds.join(', ')}\n`,
      );
    }
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    await server.close();
    if (sink && sink !== process.stdout) await new Promise<void>((r) => sink.end(() => r()));
  });
  return cmd;
}

/** Manifest files a directory holds (what `--policy DIR` reads), sorted. */
function manifestFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && ['.yaml', '.yml', '.json'].includes(extname(e.name)))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/**
 * The policy files `serve` needs inside the cluster: the policy config (its `policies` dropped, since the
 * custom policies travel as files of their own), the exemptions and each custom policy manifest.
 */
async function policyBundle(
  ctx: CommandContext,
): Promise<{ files: Array<{ path: string; content: string }>; args: string[] }> {
  // loaded here, not at start-up: every moat command imports this module
  const [{ default: yaml }, { POLICY_DIR }] = await Promise.all([
    import('js-yaml'),
    import('../admission/install.js'),
  ]);
  const files: Array<{ path: string; content: string }> = [];
  const args: string[] = [];
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      throw new MoatError('USAGE', `${f}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`);
    }
  };
  const { policySettings } = await import('./policy.js');
  const { policyFiles } = policySettings(ctx);
  const configFile =
    ctx.get<string | undefined>('policy-config') ??
    (existsQuiet('moat-policy.yaml') ? 'moat-policy.yaml' : undefined);
  if (configFile) {
    const doc = (yaml.load(read(configFile)) ?? {}) as Record<string, unknown>;
    delete doc.policies;
    files.push({ path: 'moat-policy.yaml', content: yaml.dump(doc, { lineWidth: -1 }) });
    args.push(`--policy-config=${POLICY_DIR}/moat-policy.yaml`);
  }
  const exemptions =
    ctx.get<string | undefined>('exemptions') ??
    (existsQuiet('.moat-exemptions.yaml') ? '.moat-exemptions.yaml' : undefined);
  if (exemptions) {
    files.push({ path: 'exemptions.yaml', content: read(exemptions) });
    args.push(`--exemptions=${POLICY_DIR}/exemptions.yaml`);
  }
  let i = 0;
  for (const p of policyFiles) {
    for (const f of manifestFiles(p))
      files.push({ path: `custom/${String(i++).padStart(3, '0')}-${basename(f)}`, content: read(f) });
  }
  if (i > 0) args.push(`--policy=${POLICY_DIR}/custom`);
  for (const k of ['checks', 'pss'] as const) {
    const v = ctx.get<string | string[] | undefined>(k);
    if (v !== undefined && v.length > 0) args.push(`--${k}=${Array.isArray(v) ? v.join(',') : v}`);
  }
  return { files, args };
}

function existsQuiet(f: string): boolean {
  try {
    return statSync(f).isFile();
  } catch {
    return false;
  }
}

function installCommand(): Command {
  const cmd = new Command('install').description(
    'print the manifest that runs the admission webhook (namespace, deployment, service, TLS, webhook configuration); pipe it to kubectl apply -f -',
  );
  addOptions(cmd, ['output', 'quiet', 'debug', 'config', ...INSTALL_OPTIONS]);
  cmd.action(async (_opts: unknown, c: Command) => {
    const ctx = await commandContext(c, INSTALL_OPTIONS);
    const engine = await policyEngine(ctx);
    const { AdmissionReviewer } = await import('../admission/review.js');
    const { installManifest, renderManifest, DEFAULT_IMAGE } = await import('../admission/install.js');
    const namespace = ctx.get<string | undefined>('namespace') ?? 'moat-system';
    const kinds = new AdmissionReviewer(engine, {
      bypass: { namespace, serviceAccount: '' },
    }).evaluatedKinds();
    const bundle = await policyBundle(ctx);
    const timeoutMs = ctx.get<number>('webhook-timeout');
    if (timeoutMs % 1000 !== 0) {
      throw new MoatError(
        'USAGE',
        `--webhook-timeout ${timeoutMs}ms: the API server takes whole seconds (1s to 30s)`,
      );
    }
    const image = ctx.get<string | undefined>('image');
    const manifest = installManifest({
      kinds,
      namespace,
      ...(image ? { image } : {}),
      failurePolicy: ctx.get<'Ignore' | 'Fail'>('failure-policy'),
      timeoutSeconds: timeoutMs / 1000,
      excludedNamespaces: ctx.get<string[]>('exclude-namespaces'),
      serveArgs: bundle.args,
      ...(bundle.files.length > 0 ? { policyFiles: bundle.files } : {}),
    });
    const warn = (m: string) => {
      if (ctx.get('quiet') !== true) process.stderr.write(`moat: warning: ${m}\n`);
    };
    if (!image) warn(`no --image: the Deployment runs ${DEFAULT_IMAGE}; pin the image you run by digest`);
    if (manifest.unregisteredKinds.length > 0) {
      warn(
        `kinds ${manifest.unregisteredKinds.join(', ')}: no webhook rule (not a resource install knows); their checks run in posture only`,
      );
    }
    ctx.write(
      renderManifest(
        manifest.objects,
        `moat admission webhook, generated by moat admission install\nCA and server certificate valid until ${manifest.certificates.notAfter.toISOString().slice(0, 10)}; rerun install to rotate them`,
      ),
    );
  });
  return cmd;
}

export function admissionCommand(): Command {
  const cmd = new Command('admission').description(
    'Kubernetes validating admission webhook running the policy engine',
  );
  cmd.addCommand(serveCommand());
  cmd.addCommand(installCommand());
  return cmd;
}
