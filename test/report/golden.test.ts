/**
 * Golden files for every report format: the fixed ScanResult of fixture.ts (findings, suppressed
 * findings, a healthy variant) and one real scan of the base-old test image against the Debian export
 * (volatile fields masked). `UPDATE_GOLDEN=1` rewrites test/fixtures/report/golden/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/model/result.js';
import { REPORT_FORMATS, type ReportFormat, renderReport } from '../../src/report/index.js';
import { scanImage } from '../../src/scan/scanner.js';
import { MOAT_VERSION } from '../../src/util/version.js';
import { importOsv } from '../../src/vulndb/import.js';
import { testImages } from '../helpers/registry.js';
import { DEBIAN_ZIP } from '../vulndb/helpers.js';
import { fixedResult, healthyResult } from './fixture.js';
import { assertGolden, mask } from './golden.js';

const EXT: Record<ReportFormat, string> = {
  table: 'txt',
  json: 'json',
  sarif: 'sarif.json',
  junit: 'xml',
  cyclonedx: 'cdx.json',
  spdx: 'spdx.json',
};

describe('golden files: the fixed result', () => {
  for (const format of REPORT_FORMATS) {
    test(format, () => {
      assertGolden(`fixed.golden.${EXT[format]}`, renderReport(fixedResult(), format));
      assertGolden(`healthy.golden.${EXT[format]}`, renderReport(healthyResult(), format));
    });
  }

  test('table with --show-suppressed, and narrowed to a terminal width', () => {
    assertGolden(
      'fixed-suppressed.golden.txt',
      renderReport(fixedResult(), 'table', { showSuppressed: true }),
    );
    assertGolden('fixed-narrow.golden.txt', renderReport(fixedResult(), 'table', { width: 100 }));
  });
});

describe('golden files: a real scan (base-old against the Debian export)', () => {
  let root: string;
  let result: ScanResult;
  before(async () => {
    const images = await testImages();
    root = mkdtempSync(join(tmpdir(), 'moat-golden-'));
    const cacheDir = join(root, 'cache');
    await importOsv(join(cacheDir, 'vulndb.sqlite'), DEBIAN_ZIP);
    // a fixed clock keeps the end-of-life line stable; the database's age is masked
    result = await scanImage(`oci:${images.oci}:base-old`, {
      cacheDir,
      listPackages: true,
      now: new Date('2026-01-15T00:00:00Z'),
    });
    result.target.ref = 'oci:<LAYOUT>:base-old';
    result.target.name = '<LAYOUT>:base-old';
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const format of REPORT_FORMATS) {
    test(format, () => {
      const text = mask(renderReport(result, format), {
        paths: [root],
        volatile: true,
        version: MOAT_VERSION,
      });
      assertGolden(`base-old.golden.${EXT[format]}`, text);
    });
  }
});
