// kill -9 of the audit webhook under load: every batch it acknowledged must be in the WAL after a
// restart, batches in flight at the kill are retried (as the API server does) and stored once, and
// the consumer sees every event at least once.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { generateCa, issueServerCertificate } from '../../src/admission/certs.js';
import { eventKey, generateAuditWebhookToken, storedEventKeys } from '../../src/detect/webhook/index.js';
import { setLogLevel } from '../../src/log.js';

setLogLevel('silent');
const FALCO = join(import.meta.dirname, '..', 'fixtures', 'audit', 'falco-events');
const CHILD = join(import.meta.dirname, 'webhook-child.ts');
const dir = mkdtempSync(join(tmpdir(), 'moat-webhook-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ca = generateCa('moat crash test CA');
const cert = issueServerCertificate(ca, ['localhost']);
const token = generateAuditWebhookToken();
const consumedFile = join(dir, 'consumed');

function startChild(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      WEBHOOK_DIR: join(dir, 'data'),
      WEBHOOK_CERT: cert.cert,
      WEBHOOK_KEY: cert.key,
      WEBHOOK_TOKEN: token,
      WEBHOOK_CONSUMED: consumedFile,
    },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, port: (JSON.parse(out.slice(0, nl)) as { port: number }).port });
    });
    child.once('exit', (code) => reject(new Error(`webhook child exited (${code}) before listening`)));
  });
}

function post(port: number, agent: Agent, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/audit',
        method: 'POST',
        agent,
        ca: ca.cert,
        servername: 'localhost',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    // a connection cut by the kill is a failed request, as for the API server
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

it('loses no acknowledged event and stores none twice across kill -9 and restart', async (t) => {
  const template = JSON.parse(
    readFileSync(join(FALCO, 'create_configmap.json'), 'utf8').split('\n')[0] as string,
  );
  const batches = Array.from({ length: 80 }, () =>
    Array.from(
      { length: 50 },
      () => ({ ...template, auditID: randomUUID() }) as { auditID: string; stage: string },
    ),
  );
  const bodies = batches.map((items) =>
    JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items }),
  );
  const acked = new Set<number>();

  // first life: six concurrent senders; killed once 20 batches are acknowledged, with others in flight
  const first = await startChild();
  const agent = new Agent({ keepAlive: true, maxSockets: 6 });
  let next = 0;
  let killed = false;
  const exited = new Promise((r) => first.child.once('exit', r));
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (!killed && next < bodies.length) {
        const i = next++;
        const status = await post(first.port, agent, bodies[i] as string);
        if (status === 200) acked.add(i);
        if (acked.size >= 20 && !killed) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    }),
  );
  await exited;
  agent.destroy();
  const ackedBeforeKill = new Set(acked);
  assert.ok(ackedBeforeKill.size >= 20 && ackedBeforeKill.size < bodies.length);

  // second life on the same data dir: everything not acknowledged is sent again, like the API server's retry
  const second = await startChild();
  const agent2 = new Agent({ keepAlive: true, maxSockets: 4 });
  const retry = bodies.map((_, i) => i).filter((i) => !acked.has(i));
  // and a few acknowledged ones too (a response lost on the wire looks the same to the sender)
  retry.push(...[...ackedBeforeKill].slice(0, 3));
  const statuses = await Promise.all(retry.map((i) => post(second.port, agent2, bodies[i] as string)));
  agent2.destroy();
  assert.deepEqual(
    statuses.filter((s) => s !== 200),
    [],
  );
  // a clean stop halts the consumer where it is (the rest is replayed at the next start): let it catch up
  const want = batches.flat().map((e) => `${e.auditID}/${e.stage}`);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const seen = existsSync(consumedFile)
      ? new Set(readFileSync(consumedFile, 'utf8').split('\n'))
      : new Set();
    if (want.every((k) => seen.has(k))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const done = new Promise((r) => second.child.once('exit', r));
  second.child.kill('SIGTERM');
  await done;

  // the WAL holds every event exactly once
  const { counts: stored } = await storedEventKeys(join(dir, 'data', 'audit-wal'));
  const keyOf = (e: { auditID: string; stage: string }) => eventKey(e.auditID, e.stage);
  for (const i of ackedBeforeKill) {
    for (const e of batches[i]!) assert.equal(stored.get(keyOf(e)), 1, `acknowledged batch ${i} stored once`);
  }
  const all = batches.flat();
  assert.equal(stored.size, all.length);
  assert.ok(
    [...stored.values()].every((n) => n === 1),
    'no event stored twice',
  );

  // the consumer saw every event, at least once (replay after the kill may repeat some)
  assert.ok(existsSync(consumedFile));
  const lines = readFileSync(consumedFile, 'utf8').trim().split('\n');
  const seen = new Set(lines);
  for (const e of all) assert.ok(seen.has(`${e.auditID}/${e.stage}`));
  t.diagnostic(
    `acknowledged before the kill ${ackedBeforeKill.size} of ${bodies.length} batches; resent ${retry.length}; ` +
      `consumer calls repeated ${lines.length - seen.size} events`,
  );
});
