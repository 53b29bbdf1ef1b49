import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const VECTORS_DIR = join(import.meta.dirname, '..', 'fixtures', 'versions');

export interface VectorRow {
  file: string;
  line: number;
  a: string;
  b: string;
  expected: -1 | 0 | 1;
}

/** Rows of a `a<TAB>b<TAB>expected` file (header first), with their file and line for messages. */
export function readVectors(path: string): VectorRow[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines[0] !== 'a\tb\texpected')
    throw new Error(`${path}: unexpected header ${JSON.stringify(lines[0])}`);
  const rows: VectorRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const [a, b, e, extra] = line.split('\t');
    if (a === undefined || b === undefined || extra !== undefined || (e !== '-1' && e !== '0' && e !== '1')) {
      throw new Error(`${path}:${i + 1}: malformed row ${JSON.stringify(line)}`);
    }
    rows.push({ file: path, line: i + 1, a, b, expected: Number(e) as -1 | 0 | 1 });
  }
  return rows;
}

/** Vector files for a scheme: `<scheme>.tsv` and `extra/<scheme>.*.tsv`. */
export function vectorFiles(scheme: string): string[] {
  const files = [join(VECTORS_DIR, `${scheme}.tsv`)];
  for (const name of readdirSync(join(VECTORS_DIR, 'extra')).sort()) {
    if (name.startsWith(`${scheme}.`) && name.endsWith('.tsv')) files.push(join(VECTORS_DIR, 'extra', name));
  }
  return files;
}

/** Small seeded PRNG (mulberry32), so generated cross-check cases are reproducible from the seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

export function hasCommand(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/** Runs `sh -s` with the script on stdin; resolves with its output, rejects on a non-zero exit. */
export function runShell(script: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout: out, stderr: err });
      else reject(new Error(`sh exited ${code}: ${err.slice(0, 500)}`));
    });
    child.stdin.end(script);
  });
}

/** Single-quotes a string for sh (the generated versions never hold a quote, but be safe). */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Rows of a `version<TAB>true|false` validity table (header `version<TAB>valid`); versions may hold spaces. */
export function readValidity(name: string): { version: string; valid: boolean; line: number }[] {
  const lines = readFileSync(join(VECTORS_DIR, name), 'utf8').split('\n');
  if (lines[0] !== 'version\tvalid')
    throw new Error(`${name}: unexpected header ${JSON.stringify(lines[0])}`);
  const rows: { version: string; valid: boolean; line: number }[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === '') continue;
    const [version, valid, extra] = lines[i]!.split('\t');
    if (version === undefined || extra !== undefined || (valid !== 'true' && valid !== 'false'))
      throw new Error(`${name}:${i + 1}: malformed row ${JSON.stringify(lines[i])}`);
    rows.push({ version, valid: valid === 'true', line: i + 1 });
  }
  return rows;
}

/**
 * Runs an oracle program once over many inputs: one tab-separated line in, one tab-separated line out.
 * Throws when it fails; callers check first that the program is there and skip otherwise.
 */
export function runOracle(
  cmd: string,
  args: string[],
  lines: string[][],
  env?: NodeJS.ProcessEnv,
): string[][] {
  for (const l of lines) {
    if (l.some((f) => f.includes('\t') || f.includes('\n')))
      throw new Error(`oracle input ${JSON.stringify(l)}`);
  }
  const r = spawnSync(cmd, args, {
    input: lines.map((l) => `${l.join('\t')}\n`).join(''),
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: env ? { ...process.env, ...env } : process.env,
  });
  if (r.error || r.status !== 0)
    throw new Error(`${cmd} failed (${r.status}): ${(r.stderr ?? '').slice(0, 800)}`);
  const out = r.stdout.split('\n');
  if (out.at(-1) === '') out.pop();
  if (out.length !== lines.length)
    throw new Error(`${cmd}: ${out.length} answers for ${lines.length} inputs`);
  return out.map((l) => l.split('\t'));
}

/**
 * Checks that compare() is a total preorder on the given strings: reflexive, antisymmetric, and transitive
 * over every triple of a sorted sample (sorting makes neighbours the likeliest place for a cycle).
 */
export function checkTotalOrder(compare: (a: string, b: string) => number, versions: string[]): string[] {
  const problems: string[] = [];
  const vs = [...new Set(versions)].sort(compare);
  for (const v of vs) if (compare(v, v) !== 0) problems.push(`${v} != itself`);
  for (let i = 0; i < vs.length; i++) {
    for (let j = i + 1; j < vs.length; j++) {
      const ab = compare(vs[i]!, vs[j]!);
      if (ab !== -compare(vs[j]!, vs[i]!) && !(ab === 0 && compare(vs[j]!, vs[i]!) === 0))
        problems.push(`not antisymmetric: ${vs[i]} vs ${vs[j]}`);
      // After sorting, every earlier element is <= every later one; a '>' means the order has a cycle.
      if (ab > 0) problems.push(`not transitive: ${vs[i]} sorts before ${vs[j]} but compares greater`);
      if (problems.length > 20) return problems;
    }
  }
  return problems;
}
