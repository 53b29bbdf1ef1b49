import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { composer, parseComposerLock } from '../../src/analyzers/composer.js';
import { composerInstalled, parseComposerInstalled } from '../../src/analyzers/composer-installed.js';
import type { AnalyzerContext } from '../../src/analyzers/types.js';
import { boundedWarn } from '../../src/analyzers/warn.js';
import { compareWithExpected, expectedOf, langCases, runCase } from './lang-fixtures.js';

function run<T>(fn: (w: ReturnType<typeof boundedWarn>) => T): { out: T; warnings: string[] } {
  const warnings: string[] = [];
  const ctx: AnalyzerContext = { warn: (r) => warnings.push(r) };
  const w = boundedWarn(ctx);
  const out = fn(w);
  w.flush();
  return { out, warnings };
}

describe('composer.lock over the shared fixtures', () => {
  const cases = langCases('composer');
  it('has fixtures', () => assert.ok(cases.length >= 1));
  for (const c of cases) {
    it(c.case, async () => {
      for (const mode of ['data', 'spool'] as const) {
        const res = await runCase(c, 'var/www/composer.lock', 'composer', mode);
        compareWithExpected(res.packages, expectedOf(c));
        assert.deepEqual(res.warnings, []);
        for (const p of res.packages) {
          assert.equal(p.type, 'composer');
          assert.equal(p.foundBy, 'lockfile');
        }
      }
    });
  }
});

describe('vendor/composer/installed.json over the shared fixtures', () => {
  const cases = langCases('composer-installed');
  it('has fixtures', () => assert.ok(cases.length >= 2));
  for (const c of cases) {
    it(c.case, async () => {
      const exp = expectedOf(c);
      for (const mode of ['data', 'spool'] as const) {
        const res = await runCase(c, 'var/www/vendor/composer/installed.json', 'composer-installed', mode);
        if (exp.expect_error) {
          assert.deepEqual(res.packages, []);
          assert.equal(res.warnings.length, 1);
          assert.match(res.warnings[0]!, /invalid JSON/);
          continue;
        }
        compareWithExpected(res.packages, exp);
        assert.deepEqual(res.warnings, []);
        for (const p of res.packages) assert.equal(p.foundBy, 'installed');
      }
    });
  }
});

describe('composer details', () => {
  it('reads Composer 1 arrays and Composer 2 objects, with dev-package-names', () => {
    const pkgs = [
      { name: 'a/b', version: 'v1.0.0', license: ['MIT'] },
      { name: 'c/d', version: '2.0.0', license: 'BSD-3-Clause' },
    ];
    const v1 = run((w) => parseComposerInstalled(JSON.stringify(pkgs), 'x', w));
    assert.deepEqual(v1.warnings, []);
    assert.deepEqual(
      v1.out.list().map((p) => [p.name, p.version, p.license, p.dev]),
      [
        ['a/b', 'v1.0.0', 'MIT', undefined],
        ['c/d', '2.0.0', 'BSD-3-Clause', undefined],
      ],
    );
    const v2 = run((w) =>
      parseComposerInstalled(
        JSON.stringify({ packages: pkgs, dev: true, 'dev-package-names': ['c/d'] }),
        'x',
        w,
      ),
    );
    assert.deepEqual(
      v2.out.list().map((p) => [p.name, p.dev]),
      [
        ['a/b', false],
        ['c/d', true],
      ],
    );
  });

  it('skips malformed entries with a warning and keeps the rest', () => {
    const lock = {
      packages: [{ name: 'ok/one', version: '1.0.0' }, 'junk', { name: 'no/version' }, { version: '1' }],
      'packages-dev': { not: 'an array' },
    };
    const { out, warnings } = run((w) => parseComposerLock(JSON.stringify(lock), 'composer.lock', w));
    assert.deepEqual(
      out.list().map((p) => p.name),
      ['ok/one'],
    );
    assert.equal(warnings.length, 4);
    assert.match(warnings.join('\n'), /"packages-dev" is not an array/);
  });

  it('wants the project lockfile and vendor/composer/installed.json', () => {
    assert.ok(composer.wants('var/www/composer.lock'));
    assert.equal(composer.wants('var/www/vendor/x/y/composer.lock'), false);
    assert.ok(composerInstalled.wants('var/www/vendor/composer/installed.json'));
    assert.ok(composerInstalled.wants('vendor/composer/installed.json'));
    assert.equal(composerInstalled.wants('var/www/vendor/composer/installed.php'), false);
    assert.equal(composerInstalled.wants('var/www/vendor/mycomposer/installed.json'), false);
  });
});
