/**
 * Opens SQLite databases through better-sqlite3, loaded the cheap way. An ESM `import` of the package
 * makes Node translate its CommonJS (a lexer pass over every file to find named exports), and its
 * default addon lookup (the `bindings` package) probes a dozen paths: together ~10-15 ms of every
 * warm scan's ~100 ms. `require` skips the translation, and the addon path is given directly.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';

const load = createRequire(import.meta.url);
let ctor: typeof BetterSqlite3 | undefined;
/** the addon's path, or null when it is not where npm builds it (then better-sqlite3 searches) */
let addon: string | null | undefined;

function driver(): typeof BetterSqlite3 {
  if (!ctor) {
    ctor = load('better-sqlite3') as typeof BetterSqlite3;
    const p = join(dirname(load.resolve('better-sqlite3')), '..', 'build', 'Release', 'better_sqlite3.node');
    addon = existsSync(p) ? p : null;
  }
  return ctor;
}

/** `new Database(file, options)` of better-sqlite3 (a Buffer opens a serialized database in memory). */
export function openSqlite(
  file: string | Buffer,
  options: BetterSqlite3.Options = {},
): BetterSqlite3.Database {
  const Database = driver();
  return new Database(file, addon ? { ...options, nativeBinding: addon } : options);
}
