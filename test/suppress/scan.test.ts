/**
 * Suppression inside real scans (base-old against the Debian export): the rules are written from the
 * findings of a plain scan, so the expectations come from the data. Suppressed findings leave `findings`,
 * appear under `suppressed`, count in the summary, are applied before --severity, are not cached with
 * the result, and work the same for `scan sbom`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Finding } from '../../src/model/finding.js';
import type { ScanResult } from '../../src/model/result.js';
import { renderCycloneDx } from '../../src/sbom/cyclonedx.js';
import { scanSbom } from '../../src/sbom/scan.js';
import { exceedsThreshold } from '../../src/scan/filter.js';
import { inventoryImage } from '../../src/scan/inventory-image.js';
import { scanImage } from '../../src/scan/scanner.js';
import { importOsv } from '../../src/vulndb/import.js';
import { testImages } from '../helpers/registry.js';
import { DEBIAN_ZIP } from '../vulndb/helpers.js';

let root: string;
let cacheDir: string;
let ref: string;
let plain: ScanResult;

before(async () => {
  const images = await testImages();
  root = mkdtempSync(join(tmpdir(), 'moat-suppress-scan-'));
  cacheDir = join(root, 'cache');
  await importOsv(join(cacheDir, 'vulndb.sqlite'), DEBIAN_ZIP);
  ref = `oci:${images.oci}:base-old`;
  plain = await scanImage(ref, { cacheDir, listPackages: true });
});
after(() => rmSync(root, { recursive: true, force: true }));

const key = (f: Finding) => `${f.id} ${f.package.name} ${f.installedVersion}`;

describe('suppression in a scan', () => {
  test('an ignore entry for one package and a VEX statement for another', async () => {
    assert.ok(plain.findings.length >= 2, 'base-old has findings');
    const [a, b] = [...new Set(plain.findings.map((f) => f.package.name))] as [string, string];
    const target = plain.findings.find((f) => f.package.name === a)!;
    const ignore = join(root, 'ignore.yaml');
    writeFileSync(ignore, `- id: ${target.id}\n  package: ${a}\n  reason: test\n`);
    // every finding of the second package, by the purl the scan gave it
    const purl = plain.packages!.find((p) => p.name === b)!.purl!;
    const vexFile = join(root, 'b.openvex.json');
    const bIds = [...new Set(plain.findings.filter((f) => f.package.name === b).map((f) => f.id))];
    writeFileSync(
      vexFile,
      JSON.stringify({
        '@context': 'https://openvex.dev/ns/v0.2.0',
        '@id': 'urn:test',
        author: 'test',
        timestamp: '2026-01-01T00:00:00Z',
        version: 1,
        statements: bIds.map((id) => ({
          vulnerability: { name: id },
          products: [{ '@id': purl }],
          status: 'not_affected',
          justification: 'component_not_present',
        })),
      }),
    );
    const r = await scanImage(ref, { cacheDir, ignoreFile: ignore, vex: [vexFile] });
    // a package name in an ignore entry also covers the binaries of that source package (apt and
    // libapt-pkg6.0 share the source apt); ignore entries are checked before VEX statements
    const byIgnore = (f: Finding) =>
      f.id === target.id && (f.package.name === a || f.package.matchedName === a);
    const expected = plain.findings.filter((f) => !byIgnore(f) && f.package.name !== b);
    assert.deepEqual(r.findings.map(key), expected.map(key));
    assert.equal(r.suppressed!.length, plain.findings.length - expected.length);
    assert.equal(r.summary.suppressed, r.suppressed!.length);
    assert.equal(r.summary.findings, expected.length);
    for (const s of r.suppressed!) {
      assert.equal(s.suppressedBy.kind, byIgnore(s) ? 'ignore-file' : 'openvex', key(s));
    }
    // the same rules on the image's SBOM
    const sbomFile = join(root, 'base-old.cdx.json');
    writeFileSync(sbomFile, renderCycloneDx(await inventoryImage(ref, { cacheDir })));
    const viaSbom = await scanSbom(sbomFile, { cacheDir, ignoreFile: ignore, vex: [vexFile] });
    assert.deepEqual(viaSbom.findings.map(key).sort(), r.findings.map(key).sort());
    assert.deepEqual(viaSbom.suppressed!.map(key).sort(), r.suppressed!.map(key).sort());
  });

  test('suppressed findings no longer count for --fail-on; suppression happens before --severity', async () => {
    const ignore = join(root, 'all.yaml');
    const ids = [...new Set(plain.findings.map((f) => f.id))];
    writeFileSync(ignore, ids.map((id) => `- id: ${id}\n  reason: accepted\n`).join(''));
    const r = await scanImage(ref, { cacheDir, ignoreFile: ignore, severity: ['CRITICAL'] });
    assert.equal(r.findings.length, 0);
    assert.equal(exceedsThreshold(r.findings, 'UNKNOWN'), false);
    assert.equal(r.summary.healthy, true);
    assert.equal(r.summary.filtered, 0, 'nothing was left for the severity filter');
    assert.equal(r.suppressed!.length, plain.findings.length);
  });

  test('a scan without rules, after one with rules, has every finding (suppression is not cached)', async () => {
    const again = await scanImage(ref, { cacheDir });
    assert.deepEqual(again.findings.map(key), plain.findings.map(key));
    assert.equal(again.suppressed, undefined);
    assert.equal(again.summary.suppressed, undefined);
  });

  test('a broken VEX document fails the scan before the image is read', async () => {
    const bad = join(root, 'bad.json');
    writeFileSync(bad, 'not json');
    await assert.rejects(scanImage('oci:/nonexistent:x', { cacheDir, vex: [bad] }), /VEX .*bad\.json/);
  });
});
