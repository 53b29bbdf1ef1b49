import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { errorMessage, MoatError } from '../errors.js';
import { log } from '../log.js';
import type { PolicyEngine } from '../policy/engine.js';
import { BodyBudget, type BodyRefusal, readBoundedBody } from '../util/http-body.js';
import { guardConnections, listen } from '../util/http-server.js';
import { AdmissionMetrics } from './metrics.js';
import { AdmissionReviewer, BadReviewError, type ReviewerOptions } from './review.js';

/**
 * The admission webhook's HTTPS server: POST /validate (AdmissionReview), GET /healthz, /readyz and
 * /metrics. Bounded everywhere (body size, buffered bytes across requests, header/body/handshake time)
 * because an unbounded webhook that is OOM-killed or stuck blocks a cluster whose webhook is fail-closed.
 */

/** The API server's own limit on a request body (3 MiB): no AdmissionReview it sends can be larger. */
export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

export type TlsSource =
  | { certFile: string; keyFile: string }
  | { cert: string | Buffer; key: string | Buffer };

export interface AdmissionServerOptions extends ReviewerOptions {
  engine: PolicyEngine;
  tls: TlsSource;
  /** default 8443; 0 picks a free port */
  port?: number;
  /** default all interfaces */
  host?: string;
  /** largest request body accepted; larger ones get 413 (default 3 MiB) */
  maxBodyBytes?: number;
  /** body bytes buffered across all in-flight requests before new ones get 503 (default 64 MiB) */
  maxBufferedBytes?: number;
  /** a request's headers and body must arrive within this (default 10 s; the API server gives up after 30 s) */
  requestTimeoutMs?: number;
  /** idle keep-alive connections are kept this long (default 120 s, longer than Go's 90 s idle timeout so the API server closes first) */
  keepAliveTimeoutMs?: number;
  /** files given in `tls`: check them this often and load a changed pair (default 30 s; 0 = never) */
  tlsReloadMs?: number;
  /** connections beyond this are refused (default 1,000; the API server keeps a handful per replica) */
  maxConnections?: number;
  /** on close(): keep answering (while /readyz fails) for this long so endpoints drop the pod first (default 0) */
  drainDelayMs?: number;
  /** on close(): in-flight requests get this long to finish before their connections are cut (default 10 s) */
  closeGraceMs?: number;
  metrics?: AdmissionMetrics;
}

export interface AdmissionServer {
  readonly port: number;
  readonly url: string;
  readonly metrics: AdmissionMetrics;
  readonly reviewer: AdmissionReviewer;
  readonly server: Server;
  /** stops accepting, lets in-flight requests finish, resolves when every connection is closed */
  close(): Promise<void>;
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

function readTls(tls: TlsSource): { cert: Buffer; key: Buffer } {
  if ('cert' in tls) return { cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) };
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new MoatError(
        'USAGE',
        `TLS ${what} file ${file}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`,
      );
    }
  };
  return { cert: read(tls.certFile, 'certificate'), key: read(tls.keyFile, 'key') };
}

function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Status', status: 'Failure', message, reason, code });
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

export async function startAdmissionServer(opts: AdmissionServerOptions): Promise<AdmissionServer> {
  const metrics = opts.metrics ?? new AdmissionMetrics();
  const reviewer = new AdmissionReviewer(opts.engine, { ...opts, metrics });
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxBuffered = opts.maxBufferedBytes ?? 64 * 1024 * 1024;
  const requestTimeout = opts.requestTimeoutMs ?? 10_000;
  let tls: { cert: Buffer; key: Buffer };
  try {
    tls = readTls(opts.tls);
  } catch (e) {
    if (e instanceof MoatError) throw e;
    throw new MoatError('USAGE', `TLS certificate: ${errorMessage(e)}`);
  }
  const budget = new BodyBudget(maxBuffered);
  let ready = false;
  let closing = false;

  const send = (res: ServerResponse, code: number, body: string, type = 'application/json') => {
    metrics.responses.inc({ code: String(code) });
    const headers: Record<string, string | number> = {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
    };
    if (closing) headers.Connection = 'close';
    res.writeHead(code, headers);
    res.end(body);
  };
  const fail = (res: ServerResponse, code: number, message: string, extra: Record<string, string> = {}) => {
    for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
    send(res, code, statusBody(code, REASONS[code] ?? 'Failure', message));
  };

  const validate = (req: IncomingMessage, res: ServerResponse, started: bigint) => {
    if (req.method !== 'POST') return fail(res, 405, `${req.method} ${req.url}: use POST`, { Allow: 'POST' });
    const type = req.headers['content-type'];
    if (!type || !JSON_TYPE.test(type)) {
      return fail(res, 415, `Content-Type ${type ?? '(none)'}: expected application/json`);
    }
    const refuse = (r: BodyRefusal) => {
      // the rest of the body is not read: answer, then drop the connection
      res.setHeader('Connection', 'close');
      res.once('finish', () => req.socket.destroySoon());
      if (r.why === 'too-large')
        fail(res, 413, `request body of ${r.size} is over the ${maxBody}-byte limit`);
      else fail(res, 503, 'too many AdmissionReviews in flight; retry', { 'Retry-After': '1' });
    };
    readBoundedBody(
      req,
      maxBody,
      budget,
      (body) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch (e) {
          return fail(res, 400, `body is not JSON: ${errorMessage(e)}`);
        }
        let answer: string;
        try {
          answer = JSON.stringify(reviewer.review(parsed).review);
        } catch (e) {
          if (e instanceof BadReviewError) return fail(res, 400, e.message);
          log.error({ reason: errorMessage(e) }, 'admission review failed');
          return fail(res, 500, `internal error: ${errorMessage(e)}`);
        }
        send(res, 200, answer);
        metrics.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      },
      refuse,
    );
  };

  const server = createServer(
    {
      cert: tls.cert,
      key: tls.key,
      minVersion: 'TLSv1.2',
      handshakeTimeout: Math.min(requestTimeout, 10_000),
      requestTimeout,
      headersTimeout: requestTimeout,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 120_000,
      // how often the request/headers deadlines are checked (Node's default of 30 s would let a stalled body sit long past them)
      connectionsCheckingInterval: Math.max(100, Math.min(1000, requestTimeout / 4)),
    },
    (req, res) => {
      const started = process.hrtime.bigint();
      const path = (req.url ?? '/').split('?', 1)[0];
      try {
        switch (path) {
          case '/validate':
            return validate(req, res, started);
          case '/healthz':
            return send(res, 200, 'ok\n', 'text/plain');
          case '/readyz':
            return ready && !closing
              ? send(res, 200, 'ok\n', 'text/plain')
              : send(res, 503, 'not ready\n', 'text/plain');
          case '/metrics':
            return send(res, 200, metrics.render(), 'text/plain; version=0.0.4');
          default:
            return fail(res, 404, `${path}: not found (POST /validate, GET /healthz, /readyz, /metrics)`);
        }
      } catch (e) {
        log.error({ path, reason: errorMessage(e) }, 'admission server request failed');
        if (!res.headersSent) fail(res, 500, 'internal error');
        else res.destroy();
      }
    },
  );
  guardConnections(server, opts.maxConnections);
  await listen(server, opts.port ?? 8443, opts.host);
  server.on('error', (e) => log.error({ reason: e.message }, 'admission server error'));
  ready = true;

  let reload: NodeJS.Timeout | undefined;
  const files = 'certFile' in opts.tls ? opts.tls : undefined;
  if (files && (opts.tlsReloadMs ?? 30_000) > 0) {
    let current = tls;
    let rejected: { cert: Buffer; key: Buffer } | undefined;
    reload = setInterval(() => {
      let next: { cert: Buffer; key: Buffer };
      try {
        next = readTls(files);
      } catch (e) {
        log.warn(
          { file: files.certFile, reason: errorMessage(e) },
          'cannot read the TLS files; keeping the loaded pair',
        );
        return;
      }
      if (next.cert.equals(current.cert) && next.key.equals(current.key)) return;
      // a pair that failed is reported once, not on every tick
      if (rejected && next.cert.equals(rejected.cert) && next.key.equals(rejected.key)) return;
      try {
        // throws on a key that does not match the certificate (a rotation caught half-way): retried next tick
        server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
        current = next;
        rejected = undefined;
        metrics.tlsReloads.inc({ result: 'loaded' });
        log.info({ file: files.certFile }, 'TLS certificate reloaded');
      } catch (e) {
        rejected = next;
        metrics.tlsReloads.inc({ result: 'failed' });
        log.warn(
          { file: files.certFile, reason: errorMessage(e) },
          'TLS files changed but do not load; keeping the loaded pair',
        );
      }
    }, opts.tlsReloadMs ?? 30_000);
    reload.unref();
  }

  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    port,
    url: `https://${opts.host && opts.host !== '0.0.0.0' ? opts.host : 'localhost'}:${port}`,
    metrics,
    reviewer,
    server,
    close() {
      closed ??= (async () => {
        closing = true;
        if (reload) clearInterval(reload);
        if (opts.drainDelayMs) await new Promise((r) => setTimeout(r, opts.drainDelayMs));
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), opts.closeGraceMs ?? 10_000);
        grace.unref();
        await done;
        clearTimeout(grace);
      })();
      return closed;
    },
  };
}
