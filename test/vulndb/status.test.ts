import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { importOsv } from '../../src/vulndb/import.js';
import { dbStatus, isStale } from '../../src/vulndb/status.js';
import { openVulnDb } from '../../src/vulndb/store.js';
import { fixture, tempDir } from './helpers.js';

const HOUR = 3_600_000;

describe('dbStatus', () => {
  it('counts per ecosystem, total, and age from the import time (not record dates)', async (t) => {
    const dbPath = join(tempDir(t), 'vulndb.sqlite');
    const a = await importOsv(dbPath, fixture('osv-export', 'npm', 'all.zip'));
    const b = await importOsv(dbPath, fixture('records', 'GO-2023-2153.json'));
    const s = dbStatus(dbPath);
    assert.deepEqual(
      s.ecosystems.map((e) => [e.ecosystem, e.records]),
      [
        ['Go', b.records],
        ['npm', a.records],
      ],
    );
    assert.equal(s.totalRecords, a.records + b.records);
    // the Go record's own dates are the placeholder 0001-01-01; the age is minutes, not centuries
    assert.ok(s.ageHours !== undefined && s.ageHours < 1);
    assert.equal(s.stale, false);
    assert.equal(s.path, dbPath);

    const later = new Date(Date.parse(s.updatedAt!) + 30 * 24 * HOUR);
    const old = dbStatus(dbPath, { now: later, maxAgeMs: 7 * 24 * HOUR });
    assert.equal(old.stale, true);
    assert.ok(old.ecosystems.every((e) => e.stale && e.ageHours >= 30 * 24));
    assert.equal(isStale(s, 7 * 24 * HOUR, later), true);
    assert.equal(isStale(s, 31 * 24 * HOUR, later), false);
  });

  it('the oldest ecosystem decides the database age', async (t) => {
    const dbPath = join(tempDir(t), 'vulndb.sqlite');
    await importOsv(dbPath, fixture('osv-export', 'npm', 'all.zip'));
    await new Promise((r) => setTimeout(r, 20));
    await importOsv(dbPath, fixture('osv-export', 'crates.io', 'all.zip'));
    const s = dbStatus(dbPath);
    const oldest = s.ecosystems.map((e) => e.updatedAt).sort()[0];
    assert.equal(s.updatedAt, oldest);
    const db = openVulnDb(dbPath);
    try {
      assert.equal(db.updatedAt(), oldest);
      assert.equal(
        db.updatedAt('crates.io'),
        s.ecosystems.find((e) => e.ecosystem === 'crates.io')?.updatedAt,
      );
    } finally {
      db.close();
    }
  });

  it('a database without data is stale', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'empty'));
    await importOsv(join(dir, 'vulndb.sqlite'), join(dir, 'empty'));
    const s = dbStatus(join(dir, 'vulndb.sqlite'));
    assert.deepEqual([s.totalRecords, s.ecosystems.length, s.updatedAt, s.stale], [0, 0, undefined, true]);
  });
});
