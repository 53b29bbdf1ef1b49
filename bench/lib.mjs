// Shared helpers for benchmarks: run commands, time them, read peak RSS, print figures with a same-run
// baseline ratio (the machine is shared and noisy, so only ratios measured in one run are compared).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MOAT = join(ROOT, 'bin', 'moat.js');
export const IMAGES = process.env.MOAT_TEST_IMAGES ?? '/var/tmp/moat-test-images';
export const FIXTURES = join(ROOT, 'test', 'fixtures');

export function requireBuilt() {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first');
  }
  if (!existsSync(join(IMAGES, 'oci', 'index.json'))) {
    throw new Error(`test images missing in ${IMAGES}: run test/scripts/make-test-images.sh`);
  }
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs a command under GNU time; returns wall seconds and peak RSS in MiB. Throws on failure. */
export function measure(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    shell: false,
    ...opts,
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const lines = (r.stderr ?? '').trim().split('\n');
  const rssKiB = Number(lines.at(-1));
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${lines.slice(-5).join(' | ')}`);
  }
  return { wall, rssMiB: rssKiB / 1024, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a shell pipeline, returning wall seconds. */
export function measureShell(script) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`baseline failed: ${script}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Prints one result line and returns whether it met its goal. */
export function report(name, figures, goal) {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'number' ? round(v) : v}`);
  const ok = goal ? goal.check() : true;
  console.log(`${ok ? 'PASS' : 'MISS'}  ${name}  ${parts.join('  ')}${goal ? `  goal: ${goal.text}` : ''}`);
  return ok;
}

function round(v) {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000;
}
