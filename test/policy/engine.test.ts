/**
 * The engine's own logic, independent of any catalogue: which checks run (defaults, --checks globs,
 * --pss, configuration-required, disabled), how effects and parameters are merged (globs, then exact
 * ids), namespace exclusions, exemptions (selectors, labels, expiry), cluster-scope checks and the
 * counts the secure score is built on. The checks here are small literals so that each rule is seen.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isMoatError } from '../../src/errors.js';
import { BUILTIN_CHECKS } from '../../src/policy/checks/index.js';
import { PSS_LATEST, pssCheckIds } from '../../src/policy/checks/pss.js';
import { PolicyEngine, parsePssSpec } from '../../src/policy/engine.js';
import { parseExemptions } from '../../src/policy/exemptions.js';
import { containersOf, POD_KINDS, podSpecOf } from '../../src/policy/k8s.js';
import type { Check, K8sObject, ObjectCheck, SourcedObject } from '../../src/policy/types.js';

/** Flags every container whose image ends with `:latest` (or has no tag) unless its registry is allowed. */
const latestTag: ObjectCheck = {
  id: 'test.image.latest',
  family: 'custom',
  title: 'latest tag',
  description: 'images should be pinned',
  severity: 'MEDIUM',
  remediation: 'pin the image',
  category: 'Images',
  kinds: POD_KINDS,
  parameters: [
    { name: 'allowedRegistries', type: 'string-list', description: 'registries allowed latest', default: [] },
    { name: 'excludedNamespaces', type: 'string-list', description: 'skipped', default: ['kube-system'] },
  ],
  defaultEffect: 'warn',
  scope: 'object',
  evaluate(obj, ctx) {
    const spec = podSpecOf(obj);
    if (!spec) return [];
    const allowed = ctx.params.allowedRegistries as string[];
    return containersOf(spec)
      .filter((c) => {
        const image = String(c.container.image ?? '');
        return (
          (image.endsWith(':latest') || !image.includes(':')) &&
          !allowed.some((r) => image.startsWith(`${r}/`))
        );
      })
      .map((c) => ({
        message: `container "${c.name}" uses ${String(c.container.image)}`,
        container: c.name,
        path: `${c.path}.image`,
      }));
  },
};

const needsConfig: ObjectCheck = {
  ...latestTag,
  id: 'test.registry.allowed',
  parameters: [{ name: 'pattern', type: 'string', description: 'allowed image regex', default: '^(.+){0}$' }],
  configurationRequired: true,
  evaluate(obj, ctx) {
    const spec = podSpecOf(obj);
    if (!spec) return [];
    const re = new RegExp(String(ctx.params.pattern));
    return containersOf(spec)
      .filter((c) => !re.test(String(c.container.image)))
      .map((c) => ({ message: `container "${c.name}" image not allowed`, container: c.name }));
  },
};

const offByDefault: ObjectCheck = { ...latestTag, id: 'test.off', defaultEffect: 'disabled' };

const nsWithoutPolicy: Check = {
  id: 'test.netpol',
  family: 'cis',
  title: 'namespaces have a NetworkPolicy',
  description: '',
  severity: 'HIGH',
  remediation: 'add one',
  category: 'Network',
  kinds: ['Namespace'],
  parameters: [],
  defaultEffect: 'audit',
  scope: 'cluster',
  reads: ['NetworkPolicy'],
  evaluateCluster(ctx) {
    const covered = new Set(ctx.inventory.byKind('NetworkPolicy').map((p) => p.metadata?.namespace));
    return ctx.inventory
      .byKind('Namespace')
      .filter((n) => !covered.has(n.metadata?.name))
      .map((n) => ({ message: `namespace ${n.metadata?.name} has no NetworkPolicy`, resource: n }));
  },
};

const CHECKS = [latestTag, needsConfig, offByDefault, nsWithoutPolicy];

function deployment(
  name: string,
  ns: string,
  images: string[],
  labels: Record<string, string> = {},
): K8sObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      template: {
        metadata: { labels },
        spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
      },
    },
  };
}

function sourced(objects: K8sObject[]): SourcedObject[] {
  return objects.map((object, i) => ({ object, source: { file: 'm.yaml', line: 1 + i * 10, document: i } }));
}

const OBJECTS = sourced([
  deployment('web', 'shop', ['nginx:latest', 'registry.local/side:latest']),
  deployment('api', 'shop', ['registry.local/api:1.2']),
  deployment('dns', 'kube-system', ['coredns']),
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'quiet' } },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'deny', namespace: 'quiet' },
  },
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'shop' } },
]);

describe('policy engine', () => {
  test('defaults: disabled and configuration-required checks stay off; the rest run with their default effect', () => {
    const e = new PolicyEngine({}, CHECKS);
    assert.deepEqual(
      e.active.map((a) => [a.check.id, a.effect]),
      [
        ['test.image.latest', 'warn'],
        ['test.netpol', 'audit'],
      ],
    );
  });

  test('object checks report each violating container with its path; excluded namespaces are not evaluated', () => {
    const a = new PolicyEngine({}, CHECKS).assess(OBJECTS);
    const latest = a.results.filter((r) => r.checkId === 'test.image.latest');
    assert.deepEqual(
      latest.map((r) => [r.resource.name, r.resource.container, r.path]),
      [
        ['web', 'c0', 'spec.template.spec.containers[0].image'],
        ['web', 'c1', 'spec.template.spec.containers[1].image'],
      ],
    );
    assert.equal(latest[0]?.resource.source?.line, 1);
    // web and api are applicable; dns sits in an excluded namespace
    assert.equal(a.applicable['test.image.latest'], 2);
    assert.deepEqual(a.skipped, { ConfigMap: 1 });
    assert.equal(a.evaluated.Deployment, 3);
  });

  test('cluster-scope checks see the whole inventory and name the resource', () => {
    const a = new PolicyEngine({}, CHECKS).assess(OBJECTS);
    const np = a.results.filter((r) => r.checkId === 'test.netpol');
    assert.deepEqual(
      np.map((r) => [r.resource.kind, r.resource.name, r.resource.source?.line]),
      [['Namespace', 'shop', 31]],
    );
    assert.equal(a.applicable['test.netpol'], 2);
  });

  test('parameters: glob settings first, exact ids win; a configured configuration-required check runs', () => {
    const e = new PolicyEngine(
      {
        checks: {
          'test.*': { effect: 'deny', params: { allowedRegistries: ['nowhere'] } },
          'test.image.latest': { params: { allowedRegistries: ['registry.local'] } },
          'test.registry.allowed': { params: { pattern: '^registry\\.local/' } },
        },
      },
      CHECKS,
    );
    const byId = Object.fromEntries(e.active.map((a) => [a.check.id, a]));
    assert.equal(byId['test.image.latest']?.effect, 'deny');
    assert.deepEqual(byId['test.image.latest']?.params.allowedRegistries, ['registry.local']);
    assert.equal(byId['test.registry.allowed']?.effect, 'deny');
    const a = e.assess(OBJECTS);
    assert.deepEqual(
      a.results.filter((r) => r.checkId === 'test.image.latest').map((r) => r.resource.container),
      ['c0'],
    );
    assert.deepEqual(
      a.results
        .filter((r) => r.checkId === 'test.registry.allowed')
        .map((r) => `${r.resource.name}/${r.resource.container}`),
      // this check has no excludedNamespaces parameter, so kube-system is evaluated too
      ['web/c0', 'dns/c0'],
    );
  });

  test('disabled by configuration; unknown ids in configuration or --checks are usage errors', () => {
    const e = new PolicyEngine({ checks: { 'test.netpol': { effect: 'disabled' } } }, CHECKS);
    assert.ok(!e.active.some((a) => a.check.id === 'test.netpol'));
    for (const cfg of [{ checks: { 'no.such': { effect: 'deny' as const } } }, { select: ['no.such'] }]) {
      assert.throws(
        () => new PolicyEngine(cfg, CHECKS),
        (err: unknown) => isMoatError(err) && err.code === 'USAGE' && /no\.such/.test(err.message),
      );
    }
  });

  test('--checks selects by id and glob', () => {
    const e = new PolicyEngine({ select: ['test.net*'] }, CHECKS);
    assert.deepEqual(
      e.active.map((a) => a.check.id),
      ['test.netpol'],
    );
  });

  test('exemptions: check glob + resource selector + labels; expired ones stop applying and are reported', () => {
    const objects = sourced([
      deployment('web', 'shop', ['nginx:latest'], { tier: 'front' }),
      deployment('web2', 'shop', ['nginx:latest'], { tier: 'back' }),
    ]);
    const exemptions = parseExemptions(
      [
        {
          check: 'test.image.*',
          resource: { namespace: 'shop', name: 'web*', labels: { tier: 'front' } },
          reason: 'vendor image',
        },
        {
          check: 'test.image.latest',
          resource: { name: 'web2' },
          reason: 'old waiver',
          expires: '2020-01-31',
        },
      ],
      'ex.yaml',
    );
    const a = new PolicyEngine({ exemptions, now: new Date('2026-01-01T00:00:00Z') }, CHECKS).assess(objects);
    assert.deepEqual(
      a.exempted.map((r) => [r.resource.name, r.exemption?.reason]),
      [['web', 'vendor image']],
    );
    assert.deepEqual(
      a.results.filter((r) => r.checkId === 'test.image.latest').map((r) => r.resource.name),
      ['web2'],
    );
    assert.deepEqual(
      a.expiredExemptions.map((e) => e.reason),
      ['old waiver'],
    );
    // the expiry day itself still counts
    const onTheDay = new PolicyEngine({ exemptions, now: new Date('2020-01-31T18:00:00Z') }, CHECKS).assess(
      objects,
    );
    assert.equal(onTheDay.exempted.length, 2);
  });

  test('malformed exemptions are usage errors naming the file and entry', () => {
    for (const [doc, pattern] of [
      [[{ reason: 'x' }], /entry 1: "check"/],
      [[{ check: 'a' }], /entry 1: "reason"/],
      [[{ check: 'a', reason: 'r', expires: 'soon' }], /not a date/],
      [[{ check: 'a', reason: 'r', resource: { nam: 'x' } }], /unknown resource field "nam"/],
      [{ nope: 1 }, /expected a list/],
    ] as const) {
      assert.throws(
        () => parseExemptions(doc, 'ex.yaml'),
        (e: unknown) =>
          isMoatError(e) && e.message.startsWith('exemptions file ex.yaml') && pattern.test(e.message),
      );
    }
  });

  test('a check that throws is reported as an error on that resource; the others go on', () => {
    const boom: ObjectCheck = {
      ...latestTag,
      id: 'test.boom',
      evaluate() {
        throw new Error('kaput');
      },
    };
    const a = new PolicyEngine({}, [boom, latestTag]).assess(OBJECTS);
    assert.equal(a.errors.length, 2);
    assert.match(a.errors[0]?.message ?? '', /kaput/);
    assert.equal(a.results.length, 2);
  });

  test('review (admission) runs object checks only, for one object', () => {
    const e = new PolicyEngine({}, CHECKS);
    const r = e.review(deployment('web', 'shop', ['nginx']), { operation: 'CREATE' });
    assert.deepEqual(
      r.results.map((x) => x.checkId),
      ['test.image.latest'],
    );
    assert.deepEqual(
      e.review({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }, { operation: 'CREATE' })
        .results,
      [],
    );
  });

  test('check ids are unique across the built-in catalogue', () => {
    const ids = BUILTIN_CHECKS.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.throws(() => new PolicyEngine({}, [latestTag, latestTag]), /two checks have the id/);
  });
});

describe('--pss', () => {
  test('parses level and version', () => {
    assert.deepEqual(parsePssSpec('baseline'), { level: 'baseline', version: PSS_LATEST });
    assert.deepEqual(parsePssSpec('restricted@v1.30'), { level: 'restricted', version: 30 });
    assert.deepEqual(parsePssSpec('restricted@latest'), { level: 'restricted', version: PSS_LATEST });
    for (const bad of ['privileged', 'baseline@1', 'restricted@v2.0', `baseline@v1.${PSS_LATEST + 1}`]) {
      assert.throws(
        () => parsePssSpec(bad),
        (e: unknown) => isMoatError(e) && e.code === 'USAGE',
      );
    }
  });

  test('selects exactly the PSS checks of that level and version', () => {
    for (const [level, version] of [
      ['baseline', 10],
      ['restricted', 30],
      ['restricted', PSS_LATEST],
    ] as const) {
      const e = new PolicyEngine({ pss: { level, version } });
      assert.deepEqual(e.active.map((a) => a.check.id).sort(), [...pssCheckIds(level, version)].sort());
      assert.equal(e.pssVersion, version);
    }
  });
});
