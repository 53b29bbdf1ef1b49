/**
 * The layer cache: analysis results keyed by layer blob digest and analyzer versions, in SQLite at
 * `<cacheDir>/layers.sqlite`. Bounded (least recently used rows go first, by count and by bytes),
 * WAL mode with a busy timeout so that several moat processes can share it. The cache is an
 * optimisation only: when the file is corrupt it is recreated, and when it cannot be used at all the
 * scan goes on without it, with a warning either way.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type Database from 'better-sqlite3';
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import type { ScanWarning } from '../model/result.js';
import { openSqlite } from '../util/sqlite.js';

/** Bumped when the table layout changes; an older file's rows are dropped. */
export const CACHE_SCHEMA_VERSION = 2;
export const DEFAULT_CACHE_MAX_ENTRIES = 5000;
export const DEFAULT_CACHE_MAX_BYTES = 256 * 1024 * 1024;
/** a hit refreshes last_used only when it is older than this, to keep warm scans free of writes */
const TOUCH_AFTER_MS = 60_000;

export interface LayerCacheOptions {
  maxEntries?: number;
  maxBytes?: number;
}

type Db = Database.Database;

export class LayerCache {
  readonly path: string;
  readonly warnings: ScanWarning[] = [];
  private db: Db | undefined;
  private recreated = false;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  private constructor(cacheDir: string, opts: LayerCacheOptions) {
    this.path = join(cacheDir, 'layers.sqlite');
    this.maxEntries = opts.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
    this.maxBytes = opts.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  }

  /** Opens (or creates) the cache. Never throws: an unusable cache is disabled with a warning. */
  static open(cacheDir: string, opts: LayerCacheOptions = {}): LayerCache {
    const c = new LayerCache(cacheDir, opts);
    try {
      mkdirSync(cacheDir, { recursive: true });
      c.db = c.connect();
    } catch (e) {
      c.failed(e, 'open');
    }
    return c;
  }

  /** true while the cache is usable */
  get enabled(): boolean {
    return this.db !== undefined;
  }

  private connect(): Db {
    const db = openSqlite(this.path, { timeout: 5000 });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const version = db.pragma('user_version', { simple: true });
      if (version !== CACHE_SCHEMA_VERSION) {
        db.exec('BEGIN IMMEDIATE');
        try {
          // re-read inside the write lock: another process may have migrated meanwhile
          if (db.pragma('user_version', { simple: true }) !== CACHE_SCHEMA_VERSION) {
            // the blob goes last and the LRU index covers size: the bound checks after every put (count
            // and sum of sizes) then read the index only, not every row's overflow pages (with v1's layout
            // a put into a 150 MB cache read all 150 MB: ~80 ms)
            db.exec(`DROP TABLE IF EXISTS layers;
              CREATE TABLE layers (key TEXT PRIMARY KEY, size INTEGER NOT NULL, created INTEGER NOT NULL,
                last_used INTEGER NOT NULL, data BLOB NOT NULL);
              CREATE INDEX layers_lru ON layers (last_used, size);
              PRAGMA user_version = ${CACHE_SCHEMA_VERSION};`);
          }
          db.exec('COMMIT');
        } catch (e) {
          db.exec('ROLLBACK');
          throw e;
        }
      }
      // touches the pages, so that a damaged file shows up here rather than mid-scan
      db.prepare('SELECT count(*) FROM layers').get();
      return db;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /**
   * A corrupt file is deleted and created anew (once per process); any other failure disables the
   * cache for the rest of the run. Either way the scan goes on.
   */
  private failed(e: unknown, op: string): void {
    const code = (e as { code?: string })?.code ?? '';
    const corrupt = code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB';
    this.db?.close();
    this.db = undefined;
    if (corrupt && !this.recreated) {
      this.recreated = true;
      this.warn('cache-recreated', `layer cache ${this.path} was corrupt (${errorMessage(e)}); recreated it`);
      try {
        for (const suffix of ['', '-wal', '-shm']) rmSync(this.path + suffix, { force: true });
        this.db = this.connect();
        return;
      } catch (e2) {
        e = e2;
      }
    }
    this.warn(
      'cache-disabled',
      `layer cache ${this.path} unusable during ${op} (${errorMessage(e)}); scanning without it`,
    );
  }

  private warn(code: string, message: string): void {
    this.warnings.push({ code, message, subject: this.path });
    log.warn({ file: this.path, reason: message }, 'layer cache problem');
  }

  /** The stored value, or undefined on a miss (an unreadable row counts as a miss and is dropped). */
  get<T>(key: string): T | undefined {
    if (!this.db) return undefined;
    let row: { data: Buffer; last_used: number } | undefined;
    try {
      row = this.db.prepare('SELECT data, last_used FROM layers WHERE key = ?').get(key) as typeof row;
      if (!row) return undefined;
      const now = Date.now();
      if (now - row.last_used > TOUCH_AFTER_MS) {
        this.db.prepare('UPDATE layers SET last_used = ? WHERE key = ?').run(now, key);
      }
    } catch (e) {
      this.failed(e, 'read');
      return undefined;
    }
    try {
      return JSON.parse(inflateRawSync(row.data).toString('utf8')) as T;
    } catch (e) {
      log.warn({ key, reason: errorMessage(e) }, 'dropping unreadable layer cache entry');
      this.delete(key);
      return undefined;
    }
  }

  /** Stores a JSON-serialisable value, then evicts the least recently used rows beyond the bounds. */
  put(key: string, value: unknown): void {
    if (!this.db) return;
    let data: Buffer;
    try {
      data = deflateRawSync(Buffer.from(JSON.stringify(value), 'utf8'), { level: 3 });
    } catch (e) {
      // an analyzer returned something JSON cannot hold (a BigInt, a cycle): scan on, cache nothing
      log.warn({ key, reason: errorMessage(e) }, 'layer result not cacheable');
      return;
    }
    if (data.length > this.maxBytes) return;
    try {
      const db = this.db;
      const now = Date.now();
      db.transaction(() => {
        db.prepare(
          'INSERT OR REPLACE INTO layers (key, data, size, created, last_used) VALUES (?, ?, ?, ?, ?)',
        ).run(key, data, data.length, now, now);
        this.evict(db);
      }).immediate();
    } catch (e) {
      this.failed(e, 'write');
    }
  }

  private evict(db: Db): void {
    const { n, bytes } = db
      .prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM layers')
      .get() as {
      n: number;
      bytes: number;
    };
    let count = n;
    let total = bytes;
    if (count <= this.maxEntries && total <= this.maxBytes) return;
    // oldest first, only as many as must go (the rows cannot be deleted while the query is open)
    const doomed: string[] = [];
    const oldest = db.prepare<[], { key: string; size: number }>(
      'SELECT key, size FROM layers ORDER BY last_used ASC',
    );
    for (const row of oldest.iterate()) {
      if (count <= this.maxEntries && total <= this.maxBytes) break;
      doomed.push(row.key);
      count--;
      total -= row.size;
    }
    const del = db.prepare('DELETE FROM layers WHERE key = ?');
    for (const key of doomed) del.run(key);
  }

  delete(key: string): void {
    if (!this.db) return;
    try {
      this.db.prepare('DELETE FROM layers WHERE key = ?').run(key);
    } catch (e) {
      this.failed(e, 'write');
    }
  }

  /** rows and stored bytes (for status output and tests) */
  stats(): { entries: number; bytes: number } {
    if (!this.db) return { entries: 0, bytes: 0 };
    const r = this.db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM layers').get() as {
      n: number;
      bytes: number;
    };
    return { entries: r.n, bytes: r.bytes };
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }
}
