import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { normalizePypiName } from '../../src/analyzers/lang/python-names.js';
import { decodeText } from '../../src/analyzers/lang/text.js';
import { parseToml, TomlError } from '../../src/analyzers/lang/toml.js';
import { parsePipfileLock } from '../../src/analyzers/pipenv.js';
import { parsePoetryLock } from '../../src/analyzers/poetry.js';
import { parseCoreMetadata, pythonMetadata } from '../../src/analyzers/python-metadata.js';
import { parseRequirements, pipRequirements } from '../../src/analyzers/requirements.js';
import type { AnalyzerContext } from '../../src/analyzers/types.js';
import { boundedWarn } from '../../src/analyzers/warn.js';
import { compareWithExpected, expectedOf, inputOf, key, langCases, runCase } from './lang-fixtures.js';

function run<T>(fn: (w: ReturnType<typeof boundedWarn>) => T): { out: T; warnings: string[] } {
  const warnings: string[] = [];
  const ctx: AnalyzerContext = { warn: (r) => warnings.push(r) };
  const w = boundedWarn(ctx);
  const out = fn(w);
  w.flush();
  return { out, warnings };
}

describe('installed Python metadata over the shared fixtures', () => {
  const cases = langCases('python-packaging');
  it('has fixtures', () => assert.ok(cases.length >= 7));
  for (const c of cases) {
    it(c.case, async () => {
      const path = c.input.endsWith('PKG-INFO')
        ? 'usr/lib/python3.11/site-packages/pkg.egg-info/PKG-INFO'
        : 'usr/lib/python3.11/site-packages/pkg.dist-info/METADATA';
      for (const mode of ['data', 'spool'] as const) {
        const res = await runCase(c, path, 'python-metadata', mode);
        compareWithExpected(res.packages, expectedOf(c), {
          // moat does not report setuptools' "UNKNOWN" placeholder, nor trivy's `file://<License-File>`
          // pointer (moat reads no license files): neither names a license
          licenses: (l) => l?.filter((x) => x !== 'UNKNOWN' && !x.startsWith('file://')) ?? [],
        });
        assert.deepEqual(res.warnings, []);
        for (const p of res.packages) {
          assert.equal(p.type, 'python');
          assert.equal(p.foundBy, 'installed');
        }
      }
    });
  }

  it('reads a single-file .egg-info and folded headers', () => {
    const text =
      'Metadata-Version: 1.0\r\nName: python-apt\r\nVersion: 2.6.0\r\nLicense: GNU GPL\r\nDescription: a\r\n        long text\r\n\r\nbody: ignored\r\n';
    const p = parseCoreMetadata(text, 'usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info');
    assert.ok(typeof p === 'object');
    assert.equal(p.name, 'python-apt');
    assert.equal(p.version, '2.6.0');
    assert.equal(p.license, 'GNU GPL');
    assert.ok(pythonMetadata.wants('usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info'));
  });

  it('prefers License-Expression, then license classifiers, then License', () => {
    const head = 'Metadata-Version: 2.4\nName: x\nVersion: 1\n';
    const lic = (extra: string) => {
      const p = parseCoreMetadata(head + extra, 'x.dist-info/METADATA');
      return typeof p === 'object' ? p.license : p;
    };
    assert.equal(lic('License-Expression: MIT OR Apache-2.0\nLicense: whatever\n'), 'MIT OR Apache-2.0');
    assert.equal(lic('License: BSD\nClassifier: License :: OSI Approved :: BSD License\n'), 'BSD License');
    assert.equal(lic('License: BSD\nClassifier: License :: OSI Approved\n'), 'BSD');
    assert.equal(lic('Classifier: License :: Public Domain\n'), 'Public Domain');
    assert.equal(lic('License: UNKNOWN\n'), undefined);
  });

  it('warns when Name or Version is missing', async () => {
    const warnings: string[] = [];
    const out = await pythonMetadata.analyze(
      {
        path: 'a.dist-info/METADATA',
        size: 10,
        data: Buffer.from('Metadata-Version: 2.1\nName: a\n\nVersion: 1\n'),
      },
      { warn: (r) => warnings.push(r) },
    );
    assert.deepEqual(out.packages, []);
    assert.deepEqual(warnings, ['no Version field in the metadata header']);
  });

  it('wants metadata files only', () => {
    for (const p of [
      'usr/lib/python3/dist-packages/a-1.dist-info/METADATA',
      'usr/local/lib/python3.12/site-packages/b-2.egg-info/PKG-INFO',
      'usr/lib/python3/dist-packages/c-3.egg-info',
      'opt/eggs/d-4-py3.egg/EGG-INFO/PKG-INFO',
    ])
      assert.ok(pythonMetadata.wants(p), p);
    for (const p of ['a-1.dist-info/RECORD', 'a-1.dist-info/METADATA.bak', 'PKG-INFO', 'sdist/PKG-INFO'])
      assert.equal(pythonMetadata.wants(p), false, p);
  });
});

describe('poetry.lock over the shared fixtures', () => {
  const cases = langCases('poetry');
  it('has fixtures', () => assert.ok(cases.length >= 2));
  for (const c of cases) {
    it(c.case, async () => {
      for (const mode of ['data', 'spool'] as const) {
        const res = await runCase(c, 'app/poetry.lock', 'poetry', mode);
        compareWithExpected(res.packages, expectedOf(c));
        assert.deepEqual(res.warnings, []);
      }
    });
  }

  it('reads Poetry 2 groups: dev when "main" is not among them', () => {
    const text = [
      '[[package]]',
      'name = "click"',
      'version = "8.1.8"',
      'groups = ["main"]',
      '',
      '[[package]]',
      'name = "colorama"',
      'version = "0.4.6"',
      'groups = ["main", "dev"]',
      'markers = {main = "platform_system == \\"Windows\\"", dev = "sys_platform == \\"win32\\""}',
      '',
      '[[package]]',
      'name = "pytest"',
      'version = "8.0.0"',
      'groups = ["dev"]',
      '',
      '[package.dependencies]',
      'colorama = {version = "*", markers = "sys_platform == \\"win32\\""}',
      '',
      '[metadata]',
      'lock-version = "2.1"',
    ].join('\n');
    const { out, warnings } = run((w) => parsePoetryLock(text, 'poetry.lock', w));
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      out.list().map((p) => `${p.name}@${p.version} dev=${p.dev}`),
      ['click@8.1.8 dev=false', 'colorama@0.4.6 dev=false', 'pytest@8.0.0 dev=true'],
    );
  });
});

describe('Pipfile.lock over the shared fixtures', () => {
  const cases = langCases('pipenv');
  it('has fixtures', () => assert.ok(cases.length >= 2));
  for (const c of cases) {
    it(c.case, async () => {
      const res = await runCase(c, 'app/Pipfile.lock', 'pipenv');
      compareWithExpected(res.packages, expectedOf(c));
      assert.deepEqual(res.warnings, []);
      for (const p of res.packages) assert.equal(p.dev, false);
    });
  }

  it('reads develop as dev, skips entries without a pin', () => {
    const lock = {
      _meta: {},
      default: {
        requests: { version: '==2.31.0' },
        mylib: { git: 'https://x', ref: 'abc' },
        both: { version: '==1.0' },
      },
      develop: { pytest: { version: '==8.0.0' }, both: { version: '==1.0' } },
    };
    const { out, warnings } = run((w) => parsePipfileLock(JSON.stringify(lock), 'Pipfile.lock', w));
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      out.list().map((p) => `${p.name}@${p.version} dev=${p.dev}`),
      ['both@1.0 dev=false', 'pytest@8.0.0 dev=true', 'requests@2.31.0 dev=false'],
    );
  });
});

describe('pip requirements over the shared fixtures', () => {
  const cases = langCases('pip-requirements');
  it('has fixtures', () => assert.ok(cases.length >= 8));
  for (const c of cases) {
    it(c.case, async () => {
      const exp = expectedOf(c);
      if (exp.parser_options?.useMinVersion) {
        // trivy's comprehensive mode (lower bounds of ranges); the analyzer itself reports pins only
        const text = decodeText(readFileSync(inputOf(c)));
        const got = parseRequirements(text, { useMinVersion: true }).requirements.map((r) =>
          key(r.name, r.version),
        );
        assert.deepEqual(got.sort(), exp.packages.map((p) => key(p.name, p.version)).sort());
        return;
      }
      for (const mode of ['data', 'spool'] as const) {
        const res = await runCase(c, 'app/requirements.txt', 'pip-requirements', mode);
        compareWithExpected(res.packages, exp);
        assert.deepEqual(res.warnings, []);
        for (const p of res.packages) assert.equal(p.foundBy, 'lockfile');
      }
    });
  }

  it('handles extras, markers, hashes, continuations, options and includes', () => {
    const text = [
      '-r base.txt',
      '--constraint=constraints.txt',
      '-i https://pypi.example/simple',
      '-e git+https://github.com/x/y.git#egg=y',
      'pyjwt[crypto]==2.1.0',
      'celery[redis, pytest]==4.4.7 ; python_version >= "3.8"',
      'requests[security]==2.28.0 --hash=sha256:abc \\',
      '    --hash=sha256:def',
      'pkg[extra==1.0',
      'foo]bar==1.0',
      'Jinja2==3.0.0 # pinned, see [notes]',
      'numpy>=1.0',
      'pandas',
      'mylib @ https://example.com/mylib-1.0.tar.gz',
      'exact===1.0.post1',
      'zope.interface==5.4.0',
      'wild==2.0.*',
    ].join('\n');
    const parsed = parseRequirements(text);
    assert.deepEqual(parsed.includes, ['base.txt', 'constraints.txt']);
    assert.deepEqual(
      parsed.requirements.map((r) => [r.name, r.version, r.extras ?? null, r.line]),
      [
        ['pyjwt', '2.1.0', ['crypto'], 5],
        ['celery', '4.4.7', ['redis', 'pytest'], 6],
        ['requests', '2.28.0', ['security'], 7],
        ['Jinja2', '3.0.0', null, 11],
        ['exact', '1.0.post1', null, 15],
        ['zope.interface', '5.4.0', null, 16],
      ],
    );
  });

  it('wants requirements files of projects only', () => {
    for (const p of [
      'requirements.txt',
      'app/requirements-dev.txt',
      'app/requirements_prod.txt',
      'app/requirements/base.txt',
    ])
      assert.ok(pipRequirements.wants(p), p);
    for (const p of [
      'app/dev-requirements.txt',
      'app/requirements.in',
      'usr/lib/python3/site-packages/x/requirements.txt',
      'usr/lib/python3/dist-packages/x/requirements.txt',
    ])
      assert.equal(pipRequirements.wants(p), false, p);
  });
});

describe('normalizePypiName (PEP 503)', () => {
  it('folds case and runs of -, _ and .', () => {
    const vectors: [string, string][] = [
      ['Flask', 'flask'],
      ['Flask_SQLAlchemy', 'flask-sqlalchemy'],
      ['zope.interface', 'zope-interface'],
      ['ruamel.yaml', 'ruamel-yaml'],
      ['A__b--c..D', 'a-b-c-d'],
      ['friendly-bard', 'friendly-bard'],
      ['FrIeNdLy-._.-bArD', 'friendly-bard'],
    ];
    for (const [name, want] of vectors) assert.equal(normalizePypiName(name), want, name);
  });
});

describe('TOML reader (lockfile subset of TOML 1.0)', () => {
  it('reads the value forms lockfiles use', () => {
    const doc = parseToml(
      [
        '# comment',
        'title = "a \\"quoted\\" \\u00e9 \\t tab" # trailing comment',
        "literal = 'C:\\path\\no-escapes'",
        'multi = """',
        'first \\',
        '    second"""',
        "multilit = '''",
        "raw \\n text'''",
        'int = 1_000',
        'neg = -17',
        'hex = 0xff',
        'float = 6.626e-34',
        'bool = true',
        'date = 1979-05-27T07:32:00Z',
        'spaced = 1979-05-27 07:32:00',
        'arr = [ 1, [2, 3], { x = "y" }, ]',
        'nested = [',
        '  "a", # a comment inside',
        '  "b",',
        ']',
        '"quoted key" = 1',
        'dotted.key = "v"',
        '',
        '[[package]]',
        'name = "a"',
        '[package.dependencies]',
        'b = { version = ">=1", markers = "python_version < \\"3.8\\"" }',
        '[[package]]',
        'name = "c"',
        '[metadata.files]',
        'a = []',
      ].join('\n'),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), {
      title: 'a "quoted" é \t tab',
      literal: 'C:\\path\\no-escapes',
      multi: 'first second',
      multilit: 'raw \\n text',
      int: 1000,
      neg: -17,
      hex: 255,
      float: 6.626e-34,
      bool: true,
      date: '1979-05-27T07:32:00Z',
      spaced: '1979-05-27 07:32:00',
      arr: [1, [2, 3], { x: 'y' }],
      nested: ['a', 'b'],
      'quoted key': 1,
      dotted: { key: 'v' },
      package: [
        { name: 'a', dependencies: { b: { version: '>=1', markers: 'python_version < "3.8"' } } },
        { name: 'c' },
      ],
      metadata: { files: { a: [] } },
    });
  });

  it('rejects what TOML forbids, naming the line', () => {
    const bad: [string, RegExp][] = [
      ['a = 1\na = 2', /line 2: key "a" defined twice/],
      ['[t]\nx = 1\n[t]', /line 3: table "t" defined twice/],
      ['a = { b = 1 }\n[a]', /line 2/],
      ['a = "unterminated', /line 1: unterminated string/],
      ['a = 1 b = 2', /line 1: expected the end of the line/],
      ['a = nope', /invalid value/],
      ['= 1', /expected a key/],
    ];
    for (const [src, re] of bad) {
      assert.throws(
        () => parseToml(src),
        (e: unknown) => e instanceof TomlError && re.test(e.message),
        src,
      );
    }
  });
});
