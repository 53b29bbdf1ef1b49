import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import yaml from 'js-yaml';
import { celStats } from '../../src/policy/cel/environment.js';
import { compileValidatingAdmissionPolicies, type VapCheck } from '../../src/policy/cel/vap.js';
import { makeInventory } from '../../src/policy/engine.js';
import type { AdmissionFacts, CheckContext, K8sObject } from '../../src/policy/types.js';

function load(name: string): K8sObject[] {
  return yaml.loadAll(
    readFileSync(new URL(`../fixtures/vap/${name}`, import.meta.url), 'utf8'),
  ) as K8sObject[];
}

function compile(...files: string[]) {
  return compileValidatingAdmissionPolicies(files.flatMap(load));
}

function ctx(inventory: K8sObject[] = [], admission?: AdmissionFacts): CheckContext {
  return {
    params: {},
    pssVersion: 37,
    inventory: makeInventory(inventory),
    ...(admission ? { admission } : {}),
  };
}

function byId(checks: VapCheck[], id: string): VapCheck {
  const c = checks.find((x) => x.id === id);
  assert.ok(c, `check ${id} among ${checks.map((x) => x.id).join(', ')}`);
  return c;
}

function deployment(name: string, replicas: number, extra: Record<string, unknown> = {}): K8sObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'web', ...extra },
    spec: { replicas, template: { spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } } },
  };
}

function pod(namespace: string, labels: Record<string, string>, images = ['nginx:1.27']): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace, labels },
    spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
  };
}

describe('ValidatingAdmissionPolicy: params, variables, messages, audit annotations', () => {
  const { checks, errors } = compile('replicas-params.yaml');
  const check = byId(checks, 'custom.replica-limit');
  const params = load('replicas-params.yaml').find((o) => o.kind === 'ConfigMap');
  const limit = Number((params?.data as { maxReplicas?: string } | undefined)?.maxReplicas);
  assert.ok(limit > 0);

  it('loads without errors into one check with metadata from the policy', () => {
    assert.deepEqual(errors, []);
    assert.equal(checks.length, 1);
    assert.equal(check.family, 'custom');
    assert.equal(check.severity, 'HIGH');
    assert.equal(check.defaultEffect, 'deny');
    assert.deepEqual([...check.kinds].sort(), ['Deployment', 'StatefulSet']);
    assert.match(check.remediation, /replica-limits ConfigMap/);
  });

  it('allows up to the param limit and denies above it with the messageExpression, reason and fieldPath', () => {
    assert.deepEqual(check.evaluate(deployment('ok', limit), ctx()), []);
    const [v, ...rest] = check.evaluate(deployment('big', limit + 2), ctx());
    assert.equal(rest.length, 0);
    assert.equal(v?.message, `spec.replicas is ${limit + 2}, over the limit of ${limit}`);
    assert.equal(v?.reason, 'Forbidden');
    assert.equal(v?.path, 'spec.replicas');
  });

  it('publishes audit annotations for matched requests, null values omitted', () => {
    const high = check.evaluateDetailed(deployment('three', limit), ctx());
    assert.deepEqual(high.auditAnnotations, { 'replica-limit/replicas': `spec.replicas set to ${limit}` });
    assert.deepEqual(check.evaluateDetailed(deployment('one', 1), ctx()).auditAnnotations, {});
    const denied = check.evaluate(deployment('big', limit + 1), ctx());
    assert.deepEqual(denied[0]?.auditAnnotations, {
      'replica-limit/replicas': `spec.replicas set to ${limit + 1}`,
    });
  });

  it('skips objects a match condition excludes', () => {
    const canary = deployment('canary', limit + 5, { labels: { canary: 'true' } });
    const r = check.evaluateDetailed(canary, ctx());
    assert.equal(r.matched, false);
    assert.deepEqual(r.violations, []);
  });

  it('skips objects outside the match constraints', () => {
    const pod: K8sObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} };
    assert.equal(check.evaluateDetailed(pod, ctx()).matched, false);
  });

  it('denies when the param is missing and parameterNotFoundAction is Deny', () => {
    const { checks: noParam } = compileValidatingAdmissionPolicies(
      load('replicas-params.yaml').filter((o) => o.kind !== 'ConfigMap'),
    );
    const [v] = byId(noParam, 'custom.replica-limit').evaluate(deployment('x', 1), ctx());
    assert.match(v?.message ?? '', /no params found/);
  });

  it('finds params in the assessed inventory too', () => {
    const objects = load('replicas-params.yaml');
    const { checks: c } = compileValidatingAdmissionPolicies(objects.filter((o) => o.kind !== 'ConfigMap'));
    const params = objects.filter((o) => o.kind === 'ConfigMap');
    assert.deepEqual(byId(c, 'custom.replica-limit').evaluate(deployment('x', 1), ctx(params)), []);
    assert.equal(byId(c, 'custom.replica-limit').evaluate(deployment('x', limit + 1), ctx(params)).length, 1);
  });

  it('compiles once: evaluating never parses again', () => {
    const before = celStats.compiled;
    for (let i = 0; i < 200; i++) check.evaluate(deployment(`d${i}`, i % (limit + 2)), ctx());
    assert.equal(celStats.compiled, before);
  });
});

describe('ValidatingAdmissionPolicy: paramRef selector and several bindings', () => {
  const { checks, errors } = compile('param-selector.yaml');
  const inventory = load('param-objects.yaml');
  const strict = byId(checks, 'custom.required-labels.strict');
  const lenient = byId(checks, 'custom.required-labels.lenient');
  const required = (ns: string) =>
    inventory
      .filter((o) => o.kind === 'ConfigMap' && o.metadata?.namespace === ns && o.metadata?.labels?.policy)
      .map((o) => (o.data as { label: string }).label);

  it('gives each binding its own check id and effect', () => {
    assert.deepEqual(errors, []);
    assert.equal(strict.defaultEffect, 'deny');
    assert.equal(lenient.defaultEffect, 'warn');
  });

  it('evaluates once per selected param in the request namespace', () => {
    const labels = required('payments');
    assert.ok(labels.length >= 2);
    const bare = strict.evaluate(pod('payments', {}), ctx(inventory));
    assert.deepEqual(bare.map((v) => v.message).sort(), labels.map((l) => `label ${l} is required`).sort());
    const all = Object.fromEntries(labels.map((l) => [l, 'x']));
    assert.deepEqual(strict.evaluate(pod('payments', all), ctx(inventory)), []);
  });

  it('applies the binding namespace selector to the namespace object', () => {
    assert.equal(strict.evaluateDetailed(pod('sandbox', {}), ctx(inventory)).matched, false);
    const [v] = lenient.evaluate(pod('sandbox', {}), ctx(inventory));
    assert.equal(v?.message, `label ${required('sandbox')[0]} is required`);
  });

  it('honours parameterNotFoundAction Deny and Allow', () => {
    assert.match(
      strict.evaluate(pod('empty-strict', {}), ctx(inventory))[0]?.message ?? '',
      /no params found/,
    );
    const unlabelledNs: K8sObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } };
    assert.deepEqual(lenient.evaluate(pod('other', {}), ctx([...inventory, unlabelledNs])), []);
  });
});

describe('ValidatingAdmissionPolicy: validationActions and audit-only policies', () => {
  const { checks, errors } = compile('actions.yaml');
  const namespaces = ['dev', 'test', 'prod'].map(
    (env): K8sObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: env, labels: { env } } }),
  );

  it('maps Warn, Audit and Audit+Deny to warn, audit and deny', () => {
    assert.deepEqual(errors, []);
    assert.equal(byId(checks, 'custom.no-latest-tag.no-latest-warn').defaultEffect, 'warn');
    assert.equal(byId(checks, 'custom.no-latest-tag.no-latest-audit').defaultEffect, 'audit');
    assert.equal(byId(checks, 'custom.no-latest-tag.no-latest-deny-audit').defaultEffect, 'deny');
    assert.equal(byId(checks, 'custom.no-latest-tag.no-latest-warn').severity, 'LOW');
    assert.equal(byId(checks, 'custom.image-audit').severity, 'MEDIUM');
  });

  it('each binding fires only in its namespaces', () => {
    const latest = (ns: string) => pod(ns, {}, ['nginx:latest']);
    for (const env of ['dev', 'test', 'prod']) {
      const fired = checks
        .filter((c) => c.policyName === 'no-latest-tag')
        .filter((c) => c.evaluate(latest(env), ctx(namespaces)).length > 0)
        .map((c) => c.bindingName);
      assert.equal(fired.length, 1, env);
      assert.ok(
        fired[0]?.endsWith(env === 'dev' ? 'warn' : env === 'test' ? '-audit' : 'deny-audit'),
        fired[0],
      );
    }
    assert.deepEqual(
      byId(checks, 'custom.no-latest-tag.no-latest-warn').evaluate(pod('dev', {}), ctx(namespaces)),
      [],
    );
  });

  it('a policy with only audit annotations reports no violation but its annotations', () => {
    const images = ['nginx:1.27', 'busybox:1.36'];
    const r = byId(checks, 'custom.image-audit').evaluateDetailed(pod('dev', {}, images), ctx(namespaces));
    assert.deepEqual(r.violations, []);
    assert.deepEqual(r.auditAnnotations, { 'image-audit/images': images.join(',') });
  });
});

describe('ValidatingAdmissionPolicy: load errors are data, naming the policy and the field', () => {
  const { checks, errors } = compile('compile-errors.yaml');
  const find = (policy: string, field: string) => errors.find((e) => e.policy === policy && e.path === field);

  it('reports syntax errors with the compiler message and position', () => {
    const e = find('broken-syntax', 'spec.validations[1].expression');
    assert.ok(e, JSON.stringify(errors, null, 1));
    assert.equal(e.kind, 'ValidatingAdmissionPolicy');
    assert.match(e.message, /Expected RPAREN.*at character/);
    assert.match(e.detail ?? '', /\^/);
    assert.equal(find('broken-syntax', 'spec.validations[0].expression'), undefined);
  });

  it('reports type errors, undeclared and forward variables, unknown functions', () => {
    assert.match(
      find('broken-types', 'spec.validations[0].expression')?.message ?? '',
      /must evaluate to bool/,
    );
    assert.match(
      find('broken-types', 'spec.validations[1].messageExpression')?.message ?? '',
      /must evaluate to string/,
    );
    assert.match(find('broken-types', 'spec.validations[2].expression')?.message ?? '', /variables\.third/);
    assert.match(find('broken-types', 'spec.validations[3].expression')?.message ?? '', /noSuchFunction/);
    assert.match(
      find('broken-types', 'spec.variables[0].expression')?.message ?? '',
      /variables\.second is not declared before/,
    );
    assert.match(find('broken-types', 'spec.matchConditions[0].expression')?.message ?? '', /variables/);
  });

  it('reports bindings to missing policies, invalid actions and policies without bindings', () => {
    const orphan = errors.find((e) => e.binding === 'orphan');
    assert.equal(orphan?.path, 'spec.policyName');
    assert.match(orphan?.message ?? '', /no-such-policy/);
    assert.match(errors.find((e) => e.binding === 'deny-and-warn')?.message ?? '', /Deny and Warn/);
    const unbound = find('unbound', 'metadata.name');
    assert.match(unbound?.message ?? '', /not evaluated/);
    assert.equal(unbound?.level, 'warning');
    assert.ok(errors.filter((e) => e.policy !== 'unbound').every((e) => e.level === 'error'));
  });

  it('keeps the valid pairs and drops every pair of a failed policy', () => {
    assert.deepEqual(
      checks.map((c) => c.id),
      ['custom.fine.fine'],
    );
  });

  it('locates errors in their file when given sources', () => {
    const objects = load('compile-errors.yaml');
    const r = compileValidatingAdmissionPolicies(objects, {
      sourceOf: (o) => ({ file: 'compile-errors.yaml', document: objects.indexOf(o) }),
    });
    const e = r.errors.find((x) => x.policy === 'broken-syntax');
    assert.deepEqual(e?.source, { file: 'compile-errors.yaml', document: 0 });
  });
});

describe('ValidatingAdmissionPolicy: failurePolicy and the authorizer', () => {
  const { checks, errors } = compile('failure-policy.yaml');
  const noPriority = deployment('d', 1);

  it('Fail turns evaluation errors into violations', () => {
    assert.deepEqual(errors, []);
    const messages = byId(checks, 'custom.fail-closed')
      .evaluate(noPriority, ctx())
      .map((v) => v.message);
    assert.equal(messages.length, 2);
    assert.match(messages[0] ?? '', /could not be evaluated.*priorityClassName.*No such key/);
    assert.match(messages[1] ?? '', /authorizer checks are not available/);
  });

  it('Ignore drops them, while a false validation still denies', () => {
    assert.deepEqual(byId(checks, 'custom.fail-open').evaluate(noPriority, ctx()), []);
    const empty = deployment('d', 1);
    (empty.spec as { template: { spec: Record<string, unknown> } }).template.spec.priorityClassName = '';
    const [v, ...rest] = byId(checks, 'custom.fail-open').evaluate(empty, ctx());
    assert.equal(v?.message, 'a priority class is required');
    assert.equal(rest.length, 0);
  });
});

describe('ValidatingAdmissionPolicy: matching and request variables', () => {
  const { checks, errors } = compile('matching.yaml');
  const owned = (owner: string, kind = 'Deployment', namespace = 'web'): K8sObject => ({
    apiVersion: kind === 'ConfigMap' ? 'v1' : 'apps/v1',
    kind,
    metadata: { name: 'x', namespace, labels: { owner } },
  });
  const update = (oldObject: K8sObject): AdmissionFacts => ({ operation: 'UPDATE', oldObject });

  it('matches operations, object selector, exclusions and the binding namespace selector', () => {
    assert.deepEqual(errors, []);
    const check = byId(checks, 'custom.immutable-owner');
    assert.deepEqual(check.kinds.includes('Deployment') && check.kinds.includes('ConfigMap'), true);
    const [v] = check.evaluate(owned('bob'), ctx([], update(owned('alice'))));
    assert.equal(v?.message, 'label owner changed from alice to bob');
    assert.deepEqual(check.evaluate(owned('alice'), ctx([], update(owned('alice')))), []);
    assert.equal(check.evaluateDetailed(owned('bob'), ctx()).matched, false, 'posture is CREATE');
    assert.equal(
      check.evaluateDetailed(owned('bob', 'ConfigMap'), ctx([], update(owned('alice', 'ConfigMap')))).matched,
      false,
    );
    assert.equal(
      check.evaluateDetailed(owned('bob', 'Deployment', 'kube-system'), ctx([], update(owned('a')))).matched,
      false,
    );
    const unlabelled: K8sObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x', namespace: 'web' },
    };
    assert.equal(check.evaluateDetailed(unlabelled, ctx([], update(unlabelled))).matched, false);
    const ns: K8sObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'web', labels: { owner: 'a' } },
    };
    assert.equal(check.evaluateDetailed(ns, ctx([], update(ns))).matched, false, 'scope Namespaced');
  });

  it('builds request from the admission facts and honours resourceNames', () => {
    const check = byId(checks, 'custom.protected-secret');
    const secret = (name: string): K8sObject => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: 'pki' },
    });
    const admin = { operation: 'UPDATE' as const, userInfo: { username: 'system:admin' } };
    assert.deepEqual(check.evaluate(secret('root-ca'), ctx([], admin)), []);
    const [v] = check.evaluate(
      secret('root-ca'),
      ctx([], { operation: 'UPDATE', userInfo: { username: 'eve' } }),
    );
    assert.equal(v?.message, 'user eve may not UPDATE secret root-ca in pki');
    const [d] = check.evaluate(
      secret('root-ca'),
      ctx([], { ...admin, operation: 'DELETE', oldObject: secret('root-ca') }),
    );
    assert.equal(d?.message, 'user system:admin may not DELETE secret root-ca in pki');
    assert.equal(check.evaluateDetailed(secret('other'), ctx([], admin)).matched, false);
  });

  it('exposes namespaceObject from the inventory, or a minimal one when absent', () => {
    const check = byId(checks, 'custom.namespace-labels');
    const team: K8sObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', labels: { team: 'a' } },
    };
    assert.deepEqual(check.evaluate(pod('shop', {}), ctx([team])), []);
    assert.equal(check.evaluate(pod('lab', {}), ctx([team]))[0]?.message, 'namespace lab has no team label');
  });
});

describe('ValidatingAdmissionPolicy: messages', () => {
  const { checks, errors } = compile('messages.yaml');
  const policy = load('messages.yaml')[0] as {
    spec: { validations: Array<{ expression: string; message?: string }> };
  };
  const cm = (keys: string[]): K8sObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'cm' },
    data: Object.fromEntries(keys.map((k) => [k, 'x'])),
  });

  it('uses messageExpression, else message (expression error, blank or multi-line), else the expression', () => {
    assert.deepEqual(errors, []);
    const got = byId(checks, 'custom.messages')
      .evaluate(cm([]), ctx())
      .map((v) => v.message);
    const v = policy.spec.validations;
    assert.deepEqual(got, [
      'data.a is missing from cm',
      v[1]?.message,
      v[2]?.message,
      v[3]?.message,
      `failed expression: ${v[4]?.expression}`,
    ]);
  });

  it('reports nothing once every validation holds', () => {
    assert.deepEqual(byId(checks, 'custom.messages').evaluate(cm(['a', 'b', 'c', 'd', 'e']), ctx()), []);
  });
});
