// The audit webhook backend over real HTTPS: kube-apiserver's EventList batches built from the Falco
// fixtures, bearer and client-certificate auth, the error answers, dedup of retries, the consumer
// (replay after the checkpoint, errors) and the kubeconfig the API server reads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type RequestOptions, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { generateCa, issueClientCertificate, issueServerCertificate } from '../../src/admission/certs.js';
import type { AuditEvent } from '../../src/detect/event.js';
import { decodeAuditText } from '../../src/detect/ingest/index.js';
import {
  type AuditWebhook,
  type AuditWebhookOptions,
  auditWebhookKubeconfig,
  type BatchInfo,
  generateAuditWebhookToken,
  KEY_BYTES,
  openWal,
  startAuditWebhook,
  writeEventKey,
} from '../../src/detect/webhook/index.js';
import { setLogLevel } from '../../src/log.js';

setLogLevel('silent');
const FALCO = join(import.meta.dirname, '..', 'fixtures', 'audit', 'falco-events');
const NOT_AN_EVENT = 'fal_01_003.json';
const falcoFiles = readdirSync(FALCO)
  .filter((f) => f.endsWith('.json') && f !== 'index.json')
  .sort();

const ca = generateCa('moat audit webhook test CA');
const serverCert = issueServerCertificate(ca, ['localhost']);
const apiserverCert = issueClientCertificate(ca, 'kube-apiserver');
const otherCa = generateCa('someone else');
const strangerCert = issueClientCertificate(otherCa, 'kube-apiserver');
const TOKEN = generateAuditWebhookToken();

const dirs: string[] = [];
const servers: AuditWebhook[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'moat-audit-webhook-'));
  dirs.push(d);
  return d;
}

async function start(opts: Partial<AuditWebhookOptions> = {}): Promise<AuditWebhook> {
  const s = await startAuditWebhook({
    dataDir: opts.dataDir ?? tempDir(),
    tls: { cert: serverCert.cert, key: serverCert.key },
    host: '127.0.0.1',
    port: 0,
    tokens: [TOKEN],
    ...opts,
  });
  servers.push(s);
  return s;
}

async function stop(s: AuditWebhook): Promise<void> {
  await s.close();
  servers.splice(servers.indexOf(s), 1);
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function call(
  url: string,
  body: string | Buffer | undefined,
  opts: { token?: string; method?: string; headers?: Record<string, string>; tls?: RequestOptions } = {},
): Promise<Answer> {
  const u = new URL(url);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...opts.headers };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        ca: ca.cert,
        servername: 'localhost',
        agent: false,
        ...opts.tls,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            headers: res.headers,
          }),
        );
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** An EventList as the API server's webhook backend sends it. */
function eventList(items: unknown[]): string {
  return JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items });
}

const fixtureItems = (file: string) =>
  readFileSync(join(FALCO, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as unknown);

/** What the decoder makes of the fixtures: the events and their distinct auditID + stage keys. */
function expectedFromFixtures(files: string[]) {
  const events: AuditEvent[] = [];
  for (const f of files) events.push(...decodeAuditText(readFileSync(join(FALCO, f))).events);
  const keys = new Set(events.map((e) => `${e.auditID}/${e.stage}`));
  return { events, keys };
}

/** `n` copies of a fixture event with fresh auditIDs. */
function freshEvents(n: number): Record<string, unknown>[] {
  const template = fixtureItems('create_configmap.json')[0] as Record<string, unknown>;
  return Array.from({ length: n }, () => ({ ...template, auditID: randomUUID() }));
}

function collector() {
  const batches: { events: AuditEvent[]; info: BatchInfo }[] = [];
  let wake: (() => void) | undefined;
  return {
    batches,
    onEvents: (events: AuditEvent[], info: BatchInfo) => {
      batches.push({ events, info });
      wake?.();
    },
    keys: () => batches.flatMap((b) => b.events.map((e) => `${e.auditID}/${e.stage}`)),
    /** resolves once `n` events have arrived */
    async until(n: number) {
      const deadline = Date.now() + 10_000;
      while (batches.reduce((k, b) => k + b.events.length, 0) < n) {
        if (Date.now() > deadline) throw new Error(`${n} events expected, ${this.keys().length} arrived`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 2000);
        });
      }
    },
  };
}

describe('audit webhook: batches from the Falco fixtures', () => {
  let server: AuditWebhook;
  const sink = collector();
  const files = falcoFiles.filter((f) => f !== NOT_AN_EVENT);
  const expected = expectedFromFixtures(files);

  before(async () => {
    server = await start({ onEvents: sink.onEvents });
  });

  it('accepts one EventList per fixture file (v1, v1beta1 and no apiVersion alike)', async () => {
    for (const f of files) {
      const r = await call(server.url, eventList(fixtureItems(f)), { token: TOKEN });
      assert.equal(r.status, 200, `${f}: ${r.body}`);
    }
    const s = server.stats();
    assert.equal(s.eventsAccepted, expected.keys.size);
    // the same event appears in two fixture files: the second is a duplicate
    assert.equal(s.duplicates, expected.events.length - expected.keys.size);
    // a file whose events were all seen before writes no record
    const seen = new Set<string>();
    let fresh = 0;
    for (const f of files) {
      const keys = expectedFromFixtures([f]).keys;
      if ([...keys].some((k) => !seen.has(k))) fresh++;
      for (const k of keys) seen.add(k);
    }
    assert.equal(s.batches, fresh);
    await sink.until(expected.keys.size);
    assert.deepEqual(new Set(sink.keys()), expected.keys);
    assert.equal(sink.keys().length, expected.keys.size);
    assert.ok(sink.batches.every((b) => !b.info.replay));
    // the events carry where they came from
    assert.equal(sink.batches[0]?.events[0]?.source?.format, 'webhook');
  });

  it('drops a retried batch as duplicates and still answers 200', async () => {
    const before = server.stats();
    const retry = await call(server.url, eventList(fixtureItems(files[0] as string)), { token: TOKEN });
    assert.equal(retry.status, 200);
    const s = server.stats();
    assert.equal(s.duplicates - before.duplicates, fixtureItems(files[0] as string).length);
    assert.equal(s.wal.appendedRecords, before.wal.appendedRecords, 'nothing new written');
    assert.equal(s.eventsAccepted, before.eventsAccepted);
  });

  it('accepts a single Event and a partly duplicate list, keeping only the new events', async () => {
    const [one, two] = freshEvents(2);
    assert.equal((await call(server.url, JSON.stringify(one), { token: TOKEN })).status, 200);
    const before = server.stats();
    const r = await call(server.url, eventList([one, two]), { token: TOKEN });
    assert.equal(r.status, 200);
    const s = server.stats();
    assert.equal(s.eventsAccepted - before.eventsAccepted, 1);
    assert.equal(s.duplicates - before.duplicates, 1);
    await sink.until(expected.keys.size + 2);
    assert.ok(sink.keys().includes(`${(two as { auditID: string }).auditID}/ResponseComplete`));
  });

  it('counts a malformed item and keeps the rest of its batch', async () => {
    const before = server.stats();
    const items = [...freshEvents(2), { kind: 'Event', auditID: 'x' }];
    const r = await call(server.url, eventList(items), { token: TOKEN });
    assert.equal(r.status, 200);
    const s = server.stats();
    assert.equal(s.eventsAccepted - before.eventsAccepted, 2);
    assert.equal(s.malformed - before.malformed, 1);
    assert.match(s.malformedSamples.at(-1)?.reason ?? '', /without verb/);
  });

  it('answers 400 with a reason to a body that is not JSON or holds no event', async () => {
    const notJson = await call(server.url, '{"kind":"EventList",', { token: TOKEN });
    assert.equal(notJson.status, 400);
    assert.match(JSON.parse(notJson.body).message, /not JSON/);
    const fixture = readFileSync(join(FALCO, NOT_AN_EVENT), 'utf8');
    const notEvent = await call(server.url, fixture, { token: TOKEN });
    assert.equal(notEvent.status, 400, notEvent.body);
    assert.match(JSON.parse(notEvent.body).message, /no audit event/);
    const pod = await call(server.url, JSON.stringify({ kind: 'Pod', apiVersion: 'v1' }), { token: TOKEN });
    assert.equal(pod.status, 400);
    assert.match(JSON.parse(pod.body).message, /kind Pod/);
  });

  it('answers 401 without a valid token, and serves /healthz without one', async () => {
    const body = eventList(freshEvents(1));
    const none = await call(server.url, body);
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /Bearer/);
    assert.equal((await call(server.url, body, { token: `${TOKEN}x` })).status, 401);
    assert.equal((await call(server.url, body, { token: 'short' })).status, 401);
    assert.equal((await call(server.url.replace('/audit', '/healthz'), undefined)).status, 200);
    assert.equal((await call(server.url.replace('/audit', '/metrics'), undefined)).status, 401);
    assert.ok(server.stats().responses['401']! >= 4);
  });

  it('serves Prometheus metrics to an authenticated scraper', async () => {
    const r = await call(server.url.replace('/audit', '/metrics'), undefined, { token: TOKEN });
    assert.equal(r.status, 200);
    const s = server.stats();
    assert.match(
      r.body,
      new RegExp(`moat_audit_webhook_events_total\\{result="accepted"\\} ${s.eventsAccepted}\\n`),
    );
    assert.match(r.body, new RegExp(`moat_audit_webhook_wal_fsyncs_total ${s.wal.fsyncs}\\n`));
    assert.match(r.body, /moat_audit_webhook_request_duration_seconds_count \d+/);
  });

  it('answers 405 to GET on the audit path and 404 elsewhere', async () => {
    assert.equal((await call(server.url, undefined, { token: TOKEN })).status, 405);
    assert.equal((await call(server.url.replace('/audit', '/nope'), 'x', { token: TOKEN })).status, 404);
  });
});

describe('audit webhook: limits', () => {
  it('answers 413 to a body over the limit without reading it', async () => {
    const server = await start({ maxBodyBytes: 64 * 1024 });
    const big = eventList(freshEvents(200));
    assert.ok(big.length > 64 * 1024);
    const declared = await call(server.url, big, { token: TOKEN });
    assert.equal(declared.status, 413);
    assert.match(JSON.parse(declared.body).message, /over the 65536-byte limit/);
    // chunked, with no Content-Length: cut when the limit is crossed
    const chunked = await new Promise<number>((resolve, reject) => {
      const u = new URL(server.url);
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          headers: { Authorization: `Bearer ${TOKEN}`, 'Transfer-Encoding': 'chunked' },
          ca: ca.cert,
          servername: 'localhost',
          agent: false,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 4; i++) req.write(big.slice(i * 30_000, (i + 1) * 30_000));
    });
    assert.equal(chunked, 413);
    assert.equal(server.stats().responses['413'], 2);
    assert.equal(server.stats().wal.appendedRecords, 0);
    // a batch under the limit still goes through
    assert.equal((await call(server.url, eventList(freshEvents(10)), { token: TOKEN })).status, 200);
    await stop(server);
  });

  it('refuses to start without TLS, without auth, or on HTTP off loopback', async () => {
    const dataDir = tempDir();
    await assert.rejects(startAuditWebhook({ dataDir, tokens: [TOKEN], port: 0 }), /TLS certificate/);
    await assert.rejects(
      startAuditWebhook({ dataDir, tls: { cert: serverCert.cert, key: serverCert.key }, port: 0 }),
      /no authentication/,
    );
    await assert.rejects(
      startAuditWebhook({ dataDir, insecureHttp: true, host: '0.0.0.0', tokens: [TOKEN], port: 0 }),
      /loopback/,
    );
  });

  it('serves plain HTTP on loopback when asked (tests)', async () => {
    const server = await start({ tls: undefined, insecureHttp: true, insecureNoAuth: true, tokens: [] });
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/audit$/);
    const r = await fetch(server.url, { method: 'POST', body: eventList(freshEvents(3)) });
    assert.equal(r.status, 200);
    assert.equal(server.stats().eventsAccepted, 3);
    await stop(server);
  });

  it('reads tokens from a file', async () => {
    const file = join(tempDir(), 'tokens');
    const token = generateAuditWebhookToken();
    writeFileSync(file, `# the API server's token\n${token}\n`);
    const server = await start({ tokens: [], tokenFile: file });
    assert.equal((await call(server.url, eventList(freshEvents(1)), { token })).status, 200);
    assert.equal((await call(server.url, eventList(freshEvents(1)), { token: TOKEN })).status, 401);
    await stop(server);
  });
});

describe('audit webhook: credential reload', () => {
  it('picks up a changed token file and a rotated certificate', async () => {
    const dir = tempDir();
    const files = { tokens: join(dir, 'tokens'), cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
    const oldToken = generateAuditWebhookToken();
    writeFileSync(files.tokens, `${oldToken}\n`);
    writeFileSync(files.cert, serverCert.cert);
    writeFileSync(files.key, serverCert.key);
    const server = await start({
      tokens: [],
      tokenFile: files.tokens,
      tls: { certFile: files.cert, keyFile: files.key },
      reloadMs: 50,
    });
    const served = () =>
      new Promise<string>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: server.port,
            path: '/healthz',
            ca: ca.cert,
            servername: 'localhost',
            agent: false,
          },
          (res) => {
            res.resume();
            resolve((res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256);
          },
        );
        req.on('error', reject);
        req.end();
      });
    const before = await served();
    const newToken = generateAuditWebhookToken();
    const rotated = issueServerCertificate(ca, ['localhost']);
    // a later mtime even on coarse-timestamp filesystems
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(files.tokens, `${newToken}\n`);
    writeFileSync(files.key, rotated.key);
    writeFileSync(files.cert, rotated.cert);
    const deadline = Date.now() + 5000;
    while ((await served()) === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.notEqual(await served(), before);
    assert.equal((await call(server.url, eventList(freshEvents(1)), { token: oldToken })).status, 401);
    assert.equal((await call(server.url, eventList(freshEvents(1)), { token: newToken })).status, 200);
    await stop(server);
  });
});

describe('audit webhook: client certificates', () => {
  it('accepts the CA-signed client certificate and refuses others with 401', async () => {
    const server = await start({ tokens: [], clientCa: ca.cert, allowedCommonNames: ['kube-apiserver'] });
    const body = () => eventList(freshEvents(2));
    const good = await call(server.url, body(), {
      tls: { cert: apiserverCert.cert, key: apiserverCert.key },
    });
    assert.equal(good.status, 200, good.body);
    const none = await call(server.url, body());
    assert.equal(none.status, 401);
    assert.match(JSON.parse(none.body).message, /no client certificate/);
    const stranger = await call(server.url, body(), {
      tls: { cert: strangerCert.cert, key: strangerCert.key },
    });
    assert.equal(stranger.status, 401);
    assert.match(JSON.parse(stranger.body).message, /not accepted/);
    const other = issueClientCertificate(ca, 'someone');
    const wrongName = await call(server.url, body(), { tls: { cert: other.cert, key: other.key } });
    assert.equal(wrongName.status, 401);
    assert.match(JSON.parse(wrongName.body).message, /CN someone not allowed/);
    // a probe without a certificate still gets /healthz
    assert.equal((await call(server.url.replace('/audit', '/healthz'), undefined)).status, 200);
    assert.equal(server.stats().eventsAccepted, 2);
    await stop(server);
  });
});

describe('audit webhook: durability and the consumer', () => {
  it('keeps events across a restart and replays what the consumer had not finished', async () => {
    const dataDir = tempDir();
    const lists = [freshEvents(3), freshEvents(4), freshEvents(5), freshEvents(6)];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first: AuditEvent[][] = [];
    // the consumer finishes the first batch, then is busy with the second until the server closes
    const a = await start({
      dataDir,
      onEvents: async (events) => {
        first.push(events);
        if (first.length === 2) await gate;
      },
    });
    for (const l of lists) assert.equal((await call(a.url, eventList(l), { token: TOKEN })).status, 200);
    while (first.length < 2) await new Promise((r) => setTimeout(r, 10));
    const closing = stop(a);
    release();
    await closing;

    const sink = collector();
    const b = await start({ dataDir, onEvents: sink.onEvents });
    const waiting = lists[2]!.length + lists[3]!.length;
    await sink.until(waiting);
    assert.deepEqual(
      sink.keys(),
      [...lists[2]!, ...lists[3]!].map((e) => `${e.auditID}/ResponseComplete`),
      'the batches after the checkpoint, in order',
    );
    assert.ok(sink.batches.every((x) => x.info.replay));
    assert.equal(b.stats().consumer.replayedEvents, waiting);
    // the dedup index came back from the WAL: a retry of the first batch is dropped
    assert.equal((await call(b.url, eventList(lists[0]!), { token: TOKEN })).status, 200);
    assert.equal(b.stats().duplicates, lists[0]!.length);
    assert.equal(b.stats().wal.appendedRecords, 0);
    await stop(b);

    // everything consumed: a third start replays nothing
    const again = collector();
    const c = await start({ dataDir, onEvents: again.onEvents });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(again.batches.length, 0);
    assert.equal(c.stats().wal.checkpoint, c.stats().wal.durableSeq);
    await stop(c);
  });

  it('survives a consumer that throws, and moves on', async () => {
    let calls = 0;
    const server = await start({
      onEvents: () => {
        calls++;
        throw new Error('detector broke');
      },
    });
    for (let i = 0; i < 3; i++) {
      assert.equal((await call(server.url, eventList(freshEvents(2)), { token: TOKEN })).status, 200);
    }
    while (calls < 3) await new Promise((r) => setTimeout(r, 10));
    const s = server.stats();
    assert.equal(s.consumer.errors, 3);
    assert.equal(s.wal.checkpoint, 3);
    assert.equal((await call(server.url.replace('/audit', '/healthz'), undefined)).status, 200);
    await stop(server);
  });

  it('feeds a lagging consumer from the WAL instead of memory', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const seen: string[] = [];
    const server = await start({
      maxQueuedEvents: 5,
      onEvents: async (events) => {
        await gate;
        for (const e of events) seen.push(e.auditID);
      },
    });
    const lists = Array.from({ length: 6 }, () => freshEvents(3));
    for (const l of lists) assert.equal((await call(server.url, eventList(l), { token: TOKEN })).status, 200);
    release();
    while (seen.length < 18) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      seen,
      lists.flat().map((e) => e.auditID),
    );
    assert.ok(server.stats().consumer.readFromDisk > 0);
    await stop(server);
  });
});

describe('audit webhook: a full disk', () => {
  // a real ENOSPC needs a small filesystem: a tmpfs, which only root with CAP_SYS_ADMIN may mount
  const mnt = tempDir();
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]).status === 0;
  after(() => {
    if (mounted) spawnSync('umount', [mnt]);
  });

  it('answers 503 once a write fails, keeps what it acknowledged, and reports unhealthy', {
    skip: !mounted && 'cannot mount a tmpfs (needs root)',
  }, async () => {
    const server = await start({ dataDir: mnt });
    const acked: Record<string, unknown>[][] = [];
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      const list = freshEvents(20);
      status = (await call(server.url, eventList(list), { token: TOKEN })).status;
      if (status === 200) acked.push(list);
    }
    assert.equal(status, 503, 'the disk filled up');
    assert.ok(acked.length > 0);
    // the log stopped: every later batch is refused, and the probe tells the orchestrator to restart
    assert.equal((await call(server.url, eventList(freshEvents(1)), { token: TOKEN })).status, 503);
    assert.equal((await call(server.url.replace('/audit', '/healthz'), undefined)).status, 503);
    await stop(server);
    // what was acknowledged is all there; the record cut by the full disk is not
    const wal = await openWal(join(mnt, 'audit-wal'));
    const reader = wal.reader(1);
    const stored = new Set<string>();
    for (let recs = await reader.next(); recs.length > 0; recs = await reader.next()) {
      for (const r of recs) {
        for (let off = 0; off < r.keys.length; off += KEY_BYTES)
          stored.add(r.keys.toString('hex', off, off + KEY_BYTES));
      }
    }
    await reader.close();
    await wal.close();
    const key = Buffer.alloc(KEY_BYTES);
    for (const e of acked.flat()) {
      writeEventKey(e.auditID as string, 'ResponseComplete', key, 0);
      assert.ok(stored.has(key.toString('hex')));
    }
    assert.equal(stored.size, acked.flat().length);
  });
});

describe('audit webhook kubeconfig', () => {
  it('renders a kubeconfig the Kubernetes client loads and uses to post a batch (token)', async () => {
    const server = await start();
    const text = auditWebhookKubeconfig({
      url: server.url.replace('127.0.0.1', 'localhost'),
      caCert: ca.cert,
      token: TOKEN,
    });
    const doc = parseYaml(text);
    assert.equal(doc.kind, 'Config');
    assert.equal(doc['current-context'], 'moat-audit');
    assert.equal(
      Buffer.from(doc.clusters[0].cluster['certificate-authority-data'], 'base64').toString(),
      ca.cert,
    );
    const kc = new KubeConfig();
    kc.loadFromString(text);
    assert.equal(kc.getCurrentCluster()?.server, server.url.replace('127.0.0.1', 'localhost'));
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const r = await call(server.url, eventList(freshEvents(2)), {
      headers: opts.headers as Record<string, string>,
      tls: { ca: opts.ca, servername: 'localhost' },
    });
    assert.equal(r.status, 200, r.body);
    await stop(server);
  });

  it('renders client-certificate credentials', async () => {
    const server = await start({ tokens: [], clientCa: ca.cert });
    const text = auditWebhookKubeconfig({
      url: server.url,
      caCert: ca.cert,
      clientCert: apiserverCert.cert,
      clientKey: apiserverCert.key,
    });
    const kc = new KubeConfig();
    kc.loadFromString(text);
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    assert.ok(opts.cert && opts.key);
    const r = await call(server.url, eventList(freshEvents(1)), {
      tls: { ca: opts.ca, cert: opts.cert, key: opts.key, servername: 'localhost' },
    });
    assert.equal(r.status, 200, r.body);
    await stop(server);
  });

  it('refuses http URLs and missing credentials', () => {
    assert.throws(() => auditWebhookKubeconfig({ url: 'http://x:1/audit', token: 't' }), /https/);
    assert.throws(
      () => auditWebhookKubeconfig({ url: 'https://x:1/audit' }),
      /token or a client certificate/,
    );
    assert.throws(
      () => auditWebhookKubeconfig({ url: 'https://x:1/audit', clientCert: apiserverCert.cert }),
      /needs its key/,
    );
    const withFiles = parseYaml(
      auditWebhookKubeconfig({
        url: 'https://x:1/audit',
        caFile: '/etc/moat/ca.crt',
        tokenFile: '/etc/moat/token',
      }),
    );
    assert.equal(withFiles.clusters[0].cluster['certificate-authority'], '/etc/moat/ca.crt');
    assert.equal(withFiles.users[0].user.tokenFile, '/etc/moat/token');
  });
});
