/**
 * Bad input for the npm, Python and PHP analyzers: every analyzer must turn truncated files, garbage, wrong
 * types and deep nesting into warnings (and no or fewer packages), never an exception, in bounded time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { composer } from '../../src/analyzers/composer.js';
import { composerInstalled } from '../../src/analyzers/composer-installed.js';
import { parseToml, TomlError } from '../../src/analyzers/lang/toml.js';
import { parseYamlLite, YamlLiteUnsupported } from '../../src/analyzers/lang/yaml-lite.js';
import { nodeModules } from '../../src/analyzers/node-modules.js';
import { npmLock } from '../../src/analyzers/npm-lock.js';
import { pipenv } from '../../src/analyzers/pipenv.js';
import { pnpm } from '../../src/analyzers/pnpm.js';
import { poetry } from '../../src/analyzers/poetry.js';
import { pythonMetadata } from '../../src/analyzers/python-metadata.js';
import { pipRequirements } from '../../src/analyzers/requirements.js';
import type { AnalysisOutput, Analyzer } from '../../src/analyzers/types.js';
import { yarn } from '../../src/analyzers/yarn.js';
import { inputOf, langCases } from './lang-fixtures.js';

interface Target {
  analyzer: Analyzer;
  path: string;
  ecosystems: string[];
  /** the format is JSON: any damage is a parse error */
  json: boolean;
}

const TARGETS: Target[] = [
  { analyzer: npmLock, path: 'app/package-lock.json', ecosystems: ['npm'], json: true },
  { analyzer: yarn, path: 'app/yarn.lock', ecosystems: ['yarn'], json: false },
  { analyzer: pnpm, path: 'app/pnpm-lock.yaml', ecosystems: ['pnpm'], json: false },
  { analyzer: nodeModules, path: 'app/node_modules/a/package.json', ecosystems: [], json: true },
  { analyzer: pythonMetadata, path: 'x.dist-info/METADATA', ecosystems: ['python-packaging'], json: false },
  { analyzer: poetry, path: 'app/poetry.lock', ecosystems: ['poetry'], json: false },
  { analyzer: pipenv, path: 'app/Pipfile.lock', ecosystems: ['pipenv'], json: true },
  { analyzer: pipRequirements, path: 'app/requirements.txt', ecosystems: ['pip-requirements'], json: false },
  { analyzer: composer, path: 'app/composer.lock', ecosystems: ['composer'], json: true },
  {
    analyzer: composerInstalled,
    path: 'vendor/composer/installed.json',
    ecosystems: ['composer-installed'],
    json: true,
  },
];

async function feed(
  t: Target,
  data: Buffer,
): Promise<{ out: AnalysisOutput; warnings: string[]; ms: number }> {
  assert.ok(t.analyzer.wants(t.path), t.path);
  const warnings: string[] = [];
  const start = performance.now();
  const out = await t.analyzer.analyze(
    { path: t.path, size: data.length, data },
    { warn: (r) => warnings.push(r) },
  );
  const ms = performance.now() - start;
  assert.ok(Array.isArray(out.packages), 'packages is an array');
  // bounded: a garbage file gives a handful of lines, not one per line of input
  assert.ok(warnings.length <= 21, `${warnings.length} warnings`);
  for (const w of warnings) assert.ok(w.length < 400 && !w.includes('\n'), `one short line: ${w}`);
  return { out, warnings, ms };
}

/** a deterministic byte stream (xorshift), so that failures reproduce */
function garbage(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

describe('truncated and garbled fixtures', () => {
  for (const t of TARGETS) {
    const files = t.ecosystems.flatMap((e) => langCases(e).map(inputOf));
    if (files.length === 0) continue;
    it(`${t.analyzer.name}: every fixture cut at 1/3 and 2/3 of its length`, async () => {
      for (const f of files) {
        const whole = readFileSync(f);
        for (const frac of [1 / 3, 2 / 3]) {
          const cut = whole.subarray(0, Math.floor(whole.length * frac));
          const { out, warnings } = await feed(t, cut);
          if (t.json) {
            assert.ok(warnings.length > 0, `${f} cut at ${frac}: a warning`);
            assert.deepEqual(out.packages, []);
          }
        }
      }
    });
  }
  for (const t of TARGETS) {
    it(`${t.analyzer.name}: random bytes`, async () => {
      for (const seed of [1, 7, 42]) await feed(t, garbage(64 * 1024, seed));
    });
  }
});

describe('wrong types', () => {
  const cases: [Analyzer, string, unknown, RegExp][] = [
    [npmLock, 'app/package-lock.json', [], /not a JSON object/],
    [npmLock, 'app/package-lock.json', { lockfileVersion: 3, packages: [] }, /not objects/],
    [
      npmLock,
      'app/package-lock.json',
      { lockfileVersion: 3, packages: { 'node_modules/a': { version: 5 } } },
      /non-string version/,
    ],
    [
      npmLock,
      'app/package-lock.json',
      { lockfileVersion: 3, packages: { 'node_modules/a': 'x' } },
      /not an object/,
    ],
    [
      npmLock,
      'app/package-lock.json',
      { lockfileVersion: 1, dependencies: { a: { version: null } } },
      /no version/,
    ],
    [nodeModules, 'node_modules/a/package.json', 'just a string', /not a JSON object/],
    [pipenv, 'app/Pipfile.lock', { default: [] }, /"default" is not an object/],
    [pipenv, 'app/Pipfile.lock', { default: { a: { version: 3 } } }, /unpinned/],
    [composer, 'app/composer.lock', { packages: { a: 1 } }, /"packages" is not an array/],
    [composer, 'app/composer.lock', { packages: [{ name: ['x'], version: '1' }] }, /no name or version/],
    [composerInstalled, 'vendor/composer/installed.json', { packages: 'x' }, /"packages" array/],
  ];
  for (const [a, path, doc, reason] of cases) {
    it(`${a.name}: ${JSON.stringify(doc).slice(0, 70)}`, async () => {
      const t = TARGETS.find((x) => x.analyzer === a)!;
      const { out, warnings } = await feed({ ...t, path }, Buffer.from(JSON.stringify(doc)));
      assert.deepEqual(out.packages, []);
      assert.match(warnings.join('\n'), reason);
    });
  }

  it('poetry: "package" that is not an array of tables', async () => {
    const t = TARGETS.find((x) => x.analyzer === poetry)!;
    const a = await feed(t, Buffer.from('package = 5\n'));
    assert.match(a.warnings.join('\n'), /not an array of tables/);
    const b = await feed(t, Buffer.from('[[package]]\nname = 1\nversion = "1"\n'));
    assert.match(b.warnings.join('\n'), /no name or version/);
  });

  it('pnpm: mappings where scalars belong and the reverse', async () => {
    const t = TARGETS.find((x) => x.analyzer === pnpm)!;
    const a = await feed(t, Buffer.from("lockfileVersion: '9.0'\npackages:\n  - a\n  - b\nsnapshots: x\n"));
    assert.deepEqual(a.out.packages, []);
    const b = await feed(t, Buffer.from('lockfileVersion: [1]\npackages: {}\n'));
    assert.match(b.warnings.join('\n'), /no lockfileVersion/);
    const c = await feed(t, Buffer.from('- just\n- a list\n'));
    assert.match(c.warnings.join('\n'), /not a mapping/);
  });

  it('yarn: lines that are not entries', async () => {
    const t = TARGETS.find((x) => x.analyzer === yarn)!;
    const { out, warnings } = await feed(t, Buffer.from('not an entry\nfoo@^1:\n  resolved "x"\n'));
    assert.deepEqual(out.packages, []);
    assert.match(warnings.join('\n'), /expected "<descriptors>:"/);
    assert.match(warnings.join('\n'), /no version/);
  });
});

describe('deep nesting', () => {
  it('JSON nested 100,000 levels is a warning, not a stack overflow', async () => {
    const deep = Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    for (const t of TARGETS.filter((x) => x.json)) {
      const { out, warnings } = await feed(t, deep);
      assert.deepEqual(out.packages, []);
      assert.ok(warnings.length > 0, t.analyzer.name);
    }
  });

  it('npm v1 dependencies nested past the cap are reported, the outer levels kept', async () => {
    // written as text: JSON.stringify itself recurses
    const depth = 5000;
    let text = '{"lockfileVersion":1,"dependencies":';
    for (let i = 0; i < depth; i++) text += `{"p${i}":{"version":"1.0.0","dependencies":`;
    text += `{}${'}}'.repeat(depth)}}`;
    const t = TARGETS[0]!;
    const { out, warnings } = await feed(t, Buffer.from(text));
    assert.equal(out.packages!.length, 1000);
    assert.match(warnings.join('\n'), /nested deeper than 1000 levels/);
  });

  it('TOML arrays and inline tables nested past the cap are a syntax error', () => {
    assert.throws(() => parseToml(`a = ${'['.repeat(10_000)}`), TomlError);
    assert.throws(() => parseToml(`a = ${'{b = '.repeat(10_000)}`), TomlError);
  });

  it('poetry.lock with broken TOML is a warning naming the line', async () => {
    const t = TARGETS.find((x) => x.analyzer === poetry)!;
    const { warnings } = await feed(t, Buffer.from('[[package]]\nname = "a"\nversion = "1\n'));
    assert.match(warnings[0]!, /^invalid TOML: line 3: /);
  });

  it('YAML indented or flow-nested past the fast reader gives up and is handled', async () => {
    let text = '';
    for (let i = 0; i < 300; i++) text += `${' '.repeat(i)}k${i}:\n`;
    assert.throws(() => parseYamlLite(text), YamlLiteUnsupported);
    assert.throws(() => parseYamlLite(`a: ${'{b: '.repeat(100)}`), YamlLiteUnsupported);
    const t = TARGETS.find((x) => x.analyzer === pnpm)!;
    const { out, ms } = await feed(t, Buffer.from(text));
    assert.deepEqual(out.packages, []);
    assert.ok(ms < 5000, `${ms} ms`);
  });

  it('a large file outside the fast YAML subset is refused rather than parsed for seconds', async () => {
    const t = TARGETS.find((x) => x.analyzer === pnpm)!;
    const big = `lockfileVersion: '9.0'\nanchor: &a x\n${'k: v\n'.repeat(600_000)}`;
    const { out, warnings, ms } = await feed(t, Buffer.from(big));
    assert.deepEqual(out.packages, []);
    assert.match(warnings[0]!, /not read/);
    assert.ok(ms < 2000, `${ms} ms`);
  });
});
