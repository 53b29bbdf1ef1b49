/**
 * The JSON report against its published schemas: every report validates against
 * docs/schema/scan-report-1.1.json (image, filesystem and SBOM targets, suppressed findings, language
 * package fields), and an image report still validates against 1.0, which 1.1 extends without change.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import type { SuppressedFinding } from '../../src/model/finding.js';
import { REPORT_SCHEMA_VERSION, type ScanResult } from '../../src/model/result.js';
import { renderJson } from '../../src/report/json.js';
import { renderCycloneDx } from '../../src/sbom/cyclonedx.js';
import { scanSbom } from '../../src/sbom/scan.js';
import { inventoryImage } from '../../src/scan/inventory-image.js';
import { scanFs, scanImage } from '../../src/scan/scanner.js';
import { importOsv } from '../../src/vulndb/import.js';
import { testImages } from '../helpers/registry.js';
import { FIXTURES } from '../vulndb/helpers.js';
import { fixedResult, healthyResult } from './fixture.js';

const schemaFile = (v: string) => new URL(`../../docs/schema/scan-report-${v}.json`, import.meta.url);

function validator(version: string) {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  (addFormatsPlugin as unknown as (a: Ajv2020) => void)(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(schemaFile(version), 'utf8')));
  return (r: ScanResult): string | undefined =>
    validate(JSON.parse(renderJson(r))) ? undefined : ajv.errorsText(validate.errors);
}

const v11 = validator('1.1');
const v10 = validator('1.0');

describe('schema 1.1', () => {
  test('is the version reports carry', () => {
    assert.equal(REPORT_SCHEMA_VERSION, '1.1');
    assert.equal(JSON.parse(readFileSync(schemaFile('1.1'), 'utf8')).title, 'moat scan report, schema 1.1');
  });

  test('the fixed result and a healthy one validate; a suppressed finding needs its rule', () => {
    assert.equal(v11(fixedResult()), undefined);
    assert.equal(v11(healthyResult()), undefined);
    const bad = fixedResult();
    delete (bad.suppressed![0] as Partial<SuppressedFinding>).suppressedBy;
    assert.match(v11(bad) ?? '', /suppressedBy/);
  });

  test('image reports of 1.1 still validate against 1.0', () => {
    assert.equal(v10(fixedResult()), undefined);
  });
});

describe('schema 1.1: real reports of every target kind', () => {
  let root: string;
  let cacheDir: string;
  const reports: [string, ScanResult][] = [];

  before(async () => {
    const images = await testImages();
    root = mkdtempSync(join(tmpdir(), 'moat-schema-'));
    cacheDir = join(root, 'cache');
    const exports = join(FIXTURES, 'osv-export');
    for (const eco of readdirSync(exports).sort()) {
      await importOsv(join(cacheDir, 'vulndb.sqlite'), join(exports, eco, 'all.zip'));
    }
    const ignore = join(root, '.moatignore');
    for (const name of ['base-old', 'node-app']) {
      const ref = `oci:${images.oci}:${name}`;
      const plain = await scanImage(ref, { cacheDir, listPackages: true });
      // suppress the first finding so that `suppressed` is exercised
      writeFileSync(
        ignore,
        plain.findings.length ? `- id: ${plain.findings[0]!.id}\n  reason: schema test\n` : '[]\n',
      );
      reports.push([
        `image ${name}`,
        await scanImage(ref, { cacheDir, listPackages: true, ignoreFile: ignore }),
      ]);
      const sbom = join(root, `${name}.cdx.json`);
      writeFileSync(sbom, renderCycloneDx(await inventoryImage(ref, { cacheDir })));
      reports.push([
        `sbom ${name}`,
        await scanSbom(sbom, { cacheDir, listPackages: true, ignoreFile: ignore }),
      ]);
    }
    reports.push([
      'filesystem python rootfs',
      await scanFs(join(images.root, 'rootfs', 'python'), { cacheDir, listPackages: true }),
    ]);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('image, sbom and filesystem reports validate', () => {
    const kinds = new Set(reports.map(([, r]) => r.target.kind));
    assert.deepEqual([...kinds].sort(), ['filesystem', 'image', 'sbom']);
    assert.ok(
      reports.some(([, r]) => (r.suppressed?.length ?? 0) > 0),
      'some report has suppressed findings',
    );
    for (const [what, r] of reports) assert.equal(v11(r), undefined, what);
    for (const [what, r] of reports.filter(([, x]) => x.target.kind === 'image')) {
      assert.equal(v10(r), undefined, `${what} against 1.0`);
    }
  });
});
