import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import yaml from 'js-yaml';
import { compileValidatingAdmissionPolicies } from '../../src/policy/cel/vap.js';
import { makeInventory, PolicyEngine } from '../../src/policy/engine.js';
import type { K8sObject } from '../../src/policy/types.js';

/**
 * The shipped Pod Security Standards baseline policy (data/policies/pss-baseline-vap.yaml) against the
 * upstream PSS fixtures the built-in checks use: pass files allowed, fail files denied with the README's
 * message substring for the check their file prefix names.
 */
const root = new URL('../../', import.meta.url);
const fixtures = JSON.parse(readFileSync(new URL('test/fixtures/pss/pss-fixtures.json', root), 'utf8')) as {
  files: Record<string, string>;
  contents: Record<string, string>;
};
const readme = readFileSync(new URL('test/fixtures/pss/README.md', root), 'utf8');

/** file prefix -> expected message substring, for baseline checks (README table) */
const substrings = new Map<string, string>();
for (const line of readme.split('\n')) {
  const cells = line.split('|').map((c) => c.trim());
  if (cells.length < 7 || cells[3] !== 'baseline') continue;
  substrings.set(cells[1] as string, (cells[5] as string).replace(/`/g, ''));
}

// Semantics of the newest version (v1.37) hold from v1.35, where procMount last changed (README); v1.37
// only grows the sysctl allow list, which cannot turn a v1.35/v1.36 pass file into a failure.
const VERSIONS = [35, 36, 37];
const cases = Object.entries(fixtures.files)
  .map(([path, hash]) => ({
    path,
    m: /^baseline\/v1\.(\d+)\/(pass|fail)\/([a-z_]+?)\d*\.yaml$/.exec(path),
    hash,
  }))
  .filter((c) => c.m && VERSIONS.includes(Number(c.m[1])))
  .map((c) => ({
    path: c.path,
    pass: c.m?.[2] === 'pass',
    prefix: c.m?.[3] as string,
    pod: yaml.load(fixtures.contents[c.hash] as string) as K8sObject,
  }));

const policyFile = new URL('data/policies/pss-baseline-vap.yaml', root);
const { checks, errors } = compileValidatingAdmissionPolicies(
  yaml.loadAll(readFileSync(policyFile, 'utf8')) as K8sObject[],
);
const ctx = { params: {}, pssVersion: 37, inventory: makeInventory([]) };

describe('Pod Security Standards baseline as a ValidatingAdmissionPolicy', () => {
  it('loads as one denying check over pods and pod-template owners', () => {
    assert.deepEqual(errors, []);
    assert.equal(checks.length, 1);
    assert.equal(checks[0]?.id, 'custom.pss-baseline');
    assert.equal(checks[0]?.defaultEffect, 'deny');
    for (const k of ['Pod', 'Deployment', 'CronJob', 'Job', 'DaemonSet', 'StatefulSet'])
      assert.ok(checks[0]?.kinds.includes(k), k);
  });

  it('has fixtures for every baseline check of the README', () => {
    const prefixes = new Set(cases.filter((c) => !c.pass).map((c) => c.prefix));
    assert.ok(substrings.size >= 12);
    for (const p of substrings.keys()) assert.ok(prefixes.has(p), p);
  });

  it('allows every pass fixture', () => {
    const pass = cases.filter((c) => c.pass);
    assert.ok(pass.length > 30);
    for (const c of pass)
      assert.deepEqual(
        checks[0]?.evaluate(c.pod, ctx).map((v) => v.message),
        [],
        c.path,
      );
  });

  it("denies every fail fixture with the README's message substring", () => {
    const fail = cases.filter((c) => !c.pass);
    assert.ok(fail.length > 60);
    for (const c of fail) {
      const want = substrings.get(c.prefix);
      assert.ok(want, `README has no substring for ${c.prefix}`);
      const messages = checks[0]?.evaluate(c.pod, ctx).map((v) => v.message) ?? [];
      assert.ok(
        messages.some((m) => m.includes(want)),
        `${c.path}: ${JSON.stringify(messages)} lacks "${want}"`,
      );
    }
  });

  it('evaluates pod templates the same way, through the engine', () => {
    const wrap = (c: (typeof cases)[number]): K8sObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: c.path, namespace: 'apps' },
      spec: { template: { metadata: c.pod.metadata, spec: c.pod.spec } },
    });
    const sample = cases.filter((c) => c.path.includes('/v1.37/'));
    const engine = new PolicyEngine({ extraChecks: checks }, []);
    const out = engine.assess(
      sample.map((c, i) => ({ object: wrap(c), source: { file: 'mem', document: i } })),
    );
    assert.deepEqual(out.errors, []);
    const denied = new Set(out.results.map((r) => r.resource.name));
    for (const c of sample) assert.equal(denied.has(c.path), !c.pass, c.path);
  });

  it('leaves kube-system alone (binding namespace selector)', () => {
    const bad = cases.find((c) => !c.pass && c.prefix === 'privileged')?.pod as K8sObject;
    const inSystem = { ...bad, metadata: { ...bad.metadata, namespace: 'kube-system' } };
    assert.equal(checks[0]?.evaluateDetailed(inSystem, ctx).matched, false);
  });
});
