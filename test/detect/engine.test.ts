/**
 * The rule loader's stages and the detector's machinery, on small rule files written here and real
 * audit events from the Falco trace files: load errors with file and line, exceptions from a user
 * file, count / distinct / first-seen aggregation, dedup windows, the verb/resource index and bounds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createDetector } from '../../src/detect/engine/detector.js';
import type { AuditEvent } from '../../src/detect/event.js';
import { compileRuleSources, type LoadedRules } from '../../src/detect/rules/load.js';

const FIX = join(import.meta.dirname, '../fixtures/detect');

function event(file: string): AuditEvent {
  return JSON.parse(
    readFileSync(join(FIX, 'falco-events', file), 'utf8').split('\n')[0] as string,
  ) as AuditEvent;
}

/** A copy of `e` at time `t` (seconds after a fixed start) with its own audit ID and overrides. */
function at(e: AuditEvent, t: number, over: Partial<AuditEvent> = {}): AuditEvent {
  const ts = new Date(Date.UTC(2024, 0, 1) + t * 1000).toISOString();
  return {
    ...structuredClone(e),
    auditID: `id-${t}-${Math.random().toString(36).slice(2, 8)}`,
    stageTimestamp: ts,
    requestReceivedTimestamp: ts,
    ...over,
  };
}

const RULE = (id: string, extra = '') => `
  - id: ${id}
    name: ${id}
    description: test rule
    severity: LOW
    mitre: { tactic: TA0002, technique: T1609 }
    remediation: none needed
    condition: "true"${extra}`;

function load(...files: [string, string][]): LoadedRules {
  return compileRuleSources(files.map(([file, text]) => ({ file, text })));
}

const execEv = event('exec_pod.json');
const podEv = event('create_nginx_pod_privileged.json');
const nsEv = event('some-user_creates_namespace_foo.json');

describe('staged loading', () => {
  test('YAML syntax errors name file and line', () => {
    const r = load(['bad.yaml', 'rules:\n  - id: a\n    name: [unclosed\n']);
    assert.equal(r.rules.length, 0);
    assert.equal(r.errors.length > 0, true);
    assert.equal(r.errors[0]?.file, 'bad.yaml');
    assert.ok((r.errors[0]?.line ?? 0) >= 3, JSON.stringify(r.errors));
  });

  test('schema and CEL errors leave the broken rule out and keep the rest', () => {
    const text = `rules:${RULE('good')}${RULE('bad-severity').replace('severity: LOW', 'severity: SEVERE')}${RULE('bad-cel').replace('condition: "true"', 'condition: "event.verb =="')}${RULE('unknown-field', '\n    priority: WARNING')}${RULE('good')}${RULE('bad-window', '\n    aggregation: { type: count, by: [event.verb], threshold: 3, window: 5 minutes }')}
`;
    const r = load(['pack.yaml', text]);
    assert.deepEqual(
      r.rules.map((x) => x.spec.id),
      ['good'],
    );
    const lines = text.split('\n');
    const lineOf = (needle: string, from = 0) =>
      lines.findIndex((l, i) => i >= from && l.includes(needle)) + 1;
    const byRule = Object.fromEntries(r.errors.map((e) => [e.rule, e]));
    assert.equal(byRule['bad-severity']?.line, lineOf('SEVERE'));
    assert.match(byRule['bad-severity']?.message ?? '', /SEVERE/);
    assert.equal(byRule['bad-cel']?.line, lineOf('event.verb =='));
    assert.equal(byRule['unknown-field']?.line, lineOf('priority: WARNING'));
    assert.equal(byRule['bad-window']?.line, lineOf('aggregation:'));
    // the second `good` is a duplicate, reported at its own line
    const dup = r.errors.find((e) => e.rule === 'good');
    assert.equal(dup?.line, lineOf('- id: good', lineOf('- id: good') + 1));
    for (const e of r.errors) assert.equal(e.file, 'pack.yaml');
  });

  test('a condition that is not boolean is an error', () => {
    const r = load([
      'p.yaml',
      `rules:${RULE('str').replace('condition: "true"', 'condition: "event.verb + \'x\'"')}`,
    ]);
    assert.equal(r.rules.length, 0);
    assert.match(r.errors[0]?.message ?? '', /bool/);
  });

  test('requires: a rule waits until its list is configured by a user file', () => {
    const pack = `lists:\n  allowed: []\nrules:${RULE('allow', '\n    requires: [allowed]')}`;
    assert.deepEqual(
      load(['p.yaml', pack]).skipped.map((s) => s.rule),
      ['allow'],
    );
    const withList = load(['p.yaml', pack], ['user.yaml', 'lists:\n  allowed: [alice]\n']);
    assert.deepEqual(
      withList.rules.map((x) => x.spec.id),
      ['allow'],
    );
    assert.deepEqual(withList.data.allowed, ['alice']);
  });

  test('user files enable and disable rules and append lists', () => {
    const pack = `lists:\n  l: [a]\nrules:${RULE('on')}${RULE('off', '\n    enabled: false')}`;
    const r = load(['p.yaml', pack], ['u.yaml', 'enable: [off]\ndisable: [on, nosuch]\nlists:\n  l: [b]\n']);
    assert.deepEqual(
      r.rules.map((x) => x.spec.id),
      ['off'],
    );
    assert.deepEqual(r.data.l, ['a', 'b']);
    assert.deepEqual(
      r.errors.map((e) => [e.file, e.line, e.rule]),
      [['u.yaml', 2, 'nosuch']],
    );
  });
});

describe('exceptions from a user file', () => {
  const pack = `rules:${RULE('exec', '\n    match: { verbs: [create], resources: [pods], subresources: [exec], stages: [ResponseStarted] }')}`;
  test('CEL condition exceptions suppress matching events only', () => {
    const user = `exceptions:
  - rule: exec
    name: minikube admin
    condition: event.user.username == 'minikube-user' && event.objectRef.namespace == 'default'
`;
    const d = createDetector(load(['p.yaml', pack], ['u.yaml', user]));
    assert.deepEqual(d.process(execEv), []);
    const other = at(execEv, 1, { user: { username: 'mallory', groups: [] }, stage: 'ResponseStarted' });
    assert.equal(d.process(other).length, 1);
    assert.equal(d.stats().rules.exec?.suppressed, 1);
  });

  test('field/value exceptions: tuples, list cells, images must all be listed', () => {
    const user = `exceptions:
  - rule: exec
    name: ops in default
    fields: [user, namespace]
    values:
      - [alice, default]
      - [[minikube-user, bob], default]
  - rule: priv
    name: trusted image
    fields: [image]
    values: [[nginx]]
`;
    const p2 = `${pack}${RULE('priv', '\n    match: { verbs: [create], resources: [pods] }')}`;
    const d = createDetector(load(['p.yaml', p2], ['u.yaml', user]));
    assert.deepEqual(d.process(execEv), []);
    assert.equal(
      d.process(
        at(execEv, 2, { stage: 'ResponseStarted', objectRef: { ...execEv.objectRef, namespace: 'prod' } }),
      ).length,
      1,
    );
    assert.deepEqual(d.process(podEv), []);
    const sidecar = structuredClone(podEv) as AuditEvent & {
      requestObject: { spec: { containers: unknown[] } };
    };
    sidecar.requestObject.spec.containers.push({ name: 'x', image: 'evil/tool:1' });
    assert.equal(d.process(at(sidecar, 3)).length, 1);
  });

  test('an exception for an unknown rule is an error with its line', () => {
    const r = load(
      ['p.yaml', pack],
      ['u.yaml', 'exceptions:\n  - rule: nope\n    name: x\n    condition: "true"\n'],
    );
    assert.deepEqual(
      r.errors.map((e) => [e.file, e.line, e.rule]),
      [['u.yaml', 2, 'nope']],
    );
  });
});

describe('aggregation', () => {
  test('count: threshold within the window, per key', () => {
    const r = load([
      'p.yaml',
      `rules:${RULE('burst', '\n    aggregation: { type: count, by: [event.user.username], threshold: 3, window: 60s }')}`,
    ]);
    const d = createDetector(r);
    // two events, then a third 2 minutes later: never 3 within 60 s
    assert.deepEqual(
      [...d.process(at(nsEv, 0)), ...d.process(at(nsEv, 30)), ...d.process(at(nsEv, 150))],
      [],
    );
    assert.deepEqual([...d.process(at(nsEv, 160))], []);
    const fired = d.process(at(nsEv, 170));
    assert.equal(fired.length, 1);
    assert.equal(fired[0]?.count, 3);
    assert.equal(fired[0]?.auditIDs.length, 3);
    assert.deepEqual(fired[0]?.aggregation?.key, ['some-user']);
    // another user's events are counted apart
    assert.deepEqual(d.process(at(nsEv, 171, { user: { username: 'x' } })), []);
    // a fourth in the window folds into the alert
    d.process(at(nsEv, 175));
    assert.equal(fired[0]?.count, 4);
  });

  test('distinct: different values of the field within the window', () => {
    const agg = `\n    aggregation: { type: distinct, by: [event.user.username], field: event.objectRef.name, threshold: 3, window: 10m }`;
    const d = createDetector(load(['p.yaml', `rules:${RULE('enum', agg)}`]));
    const named = (t: number, name: string) => at(nsEv, t, { objectRef: { ...nsEv.objectRef, name } });
    assert.deepEqual(
      [
        ...d.process(named(0, 'a')),
        ...d.process(named(1, 'a')),
        ...d.process(named(2, 'b')),
        ...d.process(named(3, 'b')),
      ],
      [],
    );
    // 'a' and 'b' expire before 'c' and 'd' arrive 11 minutes later
    assert.deepEqual([...d.process(named(700, 'c')), ...d.process(named(701, 'd'))], []);
    const fired = d.process(named(702, 'e'));
    assert.equal(fired.length, 1);
    assert.equal(fired[0]?.aggregation?.value, 3);
  });

  test('first-seen: nothing during learning, then only new keys', () => {
    const agg = `\n    aggregation: { type: first-seen, by: [event.user.username, event.verb], learning: 1h }`;
    const d = createDetector(load(['p.yaml', `rules:${RULE('rare', agg)}`]));
    assert.deepEqual(d.process(at(nsEv, 0)), []);
    assert.deepEqual(d.process(at(nsEv, 60, { user: { username: 'learned' } })), []);
    assert.deepEqual(d.process(at(nsEv, 3700, { user: { username: 'learned' } })), []);
    const fired = d.process(at(nsEv, 3800, { user: { username: 'newcomer' } }));
    assert.equal(fired.length, 1);
    assert.deepEqual(fired[0]?.aggregation?.key, ['newcomer', 'create']);
    assert.deepEqual(d.process(at(nsEv, 3900, { user: { username: 'newcomer' } })), []);
  });
});

describe('dedup', () => {
  const pack = `rules:${RULE('ns')}`;
  test('same rule, resource and user within the window: one alert, counted', () => {
    const d = createDetector(load(['p.yaml', pack]), { dedupWindowMs: 60_000, maxAuditIDs: 2 });
    const first = d.process(at(nsEv, 0));
    assert.equal(first.length, 1);
    assert.deepEqual([...d.process(at(nsEv, 10)), ...d.process(at(nsEv, 20))], []);
    assert.equal(first[0]?.count, 3);
    assert.equal(first[0]?.auditIDs.length, 2);
    assert.equal(first[0]?.lastSeen, at(nsEv, 20).stageTimestamp);
    // another user is another alert; the same request at a second stage is not counted twice
    assert.equal(d.process(at(nsEv, 30, { user: { username: 'other' } })).length, 1);
    assert.deepEqual(d.drain(), []);
    // past the window: the first alert closes and a new one opens
    assert.equal(d.process(at(nsEv, 61)).length, 1);
    assert.deepEqual(
      d.drain().map((a) => a.count),
      [3],
    );
    assert.equal(d.flush().length, 2);
  });

  test('advance() closes alerts whose window passed without further matches, never moves back', () => {
    const d = createDetector(
      load(['p.yaml', `rules:${RULE('ns', '\n    match: { resources: [namespaces] }')}`]),
      {
        dedupWindowMs: 60_000,
      },
    );
    assert.equal(d.process(at(nsEv, 0)).length, 1);
    // routine traffic no rule matches: without advance() the alert would stay open
    d.process(at(execEv, 120, { verb: 'get' }));
    assert.deepEqual(d.drain(), []);
    d.advance(Date.UTC(2024, 0, 1) + 59_000);
    assert.deepEqual(d.drain(), [], 'inside the window');
    d.advance(Date.UTC(2024, 0, 1) + 60_000);
    assert.deepEqual(
      d.drain().map((a) => a.rule.id),
      ['ns'],
    );
    d.advance(0);
    assert.equal(d.process(at(nsEv, 30)).length, 1, 'an event older than the clock still opens an alert');
  });

  test('a request seen at two stages counts once', () => {
    const d = createDetector(
      load(['p.yaml', `rules:${RULE('x', '\n    match: { stages: [ResponseStarted, ResponseComplete] }')}`]),
    );
    const a = d.process(execEv);
    d.process({ ...execEv, stage: 'ResponseComplete', stageTimestamp: '2018-10-26T13:40:00.000000Z' });
    assert.equal(a[0]?.count, 1);
  });

  test('alert fields come from the event and the rule', () => {
    const r = load([
      'p.yaml',
      `rules:${RULE('exec', '\n    defender: [K8S_X]\n    falco: [Attach/Exec Pod]\n    match: { stages: [ResponseStarted] }')}`,
    ]);
    const [a] = createDetector(r, { cluster: 'prod' }).process(execEv);
    assert.ok(a);
    assert.equal(a.cluster, 'prod');
    assert.equal(a.namespace, execEv.objectRef?.namespace);
    assert.deepEqual(a.resource, {
      apiGroup: '',
      resource: 'pods',
      subresource: 'exec',
      namespace: 'default',
      name: execEv.objectRef?.name,
    });
    assert.equal(a.user, execEv.user.username);
    assert.deepEqual(a.groups, execEv.user.groups);
    assert.deepEqual(a.sourceIPs, execEv.sourceIPs);
    assert.deepEqual(a.auditIDs, [execEv.auditID]);
    assert.equal(a.firstSeen, execEv.stageTimestamp);
    assert.deepEqual(
      [a.tactic, a.technique, a.defender, a.falco],
      ['TA0002', 'T1609', ['K8S_X'], ['Attach/Exec Pod']],
    );
    assert.match(a.id, /^[0-9a-f]{16}$/);
  });

  test('aggregation keys are bounded', () => {
    const r = load([
      'p.yaml',
      `rules:${RULE('burst', '\n    aggregation: { type: count, by: [event.user.username], threshold: 5, window: 60s }')}`,
    ]);
    const d = createDetector(r, { maxAggregationKeys: 3 });
    for (let i = 0; i < 50; i++) d.process(at(nsEv, i, { user: { username: `u${i}` } }));
    assert.equal(d.stats().rules.burst?.keys, 3);
  });

  test('open alerts are bounded: the oldest closes early', () => {
    const d = createDetector(load(['p.yaml', pack]), { maxOpenAlerts: 2 });
    for (let i = 0; i < 5; i++) d.process(at(nsEv, i, { user: { username: `u${i}` } }));
    assert.equal(d.stats().openAlerts, 2);
    assert.equal(d.drain().length, 3);
  });
});

describe('index', () => {
  test('a rule with match is never evaluated for other verbs or resources', () => {
    const pack = `rules:${RULE('pods-create', '\n    match: { verbs: [create], resources: [pods] }')}${RULE('exec', '\n    match: { verbs: [create, get], resources: [pods], subresources: [exec], stages: [ResponseStarted] }')}${RULE('everything', '\n    match: { stages: ["*"] }')}`;
    const d = createDetector(load(['p.yaml', pack]));
    const get = at(podEv, 0, { verb: 'get' });
    const list = at(podEv, 1, { verb: 'list', objectRef: { resource: 'configmaps' } });
    const nsCreate = at(nsEv, 2);
    for (let i = 0; i < 100; i++) for (const e of [get, list, nsCreate]) d.process(e);
    d.process(podEv);
    d.process(execEv);
    const s = d.stats();
    assert.equal(s.rules['pods-create']?.evaluations, 1);
    assert.equal(s.rules.exec?.evaluations, 1);
    assert.equal(s.rules.everything?.evaluations, 302);
    assert.equal(s.evaluations, 304);
  });
});
