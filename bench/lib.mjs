// Shared helpers for benchmarks: run commands, time them, read peak RSS, print figures with a same-run
// baseline ratio (the machine is shared and noisy, so only ratios measured in one run are compared).
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MOAT = join(ROOT, 'bin', 'moat.js');
export const IMAGES = process.env.MOAT_TEST_IMAGES ?? '/var/tmp/moat-test-images';
export const FIXTURES = join(ROOT, 'test', 'fixtures');
/** repetitions per measured command (medians are reported); BENCH_RUNS overrides every benchmark's default */
export const RUNS_OVERRIDE = process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : undefined;
const TIME = '/usr/bin/time';
const HWM_HOOK = join(dirname(fileURLToPath(import.meta.url)), 'hwm-hook.mjs');

export function runs(defaultRuns) {
  return RUNS_OVERRIDE && RUNS_OVERRIDE > 0 ? RUNS_OVERRIDE : defaultRuns;
}

export function requireBuilt() {
  if (!existsSync(join(ROOT, 'dist', 'bin', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first');
  }
  if (!existsSync(join(IMAGES, 'oci', 'index.json'))) {
    throw new Error(`test images missing in ${IMAGES}: run test/scripts/make-test-images.sh`);
  }
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The OSV export folder: the workspace snapshot (../shared/vulndb/osv-export) when present, else the
 * project's copy under test/fixtures.
 */
export function osvExportDir() {
  const shared = join(ROOT, '..', 'shared', 'vulndb', 'osv-export');
  return existsSync(shared) ? shared : join(FIXTURES, 'vulndb', 'osv-export');
}

/** Every `<Ecosystem>/all.zip` of the export folder, largest first. */
export function exportZips(dir = osvExportDir()) {
  const zips = [];
  for (const eco of readdirSync(dir)) {
    const p = join(dir, eco, 'all.zip');
    if (existsSync(p)) zips.push({ ecosystem: eco, path: p, bytes: statSync(p).size });
  }
  return zips.sort((a, b) => b.bytes - a.bytes);
}

/**
 * A fresh directory holding `vulndb.sqlite` imported from every export zip (the database a scan
 * benchmark runs against; not part of any measured time).
 */
export function prepareDb() {
  const dir = tempDir('moat-bench-db-');
  const zips = exportZips().map((z) => z.path);
  const r = spawnSync(process.execPath, [MOAT, 'db', 'import', '-q', '--cache-dir', dir, ...zips], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`moat db import failed (${r.status}): ${r.stderr.trim()}`);
  return { dir, dbPath: join(dir, 'vulndb.sqlite'), zips };
}

/** The blob files of an image's layers in an OCI layout (`ref` is its org.opencontainers.image.ref.name). */
export function ociLayerBlobs(layout, ref) {
  const blob = (digest) => join(layout, 'blobs', ...digest.split(':'));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const m = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!m) throw new Error(`no image "${ref}" in ${layout}`);
  const manifest = JSON.parse(readFileSync(blob(m.digest), 'utf8'));
  return manifest.layers.map((l) => blob(l.digest));
}

/**
 * Runs a command with stdout to /dev/null; returns wall seconds (spawn to exit, as a user sees it)
 * and peak RSS in MiB when `rss` is set (GNU time's %M, or the in-process hook for node commands
 * where /usr/bin/time is missing). Throws on a non-zero exit.
 */
export function measure(cmd, args, opts = {}) {
  let argv = [cmd, ...args];
  let hwmFile;
  if (opts.rss) {
    if (existsSync(TIME)) argv = [TIME, '-f', '%M', ...argv];
    else if (cmd === process.execPath) {
      hwmFile = join(tmpdir(), `moat-bench-hwm-${process.pid}-${Date.now()}`);
      argv = [cmd, '--import', HWM_HOOK, ...args];
    } else throw new Error(`${TIME} is missing (apt-get install time): cannot read the peak RSS of ${cmd}`);
  }
  const devnull = openSync('/dev/null', 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', devnull, 'pipe'],
    env: hwmFile ? { ...process.env, MOAT_BENCH_HWM: hwmFile } : process.env,
    cwd: opts.cwd,
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const stderr = r.stderr ?? '';
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.status}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`,
    );
  }
  let rssMiB;
  if (opts.rss && hwmFile) {
    rssMiB = Number(readFileSync(hwmFile, 'utf8')) / 1024;
    rmSync(hwmFile, { force: true });
  } else if (opts.rss) {
    rssMiB = Number(stderr.trim().split('\n').at(-1)) / 1024;
  }
  return { wall, rssMiB, stderr };
}

/** node's bare start-up: what every CLI invocation pays before moat's own code runs */
export function nodeBare(opts = {}) {
  return measure(process.execPath, ['-e', '0'], opts);
}

/**
 * Instructions executed by a command (valgrind's callgrind, all threads), in millions, or undefined
 * when valgrind is missing. Unlike wall time it barely moves with the machine's load (repeat runs agree
 * within ~1%), so it shows start-up regressions that timing noise hides; each run takes ~20 s.
 */
export function instructions(cmd, args) {
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', cmd, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.error || r.status !== 0) return undefined;
  const m = /Collected : (\d+)/.exec(r.stderr);
  return m ? Number(m[1]) / 1e6 : undefined;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs the measured functions alternately `n` times (so that load on the shared machine hits all
 * of them alike), after `warmup` unrecorded rounds; returns each one's list of results.
 */
export function alternate(n, fns, { warmup = 1, before } = {}) {
  const out = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let i = -warmup; i < n; i++) {
    for (const [k, fn] of Object.entries(fns)) {
      before?.(k);
      const r = fn();
      if (i >= 0) out[k].push(r);
    }
  }
  return out;
}

export function ms(seconds) {
  return seconds * 1000;
}

/**
 * Prints one result line and returns whether it met its goal. Under bench/run.mjs the result is also
 * appended (as a JSON line) to $MOAT_BENCH_RESULTS for the summary table.
 */
export function report(name, figures, goal) {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'number' ? round(v) : v}`);
  // goal.check absent: a figure for information (INFO), with its headline in the summary
  const judged = goal?.check !== undefined;
  const ok = judged ? goal.check() : true;
  console.log(
    `${judged ? (ok ? 'PASS' : 'MISS') : 'INFO'}  ${name}  ${parts.join('  ')}${goal ? `  goal: ${goal.text}` : ''}`,
  );
  if (process.env.MOAT_BENCH_RESULTS) {
    const line = { name, figures, goal: goal?.text, ok: judged ? ok : undefined, headline: goal?.headline };
    appendFileSync(process.env.MOAT_BENCH_RESULTS, `${JSON.stringify(line)}\n`);
  }
  return ok;
}

export function round(v) {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000;
}

/** Exits non-zero when a goal was missed and BENCH_STRICT is set (CI may want it; default: report only). */
export function finish(oks) {
  if (process.env.BENCH_STRICT && oks.some((ok) => !ok)) process.exitCode = 1;
}

/** Runs a shell command line (a baseline such as `cat` or `gzip -dc`); returns wall seconds. */
export function measureShell(script) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`baseline failed (${r.status}): ${script}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
