import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseYamlLite } from '../../src/analyzers/lang/yaml-lite.js';
import {
  isInstalledManifest,
  nodeModules,
  parseInstalledManifest,
} from '../../src/analyzers/node-modules.js';
import { npmLock, parseNpmLock } from '../../src/analyzers/npm-lock.js';
import { parseDepPath, parsePnpmLock, pnpm } from '../../src/analyzers/pnpm.js';
import type { AnalyzerContext } from '../../src/analyzers/types.js';
import { boundedWarn } from '../../src/analyzers/warn.js';
import { parseDescriptor, parseYarnLock, yarn } from '../../src/analyzers/yarn.js';
import type { Package } from '../../src/model/package.js';
import { compareWithExpected, expectedOf, inputOf, langCases, runCase } from './lang-fixtures.js';

function collect(): { ctx: AnalyzerContext; warnings: string[] } {
  const warnings: string[] = [];
  return { ctx: { warn: (r) => warnings.push(r) }, warnings };
}

function run<T>(fn: (w: ReturnType<typeof boundedWarn>) => T): { out: T; warnings: string[] } {
  const { ctx, warnings } = collect();
  const w = boundedWarn(ctx);
  const out = fn(w);
  w.flush();
  return { out, warnings };
}

async function runAsync<T>(fn: (w: ReturnType<typeof boundedWarn>) => Promise<T>) {
  const { ctx, warnings } = collect();
  const w = boundedWarn(ctx);
  const out = await fn(w);
  w.flush();
  return { out, warnings };
}

const byKey = (ps: Package[]) => Object.fromEntries(ps.map((p) => [`${p.name}@${p.version}`, p]));

describe('npm lockfiles (package-lock.json) over the shared fixtures', () => {
  const cases = langCases('npm');
  it('has fixtures', () => assert.ok(cases.length >= 8));
  for (const c of cases) {
    it(c.case, async () => {
      const exp = expectedOf(c);
      for (const mode of ['data', 'spool'] as const) {
        const res = await runCase(c, 'srv/app/package-lock.json', 'npm-lock', mode);
        // trivy lists no license for `"license": ["MIT", "Apache2"]` (an array of strings); moat keeps both,
        // which the comparison does not see because trivy's entry then has no `licenses` to compare
        compareWithExpected(res.packages, exp);
        for (const p of res.packages) {
          assert.equal(p.type, 'npm');
          assert.equal(p.foundBy, 'lockfile');
          assert.equal(p.path, 'srv/app/package-lock.json');
        }
        if (c.case.includes('broken-link')) assert.match(res.warnings.join('\n'), /link node_modules\/func1/);
        else assert.deepEqual(res.warnings, []);
      }
    });
  }
});

describe('npm lockfile details', () => {
  it('reads v1 nesting, aliases, dev/optional/bundled flags and leaves direct unknown', () => {
    const lock = {
      lockfileVersion: 1,
      dependencies: {
        a: { version: '1.0.0', dependencies: { b: { version: '2.0.0', dev: true, bundled: true } } },
        b: { version: '1.0.0', optional: true },
        lodash: { version: 'npm:lodash-es@4.17.21' },
        '@s/c': { version: '3.0.0', dev: true },
      },
    };
    const { out, warnings } = run((w) => parseNpmLock(JSON.stringify(lock), 'package-lock.json', w));
    assert.deepEqual(warnings, []);
    const got = byKey(out!.list());
    assert.deepEqual(Object.keys(got).sort(), [
      '@s/c@3.0.0',
      'a@1.0.0',
      'b@1.0.0',
      'b@2.0.0',
      'lodash-es@4.17.21',
    ]);
    assert.equal(got['b@2.0.0']!.dev, true);
    assert.deepEqual(got['b@2.0.0']!.extra, { inBundle: true });
    assert.deepEqual(got['b@1.0.0']!.extra, { optional: true });
    assert.equal(got['a@1.0.0']!.dev, false);
    for (const p of Object.values(got)) assert.equal(p.direct, undefined);
  });

  it('counts workspaces as direct and resolves folders under them to their link', () => {
    // a root without a dependencies field whose only workspace pulls in debug (trivy's held-out shape)
    const lock = {
      lockfileVersion: 3,
      packages: {
        '': { name: 'root', version: '1.0.0', workspaces: ['packages/*'] },
        'packages/func1': { name: 'func1', version: '1.0.0', dependencies: { debug: '^2.6.9' } },
        'packages/func1/node_modules/ms': { version: '2.1.0' },
        'node_modules/debug': { version: '2.6.9', dependencies: { ms: '2.0.0' } },
        'node_modules/func1': { resolved: 'packages/func1', link: true },
        'node_modules/ms': { version: '2.0.0' },
        'docs/site': { version: '0.0.1' },
      },
    };
    const { out, warnings } = run((w) => parseNpmLock(JSON.stringify(lock), 'package-lock.json', w));
    assert.deepEqual(warnings, []);
    const got = byKey(out!.list());
    // docs/site is a folder nothing links to: not installed
    assert.deepEqual(Object.keys(got).sort(), ['debug@2.6.9', 'func1@1.0.0', 'ms@2.0.0', 'ms@2.1.0']);
    assert.equal(got['func1@1.0.0']!.direct, true);
    assert.equal(got['debug@2.6.9']!.direct, false);
    assert.equal(got['ms@2.1.0']!.direct, false);
  });

  it('merges a release found at several paths: dev only if every copy is, direct if any is', () => {
    const lock = {
      lockfileVersion: 2,
      packages: {
        '': { dependencies: { x: '1' } },
        'node_modules/x': { version: '1.0.0' },
        'node_modules/y/node_modules/x': { version: '1.0.0', dev: true },
        'node_modules/y': { version: '1.0.0', dev: true },
        'node_modules/z/node_modules/y': { version: '1.0.0', dev: true },
      },
    };
    const got = byKey(run((w) => parseNpmLock(JSON.stringify(lock), 'p', w)).out!.list());
    assert.equal(got['x@1.0.0']!.dev, false);
    assert.equal(got['x@1.0.0']!.direct, true);
    assert.equal(got['y@1.0.0']!.dev, true);
    assert.equal(got['y@1.0.0']!.direct, false);
  });

  it('wants project lockfiles only', () => {
    for (const p of ['package-lock.json', 'app/package-lock.json', 'srv/npm-shrinkwrap.json'])
      assert.ok(npmLock.wants(p), p);
    for (const p of [
      'app/node_modules/x/package-lock.json',
      'app/node_modules/.package-lock.json',
      'app/my-package-lock.json',
      'app/package-lock.json.bak',
    ])
      assert.equal(npmLock.wants(p), false, p);
  });
});

describe('yarn.lock over the shared fixtures', () => {
  const cases = langCases('yarn');
  it('has fixtures', () => assert.ok(cases.length >= 5));
  for (const c of cases) {
    it(c.case, async () => {
      for (const mode of ['data', 'spool'] as const) {
        const res = await runCase(c, 'srv/app/yarn.lock', 'yarn', mode);
        compareWithExpected(res.packages, expectedOf(c));
        assert.deepEqual(res.warnings, []);
        for (const p of res.packages) assert.equal(p.foundBy, 'lockfile');
      }
    });
  }
});

describe('yarn.lock details', () => {
  it('parses descriptors with scopes and protocols', () => {
    assert.deepEqual(parseDescriptor('@babel/code-frame@npm:^7.0.0'), {
      name: '@babel/code-frame',
      protocol: 'npm',
      range: '^7.0.0',
    });
    assert.deepEqual(parseDescriptor('js-tokens@^3.0.0 || ^4.0.0'), {
      name: 'js-tokens',
      protocol: '',
      range: '^3.0.0 || ^4.0.0',
    });
    assert.equal(parseDescriptor('jquery@git+https://u:p@github.com/x/jquery')?.protocol, 'git+https');
    assert.equal(parseDescriptor('grunt@gruntjs/grunt#harmony')?.protocol, '');
    assert.equal(parseDescriptor('no-version'), undefined);
  });

  it('classic: reports npm aliases under the installed package name', () => {
    const text = [
      '# yarn lockfile v1',
      '',
      '"braces@^2.3.1", "braces@npm:@rootio/braces@3.0.2-root.io.1":',
      '  version "3.0.2-root.io.1"',
      '',
      '"lodash@npm:lodash-es@^4.17.21":',
      '  version "4.17.21"',
      '',
      'fill-range@^7.0.1, fill-range@^7.1.0:',
      '  version "7.0.1"',
      '  dependencies:',
      '    to-regex-range "^5.0.1"',
      '',
    ].join('\n');
    const { out, warnings } = run((w) => parseYarnLock(text, 'yarn.lock', w));
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      out.list().map((p) => `${p.name}@${p.version}:${p.direct}`),
      [
        '@rootio/braces@3.0.2-root.io.1:undefined',
        'fill-range@7.0.1:undefined',
        'lodash-es@4.17.21:undefined',
      ],
    );
  });

  it('berry: follows resolution, skips workspaces and patches, marks what workspaces depend on', () => {
    const text = [
      '__metadata:',
      '  version: 6',
      '',
      '"app@workspace:.":',
      '  version: 0.0.0-use.local',
      '  resolution: "app@workspace:."',
      '  dependencies:',
      '    "@types/node": ^20.0.0',
      '    lodash: "npm:lodash-es@^4.17.0"',
      '    fsevents: "patch:fsevents@~2.3.2#~builtin<compat/fsevents>"',
      '  languageName: unknown',
      '  linkType: soft',
      '',
      '"@types/node@npm:^20.0.0":',
      '  version: 20.1.0',
      '  resolution: "@types/node@npm:20.1.0"',
      '  dependencies:',
      '    undici-types: ~5.26.4',
      '',
      '"undici-types@npm:~5.26.4":',
      '  version: 5.26.5',
      '  resolution: "undici-types@npm:5.26.5"',
      '',
      '"lodash@npm:lodash-es@^4.17.0":',
      '  version: 4.17.21',
      '  resolution: "lodash-es@npm:4.17.21"',
      '',
      '"fsevents@patch:fsevents@~2.3.2#~builtin<compat/fsevents>":',
      '  version: 2.3.3',
      '  resolution: "fsevents@patch:fsevents@npm%3A2.3.3#~builtin<compat/fsevents>::version=2.3.3&hash=df0bf1"',
      '',
      '"fsevents@npm:2.3.3":',
      '  version: 2.3.3',
      '  resolution: "fsevents@npm:2.3.3"',
    ].join('\n');
    const { out, warnings } = run((w) => parseYarnLock(text, 'yarn.lock', w));
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      out.list().map((p) => `${p.name}@${p.version}:${p.direct}`),
      [
        '@types/node@20.1.0:true',
        'fsevents@2.3.3:false',
        'lodash-es@4.17.21:true',
        'undici-types@5.26.5:false',
      ],
    );
  });

  it('wants yarn.lock of projects only', () => {
    assert.ok(yarn.wants('yarn.lock'));
    assert.ok(yarn.wants('app/yarn.lock'));
    assert.equal(yarn.wants('app/node_modules/x/yarn.lock'), false);
    assert.equal(yarn.wants('app/old-yarn.lock'), false);
  });
});

/** trivy's pnpm parser drops dev packages before v9; moat reports them with dev: true */
function pnpmOmitsDev(file: string): boolean {
  const m = /^lockfileVersion: '?([0-9.]+)/m.exec(readFileSync(file, 'utf8'));
  return m !== null && Number.parseFloat(m[1]!) < 9;
}

describe('pnpm-lock.yaml over the shared fixtures', () => {
  const cases = langCases('pnpm');
  it('has fixtures', () => assert.ok(cases.length >= 8));
  for (const c of cases) {
    it(c.case, async () => {
      for (const mode of ['data', 'spool'] as const) {
        const res = await runCase(c, 'srv/app/pnpm-lock.yaml', 'pnpm', mode);
        compareWithExpected(res.packages, expectedOf(c), { expectedOmitsDev: pnpmOmitsDev(inputOf(c)) });
        assert.deepEqual(res.warnings, []);
      }
    });
    it(`${c.case}: the fast YAML reader agrees with the full YAML parser`, () => {
      const text = readFileSync(inputOf(c), 'utf8');
      const full = parseAllDocuments(text, { schema: 'failsafe' });
      const docs = (Array.isArray(full) ? full : [full]).map((d) => d.toJS({ mapAsMap: true }));
      assert.deepEqual(parseYamlLite(text), docs);
    });
  }
});

describe('pnpm details', () => {
  it('parses dependency paths of each lockfile generation', () => {
    const vectors: [string, number, string, string][] = [
      ['/lodash/4.17.10', 5, 'lodash', '4.17.10'],
      ['registry.npmjs.org/@babel/generator/7.21.9', 5, '@babel/generator', '7.21.9'],
      [
        '/@babel/helper-compilation-targets/7.21.5_@babel+core@7.21.8',
        5,
        '@babel/helper-compilation-targets',
        '7.21.5',
      ],
      ['/lodash._baseclone/4.5.7_@babel+core@7.21.8', 5.4, 'lodash._baseclone', '4.5.7'],
      ['/lodash/4-wrong', 5, 'lodash', ''],
      ['/update-browserslist-db@1.0.11', 6, 'update-browserslist-db', '1.0.11'],
      [
        'registry.npmjs.org/@babel/helper-annotate-as-pure@7.18.6',
        6.1,
        '@babel/helper-annotate-as-pure',
        '7.18.6',
      ],
      [
        '/@babel/helper-compilation-targets@7.21.5(@babel/core@7.20.7)',
        6,
        '@babel/helper-compilation-targets',
        '7.21.5',
      ],
      ['jest-config@30.0.3(@types/node@24.0.7)(babel-plugin-macros@3.1.0)', 9, 'jest-config', '30.0.3'],
      ['package1@file:package1', 9, 'package1', ''],
    ];
    for (const [key, v, name, version] of vectors)
      assert.deepEqual(parseDepPath(key, v), { name, version }, key);
  });

  it('reads workspace importers in v5/v6 and per-package dev flags', async () => {
    const text = [
      'lockfileVersion: 5.4',
      'importers:',
      '  .:',
      '    specifiers: {a: ^1.0.0}',
      '    dependencies:',
      '      a: 1.0.0',
      '  pkgs/web:',
      '    devDependencies:',
      '      b: 2.0.0_c@1.0.0',
      '      local: link:../local',
      'packages:',
      '  /a/1.0.0:',
      '    dev: false',
      '  /b/2.0.0_c@1.0.0:',
      '    dev: true',
      '  /c/1.0.0:',
      '    dev: true',
      '    optional: true',
    ].join('\n');
    const { out, warnings } = await runAsync((w) => parsePnpmLock(text, 'pnpm-lock.yaml', w));
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      out.list().map((p) => `${p.name}@${p.version} dev=${p.dev} direct=${p.direct}`),
      ['a@1.0.0 dev=false direct=true', 'b@2.0.0 dev=true direct=true', 'c@1.0.0 dev=true direct=false'],
    );
  });

  it('falls back to the full YAML parser for YAML outside the fast subset', async () => {
    const text = [
      "lockfileVersion: '9.0'",
      'importers:',
      '  .:',
      '    dependencies:',
      '      a: &v',
      '        specifier: ^1.0.0',
      '        version: 1.0.0',
      'packages:',
      '  a@1.0.0:',
      '    resolution: {integrity: sha512-x}',
      'snapshots:',
      '  a@1.0.0: {}',
    ].join('\n');
    const { out, warnings } = await runAsync((w) => parsePnpmLock(text, 'pnpm-lock.yaml', w));
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      out.list().map((p) => `${p.name}@${p.version} direct=${p.direct}`),
      ['a@1.0.0 direct=true'],
    );
  });

  it('wants pnpm-lock.yaml of projects only', () => {
    assert.ok(pnpm.wants('pnpm-lock.yaml'));
    assert.ok(pnpm.wants('repo/pnpm-lock.yaml'));
    assert.equal(pnpm.wants('repo/node_modules/.pnpm/lock.yaml'), false);
    assert.equal(pnpm.wants('repo/node_modules/x/pnpm-lock.yaml'), false);
  });
});

describe('installed packages (node_modules/**/package.json)', () => {
  it('recognises package manifests at any node_modules depth, scoped or not', () => {
    for (const p of [
      'node_modules/a/package.json',
      'app/node_modules/a/package.json',
      'app/node_modules/@s/a/package.json',
      'usr/lib/node_modules/npm/node_modules/semver/package.json',
      'app/node_modules/.pnpm/a@1.0.0/node_modules/a/package.json',
    ])
      assert.ok(isInstalledManifest(p), p);
    for (const p of [
      'package.json',
      'app/package.json',
      'app/node_modules/a/lib/package.json',
      'app/node_modules/@s/package.json',
      'app/node_modules/.bin/package.json',
      'app/my_node_modules/a/package.json',
      'app/node_modules/package.json',
      'app/node_modules/a/package.json.orig',
    ])
      assert.equal(isInstalledManifest(p), false, p);
  });

  it('reads name, version and license forms', () => {
    const cases: [object, string | undefined][] = [
      [{ name: 'a', version: '1.0.0', license: 'MIT' }, 'MIT'],
      [{ name: 'a', version: '1.0.0', license: { type: 'ISC', url: 'x' } }, 'ISC'],
      [
        { name: 'a', version: '1.0.0', licenses: [{ type: 'MIT' }, { type: 'Apache-2.0' }] },
        'MIT, Apache-2.0',
      ],
      [{ name: 'a', version: '1.0.0' }, undefined],
    ];
    for (const [m, license] of cases) {
      const p = parseInstalledManifest(JSON.stringify(m), 'node_modules/a/package.json');
      assert.ok(typeof p === 'object');
      assert.deepEqual(p, {
        type: 'npm',
        name: 'a',
        version: '1.0.0',
        path: 'node_modules/a/package.json',
        foundBy: 'installed',
        ...(license ? { license } : {}),
      });
    }
  });

  it('skips manifests without a version silently and warns on broken JSON', async () => {
    const { ctx, warnings } = collect();
    const none = await nodeModules.analyze(
      { path: 'node_modules/a/package.json', size: 2, data: Buffer.from('{"name":"a"}') },
      ctx,
    );
    assert.deepEqual(none.packages, []);
    assert.deepEqual(warnings, []);
    const bad = await nodeModules.analyze(
      { path: 'node_modules/a/package.json', size: 2, data: Buffer.from('{"name":') },
      ctx,
    );
    assert.deepEqual(bad.packages, []);
    assert.match(warnings[0]!, /invalid JSON/);
    // a UTF-8 byte order mark is not an error
    const bom = await nodeModules.analyze(
      {
        path: 'node_modules/a/package.json',
        size: 2,
        data: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"a","version":"1.0.0"}')]),
      },
      ctx,
    );
    assert.equal(bom.packages?.[0]?.version, '1.0.0');
  });
});

describe('fast YAML reader', () => {
  it('agrees with the full parser on the block forms lockfile writers use', () => {
    const text = [
      '%YAML 1.2',
      '---',
      '# comment',
      "'@scope/a@1.0.0(peer@2)':",
      '  resolution: {integrity: sha512-x==, tarball: https://h/x.tgz}',
      '  os: [darwin, linux]',
      '  deprecated: "a \\"quoted\\" \\u00e9 text" # comment',
      "  msg: 'it''s'",
      '  empty: {}',
      '  none:',
      '  tilde: ~',
      '  num: 1.10',
      'list:',
      '- a',
      '- b: 1',
      '  c: 2',
      '-',
      '  - nested',
      'after: x',
      'key with spaces: url://x:y',
      '...',
      '---',
      'second: [1, {a: b}]',
    ].join('\n');
    const full = parseAllDocuments(text, { schema: 'failsafe' });
    const docs = (Array.isArray(full) ? full : [full]).map((d) => d.toJS({ mapAsMap: true }));
    assert.deepEqual(parseYamlLite(text), docs);
  });

  it('keeps the flow values it is told to skip as raw text', () => {
    const [doc] = parseYamlLite('a:\n  resolution: {integrity: x}\n  engines: {node: ">=1"}\n', {
      rawFlowKeys: new Set(['resolution']),
    });
    const a = (doc as Map<string, Map<string, unknown>>).get('a')!;
    assert.equal(a.get('resolution'), '{integrity: x}');
    assert.deepEqual(a.get('engines'), new Map([['node', '>=1']]));
  });

  it('gives up on YAML outside the subset', () => {
    for (const text of [
      'a: &anchor x',
      'a: *alias',
      'a: !tag x',
      'a: |\n  block',
      'a: {b: c,\n  d: e}',
      "a: 'multi\n  line'",
      '? complex\n: key',
      'a:\n\tb: tab',
      'a: 1\n b: 2',
    ])
      assert.throws(() => parseYamlLite(text), /line \d+/, JSON.stringify(text));
  });
});
