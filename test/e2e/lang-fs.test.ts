/**
 * `moat scan fs` on a real project tree: the node-app image's /app unpacked by GNU tar, plus what a
 * checkout brings (a .git directory holding an older lockfile) and a symlink out of the tree. The
 * findings must be the image scan's (which lang-real.test.ts proves against npm's semver), with no
 * layer, from a `filesystem` target; .git and the host outside the tree are never read.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import { importedCache, moat, moatJson, REPO, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';
import { layoutBlob, layoutRef, type TestImages, testImages } from '../helpers/registry.js';

const run = promisify(execFile);
const EXPORTS = join(REPO, 'test/fixtures/vulndb/osv-export');

interface Report {
  target: { kind: string; ref: string; name: string; layers: unknown[] };
  findings: {
    ecosystem: string;
    records: string[];
    package: { name: string; version: string; path: string; layer?: unknown };
  }[];
  packages?: {
    type: string;
    name: string;
    version: string;
    path: string;
    layer?: unknown;
    locations?: string[];
  }[];
  summary: { findings: number };
}

let images: TestImages;
let sb: Sandbox;
let project: string;

before(async () => {
  requireBuild();
  images = await testImages();
  sb = await sandbox({
    cacheFrom: await importedCache(['Debian', 'npm'].map((e) => join(EXPORTS, e, 'all.zip'))),
  });
  const desc = layoutRef(images.oci, 'node-app');
  const layers = layoutBlob<{ layers: { digest: string }[] }>(images.oci, desc.digest).layers;
  const app = join(images.oci, 'blobs', ...layers.at(-1)!.digest.split(':'));
  const root = join(sb.inputs, 'checkout');
  mkdirSync(root, { recursive: true });
  await run('tar', ['-xzf', app, '-C', root, 'app']);
  project = join(root, 'app');
  // a checkout's object store with an older lockfile: history, not the project
  const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  lock.packages['node_modules/lodash']!.version = '4.17.4';
  mkdirSync(join(project, '.git/modules/old'), { recursive: true });
  writeFileSync(join(project, '.git/modules/old/package-lock.json'), JSON.stringify(lock));
  // a link out of the tree, to a package that must never be seen
  const outside = join(sb.inputs, 'outside/evil');
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'package.json'), JSON.stringify({ name: 'evil-outside', version: '6.6.6' }));
  symlinkSync(join(sb.inputs, 'outside'), join(project, 'node_modules/@outside'));
});
after(() => sb?.remove());

const npmKeys = (r: Report): string[] =>
  r.findings
    .filter((f) => f.ecosystem === 'npm')
    .flatMap((f) => f.records.map((id) => `${f.package.name} ${f.package.version} ${id}`))
    .sort();

describe('moat scan fs', () => {
  it('finds what the image scan finds in the same files, as a filesystem target without layers', async () => {
    const fs = await moatJson<Report>(sb, ['scan', 'fs', project, '--list-packages']);
    const image = await moatJson<Report>(sb, [
      'scan',
      'image',
      `oci:${images.oci}:node-app`,
      '--list-packages',
    ]);
    assert.deepEqual(fs.target, { kind: 'filesystem', ref: project, name: project, layers: [] });
    assert.ok(npmKeys(image).length > 0);
    assert.deepEqual(npmKeys(fs), npmKeys(image));
    assert.ok(fs.findings.every((f) => f.package.layer === undefined));
    assert.ok(fs.packages!.every((p) => p.layer === undefined));
    // the image's npm packages, with paths relative to the project instead of the image root
    const names = (r: Report, strip: string | RegExp) =>
      r
        .packages!.filter((p) => p.type === 'npm')
        .map((p) => `${p.name}@${p.version} ${p.path.replace(strip, '')}`)
        .sort();
    assert.deepEqual(names(fs, ''), names(image, /^app\//));
    const lodash = fs.packages!.find((p) => p.name === 'lodash')!;
    assert.deepEqual([...lodash.locations!].sort(), [
      'node_modules/lodash/package.json',
      'package-lock.json',
    ]);
  });

  it('reports validate against docs/schema/scan-report-1.1.json', async () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    (addFormatsPlugin as unknown as (a: Ajv2020) => void)(ajv);
    const schema = JSON.parse(readFileSync(join(REPO, 'docs/schema/scan-report-1.1.json'), 'utf8'));
    const validate = ajv.compile(schema);
    const reports: [string, unknown][] = [
      ['scan fs', await moatJson(sb, ['scan', 'fs', project, '--list-packages'])],
      ['node-app', await moatJson(sb, ['scan', 'image', `oci:${images.oci}:node-app`, '--list-packages'])],
      ['python', await moatJson(sb, ['scan', 'image', `oci:${images.oci}:python`, '--list-packages'])],
    ];
    for (const [what, r] of reports) assert.ok(validate(r), `${what}: ${ajv.errorsText(validate.errors)}`);
  });

  it('skips .git and never follows a link out of the tree', async () => {
    const r = await moatJson<Report>(sb, ['scan', 'fs', project, '--list-packages']);
    const paths = r.packages!.flatMap((p) => [p.path, ...(p.locations ?? [])]);
    assert.deepEqual(
      paths.filter((p) => p.includes('.git/')),
      [],
    );
    assert.deepEqual(
      r.packages!.filter((p) => p.name === 'evil-outside' || p.version === '4.17.4'),
      [],
    );
  });

  it('takes the scan options: --fail-on, table output; a missing directory is an input error', async () => {
    const fail = await moat(sb, ['scan', 'fs', project, '--fail-on', 'LOW', '-q']);
    assert.equal(fail.code, 1, fail.stderr);
    assert.match(fail.stdout, /lodash/);
    const relative = await moat(sb, ['scan', 'fs', '.', '-f', 'json'], { cwd: project });
    assert.equal(relative.code, 0, relative.stderr);
    assert.equal((JSON.parse(relative.stdout) as Report).target.ref, '.');
    const missing = join(sb.inputs, 'nope');
    const r = await moat(sb, ['scan', 'fs', missing]);
    assert.equal(r.code, 2);
    assert.equal(r.lines.length, 1, r.stderr);
    assert.ok(r.lines[0]!.startsWith(`moat: ${missing}: no such directory`), r.stderr);
  });
});
