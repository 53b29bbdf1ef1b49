import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CACHE_SCHEMA_VERSION, LayerCache } from '../../src/scan/cache.js';

const tmp = mkdtempSync(join(tmpdir(), 'moat-cache-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(tmp, `c${n++}`);

describe('LayerCache', () => {
  it('stores and returns JSON values, in WAL mode with the schema version set', () => {
    const dir = freshDir();
    const c = LayerCache.open(dir);
    assert.ok(c.enabled);
    const value = {
      format: 1,
      digest: 'sha256:x',
      outputs: [{ path: 'a', n: 1 }],
      symlinks: [['a', '../b']],
    };
    c.put('k1', value);
    assert.deepEqual(c.get('k1'), value);
    assert.equal(c.get('missing'), undefined);
    c.close();
    const db = new Database(join(dir, 'layers.sqlite'), { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('user_version', { simple: true }), CACHE_SCHEMA_VERSION);
    db.close();
    // a new process (here: a new connection) sees the same data
    const again = LayerCache.open(dir);
    assert.deepEqual(again.get('k1'), value);
    again.close();
  });

  it('evicts the least recently used entries beyond the entry cap', () => {
    const c = LayerCache.open(freshDir(), { maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) c.put(k, { k });
    // make "a" the oldest by last use, then touch it so that "b" becomes the oldest
    const db = (c as unknown as { db: Database.Database }).db;
    db.prepare('UPDATE layers SET last_used = ? WHERE key = ?').run(1, 'a');
    db.prepare('UPDATE layers SET last_used = ? WHERE key = ?').run(2, 'b');
    db.prepare('UPDATE layers SET last_used = ? WHERE key = ?').run(3, 'c');
    assert.deepEqual(c.get('a'), { k: 'a' }); // refreshes a's last use
    c.put('d', { k: 'd' });
    assert.equal(c.stats().entries, 3);
    assert.equal(c.get('b'), undefined, 'least recently used went first');
    for (const k of ['a', 'c', 'd']) assert.deepEqual(c.get(k), { k });
    c.close();
  });

  it('evicts by total bytes and refuses a single value above the cap', () => {
    const c = LayerCache.open(freshDir(), { maxBytes: 20_000 });
    // random hex compresses to about half
    const blobs = new Map<number, string>();
    const blob = (seed: number) => {
      if (!blobs.has(seed)) blobs.set(seed, randomBytes(8000).toString('hex'));
      return blobs.get(seed)!;
    };
    for (let i = 0; i < 6; i++) c.put(`k${i}`, { s: blob(i) });
    const s = c.stats();
    assert.ok(s.bytes <= 20_000, `${s.bytes} bytes stored`);
    assert.ok(s.entries >= 1 && s.entries < 6);
    assert.deepEqual(c.get('k5'), { s: blob(5) }, 'newest kept');
    c.put('huge', { s: Array.from({ length: 40 }, (_, i) => blob(100 + i)).join('') });
    assert.equal(c.get('huge'), undefined);
    c.close();
  });

  it('skips values JSON cannot hold without throwing', () => {
    const c = LayerCache.open(freshDir());
    c.put('big', { n: 10n });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    c.put('cyclic', cyclic);
    assert.equal(c.get('big'), undefined);
    assert.equal(c.stats().entries, 0);
    assert.ok(c.enabled);
    c.close();
  });

  it('recreates a corrupt cache file with a warning instead of failing', () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'layers.sqlite'), Buffer.alloc(8192, 0x42));
    const c = LayerCache.open(dir);
    assert.ok(c.enabled);
    assert.equal(c.warnings[0]?.code, 'cache-recreated');
    c.put('k', { ok: true });
    assert.deepEqual(c.get('k'), { ok: true });
    c.close();
  });

  it('treats an unreadable row as a miss and drops it', () => {
    const dir = freshDir();
    const c = LayerCache.open(dir);
    c.put('k', { ok: true });
    const db = (c as unknown as { db: Database.Database }).db;
    db.prepare('UPDATE layers SET data = ? WHERE key = ?').run(Buffer.from('not deflate'), 'k');
    assert.equal(c.get('k'), undefined);
    assert.equal(c.stats().entries, 0);
    c.close();
  });

  it('drops the rows of an older schema version', () => {
    const dir = freshDir();
    const c = LayerCache.open(dir);
    c.put('k', { ok: true });
    c.close();
    const db = new Database(join(dir, 'layers.sqlite'));
    db.pragma(`user_version = ${CACHE_SCHEMA_VERSION + 41}`);
    db.close();
    const c2 = LayerCache.open(dir);
    assert.equal(c2.get('k'), undefined);
    c2.close();
  });

  it('is disabled with a warning when the cache path is not a directory', () => {
    const file = join(tmp, 'plain-file');
    writeFileSync(file, 'x');
    const c = LayerCache.open(file);
    assert.equal(c.enabled, false);
    assert.equal(c.warnings[0]?.code, 'cache-disabled');
    assert.equal(c.get('k'), undefined);
  });

  it('serves several processes writing at once', async () => {
    const dir = freshDir();
    LayerCache.open(dir).close();
    const script = `
      import { LayerCache } from ${JSON.stringify(new URL('../../src/scan/cache.ts', import.meta.url).href)};
      const c = LayerCache.open(process.argv[1]);
      for (let i = 0; i < 40; i++) c.put(process.argv[2] + i, { i, who: process.argv[2] });
      let ok = 0;
      for (let i = 0; i < 40; i++) if (c.get(process.argv[2] + i)?.i === i) ok++;
      console.log(ok, c.warnings.length);
      c.close();`;
    const runs = ['p', 'q', 'r'].map(
      (who) =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            ['--import', 'tsx', '--input-type=module', '-e', script, dir, who],
            {
              stdio: ['ignore', 'pipe', 'inherit'],
            },
          );
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}`))));
        }),
    );
    assert.deepEqual(await Promise.all(runs), ['40 0', '40 0', '40 0']);
    const c = LayerCache.open(dir);
    assert.equal(c.stats().entries, 120);
    c.close();
    assert.ok(existsSync(join(dir, 'layers.sqlite')));
  });
});
