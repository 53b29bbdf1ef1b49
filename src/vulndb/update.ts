import { createWriteStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, type Dispatcher, interceptors, request } from 'undici';
import { type ErrorCode, errorMessage, MoatError } from '../errors.js';
import type { ProgressFn } from '../model/progress.js';
import { type ImportInput, type ImportStats, importInputs } from './import.js';
import { openVulnDb } from './store.js';

/**
 * `moat db update`: downloads `<baseUrl>/<Ecosystem>/all.zip` (the layout of osv.dev's public bucket, and of
 * any mirror of it) for each configured ecosystem with a conditional request (the ETag / Last-Modified of the
 * last download are kept in the database: 304 means unchanged), into a temp file in the cache dir, then
 * imports everything that changed in one atomic step. Nothing changes when any download fails.
 */
export const DEFAULT_OSV_URL = 'https://osv-vulnerabilities.storage.googleapis.com';

/** The OSV exports for the OS families moat matches today. */
export const DEFAULT_ECOSYSTEMS = ['AlmaLinux', 'Alpine', 'Debian', 'Red Hat', 'Rocky Linux', 'Ubuntu'];

export interface UpdateOptions {
  /** default DEFAULT_OSV_URL */
  baseUrl?: string;
  /** base ecosystem names as the bucket spells them (default DEFAULT_ECOSYSTEMS) */
  ecosystems?: string[];
  /** headers and idle-body timeout per request (default 60 s) */
  timeoutMs?: number;
  /** where downloads are spooled (default: the database's directory) */
  cacheDir?: string;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface EcosystemUpdate {
  ecosystem: string;
  url: string;
  /** "updated": downloaded and imported; "unchanged": the server answered 304 */
  status: 'updated' | 'unchanged';
  /** records imported (updated ecosystems) */
  records?: number;
  bytes?: number;
}

export interface UpdateResult {
  dbPath: string;
  ecosystems: EcosystemUpdate[];
  import?: ImportStats;
  seconds: number;
}

interface Validators {
  etag: string | null;
  last_modified: string | null;
}

/** ETag / Last-Modified of each ecosystem's last download, when the database is readable. */
function storedValidators(dbPath: string): Map<string, Validators> {
  const out = new Map<string, Validators>();
  if (!existsSync(dbPath)) return out;
  try {
    const db = openVulnDb(dbPath);
    try {
      for (const e of db.ecosystems()) out.set(e.ecosystem, e);
    } finally {
      db.close();
    }
  } catch {
    // outdated schema or unreadable: download everything, import rebuilds the file
  }
  return out;
}

export function exportUrl(baseUrl: string, ecosystem: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(ecosystem)}/all.zip`;
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function networkError(url: string, e: unknown): MoatError {
  if (e instanceof MoatError) return e;
  const code = (e as { code?: string } | undefined)?.code;
  const kind: ErrorCode = code && TIMEOUT_CODES.has(code) ? 'TIMEOUT' : 'NETWORK';
  const what = kind === 'TIMEOUT' ? 'timed out' : 'failed';
  return new MoatError(kind, `download of OSV export ${url} ${what}: ${errorMessage(e)}`, { cause: e });
}

function httpError(url: string, status: number): MoatError {
  const code: ErrorCode =
    status === 404 ? 'NOT_FOUND' : status === 401 || status === 403 ? 'UNAUTHORIZED' : 'NETWORK';
  const hint = status === 404 ? ' (check the ecosystem name and the mirror URL)' : '';
  return new MoatError(code, `download of OSV export ${url} failed: HTTP ${status}${hint}`);
}

export async function updateDb(dbPath: string, opts: UpdateOptions = {}): Promise<UpdateResult> {
  const t0 = performance.now();
  const baseUrl = opts.baseUrl ?? DEFAULT_OSV_URL;
  const ecosystems = opts.ecosystems ?? DEFAULT_ECOSYSTEMS;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const spool = opts.cacheDir ?? dirname(dbPath);
  mkdirSync(spool, { recursive: true });
  const validators = storedValidators(dbPath);
  const agent = new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const dispatcher = agent.compose(interceptors.redirect({ maxRedirections: 5 }));
  const results: EcosystemUpdate[] = [];
  const inputs: (ImportInput & { result: EcosystemUpdate })[] = [];
  const temps: string[] = [];
  try {
    for (const ecosystem of ecosystems) {
      const url = exportUrl(baseUrl, ecosystem);
      const headers: Record<string, string> = {};
      const v = validators.get(ecosystem);
      if (v?.etag) headers['if-none-match'] = v.etag;
      if (v?.last_modified) headers['if-modified-since'] = v.last_modified;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, { method: 'GET', headers, dispatcher, signal: opts.signal });
      } catch (e) {
        throw networkError(url, e);
      }
      if (res.statusCode === 304) {
        await res.body.dump();
        results.push({ ecosystem, url, status: 'unchanged' });
        continue;
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw httpError(url, res.statusCode);
      }
      const tmp = join(
        spool,
        `osv-${ecosystem.replace(/[^A-Za-z0-9.-]/g, '_')}.${process.pid}.${Date.now()}.zip`,
      );
      temps.push(tmp);
      const total = Number(res.headers['content-length']) || undefined;
      let done = 0;
      const progress = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          done += chunk.length;
          opts.onProgress?.({ phase: 'download', id: ecosystem, done, total, unit: 'bytes' });
          cb(null, chunk);
        },
      });
      try {
        await pipeline(res.body, progress, createWriteStream(tmp));
      } catch (e) {
        throw networkError(url, e);
      }
      opts.onProgress?.({ phase: 'download', id: ecosystem, done, total, unit: 'bytes', finished: true });
      const result: EcosystemUpdate = { ecosystem, url, status: 'updated', bytes: done };
      results.push(result);
      const header = (h: string): string | undefined => {
        const x = res.headers[h];
        return Array.isArray(x) ? x[0] : x;
      };
      inputs.push({
        path: tmp,
        ecosystems: [ecosystem],
        source: url,
        etag: header('etag'),
        lastModified: header('last-modified'),
        result,
      });
    }

    let stats: ImportStats | undefined;
    if (inputs.length > 0) {
      stats = await importInputs(dbPath, inputs, { onProgress: opts.onProgress });
      for (const i of inputs) i.result.records = stats.ecosystems[i.result.ecosystem] ?? 0;
    }
    const unchanged = results.filter((r) => r.status === 'unchanged').map((r) => r.ecosystem);
    if (unchanged.length > 0) touch(dbPath, unchanged);
    const out: UpdateResult = { dbPath, ecosystems: results, seconds: (performance.now() - t0) / 1000 };
    if (stats) out.import = stats;
    return out;
  } finally {
    for (const t of temps) rmSync(t, { force: true });
    await agent.close();
  }
}

/** Records that a download confirmed these ecosystems current (their age restarts). */
function touch(dbPath: string, ecosystems: string[]): void {
  const db = openVulnDb(dbPath, { readonly: false });
  try {
    const now = new Date().toISOString();
    const st = db.sqlite.prepare('UPDATE ecosystems SET checked_at = ? WHERE ecosystem = ?');
    db.sqlite.transaction(() => {
      for (const e of ecosystems) st.run(now, e);
    })();
  } finally {
    db.close();
  }
}
