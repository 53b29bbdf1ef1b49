import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { log } from '../log.js';

/**
 * What the admission and audit webhooks do to every server they start: a bound on connections, and a
 * client that misbehaves at the TLS or HTTP layer costs only its own connection (logged at debug; an
 * HTTP parse error or a header timeout gets its 400 or 408 and the socket is closed).
 */
export function guardConnections(server: HttpServer | HttpsServer, maxConnections = 1000): void {
  server.maxConnections = maxConnections;
  server.on('tlsClientError', (e: Error, socket: { remoteAddress?: string }) => {
    log.debug({ reason: e.message, remote: socket.remoteAddress }, 'TLS handshake failed');
  });
  server.on('clientError', (e: NodeJS.ErrnoException, socket) => {
    log.debug({ reason: e.code ?? e.message }, 'bad HTTP request');
    if (socket.writable && e.code !== 'ECONNRESET') {
      const code = e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      socket.end(
        `HTTP/1.1 ${code} ${code === 408 ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
    } else socket.destroy();
  });
}

/** Starts listening; rejects with the listen error (address in use, permission) instead of emitting it. */
export function listen(server: HttpServer | HttpsServer, port: number, host?: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
