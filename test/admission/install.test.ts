// biome-ignore-all lint/suspicious/noExplicitAny: these tests read manifests and reviews as untyped JSON
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { loadAll } from 'js-yaml';
import {
  installManifest,
  renderManifest,
  UNREGISTERED_KINDS,
  webhookRules,
} from '../../src/admission/install.js';
import { AdmissionReviewer } from '../../src/admission/review.js';
import { startAdmissionServer } from '../../src/admission/server.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { podSpecOf } from '../../src/policy/k8s.js';
import type { K8sObject } from '../../src/policy/types.js';
import { admissionReview } from './helpers.js';

const engine = new PolicyEngine();
const kinds = new AdmissionReviewer(engine, {
  bypass: { namespace: 'moat-system', serviceAccount: '' },
}).evaluatedKinds();

/** The manifest as kubectl would read it: rendered to YAML and parsed back. */
function rendered(opts: Partial<Parameters<typeof installManifest>[0]> = {}): K8sObject[] {
  const m = installManifest({ kinds, ...opts });
  return loadAll(renderManifest(m.objects, 'header line')) as K8sObject[];
}

function one(objects: K8sObject[], kind: string): any {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `${kind}: ${found.length} objects`);
  return found[0];
}

describe('moat admission install', () => {
  const objects = rendered();

  test('the objects a webhook needs, in apply order', () => {
    assert.deepEqual(
      objects.map((o) => o.kind),
      [
        'Namespace',
        'ServiceAccount',
        'Secret',
        'Deployment',
        'Service',
        'PodDisruptionBudget',
        'NetworkPolicy',
        'ValidatingWebhookConfiguration',
      ],
    );
    for (const o of objects) {
      if (o.kind !== 'Namespace' && o.kind !== 'ValidatingWebhookConfiguration') {
        assert.equal(o.metadata?.namespace, 'moat-system', o.kind);
      }
    }
  });

  test('it passes every posture check that needs no configuration', () => {
    const assessment = engine.assess(
      objects.map((object, document) => ({ object, source: { file: 'install.yaml', document } })),
    );
    assert.ok(engine.active.length > 30, `${engine.active.length} checks`);
    assert.deepEqual(
      assessment.results.map((r) => `${r.checkId} ${r.resource.kind}/${r.resource.name}: ${r.message}`),
      [],
    );
    assert.deepEqual(assessment.errors, []);
    // the Deployment was really looked at: the same manifest with one hardening setting undone fails
    assert.equal(assessment.evaluated.Deployment, 1);
    const weakened = structuredClone(objects);
    const c = (one(weakened, 'Deployment') as any).spec.template.spec.containers[0];
    c.securityContext.allowPrivilegeEscalation = true;
    const worse = engine.assess(weakened.map((object) => ({ object, source: {} })));
    assert.ok(worse.results.some((r) => r.checkId === 'pss.restricted.allowPrivilegeEscalation'));
  });

  test('Deployment: two replicas, limits, HTTPS probes, non-root, read-only root, no token', () => {
    const d = one(objects, 'Deployment');
    assert.equal(d.spec.replicas, 2);
    const ref = podSpecOf(d);
    assert.ok(ref);
    const spec = ref.spec as any;
    assert.equal(spec.automountServiceAccountToken, false);
    assert.equal(spec.securityContext.runAsNonRoot, true);
    assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.ok(spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.length > 0);
    const [c] = spec.containers;
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory);
    assert.ok(c.resources.limits.cpu && c.resources.limits.memory);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.ok(c.securityContext.runAsUser > 0);
    const port = c.ports[0];
    for (const [probe, path] of [
      [c.livenessProbe, '/healthz'],
      [c.readinessProbe, '/readyz'],
    ]) {
      assert.deepEqual(probe.httpGet, { path, port: port.name, scheme: 'HTTPS' });
    }
    assert.ok(c.args.includes(`--port=${port.containerPort}`));
    const svc = one(objects, 'Service');
    assert.equal(svc.spec.ports[0].targetPort, port.name);
    assert.deepEqual(svc.spec.selector, d.spec.selector.matchLabels);
    assert.deepEqual(one(objects, 'PodDisruptionBudget').spec, {
      minAvailable: 1,
      selector: d.spec.selector,
    });
    const np = one(objects, 'NetworkPolicy');
    assert.deepEqual(np.spec.ingress, [{ ports: [{ protocol: 'TCP', port: port.containerPort }] }]);
    assert.deepEqual(np.spec.egress, []);
  });

  test('webhook configuration: caBundle, sideEffects, timeout, failurePolicy, selector, rules', () => {
    const w = one(objects, 'ValidatingWebhookConfiguration').webhooks[0];
    assert.equal(w.name.split('.').length >= 3, true);
    assert.deepEqual(w.admissionReviewVersions, ['v1']);
    assert.equal(w.sideEffects, 'None');
    assert.equal(w.failurePolicy, 'Ignore');
    assert.equal(w.matchPolicy, 'Equivalent');
    assert.equal(w.timeoutSeconds, 5);
    assert.deepEqual(w.namespaceSelector.matchExpressions, [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['moat-system', 'kube-system'] },
    ]);
    const svc = one(objects, 'Service');
    assert.deepEqual(w.clientConfig.service, {
      name: svc.metadata.name,
      namespace: 'moat-system',
      path: '/validate',
      port: 443,
    });
    // every kind a check evaluates is routed here, except the high-churn ones
    const resources = new Set(w.rules.flatMap((r: any) => r.resources));
    for (const k of ['pods', 'pods/ephemeralcontainers', 'deployments', 'cronjobs', 'roles', 'services']) {
      assert.ok(resources.has(k), k);
    }
    for (const r of w.rules) assert.deepEqual(r.operations, ['CREATE', 'UPDATE']);
    const { unknown } = webhookRules(kinds);
    const routed = [...kinds].filter((k) => !UNREGISTERED_KINDS.has(k) && !unknown.includes(k));
    assert.equal(
      routed.length + unknown.length + [...kinds].filter((k) => UNREGISTERED_KINDS.has(k)).length,
      kinds.size,
    );
    assert.deepEqual(unknown, []);
    assert.ok(!resources.has('leases'));
  });

  test('the CA in caBundle verifies the Secret certificate for the Service name, and the webhook answers with it', async () => {
    const secret = one(objects, 'Secret');
    const w = one(objects, 'ValidatingWebhookConfiguration').webhooks[0];
    const caPem = Buffer.from(w.clientConfig.caBundle, 'base64').toString();
    const certPem = Buffer.from(secret.data['tls.crt'], 'base64').toString();
    const keyPem = Buffer.from(secret.data['tls.key'], 'base64').toString();
    assert.equal(Buffer.from(secret.data['ca.crt'], 'base64').toString(), caPem);
    assert.equal(secret.type, 'kubernetes.io/tls');
    const ca = new X509Certificate(caPem);
    const leaf = new X509Certificate(certPem);
    assert.ok(leaf.verify(ca.publicKey));
    const { name, namespace, path } = w.clientConfig.service;
    const host = `${name}.${namespace}.svc`;
    assert.equal(leaf.checkHost(host), host);
    // what the API server does: TLS to <svc>.<ns>.svc trusting caBundle only, POST an AdmissionReview to path
    const server = await startAdmissionServer({
      engine,
      tls: { cert: certPem, key: keyPem },
      port: 0,
      host: '127.0.0.1',
      bypass: { namespace, serviceAccount: name },
    });
    try {
      const res = await fetchReview(server.port, caPem, host, path);
      assert.equal(res.response.uid, 'install-e2e');
      assert.equal(res.response.allowed, true);
    } finally {
      await server.close();
    }
  });

  test('options: namespace, image by digest, failure policy, timeout, excluded namespaces', () => {
    const image = 'registry.example.com/moat@sha256:'.padEnd(97, 'a');
    const o = rendered({
      namespace: 'sec',
      image,
      failurePolicy: 'Fail',
      timeoutSeconds: 10,
      excludedNamespaces: ['kube-system', 'istio-system'],
    });
    const d = one(o, 'Deployment');
    assert.equal(d.metadata.namespace, 'sec');
    assert.equal(d.spec.template.spec.containers[0].image, image);
    assert.ok(
      d.spec.template.spec.containers[0].args.includes('--exclude-namespaces=kube-system,istio-system'),
    );
    const w = one(o, 'ValidatingWebhookConfiguration').webhooks[0];
    assert.equal(w.failurePolicy, 'Fail');
    assert.equal(w.timeoutSeconds, 10);
    assert.deepEqual(w.namespaceSelector.matchExpressions[0].values, ['sec', 'kube-system', 'istio-system']);
    assert.equal(w.clientConfig.service.namespace, 'sec');
    const leaf = new X509Certificate(Buffer.from(one(o, 'Secret').data['tls.crt'], 'base64'));
    assert.ok(leaf.subjectAltName?.includes('DNS:moat-admission.sec.svc'));
  });

  test('policy files travel in a ConfigMap mounted where serve reads them', () => {
    const o = rendered({
      serveArgs: ['--policy-config=/etc/moat/policy/moat-policy.yaml', '--policy=/etc/moat/policy/custom'],
      policyFiles: [
        { path: 'moat-policy.yaml', content: 'checks:\n  pss.*: deny\n' },
        { path: 'custom/000-vap.yaml', content: 'kind: ValidatingAdmissionPolicy\n' },
      ],
    });
    const cm = one(o, 'ConfigMap');
    const d = one(o, 'Deployment').spec.template.spec;
    const vol = d.volumes.find((v: any) => v.configMap);
    assert.equal(vol.configMap.name, cm.metadata.name);
    for (const item of vol.configMap.items) assert.ok(cm.data[item.key] !== undefined, item.key);
    assert.deepEqual(
      vol.configMap.items.map((i: any) => i.path),
      ['moat-policy.yaml', 'custom/000-vap.yaml'],
    );
    const mount = d.containers[0].volumeMounts.find((m: any) => m.name === vol.name);
    assert.equal(mount.mountPath, '/etc/moat/policy');
    assert.ok(d.containers[0].args.includes('--policy=/etc/moat/policy/custom'));
    const assessment = engine.assess(o.map((object) => ({ object, source: {} })));
    assert.deepEqual(
      assessment.results.map((r) => r.checkId),
      [],
    );
  });

  test('bad options are one-line usage errors', () => {
    assert.throws(() => installManifest({ kinds, timeoutSeconds: 31 }), /whole seconds from 1 to 30/);
    assert.throws(() => installManifest({ kinds, timeoutSeconds: 0 }), /whole seconds from 1 to 30/);
    assert.throws(
      () => installManifest({ kinds, namespace: 'Moat_System' }),
      /--namespace Moat_System: expected a DNS label/,
    );
    assert.throws(() => installManifest({ kinds: ['Lease'] }), /evaluate no kind/);
  });
});

async function fetchReview(port: number, ca: string, servername: string, path: string): Promise<any> {
  const { request } = await import('node:https');
  const body = JSON.stringify(
    admissionReview({
      uid: 'install-e2e',
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' } },
    }),
  );
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
        res.on('end', () => resolve(JSON.parse(t)));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
