// biome-ignore-all lint/suspicious/noExplicitAny: these tests read manifests and reviews as untyped JSON
/**
 * `moat admission install` and `serve` as commands (from the TypeScript sources; serve in its own
 * process): the manifest install prints is what serve runs with, SIGTERM stops serve cleanly, bad
 * policies stop it at start.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadAll } from 'js-yaml';
import type { K8sObject } from '../../src/policy/types.js';
import { admissionReview } from './helpers.js';

const REPO = resolve(import.meta.dirname, '../..');
const ENTRY =
  "const { run } = await import('./src/cli/main.ts'); process.exitCode = await run(process.argv);";

function moat(args: string[], env: Record<string, string> = {}): ChildProcess {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MOAT_')));
  return spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', ENTRY, '--', 'moat', ...args],
    {
      cwd: REPO,
      env: { ...clean, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/** The CLI in this process (for runs that end on their own): exit code and what it wrote to stderr. */
async function moatHere(args: string[]): Promise<{ code: number; stderr: string }> {
  const { run } = await import('../../src/cli/main.js');
  const write = process.stderr.write;
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await run(['node', 'moat', ...args]), stderr };
  } finally {
    process.stderr.write = write;
  }
}

function finished(p: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  p.stdout?.on('data', (d) => {
    stdout += d;
  });
  p.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((r) => p.on('close', (code) => r({ code, stdout, stderr })));
}

describe('moat admission (commands)', () => {
  let dir: string;
  let objects: K8sObject[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'moat-admission-cli-'));
    writeFileSync(join(dir, 'policy.yaml'), 'checks:\n  pss.*: deny\n');
    const r = await moatHere([
      'admission',
      'install',
      '--namespace=sec',
      '--failure-policy=Fail',
      '--webhook-timeout=3s',
      '--image=registry.example.com/moat@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      `--policy-config=${join(dir, 'policy.yaml')}`,
      `--output=${join(dir, 'install.yaml')}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    objects = loadAll(readFileSync(join(dir, 'install.yaml'), 'utf8')) as K8sObject[];
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('install: flags reach the manifest, the policy config rides along in a ConfigMap', () => {
    const w = (objects.find((o) => o.kind === 'ValidatingWebhookConfiguration') as any).webhooks[0];
    assert.equal(w.failurePolicy, 'Fail');
    assert.equal(w.timeoutSeconds, 3);
    assert.equal(w.clientConfig.service.namespace, 'sec');
    const cm = objects.find((o) => o.kind === 'ConfigMap') as any;
    assert.deepEqual(Object.keys(cm.data), ['moat-policy.yaml']);
    assert.match(cm.data['moat-policy.yaml'], /pss\.\*: deny/);
    const args: string[] = (objects.find((o) => o.kind === 'Deployment') as any).spec.template.spec
      .containers[0].args;
    assert.ok(args.includes('--policy-config=/etc/moat/policy/moat-policy.yaml'), args.join(' '));
  });

  test('serve: runs with the Secret install made, decides with the policy, stops on SIGTERM', async () => {
    const secret = objects.find((o) => o.kind === 'Secret') as any;
    const w = (objects.find((o) => o.kind === 'ValidatingWebhookConfiguration') as any).webhooks[0];
    for (const k of ['tls.crt', 'tls.key'])
      writeFileSync(join(dir, k), Buffer.from(secret.data[k], 'base64'));
    const audit = join(dir, 'audit.jsonl');
    const p = moat(
      [
        'admission',
        'serve',
        '--port=0',
        `--tls-cert=${join(dir, 'tls.crt')}`,
        `--tls-key=${join(dir, 'tls.key')}`,
        `--policy-config=${join(dir, 'policy.yaml')}`,
        `--audit-log=${audit}`,
      ],
      { MOAT_NAMESPACE: 'sec' },
    );
    const done = finished(p);
    const port = await new Promise<number>((resolve, reject) => {
      let err = '';
      p.stderr?.on('data', (d) => {
        err += d;
        const m = /admission webhook on port (\d+)/.exec(err);
        if (m) resolve(Number(m[1]));
      });
      p.on('close', () => reject(new Error(`serve exited: ${err}`)));
    });
    const privileged: K8sObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'team' },
      spec: { containers: [{ name: 'c', image: 'nginx:1.27', securityContext: { privileged: true } }] },
    };
    const ca = Buffer.from(w.clientConfig.caBundle, 'base64').toString();
    const servername = `${w.clientConfig.service.name}.${w.clientConfig.service.namespace}.svc`;
    const out = await post(
      port,
      ca,
      servername,
      w.clientConfig.service.path,
      admissionReview({ uid: 'cli-1', object: privileged }),
    );
    assert.equal(out.response.uid, 'cli-1');
    assert.equal(out.response.allowed, false);
    assert.match(out.response.status.message, /\[pss\.baseline\.privileged\]/);
    // its own namespace (from MOAT_NAMESPACE, as the Deployment sets it) is bypassed
    const own = await post(
      port,
      ca,
      servername,
      '/validate',
      admissionReview({ object: { ...privileged, metadata: { name: 'p', namespace: 'sec' } } }),
    );
    assert.equal(own.response.allowed, true);
    p.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 1);
    assert.equal(lines[0].uid, 'cli-1');
    assert.equal(lines[0].allowed, false);
  });

  test('serve: missing TLS files and bad policy configs fail at start with exit 2', async () => {
    const noTls = await moatHere(['admission', 'serve', '--port=0']);
    assert.equal(noTls.code, 2);
    assert.match(noTls.stderr, /^moat: admission serve needs --tls-cert and --tls-key/m);
    writeFileSync(join(dir, 'bad.yaml'), 'checks:\n  pss.*: forbid\n');
    const bad = await moatHere([
      'admission',
      'serve',
      '--port=0',
      `--tls-cert=${join(dir, 'tls.crt')}`,
      `--tls-key=${join(dir, 'tls.key')}`,
      `--policy-config=${join(dir, 'bad.yaml')}`,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.yaml: checks\.pss\.\*: effect "forbid"/);
  });

  test('serve: a custom policy that does not compile is reported by name at start', async () => {
    writeFileSync(
      join(dir, 'vap.yaml'),
      [
        'apiVersion: admissionregistration.k8s.io/v1',
        'kind: ValidatingAdmissionPolicy',
        'metadata: { name: broken-policy }',
        'spec:',
        '  matchConstraints:',
        '    resourceRules: [{ apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods] }]',
        '  validations:',
        "    - expression: 'object.spec.containers.all(c, c.image.startsWith('",
        '---',
        'apiVersion: admissionregistration.k8s.io/v1',
        'kind: ValidatingAdmissionPolicyBinding',
        'metadata: { name: broken-binding }',
        'spec: { policyName: broken-policy, validationActions: [Deny] }',
        '',
      ].join('\n'),
    );
    const r = await moatHere([
      'admission',
      'serve',
      '--port=0',
      `--tls-cert=${join(dir, 'tls.crt')}`,
      `--tls-key=${join(dir, 'tls.key')}`,
      `--policy=${join(dir, 'vap.yaml')}`,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^moat: \S*vap\.yaml:\d+: policy broken-policy spec\.validations\[0\]\.expression: .*Unexpected token/m,
    );
  });
});

function post(port: number, ca: string, servername: string, path: string, body: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        ca,
        servername,
        headers: { 'Content-Type': 'application/json' },
      },
      (res) => {
        let t = '';
        res.on('data', (d) => {
          t += d;
        });
        res.on('end', () =>
          res.statusCode === 200 ? resolve(JSON.parse(t)) : reject(new Error(`${res.statusCode} ${t}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
