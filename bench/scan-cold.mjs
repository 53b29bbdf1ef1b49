// Cold scan: `moat scan image oci:…:base` with an empty layer cache (the vulnerability database already
// imported), process start included, against `gzip -dc` of the same layers measured in the same run.
// Goal (issue 2): within 1.5x of gunzip.
import { join } from 'node:path';
import {
  alternate,
  finish,
  IMAGES,
  MOAT,
  measure,
  median,
  ms,
  ociLayerBlobs,
  prepareDb,
  removeDir,
  report,
  requireBuilt,
  runs,
  tempDir,
} from './lib.mjs';

const GOAL_RATIO = 1.5;

export function scanCold({ image = 'base', n = runs(7) } = {}) {
  requireBuilt();
  const layout = join(IMAGES, 'oci');
  const blobs = ociLayerBlobs(layout, image);
  const db = prepareDb();
  let cacheDir = tempDir('moat-bench-cold-');
  try {
    const moatArgs = () => [
      MOAT,
      'scan',
      'image',
      '-q',
      '-f',
      'json',
      '--cache-dir',
      cacheDir,
      '--db-path',
      db.dbPath,
    ];
    const r = alternate(
      n,
      {
        gunzip: () => measure('gzip', ['-dc', ...blobs]).wall,
        moat: () => measure(process.execPath, [...moatArgs(), `oci:${layout}:${image}`]).wall,
      },
      {
        // every scan starts from an empty cache dir: no layer cache, no spool
        before: (k) => {
          if (k !== 'moat') return;
          removeDir(cacheDir);
          cacheDir = tempDir('moat-bench-cold-');
        },
      },
    );
    const gunzip = median(r.gunzip);
    const moat = median(r.moat);
    const ratio = moat / gunzip;
    return report(
      `scan-cold (${image})`,
      { moat_ms: ms(moat), gunzip_ms: ms(gunzip), ratio, runs: n, layers: blobs.length },
      {
        text: `ratio <= ${GOAL_RATIO}`,
        check: () => ratio <= GOAL_RATIO,
        headline: `${ratio.toFixed(2)}x gunzip`,
      },
    );
  } finally {
    removeDir(cacheDir);
    removeDir(db.dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) finish([scanCold()]);
