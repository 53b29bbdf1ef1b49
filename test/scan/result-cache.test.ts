import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { scanImage } from '../../src/scan/scanner.js';
import { importOsv } from '../../src/vulndb/import.js';
import { type TestImages, testImages } from '../helpers/registry.js';
import { DEBIAN_ZIP } from '../vulndb/helpers.js';

let images: TestImages;
let root: string;
let cacheDir: string;
const results = () => readdirSync(join(cacheDir, 'results')).filter((n) => n.endsWith('.json.gz'));

before(async () => {
  images = await testImages();
  root = mkdtempSync(join(tmpdir(), 'moat-result-cache-'));
  cacheDir = join(root, 'cache');
  await importOsv(join(cacheDir, 'vulndb.sqlite'), DEBIAN_ZIP);
});
after(() => rmSync(root, { recursive: true, force: true }));

const ref = () => `oci:${images.oci}:base-old`;

describe('scan result cache', () => {
  test('a rescan is answered from the cache; filters and options still apply to it', async () => {
    const first = await scanImage(ref(), { cacheDir, listPackages: true });
    assert.ok(first.findings.length > 0, 'base-old has findings against the Debian data');
    assert.equal(results().length, 1);
    const file = join(cacheDir, 'results', results()[0]!);
    const stored = readFileSync(file);

    const again = await scanImage(ref(), { cacheDir, listPackages: true });
    assert.deepEqual(again.findings, first.findings);
    assert.deepEqual(again.packages, first.packages);
    assert.deepEqual(readFileSync(file), stored, 'a hit does not rewrite the entry');

    const high = await scanImage(ref(), { cacheDir, severity: ['HIGH'] });
    const known = first.findings.filter((f) => f.severity === 'HIGH').length;
    assert.equal(high.findings.length, known);
    assert.equal(high.summary.filtered, first.findings.length - known);
    assert.equal(high.packages, undefined, 'no package list without listPackages');
  });

  test('the stored entry is what a hit returns; a changed database makes a new entry', async () => {
    const [name] = results();
    const file = join(cacheDir, 'results', name!);
    const entry = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'));
    const marker = { ...entry.findings[0], id: 'MOAT-TEST-FROM-CACHE' };
    entry.findings.push(marker);
    writeFileSync(file, gzipSync(JSON.stringify(entry)));
    const hit = await scanImage(ref(), { cacheDir });
    assert.ok(
      hit.findings.some((f) => f.id === 'MOAT-TEST-FROM-CACHE'),
      'read from the cache',
    );

    // a record for a source package of the image, fixed in a version above anything installed
    const pkg = hit.findings[0]!.package;
    const source = pkg.matchedName ?? pkg.name;
    const record = {
      schema_version: '1.6.0',
      id: 'MOAT-TEST-2026-0001',
      modified: '2026-01-01T00:00:00Z',
      summary: 'test record added after the first scan',
      affected: [
        {
          package: { ecosystem: 'Debian:12', name: source },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '999:1' }] }],
        },
      ],
    };
    const recordFile = join(root, 'MOAT-TEST-2026-0001.json');
    writeFileSync(recordFile, JSON.stringify(record));
    await importOsv(join(cacheDir, 'vulndb.sqlite'), recordFile);
    const fresh = await scanImage(ref(), { cacheDir });
    assert.ok(!fresh.findings.some((f) => f.id === 'MOAT-TEST-FROM-CACHE'), 'not the old entry');
    assert.ok(
      fresh.findings.some((f) => f.id === 'MOAT-TEST-2026-0001'),
      'the new record is matched',
    );
    assert.equal(results().length, 2);
  });

  test('an unreadable entry is dropped and the scan computes the result', async () => {
    for (const n of results()) writeFileSync(join(cacheDir, 'results', n), 'not gzip');
    const r = await scanImage(ref(), { cacheDir });
    assert.ok(r.findings.some((f) => f.id === 'MOAT-TEST-2026-0001'));
    // the entry for the current database was rewritten; the stale one (older database) was never read
    const readable = results().filter((n) => {
      try {
        gunzipSync(readFileSync(join(cacheDir, 'results', n)));
        return true;
      } catch {
        return false;
      }
    });
    assert.equal(readable.length, 1);
  });

  test('skipLayerCache neither reads nor writes entries', async () => {
    rmSync(join(cacheDir, 'results'), { recursive: true, force: true });
    await scanImage(ref(), { cacheDir, skipLayerCache: true });
    assert.throws(() => results(), /ENOENT/);
  });

  test('the cache keeps at most 256 entries, dropping the least recently used', async () => {
    await scanImage(ref(), { cacheDir });
    const dir = join(cacheDir, 'results');
    const old = new Date(Date.now() - 86_400_000);
    for (let i = 0; i < 300; i++) {
      const f = join(dir, `${String(i).padStart(64, '0')}.json.gz`);
      writeFileSync(f, gzipSync('{}'));
      utimesSync(f, old, old);
    }
    await scanImage(`oci:${images.oci}:distroless`, { cacheDir });
    const left = results();
    assert.equal(left.length, 256);
    // the two real entries are the newest: they survive
    assert.equal(left.filter((n) => !n.startsWith('0000000')).length, 2);
  });
});
