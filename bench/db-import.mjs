// Vulnerability database: (1) `moat db import` of the largest OSV export zip (built CLI, process start
// included), records per second, against `unzip -p` of the same zip (inflating every record, nothing
// else) in the same run; (2) the matching step of a scan, in process: the inventories of base-old and
// python are collected once, then `matchPackages` is timed over repeated runs, against a full read of
// the `affected` table in the same run. Goals (issue 2): records/s printed; matching under 50 ms.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  alternate,
  exportZips,
  finish,
  IMAGES,
  MOAT,
  measure,
  median,
  ms,
  prepareDb,
  ROOT,
  removeDir,
  report,
  requireBuilt,
  runs,
  tempDir,
} from './lib.mjs';

const MATCH_GOAL_MS = 50;

export function dbImport({ n = runs(5) } = {}) {
  requireBuilt();
  const zip = exportZips()[0];
  // the record count, from one unmeasured import
  const probe = tempDir('moat-bench-import-');
  let records;
  try {
    const r = spawnSync(
      process.execPath,
      [MOAT, 'db', 'import', '-f', 'json', '--cache-dir', probe, zip.path],
      {
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`moat db import failed: ${r.stderr}`);
    records = JSON.parse(r.stdout).imports.reduce((s, i) => s + i.records, 0);
  } finally {
    removeDir(probe);
  }
  let dir = tempDir('moat-bench-import-');
  try {
    const r = alternate(
      n,
      {
        unzip: () => measure('unzip', ['-p', zip.path]).wall,
        moat: () =>
          measure(process.execPath, [MOAT, 'db', 'import', '-q', '--cache-dir', dir, zip.path]).wall,
      },
      {
        before: (k) => {
          if (k !== 'moat') return;
          removeDir(dir);
          dir = tempDir('moat-bench-import-');
        },
      },
    );
    const moat = median(r.moat);
    const unzip = median(r.unzip);
    return report(
      `db-import (${zip.ecosystem}/all.zip, ${(zip.bytes / 1e6).toFixed(1)} MB)`,
      {
        records,
        records_per_s: records / moat,
        moat_ms: ms(moat),
        unzip_ms: ms(unzip),
        ratio: moat / unzip,
        runs: n,
      },
      { text: 'records/s printed', check: () => true, headline: `${Math.round(records / moat)} records/s` },
    );
  } finally {
    removeDir(dir);
  }
}

export async function matching({ images = ['base-old', 'python'], n = runs(20) } = {}) {
  requireBuilt();
  const dist = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);
  const [
    { openImage },
    { collectInventory },
    { ANALYZERS },
    { resolveOs },
    { openVulnDb },
    { matchPackages },
  ] = await Promise.all([
    dist('image/index.js'),
    dist('scan/inventory.js'),
    dist('analyzers/index.js'),
    dist('scan/os.js'),
    dist('vulndb/store.js'),
    dist('vulndb/matcher.js'),
  ]);
  const db = prepareDb();
  const cacheDir = tempDir('moat-bench-match-');
  const oks = [];
  try {
    for (const name of images) {
      const image = await openImage(`oci:${join(IMAGES, 'oci')}:${name}`, {});
      let inv;
      try {
        inv = await collectInventory(image, { analyzers: ANALYZERS, cacheDir });
      } finally {
        await image.close();
      }
      const input = { os: resolveOs(inv.osHints), packages: inv.packages };
      const time = (fn) => {
        const t0 = process.hrtime.bigint();
        const v = fn();
        return { s: Number(process.hrtime.bigint() - t0) / 1e9, v };
      };
      // the first match on a fresh connection (for the first image also the process's first, cold JIT,
      // as in a CLI scan); the SQLite driver itself is loaded by the open, which is not timed
      const vdb = openVulnDb(db.dbPath);
      try {
        const firstRun = time(() => matchPackages(vdb, input));
        const first = firstRun.s;
        const findings = firstRun.v.length;
        const fullRead = vdb.sqlite
          .prepare('SELECT name, ecosystem, id, fix, entries FROM affected')
          .raw(true);
        const r = alternate(n, {
          match: () => time(() => matchPackages(vdb, input)).s,
          table: () => time(() => fullRead.all()).s,
          openMatch: () =>
            time(() => {
              const fresh = openVulnDb(db.dbPath);
              try {
                matchPackages(fresh, input);
              } finally {
                fresh.close();
              }
            }).s,
        });
        const match = median(r.match);
        const table = median(r.table);
        oks.push(
          report(
            `match (${name}: ${input.packages.length} packages, ${input.os?.ecosystem ?? 'no OS'})`,
            {
              match_ms: ms(match),
              with_open_ms: ms(median(r.openMatch)),
              first_ms: ms(first),
              findings,
              full_table_read_ms: ms(table),
              ratio: match / table,
              runs: n,
            },
            {
              text: `median match < ${MATCH_GOAL_MS} ms`,
              check: () => ms(match) < MATCH_GOAL_MS,
              headline: `${ms(match).toFixed(1)} ms (${findings} findings)`,
            },
          ),
        );
      } finally {
        vdb.close();
      }
    }
  } finally {
    removeDir(cacheDir);
    removeDir(db.dir);
  }
  return oks;
}

if (import.meta.url === `file://${process.argv[1]}`) finish([dbImport(), ...(await matching())]);
