import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as api from '../src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('programmatic API', () => {
  test("`import { scanImage, compareVersions } from 'moat'` works from the built package", (t) => {
    if (!existsSync(`${ROOT}dist/index.js`)) {
      t.skip('dist/ not built (npm run build)');
      return;
    }
    // a package can import itself by name through its "exports" map: exactly what users get
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { scanImage, compareVersions, SCHEMES } from 'moat'; console.log(typeof scanImage, compareVersions('dpkg', '1:1.0', '2.0'), Object.keys(SCHEMES).join())",
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(out.trim(), `function 1 ${Object.keys(api.SCHEMES).join()}`);
  });

  test('compareVersions covers every registered scheme and rejects unknown ones', () => {
    for (const name of Object.keys(api.SCHEMES)) {
      assert.equal(api.compareVersions(name, '1.0', '1.0'), 0, name);
      assert.equal(api.compareVersions(name, '1.0', '1.1'), -1, name);
      assert.equal(api.compareVersions(name, '1.1', '1.0'), 1, name);
    }
    assert.throws(
      () => api.compareVersions('nope', '1', '2'),
      (e: unknown) => e instanceof api.MoatError && e.code === 'USAGE',
    );
  });

  test('docs/api.md names only functions the package exports', () => {
    const doc = readFileSync(`${ROOT}docs/api.md`, 'utf8');
    const rows = doc.split('\n').filter((l) => l.startsWith('| `'));
    const names = rows.flatMap((l) => [...l.split('|')[1]!.matchAll(/`([A-Za-z]+)[(`]/g)].map((m) => m[1]!));
    assert.ok(names.length >= 10);
    for (const n of names) assert.ok(n in api, `${n} is exported`);
  });
});
