/**
 * Test receivers for the forwarder tests: a strict RFC 5424 parser (the ABNF of RFC 5424 §6, checked
 * octet by octet), an RFC 6587 octet-counting frame splitter, TCP/TLS syslog servers built on them, and
 * the real alerts the default rules raise on the Falco trace fixtures.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { CertificateAuthority, PemPair } from '../../src/admission/certs.js';
import type { Alert } from '../../src/detect/alert.js';
import { createDetector } from '../../src/detect/engine/detector.js';
import type { AlertForwarder } from '../../src/detect/forward/types.js';
import { decodeAuditText } from '../../src/detect/ingest/index.js';
import { loadDefaultRules } from '../../src/detect/rules/load.js';
import { setLogSink } from '../../src/log.js';

const FALCO = join(import.meta.dirname, '../fixtures/detect/falco-events');

let cached: Alert[] | undefined;
/** Every alert the shipped rules (optional pack included) raise on the Falco trace files. */
export function fixtureAlerts(): Alert[] {
  if (cached) return cached;
  const det = createDetector(loadDefaultRules([], true));
  setLogSink(() => {}); // some trace files hold a non-event line on purpose
  try {
    for (const f of readdirSync(FALCO).sort()) {
      for (const ev of decodeAuditText(readFileSync(join(FALCO, f))).events) det.process(ev);
    }
  } finally {
    setLogSink(undefined);
  }
  cached = det.flush();
  if (cached.length === 0) throw new Error('the Falco fixtures raised no alert');
  return cached;
}

export interface Syslog5424 {
  pri: number;
  facility: number;
  severity: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** SD-ID → params in order (repeated names kept) */
  sd: { id: string; params: [string, string][] }[];
  /** MSG without its BOM, decoded as UTF-8 */
  msg: string;
  bom: boolean;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses one SYSLOG-MSG by the RFC 5424 ABNF; throws naming the first rule broken and the offset. */
export function parse5424(buf: Buffer): Syslog5424 {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(
      `RFC 5424: ${what} at octet ${i}: ${JSON.stringify(buf.subarray(0, 120).toString('latin1'))}`,
    );
  };
  const expect = (c: number, what: string) => {
    if (buf[i] !== c) fail(`expected ${what}`);
    i++;
  };
  const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
  const digits = (min: number, max: number, what: string): string => {
    const s = i;
    while (isDigit(buf[i]) && i - s < max) i++;
    if (i - s < min) fail(`expected ${what}`);
    return buf.subarray(s, i).toString('latin1');
  };
  // 1*N PRINTUSASCII or NILVALUE
  const field = (max: number, what: string): string => {
    const s = i;
    while (i < buf.length && (buf[i] as number) >= 33 && (buf[i] as number) <= 126) i++;
    if (i === s) fail(`empty ${what}`);
    if (i - s > max) fail(`${what} longer than ${max}`);
    return buf.subarray(s, i).toString('latin1');
  };
  const sdName = (what: string): string => {
    const s = i;
    while (i < buf.length) {
      const c = buf[i] as number;
      if (c < 33 || c > 126 || c === 0x3d || c === 0x5d || c === 0x22) break;
      i++;
    }
    if (i === s || i - s > 32) fail(`${what} must be 1-32 SD-NAME octets`);
    return buf.subarray(s, i).toString('latin1');
  };

  expect(0x3c, '<');
  const priText = digits(1, 3, 'PRIVAL');
  if (priText.length > 1 && priText.startsWith('0')) fail('PRIVAL with a leading zero');
  const pri = Number(priText);
  if (pri > 191) fail('PRIVAL over 191');
  expect(0x3e, '>');
  const vStart = i;
  const version = Number(digits(1, 3, 'VERSION'));
  if (buf[vStart] === 0x30) fail('VERSION must start with a non-zero digit');
  expect(0x20, 'SP after VERSION');
  const timestamp = field(64, 'TIMESTAMP');
  if (timestamp !== '-') {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/.exec(
      timestamp,
    );
    if (!m) fail(`TIMESTAMP ${timestamp} is not FULL-DATE "T" FULL-TIME`);
    const [mo, d, h, mi, s] = [m![2], m![3], m![4], m![5], m![6]].map(Number) as number[];
    if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 59)
      fail(`TIMESTAMP ${timestamp} out of range`);
    if (Number.isNaN(Date.parse(timestamp))) fail(`TIMESTAMP ${timestamp} is not a date`);
  }
  expect(0x20, 'SP after TIMESTAMP');
  const hostname = field(255, 'HOSTNAME');
  expect(0x20, 'SP after HOSTNAME');
  const appName = field(48, 'APP-NAME');
  expect(0x20, 'SP after APP-NAME');
  const procId = field(128, 'PROCID');
  expect(0x20, 'SP after PROCID');
  const msgId = field(32, 'MSGID');
  expect(0x20, 'SP after MSGID');

  const sd: Syslog5424['sd'] = [];
  if (buf[i] === 0x2d) {
    i++;
  } else {
    if (buf[i] !== 0x5b) fail('STRUCTURED-DATA must be - or [');
    while (buf[i] === 0x5b) {
      i++;
      const id = sdName('SD-ID');
      // RFC 5424 §7: names with @ are name@<private enterprise number>; others must be IANA-registered
      if (
        id.includes('@') ? !/^[^@]+@\d+(\.\d+)*$/.test(id) : !['timeQuality', 'origin', 'meta'].includes(id)
      ) {
        fail(`SD-ID ${id} is neither registered nor name@PEN`);
      }
      if (sd.some((e) => e.id === id)) fail(`SD-ID ${id} repeated`);
      const params: [string, string][] = [];
      while (buf[i] === 0x20) {
        i++;
        const name = sdName('PARAM-NAME');
        expect(0x3d, '=');
        expect(0x22, 'opening "');
        const parts: Buffer[] = [];
        let s = i;
        for (;;) {
          if (i >= buf.length) fail('unterminated PARAM-VALUE');
          const c = buf[i] as number;
          if (c === 0x22) break;
          if (c === 0x5d) fail('unescaped ] in PARAM-VALUE');
          if (c === 0x5c) {
            const n = buf[i + 1];
            if (n !== 0x22 && n !== 0x5c && n !== 0x5d)
              fail('backslash escaping something other than " \\ ]');
            parts.push(buf.subarray(s, i));
            s = i + 1;
            i += 2;
            continue;
          }
          i++;
        }
        parts.push(buf.subarray(s, i));
        i++;
        let value: string;
        try {
          value = utf8.decode(Buffer.concat(parts));
        } catch {
          return fail(`PARAM-VALUE of ${name} is not UTF-8`);
        }
        params.push([name, value]);
      }
      expect(0x5d, '] closing SD-ELEMENT');
      sd.push({ id, params });
    }
  }
  let msg = '';
  let bom = false;
  if (i < buf.length) {
    expect(0x20, 'SP before MSG');
    const rest = buf.subarray(i);
    bom = rest.subarray(0, 3).equals(BOM);
    if (bom) {
      try {
        msg = utf8.decode(rest.subarray(3));
      } catch {
        return fail('MSG-UTF8 after a BOM is not UTF-8');
      }
    } else {
      msg = rest.toString('latin1');
      // our own MSG-ANY must be ASCII: non-ASCII text has to be announced by the BOM
      if (/[^\x00-\x7f]/.test(msg)) fail('non-ASCII MSG without a BOM');
    }
  }
  return {
    pri,
    facility: pri >> 3,
    severity: pri & 7,
    version,
    timestamp,
    hostname,
    appName,
    procId,
    msgId,
    sd,
    msg,
    bom,
  };
}

/** RFC 6587 §3.4.1 octet counting: MSG-LEN SP SYSLOG-MSG, MSG-LEN = NONZERO-DIGIT *DIGIT. */
export class OctetCountingSplitter {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    for (;;) {
      const sp = this.buf.indexOf(0x20);
      if (sp < 0) {
        if (this.buf.length > 10) throw new Error('frame length has more than 10 digits');
        return out;
      }
      const len = this.buf.subarray(0, sp).toString('latin1');
      if (!/^[1-9]\d{0,9}$/.test(len)) throw new Error(`bad MSG-LEN ${JSON.stringify(len)}`);
      const end = sp + 1 + Number(len);
      if (this.buf.length < end) return out;
      out.push(this.buf.subarray(sp + 1, end));
      this.buf = this.buf.subarray(end);
    }
  }

  get pending(): number {
    return this.buf.length;
  }
}

export interface SyslogReceiver {
  port: number;
  messages: Syslog5424[];
  raw: Buffer[];
  /** framing or parse errors (a test expects none) */
  errors: string[];
  connections: number;
  authorizedClients: number;
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  /** stops listening and cuts every connection */
  close(): Promise<void>;
}

export interface ReceiverOptions {
  port?: number;
  /** TLS server material; with `ca`, client certificates are required and verified */
  tls?: PemPair & { ca?: string };
  /** accept connections but never read from them (a stopped collector) */
  stalled?: boolean;
}

const open = new Set<{ close(): Promise<void> }>();

/** Closes every receiver a test left open (a failed assertion skips its own close): call in after(). */
export async function closeReceivers(): Promise<void> {
  await Promise.all([...open].map((r) => r.close()));
}

/** Keeps `r` in the set closeReceivers() closes, until it is closed. */
export function track<T extends { close(): Promise<void> }>(r: T): T {
  const close = r.close.bind(r);
  r.close = () => {
    open.delete(r);
    return close();
  };
  open.add(r);
  return r;
}

export function startSyslogReceiver(opts: ReceiverOptions = {}): Promise<SyslogReceiver> {
  const messages: Syslog5424[] = [];
  const raw: Buffer[] = [];
  const errors: string[] = [];
  const sockets = new Set<Socket>();
  const waiters: (() => void)[] = [];
  const r = { connections: 0, authorizedClients: 0 };
  const onSocket = (s: Socket) => {
    r.connections++;
    if ((s as TLSSocket).authorized) r.authorizedClients++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (opts.stalled) {
      s.pause();
      return;
    }
    const split = new OctetCountingSplitter();
    s.on('data', (chunk: Buffer) => {
      try {
        for (const frame of split.push(chunk)) {
          raw.push(Buffer.from(frame));
          messages.push(parse5424(frame));
        }
      } catch (e) {
        errors.push((e as Error).message);
        s.destroy();
      }
      for (const w of waiters.splice(0)) w();
    });
    s.on('end', () => {
      if (split.pending > 0) errors.push(`connection ended inside a frame (${split.pending} octets)`);
    });
  };
  const server: Server = opts.tls
    ? createTlsServer(
        {
          cert: opts.tls.cert,
          key: opts.tls.key,
          ca: opts.tls.ca,
          requestCert: opts.tls.ca !== undefined,
          rejectUnauthorized: opts.tls.ca !== undefined,
        },
        onSocket,
      )
    : createTcpServer(onSocket);
  server.on('tlsClientError', (e: Error) => errors.push(`tls: ${e.message}`));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve(
        track({
          port,
          messages,
          raw,
          errors,
          get connections() {
            return r.connections;
          },
          get authorizedClients() {
            return r.authorizedClients;
          },
          async waitFor(n, timeoutMs = 10_000) {
            const deadline = Date.now() + timeoutMs;
            while (messages.length < n) {
              if (errors.length > 0) throw new Error(`receiver errors: ${errors.join('; ')}`);
              if (Date.now() > deadline) throw new Error(`got ${messages.length} of ${n} messages`);
              await new Promise<void>((res) => {
                waiters.push(res);
                setTimeout(res, 50);
              });
            }
          },
          close() {
            for (const s of sockets) s.destroy();
            return new Promise((res) => server.close(() => res()));
          },
        }),
      );
    });
  });
}

/** A client certificate (extendedKeyUsage clientAuth) signed by `ca`, made with the openssl CLI. */
export function clientCertificate(ca: CertificateAuthority, cn = 'moat-forwarder'): PemPair | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'moat-client-cert-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'ca.key'), ca.key);
    writeFileSync(join(dir, 'ext.cnf'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'client.key');
    run('req', '-new', '-key', 'client.key', '-subj', `/CN=${cn}`, '-out', 'client.csr');
    run(
      ...['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'],
      ...['-days', '2', '-sha256', '-extfile', 'ext.cnf', '-out', 'client.pem'],
    );
    return {
      cert: readFileSync(join(dir, 'client.pem'), 'utf8'),
      key: readFileSync(join(dir, 'client.key'), 'utf8'),
    };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A copy of a real alert with some fields replaced. */
export function variant(a: Alert, over: Partial<Alert>): Alert {
  return { ...structuredClone(a), ...over };
}

/**
 * Sends `n` alerts (cycling through `alerts`) in chunks of 1,000, yielding to the event loop between
 * chunks so sockets drain what the kernel takes; returns the milliseconds spent inside send().
 */
export async function flood(fwd: AlertForwarder, alerts: readonly Alert[], n: number): Promise<number> {
  let inSend = 0;
  for (let i = 0; i < n; i += 1000) {
    const t = performance.now();
    for (let j = i; j < i + 1000 && j < n; j++) fwd.send(alerts[j % alerts.length] as Alert);
    inSend += performance.now() - t;
    await new Promise((r) => setImmediate(r));
  }
  return inSend;
}
