/**
 * The unchanged-UPDATE rule (src/policy/update.ts): which UPDATEs the admission door allows without
 * evaluating pod-spec checks, as Pod Security admission skips insignificant pod updates. Built from the
 * Gatekeeper library's UPDATE samples and their sibling CREATE samples.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { load } from 'js-yaml';
import { isObject } from '../../src/policy/k8s.js';
import type { K8sObject } from '../../src/policy/types.js';
import { deepEqual, unchangedPodSpecUpdate } from '../../src/policy/update.js';

const dir = new URL('../fixtures/gatekeeper/', import.meta.url);

/** Every `update.yaml` AdmissionReview with the Pod it wraps and the other Pods of its sample folder. */
function updateSamples(): Array<{ file: string; object: K8sObject; siblings: K8sObject[] }> {
  const out = [];
  for (const policy of readdirSync(dir, { withFileTypes: true })) {
    if (!policy.isDirectory()) continue;
    for (const sample of readdirSync(new URL(`${policy.name}/`, dir), { withFileTypes: true })) {
      if (!sample.isDirectory()) continue;
      const base = new URL(`${policy.name}/${sample.name}/`, dir);
      const files = readdirSync(base).filter((f) => f.endsWith('.yaml'));
      const read = (f: string) => load(readFileSync(new URL(f, base), 'utf8')) as K8sObject;
      for (const f of files.filter((f) => f.endsWith('update.yaml'))) {
        const review = read(f);
        const req = isObject(review.request) ? review.request : {};
        if (req.operation !== 'UPDATE' || !isObject(req.object) || req.object.kind !== 'Pod') continue;
        const siblings = files
          .filter((s) => s !== f)
          .map(read)
          .filter((o) => o?.kind === 'Pod');
        out.push({ file: `${policy.name}/${sample.name}/${f}`, object: req.object as K8sObject, siblings });
      }
    }
  }
  return out;
}

function deployment(spec: Record<string, unknown>, annotations: Record<string, string> = {}): K8sObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'apps' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' }, annotations }, spec },
    },
  };
}

const podSpec = () => ({
  containers: [{ name: 'web', image: 'nginx:1.27', securityContext: { privileged: true } }],
});

describe('unchangedPodSpecUpdate', () => {
  const samples = updateSamples();

  test('the Gatekeeper UPDATE samples are unchanged against themselves, with or without metadata edits', () => {
    assert.ok(samples.length >= 10, `found ${samples.length} update samples`);
    for (const { file, object } of samples) {
      assert.ok(unchangedPodSpecUpdate(object, structuredClone(object)), file);
      const relabelled = structuredClone(object);
      relabelled.metadata = { ...relabelled.metadata, labels: { team: 'x' }, annotations: { note: 'y' } };
      assert.ok(
        unchangedPodSpecUpdate(relabelled, object),
        `${file}: labels and other annotations may change`,
      );
    }
  });

  test('an UPDATE from a different pod spec is evaluated', () => {
    let compared = 0;
    for (const { file, object, siblings } of samples) {
      for (const old of siblings) {
        if (deepEqual(old.spec, object.spec)) continue;
        compared++;
        assert.equal(unchangedPodSpecUpdate(object, old), false, `${file} from ${old.metadata?.name}`);
      }
    }
    assert.ok(compared > 0);
  });

  test('without the old object a Pod counts as unchanged (its spec is immutable), a template owner does not', () => {
    for (const { file, object } of samples) assert.ok(unchangedPodSpecUpdate(object, undefined), file);
    assert.equal(unchangedPodSpecUpdate(deployment(podSpec()), undefined), false);
  });

  test('pod changes PSA treats as significant', () => {
    const base: K8sObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: podSpec() };
    const changed = (f: (p: K8sObject) => void) => {
      const p = structuredClone(base);
      f(p);
      return unchangedPodSpecUpdate(p, base);
    };
    const containers = (p: K8sObject) =>
      (p.spec as { containers: Array<Record<string, unknown>> }).containers;
    assert.equal(
      changed((p) => {
        (containers(p)[0] as Record<string, unknown>).image = 'nginx:1.28';
      }),
      false,
    );
    assert.equal(
      changed((p) => {
        p.metadata = {
          ...p.metadata,
          annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' },
        };
      }),
      false,
    );
    assert.equal(
      changed((p) => {
        p.metadata = {
          ...p.metadata,
          annotations: { 'container.apparmor.security.beta.kubernetes.io/web': 'unconfined' },
        };
      }),
      false,
    );
    assert.equal(
      changed((p) => {
        Object.assign(p.spec as object, { ephemeralContainers: [{ name: 'debug', image: 'busybox' }] });
      }),
      false,
    );
    assert.equal(
      changed((p) => {
        p.status = { phase: 'Running' };
      }),
      true,
    );
  });

  test('pod-template owners: the template decides, not the rest of the object', () => {
    const old = deployment(podSpec());
    const scaled = structuredClone(old);
    (scaled.spec as Record<string, unknown>).replicas = 5;
    assert.ok(unchangedPodSpecUpdate(scaled, old));
    // key order does not matter
    const reordered = deployment({
      containers: [{ securityContext: { privileged: true }, image: 'nginx:1.27', name: 'web' }],
    });
    assert.ok(unchangedPodSpecUpdate(reordered, old));
    const relabelled = deployment(podSpec(), { 'prometheus.io/scrape': 'true' });
    assert.ok(unchangedPodSpecUpdate(relabelled, old));
    assert.equal(unchangedPodSpecUpdate(deployment({ ...podSpec(), hostNetwork: true }), old), false);
    assert.equal(
      unchangedPodSpecUpdate(
        deployment(podSpec(), { 'container.apparmor.security.beta.kubernetes.io/web': 'unconfined' }),
        old,
      ),
      false,
    );
  });

  test('objects without a pod spec, and kind changes, are always evaluated', () => {
    const svc: K8sObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's' },
      spec: { ports: [] },
    };
    assert.equal(unchangedPodSpecUpdate(svc, structuredClone(svc)), false);
    const d = deployment(podSpec());
    assert.equal(unchangedPodSpecUpdate(d, { ...structuredClone(d), kind: 'StatefulSet' }), false);
  });
});
