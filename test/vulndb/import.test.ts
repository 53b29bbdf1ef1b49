import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import yauzl from 'yauzl';
import { isMoatError } from '../../src/errors.js';
import { type LogFields, setLogSink } from '../../src/log.js';
import type { ProgressEvent } from '../../src/model/progress.js';
import { importOsv } from '../../src/vulndb/import.js';
import { baseEcosystem, type OsvRecord } from '../../src/vulndb/osv.js';
import { dbStatus } from '../../src/vulndb/status.js';
import { openVulnDb, SCHEMA_VERSION } from '../../src/vulndb/store.js';
import { DEBIAN_ZIP, fixture, tempDir } from './helpers.js';

/** The `.json` entries of a zip with their uncompressed sizes, read independently of the importer. */
function zipEntries(path: string): Promise<{ name: string; size: number }[]> {
  return new Promise((resolve, reject) => {
    const out: { name: string; size: number }[] = [];
    yauzl.open(path, { lazyEntries: true }, (err, z) => {
      if (err || !z) return reject(err);
      z.on('entry', (e: yauzl.Entry) => {
        if (e.fileName.endsWith('.json')) out.push({ name: e.fileName, size: e.uncompressedSize });
        z.readEntry();
      });
      z.on('end', () => resolve(out));
      z.on('error', reject);
      z.readEntry();
    });
  });
}

const RECORDS = fixture('records');

/** Collects log lines for the rest of the test instead of printing them. */
function captureLogs(t: { after(fn: () => void): void }): { msg: string; fields?: LogFields }[] {
  const lines: { msg: string; fields?: LogFields }[] = [];
  setLogSink((_level, msg, fields) => lines.push({ msg, fields }));
  t.after(() => setLogSink(undefined));
  return lines;
}
const readRecord = (name: string): OsvRecord =>
  JSON.parse(readFileSync(join(RECORDS, name), 'utf8')) as OsvRecord;

function countRows(dbPath: string): { affected: number; vulns: number } {
  const db = new Database(dbPath, { readonly: true });
  try {
    const n = (sql: string) => (db.prepare(sql).pluck().get() as number) ?? 0;
    return { affected: n('SELECT COUNT(*) FROM affected'), vulns: n('SELECT COUNT(*) FROM vulns') };
  } finally {
    db.close();
  }
}

function expectBadInput(e: unknown, path: string): boolean {
  assert.ok(isMoatError(e), `expected a MoatError, got ${String(e)}`);
  assert.equal(e.code, 'BAD_DB_INPUT');
  assert.ok(e.message.includes(path), `message names the input: ${e.message}`);
  assert.ok(!e.message.includes('\n'), 'one line');
  return true;
}

describe('importOsv', () => {
  it('imports an OSV export zip: every entry, one ecosystem, with progress', async (t) => {
    const dir = tempDir(t);
    const dbPath = join(dir, 'vulndb.sqlite');
    const entries = await zipEntries(DEBIAN_ZIP);
    assert.ok(entries.length > 1000, 'the Debian export has thousands of records');
    const events: ProgressEvent[] = [];
    const stats = await importOsv(dbPath, DEBIAN_ZIP, { onProgress: (e) => events.push(e) });
    t.diagnostic(
      `imported ${stats.records} records in ${stats.seconds.toFixed(3)} s: ${stats.recordsPerSecond} records/s`,
    );
    assert.equal(stats.records, entries.length);
    assert.equal(stats.skipped, 0);
    assert.deepEqual(stats.ecosystems, { Debian: entries.length });
    const last = events.at(-1);
    assert.equal(last?.finished, true);
    assert.equal(last?.done, entries.length);
    assert.equal(last?.phase, 'import');

    const status = dbStatus(dbPath);
    assert.equal(status.totalRecords, entries.length);
    assert.equal(status.schemaVersion, SCHEMA_VERSION);
    assert.deepEqual(
      status.ecosystems.map((e) => [e.ecosystem, e.records, e.source]),
      [['Debian', entries.length, DEBIAN_ZIP]],
    );
    // one affected row per (record, package): count them from the records themselves
    assert.equal(countRows(dbPath).affected, stats.rows);
    assert.ok(stats.rows >= entries.length);
    // nothing but the database is left in the directory
    assert.deepEqual(readdirSync(dir), ['vulndb.sqlite']);
  });

  it('re-importing an ecosystem replaces it; other ecosystems stay', async (t) => {
    const dbPath = join(tempDir(t), 'vulndb.sqlite');
    const npm = fixture('osv-export', 'npm', 'all.zip');
    const crates = fixture('osv-export', 'crates.io', 'all.zip');
    const a = await importOsv(dbPath, npm);
    const b = await importOsv(dbPath, crates);
    const before = countRows(dbPath);
    const again = await importOsv(dbPath, npm);
    assert.deepEqual(countRows(dbPath), before, 'no duplicated rows');
    assert.equal(again.records, a.records);
    const eco = Object.fromEntries(dbStatus(dbPath).ecosystems.map((e) => [e.ecosystem, e.records]));
    assert.deepEqual(eco, {
      npm: (await zipEntries(npm)).length,
      'crates.io': (await zipEntries(crates)).length,
    });
    assert.equal(Object.keys(a.ecosystems).join(), 'npm');
    assert.equal(Object.keys(b.ecosystems).join(), 'crates.io');
  });

  it('an export zip replaces only the ecosystem its folder names, even when its records affect others', async (t) => {
    const dbPath = join(tempDir(t), 'vulndb.sqlite');
    const swift = fixture('osv-export', 'SwiftURL', 'all.zip');
    const ids = (await zipEntries(swift)).map((e) => e.name.replace(/\.json$/, ''));
    const affects = new Set(
      ids.flatMap((id) =>
        (readRecord(`${id}.json`).affected ?? []).map((a) => baseEcosystem(a.package!.ecosystem)),
      ),
    );
    assert.ok(affects.size > 1, 'the SwiftURL export has a record that affects other ecosystems too');
    await importOsv(dbPath, RECORDS);
    const before = Object.fromEntries(dbStatus(dbPath).ecosystems.map((e) => [e.ecosystem, e.records]));
    const stats = await importOsv(dbPath, swift);
    assert.deepEqual(Object.keys(stats.ecosystems), ['SwiftURL']);
    const after = Object.fromEntries(dbStatus(dbPath).ecosystems.map((e) => [e.ecosystem, e.records]));
    for (const [eco, n] of Object.entries(before)) if (eco !== 'SwiftURL') assert.equal(after[eco], n, eco);
  });

  it('a directory or JSON file adds to an imported export instead of replacing it; replace: true replaces', async (t) => {
    const dbPath = join(tempDir(t), 'vulndb.sqlite');
    const exported = (await zipEntries(DEBIAN_ZIP)).length;
    await importOsv(dbPath, DEBIAN_ZIP);
    const debianFiles = readdirSync(RECORDS).filter((f) =>
      (readRecord(f).affected ?? []).some(
        (a) => a.package && baseEcosystem(a.package.ecosystem) === 'Debian',
      ),
    );
    assert.ok(debianFiles.length > 0, 'the fixture records include a Debian record');
    const debianIds = new Set(debianFiles.map((f) => readRecord(f).id));
    const inExport = new Set((await zipEntries(DEBIAN_ZIP)).map((e) => e.name.replace(/\.json$/, '')));
    const added = [...debianIds].filter((id) => !inExport.has(id)).length;
    await importOsv(dbPath, RECORDS);
    const eco = () => Object.fromEntries(dbStatus(dbPath).ecosystems.map((e) => [e.ecosystem, e]));
    assert.equal(eco().Debian?.records, exported + added, 'merged, not replaced');
    assert.match(eco().Debian?.source ?? '', / \+ /, 'the source names the export and the added input');
    const before = countRows(dbPath);
    await importOsv(dbPath, RECORDS);
    assert.deepEqual(countRows(dbPath), before, 'importing the same records again adds nothing');
    await importOsv(dbPath, RECORDS, { replace: true });
    assert.equal(eco().Debian?.records, debianIds.size, 'replace: the input is the whole ecosystem');
  });

  it('imports a directory of records recursively; with replace a mixed input replaces every ecosystem it touches', async (t) => {
    const dbPath = join(tempDir(t), 'vulndb.sqlite');
    const files = readdirSync(RECORDS).filter((f) => f.endsWith('.json'));
    const bases = new Set<string>();
    for (const f of files)
      for (const a of readRecord(f).affected ?? [])
        if (a.package) bases.add(baseEcosystem(a.package.ecosystem));
    const stats = await importOsv(dbPath, RECORDS);
    assert.equal(stats.records, files.length);
    assert.equal(stats.skipped, 0);
    assert.deepEqual(Object.keys(stats.ecosystems).sort(), [...bases].sort());
    assert.equal(stats.withdrawn, files.filter((f) => readRecord(f).withdrawn).length);
    assert.ok(stats.withdrawn >= 2);
  });

  it('imports one .json file holding a record or a list of records', async (t) => {
    const dir = tempDir(t);
    const dbPath = join(dir, 'vulndb.sqlite');
    const one = await importOsv(dbPath, join(RECORDS, 'GHSA-jfh8-c2jp-5v3q.json'));
    assert.equal(one.records, 1);
    assert.deepEqual(one.ecosystems, { Maven: 1 });
    const list = join(dir, 'list.json');
    writeFileSync(
      list,
      JSON.stringify([readRecord('PYSEC-2022-48.json'), readRecord('PYSEC-2023-188.json')]),
    );
    const two = await importOsv(dbPath, list);
    assert.equal(two.records, 2);
    assert.deepEqual(two.ecosystems, { PyPI: 2 });
    assert.deepEqual(
      dbStatus(dbPath).ecosystems.map((e) => e.ecosystem),
      ['Maven', 'PyPI'],
    );
  });

  it('skips malformed records with a counted warning naming the entry', async (t) => {
    const logs = captureLogs(t);
    const dir = tempDir(t);
    const input = join(dir, 'in');
    mkdirSync(join(input, 'sub'), { recursive: true });
    copyFileSync(join(RECORDS, 'GO-2023-2153.json'), join(input, 'sub', 'GO-2023-2153.json'));
    writeFileSync(join(input, 'broken.json'), '{"id": "X-1", "affected": [');
    writeFileSync(
      join(input, 'noid.json'),
      JSON.stringify({ ...readRecord('GO-2023-2153.json'), id: undefined }),
    );
    const bad = readRecord('GO-2023-2102.json');
    bad.affected![0]!.ranges![0]!.events.push({ introduced: '1', fixed: '2' });
    writeFileSync(join(input, 'twoevents.json'), JSON.stringify(bad));
    const stats = await importOsv(join(dir, 'vulndb.sqlite'), input);
    assert.equal(stats.records, 1);
    assert.equal(stats.skipped, 3);
    assert.deepEqual(stats.problems.map((p) => p.entry).sort(), [
      'broken.json',
      'noid.json',
      'twoevents.json',
    ]);
    assert.match(stats.problems.find((p) => p.entry === 'broken.json')!.reason, /invalid JSON/);
    assert.match(stats.problems.find((p) => p.entry === 'noid.json')!.reason, /id/);
    assert.match(stats.problems.find((p) => p.entry === 'twoevents.json')!.reason, /exactly one/);
    assert.deepEqual(
      logs.map((l) => [l.msg, l.fields?.file]).sort(),
      stats.problems.map((p) => ['skipping unusable OSV record', p.entry]).sort(),
    );
  });

  it('skips zip entries above the size cap, counting them', async (t) => {
    captureLogs(t);
    const entries = await zipEntries(fixture('osv-export', 'RubyGems', 'all.zip'));
    const cap = Math.min(...entries.map((e) => e.size)) + 1;
    const over = entries.filter((e) => e.size > cap).length;
    assert.ok(over > 0 && over < entries.length);
    const stats = await importOsv(
      join(tempDir(t), 'db.sqlite'),
      fixture('osv-export', 'RubyGems', 'all.zip'),
      {
        maxEntryBytes: cap,
      },
    );
    assert.equal(stats.skipped, over);
    assert.equal(stats.records, entries.length - over);
  });

  it('a corrupt zip is BAD_DB_INPUT naming the file, and the old database stays intact', async (t) => {
    const dir = tempDir(t);
    const dbPath = join(dir, 'vulndb.sqlite');
    await importOsv(dbPath, DEBIAN_ZIP);
    const before = dbStatus(dbPath);
    const rowsBefore = countRows(dbPath);

    // damage the compressed data of an entry in the middle: the archive opens, the entry does not
    const flipped = join(dir, 'flipped.zip');
    const data = readFileSync(DEBIAN_ZIP);
    const mid = Math.floor(data.length / 2);
    for (let i = mid; i < mid + 64; i++) data.writeUInt8(data.readUInt8(i) ^ 0xff, i);
    writeFileSync(flipped, data);
    await assert.rejects(importOsv(dbPath, flipped), (e) => expectBadInput(e, flipped));

    // cut off the central directory: not a zip at all
    const truncated = join(dir, 'truncated.zip');
    writeFileSync(truncated, readFileSync(DEBIAN_ZIP).subarray(0, statSync(DEBIAN_ZIP).size / 2));
    await assert.rejects(importOsv(dbPath, truncated), (e) => expectBadInput(e, truncated));

    const after = dbStatus(dbPath);
    assert.equal(after.totalRecords, before.totalRecords);
    assert.deepEqual(after.ecosystems, before.ecosystems);
    assert.deepEqual(countRows(dbPath), rowsBefore);
    assert.deepEqual(readdirSync(dir).sort(), ['flipped.zip', 'truncated.zip', 'vulndb.sqlite']);
  });

  it('a failed first import leaves no database file behind', async (t) => {
    const dir = tempDir(t);
    const truncated = join(dir, 'truncated.zip');
    writeFileSync(truncated, readFileSync(DEBIAN_ZIP).subarray(0, 4096));
    await assert.rejects(importOsv(join(dir, 'vulndb.sqlite'), truncated), (e) =>
      expectBadInput(e, truncated),
    );
    assert.deepEqual(readdirSync(dir), ['truncated.zip']);
  });

  it('a missing input is BAD_DB_INPUT', async (t) => {
    const dir = tempDir(t);
    const missing = join(dir, 'nope.zip');
    await assert.rejects(importOsv(join(dir, 'db.sqlite'), missing), (e) => expectBadInput(e, missing));
  });
});

describe('schema version', () => {
  it('a database of another schema version is refused with DB_SCHEMA, and an import rebuilds it', async (t) => {
    const logs = captureLogs(t);
    const dbPath = join(tempDir(t), 'vulndb.sqlite');
    await importOsv(dbPath, fixture('osv-export', 'npm', 'all.zip'));
    const w = new Database(dbPath);
    w.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    w.close();
    assert.throws(
      () => openVulnDb(dbPath),
      (e) =>
        isMoatError(e) &&
        e.code === 'DB_SCHEMA' &&
        /moat db update/.test(e.message) &&
        e.message.includes(dbPath),
    );
    assert.throws(
      () => dbStatus(dbPath),
      (e) => isMoatError(e) && e.code === 'DB_SCHEMA',
    );
    const stats = await importOsv(dbPath, fixture('osv-export', 'crates.io', 'all.zip'));
    const status = dbStatus(dbPath);
    assert.equal(status.schemaVersion, SCHEMA_VERSION);
    // rebuilt from scratch: only what this import brought
    assert.deepEqual(
      status.ecosystems.map((e) => e.ecosystem),
      ['crates.io'],
    );
    assert.equal(status.totalRecords, stats.records);
    assert.deepEqual(
      logs.map((l) => l.msg),
      ['rebuilding the vulnerability database'],
    );
  });

  it('a file that is not a database is refused with DB_SCHEMA', (t) => {
    const dbPath = join(tempDir(t), 'vulndb.sqlite');
    writeFileSync(dbPath, 'not sqlite at all, just text that is long enough to look like a header......');
    assert.throws(
      () => openVulnDb(dbPath),
      (e) => isMoatError(e) && e.code === 'DB_SCHEMA',
    );
  });

  it('a missing database is DB_MISSING', (t) => {
    const dbPath = join(tempDir(t), 'vulndb.sqlite');
    assert.throws(
      () => openVulnDb(dbPath),
      (e) => isMoatError(e) && e.code === 'DB_MISSING' && /moat db/.test(e.message),
    );
    assert.equal(existsSync(dbPath), false);
  });
});
