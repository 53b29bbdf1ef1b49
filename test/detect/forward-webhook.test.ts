/**
 * Webhook forwarding against a real HTTPS server (a CA generated per run): one alert per request or
 * arrays in batches, custom headers, retries with backoff on 5xx/429/network errors and none on other
 * 4xx, timeouts, mutual TLS, and a slow or absent receiver that must not hold up the caller.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  type CertificateAuthority,
  generateCa,
  issueServerCertificate,
  type PemPair,
} from '../../src/admission/certs.js';
import type { Alert } from '../../src/detect/alert.js';
import { createWebhookForwarder, type ForwarderStats } from '../../src/detect/forward/index.js';
import { setLogSink } from '../../src/log.js';
import { clientCertificate, closeReceivers, fixtureAlerts, flood, track } from './forward-receivers.js';

const alerts = fixtureAlerts();
after(closeReceivers);

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  authorized: boolean;
}

interface Receiver {
  url: string;
  requests: Received[];
  close(): Promise<void>;
}

type Handler = (req: Received, n: number, res: ServerResponse) => void;

let ca: CertificateAuthority;
let serverPem: PemPair;

async function startReceiver(
  handler: Handler = (_r, _n, res) => res.end(),
  mtlsCa?: string,
): Promise<Receiver> {
  const requests: Received[] = [];
  const server: Server = createHttpsServer(
    { ...serverPem, ca: mtlsCa, requestCert: mtlsCa !== undefined, rejectUnauthorized: mtlsCa !== undefined },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          authorized: (req.socket as { authorized?: boolean }).authorized === true,
        };
        requests.push(r);
        handler(r, requests.length, res);
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return track({
    url: `https://localhost:${port}/hooks/moat?token=secret`,
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}

function accounted(s: ForwarderStats): number {
  return s.sent + s.failed + s.dropped + s.abandoned + s.queued + s.inFlight;
}

const delivered = (r: Receiver) =>
  r.requests.flatMap((q) => (Array.isArray(q.body) ? q.body : [q.body])) as Alert[];

before(() => {
  ca = generateCa('moat webhook test CA');
  serverPem = issueServerCertificate(ca, ['localhost']);
});

describe('webhook delivery', () => {
  test('one alert per request: a JSON object, POSTed with the custom headers, in order', async () => {
    const rx = await startReceiver();
    const fwd = createWebhookForwarder({
      url: rx.url,
      ca: ca.cert,
      headers: { Authorization: 'Bearer t0ken', 'X-Tenant': 'blue' },
    });
    assert.equal(fwd.name, `webhook ${new URL(rx.url).origin}/hooks/moat`, 'no query string in the name');
    for (const a of alerts) fwd.send(a);
    const s = await fwd.close(5000);
    assert.equal(s.sent, alerts.length);
    assert.equal(rx.requests.length, alerts.length);
    for (const [i, r] of rx.requests.entries()) {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/hooks/moat?token=secret');
      assert.equal(r.headers.authorization, 'Bearer t0ken');
      assert.equal(r.headers['x-tenant'], 'blue');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.match(r.headers['user-agent'] ?? '', /^moat\/\d/);
      assert.deepEqual(r.body, JSON.parse(JSON.stringify(alerts[i])));
    }
    await rx.close();
  });

  test('batches: JSON arrays of at most batchSize, a partial batch sent after the linger time', async () => {
    const rx = await startReceiver();
    const fwd = createWebhookForwarder({ url: rx.url, ca: ca.cert, batchSize: 8, lingerMs: 50 });
    for (const a of alerts) fwd.send(a);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      fwd.stats().sent,
      alerts.length,
      'the last partial batch went out after lingerMs, not at close',
    );
    await fwd.close(1000);
    assert.ok(rx.requests.every((r) => Array.isArray(r.body) && r.body.length >= 1 && r.body.length <= 8));
    assert.equal(rx.requests.length, Math.ceil(alerts.length / 8));
    assert.deepEqual(
      delivered(rx).map((a) => a.id),
      alerts.map((a) => a.id),
    );
    await rx.close();
  });

  test('credentials in the URL become Basic auth and stay out of the name', async () => {
    const rx = await startReceiver();
    const u = new URL(rx.url);
    u.username = 'moat';
    u.password = 'p@ss';
    const fwd = createWebhookForwarder({ url: u.href, ca: ca.cert });
    assert.doesNotMatch(fwd.name, /p%40ss|moat@/);
    fwd.send(alerts[0]!);
    await fwd.close(2000);
    assert.equal(
      rx.requests[0]?.headers.authorization,
      `Basic ${Buffer.from('moat:p@ss').toString('base64')}`,
    );
    await rx.close();
  });

  test('mutual TLS: the client certificate is presented when the receiver asks for one', async (t) => {
    const client = clientCertificate(ca);
    if (!client) return t.skip('openssl is not installed: no client certificate');
    const rx = await startReceiver(undefined, ca.cert);
    const fwd = createWebhookForwarder({ url: rx.url, ca: ca.cert, ...client });
    fwd.send(alerts[0]!);
    const s = await fwd.close(2000);
    assert.equal(s.sent, 1);
    assert.equal(rx.requests[0]?.authorized, true);
    await rx.close();
  });
});

describe('webhook failures', () => {
  before(() => setLogSink(() => {}));
  after(() => setLogSink(undefined));
  const fast = { backoffMs: 10, maxBackoffMs: 50 };

  test('5xx then 200: retried with backoff, delivered once', async () => {
    const rx = await startReceiver((_r, n, res) => {
      res.statusCode = n <= 2 ? 500 : n === 3 ? 503 : 200;
      res.end('upstream broke');
    });
    const fwd = createWebhookForwarder({ url: rx.url, ca: ca.cert, ...fast });
    fwd.send(alerts[0]!);
    fwd.send(alerts[1]!);
    const s = await fwd.close(5000);
    assert.equal(s.sent, 2);
    assert.equal(s.retries, 3);
    assert.equal(s.failed, 0);
    assert.match(s.lastError ?? '', /HTTP 503: upstream broke/);
    assert.deepEqual(
      rx.requests.map((r) => (r.body as Alert).id),
      [alerts[0]!.id, alerts[0]!.id, alerts[0]!.id, alerts[0]!.id, alerts[1]!.id],
    );
    await rx.close();
  });

  test('429 is retried after Retry-After', async () => {
    const rx = await startReceiver((_r, n, res) => {
      if (n === 1) {
        res.statusCode = 429;
        res.setHeader('retry-after', '1');
      }
      res.end();
    });
    const fwd = createWebhookForwarder({ url: rx.url, ca: ca.cert, ...fast, maxBackoffMs: 5000 });
    const t0 = Date.now();
    fwd.send(alerts[0]!);
    const s = await fwd.close(5000);
    assert.equal(s.sent, 1);
    assert.equal(s.retries, 1);
    assert.ok(Date.now() - t0 >= 900, 'waited for Retry-After');
    await rx.close();
  });

  for (const status of [400, 401, 404, 413]) {
    test(`${status} is not retried: the alert fails with the status and the start of the body`, async () => {
      const rx = await startReceiver((_r, _n, res) => {
        res.statusCode = status;
        res.end(`{"error":"nope ${status}"}`);
      });
      const fwd = createWebhookForwarder({ url: rx.url, ca: ca.cert, ...fast });
      fwd.send(alerts[0]!);
      fwd.send(alerts[1]!);
      const s = await fwd.close(2000);
      assert.equal(rx.requests.length, 2, 'one request per alert, no retry');
      assert.equal(s.failed, 2);
      assert.equal(s.retries, 0);
      assert.equal(s.sent, 0);
      assert.match(s.lastError ?? '', new RegExp(`HTTP ${status}: \\{"error":"nope ${status}"\\}`));
      await rx.close();
    });
  }

  test('retries run out: the batch fails after 1 + retries attempts', async () => {
    const rx = await startReceiver((_r, _n, res) => {
      res.statusCode = 502;
      res.end();
    });
    const fwd = createWebhookForwarder({ url: rx.url, ca: ca.cert, retries: 2, ...fast });
    fwd.send(alerts[0]!);
    const s = await fwd.close(2000);
    assert.equal(rx.requests.length, 3);
    assert.equal(s.failed, 1);
    assert.equal(s.retries, 2);
    await rx.close();
  });

  test('a receiver that never answers times out, and the attempt is retried', async () => {
    const rx = await startReceiver(() => {});
    const fwd = createWebhookForwarder({ url: rx.url, ca: ca.cert, timeoutMs: 200, retries: 1, ...fast });
    fwd.send(alerts[0]!);
    const s = await fwd.close(3000);
    assert.equal(rx.requests.length, 2);
    assert.equal(s.failed, 1);
    assert.match(s.lastError ?? '', /timed out|timeout/i);
    await rx.close();
  });

  test('an untrusted certificate is a failure naming the cause', async () => {
    const rx = await startReceiver();
    const fwd = createWebhookForwarder({ url: rx.url, ca: generateCa('other').cert, retries: 1, ...fast });
    fwd.send(alerts[0]!);
    const s = await fwd.close(3000);
    assert.equal(rx.requests.length, 0);
    assert.equal(s.failed, 1);
    assert.match(s.lastError ?? '', /certificate/i);
    await rx.close();
  });
});

describe('a slow or absent webhook never blocks the caller', () => {
  before(() => setLogSink(() => {}));
  after(() => setLogSink(undefined));

  test('a receiver taking 1 s per request: 100k alerts return at once, the queue stays bounded', async () => {
    const rx = await startReceiver((_r, _n, res) => setTimeout(() => res.end(), 1000));
    const fwd = createWebhookForwarder({ url: rx.url, ca: ca.cert, queueSize: 1000, batchSize: 100 });
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const ms = await flood(fwd, alerts, 100_000);
    const s = fwd.stats();
    assert.ok(ms < 3000, `100k send() calls took ${ms.toFixed(0)} ms`);
    assert.equal(s.queued, 1000);
    assert.ok(s.inFlight <= 100);
    assert.equal(s.dropped, 100_000 - 1000 - s.inFlight - s.sent);
    assert.ok(process.memoryUsage().heapUsed - heap0 < 64 * 1024 * 1024);
    const end = await fwd.close(200);
    assert.equal(accounted(end), 100_000);
    assert.ok(end.abandoned >= 1000);
    await rx.close();
  });

  test('no receiver at all: the queue fills, the rest is dropped, close gives up at its deadline', async () => {
    const srv = createNetServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as { port: number };
    await new Promise((r) => srv.close(r));
    const fwd = createWebhookForwarder({ url: `https://127.0.0.1:${port}/`, queueSize: 500 });
    const ms = await flood(fwd, alerts, 100_000);
    assert.ok(ms < 3000, `100k send() calls took ${ms.toFixed(0)} ms`);
    const t = performance.now();
    const end = await fwd.close(300);
    assert.ok(performance.now() - t < 2000);
    assert.equal(end.sent, 0);
    assert.equal(end.queued + end.inFlight, 0);
    assert.equal(accounted(end), 100_000);
    assert.ok(end.dropped >= 99_000);
    assert.match(end.lastError ?? '', /ECONNREFUSED/);
  });

  test('close() waits for the queue to drain when the receiver is merely slow', async () => {
    const rx = await startReceiver((_r, _n, res) => setTimeout(() => res.end(), 10));
    const fwd = createWebhookForwarder({ url: rx.url, ca: ca.cert });
    for (const a of alerts) fwd.send(a);
    const s = await fwd.close(10_000);
    assert.equal(s.sent, alerts.length);
    assert.equal(s.abandoned, 0);
    fwd.send(alerts[0]!);
    assert.equal(fwd.stats().dropped, 1);
    await rx.close();
  });
});
