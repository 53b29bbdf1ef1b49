import { openVulnDb } from './store.js';

/**
 * `moat db status`: what the database holds and how old it is. Age is measured from when moat imported the
 * data or a download confirmed it current (HTTP 304), never from the records' `modified` dates, which can be
 * placeholders (Go's 0001-01-01) or old for unchanged data.
 */
export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3_600_000;

export interface EcosystemStatus {
  /** base ecosystem, as an OSV export is named ("Debian", "Go") */
  ecosystem: string;
  /** records in that ecosystem's last import (withdrawn ones included) */
  records: number;
  /** file or URL the data came from */
  source: string;
  /** when the data was imported (ISO) */
  importedAt: string;
  /** when the data was imported or last confirmed current by `moat db update` (ISO) */
  updatedAt: string;
  ageHours: number;
  stale: boolean;
}

export interface DbStatus {
  path: string;
  schemaVersion: number;
  /** distinct records stored */
  totalRecords: number;
  /** the oldest ecosystem's updatedAt: the database is as stale as its stalest part */
  updatedAt?: string;
  ageHours?: number;
  /** older than maxAgeMs, or empty */
  stale: boolean;
  maxAgeMs: number;
  ecosystems: EcosystemStatus[];
}

export interface StatusOptions {
  maxAgeMs?: number;
  now?: Date;
}

const hours = (ms: number): number => Math.round((ms / 3_600_000) * 10) / 10;

/** Reads the status of the database at `dbPath` (DB_MISSING / DB_SCHEMA errors as for scans). */
export function dbStatus(dbPath: string, opts: StatusOptions = {}): DbStatus {
  const now = (opts.now ?? new Date()).getTime();
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const db = openVulnDb(dbPath);
  try {
    const total = db.sqlite.prepare('SELECT COUNT(*) AS n FROM vulns').get() as { n: number };
    const ecosystems = db.ecosystems().map((e): EcosystemStatus => {
      const age = now - Date.parse(e.checked_at);
      return {
        ecosystem: e.ecosystem,
        records: e.records,
        source: e.source,
        importedAt: e.imported_at,
        updatedAt: e.checked_at,
        ageHours: hours(age),
        stale: age > maxAgeMs,
      };
    });
    const status: DbStatus = {
      path: dbPath,
      schemaVersion: db.schemaVersion,
      totalRecords: total.n,
      stale: false,
      maxAgeMs,
      ecosystems,
    };
    const updatedAt = db.updatedAt();
    if (updatedAt) {
      status.updatedAt = updatedAt;
      status.ageHours = hours(now - Date.parse(updatedAt));
    }
    status.stale = isStale(status, maxAgeMs, opts.now);
    return status;
  } finally {
    db.close();
  }
}

/** True when the data is older than `maxAgeMs`, or there is none. */
export function isStale(
  status: Pick<DbStatus, 'updatedAt'>,
  maxAgeMs: number,
  now: Date = new Date(),
): boolean {
  if (!status.updatedAt) return true;
  return now.getTime() - Date.parse(status.updatedAt) > maxAgeMs;
}
