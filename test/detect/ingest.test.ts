// Normalization and cloud-export recognition over the Falco fixtures (test/fixtures/audit).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AuditEvent } from '../../src/detect/event.js';
import {
  aksClusterFromResourceId,
  decodeAuditText,
  eksClusterFromLogGroup,
  newIngestStats,
  readAuditBatches,
  readAuditEvents,
  splitConcatenated,
} from '../../src/detect/ingest/index.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'audit');
const FALCO = join(FIXTURES, 'falco-events');
const CLOUD = join(FIXTURES, 'cloud');
const index = JSON.parse(readFileSync(join(FALCO, 'index.json'), 'utf8')) as {
  fixtures: Record<string, { events: number; note?: string }>;
};
// README: fal_01_003.json is deliberately not an audit event and must be rejected
const NOT_AN_EVENT = 'fal_01_003.json';
const falcoFiles = readdirSync(FALCO)
  .filter((f) => f.endsWith('.json') && f !== 'index.json')
  .sort();

async function collect(input: string | string[], opts: Parameters<typeof readAuditEvents>[1] = {}) {
  const stats = newIngestStats();
  const events: AuditEvent[] = [];
  for await (const e of readAuditEvents(input, { ...opts, stats })) events.push(e);
  return { events, stats };
}

function withoutSource(events: AuditEvent[]): unknown[] {
  return events.map(({ source: _s, ...rest }) => rest);
}

describe('falco fixtures', () => {
  it('the index lists exactly the fixture files', () => {
    assert.deepEqual(Object.keys(index.fixtures).sort(), falcoFiles);
  });

  for (const file of falcoFiles) {
    it(`${file} yields its indexed event count`, async () => {
      const { events, stats } = await collect(join(FALCO, file));
      const expected = index.fixtures[file]!.events;
      if (file === NOT_AN_EVENT) {
        assert.equal(events.length, 0);
        assert.equal(stats.malformed, expected);
        assert.match(stats.samples[0]!.reason, /not an audit event/);
        assert.equal(stats.samples[0]!.line, 1);
        return;
      }
      assert.equal(events.length, expected);
      assert.equal(stats.malformed, 0);
      for (const [i, e] of events.entries()) {
        assert.equal(e.source?.file, join(FALCO, file));
        assert.equal(e.source?.line, i + 1);
        assert.equal(e.source?.format, 'k8s');
        assert.equal(typeof e.auditID, 'string');
        assert.ok(e.stageTimestamp && e.requestReceivedTimestamp);
      }
    });
  }
});

/** Every event of the Falco fixtures, in file-name order (what cloud/make.mjs wraps). */
async function falcoEvents(): Promise<AuditEvent[]> {
  const files = falcoFiles.filter((f) => f !== NOT_AN_EVENT).map((f) => join(FALCO, f));
  return (await collect(files)).events;
}

describe('old API versions', () => {
  const v1beta1 = readFileSync(join(FALCO, 'create_nginx_pod_privileged.json'), 'utf8').trim();
  const raw = JSON.parse(v1beta1) as Record<string, unknown>;

  it('v1beta1 without micro-time stage fields takes timestamp and metadata.creationTimestamp', () => {
    assert.equal(raw.apiVersion, 'audit.k8s.io/v1beta1');
    const old = { ...raw };
    delete old.requestReceivedTimestamp;
    delete old.stageTimestamp;
    const { events, stats } = decodeAuditText(JSON.stringify(old));
    assert.equal(stats.malformed, 0);
    assert.equal(events[0]!.requestReceivedTimestamp, raw.timestamp);
    assert.equal(
      events[0]!.stageTimestamp,
      (raw.metadata as { creationTimestamp: string }).creationTimestamp,
    );
  });

  it('v1beta1 keeps its own micro-time fields when present', () => {
    const { events } = decodeAuditText(v1beta1);
    assert.equal(events[0]!.requestReceivedTimestamp, raw.requestReceivedTimestamp);
    assert.equal(events[0]!.stageTimestamp, raw.stageTimestamp);
  });

  it('v1alpha1 objectRef.apiVersion "group/version" is split into apiGroup and apiVersion', () => {
    const line = readFileSync(join(FALCO, 'create_clusterrole.json'), 'utf8').trim();
    const ev = JSON.parse(line) as { objectRef: { apiGroup: string; apiVersion: string } };
    const { apiGroup, apiVersion } = ev.objectRef;
    const old = {
      ...ev,
      apiVersion: 'audit.k8s.io/v1alpha1',
      objectRef: { ...ev.objectRef, apiGroup: undefined, apiVersion: `${apiGroup}/${apiVersion}` },
    };
    const { events } = decodeAuditText(JSON.stringify(old));
    assert.equal(events[0]!.objectRef?.apiGroup, apiGroup);
    assert.equal(events[0]!.objectRef?.apiVersion, apiVersion);
  });

  it('an EventList batch yields its items, and a non-Event item is counted', () => {
    const lines = readFileSync(join(FALCO, 'create_configmap_sensitive_values.json'), 'utf8')
      .trim()
      .split('\n');
    const items = [...lines.map((l) => JSON.parse(l)), { kind: 'Pod' }];
    const body = JSON.stringify(
      { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items },
      null,
      1,
    );
    const { events, stats } = decodeAuditText(body);
    assert.equal(events.length, lines.length);
    assert.equal(stats.malformed, 1);
    assert.deepEqual(
      events.map((e) => e.auditID),
      lines.map((l) => (JSON.parse(l) as AuditEvent).auditID),
    );
  });
});

describe('cloud exports', () => {
  const wrappers: { file: string; format: string; cluster: string | undefined; skipped: number }[] = [
    { file: 'eks-filter-log-events.json', format: 'eks-cloudwatch', cluster: undefined, skipped: 1 },
    { file: 'eks-cloudwatch.jsonl', format: 'eks-cloudwatch', cluster: 'prod-east', skipped: 0 },
    { file: 'eks-subscription.jsonl', format: 'eks-subscription', cluster: 'prod-east', skipped: 1 },
    { file: 'eks-lambda.jsonl', format: 'eks-subscription', cluster: 'prod-east', skipped: 1 },
    { file: 'eks-firehose-s3.gz', format: 'eks-subscription', cluster: 'prod-east', skipped: 1 },
    { file: 'eks-s3-export.log.gz', format: 'eks-s3-export', cluster: undefined, skipped: 0 },
    { file: 'aks-eventhub.jsonl', format: 'aks', cluster: 'prod-east', skipped: 1 },
    { file: 'aks-storage.jsonl', format: 'aks', cluster: 'prod-east', skipped: 0 },
  ];
  for (const w of wrappers) {
    it(`${w.file} yields the same events as the raw fixtures`, async () => {
      const base = await falcoEvents();
      const { events, stats } = await collect(join(CLOUD, w.file));
      assert.equal(stats.malformed, 0, JSON.stringify(stats.samples));
      assert.equal(stats.skipped, w.skipped);
      assert.deepEqual(withoutSource(events), withoutSource(base));
      for (const e of events) {
        assert.equal(e.source?.format, w.format);
        assert.equal(e.source?.cluster, w.cluster);
      }
    });
  }

  it('a caller-supplied cluster fills formats that carry none', async () => {
    const { events } = await collect(join(CLOUD, 'eks-filter-log-events.json'), { cluster: 'given' });
    assert.ok(events.length > 0 && events.every((e) => e.source?.cluster === 'given'));
  });

  it('GKE LogEntries map verb, object, user, source IP and cluster of the original events', async () => {
    // in order: make.mjs wraps the events that have an objectRef (two fixtures share an auditID)
    const base = (await falcoEvents()).filter((e) => e.objectRef);
    const { events, stats } = await collect(join(CLOUD, 'gke-logentries.jsonl'));
    assert.equal(stats.malformed, 0);
    assert.equal(events.length, base.length);
    for (const [i, g] of events.entries()) {
      const o = base[i]!;
      assert.equal(g.auditID, o.auditID);
      assert.equal(g.verb, o.verb);
      assert.equal(g.objectRef?.resource, o.objectRef?.resource);
      assert.equal(g.objectRef?.name, o.objectRef?.name);
      assert.equal(g.objectRef?.subresource, o.objectRef?.subresource);
      assert.equal(g.objectRef?.apiGroup, o.objectRef?.apiGroup ?? '');
      if (o.objectRef?.resource !== 'namespaces')
        assert.equal(g.objectRef?.namespace, o.objectRef?.namespace);
      assert.equal(g.user.username, o.user.username);
      assert.equal(g.sourceIPs?.[0], o.sourceIPs?.[0]);
      assert.equal(
        g.responseStatus?.code !== undefined && g.responseStatus.code < 400,
        (o.responseStatus?.code ?? 200) < 400,
      );
      assert.equal(g.source?.cluster, 'prod-east');
      assert.equal(g.source?.format, 'gke');
      assert.ok(g.requestURI.startsWith(g.objectRef?.apiGroup ? '/apis/' : '/api/'));
    }
  });

  it('a GKE entry in a Pub/Sub push envelope is unwrapped', async () => {
    const first = readFileSync(join(CLOUD, 'gke-logentries.jsonl'), 'utf8').split('\n')[0]!;
    const { events } = await collect(join(CLOUD, 'gke-pubsub-push.json'));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.auditID, (JSON.parse(first) as { operation: { id: string } }).operation.id);
  });

  it('back-to-back JSON objects split only at top level', () => {
    assert.deepEqual(splitConcatenated('{"a":"}{"}{"b":[{}]}'), ['{"a":"}{"}', '{"b":[{}]}']);
    assert.equal(splitConcatenated('{"a":1}'), undefined);
    assert.equal(splitConcatenated('{"a":1} x {"b":2}'), undefined);
  });

  it('cluster names come out of EKS log groups and AKS resource ids', () => {
    assert.equal(eksClusterFromLogGroup('/aws/eks/my-cluster/cluster'), 'my-cluster');
    assert.equal(eksClusterFromLogGroup('/aws/lambda/x'), undefined);
    assert.equal(
      aksClusterFromResourceId(
        '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/Aks1',
      ),
      'aks1',
    );
    assert.equal(aksClusterFromResourceId('/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG'), undefined);
  });

  it('batches cover every event once', async () => {
    let n = 0;
    for await (const b of readAuditBatches(join(CLOUD, 'aks-eventhub.jsonl'))) n += b.length;
    assert.equal(n, (await falcoEvents()).length);
  });
});
