/**
 * Syslog forwarding: every message is checked against the RFC 5424 ABNF by a strict parser and framed by
 * RFC 6587 octet counting, over TCP and TLS (a CA generated per run, client certificates from openssl),
 * with real alerts from the Falco fixtures; reconnection after the collector restarts; and a collector
 * that is down or never reads, which must not hold up the caller.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CertificateAuthority,
  generateCa,
  issueServerCertificate,
  type PemPair,
} from '../../src/admission/certs.js';
import type { Alert } from '../../src/detect/alert.js';
import {
  createSyslogFormatter,
  createSyslogForwarder,
  type ForwarderStats,
  SYSLOG_FACILITIES,
  SYSLOG_SEVERITY,
} from '../../src/detect/forward/index.js';
import { setLogSink } from '../../src/log.js';
import {
  clientCertificate,
  closeReceivers,
  fixtureAlerts,
  flood,
  parse5424,
  type Syslog5424,
  startSyslogReceiver,
  variant,
} from './forward-receivers.js';

const alerts = fixtureAlerts();
after(closeReceivers);

function sdOf(m: Syslog5424): Map<string, string[]> {
  assert.equal(m.sd.length, 1);
  const out = new Map<string, string[]>();
  for (const [k, v] of m.sd[0]!.params) out.set(k, [...(out.get(k) ?? []), v]);
  return out;
}

/** Every alert handed to send() is in exactly one counter. */
function accounted(s: ForwarderStats): number {
  return s.sent + s.failed + s.dropped + s.abandoned + s.queued + s.inFlight;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function checkAgainst(m: Syslog5424, a: Alert): void {
  assert.equal(m.version, 1);
  assert.equal(m.facility, SYSLOG_FACILITIES.local0);
  assert.equal(m.severity, SYSLOG_SEVERITY[a.severity]);
  assert.equal(m.appName, 'moat');
  assert.equal(m.procId, String(process.pid));
  assert.equal(m.msgId, a.rule.id.slice(0, 32));
  assert.equal(m.sd[0]?.id, 'moat@32473');
  const sd = sdOf(m);
  assert.deepEqual(sd.get('id'), [a.id]);
  assert.deepEqual(sd.get('rule'), [a.rule.id]);
  assert.deepEqual(sd.get('severity'), [a.severity]);
  assert.deepEqual(sd.get('tactic'), [a.tactic]);
  assert.deepEqual(sd.get('technique'), [a.technique]);
  assert.deepEqual(sd.get('user'), [a.user]);
  assert.deepEqual(sd.get('namespace'), a.namespace ? [a.namespace] : undefined);
  assert.deepEqual(sd.get('sourceIPs'), a.sourceIPs.length ? [a.sourceIPs.slice(0, 5).join(',')] : undefined);
  assert.deepEqual(sd.get('count'), [String(a.count)]);
  assert.equal(m.bom, false);
  assert.deepEqual(JSON.parse(m.msg), JSON.parse(JSON.stringify(a)));
}

describe('RFC 5424 formatting', () => {
  const format = createSyslogFormatter();

  test('every fixture alert gives a message that parses under the ABNF and carries the alert', () => {
    assert.ok(alerts.length >= 10, `${alerts.length} alerts`);
    for (const a of alerts) {
      const line = format(a, new Date('2024-05-01T10:11:12.345Z'));
      const m = parse5424(Buffer.from(line));
      assert.equal(m.timestamp, '2024-05-01T10:11:12.345Z');
      checkAgainst(m, a);
    }
  });

  test('rule ids longer than MSGID allows are cut to 32 octets, the SD keeps the whole id', () => {
    const long = alerts.find((a) => a.rule.id.length > 32);
    assert.ok(long, 'the shipped rules have an id longer than 32 characters');
    const m = parse5424(Buffer.from(format(long)));
    assert.equal(m.msgId, long.rule.id.slice(0, 32));
    assert.deepEqual(sdOf(m).get('rule'), [long.rule.id]);
  });

  test('SD values escape " \\ and ], and non-ASCII text stays UTF-8 in SD and ASCII in the JSON MSG', () => {
    const nasty = 'jörg "the\\admin" [x] 名前';
    const a = variant(alerts[0]!, { user: nasty, namespace: 'ns]"\\', sourceIPs: ['10.0.0.1', '10.0.0.2'] });
    const line = format(a);
    assert.match(line, /user="jörg \\"the\\\\admin\\" \[x\\] 名前"/);
    const m = parse5424(Buffer.from(line));
    assert.deepEqual(sdOf(m).get('user'), [nasty]);
    assert.deepEqual(sdOf(m).get('namespace'), ['ns]"\\']);
    assert.deepEqual(sdOf(m).get('sourceIPs'), ['10.0.0.1,10.0.0.2']);
    assert.equal(m.bom, false);
    assert.doesNotMatch(m.msg, /[^\x00-\x7f]/);
    assert.equal(JSON.parse(m.msg).user, nasty);
  });

  test('text MSG: a BOM exactly when the line is not ASCII', () => {
    const text = createSyslogFormatter({ message: 'text' });
    const plain = parse5424(Buffer.from(text(alerts[0]!)));
    assert.equal(plain.bom, false);
    assert.ok(plain.msg.startsWith(`${alerts[0]!.severity} ${alerts[0]!.rule.name} (${alerts[0]!.rule.id})`));
    const u = variant(alerts[0]!, { user: 'jörg\nrm -rf' });
    const m = parse5424(Buffer.from(text(u)));
    assert.equal(m.bom, true);
    assert.match(m.msg, /by jörg rm -rf/);
  });

  test('facility by name or number; severities map onto syslog levels', () => {
    const a = variant(alerts[0]!, { severity: 'CRITICAL' });
    assert.equal(parse5424(Buffer.from(createSyslogFormatter({ facility: 'authpriv' })(a))).pri, 10 * 8 + 2);
    assert.equal(parse5424(Buffer.from(createSyslogFormatter({ facility: 23 })(a))).pri, 23 * 8 + 2);
    assert.throws(() => createSyslogFormatter({ facility: 24 }), /0-23/);
    assert.throws(() => createSyslogFormatter({ sdId: 'moat 1' }), /SD-ID/);
    const seen = new Set(Object.values(SYSLOG_SEVERITY));
    assert.equal(seen.size, 5, 'each alert severity has its own syslog severity');
  });

  test('an alert too long for the message limit is slimmed, then cut, always within the limit', () => {
    const big = variant(alerts[0]!, {
      auditIDs: Array.from(
        { length: 400 },
        (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
      ),
      description: 'd'.repeat(3000),
    });
    const m = parse5424(Buffer.from(format(big)));
    assert.ok(Buffer.byteLength(format(big)) <= 8192);
    const body = JSON.parse(m.msg);
    assert.equal(body.truncated, true);
    assert.equal(body.auditIDs.length, 5);
    assert.equal(body.description, undefined);
    const small = createSyslogFormatter({ maxMessageBytes: 700 });
    const wide = variant(alerts[0]!, { user: 'ü'.repeat(400) });
    const line = small(wide);
    assert.ok(Buffer.byteLength(line) <= 700, `${Buffer.byteLength(line)} bytes`);
    const cut = parse5424(Buffer.from(line));
    assert.equal(cut.bom, true);
    assert.ok(cut.msg.startsWith(wide.severity));
  });
});

describe('syslog over TCP', () => {
  test('delivers every alert in order, octet-counted, and closes with all counted as sent', async () => {
    const rx = await startSyslogReceiver();
    const fwd = createSyslogForwarder({ host: '127.0.0.1', port: rx.port });
    assert.equal(fwd.name, `syslog+tcp://127.0.0.1:${rx.port}`);
    for (const a of alerts) fwd.send(a);
    await rx.waitFor(alerts.length);
    const s = await fwd.close(2000);
    assert.deepEqual(rx.errors, []);
    assert.deepEqual(
      rx.messages.map((m) => sdOf(m).get('id')?.[0]),
      alerts.map((a) => a.id),
    );
    for (const [i, m] of rx.messages.entries()) checkAgainst(m, alerts[i]!);
    assert.equal(s.sent, alerts.length);
    assert.equal(s.dropped + s.failed + s.abandoned + s.queued + s.inFlight, 0);
    assert.equal(rx.connections, 1);
    await rx.close();
  });

  test('reconnects after the collector restarts; alerts sent while it was down are queued, not lost', async () => {
    const rx1 = await startSyslogReceiver();
    const port = rx1.port;
    const fwd = createSyslogForwarder({ host: '127.0.0.1', port, backoffMs: 50, maxBackoffMs: 200 });
    const first = alerts.slice(0, 10);
    for (const a of first) fwd.send(a);
    await rx1.waitFor(first.length);
    await rx1.close();
    await until(() => fwd.stats().connected === false, 'the forwarder to see the connection close');

    const second = alerts.slice(10);
    for (const a of second) fwd.send(a);
    await sleep(300); // a few refused reconnection attempts
    assert.equal(fwd.stats().queued, second.length);
    assert.equal(fwd.stats().sent, first.length);
    const rx2 = await startSyslogReceiver({ port });
    await rx2.waitFor(second.length);
    const s = await fwd.close(2000);
    assert.deepEqual(
      rx2.messages.map((m) => sdOf(m).get('id')?.[0]),
      second.map((a) => a.id),
    );
    assert.ok(s.retries >= 1, `retries ${s.retries}`);
    assert.equal(s.sent, alerts.length);
    assert.equal(s.failed, 0);
    assert.match(s.lastError ?? '', /ECONNREFUSED/);
    assert.deepEqual(rx2.errors, []);
    await rx2.close();
  });

  for (const overflow of ['drop-newest', 'drop-oldest'] as const) {
    test(`a full queue while the collector is down drops the ${overflow.slice(5)} alerts and counts them`, async () => {
      const port = await freePort();
      const fwd = createSyslogForwarder({
        host: '127.0.0.1',
        port,
        queueSize: 10,
        overflow,
        backoffMs: 50,
        maxBackoffMs: 100,
      });
      const sent = Array.from({ length: 25 }, (_, i) =>
        variant(alerts[i % alerts.length]!, { id: `alert-${i}` }),
      );
      for (const a of sent) fwd.send(a);
      const s1 = fwd.stats();
      assert.equal(s1.queued, 10);
      assert.equal(s1.dropped, 15);
      const rx = await startSyslogReceiver({ port });
      await rx.waitFor(10);
      const s = await fwd.close(2000);
      const ids = rx.messages.map((m) => sdOf(m).get('id')?.[0]);
      const kept = overflow === 'drop-newest' ? sent.slice(0, 10) : sent.slice(15);
      assert.deepEqual(
        ids,
        kept.map((a) => a.id),
      );
      assert.equal(s.sent, 10);
      assert.equal(s.dropped, 15);
      assert.equal(accounted(s), 25);
      await rx.close();
    });
  }
});

describe('a stopped collector never blocks the caller', () => {
  let logs: string[] = [];
  before(() => setLogSink((_l, msg) => logs.push(msg)));
  after(() => setLogSink(undefined));

  test('a collector that accepts and never reads: 100k alerts, bounded queue and memory, drops counted', async () => {
    logs = [];
    const rx = await startSyslogReceiver({ stalled: true });
    const fwd = createSyslogForwarder({ host: '127.0.0.1', port: rx.port, queueSize: 1000 });
    fwd.send(alerts[0]!);
    await until(() => fwd.stats().connected === true, 'connection');
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const ms = await flood(fwd, alerts, 100_000);
    const s = fwd.stats();
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    assert.ok(ms < 3000, `100k send() calls took ${ms.toFixed(0)} ms`);
    assert.ok(s.queued <= 1000);
    assert.ok(s.dropped > 50_000, `dropped ${s.dropped}`);
    // what left the queue went no further than the socket's high-water mark plus the kernel's buffers
    assert.ok(s.inFlight < 200, `inFlight ${s.inFlight}`);
    assert.equal(accounted(s), 100_001);
    assert.ok(heapGrowth < 64 * 1024 * 1024, `heap grew ${heapGrowth} bytes`);
    assert.ok(logs.includes('forwarder queue full, dropping alerts'));
    const t = performance.now();
    const end = await fwd.close(300);
    assert.ok(performance.now() - t < 2000, 'close() keeps to its deadline');
    assert.equal(end.abandoned, s.queued + s.inFlight);
    assert.equal(accounted(end), 100_001);
    assert.ok(logs.includes('forwarder closed with undelivered alerts'));
    await rx.close();
  });

  test('a collector that goes away with our writes unread: those count as failed, the queue waits for it', async () => {
    const rx = await startSyslogReceiver({ stalled: true });
    const fwd = createSyslogForwarder({ host: '127.0.0.1', port: rx.port, queueSize: 100, backoffMs: 20 });
    fwd.send(alerts[0]!);
    await until(() => fwd.stats().connected === true, 'connection');
    await flood(fwd, alerts, 20_000);
    const before = fwd.stats();
    assert.ok(before.inFlight > 0, 'the socket holds writes the kernel could not take');
    await rx.close();
    await until(() => fwd.stats().inFlight === 0, 'the unwritten alerts to fail');
    const s = fwd.stats();
    // a write the kernel was completing when the connection went may still count as sent
    assert.ok(s.failed > 0);
    assert.equal(s.failed + (s.sent - before.sent), before.inFlight);
    assert.equal(s.queued, 100);
    assert.equal(s.connected, false);
    const end = await fwd.close(100);
    assert.equal(end.abandoned, 100);
    assert.equal(accounted(end), 20_001);
  });

  test('a collector that is down: 100k alerts return at once, the queue holds its capacity, the rest drop', async () => {
    const port = await freePort();
    const fwd = createSyslogForwarder({ host: '127.0.0.1', port, queueSize: 1000, backoffMs: 20 });
    const ms = await flood(fwd, alerts, 100_000);
    const s = fwd.stats();
    assert.ok(ms < 3000, `100k send() calls took ${ms.toFixed(0)} ms`);
    assert.equal(s.queued, 1000);
    assert.equal(s.dropped, 99_000);
    assert.equal(s.sent, 0);
    assert.equal(s.connected, false);
    assert.match(s.lastError ?? '', /ECONNREFUSED/);
    const end = await fwd.close(100);
    assert.equal(end.abandoned, 1000);
    assert.equal(accounted(end), 100_000);
    fwd.send(alerts[0]!);
    assert.equal(fwd.stats().dropped, 99_001, 'a closed forwarder drops and counts');
  });
});

describe('syslog over TLS (RFC 5425)', () => {
  let ca: CertificateAuthority;
  let server: PemPair;
  let client: PemPair | undefined;
  before(() => {
    ca = generateCa('moat forwarder test CA');
    server = issueServerCertificate(ca, ['localhost']);
    client = clientCertificate(ca);
  });

  test('verifies the collector against the given CA and delivers', async () => {
    const rx = await startSyslogReceiver({ tls: server });
    const fwd = createSyslogForwarder({ host: 'localhost', port: rx.port, tls: true, ca: ca.cert });
    assert.equal(fwd.name, `syslog+tls://localhost:${rx.port}`);
    for (const a of alerts) fwd.send(a);
    await rx.waitFor(alerts.length);
    const s = await fwd.close(2000);
    for (const [i, m] of rx.messages.entries()) checkAgainst(m, alerts[i]!);
    assert.equal(s.sent, alerts.length);
    assert.deepEqual(rx.errors, []);
    await rx.close();
  });

  test('refuses a collector whose certificate the CA did not sign, or whose name does not match', async () => {
    const other = generateCa('someone else');
    const rx = await startSyslogReceiver({ tls: server });
    for (const [opts, cause] of [
      [{ host: 'localhost', ca: other.cert }, /certificate/i],
      [{ host: '127.0.0.1', ca: ca.cert }, /IP: 127\.0\.0\.1 is not in the cert's list|altnames/i],
    ] as const) {
      const fwd = createSyslogForwarder({ ...opts, port: rx.port, tls: true, backoffMs: 50 });
      fwd.send(alerts[0]!);
      await until(() => fwd.stats().lastError !== undefined, 'a TLS error');
      const s = await fwd.close(100);
      assert.match(s.lastError ?? '', cause);
      assert.equal(s.sent, 0);
      assert.equal(s.abandoned, 1);
    }
    assert.equal(rx.messages.length, 0);
    await rx.close();
  });

  test('presents a client certificate to a collector that requires one', async (t) => {
    if (!client) return t.skip('openssl is not installed: no client certificate');
    const rx = await startSyslogReceiver({ tls: { ...server, ca: ca.cert } });
    const without = createSyslogForwarder({
      host: 'localhost',
      port: rx.port,
      tls: true,
      ca: ca.cert,
      backoffMs: 50,
    });
    without.send(alerts[0]!);
    await sleep(300);
    const s0 = await without.close(100);
    assert.equal(rx.messages.length, 0);
    assert.equal(s0.sent, 0, 'nothing counts as sent to a collector that refused us');
    assert.equal(s0.abandoned, 1, JSON.stringify(s0));
    assert.match(s0.lastError ?? '', /certificate required/);
    assert.match(rx.errors.join('\n'), /peer did not return a certificate/);
    rx.errors.length = 0;

    const fwd = createSyslogForwarder({
      host: 'localhost',
      port: rx.port,
      tls: true,
      ca: ca.cert,
      ...client,
    });
    for (const a of alerts.slice(0, 5)) fwd.send(a);
    await rx.waitFor(5);
    const s = await fwd.close(2000);
    assert.equal(s.sent, 5);
    assert.equal(rx.authorizedClients, 1);
    await rx.close();
  });
});
