/**
 * `moat posture` through the built CLI, on real manifests (BishopFox badPods: every bad pod as Pod and
 * every pod-template owner), with expectations computed here from the objects themselves (a privileged
 * container, host namespaces, hostPath volumes), not from moat: stdin, directories, --pss, --checks,
 * exemptions, policy config, --fail-on, formats, and bad input (malformed YAML goes on with file and
 * line; a missing input or a bad config is one line and exit 2).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import yaml from 'js-yaml';
import { loadManifests } from '../../src/posture/manifests.js';
import { moat, REPO, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';
import { startReplayServer } from '../helpers/k8s-replay.js';

const BADPODS = join(REPO, 'test/fixtures/k8s-manifests/badpods/manifests');

interface Report {
  summary: { objects: number; checks: number; skipped: Record<string, number> };
  score: { value: number };
  recommendations: Array<{
    id: string;
    findings: Array<{ message: string; container?: string; path?: string; resources: number[] }>;
  }>;
  exempted: Array<{ checkId: string; resource: number }>;
  resources: Array<{ kind: string; name: string; source?: { file?: string; line?: number } }>;
  errors: Array<{ source: string; line?: number; message: string }>;
  warnings: string[];
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : /\.ya?ml$/.test(n) ? [p] : [];
  });
}

type Obj = { kind: string; metadata: { name: string }; spec: Record<string, unknown> };

/** The pod spec of any workload kind, found by its shape (independent of moat's podSpecOf). */
function podSpec(o: Obj): Record<string, unknown> {
  let s: Record<string, unknown> = o.spec;
  if (o.kind === 'CronJob') s = (s.jobTemplate as { spec: Record<string, unknown> }).spec;
  if (o.kind !== 'Pod') s = (s.template as { spec: Record<string, unknown> }).spec;
  return s;
}

/** Which resources each PSS baseline check must flag, from the manifests. */
function expectedFromManifests(files: string[]) {
  const want: Record<string, Set<string>> = {
    'pss.baseline.privileged': new Set(),
    'pss.baseline.hostNamespaces': new Set(),
    'pss.baseline.hostPathVolumes': new Set(),
  };
  let objects = 0;
  for (const f of files) {
    for (const doc of yaml.loadAll(readFileSync(f, 'utf8')) as Obj[]) {
      if (!doc) continue;
      objects++;
      // the StatefulSet files come with their headless Service
      if (doc.kind === 'Service') continue;
      const spec = podSpec(doc);
      const key = `${doc.kind}/${doc.metadata.name}`;
      const containers = (spec.containers as Array<{ securityContext?: { privileged?: boolean } }>) ?? [];
      if (containers.some((c) => c.securityContext?.privileged === true))
        want['pss.baseline.privileged']?.add(key);
      if (spec.hostPID === true || spec.hostIPC === true || spec.hostNetwork === true)
        want['pss.baseline.hostNamespaces']?.add(key);
      if (((spec.volumes as Array<{ hostPath?: unknown }>) ?? []).some((v) => v.hostPath))
        want['pss.baseline.hostPathVolumes']?.add(key);
    }
  }
  return { want, objects };
}

/** The resources of a recommendation's findings, as Kind/name. */
function affected(r: Report, rec: Report['recommendations'][number] | undefined): string[] {
  return (rec?.findings ?? []).flatMap((f) =>
    f.resources.map((i) => `${r.resources[i]?.kind}/${r.resources[i]?.name}`),
  );
}

function flagged(r: Report, id: string): Set<string> {
  return new Set(
    affected(
      r,
      r.recommendations.find((x) => x.id === id),
    ),
  );
}

describe('moat posture (manifests)', () => {
  let sb: Sandbox;
  before(async () => {
    requireBuild();
    sb = await sandbox();
  });
  after(() => sb.remove());

  test('badPods: every privileged, host-namespace and hostPath workload of every kind is flagged, and nothing else for those checks', async () => {
    const files = walk(BADPODS);
    const { want, objects } = expectedFromManifests(files);
    const r = await moat(sb, ['posture', '--format', 'json', BADPODS]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.summary.objects, objects);
    for (const [id, set] of Object.entries(want)) {
      assert.ok(set.size > 0, `fixtures exercise ${id}`);
      assert.deepEqual([...flagged(report, id)].sort(), [...set].sort(), id);
    }
    // each affected resource names its file and line
    const a = report.resources[report.recommendations[0]?.findings[0]?.resources[0] ?? -1];
    assert.ok(a?.source?.file?.startsWith(BADPODS) && (a.source.line ?? 0) >= 1);
    assert.ok(report.score.value < 100);
  });

  test('worker threads (MOAT_POSTURE_THREADS) make the report one thread makes, malformed files and exemptions included', async () => {
    const dirs = ['badpods', 'kubernetes-goat', 'kubernetes-examples', 'checkov', 'polaris'].map((d) =>
      join(REPO, 'test/fixtures/k8s-manifests', d),
    );
    const ex = join(sb.inputs, 'threads-ex.yaml');
    writeFileSync(ex, '- check: pss.*\n  resource: { labels: { app: nginx } }\n  reason: lab\n');
    const run = async (threads: string) => {
      const r = await moat(sb, ['posture', '-f', 'json', '--debug', '--exemptions', ex, ...dirs], {
        env: { MOAT_POSTURE_THREADS: threads },
      });
      // the corpora hold unrendered templates and fixtures that do not parse: exit 0 with errors listed
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.lines.some((l) => l.includes('split among threads') && l.includes(`threads=${threads}`)),
        threads !== '1',
        r.stderr,
      );
      const { generatedAt: _, ...rest } = JSON.parse(r.stdout) as Report & { generatedAt: string };
      return rest;
    };
    const one = await run('1');
    assert.ok(one.errors.length > 0 && one.recommendations.length > 0 && one.exempted.length > 0);
    for (const threads of ['2', '3']) assert.deepEqual(await run(threads), one, `${threads} threads`);
  });

  test('stdin (helm template | moat posture -) equals reading the file', async () => {
    const file = join(BADPODS, 'priv/deployment/priv-exec-deployment.yaml');
    const fromFile = JSON.parse((await moat(sb, ['posture', '-f', 'json', file])).stdout) as Report;
    const r = await moat(sb, ['posture', '-f', 'json', '-'], { input: readFileSync(file, 'utf8') });
    assert.equal(r.code, 0, r.stderr);
    const fromStdin = JSON.parse(r.stdout) as Report;
    assert.deepEqual(
      fromStdin.recommendations.map((x) => [x.id, affected(fromStdin, x)]),
      fromFile.recommendations.map((x) => [x.id, affected(fromFile, x)]),
    );
    assert.ok(fromStdin.recommendations.some((x) => x.id === 'pss.baseline.privileged'));
  });

  test('--pss baseline@v1.30 and --checks limit the checks', async () => {
    const pss = JSON.parse(
      (await moat(sb, ['posture', '-f', 'json', '--pss', 'baseline@v1.30', BADPODS])).stdout,
    ) as Report;
    assert.ok(pss.recommendations.length > 0);
    assert.ok(pss.recommendations.every((x) => x.id.startsWith('pss.baseline.')));
    const one = JSON.parse(
      (await moat(sb, ['posture', '-f', 'json', '--checks', 'pss.baseline.privileged', BADPODS])).stdout,
    ) as Report;
    assert.equal(one.summary.checks, 1);
    assert.deepEqual(
      one.recommendations.map((x) => x.id),
      ['pss.baseline.privileged'],
    );
  });

  test('--fail-on: exit 1 when a recommendation at or above remains; exemptions can clear it', async () => {
    const file = join(BADPODS, 'priv/pod/priv-exec-pod.yaml');
    const r1 = await moat(sb, ['posture', '--checks', 'pss.baseline.privileged', '--fail-on', 'LOW', file]);
    assert.equal(r1.code, 1);
    assert.match(r1.stdout, /pss\.baseline\.privileged/);
    const ex = join(sb.inputs, 'ex.yaml');
    writeFileSync(
      ex,
      '- check: pss.baseline.*\n  resource: { kind: Pod, name: priv-exec-* }\n  reason: pentest lab\n',
    );
    const r2 = await moat(sb, [
      'posture',
      '-f',
      'json',
      '--checks',
      'pss.baseline.privileged',
      '--fail-on',
      'LOW',
      '--exemptions',
      ex,
      file,
    ]);
    assert.equal(r2.code, 0, r2.stderr);
    const rep = JSON.parse(r2.stdout) as Report;
    assert.deepEqual(
      rep.exempted.map((e) => [e.checkId, rep.resources[e.resource]?.name]),
      [['pss.baseline.privileged', 'priv-exec-pod']],
    );
  });

  test('policy config: effects and disabled checks; an unknown check id is a config error', async () => {
    const file = join(BADPODS, 'priv/pod/priv-exec-pod.yaml');
    const cfg = join(sb.inputs, 'policy.yaml');
    writeFileSync(cfg, 'checks:\n  pss.*: disabled\n');
    const rep = JSON.parse(
      (await moat(sb, ['posture', '-f', 'json', '--policy-config', cfg, file])).stdout,
    ) as Report;
    assert.ok(rep.recommendations.every((x) => !x.id.startsWith('pss.')));
    writeFileSync(cfg, 'checks:\n  pss.baseline.nope: deny\n');
    const bad = await moat(sb, ['posture', '--policy-config', cfg, file]);
    assert.equal(bad.code, 2);
    assert.equal(bad.lines.length, 1, bad.stderr);
    assert.match(bad.stderr, /pss\.baseline\.nope/);
    writeFileSync(cfg, 'checks:\n  pss.*: { effect: block }\n');
    const bad2 = await moat(sb, ['posture', '--policy-config', cfg, file]);
    assert.equal(bad2.code, 2);
    assert.match(bad2.stderr, /policy config .*policy\.yaml: checks\.pss\.\*: effect "block"/);
  });

  test('malformed YAML: reported with file and line, the other documents and files are still assessed', async () => {
    const dir = join(sb.inputs, 'mixed');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    const priv = readFileSync(join(BADPODS, 'priv/pod/priv-exec-pod.yaml'), 'utf8');
    writeFileSync(
      join(dir, 'a.yaml'),
      `${priv}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n  labels: {a: [\n---\n${priv.replace('priv-exec-pod', 'second')}`,
    );
    writeFileSync(join(dir, 'b.yaml'), priv.replace('priv-exec-pod', 'third'));
    const r = await moat(sb, ['posture', '-f', 'json', '--checks', 'pss.baseline.privileged', dir]);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.deepEqual([...flagged(rep, 'pss.baseline.privileged')].sort(), [
      'Pod/priv-exec-pod',
      'Pod/second',
      'Pod/third',
    ]);
    assert.equal(rep.errors.length, 1);
    assert.ok(rep.errors[0]?.source.endsWith('a.yaml'));
    assert.ok((rep.errors[0]?.line ?? 0) > priv.split('\n').length, JSON.stringify(rep.errors[0]));
    assert.match(r.stderr, /a\.yaml:\d+: /);
  });

  test('a missing input is one line naming it, exit 2; a format posture does not write is a usage error', async () => {
    const r = await moat(sb, ['posture', join(sb.inputs, 'nope.yaml')]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.lines.length, 1, r.stderr);
    assert.match(r.stderr, /nope\.yaml/);
    const f = await moat(sb, ['posture', '-f', 'cyclonedx', BADPODS]);
    assert.equal(f.code, 2);
    assert.match(f.stderr, /table, json or sarif/);
  });

  test('table and SARIF outputs', async () => {
    const file = join(BADPODS, 'hostpid/pod/hostpid-exec-pod.yaml');
    const t = await moat(sb, ['posture', file]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /Secure score: [\d.]+ \/ 100/);
    assert.match(t.stdout, /pss\.baseline\.hostNamespaces/);
    const s = await moat(sb, ['posture', '-f', 'sarif', file]);
    const sarif = JSON.parse(s.stdout) as { runs: Array<{ results: Array<{ ruleId: string }> }> };
    assert.ok(sarif.runs[0]?.results.some((x) => x.ruleId === 'pss.baseline.hostNamespaces'));
  });

  test('--policy: the shipped PSS baseline ValidatingAdmissionPolicy flags what the built-in check flags; a policy that does not compile is reported with its name', async () => {
    const dir = join(BADPODS, 'priv');
    const builtIn = JSON.parse(
      (await moat(sb, ['posture', '-f', 'json', '--checks', 'pss.baseline.privileged', dir])).stdout,
    ) as Report;
    const r = await moat(sb, [
      'posture',
      '-f',
      'json',
      '--checks',
      'custom.*',
      '--policy',
      join(REPO, 'data/policies/pss-baseline-vap.yaml'),
      dir,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const custom = JSON.parse(r.stdout) as Report;
    assert.deepEqual(
      [...flagged(custom, 'custom.pss-baseline')].sort(),
      [...flagged(builtIn, 'pss.baseline.privileged')].sort(),
    );
    const broken = join(sb.inputs, 'broken.yaml');
    writeFileSync(
      broken,
      'apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: broken-policy\nspec:\n  matchConstraints:\n    resourceRules:\n      - apiGroups: [""]\n        apiVersions: [v1]\n        operations: [CREATE]\n        resources: [pods]\n  validations:\n    - expression: "object.spec.containers.all(c, c.image.startsWith(\'x\')"\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: broken-binding\nspec:\n  policyName: broken-policy\n  validationActions: [Deny]\n',
    );
    const b = await moat(sb, ['posture', '-f', 'json', '--policy', broken, dir]);
    assert.equal(b.code, 0, b.stderr);
    const rep = JSON.parse(b.stdout) as Report;
    const err = rep.errors.find((e) => e.message.includes('broken-policy'));
    assert.ok(err, JSON.stringify(rep.errors));
    assert.match(err.message, /spec\.validations\[0\]\.expression/);
    assert.ok(err.source.endsWith('broken.yaml') && (err.line ?? 0) >= 1, JSON.stringify(err));
  });
});

describe('moat posture (live cluster through a kubeconfig)', () => {
  let sb: Sandbox;
  before(async () => {
    requireBuild();
    sb = await sandbox();
  });
  after(() => sb.remove());

  test('reads every kind from the API server and finds what the same objects give as manifests', async () => {
    const load = await loadManifests([BADPODS]);
    const server = await startReplayServer({ objects: load.objects.map((o) => o.object) });
    try {
      const r = await moat(sb, [
        'posture',
        '-f',
        'json',
        '--kubeconfig',
        server.kubeconfigPath,
        '--page-size',
        '7',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const live = JSON.parse(r.stdout) as Report & { target: { type: string; cluster?: string } };
      assert.equal(live.target.type, 'cluster');
      assert.equal(live.target.cluster, server.clusterName);
      // pagination was used: some list request carried a continue token
      assert.ok(
        server.requests.some((q) => q.includes('continue=')),
        'paginated',
      );
      const fromFiles = JSON.parse((await moat(sb, ['posture', '-f', 'json', BADPODS])).stdout) as Report;
      for (const id of [
        'pss.baseline.privileged',
        'pss.baseline.hostNamespaces',
        'pss.baseline.hostPathVolumes',
      ]) {
        assert.deepEqual([...flagged(live, id)].sort(), [...flagged(fromFiles, id)].sort(), id);
      }
      // an unreachable cluster is one line, exit 2
      await server.close();
      const down = await moat(sb, ['posture', '--kubeconfig', server.kubeconfigPath]);
      assert.equal(down.code, 2, down.stderr);
      assert.equal(down.lines.length, 1, down.stderr);
    } finally {
      await server.close();
    }
  });
});
