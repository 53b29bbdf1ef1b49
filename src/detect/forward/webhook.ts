import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { MOAT_VERSION } from '../../util/version.js';
import type { Alert } from '../alert.js';
import { ForwarderCore } from './core.js';
import { backoffMs } from './queue.js';
import type { AlertForwarder, ForwarderStats, QueueOptions, TlsOptions } from './types.js';

/**
 * Forwards alerts to an HTTP(S) endpoint as JSON: with `batchSize` 1 (the default) each request's body
 * is one alert object, which is what generic webhook receivers (chat bridges, SOAR tools, serverless
 * functions) expect; with a larger `batchSize` the body is always a JSON array of 1..batchSize alerts,
 * sent once the batch is full or its first alert has waited `lingerMs`. One request is in flight at a
 * time, so alerts arrive in order. 2xx is delivered; 429, 5xx and network errors are retried with
 * exponential backoff (honouring Retry-After); any other status is a failure not retried, since a
 * repeated 400/401/404 would only fail again. Delivery is at least once: a request that timed out after
 * the receiver took it is sent again, and receivers can deduplicate on the alert `id`.
 */
export interface WebhookForwarderOptions extends QueueOptions, TlsOptions {
  url: string | URL;
  /** extra request headers (Authorization...); they override the defaults */
  headers?: Record<string, string>;
  /** alerts per request; default 1 (body = one alert object); above 1 the body is an array */
  batchSize?: number;
  /** how long a partial batch waits for more alerts; default 1000 ms (only with batchSize > 1) */
  lingerMs?: number;
  /** per request, connection to response body; default 10 s */
  timeoutMs?: number;
  /** attempts after the first for 429/5xx/network errors; default 5 */
  retries?: number;
  /** first retry delay, doubled each attempt up to maxBackoffMs; defaults 500 ms and 30 s */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** overrides the name derived from the URL */
  name?: string;
}

const ERROR_BODY_BYTES = 200;

export function createWebhookForwarder(opts: WebhookForwarderOptions): AlertForwarder {
  const url = new URL(opts.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RangeError(`webhook URL must be http(s): ${url.protocol}`);
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': `moat/${MOAT_VERSION}`,
  };
  // credentials in the URL become Basic auth: undici refuses URLs that carry them
  if (url.username || url.password) {
    const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;

  const batchSize = Math.max(1, opts.batchSize ?? 1);
  const lingerMs = opts.lingerMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retries = opts.retries ?? 5;
  const baseMs = opts.backoffMs ?? 500;
  const maxMs = opts.maxBackoffMs ?? 30_000;
  const agent = new Agent({
    connect: { ca: opts.ca, cert: opts.cert, key: opts.key, timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  let running = false;
  let linger: NodeJS.Timeout | undefined;
  const core: ForwarderCore = new ForwarderCore(opts.name ?? `webhook ${url.origin}${url.pathname}`, opts, {
    wake,
    shutdown: () => {
      if (linger) clearTimeout(linger);
      void agent.destroy().catch(() => {});
    },
  });

  function wake(): void {
    if (running || core.finished) return;
    if (core.queue.length === 0) {
      core.checkIdle();
      return;
    }
    if (batchSize > 1 && core.queue.length < batchSize && !core.closing) {
      linger ??= setTimeout(run, lingerMs).unref();
      return;
    }
    run();
  }

  function run(): void {
    if (linger) clearTimeout(linger);
    linger = undefined;
    if (running) return;
    running = true;
    void loop().finally(() => {
      running = false;
      core.checkIdle();
    });
  }

  async function loop(): Promise<void> {
    // alerts that arrive during a request go in the next one, so batches grow with the receiver's latency
    while (!core.finished && core.queue.length > 0) {
      const batch = core.queue.take(batchSize);
      core.inFlight += batch.length;
      await deliver(batch);
    }
  }

  async function deliver(batch: Alert[]): Promise<void> {
    const body =
      batchSize === 1 ? JSON.stringify(batch[0]) : `[${batch.map((a) => JSON.stringify(a)).join(',')}]`;
    for (let attempt = 0; ; attempt++) {
      let failure: Error;
      let wait = backoffMs(attempt, baseMs, maxMs);
      try {
        const res = await request(url, {
          method: 'POST',
          headers,
          body,
          dispatcher: agent,
          signal: AbortSignal.any([core.abort.signal, AbortSignal.timeout(timeoutMs)]),
        });
        const status = res.statusCode;
        if (status >= 200 && status < 300) {
          await res.body.dump().catch(() => {});
          return core.delivered(batch.length);
        }
        failure = new Error(`${core.name}: HTTP ${status}${await errorBody(res.body)}`);
        if (status !== 429 && status < 500) return core.failed(batch.length, failure);
        wait = retryAfterMs(res.headers, maxMs) ?? wait;
      } catch (e) {
        if (core.finished) return;
        failure = new Error(`${core.name}: ${describe(e)}`);
      }
      if (attempt >= retries) return core.failed(batch.length, failure);
      core.error(failure);
      core.retried();
      try {
        await sleep(wait, undefined, { signal: core.abort.signal, ref: false });
      } catch {
        return; // close() gave up: the batch is counted as abandoned
      }
    }
  }

  return {
    name: core.name,
    send: (alert) => core.send(alert),
    stats: (): ForwarderStats => core.stats(),
    close: (timeoutMs?: number) => core.close(timeoutMs),
  };
}

/** The start of an error response's body, which usually says why (an invalid token, a schema error). */
async function errorBody(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body) {
      text += chunk.toString('utf8');
      if (text.length >= ERROR_BODY_BYTES) break;
    }
  } catch {
    // the status alone is enough
  } finally {
    body.destroy();
  }
  text = text.replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_BYTES);
  return text ? `: ${text}` : '';
}

/** Retry-After in seconds or as an HTTP date (RFC 9110 §10.2.3), capped so a hostile value cannot stall us. */
function retryAfterMs(h: IncomingHttpHeaders, maxMs: number): number | undefined {
  const v = h['retry-after'];
  if (typeof v !== 'string' || v === '') return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) ? Math.min(maxMs, Math.max(0, ms)) : undefined;
}

function describe(e: unknown): string {
  const err = e as {
    name?: string;
    code?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  if (err?.name === 'TimeoutError') return 'request timed out';
  const code = err?.code ?? err?.cause?.code;
  const msg = err?.cause?.message ?? err?.message ?? String(e);
  return code && !msg.includes(code) ? `${code} ${msg}` : msg;
}
