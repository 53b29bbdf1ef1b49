/**
 * Registry test infrastructure: a real registry (Debian's docker-registry via test/scripts/registry-up.sh)
 * on a free port, pushing with skopeo, the real test images (test/scripts/make-test-images.sh and
 * make-fixture-images.sh), and a small registry-shaped HTTP server over an OCI layout for behaviours a
 * real registry will not show (tampered bytes, stalls, resets, redirects, odd media types).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPTS = resolve(dirname(fileURLToPath(import.meta.url)), '../scripts');

export interface RegistryOptions {
  auth?: 'basic' | 'token';
  user?: string;
  password?: string;
  /** listen address (default 127.0.0.1); a non-loopback one exercises the plain-HTTP refusal */
  listen?: string;
  /** token auth: which JSON field carries the token, and what anonymous requests get */
  tokenField?: 'both' | 'token' | 'access_token';
  tokenAnonymous?: 'deny' | 'empty';
  /** serve HTTPS with a self-signed certificate */
  tls?: boolean;
  /** POST registry events (push, pull) to this URL */
  notifyUrl?: string;
}

export interface RunningRegistry {
  /** host:port to use in references */
  host: string;
  user?: string;
  password?: string;
  dir: string;
  stop(): Promise<void>;
}

/** A TCP port nobody listens on right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once('error', rej);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

const running = new Set<Record<string, string>>();
// a test that crashes must not leave registries behind
process.once('exit', () => {
  for (const env of running) {
    try {
      execFileSync(join(SCRIPTS, 'registry-up.sh'), ['stop'], {
        env: { ...process.env, ...env },
        stdio: 'ignore',
      });
    } catch {
      // best effort at exit
    }
  }
});

/** Starts Distribution on a free port (basic or token auth optional) and returns its address. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<RunningRegistry> {
  const listen = opts.listen ?? '127.0.0.1';
  const user = opts.auth ? (opts.user ?? 'alice') : undefined;
  const password = opts.auth ? (opts.password ?? 's3cret-pw') : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'moat-registry-'));
  for (let attempt = 0; ; attempt++) {
    const env: Record<string, string> = {
      REG_PORT: String(await freePort(listen)),
      REG_HOST: listen,
      REG_DIR: dir,
    };
    if (opts.auth) env.REG_AUTH = `${user}:${password}`;
    if (opts.tls) env.REG_TLS = '1';
    if (opts.notifyUrl) env.REG_NOTIFY_URL = opts.notifyUrl;
    if (opts.auth === 'token') {
      env.REG_TOKEN = '1';
      env.REG_TOKEN_PORT = String(await freePort());
      env.REG_TOKEN_FIELD = opts.tokenField ?? 'both';
      env.REG_TOKEN_ANON = opts.tokenAnonymous ?? 'deny';
    }
    try {
      const { stdout } = await run(join(SCRIPTS, 'registry-up.sh'), ['start'], {
        env: { ...process.env, ...env },
      });
      const host = /REGISTRY=(\S+)/.exec(stdout)?.[1];
      if (!host) throw new Error(`registry-up.sh printed no address: ${stdout}`);
      running.add(env);
      return {
        host,
        user,
        password,
        dir,
        async stop() {
          running.delete(env);
          await run(join(SCRIPTS, 'registry-up.sh'), ['stop'], { env: { ...process.env, ...env } });
        },
      };
    } catch (e) {
      // the free port can be taken between probing and binding; try another
      if (attempt >= 2) throw e;
    }
  }
}

export interface PushOptions {
  /** manifest format: "v2s2" converts to Docker schema 2 (and manifest lists) */
  format?: 'v2s2' | 'oci';
  /** push every image of an index */
  all?: boolean;
}

/** Pushes `oci:ociLayoutDir:ref` to `dest` (host:port/repo:tag) with skopeo over plain HTTP. */
export async function pushImage(
  ociLayoutDir: string,
  ref: string,
  dest: string,
  creds?: { username: string; password: string },
  opts: PushOptions = {},
): Promise<void> {
  const args = ['copy', '--quiet', '--dest-tls-verify=false'];
  if (creds) args.push('--dest-creds', `${creds.username}:${creds.password}`);
  if (opts.format) args.push('--format', opts.format);
  if (opts.all) args.push('--all');
  args.push(`oci:${ociLayoutDir}:${ref}`, `docker://${dest}`);
  // Distribution 2.8 answers 500 now and then when two pushes upload the same blob at once: pushes run
  // one at a time, and a failed one is tried again
  const attempt = async () => {
    for (let i = 1; ; i++) {
      try {
        await run('skopeo', args);
        return;
      } catch (e) {
        if (i >= 3) throw e;
      }
    }
  };
  const next = pushQueue.then(attempt, attempt);
  pushQueue = next.catch(() => {});
  await next;
}

let pushQueue: Promise<void> = Promise.resolve();

export interface TestImages {
  root: string;
  /** OCI layout with one ref per image: base, base-old, distroless, node-app, python, multilayer, go-scratch */
  oci: string;
  /** docker-archive per image: archives/NAME.tar */
  archives: string;
  /** OCI layout with multiarch, base-v2s2, base-zstd */
  fixtures: string;
  /** fixture-archives/distroless-oci.tar (Docker 25+ form) */
  fixtureArchives: string;
}

/**
 * The real test images, built on first use (make-test-images.sh takes a minute or two and needs root and
 * the Debian mirror; make-fixture-images.sh a few seconds). Test images that exist are used as they are,
 * even from an earlier day: rebuilding them under running tests would pull the layout from under them.
 */
export async function testImages(): Promise<TestImages> {
  const root = process.env.MOAT_TEST_IMAGES ?? '/var/tmp/moat-test-images';
  const env = { ...process.env, MOAT_TEST_IMAGES: root };
  if (!existsSync(join(root, 'stamp'))) {
    await run(join(SCRIPTS, 'make-test-images.sh'), [root], { env, maxBuffer: 64 * 1024 * 1024 });
  }
  // a few ms when up to date; rebuilds (under a lock) when the script or the input images changed
  await run(join(SCRIPTS, 'make-fixture-images.sh'), [root], { env, maxBuffer: 64 * 1024 * 1024 });
  return {
    root,
    oci: join(root, 'oci'),
    archives: join(root, 'archives'),
    fixtures: join(root, 'fixtures'),
    fixtureArchives: join(root, 'fixture-archives'),
  };
}

/** A parsed JSON blob of an OCI layout, read independently of moat's code. */
export function layoutBlob<T = Record<string, unknown>>(layout: string, digest: string): T {
  return JSON.parse(readFileSync(join(layout, 'blobs', ...digest.split(':')), 'utf8')) as T;
}

/** The index.json descriptor for a ref name, read independently of moat's code. */
export function layoutRef(layout: string, name: string): { mediaType: string; digest: string; size: number } {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
  };
  const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name);
  if (!d) throw new Error(`no ref ${name} in ${layout}`);
  return d;
}

export interface LayoutServerRequest {
  kind: 'ping' | 'manifest' | 'blob' | 'other';
  repository?: string;
  reference?: string;
  req: IncomingMessage;
  res: ServerResponse;
}

export interface LayoutServerOptions {
  /** handles a request itself when it returns true (tamper, stall, redirect, fail...) */
  intercept?(r: LayoutServerRequest): boolean | Promise<boolean>;
}

export interface LayoutServer {
  host: string;
  /** every request seen: method, path and headers */
  requests: { method: string; url: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

/**
 * A registry-shaped HTTP server (plain HTTP on 127.0.0.1) serving an OCI layout: tags are the layout's
 * ref names (`HOST/any/repo:base` is ref "base"), digests are blobs. Anonymous, and no uploads.
 */
export async function serveLayout(layout: string, opts: LayoutServerOptions = {}): Promise<LayoutServer> {
  const requests: LayoutServer['requests'] = [];
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: { mediaType: string; digest: string; annotations?: Record<string, string> }[];
  };
  const server: Server = createServer(async (req, res) => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers });
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    const r: LayoutServerRequest = {
      kind: path === '/v2/' ? 'ping' : m ? (m[2] === 'manifests' ? 'manifest' : 'blob') : 'other',
      repository: m?.[1],
      reference: m?.[3],
      req,
      res,
    };
    if (opts.intercept && (await opts.intercept(r))) return;
    if (r.kind === 'ping') {
      res.setHeader('docker-distribution-api-version', 'registry/2.0');
      return res.end('{}');
    }
    if (!m) {
      res.statusCode = 404;
      return res.end();
    }
    let digest = r.reference!;
    let mediaType = 'application/octet-stream';
    if (r.kind === 'manifest') {
      const d = digest.includes(':')
        ? index.manifests.find((x) => x.digest === digest)
        : index.manifests.find((x) => x.annotations?.['org.opencontainers.image.ref.name'] === digest);
      if (!d && !digest.includes(':')) return sendError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      digest = d?.digest ?? digest;
      mediaType = d?.mediaType ?? (JSON.parse(readBlob(layout, digest).toString()).mediaType as string);
      res.setHeader('docker-content-digest', digest);
    }
    const file = join(layout, 'blobs', ...digest.split(':'));
    if (!/^sha(256|512):[0-9a-f]+$/.test(digest) || !existsSync(file)) {
      return sendError(res, 404, r.kind === 'blob' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', 'unknown');
    }
    res.setHeader('content-type', mediaType);
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as { port: number };
  return {
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}

export function readBlob(layout: string, digest: string): Buffer {
  return readFileSync(join(layout, 'blobs', ...digest.split(':')));
}

export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ errors: [{ code, message }] }));
}

/** A temp dir removed by the returned function. */
export async function tempDir(prefix = 'moat-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
