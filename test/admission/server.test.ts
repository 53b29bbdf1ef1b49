import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { type AddressInfo, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import { generateWebhookCertificates } from '../../src/admission/certs.js';
import { type AuditRecord, auditAnnotationKey } from '../../src/admission/review.js';
import { startAdmissionServer } from '../../src/admission/server.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { containersOf, POD_KINDS, podSpecOf } from '../../src/policy/k8s.js';
import type { K8sObject, ObjectCheck, Violation } from '../../src/policy/types.js';
import {
  admissionReview,
  type Harness,
  NAMESPACE,
  SERVER_NAME,
  SERVICE,
  startHarness,
  testCertificates,
} from './helpers.js';

/** A pod-spec check built from a predicate on each container. */
function containerCheck(
  id: string,
  effect: ObjectCheck['defaultEffect'],
  bad: (c: Record<string, unknown>) => string | undefined,
): ObjectCheck {
  return {
    id,
    family: 'custom',
    scope: 'object',
    title: id,
    description: id,
    severity: 'HIGH',
    remediation: `fix ${id} in every container`,
    category: 'test',
    kinds: POD_KINDS,
    parameters: [],
    defaultEffect: effect,
    evaluate(object: K8sObject): Violation[] {
      const ref = podSpecOf(object);
      if (!ref) return [];
      const out: Violation[] = [];
      for (const c of containersOf(ref)) {
        const why = bad(c.container);
        if (why) out.push({ message: `container "${c.name}" ${why}`, container: c.name, path: c.path });
      }
      return out;
    },
  };
}

const CHECKS: ObjectCheck[] = [
  containerCheck('custom.privileged', 'deny', (c) =>
    (c.securityContext as { privileged?: boolean } | undefined)?.privileged === true
      ? 'sets securityContext.privileged=true'
      : undefined,
  ),
  containerCheck('custom.latest-tag', 'warn', (c) =>
    typeof c.image === 'string' && !/:[^/]+$|@sha256:/.test(c.image)
      ? `runs image ${c.image} without a tag`
      : undefined,
  ),
  containerCheck('custom.limits', 'audit', (c) =>
    (c.resources as { limits?: unknown } | undefined)?.limits ? undefined : 'has no resource limits',
  ),
];

function pod(containers: Array<Record<string, unknown>>, name = 'web', namespace = 'default'): K8sObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers } };
}

const CLEAN = { name: 'app', image: 'nginx:1.27', resources: { limits: { cpu: '1', memory: '64Mi' } } };
const PRIVILEGED = { ...CLEAN, name: 'priv', securityContext: { privileged: true } };
const UNTAGGED = { ...CLEAN, name: 'untagged', image: 'nginx' };
const NO_LIMITS = { name: 'nolimits', image: 'nginx:1.27' };

describe('admission webhook over HTTPS', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      engine: new PolicyEngine({}, CHECKS),
      bypass: {
        namespace: NAMESPACE,
        serviceAccount: SERVICE,
        users: ['ci-bot'],
        groups: ['break-glass'],
      },
      maxBodyBytes: 256 * 1024,
      requestTimeoutMs: 600,
    });
  });
  after(() => h.close());

  test('a clean Pod is allowed; the uid, apiVersion and kind are echoed', async () => {
    const res = await h.post(admissionReview({ uid: 'e6b2a4a0-0001', object: pod([CLEAN]) }));
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json(), {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'e6b2a4a0-0001', allowed: true },
    });
  });

  test('v1beta1 reviews are answered in v1beta1', async () => {
    const review = { ...admissionReview({ object: pod([CLEAN]) }), apiVersion: 'admission.k8s.io/v1beta1' };
    const out = (await h.post(review)).json();
    assert.equal(out.apiVersion, 'admission.k8s.io/v1beta1');
    assert.equal(out.response.allowed, true);
  });

  test('deny: 403 listing every violation with its remediation; warn effects still come as warnings', async () => {
    const object = pod([PRIVILEGED, { ...PRIVILEGED, name: 'priv2' }, UNTAGGED]);
    const out = await h.review({ uid: 'deny-1', object });
    const r = out.response;
    assert.ok(r);
    assert.equal(r.uid, 'deny-1');
    assert.equal(r.allowed, false);
    assert.equal(r.status?.code, 403);
    const msg = r.status?.message ?? '';
    assert.match(msg, /^Pod default\/web violates 2 moat policies:/);
    assert.ok(msg.includes('[custom.privileged] container "priv" sets securityContext.privileged=true'));
    assert.ok(msg.includes('[custom.privileged] container "priv2" sets securityContext.privileged=true'));
    // the remediation comes once per check, from the check itself
    assert.equal(msg.split(CHECKS[0]?.remediation as string).length - 1, 1);
    assert.deepEqual(r.warnings, ['[custom.latest-tag] container "untagged" runs image nginx without a tag']);
  });

  test('warn: allowed with one warning per violation', async () => {
    const out = await h.review({ object: pod([UNTAGGED, { ...UNTAGGED, name: 'second', image: 'redis' }]) });
    assert.equal(out.response?.allowed, true);
    assert.deepEqual(out.response?.warnings, [
      '[custom.latest-tag] container "untagged" runs image nginx without a tag',
      '[custom.latest-tag] container "second" runs image redis without a tag',
    ]);
    assert.equal(out.response?.status, undefined);
  });

  test('audit: allowed, an audit annotation per check and a JSON audit record', async () => {
    const before = h.audit.length;
    const out = await h.review({ uid: 'audit-1', object: pod([NO_LIMITS, { ...NO_LIMITS, name: 'two' }]) });
    assert.equal(out.response?.allowed, true);
    assert.equal(out.response?.warnings, undefined);
    assert.deepEqual(out.response?.auditAnnotations, {
      'custom.limits': 'container "nolimits" has no resource limits; container "two" has no resource limits',
    });
    const rec = h.audit.at(-1) as AuditRecord;
    assert.equal(h.audit.length, before + 1);
    assert.equal(rec.uid, 'audit-1');
    assert.equal(rec.allowed, true);
    assert.deepEqual(rec.resource, { apiVersion: 'v1', kind: 'Pod', name: 'web', namespace: 'default' });
    assert.deepEqual(
      rec.violations.map((v) => [v.check, v.effect, v.container, v.path]),
      [
        ['custom.limits', 'audit', 'nolimits', 'spec.containers[0]'],
        ['custom.limits', 'audit', 'two', 'spec.containers[1]'],
      ],
    );
    assert.equal(rec.user, 'alice');
  });

  test('dryRun: the same verdict, nothing recorded', async () => {
    const object = pod([PRIVILEGED, NO_LIMITS]);
    const violationsBefore = h.server.metrics.violations.get({ check: 'custom.privileged', effect: 'deny' });
    const auditBefore = h.audit.length;
    const dry = await h.review({ uid: 'dry', object, dryRun: true });
    assert.equal(h.audit.length, auditBefore);
    assert.equal(
      h.server.metrics.violations.get({ check: 'custom.privileged', effect: 'deny' }),
      violationsBefore,
    );
    assert.equal(h.server.metrics.reviews.get({ outcome: 'denied', dry_run: 'true' }) >= 1, true);
    const wet = await h.review({ uid: 'dry', object, dryRun: false });
    assert.deepEqual(dry, wet);
    assert.equal(h.audit.length, auditBefore + 1);
    assert.equal(
      h.server.metrics.violations.get({ check: 'custom.privileged', effect: 'deny' }),
      violationsBefore + 1,
    );
  });

  test('pod-template owners: the request namespace fills a missing metadata.namespace', async () => {
    const deployment: K8sObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api' },
      spec: { template: { metadata: { labels: { app: 'api' } }, spec: { containers: [PRIVILEGED] } } },
    };
    const out = await h.review({ object: deployment, namespace: 'shop' });
    assert.equal(out.response?.allowed, false);
    assert.match(out.response?.status?.message ?? '', /^Deployment shop\/api violates a moat policy:/);
    const rec = h.audit.at(-1) as AuditRecord;
    assert.equal(rec.resource.namespace, 'shop');
    assert.equal(rec.violations[0]?.path, 'spec.template.spec.containers[0]');
  });

  test('bypass: excluded namespaces, own namespace, own service account, users, groups', async () => {
    const bad = pod([PRIVILEGED]);
    const cases: Array<[string, Parameters<Harness['review']>[0]]> = [
      ['namespace', { object: pod([PRIVILEGED], 'x', 'kube-system') }],
      ['namespace', { object: pod([PRIVILEGED], 'x', NAMESPACE) }],
      [
        'service-account',
        { object: bad, userInfo: { username: `system:serviceaccount:${NAMESPACE}:${SERVICE}` } },
      ],
      ['user', { object: bad, userInfo: { username: 'ci-bot' } }],
      [
        'group',
        { object: bad, userInfo: { username: 'bob', groups: ['system:authenticated', 'break-glass'] } },
      ],
    ];
    for (const [reason, req] of cases) {
      const n = h.server.metrics.bypassed.get({ reason });
      const auditBefore = h.audit.length;
      const out = await h.review(req);
      assert.deepEqual(Object.keys(out.response ?? {}).sort(), ['allowed', 'uid'], reason);
      assert.equal(out.response?.allowed, true, reason);
      assert.equal(h.server.metrics.bypassed.get({ reason }), n + 1, reason);
      assert.equal(h.audit.length, auditBefore, reason);
    }
    // another service account of the same name elsewhere is not moat
    const other = await h.review({
      object: bad,
      userInfo: { username: `system:serviceaccount:default:${SERVICE}` },
    });
    assert.equal(other.response?.allowed, false);
  });

  test('not evaluated: DELETE, CONNECT, other subresources, kinds no check reads', async () => {
    const bad = pod([PRIVILEGED]);
    const cases: Array<[string, Parameters<Harness['review']>[0]]> = [
      ['operation', { operation: 'DELETE', object: null, oldObject: bad }],
      ['operation', { operation: 'CONNECT', object: null }],
      ['subresource', { operation: 'UPDATE', object: bad, oldObject: bad, subResource: 'status' }],
      ['kind', { object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: {} } }],
    ];
    for (const [reason, req] of cases) {
      const n = h.server.metrics.skipped.get({ reason });
      const out = await h.review(req);
      assert.equal(out.response?.allowed, true, reason);
      assert.equal(h.server.metrics.skipped.get({ reason }), n + 1, reason);
    }
  });

  test('UPDATE: an unchanged pod spec is allowed, a changed one is evaluated', async () => {
    const object = pod([PRIVILEGED]);
    const unchanged = structuredClone(object);
    (unchanged.metadata as { labels?: Record<string, string> }).labels = { changed: 'label' };
    const same = await h.review({ operation: 'UPDATE', object: unchanged, oldObject: object });
    assert.equal(same.response?.allowed, true);
    const older = pod([{ ...PRIVILEGED, image: 'nginx:1.26' }]);
    const changed = await h.review({ operation: 'UPDATE', object, oldObject: older });
    assert.equal(changed.response?.allowed, false);
  });

  test('UPDATE of the ephemeralcontainers subresource is evaluated', async () => {
    const old = pod([CLEAN]);
    const object = structuredClone(old);
    (object.spec as Record<string, unknown>).ephemeralContainers = [{ ...PRIVILEGED, name: 'debugger' }];
    const out = await h.review({
      operation: 'UPDATE',
      subResource: 'ephemeralcontainers',
      object,
      oldObject: old,
    });
    assert.equal(out.response?.allowed, false);
    assert.match(out.response?.status?.message ?? '', /container "debugger"/);
  });

  test('malformed AdmissionReviews get 400 with a reason', async () => {
    const valid = admissionReview({ object: pod([CLEAN]) });
    const text = JSON.stringify(valid);
    const cases: Array<[string | object, RegExp]> = [
      ['not json at all', /body is not JSON/],
      [text.slice(0, text.length / 2), /body is not JSON/],
      ['', /body is not JSON/],
      ['[1,2,3]', /expected a JSON object/],
      ['null', /expected a JSON object/],
      [{ ...valid, apiVersion: 'admission.k8s.io/v2' }, /^apiVersion: expected admission\.k8s\.io\/v1/],
      [{ ...valid, kind: 'Pod' }, /^kind: expected AdmissionReview/],
      [{ apiVersion: valid.apiVersion, kind: 'AdmissionReview' }, /^request: expected an object/],
      [{ ...valid, request: { ...valid.request, uid: '' } }, /^request\.uid/],
      [{ ...valid, request: { ...valid.request, uid: 7 } }, /^request\.uid/],
      [{ ...valid, request: { ...valid.request, operation: 'PATCH' } }, /^request\.operation/],
      [{ ...valid, request: { ...valid.request, kind: 'Pod' } }, /^request\.kind/],
      [{ ...valid, request: { ...valid.request, object: 'pod' } }, /^request\.object: expected an object/],
      [
        { ...valid, request: { ...valid.request, object: null } },
        /^request\.object: expected an object for CREATE/,
      ],
      [{ ...valid, request: { ...valid.request, dryRun: 'yes' } }, /^request\.dryRun/],
      [
        { ...valid, request: { ...valid.request, userInfo: { groups: 'admins' } } },
        /^request\.userInfo\.groups/,
      ],
    ];
    for (const [body, reason] of cases) {
      const res = await h.post(body);
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 60)}: ${res.text}`);
      const status = res.json();
      assert.equal(status.kind, 'Status');
      assert.equal(status.code, 400);
      assert.equal(status.reason, 'BadRequest');
      assert.match(status.message, reason);
    }
  });

  test('wrong method 405, wrong content type 415, unknown path 404', async () => {
    const get = await h.get('/validate');
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    const text = await h.post(JSON.stringify(admissionReview({ object: pod([CLEAN]) })), {
      'Content-Type': 'text/plain',
    });
    assert.equal(text.status, 415);
    assert.match(text.json().message, /text\/plain/);
    const charset = await h.post(admissionReview({ object: pod([CLEAN]) }), {
      'Content-Type': 'application/json; charset=utf-8',
    });
    assert.equal(charset.status, 200);
    assert.equal((await h.get('/mutate')).status, 404);
  });

  test('bodies over the limit get 413, declared or streamed', async () => {
    const big = JSON.stringify({ ...admissionReview({ object: pod([CLEAN]) }), pad: 'x'.repeat(300 * 1024) });
    const declared = await h.post(big);
    assert.equal(declared.status, 413);
    assert.match(declared.json().message, /over the 262144-byte limit/);
    // chunked: no Content-Length to refuse up front
    const streamed = await new Promise<number>((resolve, reject) => {
      const agent = new Agent({ ca: testCertificates().ca.cert });
      const req = request(
        {
          host: '127.0.0.1',
          port: h.server.port,
          method: 'POST',
          path: '/validate',
          agent,
          servername: SERVER_NAME,
          headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          agent.destroy();
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let i = 0; i < 6; i++) req.write(chunk);
      req.end();
    });
    assert.equal(streamed, 413);
    const ok = await h.review({ object: pod([CLEAN]) });
    assert.equal(ok.response?.allowed, true);
  });

  test('a stalled body is cut off after the request timeout, and others are served meanwhile', async () => {
    const c = testCertificates();
    const sock = connect({ host: '127.0.0.1', port: h.server.port, ca: c.ca.cert, servername: SERVER_NAME });
    await new Promise<void>((r) => sock.once('secureConnect', () => r()));
    sock.write(
      'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"apiVer',
    );
    const started = Date.now();
    let reply = '';
    sock.on('data', (d) => {
      reply += d.toString();
    });
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', () => {});
    const meanwhile = await h.review({ object: pod([CLEAN]) });
    assert.equal(meanwhile.response?.allowed, true);
    await closed;
    const waited = Date.now() - started;
    assert.ok(waited >= 400 && waited < 5000, `closed after ${waited} ms`);
    assert.match(reply, /^HTTP\/1\.1 408/);
  });

  test('TLS and HTTP garbage does not hurt the server', async () => {
    const c = testCertificates();
    // plain bytes at the TLS port
    await new Promise<void>((resolve) => {
      const s = netConnect(h.server.port, '127.0.0.1', () => s.end('GET / HTTP/1.1\r\n\r\n'));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      s.resume();
    });
    // broken HTTP inside TLS: a 400 and the connection closed
    let answer = '';
    await new Promise<void>((resolve) => {
      const s = connect(
        { host: '127.0.0.1', port: h.server.port, ca: c.ca.cert, servername: SERVER_NAME },
        () => s.write('\x00\x01\x02 not http\r\n\r\n'),
      );
      s.on('data', (d) => {
        answer += d;
      });
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    // deeply nested JSON
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const nested = await h.post(deep);
    assert.equal(nested.status, 400);
    const alive = await h.get('/healthz');
    assert.equal(alive.status, 200);
    assert.equal((await h.review({ object: pod([CLEAN]) })).response?.allowed, true);
  });

  test('/readyz and /metrics', async () => {
    assert.equal((await h.get('/readyz')).status, 200);
    const m = await h.get('/metrics');
    assert.equal(m.status, 200);
    assert.match(String(m.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(m.text, /^moat_admission_reviews_total\{outcome="denied",dry_run="false"\} [1-9]/m);
    assert.match(m.text, /^moat_admission_bypassed_total\{reason="service-account"\} 1$/m);
    assert.match(m.text, /^moat_admission_http_responses_total\{code="400"\} [1-9]/m);
    assert.match(
      m.text,
      /^moat_admission_violations_total\{check="custom.privileged",effect="deny"\} [1-9]/m,
    );
    const count = Number(/^moat_admission_review_duration_seconds_count (\d+)$/m.exec(m.text)?.[1]);
    const inf = Number(
      /^moat_admission_review_duration_seconds_bucket\{le="\+Inf"\} (\d+)$/m.exec(m.text)?.[1],
    );
    assert.ok(count > 10);
    assert.equal(inf, count);
  });
});

describe('response limits', () => {
  test('audit annotation keys are qualified names of at most 63 characters', () => {
    const qualified = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
    for (const id of [
      'pss.baseline.privileged',
      'defender.405c9ae6-49f9-46c4-8873-a86690f27818',
      `custom.${'very-long-policy-name-'.repeat(5)}`,
      'custom.odd/name with spaces_',
      '...',
    ]) {
      const key = auditAnnotationKey(id);
      assert.ok(key.length <= 63, key);
      assert.match(key, qualified);
    }
    assert.equal(auditAnnotationKey('pss.baseline.privileged'), 'pss.baseline.privileged');
  });

  test('warnings stay within the API server limits (256 each, 4096 in all)', async () => {
    const h = await startHarness({ engine: new PolicyEngine({}, CHECKS) });
    try {
      const containers = Array.from({ length: 60 }, (_, i) => ({
        ...CLEAN,
        name: `c${i}-${'n'.repeat(200)}`,
        image: 'busybox',
      }));
      const out = await h.review({ object: pod(containers) });
      const w = out.response?.warnings ?? [];
      assert.ok(w.every((x) => x.length <= 256));
      assert.ok(w.join('').length <= 4096);
      assert.match(w.at(-1) ?? '', /^\d+ more moat warnings not shown/);
      const shown = w.length - 1;
      assert.equal(Number(/^(\d+)/.exec(w.at(-1) ?? '')?.[1]) + shown, 60);
    } finally {
      await h.close();
    }
  });

  test('the deny message is bounded and says how many violations it leaves out', async () => {
    const many: ObjectCheck[] = Array.from({ length: 40 }, (_, i) =>
      containerCheck(`custom.rule-${i}`, 'deny', () => 'x'.repeat(600)),
    );
    const h = await startHarness({ engine: new PolicyEngine({}, many) });
    try {
      const out = await h.review({ object: pod([CLEAN]) });
      const msg = out.response?.status?.message ?? '';
      assert.ok(msg.length < 20_000, String(msg.length));
      const listed = msg.split('\n').filter((l) => l.startsWith('[custom.rule-')).length;
      const more = Number(/… and (\d+) more violations/.exec(msg)?.[1]);
      assert.equal(listed + more, 40);
    } finally {
      await h.close();
    }
  });
});

describe('server lifecycle', () => {
  test('close(): readiness fails while draining, in-flight requests finish', async () => {
    const h = await startHarness({ engine: new PolicyEngine({}, CHECKS), drainDelayMs: 300 });
    const c = testCertificates();
    // an in-flight request: headers and half the body sent before close() begins
    const body = JSON.stringify(admissionReview({ uid: 'in-flight', object: pod([PRIVILEGED]) }));
    const agent = new Agent({ ca: c.ca.cert, keepAlive: true });
    const inflight = new Promise<{ status: number; uid?: string; connection?: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: h.server.port,
          method: 'POST',
          path: '/validate',
          agent,
          servername: SERVER_NAME,
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          let t = '';
          res.on('data', (d) => {
            t += d;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              uid: JSON.parse(t).response?.uid,
              connection: res.headers.connection,
            }),
          );
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 100));
      setTimeout(() => req.end(body.slice(100)), 150);
    });
    await new Promise((r) => setTimeout(r, 50));
    const closing = h.server.close();
    const ready = await h.get('/readyz');
    assert.equal(ready.status, 503);
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(r.uid, 'in-flight');
    assert.equal(r.connection, 'close');
    await closing;
    agent.destroy();
    h.agent.destroy();
    await assert.rejects(h.get('/healthz'));
  });

  test('TLS files are reloaded when they change (certificate rotation)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-tls-'));
    const first = generateWebhookCertificates(SERVICE, NAMESPACE);
    const second = generateWebhookCertificates(SERVICE, NAMESPACE);
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, first.server.cert);
    writeFileSync(keyFile, first.server.key);
    const server = await startAdmissionServer({
      engine: new PolicyEngine({}, CHECKS),
      tls: { certFile, keyFile },
      port: 0,
      host: '127.0.0.1',
      tlsReloadMs: 50,
      bypass: { namespace: NAMESPACE, serviceAccount: SERVICE },
    });
    const trusts = (ca: string) =>
      new Promise<boolean>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: server.port, ca, servername: SERVER_NAME }, () => {
          resolve(s.authorized);
          s.destroy();
        });
        s.on('error', () => resolve(false));
      });
    try {
      assert.equal(await trusts(first.ca.cert), true);
      assert.equal(await trusts(second.ca.cert), false);
      // half-way through a rotation (new cert, old key) the old pair stays
      writeFileSync(`${certFile}.new`, second.server.cert);
      renameSync(`${certFile}.new`, certFile);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await trusts(first.ca.cert), true);
      assert.equal(server.metrics.tlsReloads.get({ result: 'failed' }), 1);
      writeFileSync(`${keyFile}.new`, second.server.key);
      renameSync(`${keyFile}.new`, keyFile);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await trusts(second.ca.cert), true);
      assert.equal(await trusts(first.ca.cert), false);
      assert.equal(server.metrics.tlsReloads.get({ result: 'loaded' }), 1);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('connections beyond maxConnections are refused, the others keep working', async () => {
    const h = await startHarness({ engine: new PolicyEngine({}, CHECKS), maxConnections: 2 });
    const c = testCertificates();
    const open = () =>
      new Promise<{ ok: boolean; sock: ReturnType<typeof connect> }>((resolve) => {
        const sock = connect(
          { host: '127.0.0.1', port: h.server.port, ca: c.ca.cert, servername: SERVER_NAME },
          () => resolve({ ok: true, sock }),
        );
        sock.on('error', () => resolve({ ok: false, sock }));
        sock.on('close', () => resolve({ ok: false, sock }));
      });
    try {
      const a = await open();
      const b = await open();
      const third = await open();
      assert.deepEqual([a.ok, b.ok, third.ok], [true, true, false]);
      a.sock.destroy();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await h.review({ object: pod([CLEAN]) })).response?.allowed, true);
      b.sock.destroy();
    } finally {
      await h.close();
    }
  });

  test('a port in use or unreadable TLS files fail the start with one line', async () => {
    await assert.rejects(
      startAdmissionServer({
        engine: new PolicyEngine({}, CHECKS),
        tls: { certFile: '/nonexistent/tls.crt', keyFile: '/nonexistent/tls.key' },
        port: 0,
        bypass: { namespace: NAMESPACE, serviceAccount: SERVICE },
      }),
      /TLS certificate file \/nonexistent\/tls\.crt: ENOENT/,
    );
    const h = await startHarness({ engine: new PolicyEngine({}, CHECKS) });
    try {
      const c = testCertificates();
      await assert.rejects(
        startAdmissionServer({
          engine: new PolicyEngine({}, CHECKS),
          tls: { cert: c.server.cert, key: c.server.key },
          port: (h.server.server.address() as AddressInfo).port,
          host: '127.0.0.1',
          bypass: { namespace: NAMESPACE, serviceAccount: SERVICE },
        }),
        /EADDRINUSE/,
      );
    } finally {
      await h.close();
    }
  });
});
