import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { ForwarderCore } from './core.js';
import { backoffMs } from './queue.js';
import { createSyslogFormatter, type SyslogFormatOptions } from './rfc5424.js';
import type { AlertForwarder, ForwarderStats, QueueOptions, TlsOptions } from './types.js';

/**
 * Forwards alerts as RFC 5424 messages over TCP (RFC 6587) or TLS (RFC 5425), each framed by octet
 * counting: `LEN SP MSG`, so a message may hold any byte, newlines included. The connection is opened
 * on the first alert and kept; when it fails or the collector closes it, alerts wait in the queue while
 * we reconnect with exponential backoff. TCP syslog has no acknowledgement: `sent` counts alerts handed
 * to the kernel, and the few in flight when a connection breaks are counted as `failed`, not resent.
 */
export interface SyslogForwarderOptions extends QueueOptions, TlsOptions, SyslogFormatOptions {
  host: string;
  port: number;
  /** RFC 5425: TLS 1.2 or later, the server's certificate verified against `ca` (or Node's roots) */
  tls?: boolean;
  /** name checked against the server's certificate; default `host` */
  servername?: string;
  /** default 10 s */
  connectTimeoutMs?: number;
  /** first reconnection delay, doubled each failure up to maxBackoffMs; defaults 500 ms and 30 s */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** overrides the name `syslog+tcp://host:port` */
  name?: string;
}

/** how long a new TLS 1.3 connection waits for the server to object to our certificate (see `up`) */
const CLIENT_CERT_GRACE_MS = 500;

export function createSyslogForwarder(opts: SyslogForwarderOptions): AlertForwarder {
  const format = createSyslogFormatter(opts);
  const host = opts.host;
  const hostPart = isIP(host) === 6 ? `[${host}]` : host;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const baseMs = opts.backoffMs ?? 500;
  const maxMs = opts.maxBackoffMs ?? 30_000;

  let socket: Socket | undefined;
  let state: 'idle' | 'connecting' | 'up' | 'waiting' = 'idle';
  let failures = 0;
  let blocked = false;
  let retryTimer: NodeJS.Timeout | undefined;
  const core: ForwarderCore = new ForwarderCore(
    opts.name ?? `syslog+${opts.tls ? 'tls' : 'tcp'}://${hostPart}:${opts.port}`,
    opts,
    { wake, shutdown },
  );
  core.connected = false;

  function wake(): void {
    if (core.finished) return;
    if (state === 'up') pump();
    else if (state === 'idle' && core.queue.length > 0) open();
    core.checkIdle();
  }

  function open(): void {
    state = 'connecting';
    const s: Socket = opts.tls
      ? tlsConnect({
          host,
          port: opts.port,
          ca: opts.ca,
          cert: opts.cert,
          key: opts.key,
          minVersion: 'TLSv1.2',
          // SNI carries names only (RFC 6066 §3)
          servername: opts.servername ?? (isIP(host) ? undefined : host),
        })
      : tcpConnect({ host, port: opts.port });
    socket = s;
    // never the reason the process stays up: close() holds it while draining
    s.unref();
    s.setNoDelay(true);
    // a NAT or firewall that silently forgets an idle connection would otherwise swallow writes for minutes
    s.setKeepAlive(true, 60_000);
    s.setTimeout(connectTimeoutMs, () =>
      s.destroy(new Error(`connection timed out after ${connectTimeoutMs} ms`)),
    );
    const up = () => {
      if (socket !== s || state !== 'connecting') return;
      s.setTimeout(0);
      state = 'up';
      failures = 0;
      core.connected = true;
      pump();
    };
    s.once(opts.tls ? 'secureConnect' : 'connect', () => {
      // TLS 1.3 finishes the client's handshake before the server has checked our certificate (or seen
      // that we have none): a rejection arrives after our first writes, which would be lost. Wait for the
      // server's session ticket (sent once it has accepted us) or, from servers that send none, a short
      // grace period.
      if (opts.tls && (s as TLSSocket).getProtocol() === 'TLSv1.3') {
        s.once('session', () => setImmediate(up));
        setTimeout(up, CLIENT_CERT_GRACE_MS).unref();
      } else {
        up();
      }
    });
    // collectors send nothing; reading lets us see their FIN and stop writing into a closed connection
    s.on('data', () => {});
    s.on('end', () => s.destroy());
    s.on('drain', () => {
      blocked = false;
      pump();
    });
    let errored = false;
    s.on('error', (e) => {
      errored = true;
      core.error(new Error(`${core.name}: ${e.message}`));
    });
    s.on('close', () => {
      if (!errored && state === 'connecting') {
        // a collector that checks our certificate's name after the handshake just hangs up
        core.error(new Error(`${core.name}: the collector closed the connection before it was ready`));
      }
      if (socket === s) socket = undefined;
      core.connected = false;
      blocked = false;
      if (core.finished) return;
      state = 'waiting';
      retryTimer = setTimeout(
        () => {
          retryTimer = undefined;
          state = 'idle';
          if (core.queue.length > 0) {
            core.retried();
            open();
          }
        },
        backoffMs(failures++, baseMs, maxMs),
      ).unref();
    });
  }

  function pump(): void {
    const s = socket;
    if (!s || state !== 'up' || blocked) return;
    s.cork();
    // the socket's own buffer stays within its high-water mark (16 KiB): past it, alerts wait in the queue
    while (core.queue.length > 0) {
      const msg = format(core.queue.shift()!);
      core.inFlight++;
      if (!s.write(`${Buffer.byteLength(msg)} ${msg}`, written)) {
        blocked = true;
        break;
      }
    }
    s.uncork();
  }

  function written(err?: Error | null): void {
    if (err) core.failed(1, new Error(`${core.name}: ${err.message}`));
    else core.delivered(1);
  }

  function shutdown(): void {
    if (retryTimer) clearTimeout(retryTimer);
    const s = socket;
    socket = undefined;
    if (!s) return;
    // everything written reached the kernel: a graceful end lets it go out; otherwise cut the connection
    if (core.stats().abandoned === 0 && state === 'up') {
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    } else {
      s.destroy();
    }
  }

  return {
    name: core.name,
    send: (alert) => core.send(alert),
    stats: (): ForwarderStats => core.stats(),
    close: (timeoutMs?: number) => core.close(timeoutMs),
  };
}
