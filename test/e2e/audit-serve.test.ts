/**
 * `moat audit install`, `moat audit serve` and `moat audit coverage` through the built CLI, over real
 * HTTPS: install writes the CA, server certificate, token, kubeconfig and policy; serve, started with
 * exactly those files, takes the Falco trace events as the API server would send them (EventList batches,
 * bearer token, the CA from the kubeconfig), writes alerts as JSON lines and forwards them to a real
 * HTTPS receiver. What serve raises is checked against `moat audit scan` of the same events.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { load } from 'js-yaml';
import { generateCa, issueServerCertificate } from '../../src/admission/certs.js';
import type { Alert } from '../../src/detect/alert.js';
import type { AlertReport } from '../../src/report/alerts.js';
import { MOAT_BIN, moat, REPO, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';

const FALCO = join(REPO, 'test/fixtures/audit/falco-events');
const ALLOWLISTS = join(REPO, 'test/fixtures/detect/falco-allowlists.yaml');

/** Every event of the trace files, in file order (lines that are not JSON objects are left out). */
function traceEvents(): unknown[] {
  const out: unknown[] = [];
  for (const f of readdirSync(FALCO)
    .filter((n) => n.endsWith('.json') && n !== 'index.json')
    .sort()) {
    for (const line of readFileSync(join(FALCO, f), 'utf8').split('\n')) {
      try {
        const v = JSON.parse(line) as { kind?: string };
        if (v && typeof v === 'object' && v.kind === 'Event') out.push(v);
      } catch {
        // fal_01_003.json is deliberately not an event
      }
    }
  }
  return out;
}

function post(url: string, body: string, opts: { ca: string; token?: string }): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca: opts.ca,
        headers: {
          'content-type': 'application/json',
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        },
      },
      (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}

/** Starts `moat audit serve` and resolves with its URL once it says it listens. */
function startServe(
  sb: Sandbox,
  args: string[],
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [MOAT_BIN, 'audit', 'serve', ...args], {
    cwd: sb.cwd,
    env: sb.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`serve did not start: ${err}`)), 30_000);
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /audit webhook on (https:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        res({ child, url: m[1] as string, stderr: () => err });
      }
    });
    child.stdout?.resume();
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`serve exited ${code}: ${err}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((res) => {
    child.removeAllListeners('exit');
    // 'close': the exit code and every byte of stdout and stderr
    child.once('close', (code) => res(code));
    child.kill('SIGTERM');
  });
}

/** Total events per rule: the same whichever way matches are split into alerts. */
function countsByRule(alerts: readonly Alert[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of alerts) out[a.rule.id] = (out[a.rule.id] ?? 0) + a.count;
  return out;
}

/** The last line written for each alert id (serve writes an alert when raised and again when final). */
function finalAlerts(lines: readonly string[]): Alert[] {
  const byId = new Map<string, Alert>();
  for (const l of lines) {
    const a = JSON.parse(l) as Alert;
    byId.set(a.id, a);
  }
  return [...byId.values()];
}

describe('moat audit install and serve', () => {
  let sb: Sandbox;
  let dir: string;
  before(async () => {
    requireBuild();
    sb = await sandbox();
    dir = join(sb.out, 'audit');
  });
  after(() => sb?.remove());

  test('install writes a CA, a certificate for the URL host, a token, the kubeconfig and the policy', async () => {
    const r = await moat(sb, [
      'audit',
      'install',
      '--server-url',
      'https://127.0.0.1:9443/audit',
      '--out-dir',
      dir,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /moat audit serve --listen :9443 --tls-cert \S+tls\.crt --tls-key \S+tls\.key --token-file \S+token/,
    );
    const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
    const leaf = new X509Certificate(readFileSync(join(dir, 'tls.crt')));
    assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), 'the CA signed the server certificate');
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    for (const secret of ['tls.key', 'token', 'audit-webhook.kubeconfig']) {
      assert.equal(statSync(join(dir, secret)).mode & 0o077, 0, `${secret} is private`);
    }
    const kc = load(readFileSync(join(dir, 'audit-webhook.kubeconfig'), 'utf8')) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { user: { token: string } }[];
    };
    assert.equal(kc.clusters[0]?.cluster.server, 'https://127.0.0.1:9443/audit');
    assert.equal(
      Buffer.from(kc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64').toString(),
      readFileSync(join(dir, 'ca.crt'), 'utf8'),
    );
    assert.equal(kc.users[0]?.user.token, readFileSync(join(dir, 'token'), 'utf8').trim());
    assert.equal(
      readFileSync(join(dir, 'audit-policy.yaml'), 'utf8'),
      readFileSync(join(REPO, 'deploy/audit/audit-policy.yaml'), 'utf8'),
    );
    const bad = await moat(sb, [
      'audit',
      'install',
      '--server-url',
      'http://127.0.0.1/audit',
      '--out-dir',
      dir,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^moat: --server-url http:\/\/127\.0\.0\.1\/audit: must be https\n$/);
  });

  test('serve raises what a scan of the same events raises, writes and forwards every alert', async () => {
    // a real HTTPS receiver for --forward, with its own CA
    const rca = generateCa('receiver CA');
    const rcert = issueServerCertificate(rca, ['127.0.0.1']);
    const received: Alert[] = [];
    const receiver = createServer({ cert: rcert.cert, key: rcert.key }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const v = JSON.parse(body) as Alert | Alert[];
        received.push(...(Array.isArray(v) ? v : [v]));
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const rport = (receiver.address() as AddressInfo).port;
    const rcaFile = join(sb.inputs, 'receiver-ca.crt');
    writeFileSync(rcaFile, rca.cert);

    const alertsFile = join(sb.out, 'alerts.jsonl');
    const common = [
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--token-file',
      join(dir, 'token'),
      '--data-dir',
      join(sb.out, 'data'),
      '--rules',
      ALLOWLISTS,
      '--max-batch-size',
      '1MiB',
    ];
    const s = await startServe(sb, [
      ...common,
      '--listen',
      '127.0.0.1:0',
      '-f',
      'jsonl',
      '-o',
      alertsFile,
      '--forward',
      `https://127.0.0.1:${rport}/alerts`,
      '--forward-ca',
      rcaFile,
    ]);
    try {
      const ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
      const token = readFileSync(join(dir, 'token'), 'utf8').trim();
      const events = traceEvents();
      assert.ok(events.length > 30, `${events.length} trace events`);
      // batches of up to 10 events, as the API server's webhook backend would send them
      for (let i = 0; i < events.length; i += 10) {
        const body = JSON.stringify({
          kind: 'EventList',
          apiVersion: 'audit.k8s.io/v1',
          items: events.slice(i, i + 10),
        });
        assert.equal(await post(s.url, body, { ca, token }), 200);
      }
      // a retried batch is acknowledged again and counted once
      const first = JSON.stringify({
        kind: 'EventList',
        apiVersion: 'audit.k8s.io/v1',
        items: events.slice(0, 10),
      });
      assert.equal(await post(s.url, first, { ca, token }), 200);
      assert.equal(await post(s.url, first, { ca, token: 'wrong' }), 401);
      assert.equal(await post(s.url, first, { ca }), 401);
      assert.equal(await post(s.url, ' '.repeat(2 * 1024 * 1024), { ca, token }), 413);
    } finally {
      assert.equal(await stop(s.child), 0, s.stderr());
    }
    await new Promise((r) => setTimeout(r, 50));
    receiver.close();

    const lines = readFileSync(alertsFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    const served = finalAlerts(lines);
    // events the trace files hold twice (same auditID and stage) and the retried batch are dropped
    const events = traceEvents() as { auditID: string; stage: string }[];
    const unique = new Set(events.map((e) => `${e.auditID}/${e.stage}`)).size;
    assert.match(
      s.stderr(),
      new RegExp(
        `audit webhook stopped: ${unique} events accepted \\(${events.length + 10 - unique} duplicates, 0 malformed\\)`,
      ),
    );

    // the same events through `moat audit scan`, as one log, less what the webhook drops as retries (two
    // trace files were made from one request and share its audit ID)
    const seen = new Set<string>();
    const once = events.filter((e) => {
      const k = `${e.auditID}/${e.stage}`;
      return !seen.has(k) && !!seen.add(k);
    });
    const log = join(sb.inputs, 'trace.jsonl');
    writeFileSync(log, `${once.map((e) => JSON.stringify(e)).join('\n')}\n`);
    const scan = await moat(sb, ['audit', 'scan', '--rules', ALLOWLISTS, '-f', 'json', log]);
    assert.equal(scan.code, 0, scan.stderr);
    const scanned = (JSON.parse(scan.stdout) as AlertReport).alerts;
    assert.ok(scanned.length > 10, `${scanned.length} alerts from the scan`);
    assert.deepEqual(countsByRule(served), countsByRule(scanned));

    // every alert reached the receiver, in its final form
    assert.deepEqual(
      finalAlerts(received.map((a) => JSON.stringify(a)))
        .map((a) => `${a.id}:${a.count}`)
        .sort(),
      served.map((a) => `${a.id}:${a.count}`).sort(),
    );

    // a clean restart on the same data dir replays nothing: no alert is raised twice
    const again = join(sb.out, 'again.jsonl');
    const s2 = await startServe(sb, [...common, '--listen', '127.0.0.1:0', '-f', 'jsonl', '-o', again]);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await stop(s2.child), 0, s2.stderr());
    assert.equal(readFileSync(again, 'utf8'), '');
  });

  test('serve refuses to start without TLS or authentication, with one line', async () => {
    const noTls = await moat(sb, ['audit', 'serve', '--token-file', join(dir, 'token')]);
    assert.equal(noTls.code, 2);
    assert.match(noTls.stderr, /^moat: audit serve needs --tls-cert and --tls-key/);
    const noAuth = await moat(sb, [
      'audit',
      'serve',
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
    ]);
    assert.equal(noAuth.code, 2);
    assert.match(noAuth.stderr, /^moat: audit serve needs --token-file or --client-ca/);
    const badListen = await moat(sb, ['audit', 'serve', '--listen', 'nowhere', '--token-file', 'x']);
    assert.equal(badListen.code, 2);
    assert.match(badListen.stderr, /--listen nowhere: expected HOST:PORT or :PORT/);
  });
});

describe('moat audit coverage', () => {
  let sb: Sandbox;
  before(async () => {
    requireBuild();
    sb = await sandbox();
  });
  after(() => sb?.remove());

  test('the shipped policy covers every rule (exit 0); Falco’s leaves some blind (exit 1)', async () => {
    const ok = await moat(sb, [
      'audit',
      'coverage',
      join(REPO, 'deploy/audit/audit-policy.yaml'),
      '--rules',
      ALLOWLISTS,
    ]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /\d+ rules: (\d+) ok, 0 partial, 0 blind/);
    const falco = join(REPO, 'test/fixtures/detect/audit-policies/falco-recommended-audit-policy.yaml');
    const r = await moat(sb, ['audit', 'coverage', falco]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stdout,
      /^BLIND\s+ingress-without-tls\s+Request\s+create networking\.k8s\.io\/ingresses at Metadata$/m,
    );
    const j = await moat(sb, ['audit', 'coverage', falco, '-f', 'json']);
    const doc = JSON.parse(j.stdout) as { rules: { rule: string; verdict: string }[] };
    assert.equal(doc.rules.find((x) => x.rule === 'wildcard-role')?.verdict, 'partial');
    const missing = await moat(sb, ['audit', 'coverage', join(sb.inputs, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^moat: cannot read audit policy \S+nope\.yaml: ENOENT\n$/);
  });
});
