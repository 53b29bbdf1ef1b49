/**
 * The alert renderers over real alerts (every Falco trace file through the shipped packs, activity pack
 * and Falco's allowlists): the JSON document validates against docs/schema/audit-alerts-1.0.json and
 * carries every alert field as the detector made it; each JSON line validates as one alert; the table is
 * sorted by severity then time and names every alert; golden files for each format.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import { ALERT_SEVERITIES, type Alert } from '../../src/detect/alert.js';
import { createDetector } from '../../src/detect/engine/detector.js';
import { decodeAuditText } from '../../src/detect/ingest/index.js';
import { newIngestStats } from '../../src/detect/ingest/stats.js';
import { loadDefaultRules } from '../../src/detect/rules/load.js';
import {
  ALERT_FORMATS,
  type AlertReport,
  alertReport,
  alertSeverityRank,
  alertTarget,
  renderAlerts,
} from '../../src/report/alerts.js';
import { assertGolden } from './golden.js';

const FIX = join(import.meta.dirname, '../fixtures/detect');
const SCHEMA = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../docs/schema/audit-alerts-1.0.json'), 'utf8'),
) as { $id: string; $defs: { alert: { properties: Record<string, unknown>; required: string[] } } };

const ajv = new Ajv2020({ allErrors: true, strict: true });
(addFormatsPlugin as unknown as (a: Ajv2020) => void)(ajv);
const validateReport = ajv.compile(SCHEMA);
const validateAlert = ajv.getSchema(`${SCHEMA.$id}#/$defs/alert`);
assert.ok(validateAlert);

/** Every Falco trace file, each through its own detector (as the regression test reads them). */
function fixtureAlerts(): { alerts: Alert[]; stats: ReturnType<typeof newIngestStats> } {
  const rules = loadDefaultRules([join(FIX, 'falco-allowlists.yaml')], true);
  assert.deepEqual(rules.errors, []);
  const stats = newIngestStats();
  const alerts: Alert[] = [];
  const dir = join(FIX, 'falco-events');
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.json') && n !== 'index.json')
    .sort()) {
    const d = createDetector(rules, { cluster: 'minikube' });
    for (const e of decodeAuditText(readFileSync(join(dir, f)), { stats, file: f }).events) d.process(e);
    alerts.push(...d.flush());
  }
  return { alerts, stats };
}

const { alerts, stats } = fixtureAlerts();
const NOW = new Date('2026-01-02T03:04:05.000Z');

function report(
  list: readonly Alert[] = alerts,
  extra: Partial<Parameters<typeof alertReport>[0]> = {},
): AlertReport {
  return alertReport(
    {
      version: '0.0.0-test',
      inputs: ['test/fixtures/detect/falco-events'],
      alerts: list,
      ingest: stats,
      rulesLoaded: 50,
      skippedRules: [
        {
          rule: 'proxy-source-address',
          file: 'k8s-audit.yaml',
          line: 670,
          reason: 'requires list proxy_ips to be configured',
        },
      ],
      errors: [],
      ...extra,
    },
    NOW,
  );
}

describe('alert report', () => {
  test('the fixtures give alerts of several severities, one of them malformed input', () => {
    assert.ok(alerts.length >= 20, `${alerts.length} alerts`);
    assert.ok(new Set(alerts.map((a) => a.severity)).size >= 3);
    assert.equal(stats.malformed, 1);
  });

  test('sorted by severity, then first seen; counts by severity add up', () => {
    const r = report([...alerts].reverse());
    for (let i = 1; i < r.alerts.length; i++) {
      const a = r.alerts[i - 1] as Alert;
      const b = r.alerts[i] as Alert;
      const bySev = alertSeverityRank(a.severity) - alertSeverityRank(b.severity);
      assert.ok(bySev > 0 || (bySev === 0 && a.firstSeen <= b.firstSeen), `${a.rule.id} before ${b.rule.id}`);
    }
    for (const s of ALERT_SEVERITIES)
      assert.equal(r.summary.bySeverity[s], alerts.filter((a) => a.severity === s).length, s);
    assert.equal(r.summary.alerts, alerts.length);
    assert.equal(r.summary.events, stats.events);
    assert.equal(r.summary.malformedSamples.length, 1);
  });
});

describe('json', () => {
  test('validates against the schema and carries every alert as the detector made it', () => {
    const doc: AlertReport = JSON.parse(renderAlerts(report(), 'json'));
    assert.ok(validateReport(doc), ajv.errorsText(validateReport.errors));
    const sorted = report().alerts;
    assert.deepEqual(doc.alerts, JSON.parse(JSON.stringify(sorted)));
    // the cross-references users map alerts with
    assert.ok(doc.alerts.some((a) => a.defender.length > 0));
    assert.ok(doc.alerts.every((a) => a.falco.length > 0));
    assert.equal(doc.generator.version, '0.0.0-test');
    assert.equal(doc.time, NOW.toISOString());
  });

  test('the schema names every field alerts have, and requires the ones every alert has', () => {
    const seen = new Set(alerts.flatMap((a) => Object.keys(a)));
    const props = new Set(Object.keys(SCHEMA.$defs.alert.properties));
    for (const k of seen) assert.ok(props.has(k), `schema lacks ${k}`);
    for (const k of SCHEMA.$defs.alert.required)
      assert.ok(
        alerts.every((a) => k in a),
        `${k} is required but not on every alert`,
      );
  });

  test('the schema rejects what it should', () => {
    const doc = JSON.parse(renderAlerts(report(), 'json'));
    delete doc.alerts[0].falco;
    assert.equal(validateReport(doc), false);
    const bad = JSON.parse(renderAlerts(report(), 'json'));
    bad.alerts[0].severity = 'UNKNOWN';
    assert.equal(validateReport(bad), false);
    const extra = JSON.parse(renderAlerts(report(), 'json'));
    extra.summary.surprise = 1;
    assert.equal(validateReport(extra), false);
  });
});

describe('jsonl', () => {
  test('one alert per line, each valid, nothing else', () => {
    const text = renderAlerts(report(), 'jsonl');
    assert.ok(text.endsWith('\n'));
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, alerts.length);
    for (const l of lines) {
      const a = JSON.parse(l);
      assert.ok(validateAlert?.(a), ajv.errorsText(validateAlert?.errors));
    }
    assert.equal(renderAlerts(report([]), 'jsonl'), '');
  });
});

describe('table', () => {
  test('a summary and one row per alert naming its rule, target and user, most severe first', () => {
    const r = report();
    const text = renderAlerts(r, 'table');
    const rows = text.split('\n').filter((l) => /^(CRITICAL|HIGH|MEDIUM|LOW|INFO) /.test(l));
    assert.equal(rows.length, alerts.length);
    r.alerts.forEach((a, i) => {
      const row = rows[i] as string;
      assert.ok(row.startsWith(a.severity), row);
      assert.ok(row.includes(a.rule.id), `${a.rule.id} in ${row}`);
      assert.ok(row.includes(alertTarget(a)), `${alertTarget(a)} in ${row}`);
    });
    assert.match(text, new RegExp(`Audit events: ${stats.events} read, 1 malformed`));
    assert.match(text, /Rules: 50 run, 1 skipped, 0 errors/);
    assert.match(text, /Cluster: minikube/);
  });

  test('no alerts; filtered alerts are counted; a narrow terminal truncates the resource', () => {
    assert.match(
      renderAlerts(report([], { filtered: 4 }), 'table'),
      /Alerts: 0 .*4 below --severity not shown\n\nNo alerts\.\n$/,
    );
    const narrow = renderAlerts(report(), 'table', { width: 150 });
    assert.ok(narrow.includes('…'));
  });

  test('targets: namespaced, cluster-scoped with group, subresource, none', () => {
    const a = alerts.find((x) => x.rule.id === 'exec-into-pod') as Alert;
    assert.equal(alertTarget(a), `${a.namespace}/pods/${a.resource.name}/exec`);
    const role = alerts.find((x) => x.resource.apiGroup === 'rbac.authorization.k8s.io') as Alert;
    assert.match(alertTarget(role), /^(\w+\/)?[a-z]+\.rbac\.authorization\.k8s\.io\//);
    assert.equal(
      alertTarget({ ...a, namespace: undefined, resource: { apiGroup: '', resource: '' } } as Alert),
      '-',
    );
  });
});

describe('golden files', () => {
  for (const format of ALERT_FORMATS) {
    test(format, () => {
      const ext = format === 'table' ? 'txt' : format;
      assertGolden(`alerts.golden.${ext}`, renderAlerts(report(), format));
    });
  }
});
