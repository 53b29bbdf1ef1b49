import { Command } from 'commander';
import { renderJson } from '../report/json.js';
import { textTable } from '../report/text-table.js';
import { commandContext } from './context.js';
import { addOptions, type OptionName, type OutputFormat } from './options.js';

const COMMON = [
  'format',
  'output',
  'quiet',
  'debug',
  'config',
  'cache-dir',
  'db-path',
] as const satisfies readonly OptionName[];

export function dbCommand(): Command {
  const db = new Command('db').description('manage the vulnerability database (OSV)');

  const imp = new Command('import')
    .description(
      'import OSV records: an export zip (<Ecosystem>/all.zip), a directory of JSON records, or one JSON file',
    )
    .argument('<path...>', 'zip, directory or JSON file');
  addOptions(imp, [...COMMON, 'replace']);
  imp.action(async (paths: string[], _o: unknown, cmd: Command) => {
    const ctx = await commandContext(cmd, ['db-path', 'replace']);
    const { importOsv } = await import('../vulndb/import.js');
    const results = [];
    try {
      for (const p of paths) {
        results.push(
          await importOsv(ctx.dbPath, p, {
            onProgress: ctx.progress.onProgress,
            ...(ctx.get('replace') === true ? { replace: true } : {}),
          }),
        );
      }
    } finally {
      ctx.progress.done();
    }
    if (ctx.get<OutputFormat>('format') === 'json') {
      ctx.write(renderJson({ db: ctx.dbPath, imports: results }));
      return;
    }
    const lines = results.map(
      (r, i) =>
        `${paths[i]}: ${r.records} records in ${r.seconds.toFixed(2)} s (${Math.round(r.records / Math.max(r.seconds, 1e-6))} records/s)` +
        `${r.skipped ? `, ${r.skipped} skipped` : ''}`,
    );
    ctx.write(`${lines.join('\n')}\nDatabase: ${ctx.dbPath}\n`);
  });

  const upd = new Command('update').description('download the OSV exports of the configured ecosystems');
  addOptions(upd, [...COMMON, 'db-url', 'ecosystems', 'timeout']);
  upd.action(async (_o: unknown, cmd: Command) => {
    const ctx = await commandContext(cmd, ['db-path', 'db-url', 'ecosystems', 'timeout']);
    const { updateDb } = await import('../vulndb/update.js');
    const result = await updateDb(ctx.dbPath, {
      baseUrl: ctx.get('db-url'),
      ecosystems: ctx.get('ecosystems'),
      timeoutMs: ctx.get('timeout'),
      cacheDir: ctx.cacheDir,
      onProgress: ctx.progress.onProgress,
    }).finally(() => ctx.progress.done());
    if (ctx.get<OutputFormat>('format') === 'json') {
      ctx.write(renderJson(result));
      return;
    }
    const rows = result.ecosystems.map((e) => [
      e.ecosystem,
      e.status,
      e.records === undefined ? '' : String(e.records),
    ]);
    ctx.write(
      textTable([{ header: 'ECOSYSTEM' }, { header: 'RESULT' }, { header: 'RECORDS', align: 'right' }], rows),
    );
  });

  const st = new Command('status').description('show record counts per ecosystem and the age of the data');
  addOptions(st, [...COMMON, 'db-max-age']);
  st.action(async (_o: unknown, cmd: Command) => {
    const ctx = await commandContext(cmd, ['db-path', 'db-max-age']);
    const { dbStatus } = await import('../vulndb/status.js');
    const status = dbStatus(ctx.dbPath, { maxAgeMs: ctx.get('db-max-age') });
    if (ctx.get<OutputFormat>('format') === 'json') {
      ctx.write(renderJson(status));
      return;
    }
    const rows = status.ecosystems.map((e) => [
      e.ecosystem,
      String(e.records),
      e.updatedAt ?? '',
      e.source ?? '',
    ]);
    ctx.write(
      `Database: ${status.path} (schema ${status.schemaVersion})\n` +
        `Records: ${status.totalRecords}  Updated: ${status.updatedAt ?? 'never'}${status.stale ? '  STALE' : ''}\n\n` +
        textTable(
          [
            { header: 'ECOSYSTEM' },
            { header: 'RECORDS', align: 'right' },
            { header: 'UPDATED' },
            { header: 'SOURCE', flexible: true },
          ],
          rows,
        ),
    );
  });

  db.addCommand(imp);
  db.addCommand(upd);
  db.addCommand(st);
  return db;
}
