/**
 * The built CLI on the real test images against the Debian oracle: the Debian 12 export imported with
 * `moat db import`, each image scanned with `--format json`, and the set of (binary package, record,
 * fixed version) compared with what test/scripts/debian-expected.sh computes, with the real
 * `dpkg --compare-versions`, from the image's own dpkg database (exported through buildah by
 * make-test-images.sh, independently of moat) and the same records. Also `--list-packages` against that
 * database, parsed here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DEBIAN_ZIP,
  importedCache,
  moat,
  moatJson,
  requireBuild,
  type Sandbox,
  sandbox,
} from '../helpers/cli.js';
import { type TestImages, testImages } from '../helpers/registry.js';
import {
  extractZip,
  findingKey,
  GROUND_TRUTH,
  installedPackages,
  makeDebianRoot,
  OracleRecords,
  oracle,
  packageKey,
  type Report,
  reportFindingKeys,
  reportPackageKeys,
  setDiff,
} from './lib.js';

let images: TestImages;
let sb: Sandbox;
let records: OracleRecords;

before(async () => {
  requireBuild();
  images = await testImages();
  sb = await sandbox({ cacheFrom: await importedCache() });
  const dir = join(sb.inputs, 'records');
  const n = extractZip(DEBIAN_ZIP, dir);
  assert.ok(n > 1000, `the Debian export should hold thousands of records, got ${n}`);
  records = new OracleRecords(dir);
});
after(() => sb?.remove());

const rootfs = (name: string): string => join(images.root, 'rootfs', name);
const scan = (ref: string, ...extra: string[]): Promise<Report> =>
  moatJson<Report>(sb, ['scan', 'image', ref, ...extra]);

function assertSameFindings(report: Report, expected: Set<string>, what: string): void {
  const { missing, extra } = setDiff(reportFindingKeys(report), expected);
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${what}: moat vs the oracle`);
  assert.equal(report.summary.findings, report.findings.length);
  assert.equal(report.summary.healthy, expected.size === 0, `${what}: healthy iff the oracle finds nothing`);
}

/** The ground-truth status files as dir: roots, scanned and compared with the oracle and the stored TSV. */
async function groundTruth(name: string): Promise<{ report: Report; expected: Set<string> }> {
  const status = join(GROUND_TRUTH, `${name}.status`);
  const root = makeDebianRoot(join(sb.inputs, `gt-${name}`), status);
  const [expected, report] = await Promise.all([oracle(status, records), scan(`dir:${root}`)]);
  // the stored TSV was made by the same oracle from the same records: a drift means a changed script or data
  const stored = new Set(
    readFileSync(join(GROUND_TRUTH, `${name}.expected.tsv`), 'utf8')
      .split('\n')
      .slice(1)
      .filter((l) => l !== '')
      .map((l) => {
        const c = l.split('\t');
        return findingKey(c[0]!, c[4]!, c[5]);
      }),
  );
  assert.deepEqual(setDiff(expected, stored), { missing: [], extra: [] }, `${name}: oracle vs stored TSV`);
  return { report, expected };
}

describe('real images against the Debian oracle', () => {
  it('base-old (Debian 12 without its updates) has exactly the findings the oracle computes', async (t) => {
    let expected = await oracle(rootfs('base-old'), records);
    if (expected.size > 0) {
      assertSameFindings(await scan(`oci:${images.oci}:base-old`), expected, 'base-old');
      return;
    }
    // a mirror newer than the records leaves nothing to find: use the ground-truth roots instead
    t.diagnostic('base-old has no expected findings with these records: checking the ground-truth roots');
    for (const name of ['image-base-old', 'minbase-bookworm-only', 'extras-bookworm-only']) {
      const r = await groundTruth(name);
      expected = r.expected;
      assert.ok(expected.size > 0, `${name}: an empty expectation cannot test matching`);
      assertSameFindings(r.report, expected, name);
    }
  });

  for (const name of ['base', 'distroless', 'python', 'multilayer', 'node-app']) {
    it(`${name} has exactly the findings the oracle computes`, async () => {
      const [expected, report] = await Promise.all([
        oracle(rootfs(name), records),
        scan(`oci:${images.oci}:${name}`),
      ]);
      assertSameFindings(report, expected, name);
      assert.equal(report.os?.ecosystem, 'Debian:12');
    });
  }

  it('base: the table says whether the image is healthy, in line with the JSON', async () => {
    const json = await scan(`oci:${images.oci}:base`);
    const r = await moat(sb, ['scan', 'image', `oci:${images.oci}:base`]);
    assert.equal(r.code, 0, r.stderr);
    if (json.summary.healthy) {
      assert.match(
        r.stdout,
        new RegExp(`Healthy: no known vulnerabilities in ${json.summary.packages} packages`),
      );
    } else {
      for (const f of json.findings) assert.ok(r.stdout.includes(f.id), `table lacks ${f.id}`);
      assert.doesNotMatch(r.stdout, /Healthy/);
    }
  });

  it('go-scratch (no package database, no OS release) scans clean with no packages', async () => {
    const report = await scan(`oci:${images.oci}:go-scratch`, '--list-packages');
    assert.equal(report.summary.healthy, true);
    assert.deepEqual(
      report.packages?.filter((p) => p.type === 'dpkg'),
      [],
    );
  });

  for (const name of [
    'image-base-old',
    'image-base',
    'minbase-bookworm-only',
    'minbase-all-suites',
    'extras-bookworm-only',
    'extras-all-suites',
  ]) {
    it(`ground truth ${name} (dir: root) matches the oracle`, async () => {
      const { report, expected } = await groundTruth(name);
      // the bookworm-only roots predate the records' fixes (see ground-truth/README.md)
      if (name.includes('bookworm-only') || name === 'image-base-old') assert.ok(expected.size > 0);
      assertSameFindings(report, expected, name);
    });
  }
});

describe('--list-packages lists the installed packages of the image', () => {
  for (const name of ['base-old', 'base', 'distroless', 'python', 'multilayer', 'node-app']) {
    it(name, async () => {
      const expected = installedPackages(rootfs(name));
      assert.ok(expected.length > 0, `${name}: no installed packages in its exported dpkg database`);
      const report = await scan(`oci:${images.oci}:${name}`, '--list-packages');
      assert.deepEqual(
        setDiff(reportPackageKeys(report), expected.map(packageKey)),
        { missing: [], extra: [] },
        `${name}: name, version, arch, source name and version`,
      );
      assert.equal(report.summary.packages, report.packages?.length);
      for (const p of report.packages ?? []) {
        const layer = report.target.layers[p.layer?.index ?? -1];
        assert.ok(layer, `${p.name}: no layer`);
        assert.equal(p.layer?.digest, layer.digest, `${p.name}: layer digest`);
      }
      // without the flag the report carries no package list
      assert.equal((await scan(`oci:${images.oci}:${name}`)).packages, undefined);
    });
  }
});
