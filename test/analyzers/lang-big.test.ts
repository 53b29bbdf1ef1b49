/**
 * Big inputs, read completely and correctly: a node_modules tree of 1,500 packages, a 10 MB
 * package-lock.json, 10 MB yarn.lock and pnpm-lock.yaml files. Their speed is measured by
 * bench/lang-analyze.mjs (the budget: under 1 s), not here; timings are only test diagnostics.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { packageName, writeNodeProject } from '../../bench/node-project.mjs';
import { nodeModules } from '../../src/analyzers/node-modules.js';
import { npmLock } from '../../src/analyzers/npm-lock.js';
import { pnpm } from '../../src/analyzers/pnpm.js';
import type { Analyzer } from '../../src/analyzers/types.js';
import { yarn } from '../../src/analyzers/yarn.js';

const INTEGRITY = `sha512-${'A'.repeat(86)}==`;
const name = packageName;

const dir = mkdtempSync(join(tmpdir(), 'moat-langperf-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function timeAnalyze(analyzer: Analyzer, files: { path: string; abs: string }[]) {
  let read = 0;
  let total = 0;
  let packages = 0;
  const warnings: string[] = [];
  // best of three runs, to keep the comparison with reading alone about the work, not the machine's noise
  for (let run = 0; run < 3; run++) {
    let r = performance.now();
    for (const f of files) readFileSync(f.abs);
    r = performance.now() - r;
    let t = performance.now();
    packages = 0;
    for (const f of files) {
      assert.ok(analyzer.wants(f.path), f.path);
      const data = readFileSync(f.abs);
      const out = await analyzer.analyze(
        { path: f.path, size: data.length, data },
        { warn: (w) => warnings.push(w) },
      );
      packages += out.packages?.length ?? 0;
    }
    t = performance.now() - t;
    read = run === 0 ? r : Math.min(read, r);
    total = run === 0 ? t : Math.min(total, t);
  }
  return { read, total, packages, warnings };
}

describe('language analyzers on big inputs', () => {
  it('analyzes node_modules with 1,500 packages and a 10 MB package-lock.json completely', async (t) => {
    const project = writeNodeProject(dir, { packages: 1500, lockBytes: 10 * 1024 * 1024 });
    const manifests = project.manifests;
    const lock = { text: { length: project.lockBytes }, count: project.lockEntries };
    const lockAbs = project.lock.abs;

    const nm = await timeAnalyze(nodeModules, manifests);
    const pl = await timeAnalyze(npmLock, [{ path: 'app/package-lock.json', abs: lockAbs }]);
    assert.deepEqual([...nm.warnings, ...pl.warnings], []);
    assert.equal(nm.packages, 1500);
    assert.ok(pl.packages > 20_000 && pl.packages <= lock.count, `${pl.packages} packages`);
    const total = nm.total + pl.total;
    const read = nm.read + pl.read;
    t.diagnostic(
      `node_modules 1,500 manifests: ${nm.total.toFixed(1)} ms (reading alone ${nm.read.toFixed(1)} ms); ` +
        `package-lock ${(lock.text.length / 1048576).toFixed(1)} MB, ${pl.packages} packages: ${pl.total.toFixed(1)} ms ` +
        `(reading alone ${pl.read.toFixed(1)} ms); total ${total.toFixed(1)} ms, ${(total / read).toFixed(1)}x reading`,
    );
  });

  it('reads 10 MB yarn.lock and pnpm-lock.yaml files completely', async (t) => {
    const y: string[] = ['# yarn lockfile v1\n\n'];
    const p: string[] = ["lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n"];
    const snaps: string[] = ['\nsnapshots:\n\n'];
    const pkgs: string[] = ['\npackages:\n\n'];
    let ySize = 0;
    let pSize = 0;
    for (let i = 0; ySize < 10 * 1048576 || pSize < 10 * 1048576; i++) {
      const n = name(i);
      const v = `1.${i % 10}.${i % 7}`;
      const ye = `"${n}@^1.0.0", "${n}@~1.${i % 10}.0":\n  version "${v}"\n  resolved "https://registry.yarnpkg.com/${n}/-/x-${v}.tgz#${'a'.repeat(40)}"\n  integrity ${INTEGRITY}\n  dependencies:\n    ${name(i + 1)} "^1.0.0"\n\n`;
      y.push(ye);
      ySize += ye.length;
      if (i < 2000) p.push(`      '${n}':\n        specifier: ^1.0.0\n        version: ${v}\n`);
      const pe = `  '${n}@${v}':\n    resolution: {integrity: ${INTEGRITY}}\n    engines: {node: '>=14'}\n\n`;
      pkgs.push(pe);
      const se = `  '${n}@${v}':\n    dependencies:\n      '${name(i + 1)}': 1.${(i + 1) % 10}.${(i + 1) % 7}\n\n`;
      snaps.push(se);
      pSize += pe.length + se.length;
    }
    const yAbs = join(dir, 'yarn.lock');
    const pAbs = join(dir, 'pnpm-lock.yaml');
    writeFileSync(yAbs, y.join(''));
    writeFileSync(pAbs, p.join('') + pkgs.join('') + snaps.join(''));
    const yr = await timeAnalyze(yarn, [{ path: 'app/yarn.lock', abs: yAbs }]);
    const pr = await timeAnalyze(pnpm, [{ path: 'app/pnpm-lock.yaml', abs: pAbs }]);
    assert.deepEqual([...yr.warnings, ...pr.warnings], []);
    assert.ok(yr.packages > 10_000 && pr.packages > 10_000);
    t.diagnostic(
      `yarn.lock 10 MB, ${yr.packages} packages: ${yr.total.toFixed(1)} ms; ` +
        `pnpm-lock.yaml 10 MB, ${pr.packages} packages: ${pr.total.toFixed(1)} ms`,
    );
  });
});
