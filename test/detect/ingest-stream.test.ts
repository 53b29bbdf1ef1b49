// Streams a large generated audit log (200 MB by default; MOAT_INGEST_TEST_MB overrides) with bounded
// memory, and reports throughput next to JSON.parse alone on the same bytes (printed as diagnostics).
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { newIngestStats, readAuditBatches } from '../../src/detect/ingest/index.js';

const FALCO = join(import.meta.dirname, '..', 'fixtures', 'audit', 'falco-events');
const MB = Number(process.env.MOAT_INGEST_TEST_MB ?? 200);
const tmp = mkdtempSync(join(tmpdir(), 'moat-ingest-big-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * A block of a realistic mix: mostly routine Metadata-level traffic (kubelets and controllers
 * get/list/watch/update, the bulk of a real audit log), with the Falco fixtures' events among them.
 */
function block(): { text: string; events: number } {
  const attacks: string[] = [];
  for (const f of readdirSync(FALCO).sort()) {
    if (!f.endsWith('.json') || f === 'index.json' || f === 'fal_01_003.json') continue;
    for (const l of readFileSync(join(FALCO, f), 'utf8').split('\n')) if (l.trim()) attacks.push(l.trim());
  }
  const routine = (i: number) => {
    const verb = ['get', 'list', 'watch', 'update'][i % 4]!;
    const node = `ip-10-0-${i % 50}-${i % 200}.ec2.internal`;
    return JSON.stringify({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      stage: 'ResponseComplete',
      requestURI: `/api/v1/nodes/${node}?resourceVersion=0&timeout=10s`,
      verb,
      user: { username: `system:node:${node}`, groups: ['system:nodes', 'system:authenticated'] },
      sourceIPs: [`10.0.${i % 50}.${i % 200}`],
      userAgent: 'kubelet/v1.30.2 (linux/amd64) kubernetes/3968350',
      objectRef: { resource: 'nodes', name: node, apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 200 },
      requestReceivedTimestamp: '2026-05-12T09:14:03.114210Z',
      stageTimestamp: '2026-05-12T09:14:03.131877Z',
      annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    });
  };
  const lines: string[] = [];
  for (let i = 0; i < 2000; i++) {
    lines.push(routine(i));
    if (i % 50 === 0) lines.push(attacks[(i / 50) % attacks.length]!);
  }
  return { text: `${lines.join('\n')}\n`, events: lines.length };
}

it(`streams a ${MB} MB audit log with bounded memory`, async (t) => {
  const { text, events: perBlock } = block();
  const bytes = Buffer.from(text);
  const file = join(tmp, 'audit.log');
  const fd = openSync(file, 'w');
  const blocks = Math.ceil((MB * 1024 * 1024) / bytes.length);
  for (let i = 0; i < blocks; i++) writeSync(fd, bytes);
  closeSync(fd);

  // JSON.parse alone on one block's lines, already split (the floor any reader pays)
  const lines = text.split('\n').filter(Boolean);
  let t0 = performance.now();
  const reps = 5;
  for (let r = 0; r < reps; r++) for (const l of lines) JSON.parse(l);
  const parseOnly = (reps * lines.length) / ((performance.now() - t0) / 1000);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const stats = newIngestStats();
  let n = 0;
  t0 = performance.now();
  for await (const batch of readAuditBatches(file, { stats })) {
    n += batch.length;
    const rss = process.memoryUsage().rss;
    if (rss > peak) peak = rss;
  }
  const secs = (performance.now() - t0) / 1000;
  const fileEventsPerSec = n / secs;
  t.diagnostic(`JSON.parse alone: ${Math.round(parseOnly)} events/s`);
  t.diagnostic(
    `readAuditBatches from file: ${Math.round(fileEventsPerSec)} events/s, ${Math.round((bytes.length * blocks) / 1048576 / secs)} MB/s (${(fileEventsPerSec / parseOnly).toFixed(2)} of JSON.parse), peak RSS +${Math.round((peak - rss0) / 1048576)} MB`,
  );
  assert.equal(n, perBlock * blocks);
  assert.equal(stats.malformed, 0);
  // the file is MB megabytes; memory must not follow it
  assert.ok(peak - rss0 < 128 * 1024 * 1024, `RSS grew by ${Math.round((peak - rss0) / 1048576)} MB`);
});
