/**
 * What lets `moat posture` split a large run among worker threads (src/posture/shard.ts) and still make
 * the report one thread makes: the engine's remote protocol (a worker's violations replayed in input
 * order) reproduces `assess` exactly, over the manifest corpora with the whole default catalogue; every
 * check that reads the inventory names the kinds it reads (the threads share only those whole), and the
 * cluster-scope checks marked metadata-only find the same on metadata-only copies. The worker threads
 * themselves need the built JavaScript: test/e2e/posture.test.ts runs them through the CLI.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { BUILTIN_CHECKS } from '../../src/policy/checks/index.js';
import { type Assessment, makeInventory, PolicyEngine } from '../../src/policy/engine.js';
import { parseExemptions } from '../../src/policy/exemptions.js';
import { withObjectCache } from '../../src/policy/k8s.js';
import type { CheckContext, Inventory, K8sObject, SourcedObject } from '../../src/policy/types.js';
import { loadManifests, type ManifestItem } from '../../src/posture/manifests.js';
import { metadataOf, splitParts } from '../../src/posture/shard.js';

const CORPORA = join(import.meta.dirname, '../fixtures/k8s-manifests');

let objects: SourcedObject[] = [];
before(async () => {
  const load = await loadManifests(
    ['badpods', 'kubernetes-goat', 'kubernetes-examples', 'checkov', 'polaris'].map((d) => join(CORPORA, d)),
  );
  objects = load.objects;
});

/**
 * The sharded run in one thread: objects [cut, end) are a worker's. It sends the main thread metadata
 * only, except the shared kinds; it evaluates with the others' shared kinds and its own objects whole.
 */
function sharded(engine: PolicyEngine, all: readonly SourcedObject[], cut: number): Assessment {
  const kinds = engine.sharedKinds();
  assert.ok(kinds, 'the default catalogue can be split');
  const mine = all.slice(0, cut);
  const theirs = all.slice(cut);
  const isShared = (o: K8sObject) => kinds.has(o.kind ?? '');
  // structuredClone: what postMessage does to both messages
  const received = structuredClone(theirs.map((o) => (isShared(o.object) ? o.object : metadataOf(o.object))));
  const inventory = [
    ...structuredClone(mine.filter((o) => isShared(o.object)).map((o) => o.object)),
    ...theirs.map((o) => o.object),
  ];
  const worker = new PolicyEngine({ ...engineConfig });
  const violations = structuredClone(
    worker.evaluateRemote(
      theirs.map((o) => o.object),
      inventory,
    ),
  );
  const load = [...mine, ...received.map((object, k) => ({ object, source: theirs[k]?.source ?? {} }))];
  const run = engine.begin(load);
  run.evaluate(0, cut);
  run.evaluate(cut, load.length, { isRemote: () => true, violations });
  return run.finish();
}

const engineConfig = {
  // labels decide this exemption: the main thread matches it on the metadata a worker sent
  exemptions: parseExemptions(
    [{ check: 'pss.*', resource: { labels: { app: 'nginx' } }, reason: 'test' }],
    'ex.yaml',
  ),
  now: new Date('2026-01-01T00:00:00Z'),
};

/** What a report is made of, comparable across runs (the workers' objects are other objects). */
function view(a: Assessment) {
  return {
    results: a.results.map((r, i) => ({ ...r, id: a.columns.resource[i] })),
    exempted: a.exempted.map((r, i) => ({ ...r, id: a.exemptedResources[i] })),
    resources: a.resources,
    applicable: a.applicable,
    evaluated: a.evaluated,
    skipped: a.skipped,
    errors: a.errors,
  };
}

describe('posture split among threads', () => {
  test('a worker part replayed in order gives the assessment of one thread', () => {
    const whole = view(new PolicyEngine(engineConfig).assess(objects));
    assert.ok(whole.results.length > 1000 && whole.exempted.length > 0, 'the corpora exercise it');
    for (const cut of [0, Math.floor(objects.length / 3), objects.length - 1]) {
      const split = view(sharded(new PolicyEngine(engineConfig), objects, cut));
      assert.deepEqual(split, whole, `cut at ${cut}`);
    }
  });

  test('a check that throws on a worker object is reported as it is in one thread', () => {
    const boom = {
      ...BUILTIN_CHECKS.find((c) => c.id === 'pss.baseline.privileged'),
      id: 'custom.boom',
      family: 'custom' as const,
      evaluate(o: K8sObject) {
        if (o.metadata?.name === 'nginx-deployment') throw new Error('boom');
        return [];
      },
    };
    const engine = () => new PolicyEngine({}, [...BUILTIN_CHECKS, boom as (typeof BUILTIN_CHECKS)[number]]);
    const whole = engine().assess(objects);
    assert.ok(whole.errors.some((e) => e.message === 'boom'));
    // a custom catalogue is not split by moat posture; the protocol still carries the error
    const e = engine();
    const worker = engine();
    const violations = structuredClone(
      worker.evaluateRemote(
        objects.map((o) => o.object),
        objects.map((o) => o.object),
      ),
    );
    const run = e.begin(objects);
    run.evaluate(0, objects.length, { isRemote: () => true, violations });
    assert.deepEqual(view(run.finish()), view(whole));
  });

  test('evaluating out of order, or replaying other objects than the worker evaluated, is an error', () => {
    const e = new PolicyEngine({});
    const run = e.begin(objects);
    assert.throws(() => run.evaluate(1, 2), /out of order/);
    const violations = new PolicyEngine({}).evaluateRemote(
      objects.slice(0, 5).map((o) => o.object),
      [],
    );
    assert.throws(
      () => run.evaluate(0, 10, { isRemote: () => true, violations }),
      /other objects than those replayed/,
    );
  });

  test('every check that reads the inventory names what it reads; metadata-only cluster checks need no more', () => {
    const inv = makeInventory(objects.map((o) => o.object));
    for (const check of BUILTIN_CHECKS) {
      const read = new Set<string>();
      const recording: Inventory = {
        get objects() {
          read.add('*');
          return inv.objects;
        },
        byKind(kind) {
          read.add(kind);
          return inv.byKind(kind);
        },
      };
      const params = Object.fromEntries(check.parameters.map((p) => [p.name, structuredClone(p.default)]));
      const ctx: CheckContext = { params, pssVersion: 37, inventory: recording };
      withObjectCache(() => {
        if (check.scope === 'object') {
          for (const { object } of objects)
            if (check.kinds.includes(object.kind ?? '')) check.evaluate(object, ctx);
          const undeclared = [...read].filter((k) => !(check.reads ?? []).includes(k));
          assert.deepEqual(undeclared, [], `${check.id} reads the inventory's ${undeclared.join(', ')}`);
        } else if (check.metadataOnly) {
          const full = check.evaluateCluster({ ...ctx, inventory: inv });
          const meta = makeInventory(objects.map((o) => metadataOf(o.object)));
          const fromMeta = check.evaluateCluster({ ...ctx, inventory: meta });
          const describe = (v: (typeof full)[number]) =>
            `${v.message} ${v.path} ${v.resource?.kind}/${v.resource?.metadata?.name}`;
          assert.deepEqual(fromMeta.map(describe), full.map(describe), check.id);
        }
      });
    }
    const kinds = new PolicyEngine({}).sharedKinds();
    assert.deepEqual([...(kinds ?? [])].sort(), ['ClusterRole', 'Role', 'Service', 'ServiceAccount']);
  });

  test('a catalogue with custom checks, or one that needs workloads whole, is not split', () => {
    const custom = {
      ...BUILTIN_CHECKS[0],
      id: 'custom.x',
      family: 'custom',
    } as (typeof BUILTIN_CHECKS)[number];
    assert.equal(new PolicyEngine({ extraChecks: [custom] }).sharedKinds(), undefined);
    assert.equal(new PolicyEngine({}, [custom]).sharedKinds(), undefined);
  });

  test('parts: contiguous, the main thread with the smaller share, a file where most of it falls', () => {
    const items: ManifestItem[] = Array.from({ length: 10 }, (_, i) => ({ file: `f${i}` }));
    const files = (parts: ManifestItem[][] | undefined) =>
      parts?.map((p) => p.map((x) => ('file' in x ? x.file : 'error')));
    const even = splitParts(items, Array(10).fill(100), 2);
    assert.deepEqual(files(even)?.flat(), files([items])?.flat());
    assert.ok((even?.[0]?.length ?? 0) < (even?.[1]?.length ?? 0), 'the main thread reads less');
    assert.equal(splitParts(items, Array(10).fill(100), 4)?.length, 4);
    // one big file holds most bytes: it cannot be cut
    assert.equal(splitParts(items.slice(0, 1), [1000], 2), undefined);
    // a big file spans two parts' shares: fewer parts
    assert.deepEqual(files(splitParts(items.slice(0, 2), [10, 1000], 3)), [['f0'], ['f1']]);
    assert.deepEqual(files(splitParts(items.slice(0, 3), [10, 1000, 10], 3)), [['f0'], ['f1'], ['f2']]);
  });
});
