/**
 * The layer cache as a user meets it: a rescan gives the same report, an image that shares a layer
 * with one scanned before reuses that layer's analysis, and --skip-layer-cache neither reads nor writes
 * it. Evidence without timing: the cache file's rows (src/scan/cache.ts: `layers.sqlite`, keyed by layer
 * digest, with a creation time), and layouts whose shared layer blob is deleted after the first scan, so
 * that only the cache can answer for it.
 */
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { importedCache, moat, moatJson, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';
import { layoutBlob, layoutRef, type TestImages, testImages } from '../helpers/registry.js';
import { type Report, stable } from './lib.js';

let images: TestImages;
let template: string;

before(async () => {
  requireBuild();
  images = await testImages();
  template = await importedCache();
});

interface Row {
  key: string;
  created: number;
}

function cacheRows(sb: Sandbox): Row[] {
  const file = join(sb.cache, 'layers.sqlite');
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT key, created FROM layers ORDER BY key').all() as Row[];
  } finally {
    db.close();
  }
}

const layerDigests = (layout: string, ref: string): string[] =>
  layoutBlob<{ layers: { digest: string }[] }>(layout, layoutRef(layout, ref).digest).layers.map(
    (l) => l.digest,
  );

/** A copy of some refs of the test layout (index, manifests, configs, layers), to delete blobs from. */
function copyLayout(dest: string, refs: string[]): string {
  mkdirSync(join(dest, 'blobs', 'sha256'), { recursive: true });
  cpSync(join(images.oci, 'oci-layout'), join(dest, 'oci-layout'));
  cpSync(join(images.oci, 'index.json'), join(dest, 'index.json'));
  for (const ref of refs) {
    const top = layoutRef(images.oci, ref).digest;
    const m = layoutBlob<{ config: { digest: string }; layers: { digest: string }[] }>(images.oci, top);
    for (const d of [top, m.config.digest, ...m.layers.map((l) => l.digest)]) {
      const rel = join('blobs', ...d.split(':'));
      if (!existsSync(join(dest, rel))) copyFileSync(join(images.oci, rel), join(dest, rel));
    }
  }
  return dest;
}

describe('layer cache', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await sandbox({ cacheFrom: template });
  });
  after(() => sb?.remove());

  const scan = (ref: string, ...extra: string[]) =>
    moatJson<Report>(sb, ['scan', 'image', `oci:${images.oci}:${ref}`, '--list-packages', ...extra]);

  it('a rescan gives the same report and reuses the rows of the first scan', async () => {
    assert.deepEqual(cacheRows(sb), [], 'the template cache holds no layer rows');
    const first = await scan('base-old');
    const rows = cacheRows(sb);
    const [layer] = layerDigests(images.oci, 'base-old');
    assert.ok(
      rows.some((r) => r.key.startsWith(`${layer}|`)),
      `no cache row for ${layer}: ${rows.map((r) => r.key)}`,
    );
    const second = await scan('base-old');
    assert.deepEqual(stable(second), stable(first));
    // same rows, none rewritten (a rewrite would renew `created`)
    assert.deepEqual(cacheRows(sb), rows);
  });

  it('an image sharing the base layer reuses its row and adds rows for its own layers only', async () => {
    const shared = layerDigests(images.oci, 'base-old');
    const own = layerDigests(images.oci, 'multilayer');
    assert.equal(own[0], shared[0], 'multilayer is built on base-old');
    await scan('base-old');
    const before = cacheRows(sb);
    const cached = await scan('multilayer');
    const after = cacheRows(sb);
    for (const r of before)
      assert.ok(
        after.some((a) => a.key === r.key && a.created === r.created),
        r.key,
      );
    const added = after.filter((a) => !before.some((b) => b.key === a.key)).map((a) => a.key.split('|')[0]);
    for (const d of own.slice(1)) assert.ok(added.includes(d), `no new row for layer ${d}`);
    assert.ok(!added.includes(shared[0]));
    // and the reused analysis gives what a scan without the cache gives
    const uncached = await scan('multilayer', '--skip-layer-cache');
    assert.deepEqual(stable(cached), stable(uncached));
  });

  it('only the cache can answer for a shared layer whose blob is gone', async () => {
    const fresh = await sandbox({ cacheFrom: template });
    try {
      const layout = copyLayout(join(fresh.inputs, 'layout'), ['base-old', 'multilayer']);
      const first = await moatJson<Report>(fresh, [
        'scan',
        'image',
        `oci:${layout}:base-old`,
        '--list-packages',
      ]);
      const [base] = layerDigests(layout, 'base-old');
      rmSync(join(layout, 'blobs', ...base!.split(':')));
      const again = await moatJson<Report>(fresh, [
        'scan',
        'image',
        `oci:${layout}:base-old`,
        '--list-packages',
      ]);
      assert.deepEqual(stable(again), stable(first));
      const multi = await moatJson<Report>(fresh, [
        'scan',
        'image',
        `oci:${layout}:multilayer`,
        '--list-packages',
      ]);
      const reference = await scan('multilayer', '--skip-layer-cache');
      assert.deepEqual(stable(multi), stable(reference));
      // without the cache the missing blob is an input error
      const r = await moat(fresh, ['scan', 'image', `oci:${layout}:multilayer`, '--skip-layer-cache']);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.lines.length, 1, r.stderr);
      assert.match(r.lines[0]!, new RegExp(base!.slice(7, 19)));
    } finally {
      fresh.remove();
    }
  });

  it('--skip-layer-cache neither reads nor writes the cache', async () => {
    const fresh = await sandbox({ cacheFrom: template });
    try {
      const r = await moatJson<Report>(fresh, [
        'scan',
        'image',
        `oci:${images.oci}:python`,
        '--list-packages',
        '--skip-layer-cache',
      ]);
      assert.deepEqual(cacheRows(fresh), []);
      assert.ok((r.packages ?? []).length > 0);
      const cached = await moatJson<Report>(fresh, [
        'scan',
        'image',
        `oci:${images.oci}:python`,
        '--list-packages',
      ]);
      assert.ok(cacheRows(fresh).length > 0);
      assert.deepEqual(stable(cached), stable(r));
    } finally {
      fresh.remove();
    }
  });
});
