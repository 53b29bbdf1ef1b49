import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MOAT = join(ROOT, 'bin', 'moat.js');
const ZIP = join(ROOT, 'test', 'fixtures', 'vulndb', 'osv-export', 'Debian', 'all.zip');
const hasScript = spawnSync('script', ['--version']).status === 0;

/** Runs moat under a pseudo-terminal (util-linux `script`), returning everything the terminal showed. */
function onTerminal(args: string[], cacheDir: string): string {
  const cmd = [process.execPath, MOAT, ...args].map((a) => `'${a}'`).join(' ');
  return execFileSync('script', ['-qec', cmd, '/dev/null'], {
    encoding: 'utf8',
    env: { ...process.env, MOAT_CACHE_DIR: cacheDir },
  });
}

describe('progress display', () => {
  test('a terminal gets a redrawn progress line; pipes and --quiet get none', (t) => {
    if (!existsSync(join(ROOT, 'dist', 'bin', 'main.js'))) return t.skip('dist/ not built (npm run build)');
    if (!hasScript) return t.skip('util-linux `script` not installed');
    const dir = mkdtempSync(join(tmpdir(), 'moat-progress-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));

    const shown = onTerminal(['db', 'import', ZIP], join(dir, 'a'));
    assert.match(shown, /\r\x1b\[2Kimport \d+ records/, 'progress lines are redrawn in place');
    assert.match(shown, /\d+ records in [\d.]+ s/, 'the summary follows the progress');

    const quiet = onTerminal(['db', 'import', '--quiet', ZIP], join(dir, 'b'));
    assert.doesNotMatch(quiet, /\x1b\[2K/);

    const piped = spawnSync(process.execPath, [MOAT, 'db', 'import', ZIP], {
      encoding: 'utf8',
      env: { ...process.env, MOAT_CACHE_DIR: join(dir, 'c') },
    });
    assert.equal(piped.status, 0);
    assert.doesNotMatch(piped.stderr, /\x1b\[2K|\r/, 'nothing but messages when stderr is not a terminal');
  });
});
