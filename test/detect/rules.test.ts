/**
 * The shipped rule pack against events: every rule's own positive and negative fixtures, and Falco's
 * regression trace files (with Falco's stock allowlists and the optional activity pack), where each Falco
 * rule the index expects must have an alert of ours naming it (same number of events, counted after dedup)
 * and files expecting none raise none.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Alert } from '../../src/detect/alert.js';
import { createDetector } from '../../src/detect/engine/detector.js';
import type { AuditEvent } from '../../src/detect/event.js';
import { DEFAULT_RULES_DIR, loadDefaultRules, ruleFilesIn } from '../../src/detect/rules/load.js';
import { parseRuleFile } from '../../src/detect/rules/parse.js';

const FIX = join(import.meta.dirname, '../fixtures/detect');
const ALLOWLISTS = join(FIX, 'falco-allowlists.yaml');
const loaded = loadDefaultRules([ALLOWLISTS, join(FIX, 'rule-test-lists.yaml')], true);
// Falco's stock setup: its allowlists, and no image allowlist (Create Disallowed Pod is off there)
const falcoLike = loadDefaultRules([ALLOWLISTS], true);

function readEvents(file: string): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const v = JSON.parse(line) as Record<string, unknown>;
    // fal_01_003.json is `{"kind": 0}`: not an event (ingest rejects it; here it is simply skipped)
    if (typeof v.verb === 'string' && typeof v.auditID === 'string') out.push(v as unknown as AuditEvent);
  }
  return out;
}

function run(events: AuditEvent[], rules = loaded): Alert[] {
  const d = createDetector(rules);
  for (const e of events) d.process(e);
  return d.flush();
}

const shipped = ruleFilesIn([DEFAULT_RULES_DIR]).flatMap(
  (f) => parseRuleFile(readFileSync(f, 'utf8'), f).file.rules,
);

describe('shipped rule pack', () => {
  test('loads without errors; only allowlist rules wait for their lists', () => {
    assert.deepEqual(loaded.errors, []);
    const bare = loadDefaultRules([], true);
    assert.deepEqual(bare.errors, []);
    // the activity pack is informational: only loaded when asked for
    const byDefault = loadDefaultRules();
    assert.ok(byDefault.rules.length > 0);
    assert.ok(byDefault.rules.every((r) => !r.spec.pos.file.endsWith('k8s-activity.yaml')));
    assert.ok(bare.rules.some((r) => r.spec.pos.file.endsWith('k8s-activity.yaml')));
    const waiting = bare.skipped.map((s) => s.rule).sort();
    const requiring = shipped
      .filter((r) => r.requires.length > 0 && r.enabled)
      .map((r) => r.id)
      .sort();
    assert.deepEqual(waiting, requiring);
    assert.ok(requiring.length >= 3);
    assert.equal(loaded.rules.length, shipped.filter((r) => r.enabled).length);
  });

  test('every rule has metadata: MITRE ids, remediation, unique id', () => {
    const ids = new Set<string>();
    for (const r of shipped) {
      assert.ok(!ids.has(r.id), r.id);
      ids.add(r.id);
      assert.match(r.mitre.technique, /^T\d{4}(\.\d{3})?$/, r.id);
      assert.ok(r.remediation.length > 20, r.id);
    }
  });

  test('every fixture folder belongs to a shipped rule', () => {
    const ids = new Set(shipped.map((r) => r.id));
    for (const dir of readdirSync(join(FIX, 'rules')))
      assert.ok(ids.has(dir), `fixtures for unknown rule ${dir}`);
  });

  for (const rule of shipped) {
    describe(rule.id, () => {
      const dir = join(FIX, 'rules', rule.id);
      test('has positive and negative fixtures', () => {
        assert.ok(existsSync(join(dir, 'positive.jsonl')), `${dir}/positive.jsonl`);
        assert.ok(existsSync(join(dir, 'negative.jsonl')), `${dir}/negative.jsonl`);
      });
      test('fires on the positive events', { skip: !existsSync(join(dir, 'positive.jsonl')) }, () => {
        const events = readEvents(join(dir, 'positive.jsonl'));
        const mine = run(events).filter((a) => a.rule.id === rule.id);
        assert.ok(mine.length > 0, `no ${rule.id} alert`);
        // every positive event is evidence of some alert of the rule (non-aggregating rules: each event alone fires)
        const ids = new Set(mine.flatMap((a) => a.auditIDs));
        if (!rule.aggregation)
          for (const e of events) assert.ok(ids.has(e.auditID), `${rule.id} missed ${e.auditID}`);
        for (const a of mine) {
          assert.equal(a.severity, rule.severity);
          assert.equal(a.technique, rule.mitre.technique);
          assert.deepEqual(a.falco, rule.falco);
        }
      });
      test('stays quiet on the negative events', { skip: !existsSync(join(dir, 'negative.jsonl')) }, () => {
        const mine = run(readEvents(join(dir, 'negative.jsonl'))).filter((a) => a.rule.id === rule.id);
        assert.deepEqual(
          mine.map((a) => a.auditIDs),
          [],
        );
      });
    });
  }
});

interface FixtureIndex {
  fixtures: Record<
    string,
    { expected_stock_rules: Record<string, number>; expect_no_alert_stock_rules: boolean }
  >;
}

describe('Falco k8saudit regression fixtures', () => {
  const index = JSON.parse(readFileSync(join(FIX, 'falco-events/index.json'), 'utf8')) as FixtureIndex;
  const ours = new Set(shipped.flatMap((r) => r.falco));

  test('every Falco rule the fixtures expect maps to one of ours (activity rules in the optional pack)', () => {
    const expected = new Set(
      Object.values(index.fixtures).flatMap((f) => Object.keys(f.expected_stock_rules)),
    );
    for (const name of expected) assert.ok(ours.has(name), name);
  });

  for (const [file, spec] of Object.entries(index.fixtures)) {
    test(file, () => {
      const alerts = run(readEvents(join(FIX, 'falco-events', file)), falcoLike);
      const got: Record<string, number> = {};
      for (const a of alerts) for (const f of a.falco) got[f] = (got[f] ?? 0) + a.count;
      assert.deepEqual(got, spec.expected_stock_rules);
      if (spec.expect_no_alert_stock_rules) assert.deepEqual(alerts, []);
    });
  }

  test('the fixture files are all indexed', () => {
    const files = readdirSync(join(FIX, 'falco-events')).filter(
      (f) => f.endsWith('.json') && f !== 'index.json',
    );
    assert.deepEqual(files.sort(), Object.keys(index.fixtures).sort());
  });
});
