import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isMoatError, type MoatError } from '../../src/errors.js';
import type { K8sObject } from '../../src/policy/types.js';
import { listCluster } from '../../src/posture/cluster.js';
import { CLUSTER_RESOURCES, groupVersion } from '../../src/posture/kinds.js';
import { loadManifests } from '../../src/posture/manifests.js';
import { type ReplayServer, recordedItems, startReplayServer } from '../helpers/k8s-replay.js';

const CORPUS = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/k8s-manifests');
const tmp = mkdtempSync(join(tmpdir(), 'moat-cluster-'));

let corpus: K8sObject[];
let server: ReplayServer;

before(async () => {
  corpus = (await loadManifests([CORPUS])).objects.map((o) => o.object);
  server = await startReplayServer({ objects: corpus, replay: 'v1.36' });
});
after(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** What the server serves for a kind, in list order, as listCluster should return it. */
function servedKind(s: ReplayServer, kind: string, namespace?: string): K8sObject[] {
  const r = CLUSTER_RESOURCES.find((x) => x.kind === kind)!;
  return s.list(r.plural, r.group, r.namespaced ? namespace : undefined);
}

function listRequests(s: ReplayServer, from: number, path: string): string[] {
  return s.requests.slice(from).filter((r) => r.startsWith(`GET ${path}?`));
}

const errorWith =
  (code: MoatError['code'], ...parts: string[]) =>
  (e: unknown) => {
    assert.ok(isMoatError(e), String(e));
    assert.equal(e.code, code, e.message);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    assert.ok(!e.message.includes('\n'));
    return true;
  };

describe('listCluster against the replay API server', () => {
  test('returns every object served for every kind, kind and apiVersion filled in, from the context cluster', async () => {
    const res = await listCluster({ kubeconfig: server.kubeconfigPath });
    assert.equal(res.cluster, server.clusterName);
    assert.equal(res.server, server.url);
    assert.equal(res.version, 'v1.36.0');
    assert.deepEqual(res.errors, []);
    for (const r of CLUSTER_RESOURCES) {
      const got = res.objects.filter((o) => o.object.kind === r.kind).map((o) => o.object);
      assert.deepEqual(got, servedKind(server, r.kind), r.kind);
      for (const o of got) assert.equal(o.apiVersion, groupVersion(r));
    }
    assert.equal(
      res.objects.length,
      CLUSTER_RESOURCES.reduce((n, r) => n + servedKind(server, r.kind).length, 0),
    );
    for (const o of res.objects) assert.deepEqual(o.source, { cluster: server.clusterName });
    // the corpus has every workload kind; the recorded kind-cluster Pods come back exactly as recorded
    for (const kind of [
      'Pod',
      'Deployment',
      'DaemonSet',
      'CronJob',
      'ClusterRole',
      'RoleBinding',
      'NetworkPolicy',
    ])
      assert.ok(servedKind(server, kind).length > 0, kind);
    const pods = res.objects.map((o) => o.object).filter((o) => o.kind === 'Pod');
    for (const rec of recordedItems('v1.36', 'pod-list'))
      assert.deepEqual(
        pods.find((p) => p.metadata?.uid === rec.metadata?.uid),
        rec,
      );
  });

  test('paginates with limit and the continue tokens the server returns', async () => {
    const from = server.requests.length;
    const res = await listCluster({
      kubeconfig: server.kubeconfigPath,
      kinds: ['Pod', 'ClusterRole'],
      pageSize: 7,
    });
    for (const [kind, path] of [
      ['Pod', '/api/v1/pods'],
      ['ClusterRole', '/apis/rbac.authorization.k8s.io/v1/clusterroles'],
    ] as const) {
      const n = servedKind(server, kind).length;
      const reqs = listRequests(server, from, path);
      assert.equal(reqs.length, Math.ceil(n / 7), kind);
      assert.ok(reqs.every((r) => r.includes('limit=7')));
      assert.equal(reqs.filter((r) => r.includes('continue=')).length, reqs.length - 1);
      assert.deepEqual(
        res.objects.filter((o) => o.object.kind === kind).map((o) => o.object),
        servedKind(server, kind),
      );
    }
  });

  test('a namespace lists namespaced kinds there and cluster-scoped kinds whole', async () => {
    const from = server.requests.length;
    const res = await listCluster({
      kubeconfig: server.kubeconfigPath,
      namespace: 'kube-system',
      kinds: ['Pod', 'Deployment', 'Namespace'],
    });
    assert.deepEqual(
      res.objects.filter((o) => o.object.kind === 'Pod').map((o) => o.object),
      servedKind(server, 'Pod', 'kube-system'),
    );
    assert.ok(servedKind(server, 'Pod', 'kube-system').length >= 8);
    assert.deepEqual(
      res.objects.filter((o) => o.object.kind === 'Deployment').map((o) => o.object),
      servedKind(server, 'Deployment', 'kube-system'),
    );
    assert.equal(
      res.objects.filter((o) => o.object.kind === 'Namespace').length,
      servedKind(server, 'Namespace').length,
    );
    assert.equal(listRequests(server, from, '/api/v1/namespaces/kube-system/pods').length, 1);
  });

  test('an unknown kind is a usage error', async () => {
    await assert.rejects(
      listCluster({ kubeconfig: server.kubeconfigPath, kinds: ['Secret'] }),
      errorWith('USAGE', 'Secret'),
    );
  });

  test('an expired continue token restarts that kind from the first page', async () => {
    let compacted = false;
    const s = await startReplayServer({
      objects: corpus,
      onRequest: (path, q) => {
        if (path === '/api/v1/pods' && q.has('continue') && !compacted) {
          compacted = true;
          s.compact();
        }
      },
    });
    try {
      const res = await listCluster({ kubeconfig: s.kubeconfigPath, kinds: ['Pod'], pageSize: 50 });
      assert.deepEqual(res.errors, []);
      assert.deepEqual(
        res.objects.map((o) => o.object),
        servedKind(s, 'Pod'),
      );
      const firstPages = listRequests(s, 0, '/api/v1/pods').filter((r) => !r.includes('continue='));
      assert.equal(firstPages.length, 2);
    } finally {
      await s.close();
    }
  });
});

describe('kinds the server forbids or does not serve', () => {
  let s: ReplayServer;
  before(async () => {
    s = await startReplayServer({
      objects: corpus,
      forbidden: ['clusterroles', 'pods'],
      notServed: ['cronjobs', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings'],
    });
  });
  after(() => s.close());

  test('403 and 404 are errors for that kind; the rest is listed; an unserved optional kind is skipped', async () => {
    const res = await listCluster({ kubeconfig: s.kubeconfigPath });
    assert.deepEqual(res.errors.map((e) => e.kind).sort(), ['ClusterRole', 'CronJob', 'Pod']);
    const pod = res.errors.find((e) => e.kind === 'Pod')!;
    assert.match(
      pod.message,
      /^cannot list \/api\/v1\/pods: 403 Forbidden: pods is forbidden: User ".*" cannot list resource "pods"/,
    );
    assert.match(
      res.errors.find((e) => e.kind === 'CronJob')!.message,
      /^not served by the API server .*404 NotFound/,
    );
    for (const kind of ['Deployment', 'DaemonSet', 'Role', 'ClusterRoleBinding', 'Service'])
      assert.deepEqual(
        res.objects.filter((o) => o.object.kind === kind).map((o) => o.object),
        servedKind(s, kind),
        kind,
      );
    assert.equal(
      res.objects.filter((o) => ['Pod', 'ClusterRole', 'CronJob'].includes(o.object.kind!)).length,
      0,
    );
  });
});

describe('connection and kubeconfig errors', () => {
  function kubeconfig(name: string, edit: (text: string) => string): string {
    const p = join(tmp, name);
    writeFileSync(p, edit(readFileSync(server.kubeconfigPath, 'utf8')));
    return p;
  }

  test('wrong credentials: UNAUTHORIZED naming the context and kubeconfig', async () => {
    await assert.rejects(
      listCluster({ kubeconfig: server.kubeconfigPath, context: server.badTokenContext }),
      errorWith('UNAUTHORIZED', server.badTokenContext, server.kubeconfigPath, '401'),
    );
  });

  test('an unknown context: CONFIG listing the contexts there are', async () => {
    await assert.rejects(
      listCluster({ kubeconfig: server.kubeconfigPath, context: 'nope' }),
      errorWith('CONFIG', '"nope"', server.kubeconfigPath, server.contextName),
    );
  });

  test('a missing or malformed kubeconfig: CONFIG naming the file', async () => {
    const missing = join(tmp, 'missing-kubeconfig');
    await assert.rejects(listCluster({ kubeconfig: missing }), errorWith('CONFIG', missing));
    const bad = kubeconfig('bad-yaml', () => 'clusters: [\n  - {{\n');
    await assert.rejects(listCluster({ kubeconfig: bad }), errorWith('CONFIG', bad));
  });

  test('an unreachable server: NETWORK with the server, kubeconfig and cause', async () => {
    const closed = await startReplayServer({});
    const cfg = kubeconfig('unreachable', (t) => t.replace(server.url, closed.url));
    await closed.close();
    await assert.rejects(
      listCluster({ kubeconfig: cfg }),
      errorWith('NETWORK', closed.url, cfg, 'ECONNREFUSED'),
    );
  });

  test('a server certificate the kubeconfig CA did not sign: NETWORK, nothing listed', async () => {
    const other = await startReplayServer({});
    try {
      // the other server's CA, this server's URL
      const cfg = kubeconfig('wrong-ca', () =>
        readFileSync(other.kubeconfigPath, 'utf8').replace(other.url, server.url),
      );
      const from = server.requests.length;
      await assert.rejects(listCluster({ kubeconfig: cfg }), errorWith('NETWORK', server.url, cfg));
      assert.equal(server.requests.length, from);
    } finally {
      await other.close();
    }
  });
});

describe('the replay server speaks the API protocol', () => {
  /** GET over HTTPS, trusting only the CA in the server's kubeconfig. */
  function get(
    s: ReplayServer,
    path: string,
    token = s.token,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const ca = Buffer.from(
      /certificate-authority-data: (\S+)/.exec(readFileSync(s.kubeconfigPath, 'utf8'))![1]!,
      'base64',
    );
    return new Promise((ok, fail) => {
      const req = request(`${s.url}${path}`, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => ok({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', fail);
      req.end();
    });
  }

  test('a recorded List URL answers with the recorded items, as the kind cluster sent them', async () => {
    const exchange = (
      JSON.parse(
        readFileSync(resolve(CORPUS, '../k8s-api/k8s-openapi-replays/v1.36/pod-list.json'), 'utf8'),
      ) as Array<{ request_url: string; response_body: string }>
    )[0]!;
    const recorded = JSON.parse(exchange.response_body) as {
      kind: string;
      apiVersion: string;
      items: unknown[];
    };
    const s = await startReplayServer({ replay: 'v1.36' });
    try {
      const { status, body } = await get(s, exchange.request_url);
      assert.equal(status, 200);
      assert.equal(body.kind, recorded.kind);
      assert.equal(body.apiVersion, recorded.apiVersion);
      assert.deepEqual(body.items, recorded.items);
    } finally {
      await s.close();
    }
  });

  test('Status objects for 401, 404, a garbage continue token (400) and a compacted one (410)', async () => {
    const unauthorized = await get(server, '/api/v1/pods', 'wrong');
    assert.equal(unauthorized.status, 401);
    assert.deepEqual(
      [unauthorized.body.kind, unauthorized.body.reason, unauthorized.body.code],
      ['Status', 'Unauthorized', 401],
    );
    const missing = await get(server, '/apis/example.com/v1/widgets');
    assert.deepEqual([missing.status, missing.body.kind, missing.body.reason], [404, 'Status', 'NotFound']);
    const garbage = await get(server, '/api/v1/pods?limit=1&continue=not-a-token');
    assert.deepEqual([garbage.status, garbage.body.reason], [400, 'BadRequest']);
    const s = await startReplayServer({ objects: corpus });
    try {
      const first = await get(s, '/api/v1/pods?limit=1');
      const token = (first.body.metadata as { continue: string }).continue;
      assert.equal((await get(s, `/api/v1/pods?limit=1&continue=${token}`)).status, 200);
      s.compact();
      const expired = await get(s, `/api/v1/pods?limit=1&continue=${token}`);
      assert.deepEqual([expired.status, expired.body.reason], [410, 'Expired']);
    } finally {
      await s.close();
    }
  });
});
