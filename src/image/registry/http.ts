import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { MoatError } from '../../errors.js';
import { log } from '../../log.js';
import { isLoopbackHost } from '../reference.js';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable & { dump?: () => Promise<void> };
  url: URL;
}

export interface TransportOptions {
  insecure: boolean;
  timeoutMs: number;
  userAgent: string;
  signal?: AbortSignal;
  /** retries after the first attempt for 429/5xx and connection resets */
  retries?: number;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
/** Errors after which a GET is safely repeated: the peer dropped the connection. */
const RETRY_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const MAX_REDIRECTS = 5;
const BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 4000;
const MAX_RETRY_AFTER_MS = 10_000;

/** Foreign text (server messages, OpenSSL errors) squeezed into one bounded line for a MoatError. */
export function oneLine(s: string, max = 300): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isAbort(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'AbortError' || errorCode(e) === 'UND_ERR_ABORTED' || errorCode(e) === 'ABORT_ERR';
}

/** A TLS handshake failure that is not about the certificate: typically a plain-HTTP server. */
export function isTlsProtocolError(e: unknown): boolean {
  const code = errorCode(e) ?? '';
  return code.startsWith('ERR_SSL_') || code === 'EPROTO';
}

/** The server speaks TLS but its certificate is not trusted. */
export function isTlsVerifyError(e: unknown): boolean {
  return TLS_VERIFY_CODES.has(errorCode(e) ?? '');
}

export function isRetryableError(e: unknown): boolean {
  const code = errorCode(e);
  return code !== undefined && RETRY_CODES.has(code);
}

/** Turns a transport error into the one-line MoatError users see; abort errors pass through unchanged. */
export function networkError(e: unknown, host: string, subject: string, timeoutMs: number): unknown {
  if (isAbort(e) || e instanceof MoatError) return e;
  const code = errorCode(e) ?? '';
  const msg = (e as Error)?.message ?? String(e);
  if (TIMEOUT_CODES.has(code)) {
    const what = code === 'UND_ERR_BODY_TIMEOUT' ? 'stopped sending data' : 'did not respond';
    return new MoatError('TIMEOUT', `${subject}: registry ${host} ${what} within ${timeoutMs} ms`, {
      cause: e,
    });
  }
  if (code === 'ECONNREFUSED') {
    return new MoatError('NETWORK', `${subject}: cannot connect to registry ${host}: connection refused`, {
      cause: e,
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new MoatError('NETWORK', `${subject}: cannot resolve registry host ${host}`, { cause: e });
  }
  if (TLS_VERIFY_CODES.has(code)) {
    return new MoatError(
      'NETWORK',
      `${subject}: TLS certificate of registry ${host} is not trusted (${code}); use --insecure to skip verification`,
      { cause: e },
    );
  }
  return new MoatError(
    'NETWORK',
    `${subject}: network error talking to registry ${host}: ${code || oneLine(msg)}`,
    {
      cause: e,
    },
  );
}

function retryAfterMs(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const secs = Number(v);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : undefined;
}

/** Exponential backoff with jitter, so that many clients do not retry in step. */
function backoff(attempt: number): number {
  const base = Math.min(BACKOFF_MS * 2 ** attempt, MAX_BACKOFF_MS);
  return base / 2 + Math.random() * (base / 2);
}

export async function discard(res: HttpResponse): Promise<void> {
  try {
    if (res.body.dump) await res.body.dump();
    else res.body.destroy();
  } catch {
    // the body of a response we do not use; its errors do not matter
  }
}

/**
 * HTTP for one registry: connection pooling (one undici Agent per verification mode), connect/header/idle
 * timeouts, retries with backoff for idempotent GETs, and redirects that never leak credentials to
 * another origin nor downgrade to plain HTTP for a non-loopback host.
 */
export class Transport {
  readonly opts: TransportOptions;
  readonly #agent: Agent;

  constructor(opts: TransportOptions) {
    this.opts = opts;
    const t = opts.timeoutMs;
    this.#agent = new Agent({
      connect: { timeout: t, rejectUnauthorized: !opts.insecure },
      headersTimeout: t,
      bodyTimeout: t,
      keepAliveTimeout: 10_000,
    });
  }

  /** Plain HTTP is allowed only for loopback hosts or with --insecure. */
  allowsHttp(host: string): boolean {
    return this.opts.insecure || isLoopbackHost(host);
  }

  /**
   * GET with retries and redirects. Returns any final status (the caller interprets 4xx); throws MoatError
   * for transport failures. `authorization` is sent only to the original origin.
   */
  async get(
    url: URL,
    init: { headers?: Record<string, string>; authorization?: string; subject: string; retry?: boolean },
  ): Promise<HttpResponse> {
    const origin = url.origin;
    let current = url;
    for (let redirects = 0; ; redirects++) {
      const headers: Record<string, string> = { 'user-agent': this.opts.userAgent, ...init.headers };
      if (init.authorization && current.origin === origin) headers.authorization = init.authorization;
      const res = await this.#getWithRetries(current, headers, init.retry !== false);
      if (res.status < 300 || res.status >= 400 || res.status === 304) return res;
      const location = res.headers.location;
      await discard(res);
      if (typeof location !== 'string' || redirects >= MAX_REDIRECTS) {
        throw new MoatError(
          'REGISTRY',
          `${init.subject}: registry ${url.host} sent ${redirects >= MAX_REDIRECTS ? 'too many redirects' : `HTTP ${res.status} without a Location`}`,
        );
      }
      const next = new URL(location, current);
      if (next.protocol === 'http:' && current.protocol === 'https:' && !this.allowsHttp(next.host)) {
        throw new MoatError(
          'INSECURE',
          `${init.subject}: registry ${url.host} redirected to plain-HTTP ${next.host}; allowed only for loopback hosts or with --insecure`,
        );
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new MoatError(
          'REGISTRY',
          `${init.subject}: registry ${url.host} redirected to unsupported URL ${next.protocol}`,
        );
      }
      current = next;
    }
  }

  async #getWithRetries(url: URL, headers: Record<string, string>, retry: boolean): Promise<HttpResponse> {
    const retries = retry ? (this.opts.retries ?? 3) : 0;
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        const r = await request(url, {
          method: 'GET',
          headers,
          dispatcher: this.#agent,
          signal: this.opts.signal,
        });
        res = { status: r.statusCode, headers: r.headers, body: r.body, url };
      } catch (e) {
        if (attempt < retries && isRetryableError(e)) {
          log.debug(
            { url: url.href, code: errorCode(e), attempt },
            'retrying registry request after connection error',
          );
          await sleep(backoff(attempt), undefined, { signal: this.opts.signal });
          continue;
        }
        throw e;
      }
      if (attempt < retries && RETRY_STATUS.has(res.status)) {
        const wait = retryAfterMs(res.headers['retry-after']) ?? backoff(attempt);
        await discard(res);
        log.debug({ url: url.href, status: res.status, attempt, wait }, 'retrying registry request');
        await sleep(wait, undefined, { signal: this.opts.signal });
        continue;
      }
      return res;
    }
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

/** Reads a whole response body, refusing more than `max` bytes. */
export async function readBody(res: HttpResponse, max: number, subject: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    await discard(res);
    throw new MoatError('BAD_MANIFEST', `${subject}: ${declared} bytes exceeds the ${max}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) {
      res.body.destroy();
      throw new MoatError('BAD_MANIFEST', `${subject}: more than the ${max}-byte limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
