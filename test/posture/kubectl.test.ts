import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { K8sObject } from '../../src/policy/types.js';
import { loadManifests } from '../../src/posture/manifests.js';
import { type ReplayServer, startReplayServer } from '../helpers/k8s-replay.js';

/**
 * Proves the replay server speaks the real protocol: the real kubectl (discovery, chunked lists, JSON
 * and Table output) against it. Skipped where kubectl is not installed.
 */

const CORPUS = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/k8s-manifests');
const probe = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
const kubectlMissing =
  probe.error || probe.status !== 0 ? 'kubectl is not on PATH: skipping the kubectl protocol test' : false;

let server: ReplayServer;
let home: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl asynchronously (the server lives in this process) with a private HOME and cache. */
function kubectl(s: ReplayServer, ...args: string[]): Promise<Run> {
  return new Promise((ok) => {
    execFile(
      'kubectl',
      ['--kubeconfig', s.kubeconfigPath, '--cache-dir', join(home, 'cache'), ...args],
      {
        env: { ...process.env, HOME: home, KUBECONFIG: '' },
        encoding: 'utf8',
        timeout: 60_000,
        maxBuffer: 256 << 20,
      },
      (err, stdout, stderr) =>
        ok({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('kubectl against the replay API server', { skip: kubectlMissing }, () => {
  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'moat-kubectl-'));
    const objects = (await loadManifests([CORPUS])).objects.map((o) => o.object);
    server = await startReplayServer({ objects, replay: 'v1.36' });
  });
  after(async () => {
    await server?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('get pods -A -o json: the items served, in order', async () => {
    const r = await kubectl(server, 'get', 'pods', '-A', '-o', 'json', '--show-managed-fields');
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { kind: string; items: K8sObject[] };
    assert.equal(list.kind, 'List');
    assert.deepEqual(list.items, server.list('pods'));
  });

  test('get deployments -n kube-system: the Table lists every Deployment there', async () => {
    const r = await kubectl(server, 'get', 'deployments', '-n', 'kube-system');
    assert.equal(r.code, 0, r.stderr);
    const names = r.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0]);
    const served = server.list('deployments', 'apps', 'kube-system').map((d) => d.metadata?.name);
    assert.ok(served.includes('coredns'));
    assert.deepEqual(names, served);
    assert.match(r.stdout, /^NAME\s+CREATED AT/);
  });

  test('api-resources: discovery of every served group version succeeds and lists each resource', async () => {
    const r = await kubectl(server, 'api-resources', '--no-headers', '-o', 'wide');
    assert.equal(r.code, 0, r.stderr);
    const rows = new Set(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => {
          const cols = l.trim().split(/\s+/);
          const name = cols[0];
          // NAME [SHORTNAMES] APIVERSION NAMESPACED KIND VERBS...
          const at = cols.findIndex((c) => c === 'true' || c === 'false');
          return `${name} ${cols[at - 1]} ${cols[at]} ${cols[at + 1]}`;
        }),
    );
    assert.equal(rows.size, server.resources.length);
    for (const res of server.resources) {
      const apiVersion = res.group ? `${res.group}/${res.version}` : res.version;
      assert.ok(
        rows.has(`${res.plural} ${apiVersion} ${res.namespaced} ${res.kind}`),
        `${res.plural} ${apiVersion}`,
      );
    }
  });

  test('get pods -A --chunk-size=2: kubectl follows the continue tokens to the last page', async () => {
    // kubectl throttles itself to 5 requests/s after a burst of 10: a smaller cluster keeps this quick
    const small = await startReplayServer({
      objects: (await loadManifests([join(CORPUS, 'badpods/manifests/priv')])).objects.map((o) => o.object),
      replay: 'v1.36',
    });
    try {
      const from = small.requests.length;
      const r = await kubectl(small, 'get', 'pods', '-A', '--chunk-size=2', '--no-headers');
      assert.equal(r.code, 0, r.stderr);
      const served = small.list('pods');
      assert.ok(served.length >= 10, `${served.length} pods`);
      const rows = r.stdout.trim().split('\n');
      assert.deepEqual(
        rows.map((l) => l.split(/\s+/).slice(0, 2).join('/')),
        served.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`),
      );
      const lists = small.requests.slice(from).filter((q) => q.startsWith('GET /api/v1/pods?'));
      assert.equal(lists.length, Math.ceil(served.length / 2));
      assert.ok(lists.every((q) => q.includes('limit=2')));
      assert.equal(lists.filter((q) => q.includes('continue=')).length, lists.length - 1);
    } finally {
      await small.close();
    }
  });
});
