import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type AuditPolicy,
  auditLevelFor,
  levelNeeded,
  parseAuditPolicy,
  ruleCoverage,
} from '../../src/detect/audit-policy.js';
import { loadDefaultRules } from '../../src/detect/rules/load.js';

const ROOT = join(import.meta.dirname, '../..');
const FIX = join(ROOT, 'test/fixtures/detect');
// every shipped rule, the allowlist ones switched on by the test lists
const rules = loadDefaultRules([join(FIX, 'falco-allowlists.yaml'), join(FIX, 'rule-test-lists.yaml')], true);

function policy(file: string): AuditPolicy {
  return parseAuditPolicy(readFileSync(file, 'utf8'), file);
}

const user = { user: 'alice', groups: ['system:authenticated'] };

describe('audit policy evaluation (kube-apiserver semantics)', () => {
  const p = parseAuditPolicy(
    `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: [system:kube-proxy]
    verbs: [watch]
    resources: [{group: "", resources: [endpoints]}]
  - level: Metadata
    resources: [{group: "", resources: [configmaps], resourceNames: [leader]}]
  - level: RequestResponse
    resources: [{group: "", resources: ["pods/*"]}]
  - level: Request
    namespaces: [""]
  - level: Request
    resources: [{group: apps, resources: ["*/scale"]}]
  - level: None
    userGroups: [system:nodes]
  - level: Request
    resources: [{group: ""}]
    omitStages: [ResponseStarted]
  - level: None
    nonResourceURLs: ["/healthz*"]
`,
    'inline',
  );
  it('takes the first matching rule', () => {
    assert.equal(
      auditLevelFor(p, {
        ...user,
        user: 'system:kube-proxy',
        verb: 'watch',
        resource: 'endpoints',
        namespace: 'x',
      }).level,
      'None',
    );
    assert.equal(
      auditLevelFor(p, { ...user, verb: 'watch', resource: 'endpoints', namespace: 'x' }).level,
      'Request',
    );
  });
  it('matches resourceNames, subresource wildcards and cluster scope', () => {
    assert.equal(
      auditLevelFor(p, { ...user, verb: 'get', resource: 'configmaps', name: 'leader', namespace: 'x' })
        .level,
      'Metadata',
    );
    assert.equal(
      auditLevelFor(p, { ...user, verb: 'get', resource: 'configmaps', name: 'other', namespace: 'x' }).level,
      'Request',
    );
    assert.equal(
      auditLevelFor(p, { ...user, verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'x' })
        .level,
      'RequestResponse',
    );
    // as in checker.go, pods/* matches the pods themselves as well as every subresource
    assert.equal(
      auditLevelFor(p, { ...user, verb: 'create', resource: 'pods', namespace: 'x' }).level,
      'RequestResponse',
    );
    assert.equal(
      auditLevelFor(p, { ...user, verb: 'create', resource: 'services', namespace: 'x' }).level,
      'Request',
    );
    assert.equal(
      auditLevelFor(p, {
        ...user,
        verb: 'update',
        apiGroup: 'apps',
        resource: 'deployments',
        subresource: 'scale',
        namespace: 'x',
      }).level,
      'Request',
    );
    // namespaces: [""] is every cluster-scoped resource
    assert.equal(auditLevelFor(p, { ...user, verb: 'create', resource: 'nodes' }).rule, 3);
  });
  it('matches groups, non-resource URLs and unions omitStages', () => {
    assert.equal(
      auditLevelFor(p, {
        user: 'n',
        groups: ['system:nodes'],
        verb: 'get',
        resource: 'secrets',
        namespace: 'x',
      }).level,
      'None',
    );
    assert.equal(auditLevelFor(p, { ...user, verb: 'get', path: '/healthz/etcd' }).level, 'None');
    assert.equal(
      auditLevelFor(p, { ...user, verb: 'get', path: '/version' }).level,
      'None',
      'no rule matches: None',
    );
    assert.deepEqual(
      auditLevelFor(p, { ...user, verb: 'get', resource: 'secrets', namespace: 'x' }).omitStages.sort(),
      ['RequestReceived', 'ResponseStarted'],
    );
  });
  it('rejects what the API server rejects, naming the file', () => {
    assert.throws(
      () => parseAuditPolicy('kind: Policy\napiVersion: v1\nrules: []', 'p.yaml'),
      /p\.yaml: not an audit Policy/,
    );
    assert.throws(
      () =>
        parseAuditPolicy('kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: Everything}]', 'p.yaml'),
      /p\.yaml: rules\[0\]\.level/,
    );
    assert.throws(
      () =>
        parseAuditPolicy(
          'kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: None, omitStages: [Later]}]',
          'p.yaml',
        ),
      /unknown stage Later/,
    );
  });
});

describe('rule coverage of an audit policy', () => {
  it('the shipped deploy/audit policy gives every shipped rule what it needs', () => {
    assert.ok(rules.rules.length > 50, `loaded ${rules.rules.length} rules`);
    const cov = ruleCoverage(policy(join(ROOT, 'deploy/audit/audit-policy.yaml')), rules.rules);
    const bad = cov
      .filter((c) => c.verdict !== 'ok')
      .map((c) => `${c.rule}: ${JSON.stringify(c.probes.filter((p) => !p.ok))}`);
    assert.deepEqual(bad, []);
  });
  it('finds the rules Falco’s recommended policy leaves blind or half-blind', () => {
    const cov = new Map(
      ruleCoverage(policy(join(FIX, 'audit-policies/falco-recommended-audit-policy.yaml')), rules.rules).map(
        (c) => [c.rule, c],
      ),
    );
    // ingresses (networking.k8s.io) fall to the catch-all Metadata rule: no request body
    assert.equal(cov.get('ingress-without-tls')?.verdict, 'blind');
    // roles and rolebindings are not in its RequestResponse rbac rule, clusterroles and clusterrolebindings are
    assert.equal(cov.get('wildcard-role')?.verdict, 'partial');
    assert.equal(cov.get('cluster-admin-binding')?.verdict, 'partial');
    // pods are logged with bodies, exec at Request through the core-group rule
    assert.equal(cov.get('privileged-container')?.verdict, 'ok');
    assert.equal(cov.get('exec-into-pod')?.verdict, 'ok');
  });
  it('a policy that logs only metadata leaves every body-reading rule blind and no other', () => {
    const meta = parseAuditPolicy(
      'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]',
      'meta',
    );
    for (const c of ruleCoverage(meta, rules.rules)) {
      const rule = rules.rules.find((r) => r.spec.id === c.rule);
      assert.ok(rule, c.rule);
      assert.equal(c.verdict, levelNeeded(rule) === 'Metadata' ? 'ok' : 'blind', c.rule);
    }
  });
  it('omitting ResponseStarted blinds nothing that also logs ResponseComplete, omitting both blinds exec', () => {
    const p = (omit: string) =>
      parseAuditPolicy(
        `apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [${omit}]\nrules: [{level: Request}]`,
        'x',
      );
    const started = new Map(ruleCoverage(p('ResponseStarted'), rules.rules).map((c) => [c.rule, c.verdict]));
    assert.equal(started.get('exec-into-pod'), 'ok');
    const both = new Map(
      ruleCoverage(p('ResponseStarted, ResponseComplete'), rules.rules).map((c) => [c.rule, c.verdict]),
    );
    assert.equal(both.get('exec-into-pod'), 'blind');
  });
});
