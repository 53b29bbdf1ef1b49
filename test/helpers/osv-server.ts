import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * A local stand-in for the OSV bucket (or a mirror of it): serves `<root>/<Ecosystem>/all.zip` at
 * `/<url-encoded Ecosystem>/all.zip` with ETag / Last-Modified validators (nginx-style ETag from mtime and
 * size, so touching a file changes it) and answers conditional requests with 304. Records every request.
 */
export interface OsvServerRequest {
  path: string;
  status: number;
  headers: IncomingHttpHeaders;
}

export interface OsvServer {
  url: string;
  requests: OsvServerRequest[];
  /** ecosystems whose requests get headers but then never a body (to test timeouts) */
  stall: Set<string>;
  close(): Promise<void>;
}

export async function startOsvServer(root: string): Promise<OsvServer> {
  const requests: OsvServerRequest[] = [];
  const stall = new Set<string>();
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    const path = req.url ?? '/';
    const done = (status: number): void => {
      requests.push({ path, status, headers: req.headers });
    };
    const m = /^\/([^/]+)\/all\.zip$/.exec(path);
    const ecosystem = m ? decodeURIComponent(m[1]!) : undefined;
    const file = ecosystem && !ecosystem.includes('..') ? join(root, ecosystem, 'all.zip') : undefined;
    if (req.method !== 'GET' || !file || !existsSync(file)) {
      done(404);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const st = statSync(file);
    const etag = `"${Math.floor(st.mtimeMs).toString(16)}-${st.size.toString(16)}"`;
    const lastModified = st.mtime.toUTCString();
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    const fresh =
      inm !== undefined
        ? inm === etag
        : ims !== undefined && Date.parse(ims) >= Math.floor(st.mtimeMs / 1000) * 1000;
    if (fresh) {
      done(304);
      res.writeHead(304, { etag, 'last-modified': lastModified }).end();
      return;
    }
    done(200);
    res.writeHead(200, {
      'content-type': 'application/zip',
      'content-length': String(st.size),
      etag,
      'last-modified': lastModified,
    });
    if (ecosystem && stall.has(ecosystem)) return;
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stall,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of open) r.destroy();
        server.close(() => resolve());
      }),
  };
}
