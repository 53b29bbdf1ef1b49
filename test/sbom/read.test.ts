/**
 * Reading SBOMs back into packages: moat's own CycloneDX and SPDX (every package field that matching
 * and reporting use comes back), Trivy's CycloneDX 1.5 and SPDX 2.2 (test/fixtures/sbom), components
 * without purls counted, and errors that name the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isMoatError } from '../../src/errors.js';
import type { Package } from '../../src/model/package.js';
import { buildCycloneDx } from '../../src/sbom/cyclonedx.js';
import { parseSbom, readSbomFile } from '../../src/sbom/read.js';
import { buildSpdx } from '../../src/sbom/spdx.js';
import { fixedResult } from '../report/fixture.js';

const FIXTURES = new URL('../fixtures/sbom/', import.meta.url);
const tmp = mkdtempSync(join(tmpdir(), 'moat-sbom-read-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const inventory = () => {
  const r = fixedResult();
  return { tool: r.tool, generatedAt: r.generatedAt, target: r.target, os: r.os, packages: r.packages! };
};

/** The fields matching and reports use, as moat's scan produced them. */
function essentials(p: Package) {
  return {
    type: p.type,
    name: p.name,
    version: p.version,
    arch: p.arch,
    source: p.source,
    path: p.path,
    layer: p.layer && { index: p.layer.index, digest: p.layer.digest, diffId: p.layer.diffId },
    foundBy: p.foundBy,
    osPackage: p.osPackage,
    dev: p.dev,
    direct: p.direct,
    locations: p.locations,
  };
}

describe("moat's own SBOMs read back", () => {
  for (const [format, build] of [
    ['cyclonedx', buildCycloneDx],
    ['spdx', buildSpdx],
  ] as const) {
    test(format, () => {
      const input = inventory();
      const parsed = parseSbom(JSON.parse(JSON.stringify(build(input))), 'x.json');
      assert.equal(parsed.format, format);
      assert.deepEqual(parsed.packages.map(essentials), input.packages.map(essentials));
      assert.equal(parsed.skipped, 0);
      assert.equal(parsed.unsupported, 0);
      assert.equal(parsed.os?.family, input.os!.family);
      assert.equal(parsed.os?.version, input.os!.version);
      assert.equal(parsed.digest, input.target.digest);
      assert.equal(parsed.name, input.target.name);
      assert.deepEqual(
        parsed.layers.map((l) => l.digest),
        input.target.layers.map((l) => l.digest),
      );
    });
  }
});

describe("Trivy's SBOMs", () => {
  test('CycloneDX 1.5: rpm packages with epoch, source packages from properties, the OS component', () => {
    const file = new URL('trivy-centos-7-cyclonedx.json', FIXTURES);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as {
      components: {
        type: string;
        name: string;
        purl?: string;
        properties?: { name: string; value: string }[];
      }[];
    };
    const parsed = readSbomFile(file.pathname);
    const libs = doc.components.filter((c) => c.type === 'library');
    assert.deepEqual(
      parsed.packages.map((p) => p.name),
      libs.map((c) => c.name),
    );
    assert.equal(parsed.specVersion, '1.5');
    assert.deepEqual(parsed.os && { family: parsed.os.family, version: parsed.os.version }, {
      family: 'centos',
      version: '7.6.1810',
    });
    for (const c of libs) {
      const p = parsed.packages.find((x) => x.name === c.name)!;
      const prop = (n: string) => c.properties?.find((x) => x.name === `aquasecurity:trivy:${n}`)?.value;
      const epoch = /[?&]epoch=(\d+)/.exec(c.purl!)?.[1];
      assert.equal(p.type, 'rpm');
      assert.equal(p.version, `${epoch ? `${epoch}:` : ''}${/@([^?]+)/.exec(c.purl!)![1]}`);
      assert.equal(p.arch, 'x86_64');
      assert.equal(p.source?.name, prop('SrcName'));
      const srcEpoch = prop('SrcEpoch');
      assert.equal(
        p.source?.version,
        `${srcEpoch ? `${srcEpoch}:` : ''}${prop('SrcVersion')}-${prop('SrcRelease')}`,
      );
    }
  });

  test('SPDX 2.2: the OS package by its SPDXID, packages from purls (not versionInfo)', () => {
    const file = new URL('trivy-centos-7-spdx.json', FIXTURES).pathname;
    const parsed = readSbomFile(file);
    assert.equal(parsed.format, 'spdx');
    assert.equal(parsed.specVersion, '2.2');
    assert.equal(parsed.os?.family, 'centos');
    assert.equal(parsed.os?.version, '7.6.1810');
    assert.deepEqual(
      parsed.packages.map((p) => `${p.name} ${p.version}`),
      ['bash 4.2.46-31.el7', 'openssl-libs 1:1.0.2k-16.el7'],
    );
    assert.equal(parsed.skipped, 0, 'the image package is the subject, not a skipped package');
  });
});

describe('what cannot be matched', () => {
  test('components without a purl are skipped and counted; unknown purl types too; nested ones are read', () => {
    const doc = {
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      components: [
        {
          type: 'library',
          name: 'openssl',
          version: '3.0.2',
          cpe: 'cpe:2.3:a:openssl:openssl:3.0.2:*:*:*:*:*:*:*',
        },
        { type: 'library', name: 'thing', version: '1', purl: 'pkg:generic/thing@1' },
        {
          type: 'application',
          name: 'app',
          components: [{ type: 'library', name: 'PyYAML', version: '5.3.1', purl: 'pkg:pypi/pyyaml@5.3.1' }],
        },
      ],
    };
    const parsed = parseSbom(doc, 'nested.json');
    assert.equal(parsed.skipped, 2, 'the library with a CPE only, and the application without purl');
    assert.equal(parsed.unsupported, 1);
    assert.deepEqual(
      parsed.packages.map((p) => [p.type, p.name, p.version, p.path]),
      [['python', 'PyYAML', '5.3.1', 'nested.json']],
      "the document's spelling of the name, the SBOM file as path",
    );
    assert.deepEqual(parsed.warnings.map((w) => w.code).sort(), ['sbom-skipped', 'sbom-unsupported']);
    assert.match(parsed.warnings.find((w) => w.code === 'sbom-unsupported')!.message, /generic/);
  });

  test('versions outside 1.4-1.6 and 2.2-2.3 are read with a warning', () => {
    const cdx = parseSbom({ bomFormat: 'CycloneDX', specVersion: '1.3', components: [] }, 'old.json');
    assert.deepEqual(
      cdx.warnings.map((w) => w.code),
      ['sbom-version'],
    );
    const spdx = parseSbom({ spdxVersion: 'SPDX-2.1', packages: [] }, 'old.spdx.json');
    assert.deepEqual(
      spdx.warnings.map((w) => w.code),
      ['sbom-version'],
    );
  });

  test('not JSON, not an SBOM, no such file: BAD_SBOM naming the file', () => {
    const notJson = join(tmp, 'broken.json');
    writeFileSync(notJson, '{"bomFormat": "CycloneDX", ');
    const notSbom = join(tmp, 'package.json');
    writeFileSync(notSbom, '{"name": "x"}');
    for (const f of [notJson, notSbom, join(tmp, 'missing.json')]) {
      assert.throws(
        () => readSbomFile(f),
        (e: unknown) =>
          isMoatError(e) && e.code === 'BAD_SBOM' && e.message.includes(f) && !e.message.includes('\n'),
        f,
      );
    }
  });
});
