/**
 * SPDX 2.3 output against the SPDX 2.3 JSON schema (test/fixtures/sbom/spdx-schema-2.3.json, draft
 * 2019-09), plus what the schema cannot check: unique SPDXIDs, every relationship naming existing
 * elements, the document DESCRIBES the target which CONTAINS every package, purls as PACKAGE-MANAGER
 * references, licenses as given (free text as LicenseRef with its text) or NOASSERTION.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormatsPlugin from 'ajv-formats';
import { buildSpdx, renderSpdx } from '../../src/sbom/spdx.js';
import { fixedResult, PACKAGES } from '../report/fixture.js';

const SCHEMA = new URL('../fixtures/sbom/spdx-schema-2.3.json', import.meta.url);

function validator() {
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  (addFormatsPlugin as unknown as (a: Ajv2019) => void)(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));
  return (doc: unknown): string | undefined => (validate(doc) ? undefined : ajv.errorsText(validate.errors));
}

interface Doc {
  SPDXID: string;
  packages: {
    SPDXID: string;
    name: string;
    versionInfo?: string;
    licenseDeclared?: string;
    primaryPackagePurpose?: string;
    externalRefs?: { referenceCategory: string; referenceType: string; referenceLocator: string }[];
    annotations?: { comment: string }[];
  }[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
  hasExtractedLicensingInfos?: { licenseId: string; extractedText: string }[];
  creationInfo: { created: string; creators: string[] };
}

const inventory = () => {
  const r = fixedResult();
  return { tool: r.tool, generatedAt: r.generatedAt, target: r.target, os: r.os, packages: r.packages };
};

describe('SPDX 2.3', () => {
  const validate = validator();

  test('the schema is live: a bad SPDXID fails', () => {
    const doc = buildSpdx(inventory()) as unknown as Doc;
    doc.packages[1]!.SPDXID = 'SPDXRef-has space';
    assert.match(validate(doc) ?? '', /pattern/);
  });

  test('an inventory and a scan result validate', () => {
    assert.equal(validate(JSON.parse(renderSpdx(inventory()))), undefined);
    assert.equal(validate(JSON.parse(renderSpdx(fixedResult()))), undefined);
  });

  test('DESCRIBES the target, which CONTAINS the OS and every package; ids unique and resolvable', () => {
    const doc = buildSpdx(inventory()) as unknown as Doc;
    const ids = doc.packages.map((p) => p.SPDXID);
    assert.equal(new Set(ids).size, ids.length);
    for (const r of doc.relationships) {
      assert.ok(r.spdxElementId === 'SPDXRef-DOCUMENT' || ids.includes(r.spdxElementId), r.spdxElementId);
      assert.ok(ids.includes(r.relatedSpdxElement), r.relatedSpdxElement);
    }
    const describes = doc.relationships.filter((r) => r.relationshipType === 'DESCRIBES');
    assert.equal(describes.length, 1);
    const root = describes[0]!.relatedSpdxElement;
    const contained = doc.relationships
      .filter((r) => r.relationshipType === 'CONTAINS' && r.spdxElementId === root)
      .map((r) => r.relatedSpdxElement);
    assert.equal(contained.length, PACKAGES.length + 1, 'every package and the OS');
    assert.equal(doc.packages.find((p) => p.SPDXID === root)?.primaryPackagePurpose, 'CONTAINER');
    assert.equal(doc.packages.find((p) => p.primaryPackagePurpose === 'OPERATING-SYSTEM')?.name, 'debian');
    assert.match(doc.creationInfo.created, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  test('purls, licenses and moat properties per package', () => {
    const input = inventory();
    input.packages![1]!.license = 'GPLv2+ and BSD';
    const doc = buildSpdx(input) as unknown as Doc;
    for (const p of input.packages!) {
      const pkg = doc.packages.find((x) => x.name === p.name && x.versionInfo === p.version)!;
      const purls = pkg.externalRefs!.filter((r) => r.referenceType === 'purl');
      assert.equal(purls.length, 1, p.name);
      assert.equal(purls[0]!.referenceCategory, 'PACKAGE-MANAGER');
      assert.ok(
        pkg.annotations!.some((a) => a.comment === `moat:path: ${p.path}`),
        p.name,
      );
      if (!p.license) assert.equal(pkg.licenseDeclared, 'NOASSERTION', p.name);
    }
    const lodash = doc.packages.find((x) => x.name === 'lodash')!;
    assert.equal(lodash.licenseDeclared, 'MIT');
    const libssl = doc.packages.find((x) => x.name === 'libssl3')!;
    assert.match(libssl.licenseDeclared!, /^LicenseRef-/);
    assert.deepEqual(
      doc.hasExtractedLicensingInfos?.find((l) => l.licenseId === libssl.licenseDeclared)?.extractedText,
      'GPLv2+ and BSD',
    );
  });
});
