/**
 * CycloneDX 1.6 output, validated by @cyclonedx/cyclonedx-library's strict JSON validator (the
 * schemas the CycloneDX project ships), and its content: every package a component with its purl
 * and moat's properties, the OS component, vulnerabilities whose `affects` point at components, ratings
 * from the CVSS vectors, an `analysis` for suppressed findings.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { buildCycloneDx, renderCycloneDx } from '../../src/sbom/cyclonedx.js';
import { scanImage } from '../../src/scan/scanner.js';
import { importOsv } from '../../src/vulndb/import.js';
import { testImages } from '../helpers/registry.js';
import { fixedResult, healthyResult, PACKAGES } from '../report/fixture.js';
import { FIXTURES } from '../vulndb/helpers.js';

const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);

/** null when valid, else the validator's errors as text. */
async function validate(json: string): Promise<string | null> {
  const errors = await validator.validate(json);
  return errors === null ? null : JSON.stringify(errors).slice(0, 2000);
}

type Json = Record<string, unknown>;
type Component = {
  type: string;
  'bom-ref': string;
  name: string;
  version?: string;
  group?: string;
  purl?: string;
  properties?: { name: string; value: string }[];
};
type Vulnerability = {
  id: string;
  ratings: { method: string; vector?: string; severity: string }[];
  affects: { ref: string; versions: { version: string; status: string }[] }[];
  analysis?: { state?: string; justification?: string; detail?: string };
};

describe('CycloneDX 1.6', () => {
  test('the validator is live: an unknown field fails', async () => {
    const bom = buildCycloneDx(fixedResult());
    (bom.components as Json[])[0]!.bogus = 1;
    assert.notEqual(await validate(JSON.stringify(bom)), null);
  });

  test('a scan result, a healthy one and an inventory validate', async () => {
    assert.equal(await validate(renderCycloneDx(fixedResult())), null);
    assert.equal(await validate(renderCycloneDx(healthyResult())), null);
    const r = fixedResult();
    assert.equal(
      await validate(
        renderCycloneDx({
          tool: r.tool,
          generatedAt: r.generatedAt,
          target: r.target,
          os: r.os,
          packages: r.packages,
        }),
      ),
      null,
    );
  });

  test('every package is a library component with its purl and where it was found', () => {
    const bom = buildCycloneDx(fixedResult());
    const components = bom.components as Component[];
    const libs = components.filter((c) => c.type === 'library');
    assert.equal(libs.length, PACKAGES.length);
    const refs = new Set(components.map((c) => c['bom-ref']));
    assert.equal(refs.size, components.length, 'bom-refs are unique');
    for (const p of PACKAGES) {
      const c = libs.find(
        (x) =>
          x.properties?.some((pr) => pr.name === 'moat:path' && pr.value === p.path) &&
          x.version === p.version,
      );
      assert.ok(c?.purl, p.name);
      const prop = (n: string) => c.properties?.find((x) => x.name === n)?.value;
      assert.equal(prop('moat:package:type'), p.type);
      assert.equal(prop('moat:layer:digest'), p.layer?.digest);
      assert.equal(prop('moat:foundBy'), p.foundBy);
      assert.equal(prop('moat:osPackage'), p.osPackage);
    }
    const log4j = libs.find((c) => c.purl?.startsWith('pkg:maven/'))!;
    assert.equal(log4j.group, 'org.apache.logging.log4j');
    assert.equal(log4j.name, 'log4j-core');
    const os = components.find((c) => c.type === 'operating-system')!;
    assert.equal(os.name, 'debian');
    assert.equal(os.version, '12');
    const meta = bom.metadata as { component: { type: string; version: string; purl: string } };
    assert.equal(meta.component.type, 'container');
    assert.equal(meta.component.version, fixedResult().target.digest);
    assert.match(meta.component.purl, /^pkg:oci\/app@sha256:[0-9a-f]{64}\?/);
  });

  test('vulnerabilities: affects point at components, CVSS vectors become ratings, suppressed ones analysed', () => {
    const r = fixedResult();
    const bom = buildCycloneDx(r);
    const components = bom.components as Component[];
    const vulns = bom.vulnerabilities as Vulnerability[];
    const refs = new Set(components.map((c) => c['bom-ref']));
    for (const v of vulns) for (const a of v.affects) assert.ok(refs.has(a.ref), `${v.id} -> ${a.ref}`);
    const affected = vulns.flatMap((v) => v.affects.map((a) => `${v.id} ${a.ref}`));
    assert.equal(affected.length, r.findings.length + (r.suppressed?.length ?? 0));
    const log4j = vulns.find((v) => v.id === 'CVE-2021-44228')!;
    assert.deepEqual(
      log4j.ratings.filter((x) => x.vector).map((x) => [x.method, x.vector]),
      r.findings.find((f) => f.id === 'CVE-2021-44228')!.cvss.map((c) => ['CVSSv31', c.vector]),
    );
    assert.deepEqual(
      log4j.affects[0]!.versions.map((x) => x.status),
      ['affected', 'unaffected'],
      'installed affected, fixed version unaffected',
    );
    for (const s of r.suppressed ?? []) {
      const v = vulns.find((x) => x.id === s.id)!;
      assert.ok(v.analysis?.detail?.includes(s.suppressedBy.file), s.id);
    }
    const vex = vulns.find((x) => x.id === 'CVE-2021-23337')!;
    assert.equal(vex.analysis?.state, 'not_affected');
    assert.equal(vex.analysis?.justification, 'code_not_reachable');
    assert.equal(
      vulns.find((x) => x.id === 'CVE-2023-6129')!.analysis?.state,
      undefined,
      'an ignore rule claims no VEX state',
    );
  });

  test('findings of packages not in the list still get a component (scan without --list-packages)', async () => {
    const r = fixedResult();
    r.packages = undefined;
    const bom = buildCycloneDx(r);
    const vulns = bom.vulnerabilities as Vulnerability[];
    const refs = new Set((bom.components as Component[]).map((c) => c['bom-ref']));
    for (const v of vulns) for (const a of v.affects) assert.ok(refs.has(a.ref));
    assert.equal(await validate(JSON.stringify(bom)), null);
  });

  test('licenses: SPDX expressions as expressions, free text as names', () => {
    const r = fixedResult();
    r.packages![0]!.license = 'GPL-2.0-or-later AND (MIT OR BSD-3-Clause)';
    r.packages![1]!.license = 'GPLv2+ and BSD';
    const libs = (buildCycloneDx(r).components as (Component & { licenses?: Json[] })[]).filter(
      (c) => c.type === 'library',
    );
    assert.deepEqual(libs[0]!.licenses, [{ expression: 'GPL-2.0-or-later AND (MIT OR BSD-3-Clause)' }]);
    assert.deepEqual(libs[1]!.licenses, [{ license: { name: 'GPLv2+ and BSD' } }]);
  });
});

describe('CycloneDX 1.6 of real scans', () => {
  const root = mkdtempSync(join(tmpdir(), 'moat-cdx-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('scan results of the test images validate, with a vulnerability entry per finding', async () => {
    const images = await testImages();
    const cacheDir = join(root, 'cache');
    const exports = join(FIXTURES, 'osv-export');
    for (const eco of readdirSync(exports).sort()) {
      await importOsv(join(cacheDir, 'vulndb.sqlite'), join(exports, eco, 'all.zip'));
    }
    for (const name of ['base-old', 'node-app', 'python', 'go-scratch']) {
      const r = await scanImage(`oci:${images.oci}:${name}`, { cacheDir, listPackages: true });
      const json = renderCycloneDx(r);
      assert.equal(await validate(json), null, name);
      const bom = JSON.parse(json) as { components: Component[]; vulnerabilities: Vulnerability[] };
      const affects = bom.vulnerabilities.reduce((n, v) => n + v.affects.length, 0);
      assert.equal(affects, r.findings.length, name);
      assert.equal(bom.components.filter((c) => c.type === 'library').length, r.packages!.length, name);
    }
  });
});
