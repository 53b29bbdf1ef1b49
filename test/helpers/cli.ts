/**
 * Runs the built moat CLI as a user would: `node bin/moat.js ...` in its own process, with a private
 * HOME, TMPDIR, working directory and MOAT_CACHE_DIR (a "sandbox"), and helpers to prove that a run
 * wrote nothing outside the cache dir (file-tree snapshots before/after). Needs `npm run build` first.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MOAT_BIN = join(REPO, 'bin', 'moat.js');
export const DEBIAN_ZIP = join(REPO, 'test/fixtures/vulndb/osv-export/Debian/all.zip');

/** Fails early with a clear message when the bundle is missing (the e2e suite tests the build). */
export function requireBuild(): void {
  if (!existsSync(join(REPO, 'dist', 'bin', 'main.js'))) {
    throw new Error('dist/bin/main.js is missing: run `npm run build` before the e2e tests');
  }
}

export interface Sandbox {
  root: string;
  home: string;
  tmp: string;
  cwd: string;
  cache: string;
  /** a place for inputs the test builds (layouts, roots, config files); not the CLI's business */
  inputs: string;
  /** where --output files go */
  out: string;
  /** environment for the CLI: the parent's, less anything that could leak in, plus the sandbox dirs */
  env: Record<string, string>;
  remove(): void;
}

/** Variables of the parent that would change what moat does; the sandbox starts without them. */
const LEAKY = /^(MOAT_|DOCKER_CONFIG$|XDG_|HTTPS?_PROXY$|NO_PROXY$|ALL_PROXY$|NODE_OPTIONS$)/i;

/**
 * A fresh sandbox. `cacheFrom` copies a template cache dir (e.g. one with an imported database) so that
 * every test starts from the same state without importing again.
 */
export async function sandbox(opts: { cacheFrom?: string } = {}): Promise<Sandbox> {
  const root = await mkdtemp(join(tmpdir(), 'moat-e2e-'));
  const dirs = {
    home: join(root, 'home'),
    tmp: join(root, 'tmp'),
    cwd: join(root, 'cwd'),
    cache: join(root, 'cache'),
    inputs: join(root, 'inputs'),
    out: join(root, 'out'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  if (opts.cacheFrom) cpSync(opts.cacheFrom, dirs.cache, { recursive: true });
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !LEAKY.test(k)) env[k] = v;
  Object.assign(env, {
    HOME: dirs.home,
    TMPDIR: dirs.tmp,
    TMP: dirs.tmp,
    TEMP: dirs.tmp,
    MOAT_CACHE_DIR: dirs.cache,
    NO_COLOR: '1',
  });
  return { root, ...dirs, env, remove: () => rmSync(root, { recursive: true, force: true }) };
}

export interface MoatRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stderr split into non-empty lines */
  lines: string[];
  ms: number;
}

export interface RunOptions {
  /** variables to add (a value of undefined removes the variable) */
  env?: Record<string, string | undefined>;
  /** working directory (default the sandbox's cwd) */
  cwd?: string;
  /** kill the CLI after this long (default 120 s): a hung CLI fails its test instead of the suite */
  timeoutMs?: number;
  /** written to the CLI's stdin, which is then closed (default: no stdin) */
  input?: string | Buffer;
}

/** Runs `moat ...args` in the sandbox and collects its exit code and output. */
export function moat(sb: Sandbox, args: readonly string[], opts: RunOptions = {}): Promise<MoatRun> {
  const env = { ...sb.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const started = performance.now();
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [MOAT_BIN, ...args], {
      cwd: opts.cwd ?? sb.cwd,
      env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      res({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr,
        lines: stderr.split('\n').filter((l) => l.trim() !== ''),
        ms: performance.now() - started,
      });
    });
  });
}

/** Runs moat and parses stdout as JSON; throws with the CLI's stderr when it did not exit 0 (or `expectCode`). */
export async function moatJson<T = Record<string, unknown>>(
  sb: Sandbox,
  args: readonly string[],
  opts: RunOptions & { expectCode?: number } = {},
): Promise<T> {
  const r = await moat(sb, [...args, '--format', 'json'], opts);
  if (r.code !== (opts.expectCode ?? 0)) {
    throw new Error(`moat ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  }
  return JSON.parse(r.stdout) as T;
}

let template: Promise<string> | undefined;

/**
 * A cache dir holding a database imported from `zips` with the CLI, made once per test process (a
 * shared template that sandboxes copy). The default is the Debian 12 export, which the real images need.
 */
export function importedCache(zips: readonly string[] = [DEBIAN_ZIP]): Promise<string> {
  if (zips.length === 1 && zips[0] === DEBIAN_ZIP) {
    template ??= makeCache(zips);
    return template;
  }
  return makeCache(zips);
}

async function makeCache(paths: readonly string[]): Promise<string> {
  requireBuild();
  const sb = await sandbox();
  process.once('exit', () => sb.remove());
  const r = await moat(sb, ['db', 'import', ...paths]);
  if (r.code !== 0) throw new Error(`moat db import failed (${r.code}): ${r.stderr}`);
  return sb.cache;
}

export type TreeSnapshot = Map<string, string>;

/**
 * Every entry under each root (recursively) with its type and, for files, size and content hash; for
 * symlinks the target. A root that does not exist is recorded as absent. Small trees only.
 */
export function snapshot(roots: readonly string[]): TreeSnapshot {
  const out: TreeSnapshot = new Map();
  const walk = (p: string): void => {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(p);
    } catch {
      out.set(p, 'absent');
      return;
    }
    if (st.isDirectory()) {
      out.set(p, 'dir');
      for (const n of readdirSync(p).sort()) walk(join(p, n));
    } else if (st.isSymbolicLink()) {
      out.set(p, `symlink ${readlinkSync(p)}`);
    } else if (st.isFile()) {
      const h = createHash('sha256').update(readFileSync(p)).digest('hex');
      out.set(p, `file ${st.size} ${h}`);
    } else {
      out.set(p, 'other');
    }
  };
  for (const r of roots) walk(r);
  return out;
}

/** Entries that were added, removed or changed between two snapshots, as readable lines. */
export function snapshotDiff(before: TreeSnapshot, after: TreeSnapshot): string[] {
  const diff: string[] = [];
  for (const [p, v] of after) {
    const was = before.get(p);
    if (was === undefined) diff.push(`added ${p} (${v})`);
    else if (was !== v) diff.push(`changed ${p}: ${was} -> ${v}`);
  }
  for (const p of before.keys()) if (!after.has(p)) diff.push(`removed ${p}`);
  return diff;
}

/** The directories a run may not touch: everything in the sandbox except the cache dir. */
export function guarded(sb: Sandbox, extra: readonly string[] = []): string[] {
  return [sb.home, sb.tmp, sb.cwd, sb.inputs, sb.out, ...extra];
}
