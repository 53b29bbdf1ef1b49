// Language analyzers on a big Node.js project (issue 3): node_modules with 1,500 installed packages and
// a 10 MB package-lock.json. Goal: analyzed in under 1 s. Measured two ways, each against just reading
// the same files in the same run:
//   - in process: the node-modules and npm-lock analyzers of the build (dist/) over the files, as the
//     layer pipeline calls them (median of runs);
//   - the built CLI: `moat sbom fs` of the project (process start, the directory walk, dedupe, purls and
//     the CycloneDX output included) against `cat` of every file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  alternate,
  finish,
  MOAT,
  measure,
  measureShell,
  median,
  ms,
  ROOT,
  removeDir,
  report,
  requireBuilt,
  runs,
  tempDir,
} from './lib.mjs';
import { writeNodeProject } from './node-project.mjs';

const GOAL_MS = 1000;

export async function langAnalyze({ n = runs(7) } = {}) {
  requireBuilt();
  const dist = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);
  const { nodeModules } = await dist('analyzers/node-modules.js');
  const { npmLock } = await dist('analyzers/npm-lock.js');
  const dir = tempDir('moat-bench-lang-');
  try {
    const project = writeNodeProject(dir, { packages: 1500, lockBytes: 10 * 1024 * 1024 });
    const files = [
      ...project.manifests.map((f) => ({ ...f, analyzer: nodeModules })),
      { ...project.lock, analyzer: npmLock },
    ];
    let packages = 0;
    const warnings = [];
    const analyze = async () => {
      const t0 = performance.now();
      packages = 0;
      for (const f of files) {
        if (!f.analyzer.wants(f.path, { size: 0, mode: 0o644 })) throw new Error(`not wanted: ${f.path}`);
        const data = readFileSync(f.abs);
        const out = await f.analyzer.analyze(
          { path: f.path, size: data.length, data },
          { warn: (w) => warnings.push(w) },
        );
        packages += out.packages?.length ?? 0;
      }
      return performance.now() - t0;
    };
    const readOnly = () => {
      const t0 = performance.now();
      for (const f of files) readFileSync(f.abs);
      return performance.now() - t0;
    };
    await analyze(); // warm the file cache and the JIT before recording
    const a = [];
    const r = [];
    for (let i = 0; i < n; i++) {
      r.push(readOnly());
      a.push(await analyze());
    }
    if (warnings.length > 0) throw new Error(`analyzer warnings: ${warnings.slice(0, 3).join('; ')}`);
    const analyzeMs = median(a);
    const readMs = median(r);
    const ok = report(
      'lang-analyze in process (1,500 node_modules manifests + 10 MB package-lock.json)',
      {
        analyze_ms: analyzeMs,
        read_ms: readMs,
        ratio: analyzeMs / readMs,
        packages,
        lock_MB: project.lockBytes / 1048576,
        runs: n,
      },
      {
        text: `analysis < ${GOAL_MS} ms`,
        check: () => analyzeMs < GOAL_MS,
        headline: `${Math.round(analyzeMs)} ms (${(analyzeMs / readMs).toFixed(1)}x reading)`,
      },
    );

    // the same project through the built CLI
    const app = join(dir, 'app');
    const cli = alternate(Math.max(3, Math.ceil(n / 2)), {
      cat: () => measureShell(`find '${app}' -type f -exec cat {} + > /dev/null`),
      moat: () =>
        measure(process.execPath, [
          MOAT,
          'sbom',
          'fs',
          '-q',
          '--cache-dir',
          join(dir, 'cache'),
          '-o',
          '/dev/null',
          app,
        ]).wall,
    });
    const moatMs = ms(median(cli.moat));
    const catMs = ms(median(cli.cat));
    report('lang-analyze through the CLI (moat sbom fs)', {
      moat_ms: moatMs,
      cat_ms: catMs,
      ratio: moatMs / catMs,
      runs: cli.moat.length,
    });
    return ok;
  } finally {
    removeDir(dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) finish([await langAnalyze()]);
