import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dotnetDeps } from '../../src/analyzers/dotnet-deps.js';
import { nugetConfig, packagesConfigEntries } from '../../src/analyzers/nuget-config.js';
import { nugetLock } from '../../src/analyzers/nuget-lock.js';
import type { Analyzer } from '../../src/analyzers/types.js';
import { expectedVersioned, ids, langCases, relationshipMismatches, runLang } from './lang-kit.js';

function fixtureSuite(ecosystem: string, analyzer: Analyzer, imagePath: (input: string) => string) {
  describe(`${analyzer.name} analyzer over the trivy ${ecosystem} fixtures`, () => {
    const cases = langCases(ecosystem);
    it('has fixtures', () => assert.ok(cases.length >= 2));
    for (const c of cases) {
      it(c.case, async () => {
        for (const mode of ['data', 'spool'] as const) {
          const path = imagePath(c.input);
          const res = await runLang(analyzer, path, join(c.dir, c.input), mode);
          assert.ok(res.wanted);
          assert.deepEqual(res.warnings, []);
          assert.deepEqual(ids(res.packages), ids(expectedVersioned(c)));
          assert.equal(res.packages.length, c.packageCount);
          assert.deepEqual(relationshipMismatches(c, res.packages), []);
          for (const p of res.packages)
            assert.deepEqual([p.type, p.foundBy, p.path], ['nuget', 'lockfile', path]);
        }
      });
    }
  });
}

fixtureSuite('dotnet-deps', dotnetDeps, (input) => `app/${input}`);
fixtureSuite('nuget-lock', nugetLock, () => 'src/App/packages.lock.json');
fixtureSuite('nuget-config', nugetConfig, () => 'src/App/packages.config');

describe('.NET details', () => {
  it('deps.json: projects are marked, the one no project depends on is the root, its packages are direct', async () => {
    for (const c of langCases('dotnet-deps')) {
      const res = await runLang(dotnetDeps, `app/${c.input}`, join(c.dir, c.input));
      const doc = JSON.parse(readFileSync(join(c.dir, c.input), 'utf8')) as {
        libraries: Record<string, { type: string }>;
      };
      const projects = Object.entries(doc.libraries)
        .filter(([, l]) => l.type === 'project')
        .map(([k]) => k.replace('/', '@'));
      assert.deepEqual(ids(res.packages.filter((p) => p.extra?.project)), projects.sort(), c.case);
      const roots = res.packages.filter((p) => p.extra?.root).map((p) => p.name);
      const want = c.packages.filter((p) => p.relationship === 'root').map((p) => p.name);
      assert.deepEqual(roots, want, c.case);
    }
  });

  it('deps.json: a file that is not JSON or has no libraries is a warning', async () => {
    for (const [text, re] of [
      ['{"runtimeTarget":', /^invalid JSON/],
      ['{"targets":{}}', /no "libraries" object/],
    ] as const) {
      const warnings: string[] = [];
      const out = dotnetDeps.analyze(
        { path: 'a.deps.json', size: text.length, data: Buffer.from(text) },
        { warn: (r) => warnings.push(r) },
      );
      assert.deepEqual(out, {});
      assert.match(warnings[0]!, re);
    }
  });

  it('packages.lock.json: a package in several frameworks is one package, direct if direct anywhere', async () => {
    const lock = {
      version: 2,
      dependencies: {
        'net6.0': {
          Serilog: { type: 'Transitive', resolved: '2.12.0' },
          'My.Lib': { type: 'Project', dependencies: {} },
        },
        'net8.0': {
          Serilog: { type: 'Direct', requested: '[2.12.0, )', resolved: '2.12.0' },
          Polly: { type: 'CentralTransitive', requested: '[8.0.0, )', resolved: '8.2.0' },
          Broken: { type: 'Direct' },
        },
      },
    };
    const text = Buffer.from(JSON.stringify(lock));
    const warnings: string[] = [];
    const out = nugetLock.analyze(
      { path: 'packages.lock.json', size: text.length, data: text },
      { warn: (r) => warnings.push(r) },
    );
    const pkgs = (out as { packages: { name: string; version: string; direct?: boolean }[] }).packages;
    assert.deepEqual(
      pkgs.map((p) => [p.name, p.version, p.direct]),
      [
        ['Polly', '8.2.0', false],
        ['Serilog', '2.12.0', true],
      ],
    );
    assert.deepEqual(warnings, ['net8.0: package "Broken" has no resolved version']);
  });

  it('packages.config: entities, comments, single quotes; development dependencies left out', () => {
    const entries = packagesConfigEntries(
      `<?xml version="1.0"?>\n<packages>\n  <!-- <package id="Commented" version="1.0" /> -->\n  <package id='A&amp;B' version="1.0" />\n  <package id="Dev" version="2.0" developmentDependency="true"/>\n</packages>`,
    );
    assert.deepEqual(entries, [
      { id: 'A&B', version: '1.0' },
      { id: 'Dev', version: '2.0', developmentDependency: 'true' },
    ]);
    const warnings: string[] = [];
    const text = Buffer.from('<html></html>');
    assert.deepEqual(
      nugetConfig.analyze(
        { path: 'packages.config', size: text.length, data: text },
        { warn: (r) => warnings.push(r) },
      ),
      {},
    );
    assert.match(warnings[0]!, /not a packages\.config file/);
  });

  it('wants its file names only', () => {
    assert.ok(dotnetDeps.wants('app/MyApp.deps.json'));
    assert.ok(!dotnetDeps.wants('app/MyApp.runtimeconfig.json'));
    assert.ok(nugetLock.wants('src/packages.lock.json'));
    assert.ok(!nugetLock.wants('src/package-lock.json'));
    assert.ok(nugetConfig.wants('src/packages.config'));
    assert.ok(!nugetConfig.wants('src/app.config'));
  });
});
