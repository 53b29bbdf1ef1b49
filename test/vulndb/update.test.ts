import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isMoatError } from '../../src/errors.js';
import { setLogSink } from '../../src/log.js';
import type { ProgressEvent } from '../../src/model/progress.js';
import { dbStatus } from '../../src/vulndb/status.js';
import { SCHEMA_VERSION } from '../../src/vulndb/store.js';
import { exportUrl, updateDb } from '../../src/vulndb/update.js';
import { type OsvServer, startOsvServer } from '../helpers/osv-server.js';
import { fixture, tempDir } from './helpers.js';

const ECOSYSTEMS = ['npm', 'crates.io'];

/** A mirror root holding copies of the fixture exports, a cache dir, and a server for it. */
async function setup(t: {
  after(fn: () => void | Promise<void>): void;
}): Promise<{ root: string; cache: string; db: string; server: OsvServer }> {
  const dir = tempDir(t);
  const root = join(dir, 'mirror');
  for (const e of ECOSYSTEMS) {
    mkdirSync(join(root, e), { recursive: true });
    cpSync(fixture('osv-export', e, 'all.zip'), join(root, e, 'all.zip'));
  }
  const cache = join(dir, 'cache');
  const server = await startOsvServer(root);
  t.after(() => server.close());
  return { root, cache, db: join(cache, 'vulndb.sqlite'), server };
}

/** Moves a file's mtime forward: a new ETag and Last-Modified, as after a republish. */
function republish(path: string): void {
  const t = new Date(statSync(path).mtimeMs + 60_000);
  utimesSync(path, t, t);
}

describe('updateDb', () => {
  it('downloads with 200, then conditional requests get 304 and change nothing', async (t) => {
    const { root, cache, db, server } = await setup(t);
    const events: ProgressEvent[] = [];
    const first = await updateDb(db, {
      baseUrl: server.url,
      ecosystems: ECOSYSTEMS,
      onProgress: (e) => events.push(e),
    });
    assert.deepEqual(
      first.ecosystems.map((e) => [e.ecosystem, e.status, e.bytes]),
      ECOSYSTEMS.map((e) => [e, 'updated', statSync(join(root, e, 'all.zip')).size]),
    );
    assert.deepEqual(
      server.requests.map((r) => [r.path, r.status]),
      [
        ['/npm/all.zip', 200],
        ['/crates.io/all.zip', 200],
      ],
    );
    assert.ok(server.requests.every((r) => r.headers['if-none-match'] === undefined));
    const status1 = dbStatus(db);
    assert.deepEqual(
      status1.ecosystems.map((e) => [e.ecosystem, e.records, e.source]),
      first.ecosystems.map((e) => [e.ecosystem, e.records, exportUrl(server.url, e.ecosystem)]).sort(),
    );
    assert.ok(first.ecosystems.every((e) => (e.records ?? 0) > 0));
    // download progress in bytes, finished with the file size
    for (const e of ECOSYSTEMS) {
      const last = events.filter((x) => x.phase === 'download' && x.id === e).at(-1);
      assert.deepEqual(
        [last?.done, last?.total, last?.unit, last?.finished],
        [statSync(join(root, e, 'all.zip')).size, statSync(join(root, e, 'all.zip')).size, 'bytes', true],
      );
    }

    const second = await updateDb(db, { baseUrl: server.url, ecosystems: ECOSYSTEMS });
    assert.deepEqual(
      second.ecosystems.map((e) => e.status),
      ['unchanged', 'unchanged'],
    );
    assert.equal(second.import, undefined);
    assert.deepEqual(
      server.requests.slice(2).map((r) => r.status),
      [304, 304],
    );
    assert.ok(server.requests.slice(2).every((r) => typeof r.headers['if-none-match'] === 'string'));
    const status2 = dbStatus(db);
    assert.equal(status2.totalRecords, status1.totalRecords);
    assert.deepEqual(
      status2.ecosystems.map((e) => e.importedAt),
      status1.ecosystems.map((e) => e.importedAt),
    );
    // a 304 confirms the data current: its age restarts
    for (let i = 0; i < ECOSYSTEMS.length; i++)
      assert.ok(status2.ecosystems[i]!.updatedAt >= status1.ecosystems[i]!.updatedAt);

    // republished: only that ecosystem is downloaded again
    republish(join(root, 'npm', 'all.zip'));
    const third = await updateDb(db, { baseUrl: server.url, ecosystems: ECOSYSTEMS });
    assert.deepEqual(
      third.ecosystems.map((e) => [e.ecosystem, e.status]),
      [
        ['npm', 'updated'],
        ['crates.io', 'unchanged'],
      ],
    );
    assert.deepEqual(
      server.requests.slice(4).map((r) => r.status),
      [200, 304],
    );
    assert.equal(dbStatus(db).totalRecords, status1.totalRecords);
    // downloads were spooled in the cache dir and removed
    assert.deepEqual(readdirSync(cache), ['vulndb.sqlite']);
  });

  it('a failed download changes nothing: 404 is NOT_FOUND naming the URL (ecosystem names are URL-encoded)', async (t) => {
    const { root, cache, db, server } = await setup(t);
    await updateDb(db, { baseUrl: server.url, ecosystems: ECOSYSTEMS });
    const before = dbStatus(db);
    republish(join(root, 'crates.io', 'all.zip'));
    await assert.rejects(
      updateDb(db, { baseUrl: `${server.url}/`, ecosystems: ['crates.io', 'Red Hat'] }),
      (e) =>
        isMoatError(e) && e.code === 'NOT_FOUND' && e.message.includes(`${server.url}/Red%20Hat/all.zip`),
    );
    assert.equal(server.requests.at(-1)?.path, '/Red%20Hat/all.zip');
    assert.equal(server.requests.at(-2)?.status, 200, 'crates.io was downloaded...');
    assert.deepEqual(dbStatus(db).ecosystems, before.ecosystems, '...but not imported');
    assert.deepEqual(readdirSync(cache), ['vulndb.sqlite']);
  });

  it('a stalled download times out with TIMEOUT', async (t) => {
    const { db, server } = await setup(t);
    server.stall.add('npm');
    await assert.rejects(
      updateDb(db, { baseUrl: server.url, ecosystems: ['npm'], timeoutMs: 300 }),
      (e) => isMoatError(e) && e.code === 'TIMEOUT' && e.message.includes('/npm/all.zip'),
    );
  });

  it('an unreachable mirror is NETWORK', async (t) => {
    const { db, server } = await setup(t);
    await server.close();
    await assert.rejects(
      updateDb(db, { baseUrl: server.url, ecosystems: ['npm'], timeoutMs: 2000 }),
      (e) => isMoatError(e) && e.code === 'NETWORK',
    );
  });

  it('a database of an older schema is downloaded in full and rebuilt', async (t) => {
    setLogSink(() => {});
    t.after(() => setLogSink(undefined));
    const { db, server } = await setup(t);
    await updateDb(db, { baseUrl: server.url, ecosystems: ECOSYSTEMS });
    const w = new Database(db);
    w.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
    w.close();
    const again = await updateDb(db, { baseUrl: server.url, ecosystems: ECOSYSTEMS });
    assert.deepEqual(
      again.ecosystems.map((e) => e.status),
      ['updated', 'updated'],
    );
    assert.ok(
      server.requests.slice(2).every((r) => r.status === 200 && r.headers['if-none-match'] === undefined),
    );
    assert.equal(dbStatus(db).schemaVersion, SCHEMA_VERSION);
  });
});
