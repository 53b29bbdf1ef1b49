/**
 * rpm's SQLite backend (`rpmdb.sqlite`, rpm ≥ 4.16: Fedora 33+, RHEL 9, CBL-Mariner/Azure Linux):
 * `CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)`, one header per row.
 */
import { closeSync, copyFileSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { errorMessage } from '../../errors.js';
import { openSqlite } from '../../util/sqlite.js';
import type { FileInput } from '../types.js';
import { RpmDbError } from './errors.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

class SqliteDbError extends RpmDbError {
  override name = 'SqliteDbError';
}

export function isSqlite(head: Buffer): boolean {
  return head.length >= 16 && head.subarray(0, 16).equals(SQLITE_MAGIC);
}

/**
 * Bytes 18–19 of the SQLite header are the read/write format versions: 2 means WAL mode, which an in-memory
 * (deserialised) or read-only database cannot open without its -shm file. rpm checkpoints on close, so the
 * main file holds the whole database and the header can be set back to rollback mode (1) on a copy.
 */
function isWal(head: Buffer): boolean {
  return head.length >= 20 && (head[18] === 2 || head[19] === 2);
}

function readHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(100);
    const n = readSync(fd, head, 0, 100, 0);
    return head.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function checkSchema(db: Database.Database): void {
  // only a plain table with plain columns: a view or a virtual/generated column could run arbitrary SQL
  const row = db
    .prepare<[], { type: string; sql: string | null }>(
      "SELECT type, sql FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE",
    )
    .get();
  if (!row) throw new SqliteDbError('SQLite database has no Packages table');
  if (row.type !== 'table' || /^\s*CREATE\s+VIRTUAL/i.test(row.sql ?? '')) {
    throw new SqliteDbError(`SQLite Packages is a ${row.type}, not a plain table`);
  }
  const cols = db.prepare<[], { name: string; hidden: number }>('PRAGMA table_xinfo(Packages)').all();
  for (const want of ['hnum', 'blob']) {
    const col = cols.find((c) => c.name.toLowerCase() === want);
    if (!col) throw new SqliteDbError(`SQLite Packages table has no ${want} column`);
    if (col.hidden !== 0) throw new SqliteDbError(`SQLite Packages.${want} is a generated column`);
  }
}

/**
 * Calls `onBlob` for every header blob in hnum order. The database is opened from the in-memory copy, or
 * read-only from the spool file (through a patched temporary copy beside it when the file is in WAL mode).
 */
export function readSqliteBlobs(file: FileInput, onBlob: (hnum: number, blob: Buffer) => void): void {
  let tmp: string | undefined;
  let db: Database.Database | undefined;
  try {
    try {
      if (file.data) {
        if (!isSqlite(file.data)) throw new SqliteDbError('not an SQLite database');
        let buf = file.data;
        if (isWal(buf)) {
          buf = Buffer.from(buf);
          buf[18] = 1;
          buf[19] = 1;
        }
        db = openSqlite(buf);
      } else if (file.spoolPath) {
        const head = readHead(file.spoolPath);
        if (!isSqlite(head)) throw new SqliteDbError('not an SQLite database');
        let path = file.spoolPath;
        if (isWal(head)) {
          tmp = `${file.spoolPath}.${process.pid}.rollback.sqlite`;
          copyFileSync(file.spoolPath, tmp);
          const fd = openSync(tmp, 'r+');
          try {
            writeSync(fd, Buffer.from([1, 1]), 0, 2, 18);
          } finally {
            closeSync(fd);
          }
          path = tmp;
        }
        db = openSqlite(path, { readonly: true, fileMustExist: true });
      } else {
        throw new SqliteDbError('no content');
      }
      db.pragma('query_only = ON');
      checkSchema(db);
    } catch (e) {
      if (e instanceof SqliteDbError) throw e;
      throw new SqliteDbError(`unreadable SQLite database: ${errorMessage(e)}`);
    }
    const stmt = db.prepare<[], { hnum: unknown; blob: unknown }>(
      'SELECT hnum, blob FROM Packages ORDER BY hnum',
    );
    try {
      for (const { hnum, blob } of stmt.iterate()) {
        if (Buffer.isBuffer(blob)) onBlob(Number(hnum), blob);
      }
    } catch (e) {
      throw new SqliteDbError(`SQLite database is corrupt: ${errorMessage(e)}`);
    }
  } finally {
    db?.close();
    if (tmp) {
      for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${tmp}${suffix}`, { force: true });
    }
  }
}
