/**
 * Golden-file comparison: `UPDATE_GOLDEN=1` rewrites the files, otherwise a rendering must equal its
 * file byte for byte after masking what changes from run to run (timestamps, ids derived from them,
 * temporary paths, moat's version, database age).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/report/golden');

export interface MaskOptions {
  /** replace these strings (temp dirs) with <TMP> */
  paths?: readonly string[];
  /**
   * mask ISO timestamps, UUIDs, the database's age and sha256 digests (real scans: images rebuilt on
   * another machine or day have other layer and image digests for the same packages)
   */
  volatile?: boolean;
  version?: string;
}

export function mask(text: string, opts: MaskOptions = {}): string {
  let out = text;
  for (const p of opts.paths ?? []) out = out.split(p).join('<TMP>');
  if (opts.version) out = out.split(opts.version).join('<VERSION>');
  if (opts.volatile) {
    out = out
      .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?/g, '<TIME>')
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<UUID>')
      .replace(/"ageHours": -?[\d.]+/g, '"ageHours": <AGE>')
      .replace(/Vulnerability DB: .* old/g, 'Vulnerability DB: <AGE> old')
      .replace(/[0-9a-f]{64}/g, '<DIGEST>');
  }
  return out;
}

export function assertGolden(name: string, actual: string): void {
  const file = join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `${file} is missing: run the test with UPDATE_GOLDEN=1`);
  assert.equal(
    actual,
    readFileSync(file, 'utf8'),
    `${name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`,
  );
}
