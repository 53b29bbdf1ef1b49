import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import type Database from 'better-sqlite3';
import yauzl from 'yauzl';
import { errorMessage, MoatError } from '../errors.js';
import { log } from '../log.js';
import type { ProgressFn } from '../model/progress.js';
import { openSqlite } from '../util/sqlite.js';
import { normalizeName } from './ecosystem.js';
import { baseEcosystem, checkRecord, type OsvAffected, type OsvRecord } from './osv.js';
import { type StoredEntry, simpleFix, toStoredEntry } from './range.js';
import { type CvssLib, loadCvss, rate } from './severity.js';
import { createSchema, openVulnDb, type Sqlite } from './store.js';

/**
 * `moat db import`: OSV records from an export zip (`<ID>.json` entries, as osv.dev's per-ecosystem
 * `all.zip`), a directory of `*.json` (recursively) or one `.json` file (a record or a list of records).
 *
 * An export zip is a snapshot: it replaces whole ecosystems (the part of `package.ecosystem` before the first
 * colon): the ones given in `ecosystems`, else the ones every record of the zip touches (its ecosystem), else
 * (a mixed zip) every ecosystem it touches. A directory or a JSON file adds records (replacing records with
 * the same id) and keeps the rest, so that importing a handful of advisories never drops an export; give
 * `replace: true` to make it a snapshot too. Imports are atomic: one transaction on an existing database, or
 * a new file renamed over the old one when there is none (or it has another schema version).
 */
export interface ImportInput {
  path: string;
  /** base ecosystems this input replaces; default inferred as described above */
  ecosystems?: string[];
  /** recorded as the data's source in `ecosystems` (default: the path) */
  source?: string;
  /** replace the input's ecosystems (default: true for zips, false for directories and JSON files) */
  replace?: boolean;
  /** HTTP validators of a downloaded export, kept for conditional requests */
  etag?: string;
  lastModified?: string;
}

export interface ImportOptions {
  ecosystems?: string[];
  source?: string;
  /** see ImportInput.replace */
  replace?: boolean;
  /** per zip entry / record file; larger ones are skipped with a warning (default 64 MiB) */
  maxEntryBytes?: number;
  onProgress?: ProgressFn;
}

export interface ImportProblem {
  /** zip entry or file the record came from */
  entry: string;
  reason: string;
}

export interface ImportStats {
  /** valid records read (withdrawn ones included) */
  records: number;
  withdrawn: number;
  /** malformed or oversized records skipped */
  skipped: number;
  /** the first problems (at most 100) */
  problems: ImportProblem[];
  /** records per replaced base ecosystem */
  ecosystems: Record<string, number>;
  /** affected rows written */
  rows: number;
  seconds: number;
  recordsPerSecond: number;
  dbPath: string;
}

const DEFAULT_MAX_ENTRY = 64 * 1024 * 1024;
const DETAILS_MAX = 2000;
const REFS_MAX = 64;
const MAX_LOGGED = 20;
const MAX_PROBLEMS = 100;
const PROGRESS_EVERY = 500;

/** Imports one input (zip, directory or file) into the database at `dbPath`, creating it when needed. */
export function importOsv(dbPath: string, inputPath: string, opts: ImportOptions = {}): Promise<ImportStats> {
  const input: ImportInput = { path: inputPath };
  if (opts.ecosystems) input.ecosystems = opts.ecosystems;
  if (opts.source) input.source = opts.source;
  if (opts.replace !== undefined) input.replace = opts.replace;
  return importInputs(dbPath, [input], opts);
}

/** Imports several inputs in one atomic step (what `moat db update` uses for the downloaded exports). */
export async function importInputs(
  dbPath: string,
  inputs: ImportInput[],
  opts: Omit<ImportOptions, 'ecosystems' | 'source' | 'replace'> = {},
): Promise<ImportStats> {
  const t0 = performance.now();
  for (const i of inputs) {
    if (!existsSync(i.path)) throw new MoatError('BAD_DB_INPUT', `OSV input ${i.path} does not exist`);
  }
  const lib = await loadCvss();
  const target = openTarget(dbPath);
  const { db } = target;
  const stats: ImportStats = {
    records: 0,
    withdrawn: 0,
    skipped: 0,
    problems: [],
    ecosystems: {},
    rows: 0,
    seconds: 0,
    recordsPerSecond: 0,
    dbPath,
  };
  try {
    db.exec('BEGIN IMMEDIATE');
    const writer = new Writer(db, lib, stats, opts.onProgress);
    const maxRowid = db.prepare('SELECT COALESCE(MAX(rowid), 0) AS n FROM affected').pluck();
    // rows go straight into `affected`; each input's rows are the rowids after `from`, so what the input does
    // not replace is dropped from its range, and what it replaces is dropped below it
    const plans: {
      input: ImportInput;
      from: number;
      to: number;
      bases: string[];
      counts: Map<string, number>;
      replace: boolean;
    }[] = [];
    for (const input of inputs) {
      const from = maxRowid.get() as number;
      writer.begin(basename(input.path));
      await readInput(input.path, opts.maxEntryBytes ?? DEFAULT_MAX_ENTRY, writer);
      writer.end();
      const zip = isZipInput(input.path);
      const bases =
        input.ecosystems ?? inferBases(writer.inputBases, writer.inputRecords, zip ? input.path : undefined);
      const replace = input.replace ?? zip;
      plans.push({ input, from, to: maxRowid.get() as number, bases, counts: writer.inputBases, replace });
    }
    const now = new Date().toISOString();
    const upsert = db.prepare(
      `INSERT OR REPLACE INTO ecosystems (ecosystem, source, imported_at, checked_at, records, etag, last_modified)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const dropOthers = db.prepare(
      'DELETE FROM affected WHERE rowid > ? AND rowid <= ? AND base NOT IN (SELECT value FROM json_each(?))',
    );
    const dropOld = db.prepare('DELETE FROM affected WHERE base = ? AND rowid <= ?');
    // merge: an earlier copy of a record this input brings is dropped, everything else stays
    const dropSameIds = db.prepare(
      'DELETE FROM affected WHERE rowid <= ? AND id IN (SELECT id FROM affected WHERE rowid > ? AND rowid <= ?)',
    );
    const countIds = db.prepare('SELECT COUNT(DISTINCT id) FROM affected WHERE base = ?').pluck();
    const previous = db.prepare('SELECT source, etag, last_modified FROM ecosystems WHERE ecosystem = ?');
    const kept = db.prepare('SELECT COUNT(*) FROM affected WHERE rowid > ? AND rowid <= ?').pluck();
    for (const { input, from, to, bases, counts, replace } of plans) {
      dropOthers.run(from, to, JSON.stringify(bases));
      stats.rows += kept.get(from, to) as number;
      if (!replace) dropSameIds.run(from, from, to);
      for (const base of bases) {
        if (replace) dropOld.run(base, from);
        const n = counts.get(base) ?? 0;
        stats.ecosystems[base] = (stats.ecosystems[base] ?? 0) + n;
        const prev = replace
          ? undefined
          : (previous.get(base) as
              | { source: string; etag: string | null; last_modified: string | null }
              | undefined);
        upsert.run(
          base,
          mergedSource(prev?.source, input.source ?? input.path),
          now,
          now,
          replace ? n : (countIds.get(base) as number),
          prev ? prev.etag : (input.etag ?? null),
          prev ? prev.last_modified : (input.lastModified ?? null),
        );
      }
    }
    // records only reachable through replaced or unrequested ecosystems
    db.exec('DELETE FROM vulns WHERE id NOT IN (SELECT id FROM affected)');
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('updated_at', ?)").run(now);
    db.exec('COMMIT');
    target.commit();
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    target.abort();
    if (e instanceof MoatError) throw e;
    throw new MoatError('BAD_DB_INPUT', `import into ${dbPath} failed: ${errorMessage(e)}`, { cause: e });
  }
  stats.seconds = (performance.now() - t0) / 1000;
  stats.recordsPerSecond = stats.seconds > 0 ? Math.round(stats.records / stats.seconds) : 0;
  if (stats.skipped > MAX_LOGGED) {
    log.warn({ skipped: stats.skipped, logged: MAX_LOGGED }, 'more unusable OSV records were skipped');
  }
  return stats;
}

/** The ecosystem an export zip is named after by its folder, else the bases every record touches, else all. */
function inferBases(bases: Map<string, number>, records: number, zipPath?: string): string[] {
  // an export keeps the layout <Ecosystem>/all.zip: its folder names the ecosystem, which matters when
  // every record of a small export also affects other ecosystems (they must not be replaced)
  const folder = zipPath ? basename(dirname(zipPath)) : '';
  if (bases.has(folder)) return [folder];
  const all = [...bases.keys()].sort();
  const common = all.filter((b) => bases.get(b) === records);
  return common.length > 0 ? common : all;
}

interface Target {
  db: Sqlite;
  commit(): void;
  abort(): void;
}

/**
 * An existing database of the current schema is updated in place inside one transaction; otherwise a new
 * file is built next to it and renamed over it, so readers never see a half-written database.
 */
function openTarget(dbPath: string): Target {
  mkdirSync(dirname(dbPath), { recursive: true });
  if (existsSync(dbPath)) {
    let current: Sqlite | undefined;
    try {
      const existing = openVulnDb(dbPath, { readonly: false });
      current = existing.sqlite;
    } catch (e) {
      log.warn({ file: dbPath, reason: errorMessage(e) }, 'rebuilding the vulnerability database');
    }
    if (current) {
      const db = current;
      db.pragma('cache_size = -65536');
      db.pragma('temp_store = MEMORY');
      return { db, commit: () => db.close(), abort: () => db.close() };
    }
  }
  const tmp = `${dbPath}.${process.pid}.${Date.now()}.tmp`;
  const db = openSqlite(tmp);
  // a fresh file only becomes visible through the final rename, so it needs no journal
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -65536');
  createSchema(db);
  return {
    db,
    commit: () => {
      db.close();
      const fd = openSync(tmp, 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, dbPath);
    },
    abort: () => {
      if (db.open) db.close();
      rmSync(tmp, { force: true });
    },
  };
}

/** Parses records and writes them to the staging table; per-input counters are reset by begin(). */
class Writer {
  inputRecords = 0;
  /** records of the current input per base ecosystem they touch */
  inputBases = new Map<string, number>();
  private id = '';
  private readonly insertRow: Database.Statement;
  private readonly insertVuln: Database.Statement;

  constructor(
    db: Sqlite,
    private readonly lib: CvssLib,
    private readonly stats: ImportStats,
    private readonly onProgress: ProgressFn | undefined,
  ) {
    this.insertRow = db.prepare(
      `INSERT INTO affected (name, ecosystem, id, base, fix, entries, severity, severity_source, cvss, withdrawn)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertVuln = db.prepare(
      `INSERT OR REPLACE INTO vulns (id, ids, summary, details, refs, published, modified, withdrawn, record)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  begin(id: string): void {
    this.id = id;
    this.inputRecords = 0;
    this.inputBases = new Map();
  }

  end(): void {
    this.onProgress?.({
      phase: 'import',
      id: this.id,
      done: this.inputRecords,
      unit: 'records',
      finished: true,
    });
  }

  problem(entry: string, reason: string): void {
    this.stats.skipped++;
    if (this.stats.problems.length < MAX_PROBLEMS) this.stats.problems.push({ entry, reason });
    if (this.stats.skipped <= MAX_LOGGED) log.warn({ file: entry, reason }, 'skipping unusable OSV record');
  }

  /**
   * One file or zip entry: a record, or (for a single .json input) a list of records. `deflated` is the same
   * bytes raw-deflated (a zip entry's own data), stored as is instead of compressing the record again.
   */
  addBuffer(entry: string, buf: Buffer, allowList: boolean, deflated?: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(buf.toString('utf8'));
    } catch (e) {
      this.problem(entry, `invalid JSON: ${errorMessage(e)}`);
      return;
    }
    if (allowList && Array.isArray(value)) {
      value.forEach((v, i) => {
        this.addRecord(`${entry}[${i}]`, v, () => deflateRawSync(JSON.stringify(v)));
      });
      return;
    }
    this.addRecord(entry, value, () => deflated ?? deflateRawSync(buf));
  }

  /** `blob` gives the full record, raw-deflated, for the store (only called when the record is kept). */
  addRecord(entry: string, value: unknown, blob: () => Buffer): void {
    const bad = checkRecord(value);
    if (bad) {
      this.problem(entry, bad);
      return;
    }
    const r = value as OsvRecord;
    this.stats.records++;
    this.inputRecords++;
    if (r.withdrawn) this.stats.withdrawn++;
    if (this.inputRecords % PROGRESS_EVERY === 0) {
      this.onProgress?.({ phase: 'import', id: this.id, done: this.inputRecords, unit: 'records' });
    }

    // one row per (ecosystem, name): a package may have several affected entries (one per range, as GHSA does)
    const groups = new Map<string, OsvAffected[]>();
    const bases = new Set<string>();
    for (const a of r.affected ?? []) {
      if (!a.package) continue;
      bases.add(baseEcosystem(a.package.ecosystem));
      const key = `${a.package.ecosystem}\0${normalizeName(a.package.ecosystem, a.package.name)}`;
      const g = groups.get(key);
      if (g) g.push(a);
      else groups.set(key, [a]);
    }
    for (const b of bases) this.inputBases.set(b, (this.inputBases.get(b) ?? 0) + 1);

    let rows = 0;
    const withdrawn = r.withdrawn ? 1 : 0;
    for (const entries of groups.values()) {
      const stored: StoredEntry[] = [];
      for (const a of entries) {
        const s = toStoredEntry(a);
        if (s) stored.push(s);
      }
      if (stored.length === 0) continue;
      const pkg = entries[0]!.package!;
      const rating = rate(this.lib, r, entries);
      const simple = simpleFix(stored);
      this.insertRow.run(
        // PyPI and NuGet names are stored as those ecosystems compare them (the matcher looks them up so)
        normalizeName(pkg.ecosystem, pkg.name),
        pkg.ecosystem,
        r.id,
        baseEcosystem(pkg.ecosystem),
        simple ? (simple.fix ?? null) : null,
        simple ? null : JSON.stringify(stored),
        rating.severity,
        rating.source,
        rating.cvss.length > 0 ? JSON.stringify(rating.cvss) : null,
        withdrawn,
      );
      rows++;
    }
    if (rows === 0) return;
    const ids = [...new Set([...(r.aliases ?? []), ...(r.upstream ?? [])])].filter((x) => x !== r.id);
    const refs = [...new Set((r.references ?? []).map((x) => x.url))].slice(0, REFS_MAX);
    const details = r.details?.trim();
    this.insertVuln.run(
      r.id,
      JSON.stringify(ids),
      r.summary?.trim() || null,
      details ? (details.length > DETAILS_MAX ? `${details.slice(0, DETAILS_MAX - 1)}…` : details) : null,
      JSON.stringify(refs),
      r.published ?? null,
      r.modified ?? null,
      r.withdrawn ?? null,
      blob(),
    );
  }
}

function badInput(path: string, what: string, e: unknown): MoatError {
  return new MoatError('BAD_DB_INPUT', `OSV input ${path} ${what}: ${errorMessage(e)}`, { cause: e });
}

async function readInput(path: string, maxEntry: number, w: Writer): Promise<void> {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const file of listJson(path)) {
      const size = statSync(file).size;
      const rel = file.slice(path.length + 1);
      if (size > maxEntry) w.problem(rel, `larger than ${maxEntry} bytes`);
      else w.addBuffer(rel, readFileSync(file), false);
    }
    return;
  }
  if (path.endsWith('.json')) {
    if (st.size > maxEntry) {
      throw new MoatError('BAD_DB_INPUT', `OSV input ${path} is larger than ${maxEntry} bytes`);
    }
    w.addBuffer(basename(path), readFileSync(path), true);
    return;
  }
  await readZip(path, maxEntry, w);
}

/** The source column after a merge: the snapshot's source plus each distinct added input, once. */
function mergedSource(previous: string | undefined, added: string): string {
  if (!previous) return added;
  return previous.split(' + ').includes(added) ? previous : `${previous} + ${added}`;
}

function isZipInput(path: string): boolean {
  return !path.endsWith('.json') && !statSync(path).isDirectory();
}

function listJson(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.json')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Reads a zip through bounded read-ahead windows: yauzl walks the central directory (at the end of the
 * file) while the entries' data is read from the front, so two windows serve nearly every read from memory
 * instead of two small thread-pool reads per entry. Memory stays bounded by the window size (plus one
 * entry larger than a window).
 */
class WindowReader extends yauzl.RandomAccessReader {
  private readonly windows: { start: number; buf: Buffer }[] = [];

  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly windowBytes = 4 * 1024 * 1024,
  ) {
    super();
  }

  /** Bytes [start, end) of the file; served from a window, refilling the least recently used one on a miss. */
  slice(start: number, end: number): Buffer {
    for (let i = 0; i < this.windows.length; i++) {
      const w = this.windows[i]!;
      if (start >= w.start && end <= w.start + w.buf.length) {
        if (i > 0) this.windows.unshift(...this.windows.splice(i, 1));
        return w.buf.subarray(start - w.start, end - w.start);
      }
    }
    const len = Math.min(Math.max(end - start, this.windowBytes), this.size - start);
    const buf = Buffer.allocUnsafe(Math.max(len, 0));
    const n = len > 0 ? readSync(this.fd, buf, 0, len, start) : 0;
    this.windows.unshift({ start, buf: buf.subarray(0, n) });
    if (this.windows.length > 2) this.windows.pop();
    return buf.subarray(0, Math.min(n, end - start));
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    cb: (err: Error | null, n?: number) => void,
  ): void {
    let n = 0;
    try {
      n = this.slice(position, position + length).copy(buffer, offset);
    } catch (e) {
      process.nextTick(cb, e as Error);
      return;
    }
    // asynchronous like a real read, so that yauzl's entry loop does not recurse once per entry
    process.nextTick(cb, null, n);
  }

  override close(cb: (err: Error | null) => void): void {
    closeSync(this.fd);
    setImmediate(cb, null);
  }
}

/**
 * Imports the `.json` entries of a zip, one at a time. The declared sizes bound each entry; the data is
 * inflated synchronously (far cheaper than a zlib stream per small record) and checked against the entry's
 * size and CRC-32, which yauzl leaves to the reader.
 */
function readZip(path: string, maxEntry: number, w: Writer): Promise<void> {
  const fd = openSync(path, 'r');
  const reader = new WindowReader(fd, fstatSync(fd).size);
  return new Promise<void>((resolve, reject) => {
    const opts = { lazyEntries: true, autoClose: false, validateEntrySizes: true };
    yauzl.fromRandomAccessReader(reader, fstatSync(fd).size, opts, (err, zip) => {
      if (err || !zip) {
        reader.close(() => reject(badInput(path, 'is not a readable zip', err)));
        return;
      }
      let failed = false;
      const finish = (e?: unknown, what = 'is a corrupt zip'): void => {
        if (failed) return;
        failed = true;
        zip.close();
        if (e === undefined) resolve();
        else reject(e instanceof MoatError ? e : badInput(path, what, e));
      };
      zip.on('error', (e) => finish(e));
      zip.on('end', () => finish());
      zip.on('entry', (entry: yauzl.Entry) => {
        const name = entry.fileName;
        if (name.endsWith('/') || !name.endsWith('.json')) {
          zip.readEntry();
          return;
        }
        if (entry.uncompressedSize > maxEntry) {
          w.problem(name, `larger than ${maxEntry} bytes`);
          zip.readEntry();
          return;
        }
        const method = entry.compressionMethod;
        if ((method !== 0 && method !== 8) || entry.isEncrypted()) {
          w.problem(
            name,
            `unsupported zip entry (compression method ${method}${entry.isEncrypted() ? ', encrypted' : ''})`,
          );
          zip.readEntry();
          return;
        }
        zip.readLocalFileHeader(entry, { minimal: true }, (e2, header) => {
          if (e2 || !header) {
            finish(e2, `has a corrupt entry ${name}`);
            return;
          }
          try {
            const raw = reader.slice(header.fileDataStart, header.fileDataStart + entry.compressedSize);
            const data = method === 8 ? inflateRawSync(raw, { maxOutputLength: maxEntry }) : raw;
            if (data.length !== entry.uncompressedSize || crc32(data) !== entry.crc32) {
              throw new Error('size or CRC-32 does not match the zip directory');
            }
            // the zip's own deflate stream is what the store keeps (SQLite copies it before the window moves)
            w.addBuffer(name, data, false, method === 8 ? raw : undefined);
          } catch (e3) {
            finish(e3, `has a corrupt entry ${name}`);
            return;
          }
          zip.readEntry();
        });
      });
      zip.readEntry();
    });
  });
}
