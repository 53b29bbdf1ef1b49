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
