/**
 * A local Kubernetes API server for tests, over real TLS with bearer-token auth. It answers what a
 * read-only client (listCluster, kubectl get / api-resources) asks:
 * - discovery: the recorded /api, /api/v1, /apis, /apis/apps/v1 and /apis/rbac.authorization.k8s.io/v1
 *   documents (test/fixtures/k8s-api/kubernetes-discovery), filtered to what is served; other group
 *   versions are synthesized in the same format; /version is synthesized;
 * - List endpoints, cluster-wide and namespaced, as the API server sends them: `kind: PodList`,
 *   metadata.resourceVersion, items without kind/apiVersion, in etcd key order (namespace, name), with
 *   `limit`/`continue` pagination (tokens in the API server's own format; 400 for an undecodable token,
 *   410 Expired for a stale one), Table responses for `kubectl get`'s Accept header, single-object GETs;
 * - Status objects for 401, 403, 404 and 405, as a real server words them.
 * The objects served are the given ones (any apiVersion: legacy group versions are served at the current
 * one, as the API server converts them) plus, with `replay`, the real kube-system Pods and Deployments
 * recorded from a kind cluster (test/fixtures/k8s-api/k8s-openapi-replays).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { K8sObject } from '../../src/policy/types.js';
import { CLUSTER_RESOURCES } from '../../src/posture/kinds.js';

export const K8S_API_FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/k8s-api');
const DISCOVERY = join(K8S_API_FIXTURES, 'kubernetes-discovery');

export interface ReplayServerOptions {
  /** objects to serve; kind and apiVersion required, namespace defaults to `default` */
  objects?: K8sObject[];
  /** a recorded Kubernetes version (`v1.36`): serve its kube-system Pods and Deployments and report it in /version */
  replay?: string;
  token?: string;
  /** kubeconfig names */
  clusterName?: string;
  contextName?: string;
  /** resources answering 403 Forbidden to list: `plural` or `plural.group` */
  forbidden?: string[];
  /** resources the server does not serve (absent from discovery, 404): `plural` or `plural.group` */
  notServed?: string[];
  /** called before each request is answered (to compact between pages, for instance) */
  onRequest?: (path: string, query: URLSearchParams) => void;
}

/** A resource as the server's discovery documents list it. */
export interface ServedResource {
  kind: string;
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
}

export interface ReplayServer {
  url: string;
  kubeconfigPath: string;
  token: string;
  clusterName: string;
  contextName: string;
  /** a context of the same cluster whose user has a wrong token */
  badTokenContext: string;
  /** every request, as `METHOD /path?query` */
  requests: string[];
  /** the objects as stored and served (defaults applied), with kind and apiVersion, in input order */
  served: K8sObject[];
  /** given objects a real server would refuse: a known kind in a group that does not have it */
  rejected: K8sObject[];
  /** every resource in the discovery documents (subresources aside) */
  resources: ServedResource[];
  /** the objects of one resource in list order (etcd key order), with kind and apiVersion */
  list(plural: string, group?: string, namespace?: string): K8sObject[];
  /** makes every continue token issued so far stale (410), as an etcd compaction does */
  compact(): void;
  close(): Promise<void>;
}

interface Resource {
  kind: string;
  group: string;
  version: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** Resources of group versions without a recorded discovery document, as a v1.30+ server lists them. */
const SYNTHESIZED: Resource[] = [
  {
    kind: 'Job',
    group: 'batch',
    version: 'v1',
    plural: 'jobs',
    singular: 'job',
    namespaced: true,
    categories: ['all'],
  },
  {
    kind: 'CronJob',
    group: 'batch',
    version: 'v1',
    plural: 'cronjobs',
    singular: 'cronjob',
    namespaced: true,
    shortNames: ['cj'],
    categories: ['all'],
  },
  {
    kind: 'Ingress',
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'ingresses',
    singular: 'ingress',
    namespaced: true,
    shortNames: ['ing'],
  },
  {
    kind: 'IngressClass',
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'ingressclasses',
    singular: 'ingressclass',
    namespaced: false,
  },
  {
    kind: 'NetworkPolicy',
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    singular: 'networkpolicy',
    namespaced: true,
    shortNames: ['netpol'],
  },
  {
    kind: 'PodDisruptionBudget',
    group: 'policy',
    version: 'v1',
    plural: 'poddisruptionbudgets',
    singular: 'poddisruptionbudget',
    namespaced: true,
    shortNames: ['pdb'],
  },
  {
    kind: 'HorizontalPodAutoscaler',
    group: 'autoscaling',
    version: 'v2',
    plural: 'horizontalpodautoscalers',
    singular: 'horizontalpodautoscaler',
    namespaced: true,
    shortNames: ['hpa'],
    categories: ['all'],
  },
  {
    kind: 'StorageClass',
    group: 'storage.k8s.io',
    version: 'v1',
    plural: 'storageclasses',
    singular: 'storageclass',
    namespaced: false,
    shortNames: ['sc'],
  },
  {
    kind: 'PriorityClass',
    group: 'scheduling.k8s.io',
    version: 'v1',
    plural: 'priorityclasses',
    singular: 'priorityclass',
    namespaced: false,
    shortNames: ['pc'],
  },
  {
    kind: 'APIService',
    group: 'apiregistration.k8s.io',
    version: 'v1',
    plural: 'apiservices',
    singular: 'apiservice',
    namespaced: false,
  },
  {
    kind: 'ValidatingAdmissionPolicy',
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    plural: 'validatingadmissionpolicies',
    singular: 'validatingadmissionpolicy',
    namespaced: false,
  },
  {
    kind: 'ValidatingAdmissionPolicyBinding',
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    plural: 'validatingadmissionpolicybindings',
    singular: 'validatingadmissionpolicybinding',
    namespaced: false,
  },
  {
    kind: 'ValidatingWebhookConfiguration',
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    plural: 'validatingwebhookconfigurations',
    singular: 'validatingwebhookconfiguration',
    namespaced: false,
  },
  {
    kind: 'MutatingWebhookConfiguration',
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    plural: 'mutatingwebhookconfigurations',
    singular: 'mutatingwebhookconfiguration',
    namespaced: false,
  },
];

/** Kinds of unknown groups that are cluster-scoped (everything else is served namespaced). */
const CLUSTER_SCOPED_KINDS = new Set([
  'PodSecurityPolicy',
  'ClusterPolicy',
  'ClusterIssuer',
  'CustomResourceDefinition',
  'InitializerConfiguration',
  'SecurityContextConstraints',
]);

const RECORDED_GROUP_VERSIONS: Record<string, string> = {
  v1: 'api__v1.json',
  'apps/v1': 'apis__apps__v1.json',
  'rbac.authorization.k8s.io/v1': 'apis__rbac.authorization.k8s.io__v1.json',
};

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

function gvOf(r: { group: string; version: string }): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  if (k.endsWith('s') || k.endsWith('x') || k.endsWith('ch')) return `${k}es`;
  if (k.endsWith('y') && !/[aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
  return `${k}s`;
}

function status(code: number, reason: string, message: string, details: Record<string, unknown> = {}) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    details,
    code,
  };
}

// Continue tokens in the API server's format: base64url of {"v","rv","start"}, start = last key + "\0".
function encodeContinue(rv: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: `${lastKey}\u0000` })).toString(
    'base64url',
  );
}

function decodeContinue(token: string): { rv: number; start: string } | undefined {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      v?: string;
      rv?: number;
      start?: string;
    };
    if (
      t.v !== 'meta.k8s.io/v1' ||
      typeof t.rv !== 'number' ||
      typeof t.start !== 'string' ||
      !t.start.endsWith('\u0000')
    )
      return undefined;
    return { rv: t.rv, start: t.start.slice(0, -1) };
  } catch {
    return undefined;
  }
}

interface Certs {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** A CA and a server certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
function makeCerts(dir: string): Certs {
  const p = (f: string) => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      p('ca.key'),
      '-out',
      p('ca.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=moat-replay-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    { stdio: 'pipe' },
  );
  execFileSync(
    'openssl',
    ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=kube-apiserver'],
    {
      stdio: 'pipe',
    },
  );
  writeFileSync(
    p('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      p('server.csr'),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p('server.crt'),
      '-days',
      '2',
      '-extfile',
      p('server.ext'),
    ],
    { stdio: 'pipe' },
  );
  return {
    dir,
    ca: readFileSync(p('ca.crt'), 'utf8'),
    cert: readFileSync(p('server.crt'), 'utf8'),
    key: readFileSync(p('server.key'), 'utf8'),
  };
}

/** The recorded List responses of a replay version: their items with kind and apiVersion filled in. */
export function recordedItems(version: string, name: 'pod-list' | 'deployment-list'): K8sObject[] {
  const exchanges = JSON.parse(
    readFileSync(join(K8S_API_FIXTURES, 'k8s-openapi-replays', version, `${name}.json`), 'utf8'),
  ) as Array<{ response_body: string }>;
  const list = JSON.parse(exchanges[0]!.response_body) as {
    kind: string;
    apiVersion: string;
    items: K8sObject[];
  };
  const kind = list.kind.replace(/List$/, '');
  return list.items.map((i) => ({ apiVersion: list.apiVersion, kind, ...i }));
}

export async function startReplayServer(opts: ReplayServerOptions = {}): Promise<ReplayServer> {
  const token = opts.token ?? randomBytes(16).toString('hex');
  const clusterName = opts.clusterName ?? 'replay-cluster';
  const contextName = opts.contextName ?? 'replay';
  const dir = await mkdtemp(join(tmpdir(), 'moat-k8s-replay-'));
  const certs = makeCerts(dir);
  const matches = (list: string[] | undefined, r: Resource) =>
    list?.some((s) => s === r.plural || s === `${r.plural}.${r.group}`) ?? false;

  // served resources: the recorded discovery documents, then the synthesized ones, then unknown kinds
  const recordedDocs = new Map<string, Record<string, unknown>>();
  const resources: Resource[] = [];
  for (const [gv, file] of Object.entries(RECORDED_GROUP_VERSIONS)) {
    const doc = readJson(join(DISCOVERY, file));
    recordedDocs.set(gv, doc);
    const { group, version } = splitApiVersion(gv);
    for (const r of doc.resources as Array<Record<string, unknown>>) {
      const name = r.name as string;
      if (name.includes('/')) continue;
      resources.push({
        kind: r.kind as string,
        group,
        version,
        plural: name,
        singular: (r.singularName as string) || (r.kind as string).toLowerCase(),
        namespaced: r.namespaced as boolean,
      });
    }
  }
  for (const r of SYNTHESIZED) resources.push(r);
  for (const r of CLUSTER_RESOURCES) {
    if (!resources.some((x) => x.kind === r.kind && x.group === r.group))
      resources.push({ ...r, singular: r.kind.toLowerCase() });
  }

  const resourceFor = (obj: K8sObject): Resource | undefined => {
    const kind = obj.kind!;
    const { group, version } = splitApiVersion(obj.apiVersion!);
    const known =
      resources.find((r) => r.kind === kind && r.group === group) ??
      // extensions/v1beta1 Deployments, Ingresses...: the API server serves them at their current group
      (group === 'extensions' ? resources.find((r) => r.kind === kind) : undefined);
    if (known) return known;
    // `apiVersion: v1` with `kind: Deployment`: a real server refuses it (no such kind in that group)
    if (resources.some((r) => r.kind === kind)) return undefined;
    const r: Resource = {
      kind,
      group,
      version,
      plural: pluralOf(kind),
      singular: kind.toLowerCase(),
      namespaced: !CLUSTER_SCOPED_KINDS.has(kind),
    };
    resources.push(r);
    return r;
  };

  // the store: objects by resource key, with the defaults the API server applies
  const store = new Map<Resource, K8sObject[]>();
  const served: K8sObject[] = [];
  const rejected: K8sObject[] = [];
  const keys = new Set<string>();
  let rv = 1000;
  const input = [
    ...(opts.replay
      ? [...recordedItems(opts.replay, 'pod-list'), ...recordedItems(opts.replay, 'deployment-list')]
      : []),
    ...(opts.objects ?? []),
  ];
  for (const o of input) {
    if (typeof o.kind !== 'string' || typeof o.apiVersion !== 'string')
      throw new Error('replay objects need kind and apiVersion');
    const r = resourceFor(o);
    if (!r) {
      rejected.push(o);
      continue;
    }
    const meta = { ...(o.metadata ?? {}) };
    if (!meta.name) {
      if (!meta.generateName) continue;
      meta.name = `${meta.generateName}${createHash('sha256').update(JSON.stringify(o)).digest('hex').slice(0, 5)}`;
    }
    if (r.namespaced) meta.namespace ??= 'default';
    else delete meta.namespace;
    const key = `${gvOf(r)}/${r.plural}/${meta.namespace ?? ''}/${meta.name}`;
    if (keys.has(key)) continue; // names are unique per resource and namespace
    keys.add(key);
    rv++;
    meta.uid ??= createHash('sha256')
      .update(key)
      .digest('hex')
      .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5');
    meta.resourceVersion ??= String(rv);
    meta.creationTimestamp ??= '2024-05-01T10:00:00Z';
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = o;
    const stored: K8sObject = { apiVersion: gvOf(r), kind: r.kind, metadata: meta, ...rest };
    served.push(stored);
    const list = store.get(r) ?? [];
    list.push(stored);
    store.set(r, list);
  }
  const keyOf = (o: K8sObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
  for (const list of store.values())
    list.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  let listRv = rv;
  let oldestValidRv = 0;

  const isServed = (r: Resource) => !matches(opts.notServed, r);
  const servedGvs = new Map<string, Resource[]>();
  for (const r of resources) {
    if (!isServed(r)) continue;
    const gv = gvOf(r);
    const l = servedGvs.get(gv) ?? [];
    l.push(r);
    servedGvs.set(gv, l);
  }

  const resourceList = (gv: string): Record<string, unknown> => {
    const own = servedGvs.get(gv) ?? [];
    const recorded = recordedDocs.get(gv);
    if (recorded) {
      const kept = (recorded.resources as Array<Record<string, unknown>>).filter((x) =>
        own.some((r) => r.plural === (x.name as string).split('/')[0]),
      );
      const extra = own.filter((r) => !kept.some((x) => x.name === r.plural));
      return { ...recorded, resources: [...kept, ...extra.map(discoveryEntry)] };
    }
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: gv,
      resources: own.map(discoveryEntry),
    };
  };

  const groupList = (): Record<string, unknown> => {
    const recorded = readJson(join(DISCOVERY, 'apis.json'));
    const groups: Array<Record<string, unknown>> = [];
    const listed = new Set<string>();
    for (const g of recorded.groups as Array<{
      name: string;
      versions: Array<{ groupVersion: string; version: string }>;
    }>) {
      const versions = g.versions.filter((v) => servedGvs.has(v.groupVersion));
      if (versions.length === 0) continue;
      for (const v of versions) listed.add(v.groupVersion);
      groups.push({ name: g.name, versions, preferredVersion: versions[0] });
    }
    for (const gv of servedGvs.keys()) {
      if (gv === 'v1' || listed.has(gv)) continue;
      const { group, version } = splitApiVersion(gv);
      const entry = { groupVersion: gv, version };
      const existing = groups.find((g) => g.name === group);
      if (existing) (existing.versions as unknown[]).push(entry);
      else groups.push({ name: group, versions: [entry], preferredVersion: entry });
    }
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  };

  const minor = opts.replay ? Number(/^v1\.(\d+)$/.exec(opts.replay)?.[1] ?? 32) : 32;
  const requests: string[] = [];
  let address = '';

  const send = (res: ServerResponse, code: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://replay');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    opts.onRequest?.(url.pathname, url.searchParams);
    if (req.headers.authorization !== `Bearer ${token}`)
      return send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (req.method !== 'GET')
      return send(
        res,
        405,
        status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`),
      );
    if (path === '/version') {
      return send(res, 200, {
        major: '1',
        minor: String(minor),
        gitVersion: `v1.${minor}.0`,
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2024-05-01T10:00:00Z',
        goVersion: 'go1.22.2',
        compiler: 'gc',
        platform: 'linux/amd64',
      });
    }
    if (path === '/api') {
      const doc = readJson(join(DISCOVERY, 'api.json'));
      return send(res, 200, {
        ...doc,
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: address }],
      });
    }
    if (path === '/apis') return send(res, 200, groupList());
    const seg = path.split('/').slice(1).map(decodeURIComponent);
    let gv: string;
    let rest: string[];
    if (seg[0] === 'api' && seg.length >= 2) {
      gv = seg[1]!;
      rest = seg.slice(2);
    } else if (seg[0] === 'apis' && seg.length >= 3) {
      gv = `${seg[1]}/${seg[2]}`;
      rest = seg.slice(3);
    } else return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    if (!servedGvs.has(gv))
      return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    if (rest.length === 0) return send(res, 200, resourceList(gv));
    // [plural] | [plural, name] | [namespaces, ns, plural] | [namespaces, ns, plural, name]
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const r = servedGvs.get(gv)!.find((x) => x.plural === rest[0]);
    if (!r || rest.length > 2 || (namespace !== undefined && !r.namespaced))
      return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const qualified = r.group ? `${r.plural}.${r.group}` : r.plural;
    const verb = rest.length === 2 ? 'get' : 'list';
    if (matches(opts.forbidden, r)) {
      const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
      return send(
        res,
        403,
        status(
          403,
          'Forbidden',
          `${qualified} is forbidden: User "system:serviceaccount:moat:reader" cannot ${verb} resource "${r.plural}" in API group "${r.group}" ${scope}`,
          { kind: r.plural, ...(r.group ? { group: r.group } : {}) },
        ),
      );
    }
    const all = (store.get(r) ?? []).filter(
      (o) => namespace === undefined || o.metadata?.namespace === namespace,
    );
    if (rest.length === 2) {
      const obj = all.find((o) => o.metadata?.name === rest[1]);
      if (!obj)
        return send(
          res,
          404,
          status(404, 'NotFound', `${qualified} "${rest[1]}" not found`, { name: rest[1], kind: r.plural }),
        );
      return send(res, 200, obj);
    }
    for (const p of ['watch', 'labelSelector', 'fieldSelector']) {
      const v = url.searchParams.get(p);
      if (v && v !== 'false')
        return send(res, 400, status(400, 'BadRequest', `the replay server does not implement ${p}`));
    }
    let start = 0;
    const cont = url.searchParams.get('continue');
    if (cont) {
      const t = decodeContinue(cont);
      if (!t)
        return send(res, 400, status(400, 'BadRequest', 'continue key is not valid: invalid continue token'));
      if (t.rv < oldestValidRv || t.rv > listRv)
        return send(
          res,
          410,
          status(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
          ),
        );
      start = all.findIndex((o) => keyOf(o) > t.start);
      if (start < 0) start = all.length;
    }
    const limit = Number(url.searchParams.get('limit') ?? 0);
    const page = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
    const more = start + page.length < all.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (more) {
      metadata.continue = encodeContinue(listRv, keyOf(page[page.length - 1]!));
      metadata.remainingItemCount = all.length - start - page.length;
    }
    const accept = req.headers.accept ?? '';
    if (/as=Table/.test(accept))
      return send(res, 200, table(page, metadata, url.searchParams.get('includeObject')));
    return send(res, 200, {
      kind: `${r.kind}List`,
      apiVersion: gv,
      metadata,
      items: page.map(({ apiVersion: _a, kind: _k, ...item }) => item),
    });
  };

  const server = createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      send(res, 500, status(500, 'InternalError', String(e)));
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  address = `127.0.0.1:${port}`;
  const url = `https://${address}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  const badTokenContext = `${contextName}-bad-token`;
  writeFileSync(
    kubeconfigPath,
    `apiVersion: v1
kind: Config
clusters:
- name: ${clusterName}
  cluster:
    server: ${url}
    certificate-authority-data: ${Buffer.from(certs.ca).toString('base64')}
users:
- name: reader
  user:
    token: ${token}
- name: stranger
  user:
    token: not-${token}
contexts:
- name: ${contextName}
  context:
    cluster: ${clusterName}
    user: reader
- name: ${badTokenContext}
  context:
    cluster: ${clusterName}
    user: stranger
current-context: ${contextName}
`,
  );
  return {
    url,
    kubeconfigPath,
    token,
    clusterName,
    contextName,
    badTokenContext,
    requests,
    served,
    rejected,
    resources: [...servedGvs.values()].flat().map((r) => {
      const recorded = (
        recordedDocs.get(gvOf(r))?.resources as Array<Record<string, unknown>> | undefined
      )?.find((x) => x.name === r.plural);
      const shortNames = (recorded?.shortNames as string[] | undefined) ?? r.shortNames;
      return {
        kind: r.kind,
        group: r.group,
        version: r.version,
        plural: r.plural,
        namespaced: r.namespaced,
        ...(shortNames ? { shortNames } : {}),
      };
    }),
    list(plural, group = '', namespace) {
      const r = resources.find((x) => x.plural === plural && x.group === group);
      return (r ? (store.get(r) ?? []) : []).filter(
        (o) => namespace === undefined || o.metadata?.namespace === namespace,
      );
    },
    compact() {
      oldestValidRv = ++listRv;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function discoveryEntry(r: Resource): Record<string, unknown> {
  return {
    ...(r.categories ? { categories: r.categories } : {}),
    kind: r.kind,
    name: r.plural,
    namespaced: r.namespaced,
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    singularName: r.singular,
    verbs: VERBS,
  };
}

/** The API server's default Table (Name, Created At), what `kubectl get` asks for. */
function table(page: K8sObject[], metadata: Record<string, unknown>, includeObject: string | null) {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: [
      {
        name: 'Name',
        type: 'string',
        format: 'name',
        description: 'Name must be unique within a namespace.',
        priority: 0,
      },
      {
        name: 'Created At',
        type: 'date',
        format: '',
        description:
          'CreationTimestamp is a timestamp representing the server time when this object was created.',
        priority: 0,
      },
    ],
    rows: page.map((o) => ({
      cells: [o.metadata?.name, o.metadata?.creationTimestamp],
      ...(includeObject === 'None'
        ? {}
        : {
            object:
              includeObject === 'Object'
                ? o
                : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
          }),
    })),
  };
}
