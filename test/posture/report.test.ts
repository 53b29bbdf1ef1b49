/**
 * The posture report built from an assessment: recommendations grouped by check with every affected
 * resource, the secure score recomputed here from the documented formula, the JSON schema, SARIF against
 * the OASIS schema (located at the manifest line), the table, and --fail-on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvDraft04 from 'ajv-draft-04';
import addFormatsPlugin from 'ajv-formats';
import { PolicyEngine } from '../../src/policy/engine.js';
import { parseExemptions } from '../../src/policy/exemptions.js';
import { containersOf, POD_KINDS, podSpecOf } from '../../src/policy/k8s.js';
import type { Check, K8sObject, SourcedObject } from '../../src/policy/types.js';
import {
  buildPostureReport,
  postureExceeds,
  type Recommendation,
  SCORE_WEIGHTS,
} from '../../src/posture/report.js';
import { renderPosture } from '../../src/report/posture.js';

const privileged: Check = {
  id: 'custom.privileged',
  family: 'custom',
  title: 'No privileged containers',
  description: 'privileged containers own the node',
  severity: 'CRITICAL',
  remediation: 'drop securityContext.privileged',
  category: 'Workloads',
  kinds: POD_KINDS,
  parameters: [],
  defaultEffect: 'deny',
  scope: 'object',
  evaluate(obj) {
    const spec = podSpecOf(obj);
    return spec
      ? containersOf(spec)
          .filter(
            (c) => (c.container.securityContext as { privileged?: boolean } | undefined)?.privileged === true,
          )
          .map((c) => ({
            message: `container "${c.name}" is privileged`,
            container: c.name,
            path: `${c.path}.securityContext.privileged`,
          }))
      : [];
  },
};

const limits: Check = {
  ...privileged,
  id: 'custom.limits',
  title: 'Memory limits',
  severity: 'LOW',
  remediation: 'set resources.limits.memory',
  defaultEffect: 'audit',
  evaluate(obj) {
    const spec = podSpecOf(obj);
    return spec
      ? containersOf(spec)
          .filter(
            (c) => !(c.container.resources as { limits?: { memory?: string } } | undefined)?.limits?.memory,
          )
          .map((c) => ({ message: `container "${c.name}" has no memory limit`, container: c.name }))
      : [];
  },
};

function pod(name: string, ns: string, containers: object[]): K8sObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { containers } };
}

const OBJECTS: SourcedObject[] = [
  pod('a', 'x', [{ name: 'c', image: 'i', securityContext: { privileged: true } }]),
  pod('b', 'x', [
    { name: 'c', image: 'i', resources: { limits: { memory: '1Gi' } } },
    { name: 'd', image: 'i', securityContext: { privileged: true } },
  ]),
  pod('c', 'y', [{ name: 'c', image: 'i', resources: { limits: { memory: '1Gi' } } }]),
  pod('d', 'y', [{ name: 'c', image: 'i', resources: { limits: { memory: '1Gi' } } }]),
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'x' } },
].map((object, i) => ({ object, source: { file: 'deploy/all.yaml', line: 1 + 12 * i, document: i } }));

function report(opts: { exemptions?: ReturnType<typeof parseExemptions> } = {}) {
  const engine = new PolicyEngine({ exemptions: opts.exemptions, now: new Date('2026-06-01T00:00:00Z') }, [
    privileged,
    limits,
  ]);
  return buildPostureReport(
    engine.assess(OBJECTS),
    { type: 'manifests', inputs: ['deploy'] },
    { objects: OBJECTS.length, now: new Date('2026-06-01T00:00:00Z') },
  );
}

describe('posture report', () => {
  test('recommendations: one per failing check, most severe first, with every affected resource', () => {
    const r = report();
    const affected = (x: Recommendation) => x.findings.reduce((n, f) => n + f.resources.length, 0);
    assert.deepEqual(
      r.recommendations.map((x) => [x.id, x.applicable, x.unhealthy, affected(x)]),
      [
        ['custom.privileged', 4, 2, 2],
        // pod a's container and pod b's container d lack a limit: two containers, two pods
        ['custom.limits', 4, 2, 2],
      ],
    );
    const f = r.recommendations[0]?.findings[0];
    assert.equal(f?.container, 'c');
    assert.equal(f?.path, 'spec.containers[0].securityContext.privileged');
    assert.equal(r.resources[f?.resources[0] ?? -1]?.source?.line, 1);
    // each object listed once, in input order, whatever number of findings names it
    assert.deepEqual(
      r.resources.map((x) => x.name),
      ['a', 'b'],
    );
    assert.deepEqual(r.summary.skipped, { Secret: 1 });
    assert.equal(r.summary.bySeverity.CRITICAL, 1);
    assert.equal(r.summary.bySeverity.LOW, 1);
  });

  test('findings: one per distinct message, container and path, naming every resource it was found on', () => {
    const objects: SourcedObject[] = ['p', 'q', 'r'].map((name, i) => ({
      object: pod(name, 'x', [
        { name: 'c', image: 'i', securityContext: { privileged: true } },
        // q's second container differs in name, so its finding differs in message, container and path
        ...(name === 'q' ? [{ name: 'd', image: 'i', securityContext: { privileged: true } }] : []),
      ]),
      source: { file: 'all.yaml', line: 1 + 10 * i, document: i },
    }));
    const engine = new PolicyEngine({}, [privileged]);
    const a = engine.assess(objects);
    const r = buildPostureReport(a, { type: 'manifests', inputs: ['all.yaml'] }, { objects: 3 });
    const rec = r.recommendations[0];
    // every violation is in exactly one finding, as a (resource, finding) pair
    const pairs = rec?.findings.flatMap((f) =>
      f.resources.map((i) => `${r.resources[i]?.name} ${f.container} ${f.path} ${f.message}`),
    );
    assert.deepEqual(
      pairs?.sort(),
      a.results.map((x) => `${x.resource.name} ${x.resource.container} ${x.path} ${x.message}`).sort(),
    );
    assert.equal(rec?.findings.length, 2);
    assert.deepEqual(rec?.findings[0]?.resources, [0, 1, 2]);
    assert.deepEqual(
      r.resources.map((x) => [x.name, x.source?.line]),
      [
        ['p', 1],
        ['q', 11],
        ['r', 21],
      ],
    );
    assert.equal(rec?.unhealthy, 3);
  });

  test('built-in checks: copies of the same workloads make the same findings, each naming every copy', () => {
    // objects that differ only in their names, of every kind a built-in check reports on: a message that
    // named its object would make one finding per copy instead of one finding listing every copy
    const copies = (n: number): SourcedObject[] =>
      Array.from({ length: n }, (_, i) => [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: `web-${i}` },
          spec: {
            template: {
              spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 80 }] }] },
            },
          },
        },
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: `svc-${i}`, namespace: 'default' },
          spec: { ports: [{ port: 80 }] },
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: `reader-${i}`, namespace: 'default' },
          rules: [{ apiGroups: [''], resources: ['secrets', '*'], verbs: ['get', '*'] }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: `bind-${i}`, namespace: 'default' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
          subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'default' }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: `admins-${i}` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
          subjects: [{ kind: 'Group', name: 'ops', apiGroup: 'rbac.authorization.k8s.io' }],
        },
      ])
        .flat()
        .map((object, k) => ({
          object: object as K8sObject,
          source: { file: 'all.yaml', line: k + 1, document: k },
        }));
    const findings = (n: number) => {
      const objects = copies(n);
      const r = buildPostureReport(
        new PolicyEngine({}).assess(objects),
        { type: 'manifests', inputs: [] },
        {
          objects: objects.length,
        },
      );
      return new Map(
        r.recommendations.map((x) => [x.id, x.findings.map((f) => [f.message, f.resources.length])]),
      );
    };
    const two = findings(2);
    const five = findings(5);
    // the workloads break checks of every family
    for (const family of ['pss.', 'defender.', 'cis.5.1.', 'cis.5.7.']) {
      assert.ok(
        [...five.keys()].some((id) => id.startsWith(family)),
        family,
      );
    }
    assert.deepEqual([...five.keys()].sort(), [...two.keys()].sort());
    for (const [id, list] of five) {
      assert.deepEqual(
        list.map(([message]) => message),
        two.get(id)?.map(([message]) => message),
        id,
      );
      // a finding names every copy, or one object the copies share (their namespace)
      for (const [message, count] of list)
        assert.ok(count === 5 || count === 1, `${id}: ${message} on ${count}`);
    }
  });

  test('secure score follows the documented formula', () => {
    const r = report();
    // recomputed from the affected resources, not from the report's own score entries
    let points = 0;
    let total = 0;
    for (const check of [privileged, limits]) {
      const rec = r.recommendations.find((x) => x.id === check.id);
      const applicable = 4;
      const unhealthy = new Set(
        rec?.findings.flatMap((f) =>
          f.resources.map((i) => `${r.resources[i]?.namespace}/${r.resources[i]?.name}`),
        ),
      ).size;
      const w = SCORE_WEIGHTS[check.severity];
      points += (w * (applicable - unhealthy)) / applicable;
      total += w;
    }
    assert.equal(r.score.value, Math.round((1000 * points) / total) / 10);
    assert.ok(r.score.value > 0 && r.score.value < 100);
  });

  test('exempted resources count as healthy, are listed apart, and raise the score', () => {
    const exemptions = parseExemptions(
      [{ check: 'custom.privileged', resource: { name: 'a' }, reason: 'CNI agent' }],
      'ex.yaml',
    );
    const plain = report();
    const r = report({ exemptions });
    assert.equal(r.exempted.length, 1);
    assert.equal(r.exempted[0]?.exemption.reason, 'CNI agent');
    assert.equal(r.resources[r.exempted[0]?.resource ?? -1]?.name, 'a');
    assert.equal(r.exempted[0]?.container, 'c');
    assert.equal(r.recommendations.find((x) => x.id === 'custom.privileged')?.unhealthy, 1);
    assert.ok(r.score.value > plain.score.value);
  });

  test('no applicable check: score 100, no recommendations', () => {
    const engine = new PolicyEngine({}, [privileged]);
    const r = buildPostureReport(engine.assess([]), { type: 'manifests', inputs: [] }, { objects: 0 });
    assert.equal(r.score.value, 100);
    assert.equal(r.recommendations.length, 0);
  });

  test('--fail-on compares the most severe remaining recommendation', () => {
    const r = report();
    assert.equal(postureExceeds(r, 'CRITICAL'), true);
    const exemptAll = parseExemptions([{ check: 'custom.privileged', reason: 'lab cluster' }], 'ex.yaml');
    const r2 = report({ exemptions: exemptAll });
    assert.equal(postureExceeds(r2, 'CRITICAL'), false);
    assert.equal(postureExceeds(r2, 'LOW'), true);
  });

  test('JSON validates against docs/schema/posture-report-1.0.json', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    (addFormatsPlugin as unknown as (a: unknown) => void)(ajv);
    const validate = ajv.compile(
      JSON.parse(readFileSync(new URL('../../docs/schema/posture-report-1.0.json', import.meta.url), 'utf8')),
    );
    const exemptions = parseExemptions(
      [{ check: 'custom.limits', reason: 'r', expires: '2030-01-01' }],
      'ex.yaml',
    );
    for (const r of [report(), report({ exemptions })]) {
      const doc = JSON.parse(renderPosture(r, 'json'));
      assert.ok(validate(doc), ajv.errorsText(validate.errors));
    }
  });

  test('SARIF validates against the OASIS schema; results point at the manifest line', () => {
    const Ajv4 = ajvDraft04.default;
    const ajv = new Ajv4({ allErrors: true, strict: false });
    (addFormatsPlugin as unknown as (a: unknown) => void)(ajv);
    const validate = ajv.compile(
      JSON.parse(
        readFileSync(new URL('../fixtures/report/sarif-schema-2.1.0.json', import.meta.url), 'utf8'),
      ),
    );
    const sarif = JSON.parse(renderPosture(report(), 'sarif')) as {
      runs: Array<{ results: unknown[]; tool: { driver: { rules: Array<{ id: string }> } } }>;
    };
    assert.ok(validate(sarif), ajv.errorsText(validate.errors));
    const results = sarif.runs[0]?.results as Array<{
      ruleId: string;
      locations: Array<{
        physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
      }>;
    }>;
    assert.equal(results.length, 4);
    const first = results.find((x) => x.ruleId === 'custom.privileged');
    assert.equal(first?.locations[0]?.physicalLocation.artifactLocation.uri, 'deploy/all.yaml');
    assert.equal(first?.locations[0]?.physicalLocation.region.startLine, 1);
    assert.deepEqual(
      sarif.runs[0]?.tool.driver.rules.map((x) => x.id),
      ['custom.privileged', 'custom.limits'],
    );
  });

  test('table: score, each recommendation with its resources, remediation and source', () => {
    const t = renderPosture(report(), 'table');
    assert.match(t, /Secure score: [\d.]+ \/ 100/);
    assert.match(
      t,
      /\[CRITICAL\] custom\.privileged: No privileged containers \(2 of 4 resources, effect deny\)/,
    );
    assert.match(t, /x\/Pod\/b \[d\]\s+container "d" is privileged\s+deploy\/all\.yaml:13/);
    assert.match(t, /Remediation: drop securityContext\.privileged/);
    assert.match(t, /Skipped \(no check applies\): Secret 1/);
  });
});
