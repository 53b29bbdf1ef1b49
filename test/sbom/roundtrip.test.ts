/**
 * The SBOM round trip on every test image: `moat sbom` (inventoryImage + the CycloneDX and SPDX
 * writers) then `moat scan sbom` (scanSbom) reports exactly the findings of `moat scan image` (scanImage),
 * against a database of every OSV export the suite carries (Debian and the language ecosystems). Whatever
 * packages the analyzers find, OS or language, go through the purls and properties of the SBOM; each SBOM
 * is validated against its format's schema on the way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormatsPlugin from 'ajv-formats';
import type { Finding } from '../../src/model/finding.js';
import { isOsPackageType } from '../../src/model/package.js';
import type { ScanResult } from '../../src/model/result.js';
import { renderCycloneDx } from '../../src/sbom/cyclonedx.js';
import { scanSbom } from '../../src/sbom/scan.js';
import { renderSpdx } from '../../src/sbom/spdx.js';
import { inventoryImage } from '../../src/scan/inventory-image.js';
import { scanImage } from '../../src/scan/scanner.js';
import { importOsv } from '../../src/vulndb/import.js';
import { type TestImages, testImages } from '../helpers/registry.js';
import { FIXTURES } from '../vulndb/helpers.js';

const now = new Date('2026-01-15T00:00:00Z');
const cdxValidator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
const ajv = new Ajv2019({ allErrors: true, strict: false });
(addFormatsPlugin as unknown as (a: Ajv2019) => void)(ajv);
const spdxValidate = ajv.compile(
  JSON.parse(readFileSync(new URL('../fixtures/sbom/spdx-schema-2.3.json', import.meta.url), 'utf8')),
);
let images: TestImages;
let root: string;
let cacheDir: string;
let names: string[];

before(async () => {
  images = await testImages();
  root = mkdtempSync(join(tmpdir(), 'moat-roundtrip-'));
  cacheDir = join(root, 'cache');
  const exports = join(FIXTURES, 'osv-export');
  for (const eco of readdirSync(exports).sort()) {
    await importOsv(join(cacheDir, 'vulndb.sqlite'), join(exports, eco, 'all.zip'));
  }
  // the image names the layout holds, as its index lists them
  const index = JSON.parse(readFileSync(join(images.oci, 'index.json'), 'utf8')) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  names = index.manifests
    .map((m) => m.annotations?.['org.opencontainers.image.ref.name'])
    .filter((n): n is string => !!n);
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A finding as both scans must agree on it. */
const key = (f: Finding): string =>
  [
    f.id,
    f.package.type,
    f.package.name,
    f.installedVersion,
    f.package.path,
    f.package.layer?.digest ?? '',
    f.fixedVersion ?? '',
    f.severity,
    f.status,
  ].join('|');

const keys = (r: ScanResult) => r.findings.map(key).sort();

describe('sbom then scan sbom gives the findings of scan image', () => {
  const totals = { images: 0, findings: 0, langFindings: 0, types: new Set<string>() };

  test('every test image, through CycloneDX and SPDX', async () => {
    assert.ok(names.length >= 5, `test layout images: ${names}`);
    for (const name of names) {
      const ref = `oci:${images.oci}:${name}`;
      const direct = await scanImage(ref, { cacheDir, now, listPackages: true });
      const inv = await inventoryImage(ref, { cacheDir, now });
      assert.equal(inv.packages.length, direct.packages!.length, `${name}: the inventory is the scan's`);
      for (const [format, render] of [
        ['cdx', renderCycloneDx],
        ['spdx', renderSpdx],
      ] as const) {
        const file = join(root, `${name}.${format}.json`);
        const text = render(inv);
        writeFileSync(file, text);
        // each SBOM is valid in its format before it is read back
        if (format === 'cdx') assert.equal(await cdxValidator.validate(text), null, `${name}: CycloneDX`);
        else assert.ok(spdxValidate(JSON.parse(text)), `${name}: ${ajv.errorsText(spdxValidate.errors)}`);
        const viaSbom = await scanSbom(file, { cacheDir, now, listPackages: true });
        assert.deepEqual(keys(viaSbom), keys(direct), `${name} via ${format}`);
        assert.equal(viaSbom.summary.packages, direct.summary.packages, `${name} via ${format}: packages`);
        assert.equal(viaSbom.os?.ecosystem, direct.os?.ecosystem, `${name} via ${format}: OS ecosystem`);
        assert.equal(viaSbom.target.kind, 'sbom');
        assert.equal(viaSbom.target.digest, direct.target.digest);
      }
      totals.images++;
      totals.findings += direct.findings.length;
      totals.langFindings += direct.findings.filter((f) => !isOsPackageType(f.package.type)).length;
      for (const p of direct.packages!) totals.types.add(p.type);
    }
    // the comparison is not vacuous: findings exist, and the images hold OS and language packages
    assert.ok(totals.findings > 0, 'some image has findings');
    assert.ok(totals.langFindings > 0, 'some findings are in language packages');
    assert.ok(totals.types.has('dpkg'), `package types: ${[...totals.types]}`);
  });
});
