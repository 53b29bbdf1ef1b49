import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { errorMessage, MoatError } from '../errors.js';
import { openSqlite } from '../util/sqlite.js';

/**
 * The vulnerability database: one SQLite file (default `<cacheDir>/vulndb.sqlite`). Records are split into
 * `vulns` (one row per OSV record: ids, text, references, the full record deflated) and `affected` (one row
 * per record × ecosystem × package name, indexed by (name, ecosystem), with the precomputed severity).
 * `affected` keeps the ranges in the cheapest form that says them: distribution data is almost always one
 * ECOSYSTEM range `introduced 0` [+ `fixed X`], kept as `entries` NULL and `fix` X (NULL: no fix); anything
 * else is compact JSON in `entries` (range.ts). `ecosystems` says where each ecosystem's data came from, when.
 *
 * Bump SCHEMA_VERSION on any change to the tables or to what import stores: an older file is then refused
 * with DB_SCHEMA until the user re-imports.
 * 2: PyPI and NuGet package names stored normalised (ecosystem.ts normalizeName).
 */
export const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE ecosystems (
  ecosystem TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  imported_at TEXT NOT NULL,
  checked_at TEXT NOT NULL,
  records INTEGER NOT NULL,
  etag TEXT,
  last_modified TEXT
) WITHOUT ROWID;
CREATE TABLE vulns (
  id TEXT PRIMARY KEY,
  ids TEXT NOT NULL,
  summary TEXT,
  details TEXT,
  refs TEXT NOT NULL,
  published TEXT,
  modified TEXT,
  withdrawn TEXT,
  record BLOB NOT NULL
);
CREATE TABLE affected (
  name TEXT NOT NULL,
  ecosystem TEXT NOT NULL,
  id TEXT NOT NULL,
  base TEXT NOT NULL,
  fix TEXT,
  entries TEXT,
  severity TEXT NOT NULL,
  severity_source TEXT NOT NULL,
  cvss TEXT,
  withdrawn INTEGER NOT NULL
);
CREATE INDEX affected_pkg ON affected (name, ecosystem);
CREATE INDEX affected_base ON affected (base);
`;

export type Sqlite = Database.Database;

/**
 * A candidate row of `affected`, as an array (raw mode: no object per row on the hot path):
 * [rowid, name, ecosystem, record id, fix, entries] — see the table comment for fix/entries.
 */
export type CandidateRow = [
  rowid: number,
  name: string,
  ecosystem: string,
  id: string,
  fix: string | null,
  entries: string | null,
];

/** The rating stored with a row: [rowid, severity, severity source, JSON CvssScore[] or null]. */
export type RatingRow = [rowid: number, severity: string, source: string, cvss: string | null];

export interface VulnRow {
  id: string;
  /** JSON string[]: aliases and upstream ids */
  ids: string;
  summary: string | null;
  details: string | null;
  /** JSON string[] of reference URLs */
  refs: string;
  published: string | null;
  modified: string | null;
}

export interface EcosystemRow {
  ecosystem: string;
  source: string;
  imported_at: string;
  checked_at: string;
  records: number;
  etag: string | null;
  last_modified: string | null;
}

/** Creates the tables in an empty database and stamps the schema version. */
export function createSchema(db: Sqlite): void {
  db.exec(SCHEMA);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
  const now = new Date().toISOString();
  const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  put.run('schema_version', String(SCHEMA_VERSION));
  put.run('created_at', now);
}

export function schemaVersionOf(db: Sqlite): number {
  return Number(db.pragma('user_version', { simple: true }));
}

function schemaError(path: string, found: number): MoatError {
  const what = found === 0 ? 'is not a moat vulnerability database' : `has schema version ${found}`;
  return new MoatError(
    'DB_SCHEMA',
    `vulnerability database ${path} ${what} (this moat needs ${SCHEMA_VERSION}): run \`moat db update\` or \`moat db import PATH\` to rebuild it`,
  );
}

export interface OpenOptions {
  /** default true (scans); import opens for writing */
  readonly?: boolean;
}

/** An open vulnerability database with the prepared lookups the matcher uses. */
export class VulnDb {
  readonly path: string;
  readonly sqlite: Sqlite;
  readonly schemaVersion = SCHEMA_VERSION;
  private readonly byNames: Database.Statement<[string, string], CandidateRow>;
  private readonly byPrefix: Database.Statement<[string, string, string], CandidateRow>;
  private readonly ratingsByRowid: Database.Statement<[string], RatingRow>;
  private readonly vulnsByIds: Database.Statement<[string], VulnRow>;

  constructor(path: string, sqlite: Sqlite) {
    this.path = path;
    this.sqlite = sqlite;
    const cols = 'rowid, name, ecosystem, id, fix, entries';
    // lists are bound as JSON arrays: one statement (and one index walk) for any number of names
    this.byNames = sqlite
      .prepare<[string, string], CandidateRow>(
        `SELECT ${cols} FROM affected WHERE name IN (SELECT value FROM json_each(?))
         AND ecosystem IN (SELECT value FROM json_each(?)) AND withdrawn = 0`,
      )
      .raw(true);
    this.byPrefix = sqlite
      .prepare<[string, string, string], CandidateRow>(
        `SELECT ${cols} FROM affected WHERE name IN (SELECT value FROM json_each(?))
         AND ecosystem >= ? AND ecosystem < ? AND withdrawn = 0`,
      )
      .raw(true);
    this.ratingsByRowid = sqlite
      .prepare<[string], RatingRow>(
        'SELECT rowid, severity, severity_source, cvss FROM affected WHERE rowid IN (SELECT value FROM json_each(?))',
      )
      .raw(true);
    this.vulnsByIds = sqlite.prepare(
      `SELECT id, ids, summary, details, refs, published, modified FROM vulns
       WHERE id IN (SELECT value FROM json_each(?))`,
    );
  }

  /** Non-withdrawn candidate rows for these package names in these exact ecosystems ("Debian:12"). */
  affected(ecosystems: string[], names: string[]): CandidateRow[] {
    if (ecosystems.length === 0 || names.length === 0) return [];
    return this.byNames.all(JSON.stringify(names), JSON.stringify(ecosystems));
  }

  /** Non-withdrawn candidate rows for these names in every ecosystem starting with `prefix` ("Red Hat:enterprise_linux:9::"). */
  affectedByPrefix(prefix: string, names: string[]): CandidateRow[] {
    if (prefix === '' || names.length === 0) return [];
    // the upper bound is the prefix with its last character incremented: an index range scan
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    return this.byPrefix.all(JSON.stringify(names), prefix, end);
  }

  /** The stored ratings of matched rows (fetched for hits only). */
  ratings(rowids: number[]): RatingRow[] {
    if (rowids.length === 0) return [];
    return this.ratingsByRowid.all(JSON.stringify(rowids));
  }

  vulns(ids: string[]): VulnRow[] {
    if (ids.length === 0) return [];
    return this.vulnsByIds.all(JSON.stringify(ids));
  }

  /** Runs `fn` inside one read transaction: one lock and one consistent snapshot for many lookups. */
  read<T>(fn: () => T): T {
    if (this.sqlite.inTransaction) return fn();
    return this.sqlite.transaction(fn)();
  }

  ecosystems(): EcosystemRow[] {
    return this.sqlite.prepare('SELECT * FROM ecosystems ORDER BY ecosystem').all() as EcosystemRow[];
  }

  /**
   * When the data was last imported or confirmed current by a download (ISO): for one base ecosystem
   * ("Debian"), or without one the oldest over all ecosystems, since the database is as stale as its stalest
   * part. Undefined for an empty database.
   */
  updatedAt(base?: string): string | undefined {
    const rows = this.ecosystems().filter((e) => base === undefined || e.ecosystem === base);
    let oldest: string | undefined;
    for (const r of rows) if (oldest === undefined || r.checked_at < oldest) oldest = r.checked_at;
    return oldest;
  }

  meta(key: string): string | undefined {
    const row = this.sqlite.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  close(): void {
    if (this.sqlite.open) this.sqlite.close();
  }
}

/**
 * Opens an existing database. Read-only by default (scans). Throws DB_MISSING when the file does not exist
 * and DB_SCHEMA when it was written by another schema version.
 */
export function openVulnDb(path: string, opts: OpenOptions = {}): VulnDb {
  if (!existsSync(path)) {
    throw new MoatError(
      'DB_MISSING',
      `vulnerability database not found at ${path}: run \`moat db update\` or \`moat db import PATH\` first`,
    );
  }
  let sqlite: Sqlite;
  try {
    sqlite = openSqlite(path, { readonly: opts.readonly ?? true, fileMustExist: true, timeout: 10_000 });
  } catch (e) {
    throw new MoatError('DB_SCHEMA', `cannot open vulnerability database ${path}: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  try {
    const v = schemaVersionOf(sqlite);
    if (v !== SCHEMA_VERSION) throw schemaError(path, v);
    return new VulnDb(path, sqlite);
  } catch (e) {
    sqlite.close();
    if (e instanceof MoatError) throw e;
    // e.g. "file is not a database"
    throw new MoatError('DB_SCHEMA', `cannot read vulnerability database ${path}: ${errorMessage(e)}`, {
      cause: e,
    });
  }
}
