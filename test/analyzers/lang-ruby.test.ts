import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gemfileLock, parseGemfileLock } from '../../src/analyzers/gemfile-lock.js';
import { gemspec, parseGemspec } from '../../src/analyzers/gemspec.js';
import { expectedVersioned, ids, langCases, relationshipMismatches, runLang } from './lang-kit.js';

describe('gemfile-lock analyzer over the trivy Gemfile.lock fixtures', () => {
  const cases = langCases('bundler');
  it('has fixtures', () => assert.ok(cases.length >= 2));
  for (const c of cases) {
    it(c.case, async () => {
      for (const mode of ['data', 'spool'] as const) {
        const res = await runLang(gemfileLock, 'srv/app/Gemfile.lock', join(c.dir, c.input), mode);
        assert.ok(res.wanted);
        if (c.expectError) {
          assert.deepEqual(res.packages, []);
          assert.ok(res.warnings.length > 0);
          continue;
        }
        assert.deepEqual(res.warnings, []);
        assert.deepEqual(ids(res.packages), ids(expectedVersioned(c)));
        assert.equal(res.packages.length, c.packageCount);
        assert.deepEqual(relationshipMismatches(c, res.packages), []);
        for (const p of res.packages)
          assert.deepEqual([p.type, p.foundBy, p.path], ['gem', 'lockfile', 'srv/app/Gemfile.lock']);
      }
    });
  }

  it('reads GIT and PATH specs, platform gems once, and `name!` dependencies', () => {
    const warnings: string[] = [];
    const gems = parseGemfileLock(
      [
        'GIT',
        '  remote: https://github.com/rails/rails.git',
        '  revision: abc',
        '  specs:',
        '    rails (7.1.0.alpha)',
        '      actionpack (= 7.1.0.alpha)',
        '',
        'PATH',
        '  remote: .',
        '  specs:',
        '    myapp (0.1.0)',
        '',
        'GEM',
        '  remote: https://rubygems.org/',
        '  specs:',
        '    nokogiri (1.13.6-x86_64-linux)',
        '      racc (~> 1.4)',
        '    nokogiri (1.13.6-arm64-darwin)',
        '    racc (1.6.0)',
        '    broken line',
        '',
        'PLATFORMS',
        '  x86_64-linux',
        '',
        'DEPENDENCIES',
        '  myapp!',
        '  nokogiri (>= 1.13)',
        '  rails!',
        '',
        'BUNDLED WITH',
        '   2.4.10',
      ].join('\n'),
      (r) => warnings.push(r),
    );
    assert.deepEqual(
      gems.map((g) => [g.name, g.version, g.source, g.direct, g.platform ?? null]),
      [
        ['rails', '7.1.0.alpha', 'GIT', true, null],
        ['myapp', '0.1.0', 'PATH', true, null],
        ['nokogiri', '1.13.6', 'GEM', true, 'x86_64-linux'],
        ['racc', '1.6.0', 'GEM', false, null],
      ],
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /line 20/);
  });

  it('wants Gemfile.lock and gems.locked, not an installed gem’s own lockfile; warns on other text', async () => {
    assert.ok(gemfileLock.wants('app/Gemfile.lock'));
    assert.ok(gemfileLock.wants('Gemfile.lock'));
    assert.ok(gemfileLock.wants('app/gems.locked'));
    assert.ok(!gemfileLock.wants('usr/local/bundle/gems/rake-13.0.6/Gemfile.lock'));
    assert.ok(!gemfileLock.wants('app/Gemfile'));
    const text = '{"not": "a lockfile"}';
    const warnings: string[] = [];
    const out = gemfileLock.analyze(
      { path: 'Gemfile.lock', size: text.length, data: Buffer.from(text) },
      { warn: (r) => warnings.push(r) },
    );
    assert.deepEqual(out, {});
    assert.match(warnings[0]!, /not a Bundler lockfile/);
  });
});

describe('gemspec analyzer over the trivy gemspec fixtures', () => {
  const cases = langCases('gemspec');
  it('has fixtures', () => assert.ok(cases.length >= 4));
  for (const c of cases) {
    it(c.case, async () => {
      const path = `usr/local/lib/ruby/gems/3.2.0/specifications/${c.input}`;
      const res = await runLang(gemspec, path, join(c.dir, c.input));
      assert.ok(res.wanted);
      if (c.expectError) {
        assert.deepEqual(res.packages, []);
        assert.equal(res.warnings.length, 1);
        assert.match(res.warnings[0]!, /^unreadable gemspec: /);
        return;
      }
      assert.deepEqual(res.warnings, []);
      assert.deepEqual(ids(res.packages), ids(expectedVersioned(c)));
      const p = res.packages[0]!;
      assert.deepEqual([p.type, p.foundBy, p.path], ['gem', 'installed', path]);
      for (const l of c.packages[0]?.licenses ?? []) assert.ok(p.license?.split(' OR ').includes(l), l);
    });
  }

  it('reads the Ruby literal forms RubyGems writes', () => {
    const spec = parseGemspec(
      [
        '# -*- encoding: utf-8 -*-',
        'Gem::Specification.new do |s|',
        "  s.name = 'net-http'",
        '  s.version = %q{0.4.1}',
        '  s.license = "BSD-2-Clause".freeze',
        '  t.name = "not this one"',
        'end',
      ].join('\n'),
    );
    assert.deepEqual(spec, { name: 'net-http', version: '0.4.1', licenses: ['BSD-2-Clause'] });
    assert.throws(() => parseGemspec('puts "hello"'), /no "Gem::Specification.new do \|var\|" block/);
  });

  it('wants specifications/*.gemspec (default gems too), not gemspecs elsewhere', () => {
    assert.ok(gemspec.wants('usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec'));
    assert.ok(gemspec.wants('usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec'));
    assert.ok(!gemspec.wants('usr/lib/ruby/gems/3.1.0/gems/rake-13.0.6/rake.gemspec'));
    assert.ok(!gemspec.wants('app/myapp.gemspec'));
  });
});
