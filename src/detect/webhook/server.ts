/**
 * The Kubernetes audit webhook backend: kube-apiserver started with `--audit-webhook-config-file`
 * POSTs `audit.k8s.io/v1` EventLists (batches of up to 400 events by default, k8s.io/apiserver
 * plugin/pkg/audit/buffered) to the kubeconfig's server URL and retries a batch five times with
 * backoff (10 s × 1.5^n) on any error or non-2xx answer, then drops it.
 *
 * A batch is answered 200 only once its events are in the write-ahead log and fsynced (wal.ts), so a
 * crash never loses an acknowledged event; events seen before (auditID + stage) are dropped, which
 * makes the API server's retries harmless. Then the events go to the consumer (consumer.ts).
 *
 * Routes: POST <path> (default /audit; `/` too), GET /healthz (no auth), GET /metrics (Prometheus text;
 * the webhook's credentials unless `publicMetrics`). 400 body not JSON or no event in it, 401 no valid
 * token or client certificate, 413 body over maxBodyBytes (not read), 503 WAL failed or too many bytes
 * in flight (the API server retries both).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import { errorMessage, MoatError } from '../../errors.js';
import { log } from '../../log.js';
import { BodyBudget, readBoundedBody } from '../../util/http-body.js';
import { guardConnections, listen } from '../../util/http-server.js';
import type { AuditEvent } from '../event.js';
import { AuditDecoder } from '../ingest/normalize.js';
import { type IngestStats, type MalformedSample, newIngestStats } from '../ingest/stats.js';
import { type AuditConsumer, type ConsumerStats, DEFAULT_MAX_QUEUED_EVENTS, Dispatcher } from './consumer.js';
import { KEY_BYTES, writeEventKey } from './dedup.js';
import { openWal, type Wal, type WalOptions, type WalStats } from './wal.js';

/** Go's encoding/json never makes a batch this big (400 events × ~100 KB truncated events is ~40 MB at worst). */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
export const DEFAULT_PORT = 9443;

export type WebhookTls =
  | { cert: string | Buffer; key: string | Buffer }
  | { certFile: string; keyFile: string };

export interface AuditWebhookOptions {
  /** the data directory; the WAL is `<dataDir>/audit-wal` */
  dataDir: string;
  /** server certificate and key; required unless `insecureHttp` */
  tls?: WebhookTls;
  /** plain HTTP, allowed on a loopback address only (tests, a sidecar behind a TLS proxy) */
  insecureHttp?: boolean;
  /** default all interfaces */
  host?: string;
  /** default 9443; 0 picks a free port */
  port?: number;
  /** the path of the URL in the API server's kubeconfig; default /audit (POST / is accepted too) */
  path?: string;
  /** bearer tokens the API server may present (`users[].user.token` in its kubeconfig) */
  tokens?: readonly string[];
  /** a file of tokens, one a line (`#` comments); re-read when it changes */
  tokenFile?: string;
  /** CA (PEM) that signs the API server's client certificate; enables client-certificate auth */
  clientCa?: string | Buffer;
  clientCaFile?: string;
  /** client certificates must have one of these subject CNs (default: any the CA signed) */
  allowedCommonNames?: readonly string[];
  /** accept unauthenticated batches: only with insecureHttp, for tests */
  insecureNoAuth?: boolean;
  /** larger bodies get 413 without being read; default 32 MiB */
  maxBodyBytes?: number;
  /** body bytes buffered across requests before new ones get 503; default 256 MiB */
  maxBufferedBytes?: number;
  /** headers and body must arrive within this; default 30 s (the API server's own request timeout) */
  requestTimeoutMs?: number;
  /** default 120 s, longer than Go's 90 s idle timeout so the API server closes first */
  keepAliveTimeoutMs?: number;
  /** on close(), in-flight requests get this long before their connections are cut; default 10 s */
  closeGraceMs?: number;
  /** /metrics without credentials; default false */
  publicMetrics?: boolean;
  /** cluster name recorded in the events' source */
  cluster?: string;
  wal?: WalOptions;
  /** receives the events after they are durable, in order; at least once (see consumer.ts) */
  onEvents?: AuditConsumer;
  /** events held in memory for a lagging consumer before it reads them back from the WAL; default 100,000 */
  maxQueuedEvents?: number;
  /** malformed records kept as samples; default 20 */
  sampleLimit?: number;
  /** how often token and TLS files are checked for changes; default 30 s, 0 = never */
  reloadMs?: number;
}

export interface AuditWebhookStats {
  /** POSTs to the audit path */
  requests: number;
  /** batches with at least one new event, written to the WAL */
  batches: number;
  eventsAccepted: number;
  /** events dropped as already seen (API-server retries) */
  duplicates: number;
  malformed: number;
  /** recognised records deliberately dropped by the decoder */
  skipped: number;
  malformedSamples: MalformedSample[];
  /** answers by HTTP status, all routes */
  responses: Record<string, number>;
  /** seconds from request to answer on the audit path: count, sum and Prometheus buckets */
  latency: { count: number; sum: number; buckets: { le: number; count: number }[] };
  wal: WalStats;
  consumer: ConsumerStats;
}

export interface AuditWebhook {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  stats(): AuditWebhookStats;
  /** stops accepting, finishes in-flight batches, stops the consumer, closes the WAL */
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const OK_BODY = JSON.stringify({ apiVersion: 'v1', kind: 'Status', status: 'Success', code: 200 });
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function statusBody(code: number, message: string): string {
  const reason = REASONS[code] ?? 'Failure';
  return JSON.stringify({ apiVersion: 'v1', kind: 'Status', status: 'Failure', message, reason, code });
}

function readOption(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new MoatError(
      'USAGE',
      `${what} file ${file}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`,
    );
  }
}

/** Tokens are compared as SHA-256 digests: equal length for timingSafeEqual, and no early exit. */
const digest = (token: string) => createHash('sha256').update(token).digest();

function parseTokens(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
}

export async function startAuditWebhook(opts: AuditWebhookOptions): Promise<AuditWebhook> {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxBuffered = opts.maxBufferedBytes ?? 256 * 1024 * 1024;
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const auditPath = opts.path ?? '/audit';
  const reloadMs = opts.reloadMs ?? 30_000;

  // ---- configuration checks, before anything is opened
  if (!opts.tls && !opts.insecureHttp) {
    throw new MoatError('USAGE', 'audit webhook: a TLS certificate and key are required (tls)');
  }
  if (opts.insecureHttp && !LOOPBACK.has(opts.host ?? '')) {
    throw new MoatError(
      'USAGE',
      `audit webhook: plain HTTP only on a loopback address, not ${opts.host ?? 'all'}`,
    );
  }
  const readTls = () => {
    const t = opts.tls;
    if (!t) return undefined;
    if ('cert' in t) return { cert: Buffer.from(t.cert), key: Buffer.from(t.key) };
    return { cert: readOption(t.certFile, 'TLS certificate'), key: readOption(t.keyFile, 'TLS key') };
  };
  const readClientCa = () =>
    opts.clientCaFile
      ? readOption(opts.clientCaFile, 'client CA')
      : opts.clientCa
        ? Buffer.from(opts.clientCa)
        : undefined;
  let tls = readTls();
  let clientCa = readClientCa();
  let tokens: Buffer[] = [];
  const loadTokens = () => {
    const list = [...(opts.tokens ?? [])];
    if (opts.tokenFile) list.push(...parseTokens(readOption(opts.tokenFile, 'token').toString('utf8')));
    return list.map(digest);
  };
  tokens = loadTokens();
  if (clientCa && !tls) throw new MoatError('USAGE', 'audit webhook: client certificates need TLS');
  if (tokens.length === 0 && !clientCa && !opts.insecureNoAuth) {
    throw new MoatError(
      'USAGE',
      'audit webhook: configure bearer tokens or a client CA (no authentication set)',
    );
  }
  if (opts.insecureNoAuth && !opts.insecureHttp) {
    throw new MoatError('USAGE', 'audit webhook: insecureNoAuth is for loopback HTTP tests only');
  }
  const allowedCNs = opts.allowedCommonNames ? new Set(opts.allowedCommonNames) : undefined;

  const wal: Wal = await openWal(join(opts.dataDir, 'audit-wal'), opts.wal);
  const ingest: IngestStats = newIngestStats(opts.sampleLimit);
  const decoder = new AuditDecoder(ingest, { cluster: opts.cluster });
  const ctx = { file: undefined, line: undefined, cluster: opts.cluster, format: 'webhook' };
  const dispatcher = opts.onEvents
    ? new Dispatcher(
        wal,
        opts.onEvents,
        { cluster: opts.cluster },
        opts.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS,
      )
    : undefined;
  const counters = { requests: 0, batches: 0, eventsAccepted: 0, duplicates: 0 };
  const responses = new Map<number, number>();
  const latency = { count: 0, sum: 0, buckets: new Array<number>(BUCKETS.length).fill(0) };
  const budget = new BodyBudget(maxBuffered);
  let closing = false;

  // ---- responses
  const send = (res: ServerResponse, code: number, body: string, type = 'application/json') => {
    responses.set(code, (responses.get(code) ?? 0) + 1);
    const headers: Record<string, string | number> = {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
    };
    if (closing) headers.Connection = 'close';
    res.writeHead(code, headers);
    res.end(body);
  };
  const fail = (res: ServerResponse, code: number, message: string, headers: Record<string, string> = {}) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    send(res, code, statusBody(code, message));
  };
  /** Answers without reading the rest of the body, then drops the connection. */
  const refuse = (req: IncomingMessage, res: ServerResponse, code: number, message: string, headers = {}) => {
    res.setHeader('Connection', 'close');
    res.once('finish', () => req.socket.destroySoon());
    fail(res, code, message, headers);
  };
  const observe = (started: bigint) => {
    const s = Number(process.hrtime.bigint() - started) / 1e9;
    latency.count++;
    latency.sum += s;
    const i = BUCKETS.findIndex((le) => s <= le);
    if (i >= 0) latency.buckets[i] = (latency.buckets[i] as number) + 1;
  };

  // ---- authentication
  const certOk = new WeakMap<object, string | undefined>();
  /** undefined when the request is authenticated, else why not */
  const authenticate = (req: IncomingMessage): string | undefined => {
    if (opts.insecureNoAuth) return undefined;
    const header = req.headers.authorization;
    if (header !== undefined && tokens.length > 0) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (m) {
        const given = digest(m[1] as string);
        let match = false;
        for (const t of tokens) match = timingSafeEqual(given, t) || match;
        if (match) return undefined;
      }
    }
    if (clientCa) {
      const sock = req.socket as TLSSocket;
      let why = certOk.get(sock);
      if (!certOk.has(sock)) {
        why = clientCertProblem(sock, allowedCNs);
        certOk.set(sock, why);
      }
      if (why === undefined) return undefined;
      if (header === undefined) return why;
    }
    return header === undefined ? 'no bearer token' : 'invalid bearer token';
  };

  // ---- the audit path
  const handleBatch = async (body: Buffer, res: ServerResponse, started: bigint) => {
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch (e) {
      return fail(res, 400, `body is not JSON: ${errorMessage(e)}`);
    }
    const malformedBefore = ingest.malformed;
    const events: AuditEvent[] = [];
    decoder.decodeValue(value, ctx, events);
    const malformed = ingest.malformed - malformedBefore;
    if (events.length === 0 && malformed > 0) {
      const kind = (value as { kind?: unknown } | null)?.kind;
      const what = typeof kind === 'string' ? `kind ${kind}` : 'body';
      return fail(res, 400, `no audit event in the ${what}: ${malformed} malformed record(s)`);
    }
    // keys are written compacted: a duplicate's slot is reused by the next event
    const keys = Buffer.allocUnsafe(events.length * KEY_BYTES);
    const accepted: AuditEvent[] = [];
    for (const ev of events) {
      const off = accepted.length * KEY_BYTES;
      writeEventKey(ev.auditID, ev.stage, keys, off);
      if (wal.dedup.addIfNew(keys, off)) accepted.push(ev);
    }
    const dups = events.length - accepted.length;
    counters.duplicates += dups;
    try {
      if (accepted.length === 0) {
        // all seen: acknowledge only once the record that holds them is on disk (it may be in flight)
        await wal.barrier();
      } else {
        // the body as received when every event in it is kept (no copy); else the kept events re-encoded
        const raw = dups === 0 && malformed === 0;
        const payload = raw ? body : Buffer.from(JSON.stringify(accepted));
        const seq = await wal.append(raw ? 'body' : 'events', keys, accepted.length, payload);
        counters.batches++;
        counters.eventsAccepted += accepted.length;
        if (dispatcher) dispatcher.offer(seq, accepted);
        else wal.setCheckpoint(seq);
      }
    } catch (e) {
      return fail(res, 503, `audit log not written: ${errorMessage(e)}`, { 'Retry-After': '10' });
    }
    send(res, 200, OK_BODY);
    observe(started);
  };

  const audit = (req: IncomingMessage, res: ServerResponse, started: bigint) => {
    if (req.method !== 'POST') return fail(res, 405, `${req.method} ${req.url}: use POST`, { Allow: 'POST' });
    counters.requests++;
    const why = authenticate(req);
    if (why !== undefined) {
      return refuse(req, res, 401, `unauthorized: ${why}`, {
        'WWW-Authenticate': 'Bearer realm="moat-audit"',
      });
    }
    const walError = wal.failure();
    if (walError || closing) {
      return refuse(req, res, 503, walError ? walError.message : 'shutting down', { 'Retry-After': '10' });
    }
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      return refuse(req, res, 415, `Content-Encoding ${encoding} is not supported`);
    }
    readBoundedBody(
      req,
      maxBody,
      budget,
      (body) => {
        handleBatch(body, res, started).catch((e) => {
          log.error({ reason: errorMessage(e) }, 'audit webhook batch failed');
          if (!res.headersSent) fail(res, 500, 'internal error');
        });
      },
      (r) => {
        if (r.why === 'too-large')
          refuse(req, res, 413, `request body of ${r.size} is over the ${maxBody}-byte limit`);
        else refuse(req, res, 503, 'too many batches in flight; retry', { 'Retry-After': '1' });
      },
    );
  };

  const metrics = (req: IncomingMessage, res: ServerResponse) => {
    if (!opts.publicMetrics) {
      const why = authenticate(req);
      if (why !== undefined) return fail(res, 401, `unauthorized: ${why}`);
    }
    send(res, 200, renderMetrics(stats()), 'text/plain; version=0.0.4');
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?', 1)[0];
    try {
      if (path === auditPath || path === '/') return audit(req, res, started);
      if (path === '/healthz') {
        const e = wal.failure();
        return e || closing
          ? send(res, 503, `${e ? e.message : 'shutting down'}\n`, 'text/plain')
          : send(res, 200, 'ok\n', 'text/plain');
      }
      if (path === '/metrics') return metrics(req, res);
      return fail(res, 404, `${path}: not found (POST ${auditPath}, GET /healthz, /metrics)`);
    } catch (e) {
      log.error({ path, reason: errorMessage(e) }, 'audit webhook request failed');
      if (!res.headersSent) fail(res, 500, 'internal error');
      else res.destroy();
    }
  };

  const serverOptions = {
    requestTimeout,
    headersTimeout: requestTimeout,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 120_000,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, requestTimeout / 4)),
  };
  const server: Server = tls
    ? createHttpsServer(
        {
          ...serverOptions,
          cert: tls.cert,
          key: tls.key,
          minVersion: 'TLSv1.2',
          handshakeTimeout: Math.min(requestTimeout, 10_000),
          // the certificate is checked per request (401), not at the handshake: kubelet probes of
          // /healthz and Prometheus present none
          ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: false } : {}),
        },
        handler,
      )
    : createHttpServer(serverOptions, handler);
  guardConnections(server);

  try {
    await listen(server, opts.port ?? DEFAULT_PORT, opts.host);
  } catch (e) {
    await dispatcher?.stop();
    await wal.close();
    throw new MoatError(
      'USAGE',
      `audit webhook: cannot listen on ${opts.host ?? '*'}:${opts.port ?? DEFAULT_PORT}: ${errorMessage(e)}`,
    );
  }
  server.on('error', (e) => log.error({ reason: e.message }, 'audit webhook server error'));

  // token file and TLS files: picked up when they change (rotation by cert-manager or a Secret update)
  let reload: NodeJS.Timeout | undefined;
  const fileTls = opts.tls && 'certFile' in opts.tls;
  if (reloadMs > 0 && (opts.tokenFile || fileTls || opts.clientCaFile)) {
    const mtimes = new Map<string, number>();
    const changed = (file: string | undefined) => {
      if (!file) return false;
      try {
        const m = statSync(file).mtimeMs;
        const before = mtimes.get(file);
        mtimes.set(file, m);
        return before !== undefined && before !== m;
      } catch {
        return false;
      }
    };
    const files = opts.tls && 'certFile' in opts.tls ? [opts.tls.certFile, opts.tls.keyFile] : [];
    const watched = () => ({
      tokens: changed(opts.tokenFile),
      tls: files.map(changed).some(Boolean) || changed(opts.clientCaFile),
    });
    watched();
    // a failed reload (a rotation caught between the key and the certificate) is tried again next tick
    const retry = { tokens: false, tls: false };
    reload = setInterval(() => {
      const c = watched();
      if (c.tokens || retry.tokens) {
        try {
          tokens = loadTokens();
          retry.tokens = false;
          log.info({ file: opts.tokenFile, tokens: tokens.length }, 'audit webhook tokens reloaded');
        } catch (e) {
          retry.tokens = true;
          log.warn(
            { file: opts.tokenFile, reason: errorMessage(e) },
            'cannot reload the audit webhook tokens',
          );
        }
      }
      if ((c.tls || retry.tls) && 'setSecureContext' in server) {
        try {
          const next = readTls();
          const ca = readClientCa();
          // throws on a key that does not match the certificate
          (server as unknown as TlsServer).setSecureContext({
            ...next,
            ...(ca ? { ca } : {}),
            minVersion: 'TLSv1.2',
          });
          tls = next;
          clientCa = ca;
          retry.tls = false;
          log.info({ file: files[0] }, 'audit webhook TLS files reloaded');
        } catch (e) {
          retry.tls = true;
          log.warn({ file: files[0], reason: errorMessage(e) }, 'cannot reload the audit webhook TLS files');
        }
      }
    }, reloadMs);
    reload.unref();
  }

  const stats = (): AuditWebhookStats => {
    let cumulative = 0;
    return {
      ...counters,
      malformed: ingest.malformed,
      skipped: ingest.skipped,
      malformedSamples: [...ingest.samples],
      responses: Object.fromEntries([...responses].map(([k, v]) => [String(k), v])),
      latency: {
        count: latency.count,
        sum: latency.sum,
        buckets: BUCKETS.map((le, i) => {
          cumulative += latency.buckets[i] as number;
          return { le, count: cumulative };
        }),
      },
      wal: wal.stats(),
      consumer: dispatcher
        ? { ...dispatcher.stats }
        : { events: 0, batches: 0, replayedEvents: 0, errors: 0, readFromDisk: 0 },
    };
  };

  const port = (server.address() as AddressInfo).port;
  const hostName = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : 'localhost';
  let closed: Promise<void> | undefined;
  return {
    port,
    url: `${tls ? 'https' : 'http'}://${hostName.includes(':') ? `[${hostName}]` : hostName}:${port}${auditPath}`,
    server,
    stats,
    close() {
      closed ??= (async () => {
        closing = true;
        // batches still in flight are written and acknowledged, and replayed to the consumer next time
        dispatcher?.halt();
        if (reload) clearInterval(reload);
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), opts.closeGraceMs ?? 10_000);
        grace.unref();
        await done;
        clearTimeout(grace);
        await dispatcher?.stop();
        await wal.close();
      })();
      return closed;
    },
  };
}

/** Why a client certificate is not accepted, or undefined. */
function clientCertProblem(sock: TLSSocket, allowed: Set<string> | undefined): string | undefined {
  if (typeof sock.getPeerCertificate !== 'function') return 'no client certificate';
  const cert = sock.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return 'no client certificate';
  if (!sock.authorized) return `client certificate not accepted: ${String(sock.authorizationError)}`;
  if (allowed) {
    const cn = cert.subject?.CN;
    const names = Array.isArray(cn) ? cn : cn ? [cn] : [];
    if (!names.some((n) => allowed.has(n)))
      return `client certificate CN ${names.join(',') || '(none)'} not allowed`;
  }
  return undefined;
}

/** The stats in the Prometheus text exposition format (0.0.4). */
export function renderMetrics(s: AuditWebhookStats): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, lines: string[]) => {
    out.push(`# HELP moat_audit_webhook_${name} ${help}`, `# TYPE moat_audit_webhook_${name} ${type}`);
    for (const l of lines) out.push(`moat_audit_webhook_${name}${l}`);
  };
  metric(
    'responses_total',
    'counter',
    'HTTP answers by status code.',
    Object.entries(s.responses).map(([code, n]) => `{code="${code}"} ${n}`),
  );
  metric('batches_total', 'counter', 'Batches with new events written to the WAL.', [` ${s.batches}`]);
  metric('events_total', 'counter', 'Events received, by outcome.', [
    `{result="accepted"} ${s.eventsAccepted}`,
    `{result="duplicate"} ${s.duplicates}`,
    `{result="malformed"} ${s.malformed}`,
    `{result="skipped"} ${s.skipped}`,
  ]);
  metric('wal_bytes', 'gauge', 'Bytes in the write-ahead log.', [` ${s.wal.bytes}`]);
  metric('wal_segments', 'gauge', 'Segments of the write-ahead log.', [` ${s.wal.segments}`]);
  metric('wal_fsyncs_total', 'counter', 'fdatasync calls (one per group commit).', [` ${s.wal.fsyncs}`]);
  metric('wal_records_total', 'counter', 'Records appended since start.', [` ${s.wal.appendedRecords}`]);
  metric(
    'wal_deleted_unconsumed_total',
    'counter',
    'Records deleted by retention before the consumer read them.',
    [` ${s.wal.deletedUnconsumed}`],
  );
  metric('consumer_lag_records', 'gauge', 'WAL records not yet processed by the consumer.', [
    ` ${s.wal.durableSeq - s.wal.checkpoint}`,
  ]);
  metric('consumer_events_total', 'counter', 'Events handed to the consumer.', [` ${s.consumer.events}`]);
  metric('consumer_errors_total', 'counter', 'Consumer calls that failed.', [` ${s.consumer.errors}`]);
  metric('request_duration_seconds', 'histogram', 'Audit batch request to answer (includes the fsync).', [
    ...s.latency.buckets.map((b) => `_bucket{le="${b.le}"} ${b.count}`),
    `_bucket{le="+Inf"} ${s.latency.count}`,
    `_sum ${s.latency.sum}`,
    `_count ${s.latency.count}`,
  ]);
  return `${out.join('\n')}\n`;
}
