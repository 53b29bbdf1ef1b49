// Peak memory: `moat scan image` of an image with a 1 GiB layer (bench/make-big-image.mjs: a real dpkg
// status and os-release, a 40 MiB rpm database that must be spooled, ~1 GiB of other files), with an
// empty layer cache, peak RSS from GNU time (%M); node's bare start (`node -e 0`) is the baseline.
// Goal (issue 2): under 200 MB.
import {
  alternate,
  finish,
  MOAT,
  measure,
  median,
  nodeBare,
  prepareDb,
  removeDir,
  report,
  requireBuilt,
  runs,
  tempDir,
} from './lib.mjs';
import { ensureBigImage } from './make-big-image.mjs';

const GOAL_MB = 200;
const MB_PER_MIB = 1024 ** 2 / 1e6;

export async function scanMemory({ n = runs(3) } = {}) {
  requireBuilt();
  const big = await ensureBigImage();
  const db = prepareDb();
  let cacheDir = tempDir('moat-bench-mem-');
  try {
    const r = alternate(
      n,
      {
        node: () => nodeBare({ rss: true }),
        moat: () =>
          measure(
            process.execPath,
            [
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
              `oci:${big.dir}:${big.ref}`,
            ],
            { rss: true },
          ),
      },
      {
        warmup: 0,
        before: (k) => {
          if (k !== 'moat') return;
          removeDir(cacheDir);
          cacheDir = tempDir('moat-bench-mem-');
        },
      },
    );
    const peaks = r.moat.map((x) => x.rssMiB * MB_PER_MIB);
    const peak = Math.max(...peaks);
    const node = median(r.node.map((x) => x.rssMiB * MB_PER_MIB));
    return report(
      'scan-memory (1 GiB layer)',
      {
        peak_rss_MB: peak,
        median_rss_MB: median(peaks),
        node_rss_MB: node,
        ratio: peak / node,
        moat_s: median(r.moat.map((x) => x.wall)),
        layer_tar_MB: big.tarBytes / 1e6,
        runs: n,
      },
      {
        text: `peak RSS < ${GOAL_MB} MB`,
        check: () => peak < GOAL_MB,
        headline: `${Math.round(peak)} MB peak RSS`,
      },
    );
  } finally {
    removeDir(cacheDir);
    removeDir(db.dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) finish([await scanMemory()]);
