/**
 * The syslog forwarder against a real collector: Debian's rsyslogd, run in the foreground on loopback
 * with a temporary config (imtcp, octet-counted framing, TLS through the gtls driver from
 * rsyslog-gnutls), writing what its own RFC 5424 parser made of each message to a file as JSON. Skipped,
 * saying why, where rsyslogd or its TLS driver is not installed (scripts/install-deps.sh installs them).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CertificateAuthority, generateCa, issueServerCertificate } from '../../src/admission/certs.js';
import type { Alert } from '../../src/detect/alert.js';
import {
  createSyslogForwarder,
  SYSLOG_SEVERITY,
  type SyslogForwarderOptions,
} from '../../src/detect/forward/index.js';
import { clientCertificate, fixtureAlerts, parse5424, variant } from './forward-receivers.js';

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));

/** rsyslog's loadable modules live in a multiarch folder; the TLS driver is a separate package. */
function hasRsyslogModule(name: string): boolean {
  const dirs = ['/usr/lib/rsyslog'];
  try {
    for (const d of readdirSync('/usr/lib')) dirs.push(join('/usr/lib', d, 'rsyslog'));
  } catch {
    // no /usr/lib: nothing to find
  }
  return dirs.some((d) => existsSync(join(d, `${name}.so`)));
}

const NO_RSYSLOG = RSYSLOGD ? false : 'rsyslogd is not installed (Debian package rsyslog)';
const NO_GTLS =
  NO_RSYSLOG ||
  (hasRsyslogModule('lmnsd_gtls') ? false : 'rsyslog TLS driver is not installed (rsyslog-gnutls)');

/** What rsyslog parsed, one JSON object per message (option.jsonf). */
interface Parsed {
  pri: string;
  facility: string;
  severity: string;
  version: string;
  timestamp: string;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
  /** mmpstrucdata's parse of the SD: element id → lower-cased param name → value */
  fields: Record<string, Record<string, string>> | string;
}

const TEMPLATE = `template(name="parsed" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="facility" name="syslogfacility" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="fields" name="$!rfc5424-sd" format="jsonf")
}`;

interface Rsyslog {
  port: number;
  lines(): Parsed[];
  waitFor(n: number, timeoutMs?: number): Promise<Parsed[]>;
  stop(): Promise<void>;
}

interface RsyslogOptions {
  /** clientName: require a client certificate with this name (authMode x509/name); else anon */
  tls?: { ca: string; cert: string; key: string; clientName?: string };
  /** a fixed port (to restart on the same one); default: any free port, read from listenPortFileName */
  port?: number;
}

async function startRsyslog(dir: string, opts: RsyslogOptions = {}): Promise<Rsyslog> {
  const out = join(dir, 'out.jsonl');
  const portFile = join(dir, 'port');
  const tls = opts.tls;
  let drivers = '';
  let streamDriver = '';
  if (tls) {
    writeFileSync(join(dir, 'ca.pem'), tls.ca);
    writeFileSync(join(dir, 'server.pem'), tls.cert);
    writeFileSync(join(dir, 'server.key'), tls.key);
    drivers = ` defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="${dir}/ca.pem" defaultNetstreamDriverCertFile="${dir}/server.pem" defaultNetstreamDriverKeyFile="${dir}/server.key"`;
    streamDriver = ` streamDriver.name="gtls" streamDriver.mode="1" ${
      tls.clientName
        ? `streamDriver.authMode="x509/name" permittedPeer=["${tls.clientName}"]`
        : 'streamDriver.authMode="anon"'
    }`;
  }
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    `global(workDirectory="${dir}" net.enableDNS="off" maxMessageSize="64k"${drivers})
module(load="imtcp"${streamDriver})
${TEMPLATE}
module(load="mmpstrucdata")
ruleset(name="forwarded") {
  action(type="mmpstrucdata")
  action(type="omfile" file="${out}" template="parsed")
}
input(type="imtcp" address="127.0.0.1" port="${opts.port ?? 0}" listenPortFileName="${portFile}" ruleset="forwarded")
`,
  );
  rmSync(portFile, { force: true });
  const check = spawnSync(RSYSLOGD!, ['-N1', '-f', conf], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`rsyslogd rejected the test config: ${check.stderr}`);
  const child: ChildProcess = spawn(RSYSLOGD!, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const deadline = Date.now() + 10_000;
  // a dynamic port is written to the port file; a fixed one is probed until it accepts
  while (
    opts.port === undefined
      ? !existsSync(portFile) || readFileSync(portFile, 'utf8').trim() === ''
      : !(await accepts(opts.port))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`rsyslogd did not start listening: ${stderr}`);
    }
    await sleep(20);
  }
  const port = opts.port ?? Number(readFileSync(portFile, 'utf8').trim());
  const lines = (): Parsed[] =>
    existsSync(out)
      ? readFileSync(out, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Parsed)
      : [];
  return {
    port,
    lines,
    async waitFor(n, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const got = lines();
        if (got.length >= n) return got;
        if (Date.now() > until)
          throw new Error(`rsyslogd wrote ${got.length} of ${n} messages; stderr: ${stderr}`);
        await sleep(25);
      }
    },
    stop,
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** rsyslog's SD property is the raw STRUCTURED-DATA: read it back with the strict parser. */
function sdParams(sd: string): Map<string, string[]> {
  const m = parse5424(Buffer.from(`<0>1 - - - - - ${sd}`));
  const out = new Map<string, string[]>();
  for (const [k, v] of m.sd[0]?.params ?? []) out.set(k, [...(out.get(k) ?? []), v]);
  return out;
}

function checkParsed(p: Parsed, a: Alert): void {
  assert.equal(p.version, '1');
  assert.equal(p.facility, '16');
  assert.equal(p.severity, String(SYSLOG_SEVERITY[a.severity]));
  assert.equal(p.pri, String(16 * 8 + SYSLOG_SEVERITY[a.severity]));
  assert.equal(p.app, 'moat');
  assert.equal(p.procid, String(process.pid));
  assert.equal(p.msgid, a.rule.id.slice(0, 32));
  const sd = sdParams(p.sd);
  assert.deepEqual(sd.get('id'), [a.id]);
  assert.deepEqual(sd.get('rule'), [a.rule.id]);
  assert.deepEqual(sd.get('user'), [a.user]);
  assert.deepEqual(sd.get('technique'), [a.technique]);
  assert.deepEqual(JSON.parse(p.msg), JSON.parse(JSON.stringify(a)));
  // what a collector's SD parser makes of it: one field per param, the list of addresses kept whole
  const fields = (typeof p.fields === 'string' ? JSON.parse(p.fields) : p.fields)['moat@32473'];
  assert.equal(fields.id, a.id);
  assert.equal(fields.user, a.user);
  assert.equal(fields.firstseen, a.firstSeen);
  assert.equal(fields.sourceips, a.sourceIPs.length ? a.sourceIPs.slice(0, 5).join(',') : undefined);
}

const alerts = fixtureAlerts();
// quoting, escapes, a closing bracket and non-ASCII in SD values, as a hostile user name might be
const hostile = variant(alerts[0]!, { id: 'hostile', user: 'ev"il\\us]er ünïcode', namespace: 'ns]x' });

describe('rsyslogd receives what the forwarder sends', { skip: NO_RSYSLOG }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'moat-rsyslog-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('over TCP with octet counting: every alert parsed by rsyslog as RFC 5424, in order, fields intact', async () => {
    const rs = await startRsyslog(mkdtempSync(join(dir, 'tcp-')));
    try {
      const fwd = createSyslogForwarder({ host: '127.0.0.1', port: rs.port });
      const sent = [...alerts, hostile];
      for (const a of sent) fwd.send(a);
      const got = await rs.waitFor(sent.length);
      const s = await fwd.close(2000);
      assert.equal(s.sent, sent.length);
      assert.equal(got.length, sent.length);
      for (const [i, p] of got.entries()) checkParsed(p, sent[i]!);
      const h = sdParams(got.at(-1)!.sd);
      assert.deepEqual(h.get('user'), [hostile.user]);
      assert.deepEqual(h.get('namespace'), ['ns]x']);
    } finally {
      await rs.stop();
    }
  });

  test('text messages with non-ASCII arrive as UTF-8 after a BOM', async () => {
    const rs = await startRsyslog(mkdtempSync(join(dir, 'text-')));
    try {
      const fwd = createSyslogForwarder({
        host: '127.0.0.1',
        port: rs.port,
        message: 'text',
        facility: 'authpriv',
      });
      fwd.send(hostile);
      const [p] = await rs.waitFor(1);
      await fwd.close(1000);
      assert.equal(p!.facility, '10');
      const msg = p!.msg.replace(/^\u{feff}/u, '');
      assert.ok(msg.startsWith(`${hostile.severity} ${hostile.rule.name} (${hostile.rule.id})`), msg);
      assert.match(msg, /by ev"il\\us\]er ünïcode/);
    } finally {
      await rs.stop();
    }
  });

  test('reconnects when rsyslogd is restarted on the same port', async () => {
    const d = mkdtempSync(join(dir, 'restart-'));
    const rs1 = await startRsyslog(d);
    const fwd = createSyslogForwarder({
      host: '127.0.0.1',
      port: rs1.port,
      backoffMs: 50,
      maxBackoffMs: 200,
    });
    let rs2: Rsyslog | undefined;
    try {
      for (const a of alerts.slice(0, 5)) fwd.send(a);
      await rs1.waitFor(5);
      await rs1.stop();
      for (let i = 0; i < 50 && fwd.stats().connected; i++) await sleep(20);
      assert.equal(fwd.stats().connected, false, 'the forwarder saw rsyslogd go');
      for (const a of alerts.slice(5)) fwd.send(a);
      // rsyslogd again on the same port, appending to the same file
      rs2 = await startRsyslog(d, { port: rs1.port });
      const got = await rs2.waitFor(alerts.length);
      const s = await fwd.close(2000);
      assert.deepEqual(
        got.map((p) => sdParams(p.sd).get('id')?.[0]),
        alerts.map((a) => a.id),
      );
      assert.equal(s.sent, alerts.length);
      assert.ok(s.retries >= 1);
    } finally {
      await fwd.close(100);
      await rs1.stop();
      await rs2?.stop();
    }
  });
});

describe('rsyslogd over TLS (RFC 5425, gtls driver)', { skip: NO_GTLS }, () => {
  let dir: string;
  let ca: CertificateAuthority;
  let server: { cert: string; key: string };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'moat-rsyslog-tls-'));
    ca = generateCa('moat rsyslog test CA');
    server = issueServerCertificate(ca, ['localhost']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const opts = (port: number, extra: Partial<SyslogForwarderOptions> = {}): SyslogForwarderOptions => ({
    host: 'localhost',
    port,
    tls: true,
    ca: ca.cert,
    ...extra,
  });

  test('the forwarder verifies rsyslogd against the CA and delivers; another CA is refused', async () => {
    const rs = await startRsyslog(mkdtempSync(join(dir, 'anon-')), {
      tls: { ca: ca.cert, ...server },
    });
    try {
      const fwd = createSyslogForwarder(opts(rs.port));
      for (const a of alerts) fwd.send(a);
      const got = await rs.waitFor(alerts.length);
      const s = await fwd.close(2000);
      assert.equal(s.sent, alerts.length);
      for (const [i, p] of got.entries()) checkParsed(p, alerts[i]!);

      const wrong = createSyslogForwarder(opts(rs.port, { ca: generateCa('other').cert, backoffMs: 50 }));
      wrong.send(alerts[0]!);
      for (let i = 0; i < 100 && !wrong.stats().lastError; i++) await sleep(20);
      const w = await wrong.close(100);
      assert.equal(w.sent, 0);
      assert.match(w.lastError ?? '', /certificate/i);
      assert.equal(rs.lines().length, alerts.length);
    } finally {
      await rs.stop();
    }
  });

  test('rsyslogd requiring a client certificate by name (x509/name) accepts ours, not another name', async (t) => {
    const client = clientCertificate(ca, 'moat.example.com');
    const stranger = clientCertificate(ca, 'someone.example.com');
    if (!client || !stranger) return t.skip('openssl is not installed: no client certificate');
    const rs = await startRsyslog(mkdtempSync(join(dir, 'mtls-')), {
      tls: { ca: ca.cert, ...server, clientName: 'moat.example.com' },
    });
    try {
      const fwd = createSyslogForwarder(opts(rs.port, client));
      for (const a of alerts.slice(0, 3)) fwd.send(a);
      const got = await rs.waitFor(3);
      const s = await fwd.close(2000);
      assert.equal(s.sent, 3);
      for (const [i, p] of got.entries()) checkParsed(p, alerts[i]!);

      const refused = createSyslogForwarder(opts(rs.port, { ...stranger, backoffMs: 50 }));
      refused.send(alerts[3]!);
      for (let i = 0; i < 100 && !refused.stats().lastError; i++) await sleep(20);
      const r = await refused.close(100);
      assert.equal(r.sent, 0);
      assert.match(r.lastError ?? '', /closed the connection before it was ready|certificate/);
      assert.equal(rs.lines().length, 3);
    } finally {
      await rs.stop();
    }
  });
});
