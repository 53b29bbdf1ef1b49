/**
 * The webhook with the real catalogue, driven over HTTPS by AdmissionReviews built from the Pod Security
 * Standards conformance fixtures and Gatekeeper's UPDATE samples.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { load } from 'js-yaml';
import { PSS_CHECKS, PSS_LATEST, type PssLevel, pssCheckIds } from '../../src/policy/checks/pss.js';
import { type PolicyConfig, PolicyEngine } from '../../src/policy/engine.js';
import type { K8sObject } from '../../src/policy/types.js';
import { type Harness, startHarness } from './helpers.js';

const PSS = join(import.meta.dirname, '../fixtures/pss');
const GATEKEEPER = join(import.meta.dirname, '../fixtures/admission/gatekeeper');

interface Row {
  check: string;
  level: PssLevel;
  substring: string;
}

/** file prefix → PSA check id, level and expected message substring (the fixtures' README table). */
function readmeTable(): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const line of readFileSync(join(PSS, 'README.md'), 'utf8').split('\n')) {
    const m = /^\| ([a-z_]+) \| (\w+) \| (baseline|restricted) \| [^|]+ \| `([^`]+)` \|$/.exec(line);
    if (m)
      rows.set(m[1] as string, { check: m[2] as string, level: m[3] as PssLevel, substring: m[4] as string });
  }
  return rows;
}

interface Fixture {
  path: string;
  level: PssLevel;
  version: number;
  expect: 'pass' | 'fail';
  prefix: string;
  text: string;
}

function pssFixtures(): Fixture[] {
  const packed = JSON.parse(readFileSync(join(PSS, 'pss-fixtures.json'), 'utf8')) as {
    files: Record<string, string>;
    contents: Record<string, string>;
  };
  return Object.entries(packed.files).map(([path, hash]) => {
    const m = /^(baseline|restricted)\/v1\.(\d+)\/(pass|fail)\/([a-z_]+?)\d*\.yaml$/.exec(path);
    assert.ok(m, path);
    return {
      path,
      level: m[1] as PssLevel,
      version: Number(m[2]),
      expect: m[3] as 'pass' | 'fail',
      prefix: m[4] as string,
      text: packed.contents[hash] as string,
    };
  });
}

/** Our check for a PSA check id at a level/version: itself, or the restricted check that replaces it there. */
function responsibleCheck(psa: string, level: PssLevel, version: number): string {
  const active = new Set(pssCheckIds(level, version));
  const named = PSS_CHECKS.find((c) => c.references?.pss === psa);
  assert.ok(named, `no check for PSA ${psa}`);
  if (active.has(named.id)) return named.id;
  const over = PSS_CHECKS.find((c) => c.references?.overrides === named.id && active.has(c.id));
  assert.ok(over, `${named.id} is not active at ${level} v1.${version} and nothing replaces it`);
  return over.id;
}

describe('Pod Security Standards fixtures through the webhook', () => {
  const table = readmeTable();
  const all = pssFixtures();
  const groups = new Map<string, Fixture[]>();
  for (const f of all) {
    const key = `${f.level}@${f.version}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  // consecutive versions mostly hold byte-identical fixtures (README); the engine's own tests run them
  // all. Through HTTPS: every fixture of the newest version, and of older versions those that are new or
  // changed since the version before
  const changed = new Map<string, Fixture[]>();
  for (const level of ['baseline', 'restricted'] as const) {
    let prev = new Map<string, string>();
    for (let v = 0; v <= PSS_LATEST; v++) {
      const list = groups.get(`${level}@${v}`);
      if (!list) continue;
      const rel = (f: Fixture) => f.path.split('/').slice(2).join('/');
      const picked = v === PSS_LATEST ? list : list.filter((f) => prev.get(rel(f)) !== f.text);
      if (picked.length > 0) changed.set(`${level}@${v}`, picked);
      prev = new Map(list.map((f) => [rel(f), f.text]));
    }
  }

  test('PSS checks with effect deny: pass fixtures allowed, fail fixtures denied by their check', async () => {
    assert.ok(all.length > 4000, `${all.length} fixtures`);
    assert.ok(changed.size >= 10, [...changed.keys()].join(' '));
    let denied = 0;
    for (const [key, list] of changed) {
      const [level, version] = [key.split('@')[0] as PssLevel, Number(key.split('@')[1])];
      const cfg: PolicyConfig = { pss: { level, version }, checks: { 'pss.*': { effect: 'deny' } } };
      const h = await startHarness({ engine: new PolicyEngine(cfg) });
      try {
        await Promise.all(
          list.map(async (f, i) => {
            const pod = load(f.text) as K8sObject;
            const out = await h.review({ uid: `${key}-${i}`, object: pod, namespace: 'team-a' });
            const r = out.response;
            assert.equal(r?.uid, `${key}-${i}`);
            if (f.expect === 'pass') {
              assert.equal(r?.allowed, true, `${f.path}: ${r?.status?.message}`);
              return;
            }
            const row = table.get(f.prefix);
            assert.ok(row, `${f.path}: prefix not in the README table`);
            const id = responsibleCheck(row.check, level, version);
            const substring =
              id === PSS_CHECKS.find((c) => c.references?.pss === row.check)?.id
                ? row.substring
                : [...table.values()].find(
                    (x) => PSS_CHECKS.find((c) => c.id === id)?.references?.pss === x.check,
                  )?.substring;
            assert.equal(r?.allowed, false, `${f.path} should be denied by ${id}`);
            assert.equal(r?.status?.code, 403);
            const line = (r?.status?.message ?? '').split('\n').find((l) => l.startsWith(`[${id}] `));
            assert.ok(line, `${f.path}: no [${id}] line in ${r?.status?.message}`);
            assert.ok(substring && line.includes(substring), `${f.path}: "${line}" lacks "${substring}"`);
            denied++;
          }),
        );
      } finally {
        await h.close();
      }
    }
    assert.equal(denied, [...changed.values()].flat().filter((f) => f.expect === 'fail').length);
  });

  test('default effects at the newest version: baseline warns, restricted audits', async () => {
    const h = await startHarness({
      engine: new PolicyEngine({ pss: { level: 'restricted', version: PSS_LATEST } }),
    });
    try {
      const fails = groups.get(`restricted@${PSS_LATEST}`)?.filter((f) => f.expect === 'fail') ?? [];
      assert.ok(fails.length > 20);
      for (const f of fails) {
        const row = table.get(f.prefix) as Row;
        const id = responsibleCheck(row.check, 'restricted', PSS_LATEST);
        const effect = PSS_CHECKS.find((c) => c.id === id)?.defaultEffect;
        const out = await h.review({ object: load(f.text) as K8sObject });
        const r = out.response;
        assert.equal(r?.allowed, true, f.path);
        if (effect === 'warn') {
          assert.ok(
            r?.warnings?.some((w) => w.startsWith(`[${id}] `)),
            `${f.path}: ${JSON.stringify(r)}`,
          );
        } else {
          assert.equal(effect, 'audit');
          assert.ok(r?.auditAnnotations?.[id], `${f.path}: ${JSON.stringify(r)}`);
        }
      }
    } finally {
      await h.close();
    }
  });
});

describe("Gatekeeper's UPDATE samples", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ engine: new PolicyEngine({ checks: { '*': { effect: 'deny' } } }) });
  });
  after(() => h.close());

  const samples = readdirSync(GATEKEEPER)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => {
      const review = load(readFileSync(join(GATEKEEPER, f), 'utf8')) as {
        request: { operation: string; object: K8sObject; oldObject?: K8sObject };
      };
      return { file: f, request: review.request };
    });

  test('every sample is an UPDATE of a Pod without an oldObject', () => {
    assert.equal(samples.length, 15);
    for (const s of samples) {
      assert.equal(s.request.operation, 'UPDATE', s.file);
      assert.equal(s.request.object.kind, 'Pod', s.file);
      assert.equal(s.request.oldObject, undefined, s.file);
    }
  });

  test('as sent (no oldObject) and with an identical oldObject: allowed; as CREATE or with a changed image: denied', async () => {
    for (const s of samples) {
      const object = s.request.object;
      const asSent = await h.review({ operation: 'UPDATE', object: structuredClone(object) });
      assert.equal(asSent.response?.allowed, true, s.file);
      const same = await h.review({
        operation: 'UPDATE',
        object: structuredClone(object),
        oldObject: structuredClone(object),
      });
      assert.equal(same.response?.allowed, true, s.file);
      const created = await h.review({ operation: 'CREATE', object: structuredClone(object) });
      assert.equal(created.response?.allowed, false, `${s.file}: CREATE should be denied`);
      const old = structuredClone(object);
      const c = (old.spec as { containers: Array<{ image: string }> }).containers[0];
      if (c) c.image = `${c.image}-previous`;
      const changed = await h.review({
        operation: 'UPDATE',
        object: structuredClone(object),
        oldObject: old,
      });
      assert.equal(changed.response?.allowed, false, `${s.file}: a changed image is evaluated`);
      assert.equal(changed.response?.status?.message, created.response?.status?.message, s.file);
    }
  });
});
