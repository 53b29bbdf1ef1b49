/**
 * The built CLI (needs `npm run build`): `moat sbom image|fs`, `moat scan sbom`, the new report formats,
 * `.moatignore` found in the working directory, `--vex` given twice, `--show-suppressed`, and --fail-on
 * after suppression; bad SBOMs and ignore files are one-line input errors (exit 2).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import {
  importedCache,
  type MoatRun,
  moat,
  moatJson,
  requireBuild,
  type Sandbox,
  sandbox,
} from '../helpers/cli.js';
import { type TestImages, testImages } from '../helpers/registry.js';

interface Report {
  target: { kind: string; digest?: string };
  summary: { findings: number; suppressed?: number };
  findings: {
    id: string;
    package: { name: string; version: string; path: string };
    installedVersion: string;
  }[];
  suppressed?: { id: string; suppressedBy: { kind: string; file: string } }[];
  packages?: { name: string; purl?: string }[];
}

let images: TestImages;
let sb: Sandbox;
let ref: string;
let direct: Report;

before(async () => {
  requireBuild();
  images = await testImages();
  sb = await sandbox({ cacheFrom: await importedCache() });
  ref = `oci:${images.oci}:base-old`;
  direct = await moatJson<Report>(sb, ['scan', 'image', ref, '--list-packages']);
});
after(() => sb?.remove());

const key = (f: Report['findings'][number]) =>
  `${f.id} ${f.package.name} ${f.installedVersion} ${f.package.path}`;

function assertInputError(r: MoatRun, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.equal(r.lines.length, 1, r.stderr);
  assert.match(r.lines[0]!, pattern);
}

describe('moat sbom', () => {
  test('image: CycloneDX by default (valid 1.6), SPDX on request; scan sbom of either matches scan image', async () => {
    const cdx = join(sb.out, 'base-old.cdx.json');
    const spdx = join(sb.out, 'base-old.spdx.json');
    let r = await moat(sb, ['sbom', 'image', ref, '-o', cdx]);
    assert.equal(r.code, 0, r.stderr);
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    assert.equal(await validator.validate(readFileSync(cdx, 'utf8')), null);
    r = await moat(sb, ['sbom', 'image', ref, '--format', 'spdx', '-o', spdx]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(readFileSync(spdx, 'utf8')).spdxVersion, 'SPDX-2.3');
    for (const file of [cdx, spdx]) {
      const viaSbom = await moatJson<Report>(sb, ['scan', 'sbom', file]);
      assert.equal(viaSbom.target.kind, 'sbom');
      assert.equal(viaSbom.target.digest, direct.target.digest);
      assert.deepEqual(viaSbom.findings.map(key), direct.findings.map(key), file);
    }
  });

  test('a scan format is refused on the command line, ignored from the environment', async () => {
    assertInputError(await moat(sb, ['sbom', 'image', ref, '--format', 'sarif']), /cyclonedx or spdx/);
    const r = await moat(sb, ['sbom', 'image', ref], { env: { MOAT_FORMAT: 'sarif' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).bomFormat, 'CycloneDX');
  });

  test('fs: a root filesystem directory', async () => {
    const r = await moat(sb, ['sbom', 'fs', join(images.root, 'rootfs', 'base-old')]);
    assert.equal(r.code, 0, r.stderr);
    const bom = JSON.parse(r.stdout) as {
      metadata: { component: { type: string } };
      components: { purl?: string }[];
    };
    assert.equal(bom.metadata.component.type, 'application');
    const purls = new Set(bom.components.map((c) => c.purl).filter(Boolean));
    for (const p of direct.packages!) assert.ok(purls.has(p.purl), `${p.purl} in the directory's SBOM`);
  });
});

describe('moat scan sbom: bad input', () => {
  test('not JSON, not an SBOM, missing: exit 2 with one line naming the file', async () => {
    const broken = join(sb.inputs, 'broken.json');
    writeFileSync(broken, '{"bomFormat":');
    const other = join(sb.inputs, 'other.json');
    writeFileSync(other, '{"name":"x"}');
    for (const f of [broken, other, join(sb.inputs, 'missing.json')]) {
      assertInputError(await moat(sb, ['scan', 'sbom', f]), new RegExp(`^moat: SBOM ${f}: `));
    }
  });
});

describe('report formats from the CLI', () => {
  test('junit parses as XML with one testcase per finding; cyclonedx and spdx carry every package', async () => {
    const junit = await moat(sb, ['scan', 'image', ref, '--format', 'junit']);
    assert.equal(junit.code, 0, junit.stderr);
    const count = execFileSync(
      'python3',
      [
        '-c',
        'import sys,xml.etree.ElementTree as E; print(len(E.fromstring(sys.stdin.read()).findall(".//testcase")))',
      ],
      { input: junit.stdout, encoding: 'utf8' },
    );
    assert.equal(Number(count), direct.findings.length || 1);
    const cdx = await moat(sb, ['scan', 'image', ref, '--format', 'cyclonedx']);
    const bom = JSON.parse(cdx.stdout) as {
      components: { type: string }[];
      vulnerabilities: { affects: unknown[] }[];
    };
    assert.equal(bom.components.filter((c) => c.type === 'library').length, direct.packages!.length);
    assert.equal(
      bom.vulnerabilities.reduce((n, v) => n + v.affects.length, 0),
      direct.findings.length,
    );
    const spdx = await moat(sb, ['scan', 'image', ref, '--format', 'spdx']);
    const doc = JSON.parse(spdx.stdout) as { packages: { primaryPackagePurpose?: string }[] };
    assert.equal(
      doc.packages.filter((p) => p.primaryPackagePurpose === 'LIBRARY').length,
      direct.packages!.length,
    );
  });
});

describe('suppression from the CLI', () => {
  test('./.moatignore and two --vex files: suppressed findings leave --fail-on, the table lists them on request', async () => {
    assert.ok(direct.findings.length >= 2);
    const [first, ...rest] = direct.findings;
    writeFileSync(join(sb.cwd, '.moatignore'), `- id: ${first!.id}\n  reason: accepted risk\n`);
    const vexFor = (ids: string[], file: string) => {
      const f = join(sb.inputs, file);
      writeFileSync(
        f,
        JSON.stringify({
          '@context': 'https://openvex.dev/ns/v0.2.0',
          '@id': `urn:${file}`,
          author: 'test',
          timestamp: '2026-01-01T00:00:00Z',
          version: 1,
          statements: ids.map((id) => ({
            vulnerability: { name: id },
            products: [{ '@id': `pkg:oci/base-old@${direct.target.digest}` }],
            status: 'not_affected',
            justification: 'vulnerable_code_not_present',
          })),
        }),
      );
      return f;
    };
    const ids = [...new Set(rest.map((f) => f.id))];
    const half = Math.ceil(ids.length / 2);
    const vexA = vexFor(ids.slice(0, half), 'a.openvex.json');
    const vexB = vexFor(ids.slice(half), 'b.openvex.json');
    try {
      const r = await moatJson<Report>(sb, ['scan', 'image', ref, '--vex', vexA, '--vex', vexB]);
      assert.deepEqual(r.findings, [], 'everything suppressed');
      assert.equal(r.summary.suppressed, direct.findings.length);
      assert.ok(
        r.suppressed!.some(
          (s) => s.suppressedBy.kind === 'ignore-file' && s.suppressedBy.file === '.moatignore',
        ),
      );
      const fail = await moat(sb, [
        'scan',
        'image',
        ref,
        '--vex',
        vexA,
        '--vex',
        vexB,
        '--fail-on',
        'UNKNOWN',
      ]);
      assert.equal(fail.code, 0, 'nothing left to fail on');
      const onlyIgnore = await moat(sb, ['scan', 'image', ref, '--fail-on', 'UNKNOWN']);
      assert.equal(onlyIgnore.code, 1, 'the VEX findings are back without --vex');
      const table = await moat(sb, ['scan', 'image', ref, '--vex', `${vexA},${vexB}`, '--show-suppressed']);
      assert.match(table.stdout, new RegExp(`Suppressed \\(${direct.findings.length}\\):`));
      assert.match(table.stdout, /\.moatignore:1 +accepted risk/);
      // another ignore file replaces ./.moatignore
      const other = join(sb.inputs, 'other.yaml');
      writeFileSync(other, '[]\n');
      const withOther = await moatJson<Report>(sb, ['scan', 'image', ref, '--ignore-file', other]);
      assert.equal(withOther.findings.length, direct.findings.length);
    } finally {
      writeFileSync(join(sb.cwd, '.moatignore'), '');
    }
  });

  test('a broken ignore file is a one-line input error naming file and line', async () => {
    const bad = join(sb.inputs, 'bad.yaml');
    writeFileSync(bad, '- reason: no id\n');
    assertInputError(
      await moat(sb, ['scan', 'image', ref, '--ignore-file', bad]),
      /bad\.yaml:1: entry without an `id`/,
    );
  });
});
