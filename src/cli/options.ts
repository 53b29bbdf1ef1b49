import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseSeverity, type Severity } from '../model/severity.js';
import { parseDurationMs } from '../util/duration.js';

/**
 * Every option is declared once here (Trivy's rule): the flag, the `MOAT_*` environment variable and
 * the config-file key all come from one definition. Precedence: flag > environment > config file >
 * default. Commands pick the options they take by name.
 */
export type OptionKind =
  | 'string'
  | 'boolean'
  | 'number'
  | 'list'
  | 'severity'
  | 'severity-list'
  | 'duration'
  | 'bytes';

export interface OptionDef {
  /** long name, kebab-case; also the config-file key */
  name: string;
  /** value placeholder for non-boolean options, e.g. "<severity>" */
  arg?: string;
  short?: string;
  kind: OptionKind;
  description: string;
  default?: unknown;
  choices?: readonly string[];
  /** extra long names accepted on the command line (e.g. --ignore-unfixed for --only-fixed) */
  aliases?: readonly string[];
  /** hidden from --help (e.g. passwords are still accepted everywhere, just documented once) */
  hidden?: boolean;
  /** list options: the flag may be given several times, its values add up (--vex a.json --vex b.json) */
  repeatable?: boolean;
}

export const FORMATS = ['table', 'json', 'sarif', 'junit', 'cyclonedx', 'spdx'] as const;
export type OutputFormat = (typeof FORMATS)[number];

/** The formats `moat sbom` writes (the first is its default). */
export const SBOM_FORMATS = ['cyclonedx', 'spdx'] as const satisfies readonly OutputFormat[];

export const OPTIONS = {
  format: {
    name: 'format',
    short: 'f',
    arg: '<format>',
    kind: 'string',
    // jsonl is `moat audit scan`'s streaming format (one alert per line); the other commands reject it
    choices: [...FORMATS, 'jsonl'],
    default: 'table',
    description:
      'output format: table, json, sarif, junit, cyclonedx or spdx (`moat sbom`: cyclonedx (default) or spdx; `moat audit scan`: table, json or jsonl)',
  },
  output: {
    name: 'output',
    short: 'o',
    arg: '<file>',
    kind: 'string',
    description: 'write the report to FILE',
  },
  quiet: { name: 'quiet', short: 'q', kind: 'boolean', description: 'no progress or warnings on stderr' },
  debug: { name: 'debug', kind: 'boolean', description: 'debug logging and stack traces' },
  config: {
    name: 'config',
    arg: '<file>',
    kind: 'string',
    description: 'config file (default: ./moat.yaml, then $XDG_CONFIG_HOME/moat/moat.yaml)',
  },
  'cache-dir': {
    name: 'cache-dir',
    arg: '<dir>',
    kind: 'string',
    description:
      'cache directory for the vulnerability database and layer cache (default: $XDG_CACHE_HOME/moat)',
  },
  platform: {
    name: 'platform',
    arg: '<os/arch[/variant]>',
    kind: 'string',
    description: 'platform to pick from a multi-platform image (default: linux/amd64)',
  },
  username: { name: 'username', arg: '<user>', kind: 'string', description: 'registry user name' },
  password: {
    name: 'password',
    arg: '<password>',
    kind: 'string',
    description: 'registry password or token',
  },
  insecure: {
    name: 'insecure',
    kind: 'boolean',
    description: 'allow plain HTTP and unverified TLS for registries that are not on loopback',
  },
  timeout: {
    name: 'timeout',
    arg: '<duration>',
    kind: 'duration',
    default: '5m',
    description:
      'time limit for the whole operation (e.g. 30s, 5m); single network requests time out after at most 30s',
  },
  'list-packages': {
    name: 'list-packages',
    kind: 'boolean',
    description: 'include every package found in the JSON report, not only vulnerable ones',
  },
  severity: {
    name: 'severity',
    short: 's',
    arg: '<list>',
    kind: 'severity-list',
    description:
      'only report these severities (comma-separated: CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN; audit alerts have INFO instead of UNKNOWN)',
  },
  'only-fixed': {
    name: 'only-fixed',
    kind: 'boolean',
    aliases: ['ignore-unfixed'],
    description: 'drop findings that have no fixed version',
  },
  'fail-on': {
    name: 'fail-on',
    arg: '<severity>',
    kind: 'severity',
    description: 'exit with code 1 when a finding (or alert) at or above this severity remains after filters',
  },
  'db-path': {
    name: 'db-path',
    arg: '<file>',
    kind: 'string',
    description: 'vulnerability database file (default: <cache-dir>/vulndb.sqlite)',
  },
  'db-max-age': {
    name: 'db-max-age',
    arg: '<duration>',
    kind: 'duration',
    default: '7d',
    description: 'warn when the vulnerability data is older than this',
  },
  'db-url': {
    name: 'db-url',
    arg: '<url>',
    kind: 'string',
    default: 'https://osv-vulnerabilities.storage.googleapis.com',
    description: 'base URL of the OSV exports (<url>/<Ecosystem>/all.zip), for mirrors',
  },
  ecosystems: {
    name: 'ecosystems',
    arg: '<list>',
    kind: 'list',
    default: [
      'Debian',
      'Ubuntu',
      'Alpine',
      'Red Hat',
      'Rocky Linux',
      'AlmaLinux',
      'npm',
      'PyPI',
      'Go',
      'Maven',
      'RubyGems',
      'crates.io',
      'Packagist',
      'NuGet',
    ],
    description: 'OSV ecosystems that `db update` downloads',
  },
  replace: {
    name: 'replace',
    kind: 'boolean',
    description:
      'make a directory or JSON import replace the ecosystems it touches (an export zip always replaces its ecosystem)',
  },
  'max-layer-size': {
    name: 'max-layer-size',
    arg: '<bytes>',
    kind: 'bytes',
    default: '8GiB',
    description: 'refuse a layer that decompresses to more than this',
  },
  'skip-layer-cache': {
    name: 'skip-layer-cache',
    kind: 'boolean',
    description: 'analyze every layer again instead of using cached results',
  },
  'os-managed-lang': {
    name: 'os-managed-lang',
    kind: 'boolean',
    description:
      'also match language packages installed by the OS package manager (e.g. Debian python3-*) against language advisories',
  },
  'ignore-file': {
    name: 'ignore-file',
    arg: '<file>',
    kind: 'string',
    description:
      'ignore rules (YAML: id, package, path, reason, expires) (default: ./.moatignore when present)',
  },
  vex: {
    name: 'vex',
    arg: '<file>',
    kind: 'list',
    repeatable: true,
    description:
      'OpenVEX or CycloneDX VEX document whose not_affected/fixed statements suppress findings (repeatable)',
  },
  'show-suppressed': {
    name: 'show-suppressed',
    kind: 'boolean',
    description: 'list suppressed findings, with the rule that suppressed them, in the table',
  },
  checks: {
    name: 'checks',
    arg: '<id,...>',
    kind: 'list',
    description: 'run only these checks (ids or globs such as pss.baseline.*, defender.*, cis.5.1.*)',
  },
  pss: {
    name: 'pss',
    arg: '<level[@version]>',
    kind: 'string',
    description:
      'run only the Pod Security Standards at this level (baseline, restricted) and version (v1.N, default the newest)',
  },
  'policy-config': {
    name: 'policy-config',
    arg: '<file>',
    kind: 'string',
    description:
      'policy settings (YAML: checks.<id or glob>.effect/params, exemptions, policies) (default: ./moat-policy.yaml when present)',
  },
  exemptions: {
    name: 'exemptions',
    arg: '<file>',
    kind: 'string',
    description:
      'exemptions (YAML list: check, resource selector, reason, expires) (default: ./.moat-exemptions.yaml when present)',
  },
  policy: {
    name: 'policy',
    arg: '<file|dir>',
    kind: 'list',
    repeatable: true,
    description:
      'ValidatingAdmissionPolicy, binding and param manifests to evaluate as custom checks (repeatable)',
  },
  'show-exempted': {
    name: 'show-exempted',
    kind: 'boolean',
    description: 'list exempted violations, with the exemption that matched, in the table',
  },
  kubeconfig: {
    name: 'kubeconfig',
    arg: '<file>',
    kind: 'string',
    description: 'kubeconfig for a live cluster (default: $KUBECONFIG, then ~/.kube/config)',
  },
  context: {
    name: 'context',
    arg: '<name>',
    kind: 'string',
    description: 'kubeconfig context (default: the current context)',
  },
  cluster: {
    name: 'cluster',
    kind: 'boolean',
    description: 'assess the live cluster of the kubeconfig (the default when no manifests are given)',
  },
  'page-size': {
    name: 'page-size',
    arg: '<n>',
    kind: 'number',
    default: 500,
    description: 'objects per list request when reading a cluster',
  },
  // moat admission serve / install (docs/admission.md)
  namespace: {
    name: 'namespace',
    short: 'n',
    arg: '<name>',
    kind: 'string',
    description: 'namespace the admission webhook runs in (default: moat-system)',
  },
  'service-account': {
    name: 'service-account',
    arg: '<name>',
    kind: 'string',
    default: 'moat-admission',
    description: "the webhook's own service account, whose requests are never examined",
  },
  'exclude-namespaces': {
    name: 'exclude-namespaces',
    arg: '<list>',
    kind: 'list',
    default: ['kube-system'],
    description: 'namespaces whose requests the webhook allows unexamined (its own namespace always is)',
  },
  'bypass-users': {
    name: 'bypass-users',
    arg: '<list>',
    kind: 'list',
    description: 'user names whose requests the webhook allows unexamined',
  },
  'bypass-groups': {
    name: 'bypass-groups',
    arg: '<list>',
    kind: 'list',
    description: 'groups whose members’ requests the webhook allows unexamined',
  },
  port: {
    name: 'port',
    arg: '<port>',
    kind: 'number',
    default: 8443,
    description: 'HTTPS port of the admission webhook',
  },
  'tls-cert': {
    name: 'tls-cert',
    arg: '<file>',
    kind: 'string',
    description: 'PEM server certificate of the webhook (reloaded when the file changes)',
  },
  'tls-key': {
    name: 'tls-key',
    arg: '<file>',
    kind: 'string',
    description: 'PEM private key of the webhook certificate',
  },
  'audit-log': {
    name: 'audit-log',
    arg: '<file>',
    kind: 'string',
    default: '-',
    description:
      'where the webhook appends one JSON line per request with violations (- for stdout, "" for none)',
  },
  'max-body-size': {
    name: 'max-body-size',
    arg: '<bytes>',
    kind: 'bytes',
    default: '3MiB',
    description: 'largest AdmissionReview accepted (larger: HTTP 413)',
  },
  'drain-delay': {
    name: 'drain-delay',
    arg: '<duration>',
    kind: 'duration',
    default: '0s',
    description: 'after SIGTERM, keep answering this long (readiness failing) before closing',
  },
  image: {
    name: 'image',
    arg: '<ref>',
    kind: 'string',
    description: 'moat image the webhook Deployment runs; pin it by digest (REF@sha256:...)',
  },
  'failure-policy': {
    name: 'failure-policy',
    arg: '<policy>',
    kind: 'string',
    choices: ['Ignore', 'Fail'],
    default: 'Ignore',
    description: 'what the API server does when the webhook cannot answer: Ignore (allow) or Fail (reject)',
  },
  'webhook-timeout': {
    name: 'webhook-timeout',
    arg: '<duration>',
    kind: 'duration',
    default: '5s',
    description: "how long the API server waits for the webhook's answer (1s to 30s)",
  },
  // moat audit scan / rules (docs/detect/cli.md)
  rules: {
    name: 'rules',
    arg: '<file>',
    kind: 'list',
    repeatable: true,
    description:
      'detection rule file or directory loaded after the shipped packs: exceptions, lists, enable/disable, extra rules (repeatable)',
  },
  activity: {
    name: 'activity',
    kind: 'boolean',
    description: 'also load the informational activity pack (K8s <Kind> Created/Deleted, Secret Get)',
  },
  list: {
    name: 'list',
    arg: '<name=file>',
    kind: 'list',
    repeatable: true,
    description:
      "add the entries of FILE (one per line, # comments) to the rules' list NAME, e.g. proxy_ips=tor-exits.txt (repeatable)",
  },
  'cluster-name': {
    name: 'cluster-name',
    arg: '<name>',
    kind: 'string',
    description: 'cluster name for alerts whose events do not carry one (EKS, AKS and GKE exports do)',
  },
  'dedup-window': {
    name: 'dedup-window',
    arg: '<duration>',
    kind: 'duration',
    default: '10m',
    description: 'matches of one rule on one resource by one user within this window make one alert',
  },
  follow: {
    name: 'follow',
    kind: 'boolean',
    description:
      'keep reading the file as it grows (and across rotation) until SIGINT/SIGTERM; alerts stream as they close',
  },
  // moat audit serve / install (docs/detect/webhook.md, docs/detect/forwarders.md)
  listen: {
    name: 'listen',
    arg: '<host:port>',
    kind: 'string',
    default: ':9443',
    description: 'address the audit webhook listens on (:PORT for every interface)',
  },
  'data-dir': {
    name: 'data-dir',
    arg: '<dir>',
    kind: 'string',
    description:
      "where moat keeps durable state, the audit webhook's write-ahead log (default: $XDG_DATA_HOME/moat, else ~/.local/share/moat)",
  },
  'token-file': {
    name: 'token-file',
    arg: '<file>',
    kind: 'string',
    description: 'bearer tokens the API server may present, one a line (re-read when the file changes)',
  },
  'client-ca': {
    name: 'client-ca',
    arg: '<file>',
    kind: 'string',
    description: "PEM CA that signs the API server's client certificate (enables client-certificate auth)",
  },
  'max-batch-size': {
    name: 'max-batch-size',
    arg: '<bytes>',
    kind: 'bytes',
    default: '32MiB',
    description: 'largest audit EventList batch accepted (larger: HTTP 413)',
  },
  'wal-retention': {
    name: 'wal-retention',
    arg: '<bytes>',
    kind: 'bytes',
    default: '1GiB',
    description: 'disk the audit write-ahead log may use; the oldest segments go first',
  },
  forward: {
    name: 'forward',
    arg: '<target>',
    kind: 'list',
    repeatable: true,
    description:
      'also send each alert to TARGET: https://host/path (JSON POST), syslog+tcp://host[:port] or syslog+tls://host[:port] (RFC 5424) (repeatable)',
  },
  'forward-ca': {
    name: 'forward-ca',
    arg: '<file>',
    kind: 'string',
    description: 'PEM CA bundle to trust for https and syslog+tls forward targets',
  },
  'forward-cert': {
    name: 'forward-cert',
    arg: '<file>',
    kind: 'string',
    description: 'PEM client certificate for forward targets that require mutual TLS',
  },
  'forward-key': {
    name: 'forward-key',
    arg: '<file>',
    kind: 'string',
    description: 'PEM private key of --forward-cert',
  },
  'forward-header': {
    name: 'forward-header',
    arg: '<header>',
    kind: 'list',
    repeatable: true,
    description:
      "'Name: value' header for webhook forward targets, e.g. 'Authorization: Bearer ...' (repeatable)",
  },
  'syslog-facility': {
    name: 'syslog-facility',
    arg: '<facility>',
    kind: 'string',
    default: 'local0',
    description: 'syslog facility of forwarded alerts (name or number)',
  },
  'server-url': {
    name: 'server-url',
    arg: '<url>',
    kind: 'string',
    description:
      'https URL the API server will send audit batches to (its host name or address goes into the certificate)',
  },
  'out-dir': {
    name: 'out-dir',
    arg: '<dir>',
    kind: 'string',
    description: 'directory moat audit install writes the certificates, token, kubeconfig and policy to',
  },
} as const satisfies Record<string, OptionDef>;

export type OptionName = keyof typeof OPTIONS;

/**
 * Options of the commands that run the policy engine (posture, admission serve).
 * (here, not in policy.ts, so that defining those commands loads no policy code at start-up)
 */
export const POLICY_OPTIONS = [
  'checks',
  'pss',
  'policy-config',
  'exemptions',
  'policy',
] as const satisfies readonly OptionName[];

/** Options every command takes. */
export const GLOBAL_OPTIONS = [
  'format',
  'output',
  'quiet',
  'debug',
  'config',
  'cache-dir',
] as const satisfies readonly OptionName[];

export function envName(name: string): string {
  return `MOAT_${name.toUpperCase().replace(/-/g, '_')}`;
}

export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** "90s", "5m", "7d", "1h30m", or a bare number of seconds → milliseconds. */
export function parseDuration(v: string): number {
  const ms = parseDurationMs(v);
  if (ms === undefined) throw new InvalidArgumentError(`"${v}" is not a duration (e.g. 30s, 5m, 7d)`);
  return ms;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** "512MiB", "2GB", "1048576" → bytes. */
export function parseBytes(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = BYTE_UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) throw new InvalidArgumentError(`"${v}" is not a size (e.g. 512MiB, 2GB)`);
  return Math.floor(Number(m[1]) * unit);
}

/**
 * A vulnerability or posture severity, or INFO: alerts use Defender's scale, which has INFO where findings
 * have UNKNOWN (src/detect/alert.ts). Each command reads the value on its own scale; INFO ranks below
 * everything on the finding scale.
 */
function parseSeverityArg(v: string): Severity | 'INFO' {
  const s = parseSeverity(v);
  if (s) return s;
  if (v.trim().toUpperCase() === 'INFO') return 'INFO';
  throw new InvalidArgumentError(`"${v}" is not a severity (CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN, INFO)`);
}

function parseList(v: string): string[] {
  return v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/** The parser for an option's raw string value (from the command line, the environment or the config file). */
export function parserFor(def: OptionDef): ((v: string) => unknown) | undefined {
  switch (def.kind) {
    case 'number':
      return (v) => {
        const n = Number(v);
        if (!Number.isFinite(n)) throw new InvalidArgumentError(`"${v}" is not a number`);
        return n;
      };
    case 'list':
      return parseList;
    case 'severity':
      return parseSeverityArg;
    case 'severity-list':
      return (v) => parseList(v).map(parseSeverityArg);
    case 'duration':
      return parseDuration;
    case 'bytes':
      return parseBytes;
    case 'boolean':
      return (v) => {
        if (/^(1|true|yes|on)$/i.test(v)) return true;
        if (/^(0|false|no|off|)$/i.test(v)) return false;
        throw new InvalidArgumentError(`"${v}" is not a boolean`);
      };
    default:
      if (def.choices) {
        const choices = def.choices;
        return (v) => {
          if (!choices.includes(v))
            throw new InvalidArgumentError(`"${v}" is not one of ${choices.join(', ')}`);
          return v;
        };
      }
      return undefined;
  }
}

/** Adds the named options to a command. Values are parsed once resolveSettings has picked their source. */
export function addOptions(cmd: Command, names: readonly OptionName[]): Command {
  for (const n of names) {
    const def: OptionDef = OPTIONS[n];
    const flags = `${def.short ? `-${def.short}, ` : ''}--${def.name}${def.arg ? ` ${def.arg}` : ''}`;
    let help = def.description;
    if (def.default !== undefined) {
      help += ` (default: ${Array.isArray(def.default) ? def.default.join(',') : String(def.default)})`;
    }
    help += ` [env: ${envName(def.name)}]`;
    const opt = new Option(flags, help);
    const parse = parserFor(def);
    if (parse && def.repeatable) {
      opt.argParser((v: string, prev: unknown) => [
        ...(Array.isArray(prev) ? prev : []),
        ...(parse(v) as unknown[]),
      ]);
    } else if (parse && def.kind !== 'boolean') opt.argParser((v: string) => parse(v));
    if (def.hidden) opt.hideHelp();
    cmd.addOption(opt);
    for (const alias of def.aliases ?? []) {
      cmd.addOption(new Option(`--${alias}`, `alias of --${def.name}`).hideHelp());
      cmd.on(`option:${alias}`, () => cmd.setOptionValueWithSource(camel(def.name), true, 'cli'));
    }
  }
  return cmd;
}

export type ConfigValues = Record<string, unknown>;

/**
 * Final settings for a command: the flag, else the `MOAT_*` environment variable, else the config
 * file's key, else the default. Returns values keyed by option name (kebab-case). Environment values are
 * handled here rather than by commander so that booleans read `MOAT_QUIET=false` as false.
 */
export function resolveSettings(
  cmd: Command,
  names: readonly OptionName[],
  config: ConfigValues,
  configFile?: string,
): Record<string, unknown> {
  const opts = cmd.opts();
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const def: OptionDef = OPTIONS[n];
    const key = camel(def.name);
    const src = cmd.getOptionValueSource(key);
    if (src === 'cli') {
      out[def.name] = opts[key];
      continue;
    }
    const env = process.env[envName(def.name)];
    if (env !== undefined) {
      out[def.name] = fromConfig(def, env, envName(def.name));
      continue;
    }
    if (Object.hasOwn(config, def.name)) {
      out[def.name] = fromConfig(def, config[def.name], configFile);
      continue;
    }
    out[def.name] = def.default === undefined ? undefined : fromConfig(def, def.default, 'defaults');
  }
  return out;
}

function fromConfig(def: OptionDef, raw: unknown, file?: string): unknown {
  const parse = parserFor(def);
  const text = Array.isArray(raw) ? raw.map(String).join(',') : raw === null ? '' : String(raw);
  if (!parse) return text;
  try {
    return parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`${file ?? 'config'}: ${def.name}: ${(e as Error).message}`);
  }
}
