/**
 * Opens SQLite databases through better-sqlite3, loaded the cheap way: its default addon lookup (the
 * `bindings` package) probes a dozen paths, so the addon's path is given directly; the CLI bundle
 * (scripts/bundle.mjs) carries the package's JavaScript, which spares Node's CommonJS translation.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

/** the addon's path, or null when it is not where npm builds it (then better-sqlite3 searches) */
let addon: string | null | undefined;

function addonPath(): string | null {
  if (addon === undefined) {
    const load = createRequire(import.meta.url);
    const p = join(dirname(load.resolve('better-sqlite3')), '..', 'build', 'Release', 'better_sqlite3.node');
    addon = existsSync(p) ? p : null;
  }
  return addon;
}

/** `new Database(file, options)` of better-sqlite3 (a Buffer opens a serialized database in memory). */
export function openSqlite(
  file: string | Buffer,
  options: BetterSqlite3.Options = {},
): BetterSqlite3.Database {
  const nativeBinding = addonPath();
  return new BetterSqlite3(file, nativeBinding ? { ...options, nativeBinding } : options);
}
