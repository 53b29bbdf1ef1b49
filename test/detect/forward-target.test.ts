/**
 * Forwarding targets as the CLI takes them (schemes, default ports, options read from files, one-line
 * USAGE errors naming the target), the bounded queue's two overflow policies, and the fan-out over a
 * live syslog collector and a live webhook at once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateCa, issueServerCertificate } from '../../src/admission/certs.js';
import type { Alert } from '../../src/detect/alert.js';
import {
  AlertQueue,
  backoffMs,
  createFanout,
  createForwarders,
  createSyslogForwarder,
  type ForwardTargetOptions,
  parseForwardTarget,
} from '../../src/detect/forward/index.js';
import { isMoatError, type MoatError } from '../../src/errors.js';
import { type LogLevel, setLogSink } from '../../src/log.js';
import { closeReceivers, fixtureAlerts, startSyslogReceiver, variant } from './forward-receivers.js';

const alerts = fixtureAlerts();
after(closeReceivers);
let dir: string;
let files: { ca: string; cert: string; key: string; junk: string };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'moat-forward-'));
  const ca = generateCa('moat target test CA');
  const leaf = issueServerCertificate(ca, ['client.example']);
  files = {
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'c.pem'),
    key: join(dir, 'c.key'),
    junk: join(dir, 'junk'),
  };
  writeFileSync(files.ca, ca.cert + generateCa('second').cert);
  writeFileSync(files.cert, leaf.cert);
  writeFileSync(files.key, leaf.key);
  writeFileSync(files.junk, 'not a certificate\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function usage(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isMoatError(e), String(e));
    assert.equal((e as MoatError).code, 'USAGE');
    assert.doesNotMatch((e as MoatError).message, /\n/);
    assert.match((e as MoatError).message, re);
    return true;
  });
}

describe('target parsing', () => {
  test('https: a webhook with headers and TLS files read; credentials and query kept out of its name', () => {
    const t = parseForwardTarget('https://u:pw@siem.example:8443/in?key=abc', {
      caFile: files.ca,
      certFile: files.cert,
      keyFile: files.key,
      headers: ['Authorization: Bearer x y', 'X-Empty:'],
      batchSize: 50,
    });
    assert.equal(t.kind, 'webhook');
    assert.equal(t.name, 'webhook https://siem.example:8443/in');
    if (t.kind !== 'webhook') return;
    assert.equal(t.options.url, 'https://u:pw@siem.example:8443/in?key=abc');
    assert.deepEqual(t.options.headers, { Authorization: 'Bearer x y', 'X-Empty': '' });
    assert.match(t.options.ca ?? '', /BEGIN CERTIFICATE[\s\S]+BEGIN CERTIFICATE/);
    assert.match(t.options.key ?? '', /PRIVATE KEY/);
    assert.equal(t.options.batchSize, 50);
  });

  test('syslog+tcp and syslog+tls: default ports 601 and 6514, IPv6 literals, TLS files only where TLS is spoken', () => {
    const tcp = parseForwardTarget('syslog+tcp://collector.example', {
      caFile: files.ca,
      facility: 'AUTHPRIV',
    });
    assert.equal(tcp.kind, 'syslog');
    if (tcp.kind !== 'syslog') return;
    assert.equal(tcp.name, 'syslog+tcp://collector.example');
    assert.equal(tcp.options.port, 601);
    assert.equal(tcp.options.tls, false);
    assert.equal(tcp.options.ca, undefined);
    assert.equal(tcp.options.facility, 10);
    const tls = parseForwardTarget('syslog+tls://[::1]', {
      caFile: files.ca,
      facility: '19',
      syslogMessage: 'text',
    });
    if (tls.kind !== 'syslog') return assert.fail('syslog');
    assert.equal(tls.options.host, '::1');
    assert.equal(tls.options.port, 6514);
    assert.equal(tls.options.tls, true);
    assert.equal(tls.options.facility, 19);
    assert.equal(tls.options.message, 'text');
    assert.ok(tls.options.ca);
    assert.equal(parseForwardTarget('syslog+tls://h:10514/').kind, 'syslog');
  });

  test('plain http to a remote host is allowed with a warning', () => {
    const seen: [LogLevel, string][] = [];
    setLogSink((l, m) => seen.push([l, m]));
    try {
      parseForwardTarget('http://127.0.0.1:9000/x');
      assert.deepEqual(seen, []);
      parseForwardTarget('http://siem.example/x');
      assert.deepEqual(seen, [['warn', 'webhook target is plain http: alerts travel unencrypted']]);
    } finally {
      setLogSink(undefined);
    }
  });

  const bad: [string, ForwardTargetOptions, RegExp][] = [
    ['siem.example:514', {}, /^forward target siem\.example:514: unsupported scheme siem\.example:\/\//],
    ['not a url', {}, /^forward target not a url: not a URL/],
    ['tcp://h:514', {}, /^forward target tcp:\/\/h:514: unsupported scheme tcp:\/\/ \(use syslog\+tcp/],
    ['syslog+udp://h', {}, /UDP is not supported/],
    ['ftp://h/x', {}, /use https:\/\/, http:\/\/, syslog\+tcp:\/\/ or syslog\+tls:\/\//],
    ['syslog+tcp://h:514/path', {}, /syslog target is host:port only/],
    ['syslog+tls://u:p@h', {}, /^forward target syslog\+tls:\/\/h: syslog targets take no credentials/],
    ['syslog+tcp://h', { facility: 'local9' }, /unknown syslog facility local9/],
    ['syslog+tcp://h', { facility: '24' }, /unknown syslog facility 24/],
    [
      'https://h/x?token=s3cret',
      { caFile: join('/nonexistent', 'ca.pem') },
      /^forward target https:\/\/h\/x: cannot read CA file \/nonexistent\/ca\.pem: ENOENT$/,
    ],
    ['https://h/', { caFile: '' }, /cannot read CA file/],
    ['syslog+tls://h', { caFile: 'JUNK' }, /CA file .*junk holds no PEM certificate/],
    ['https://h/', { certFile: 'CERT' }, /needs both a certificate file and a key file/],
    ['https://h/', { certFile: 'CERT', keyFile: 'CA' }, /client certificate .* with key .*: /],
    [
      'https://h/',
      { headers: ['Authorization Bearer s3cret'] },
      /^forward target https:\/\/h\/: header must be "Name: value": \(no name\)$/,
    ],
    ['https://h/', { headers: ['X-A: b\r\nX-Evil: 1'] }, /header must be "Name: value": X-A$/],
    ['https://h/', { queueSize: 0 }, /queue size must be a positive integer: 0/],
    ['https://h/', { batchSize: 1.5 }, /batch size must be a positive integer/],
  ];
  for (const [spec, opts, re] of bad) {
    test(`rejects ${spec} ${JSON.stringify(opts)}`, () => {
      const o = { ...opts };
      for (const k of ['caFile', 'certFile', 'keyFile'] as const) {
        if (o[k] === 'JUNK') o[k] = files.junk;
        if (o[k] === 'CERT') o[k] = files.cert;
        if (o[k] === 'CA') o[k] = files.ca;
      }
      usage(() => parseForwardTarget(spec, o), re);
      assert.doesNotThrow(() => {
        try {
          parseForwardTarget(spec, o);
        } catch (e) {
          assert.doesNotMatch((e as Error).message, /s3cret/, 'secrets never reach the message');
        }
      });
    });
  }

  test('createForwarders rejects a target given twice and headers without a webhook', () => {
    usage(
      () => createForwarders(['syslog+tcp://h:1', 'syslog+tcp://h:1']),
      /syslog\+tcp:\/\/h:1: given twice/,
    );
    usage(
      () => createForwarders(['syslog+tcp://h:1'], { headers: ['A: b'] }),
      /headers given but no webhook target/,
    );
  });
});

describe('the bounded queue', () => {
  const a = (i: number): Alert => variant(alerts[0]!, { id: String(i) });

  test('drop-newest keeps the first alerts, drop-oldest the last; both stay at capacity', () => {
    for (const policy of ['drop-newest', 'drop-oldest'] as const) {
      const q = new AlertQueue(4, policy);
      const accepted = Array.from({ length: 10 }, (_, i) => q.push(a(i)));
      assert.equal(q.length, 4);
      assert.deepEqual(accepted, [true, true, true, true, false, false, false, false, false, false]);
      const ids = q.take(10).map((x) => x.id);
      assert.deepEqual(ids, policy === 'drop-newest' ? ['0', '1', '2', '3'] : ['6', '7', '8', '9']);
      assert.equal(q.length, 0);
      assert.equal(q.shift(), undefined);
    }
  });

  test('matches an unbounded array model over random pushes and shifts, wrapping its ring', () => {
    for (const policy of ['drop-newest', 'drop-oldest'] as const) {
      const q = new AlertQueue(5, policy);
      const model: string[] = [];
      let seed = 7;
      const rnd = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      for (let i = 0; i < 2000; i++) {
        if (rnd() < 0.6) {
          q.push(a(i));
          if (model.length < 5) model.push(String(i));
          else if (policy === 'drop-oldest') {
            model.shift();
            model.push(String(i));
          }
        } else {
          assert.equal(q.shift()?.id, model.shift());
        }
        assert.equal(q.length, model.length);
      }
      assert.deepEqual(
        q.take(10).map((x) => x.id),
        model,
      );
    }
    assert.throws(() => new AlertQueue(0), RangeError);
  });

  test('backoff doubles up to its cap with jitter inside [d/2, d]', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const d = Math.min(8000, 100 * 2 ** attempt);
      for (let k = 0; k < 20; k++) {
        const ms = backoffMs(attempt, 100, 8000);
        assert.ok(ms >= d / 2 && ms <= d, `${attempt}: ${ms}`);
      }
    }
  });
});

describe('fan-out', () => {
  test('each alert reaches a syslog collector and a webhook; one target down delays no other', async () => {
    const rx = await startSyslogReceiver();
    const bodies: unknown[] = [];
    const http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString()));
        res.end();
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const httpPort = (http.address() as { port: number }).port;
    setLogSink(() => {});
    try {
      // the live targets come from target strings; the dead one has a small queue of its own
      const live = createForwarders([`syslog+tcp://127.0.0.1:${rx.port}`, `http://127.0.0.1:${httpPort}/a`], {
        batchSize: 10,
      });
      const dead = createSyslogForwarder({ host: '127.0.0.1', port: 1, queueSize: 20 });
      const fan = createFanout([...live.forwarders, dead]);
      assert.equal(fan.forwarders.length, 3);
      for (const x of alerts) fan.send(x);
      await rx.waitFor(alerts.length);
      const per = fan.statsByTarget();
      const down = per['syslog+tcp://127.0.0.1:1']!;
      assert.equal(down.sent, 0);
      assert.equal(down.queued, 20);
      assert.equal(down.dropped, alerts.length - 20);
      const total = await fan.close(1000);
      assert.equal(total.sent, alerts.length * 2);
      assert.equal(total.dropped, alerts.length - 20);
      assert.equal(total.abandoned, 20);
      assert.equal(bodies.flat().length, alerts.length);
      assert.match(total.lastError ?? '', /ECONNREFUSED/);
    } finally {
      setLogSink(undefined);
      await rx.close();
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    }
  });
});
