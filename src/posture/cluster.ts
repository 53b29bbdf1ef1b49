import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, MoatError } from '../errors.js';
import { log } from '../log.js';
import type { K8sObject, SourcedObject } from '../policy/types.js';
import { type ApiResource, CLUSTER_RESOURCES, groupVersion, listPath } from './kinds.js';

/**
 * Reads a live cluster for `moat posture`: a paginated, read-only list of every resource in kinds.ts.
 *
 * @kubernetes/client-node does what is hard to get right: kubeconfig loading and merging, contexts,
 * and credentials (tokens, client certificates, exec and OIDC plugins, proxies). The requests themselves
 * are plain GETs of the List endpoints parsed with JSON.parse: the generated typed APIs run every
 * response through ObjectSerializer, which turns objects into class instances with Date timestamps (the
 * checks want the objects as served) and costs more than the JSON parse itself (measured on 20,000
 * recorded kind Pods, 171 MB: parse 2.4 s, deserialize another 3.2 s). One keep-alive agent also
 * saves the TLS handshake that the client's per-request agents pay on every page.
 */

export interface ListClusterOptions {
  /** kubeconfig file; default $KUBECONFIG, ~/.kube/config, or the in-cluster service account */
  kubeconfig?: string;
  /** context name; default the kubeconfig's current context */
  context?: string;
  /** kinds to list (exact `kind` values from kinds.ts); default all */
  kinds?: string[];
  /** items per List request (default 500, kubectl's chunk size) */
  pageSize?: number;
  /** list namespaced kinds in this namespace only; cluster-scoped kinds are listed whole */
  namespace?: string;
}

export interface ClusterListError {
  kind: string;
  message: string;
}

export interface ClusterListing {
  /** the context's cluster name, recorded in every object's source */
  cluster: string;
  server: string;
  /** the server's gitVersion from /version, when it answered */
  version?: string;
  objects: SourcedObject[];
  errors: ClusterListError[];
}

const DEFAULT_PAGE_SIZE = 500;
const CONCURRENCY = 4;
const REQUEST_TIMEOUT_MS = 60_000;
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

interface Connection {
  base: URL;
  agent: http.Agent;
  headers: Record<string, string>;
  /** for messages: `cluster "x" (https://...), context "y", kubeconfig /path` */
  where: string;
}

interface Reply {
  status: number;
  body: string;
}

/** Lists every relevant kind; throws MoatError for a bad kubeconfig, an unreachable server or bad credentials. */
export async function listCluster(opts: ListClusterOptions = {}): Promise<ClusterListing> {
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1)
    throw new MoatError('USAGE', `page size must be a positive integer, not ${pageSize}`);
  const resources = selectResources(opts.kinds);
  const { kc, source } = await loadKubeConfig(opts);
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const names = kc.getContexts().map((c) => c.name);
      throw new MoatError(
        'CONFIG',
        `context "${opts.context}" not found in kubeconfig ${source} (contexts: ${names.join(', ') || 'none'})`,
      );
    }
    kc.setCurrentContext(opts.context);
  }
  const contextName = kc.getCurrentContext();
  const context = kc.getContextObject(contextName);
  const cluster = context ? kc.getCluster(context.cluster) : null;
  if (!context || !cluster) {
    throw new MoatError(
      'CONFIG',
      context
        ? `context "${contextName}" of kubeconfig ${source} names cluster "${context.cluster}", which it does not define`
        : `kubeconfig ${source} has no current context; choose one with --context`,
    );
  }
  const conn = await connect(
    kc,
    cluster,
    `cluster "${cluster.name}" (${cluster.server}), context "${contextName}", kubeconfig ${source}`,
  );
  try {
    const version = await preflight(conn);
    const perKind: SourcedObject[][] = resources.map(() => []);
    const errors: Array<ClusterListError | undefined> = resources.map(() => undefined);
    let next = 0;
    const worker = async () => {
      while (next < resources.length) {
        const i = next++;
        const r = resources[i]!;
        try {
          perKind[i] = await listResource(conn, r, cluster.name, pageSize, opts.namespace);
        } catch (e) {
          if (e instanceof NotServed) log.debug({ kind: r.kind }, 'kind not served by the cluster; skipped');
          else errors[i] = { kind: r.kind, message: errorMessage(e) };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, resources.length) }, worker));
    return {
      cluster: cluster.name,
      server: cluster.server,
      ...(version ? { version } : {}),
      objects: perKind.flat(),
      errors: errors.filter((e): e is ClusterListError => e !== undefined),
    };
  } finally {
    conn.agent.destroy();
  }
}

function selectResources(kinds: string[] | undefined): readonly ApiResource[] {
  if (!kinds) return CLUSTER_RESOURCES;
  const out: ApiResource[] = [];
  for (const k of kinds) {
    const r = CLUSTER_RESOURCES.find((x) => x.kind === k);
    if (!r)
      throw new MoatError(
        'USAGE',
        `cannot list kind "${k}" from a cluster; known kinds: ${CLUSTER_RESOURCES.map((x) => x.kind).join(', ')}`,
      );
    if (!out.includes(r)) out.push(r);
  }
  return out;
}

async function loadKubeConfig(opts: ListClusterOptions): Promise<{ kc: KubeConfig; source: string }> {
  // the client library is large (about a second to import); load it only when a cluster is read
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  const envPath = process.env.KUBECONFIG;
  const defaultPath = join(homedir(), '.kube', 'config');
  let source: string;
  try {
    if (opts.kubeconfig) {
      source = opts.kubeconfig;
      if (!existsSync(source)) throw new MoatError('CONFIG', `kubeconfig ${source} does not exist`);
      kc.loadFromFile(source);
    } else if (envPath) {
      source = envPath;
      kc.loadFromDefault();
    } else if (existsSync(defaultPath)) {
      source = defaultPath;
      kc.loadFromDefault();
    } else if (existsSync(SERVICE_ACCOUNT_TOKEN)) {
      source = 'in-cluster service account';
      kc.loadFromCluster();
    } else {
      throw new MoatError(
        'CONFIG',
        `no kubeconfig: ${defaultPath} does not exist and KUBECONFIG is not set; pass --kubeconfig`,
      );
    }
  } catch (e) {
    if (e instanceof MoatError) throw e;
    throw new MoatError(
      'CONFIG',
      `cannot load kubeconfig ${opts.kubeconfig ?? envPath ?? defaultPath}: ${oneLine(e)}`,
      {
        cause: e,
      },
    );
  }
  return { kc, source };
}

async function connect(
  kc: KubeConfig,
  cluster: { name: string; server: string; proxyUrl?: string },
  where: string,
): Promise<Connection> {
  let base: URL;
  try {
    base = new URL(cluster.server);
  } catch (e) {
    throw new MoatError('CONFIG', `${where}: server "${cluster.server}" is not a URL`, { cause: e });
  }
  const o: https.RequestOptions = {};
  try {
    // credentials, CA, client certificate, skip-verify, server name, proxy: as kubectl reads them
    await kc.applyToHTTPSOptions(o);
  } catch (e) {
    throw new MoatError('CONFIG', `${where}: cannot get credentials: ${oneLine(e)}`, { cause: e });
  }
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'moat-posture' };
  for (const [k, v] of Object.entries(o.headers ?? {}))
    if (v !== undefined) headers[k.toLowerCase()] = String(v);
  if (o.auth) headers.authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
  let agent: http.Agent;
  if (cluster.proxyUrl && o.agent) agent = o.agent as http.Agent;
  else if (base.protocol === 'http:') agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  else
    agent = new https.Agent({
      keepAlive: true,
      maxSockets: CONCURRENCY,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      pfx: o.pfx,
      passphrase: o.passphrase,
      servername: o.servername,
      ...(o.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    });
  return { base, agent, headers, where };
}

function oneLine(e: unknown): string {
  return errorMessage(e).replace(/\s+/g, ' ').trim();
}

function get(conn: Connection, path: string, query?: URLSearchParams): Promise<Reply> {
  // the server URL may carry a path prefix (Rancher, API proxies): append to it
  const url = new URL(conn.base.href);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  if (query) url.search = query.toString();
  const lib = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method: 'GET', agent: conn.agent, headers: conn.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () =>
      req.destroy(new Error(`no response from ${url.host} within ${REQUEST_TIMEOUT_MS / 1000} s`)),
    );
    req.on('error', reject);
    req.end();
  });
}

/** `403 Forbidden: pods is forbidden: ...` from a Status body, or the status and the start of the body. */
function describeStatus(reply: Reply): string {
  try {
    const s = JSON.parse(reply.body) as { kind?: string; reason?: string; message?: string };
    if (s.kind === 'Status' && s.message)
      return `${reply.status} ${s.reason ?? ''}: ${s.message}`.replace(/ :/, ':');
  } catch {
    // not JSON: a proxy's HTML page, for instance
  }
  return `HTTP ${reply.status}: ${reply.body.slice(0, 200).replace(/\s+/g, ' ').trim()}`;
}

/** GET /version: proves the server is reachable and accepts the credentials before listing anything. */
async function preflight(conn: Connection): Promise<string | undefined> {
  let reply: Reply;
  try {
    reply = await get(conn, '/version');
  } catch (e) {
    throw new MoatError('NETWORK', `cannot reach the Kubernetes API server, ${conn.where}: ${oneLine(e)}`, {
      cause: e,
    });
  }
  if (reply.status === 401)
    throw new MoatError(
      'UNAUTHORIZED',
      `the API server rejected the credentials, ${conn.where}: ${describeStatus(reply)}`,
    );
  if (reply.status !== 200) return undefined; // /version may be locked down; the lists will tell
  try {
    const v = JSON.parse(reply.body) as { gitVersion?: unknown };
    return typeof v.gitVersion === 'string' ? v.gitVersion : undefined;
  } catch {
    return undefined;
  }
}

class NotServed extends Error {}

async function listResource(
  conn: Connection,
  r: ApiResource,
  cluster: string,
  pageSize: number,
  namespace: string | undefined,
): Promise<SourcedObject[]> {
  const path = listPath(r, namespace);
  const apiVersion = groupVersion(r);
  let out: SourcedObject[] = [];
  let token: string | undefined;
  let restarted = false;
  for (;;) {
    const q = new URLSearchParams({ limit: String(pageSize) });
    if (token) q.set('continue', token);
    const reply = await get(conn, path, q).catch((e: unknown) => {
      throw new Error(`listing ${path} failed: ${oneLine(e)}`);
    });
    if (reply.status === 404 && r.optional && !token) throw new NotServed();
    if (reply.status === 410 && token && !restarted) {
      // the continue token expired (etcd compaction): start over for a consistent list, as client-go does
      log.debug({ kind: r.kind }, 'continue token expired; listing again');
      restarted = true;
      token = undefined;
      out = [];
      continue;
    }
    if (reply.status !== 200) {
      const what = reply.status === 404 ? `not served by the API server (${path})` : `cannot list ${path}`;
      throw new Error(`${what}: ${describeStatus(reply)}`);
    }
    let list: { items?: unknown; metadata?: { continue?: unknown } };
    try {
      list = JSON.parse(reply.body) as typeof list;
    } catch (e) {
      throw new Error(`${path} answered with invalid JSON: ${oneLine(e)}`);
    }
    if (!Array.isArray(list.items)) throw new Error(`${path} answered without an items array`);
    for (const item of list.items as K8sObject[]) {
      // List items come without kind and apiVersion; the checks select on kind
      out.push({ object: { apiVersion, kind: r.kind, ...item }, source: { cluster } });
    }
    const next = list.metadata?.continue;
    if (typeof next !== 'string' || next === '') return out;
    if (next === token) throw new Error(`${path} returned the same continue token twice`);
    token = next;
  }
}
