/**
 * SARIF 2.1.0 output against the official schema (test/fixtures/report/sarif-schema-2.1.0.json, JSON
 * Schema draft-04, validated with ajv-draft-04), and what code-scanning UIs read from it: one rule per
 * vulnerability id, one result per finding, suppressed findings as accepted external suppressions.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import ajvDraft04 from 'ajv-draft-04';
import addFormatsPlugin from 'ajv-formats';
import { renderSarif } from '../../src/report/sarif.js';
import { scanImage } from '../../src/scan/scanner.js';
import { importOsv } from '../../src/vulndb/import.js';
import { testImages } from '../helpers/registry.js';
import { FIXTURES } from '../vulndb/helpers.js';
import { fixedResult, healthyResult } from './fixture.js';

const SCHEMA = new URL('../fixtures/report/sarif-schema-2.1.0.json', import.meta.url);

// a CommonJS module whose exports object is the class, with the class again as `default`
const Ajv4 = ajvDraft04.default;

function validator() {
  const ajv = new Ajv4({ allErrors: true, strict: false });
  (addFormatsPlugin as unknown as (a: InstanceType<typeof Ajv4>) => void)(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));
  return (doc: unknown): string | undefined => (validate(doc) ? undefined : ajv.errorsText(validate.errors));
}

interface Sarif {
  version: string;
  runs: {
    tool: { driver: { name: string; rules: { id: string; properties: Record<string, unknown> }[] } };
    results: {
      ruleId: string;
      ruleIndex: number;
      level: string;
      locations: { physicalLocation: { artifactLocation: { uri: string } } }[];
      suppressions?: { kind: string; status: string; justification: string }[];
    }[];
  }[];
}

describe('SARIF 2.1.0', () => {
  const validate = validator();

  test('the schema rejects what it should (the validator is live)', () => {
    const bad = JSON.parse(renderSarif(fixedResult()));
    bad.runs[0].results[0].level = 'fatal';
    assert.match(validate(bad) ?? '', /level/);
  });

  test('the fixed result and a healthy one validate', () => {
    assert.equal(validate(JSON.parse(renderSarif(fixedResult()))), undefined);
    assert.equal(validate(JSON.parse(renderSarif(healthyResult()))), undefined);
  });

  test('one result per finding and suppressed finding, each pointing at its rule', () => {
    const r = fixedResult();
    const sarif = JSON.parse(renderSarif(r)) as Sarif;
    const run = sarif.runs[0]!;
    const all = [...r.findings, ...(r.suppressed ?? [])];
    assert.equal(run.results.length, all.length);
    assert.deepEqual(
      run.tool.driver.rules.map((x) => x.id).sort(),
      [...new Set(all.map((f) => f.id))].sort(),
    );
    for (const res of run.results) {
      assert.equal(run.tool.driver.rules[res.ruleIndex]?.id, res.ruleId);
      const score = Number(run.tool.driver.rules[res.ruleIndex]?.properties['security-severity']);
      assert.ok(score >= 0 && score <= 10, res.ruleId);
    }
    // the CVSS score decides security-severity when there is one
    const log4j = run.tool.driver.rules.find((x) => x.id === 'CVE-2021-44228')!;
    assert.equal(log4j.properties['security-severity'], '10.0');
  });

  test('suppressed findings carry an accepted external suppression with the reason', () => {
    const r = fixedResult();
    const sarif = JSON.parse(renderSarif(r)) as Sarif;
    const suppressed = sarif.runs[0]!.results.filter((x) => x.suppressions);
    assert.equal(suppressed.length, r.suppressed?.length);
    for (const s of r.suppressed ?? []) {
      const res = suppressed.find((x) => x.ruleId === s.id)!;
      assert.equal(res.suppressions![0]!.kind, 'external');
      assert.equal(res.suppressions![0]!.status, 'accepted');
      const why = s.suppressedBy.reason ?? s.suppressedBy.statement!;
      assert.ok(res.suppressions![0]!.justification.includes(why), res.suppressions![0]!.justification);
    }
  });

  test('paths become URI references: spaces and # are encoded', () => {
    const r = fixedResult();
    r.findings[0]!.package.path = 'opt/my app/#lib/x.jar';
    const sarif = JSON.parse(renderSarif(r)) as Sarif;
    assert.equal(validate(sarif), undefined);
    assert.equal(
      sarif.runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation.uri,
      'opt/my%20app/%23lib/x.jar',
    );
  });
});

describe('SARIF 2.1.0 of real scans', () => {
  const root = mkdtempSync(join(tmpdir(), 'moat-sarif-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('every test image with findings validates, OS and language findings alike', async () => {
    const validate = validator();
    const images = await testImages();
    const cacheDir = join(root, 'cache');
    const exports = join(FIXTURES, 'osv-export');
    for (const eco of readdirSync(exports).sort()) {
      await importOsv(join(cacheDir, 'vulndb.sqlite'), join(exports, eco, 'all.zip'));
    }
    let results = 0;
    for (const name of ['base-old', 'node-app', 'python', 'go-scratch']) {
      const r = await scanImage(`oci:${images.oci}:${name}`, { cacheDir });
      const sarif = JSON.parse(renderSarif(r)) as Sarif;
      assert.equal(validate(sarif), undefined, name);
      assert.equal(sarif.runs[0]!.results.length, r.findings.length, name);
      results += r.findings.length;
    }
    assert.ok(results > 0, 'the images have findings');
  });
});
