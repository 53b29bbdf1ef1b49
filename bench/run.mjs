// Runs every benchmark (npm run bench), each in its own process, then prints a summary table.
// BENCH_RUNS=N overrides the repetitions; BENCH_STRICT=1 exits non-zero when a goal is missed;
// arguments pick benchmarks by name (e.g. `node bench/run.mjs scan-warm`).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BENCHES = [
  'scan-cold',
  'scan-warm',
  'scan-memory',
  'db-import',
  'lang-analyze',
  'posture',
  'webhook',
  'audit-detect',
  'audit-webhook',
];
const picked = process.argv.length > 2 ? BENCHES.filter((b) => process.argv.slice(2).includes(b)) : BENCHES;
const results = join(tmpdir(), `moat-bench-results-${process.pid}.jsonl`);
rmSync(results, { force: true });

let failed = false;
for (const b of picked) {
  console.log(`\n== ${b}`);
  const r = spawnSync(process.execPath, [join(here, `${b}.mjs`)], {
    stdio: 'inherit',
    env: { ...process.env, MOAT_BENCH_RESULTS: results, BENCH_STRICT: '' },
  });
  if (r.status !== 0) {
    console.log(`${b} failed (exit ${r.status})`);
    failed = true;
  }
}

let lines = [];
try {
  lines = readFileSync(results, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
} catch {
  // no benchmark got as far as a result
}
rmSync(results, { force: true });

const rows = [['benchmark', 'result', 'goal', 'status']];
for (const l of lines)
  rows.push([l.name, l.headline ?? '', l.goal ?? '', l.ok === undefined ? '' : l.ok ? 'PASS' : 'MISS']);
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
console.log('\n== summary');
for (const [i, r] of rows.entries()) {
  console.log(
    r
      .map((c, j) => c.padEnd(widths[j]))
      .join('  ')
      .trimEnd(),
  );
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
const missed = lines.filter((l) => l.ok === false).length;
console.log(
  `\n${lines.length - missed} met, ${missed} missed${failed ? ', some benchmarks failed to run' : ''}`,
);
if (failed || (process.env.BENCH_STRICT && missed > 0)) process.exitCode = 1;
