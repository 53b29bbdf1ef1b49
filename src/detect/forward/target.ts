import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { errorMessage, MoatError } from '../../errors.js';
import { log } from '../../log.js';
import { createFanout, type FanoutForwarder } from './fanout.js';
import { isSyslogFacility, SYSLOG_FACILITIES, type SyslogMessageFormat } from './rfc5424.js';
import { createSyslogForwarder, type SyslogForwarderOptions } from './syslog.js';
import type { AlertForwarder, OverflowPolicy } from './types.js';
import { createWebhookForwarder, type WebhookForwarderOptions } from './webhook.js';

/**
 * Forwarding targets as the CLI takes them:
 *   https://host/path, http://host/path   webhook (JSON POST)
 *   syslog+tcp://host[:port]              RFC 5424 over TCP, RFC 6587 octet counting (port 601)
 *   syslog+tls://host[:port]              RFC 5424 over TLS, RFC 5425 (port 6514)
 * The `syslog+` prefix keeps the scheme saying what is spoken, not just the transport. Options (CA, client
 * certificate, headers...) apply to every target they make sense for.
 */
export interface ForwardTargetOptions {
  /** PEM files: CA bundle to trust, client certificate and key (https and syslog+tls targets) */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** `Name: value` request headers for webhook targets (e.g. `Authorization: Bearer ...`) */
  headers?: readonly string[];
  /** syslog facility name or number (default local0) */
  facility?: string;
  /** syslog MSG: json (default) or text */
  syslogMessage?: SyslogMessageFormat;
  /** webhook alerts per request (default 1: one object per request; more: arrays) */
  batchSize?: number;
  /** alerts held per target while it is slow or down (default 10,000) */
  queueSize?: number;
  overflow?: OverflowPolicy;
  /** webhook request / syslog connect timeout (default 10 s) */
  timeoutMs?: number;
  /** webhook retries (default 5) */
  retries?: number;
}

export type ForwardTarget =
  | { kind: 'webhook'; name: string; options: WebhookForwarderOptions }
  | { kind: 'syslog'; name: string; options: SyslogForwarderOptions };

const DEFAULT_PORT = { tcp: 601, tls: 6514 } as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The target without credentials or query string, safe for logs and error messages. */
function redact(spec: string): string {
  try {
    const u = new URL(spec);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return spec.replace(/\/\/[^@/]*@/, '//').replace(/\?.*$/, '');
  }
}

function readPem(file: string, what: string, target: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new MoatError(
      'USAGE',
      `forward target ${target}: cannot read ${what} ${file}: ${code ?? errorMessage(e)}`,
    );
  }
}

/** Bad PEM would otherwise only show at the first connection, as a retried error: check it up front. */
function checkPem(
  t: { ca?: string; cert?: string; key?: string },
  opts: ForwardTargetOptions,
  fail: (cause: string) => never,
): void {
  if (t.ca !== undefined) {
    const blocks = t.ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) fail(`CA file ${opts.caFile} holds no PEM certificate`);
    for (const b of blocks) {
      try {
        new X509Certificate(b);
      } catch (e) {
        fail(`CA file ${opts.caFile}: ${errorMessage(e)}`);
      }
    }
  }
  if (t.cert !== undefined) {
    try {
      createSecureContext({ cert: t.cert, key: t.key });
    } catch (e) {
      fail(`client certificate ${opts.certFile} with key ${opts.keyFile}: ${errorMessage(e)}`);
    }
  }
}

function parseHeaders(lines: readonly string[], target: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = i > 0 ? line.slice(0, i).trim() : '';
    const value = i > 0 ? line.slice(i + 1).trim() : '';
    if (!HEADER_NAME.test(name) || /[\r\n\0]/.test(value)) {
      // the value may be a secret: name only the header
      throw new MoatError(
        'USAGE',
        `forward target ${target}: header must be "Name: value": ${name || '(no name)'}`,
      );
    }
    out[name] = value;
  }
  return out;
}

function positive(n: number | undefined, what: string, target: string): number | undefined {
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < 1)
    throw new MoatError('USAGE', `forward target ${target}: ${what} must be a positive integer: ${n}`);
  return n;
}

export function parseForwardTarget(spec: string, opts: ForwardTargetOptions = {}): ForwardTarget {
  const target = redact(spec.trim());
  const fail = (cause: string): never => {
    throw new MoatError('USAGE', `forward target ${target}: ${cause}`);
  };
  let url: URL;
  try {
    url = new URL(spec.trim());
  } catch {
    return fail('not a URL (use https://..., syslog+tcp://host:port or syslog+tls://host:port)');
  }
  const scheme = url.protocol.slice(0, -1);
  const queueSize = positive(opts.queueSize, 'queue size', target);
  const timeoutMs = positive(opts.timeoutMs, 'timeout', target);
  const secure = scheme === 'https' || scheme === 'syslog+tls';
  if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) {
    fail('a client certificate needs both a certificate file and a key file');
  }
  const tls = secure
    ? {
        ca: opts.caFile === undefined ? undefined : readPem(opts.caFile, 'CA file', target),
        cert: opts.certFile === undefined ? undefined : readPem(opts.certFile, 'certificate file', target),
        key: opts.keyFile === undefined ? undefined : readPem(opts.keyFile, 'key file', target),
      }
    : {};
  if (secure) checkPem(tls, opts, fail);

  if (scheme === 'https' || scheme === 'http') {
    if (!url.hostname) fail('no host');
    if (scheme === 'http' && !isLoopback(url.hostname)) {
      log.warn({ target }, 'webhook target is plain http: alerts travel unencrypted');
    }
    const batchSize = positive(opts.batchSize, 'batch size', target);
    return {
      kind: 'webhook',
      name: `webhook ${target}`,
      options: {
        url: url.href,
        name: `webhook ${target}`,
        headers: parseHeaders(opts.headers ?? [], target),
        ...tls,
        batchSize,
        queueSize,
        overflow: opts.overflow,
        timeoutMs,
        retries: opts.retries,
      },
    };
  }
  if (scheme === 'syslog+tcp' || scheme === 'syslog+tls') {
    if (!url.hostname) fail('no host');
    if (url.username || url.password) fail('syslog targets take no credentials (use a client certificate)');
    if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash)
      fail('a syslog target is host:port only');
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port === '' ? DEFAULT_PORT[secure ? 'tls' : 'tcp'] : Number(url.port);
    let facility: number | undefined;
    if (opts.facility !== undefined) {
      const f = opts.facility.trim().toLowerCase();
      if (isSyslogFacility(f)) facility = SYSLOG_FACILITIES[f];
      else if (/^\d+$/.test(f) && Number(f) <= 23) facility = Number(f);
      else fail(`unknown syslog facility ${opts.facility} (a name such as local0 or authpriv, or 0-23)`);
    }
    return {
      kind: 'syslog',
      name: target.replace(/\/$/, ''),
      options: {
        host,
        port,
        tls: secure,
        name: target.replace(/\/$/, ''),
        ...tls,
        facility,
        message: opts.syslogMessage,
        queueSize,
        overflow: opts.overflow,
        connectTimeoutMs: timeoutMs,
      },
    };
  }
  if (['tcp', 'tls', 'syslog', 'udp', 'syslog+udp'].includes(scheme)) {
    return fail(`unsupported scheme ${scheme}:// (use syslog+tcp:// or syslog+tls://; UDP is not supported)`);
  }
  return fail(`unsupported scheme ${scheme}:// (use https://, http://, syslog+tcp:// or syslog+tls://)`);
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

export function createForwarder(target: ForwardTarget): AlertForwarder {
  try {
    return target.kind === 'webhook'
      ? createWebhookForwarder(target.options)
      : createSyslogForwarder(target.options);
  } catch (e) {
    // bad PEM text surfaces here, from the TLS context or the agent
    throw new MoatError('USAGE', `forward target ${target.name}: ${errorMessage(e)}`, { cause: e });
  }
}

/** Parses every target and sends each alert to all of them. */
export function createForwarders(specs: readonly string[], opts: ForwardTargetOptions = {}): FanoutForwarder {
  const targets = specs.map((s) => parseForwardTarget(s, opts));
  const names = new Set<string>();
  for (const t of targets) {
    if (names.has(t.name)) throw new MoatError('USAGE', `forward target ${t.name}: given twice`);
    names.add(t.name);
  }
  if (opts.headers?.length && !targets.some((t) => t.kind === 'webhook')) {
    throw new MoatError(
      'USAGE',
      `forward headers given but no webhook target among ${specs.length} target(s)`,
    );
  }
  return createFanout(targets.map(createForwarder));
}
