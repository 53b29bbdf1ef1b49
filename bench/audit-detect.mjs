// Audit-log detection end to end (issue 5): read a JSON-lines audit log, normalize, run every default
// rule, aggregate and dedup, on one core. Goal: 50,000 events/s. Baseline in the same run: JSON.parse
// alone over the same lines (already split in memory), the floor any reader pays.
//
// The generator writes a realistic mix (a real audit log is mostly the control plane talking to
// itself): kubelets getting and updating their Node and Lease, controllers listing and watching Pods,
// Endpoints and Deployments, the scheduler binding Pods, and, one event in 100, an event from the Falco
// audit fixtures (exec into pods, privileged pods, sensitive mounts, cluster-admin bindings, ...).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FIXTURES, finish, median, ROOT, removeDir, report, runs, tempDir } from './lib.mjs';

const GOAL = 50_000;
const EVENTS = 200_000;

function attacks() {
  const dir = join(FIXTURES, 'audit', 'falco-events');
  const out = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json') || f === 'index.json' || f === 'fal_01_003.json') continue;
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l.trim()) out.push(l.trim());
  }
  return out;
}

function routine(i) {
  const node = `ip-10-0-${i % 50}-${i % 200}.ec2.internal`;
  const ts = new Date(Date.UTC(2026, 4, 12, 9, 0, 0) + i * 5).toISOString();
  const base = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: ts,
    stageTimestamp: ts,
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  };
  switch (i % 8) {
    case 0:
    case 1:
      return {
        ...base,
        requestURI: `/api/v1/nodes/${node}?resourceVersion=0&timeout=10s`,
        verb: i % 2 ? 'get' : 'patch',
        user: { username: `system:node:${node}`, groups: ['system:nodes', 'system:authenticated'] },
        sourceIPs: [`10.0.${i % 50}.${i % 200}`],
        userAgent: 'kubelet/v1.30.2 (linux/amd64) kubernetes/3968350',
        objectRef: { resource: 'nodes', name: node, apiVersion: 'v1' },
      };
    case 2:
    case 3:
      return {
        ...base,
        requestURI: `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node}`,
        verb: i % 2 ? 'get' : 'update',
        user: { username: `system:node:${node}`, groups: ['system:nodes', 'system:authenticated'] },
        sourceIPs: [`10.0.${i % 50}.${i % 200}`],
        userAgent: 'kubelet/v1.30.2 (linux/amd64) kubernetes/3968350',
        objectRef: {
          resource: 'leases',
          namespace: 'kube-node-lease',
          name: node,
          apiGroup: 'coordination.k8s.io',
          apiVersion: 'v1',
        },
      };
    case 4:
    case 5: {
      const [resource, group] = [
        ['pods', ''],
        ['endpoints', ''],
        ['deployments', 'apps'],
      ][i % 3];
      return {
        ...base,
        requestURI: `/${group ? `apis/${group}/v1` : 'api/v1'}/${resource}?allowWatchBookmarks=true&watch=true`,
        verb: i % 2 ? 'list' : 'watch',
        user: { username: 'system:kube-controller-manager', groups: ['system:authenticated'] },
        sourceIPs: ['10.0.0.10'],
        userAgent: 'kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/3968350/shared-informers',
        objectRef: { resource, apiVersion: 'v1', ...(group ? { apiGroup: group } : {}) },
      };
    }
    case 6:
      return {
        ...base,
        requestURI: `/api/v1/namespaces/team-${i % 40}/pods/app-${i % 1000}/binding`,
        verb: 'create',
        user: { username: 'system:kube-scheduler', groups: ['system:authenticated'] },
        sourceIPs: ['10.0.0.11'],
        userAgent: 'kube-scheduler/v1.30.2 (linux/amd64) kubernetes/3968350/scheduler',
        objectRef: {
          resource: 'pods',
          namespace: `team-${i % 40}`,
          name: `app-${i % 1000}`,
          subresource: 'binding',
          apiVersion: 'v1',
        },
        responseStatus: { metadata: {}, code: 201 },
      };
    default:
      return {
        ...base,
        requestURI: `/apis/apps/v1/namespaces/team-${i % 40}/deployments/app-${i % 1000}/status`,
        verb: 'update',
        user: {
          username: 'system:serviceaccount:kube-system:deployment-controller',
          groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
        },
        sourceIPs: ['10.0.0.10'],
        userAgent:
          'kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/3968350/system:serviceaccount:kube-system:deployment-controller',
        objectRef: {
          resource: 'deployments',
          namespace: `team-${i % 40}`,
          name: `app-${i % 1000}`,
          subresource: 'status',
          apiGroup: 'apps',
          apiVersion: 'v1',
        },
      };
  }
}

/** Writes EVENTS lines: routine traffic with one fixture attack event every 100. */
export function writeAuditLog(file, events = EVENTS) {
  const bad = attacks();
  const lines = [];
  for (let i = 0; i < events; i++)
    lines.push(i % 100 === 99 ? bad[((i / 100) % bad.length) | 0] : JSON.stringify(routine(i)));
  const text = `${lines.join('\n')}\n`;
  writeFileSync(file, text);
  return { lines, bytes: Buffer.byteLength(text) };
}

export async function auditDetect({ n = runs(5) } = {}) {
  const dist = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);
  const { readAuditBatches } = await dist('detect/ingest/index.js');
  const { loadDefaultRules } = await dist('detect/rules/load.js');
  const { createDetector } = await dist('detect/engine/detector.js');
  const dir = tempDir('moat-bench-audit-');
  try {
    const file = join(dir, 'audit.log');
    const { lines, bytes } = writeAuditLog(file);
    const rules = loadDefaultRules();
    if (rules.errors.length) throw new Error(`rule load errors: ${JSON.stringify(rules.errors.slice(0, 3))}`);
    const parseOnly = () => {
      const t0 = performance.now();
      for (const l of lines) JSON.parse(l);
      return performance.now() - t0;
    };
    let alerts = 0;
    const detect = async () => {
      const detector = createDetector(rules);
      const t0 = performance.now();
      let events = 0;
      for await (const batch of readAuditBatches(file)) {
        for (const e of batch) detector.process(e);
        events += batch.length;
      }
      alerts = detector.flush().length;
      if (events !== lines.length) throw new Error(`read ${events} of ${lines.length} events`);
      return performance.now() - t0;
    };
    await detect();
    parseOnly();
    const p = [];
    const d = [];
    for (let i = 0; i < n; i++) {
      p.push(parseOnly());
      d.push(await detect());
    }
    const detectMs = median(d);
    const parseMs = median(p);
    const eps = lines.length / (detectMs / 1000);
    return report(
      `audit detect (${lines.length.toLocaleString('en')} events, ${(bytes / 1048576).toFixed(0)} MB, ${rules.rules.length} rules)`,
      {
        events_per_s: eps,
        detect_ms: detectMs,
        json_parse_ms: parseMs,
        ratio: detectMs / parseMs,
        alerts,
        runs: n,
      },
      {
        text: `>= ${GOAL} events/s on one core`,
        check: () => eps >= GOAL,
        headline: `${Math.round(eps).toLocaleString('en')} events/s (${(detectMs / parseMs).toFixed(2)}x JSON.parse)`,
      },
    );
  } finally {
    removeDir(dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) finish([await auditDetect()]);
