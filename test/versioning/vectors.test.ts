import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MoatError } from '../../src/errors.js';
import { compareVersions, getScheme, SCHEMES, schemeForEcosystem } from '../../src/versioning/index.js';
import { readVectors, vectorFiles } from './helpers.js';

const SCHEME_NAMES = Object.keys(SCHEMES);

for (const name of SCHEME_NAMES) {
  const scheme = getScheme(name)!;
  describe(`${name} vectors`, () => {
    for (const file of vectorFiles(name)) {
      const rows = readVectors(file);
      const label = file.slice(file.indexOf('versions/') + 'versions/'.length);

      it(`${label}: every row, both directions (${rows.length} rows)`, () => {
        const failures: string[] = [];
        for (const r of rows) {
          const ab = scheme.compare(r.a, r.b);
          const ba = scheme.compare(r.b, r.a);
          if (ab !== r.expected || ba !== -r.expected) {
            failures.push(`line ${r.line}: ${r.a} vs ${r.b}: want ${r.expected}, got ${ab} (reversed ${ba})`);
          }
        }
        assert.deepEqual(failures, []);
      });

      it(`${label}: compareVersions('${name}', …) agrees on every row`, () => {
        for (const r of rows) assert.equal(compareVersions(name, r.a, r.b), r.expected, `line ${r.line}`);
      });

      it(`${label}: every version equals itself`, () => {
        // compare() has no identity shortcut, so this runs the whole algorithm on both sides.
        for (const v of new Set(rows.flatMap((r) => [r.a, r.b]))) assert.equal(scheme.compare(v, v), 0, v);
      });

      it(`${label}: sorting all versions gives an order that contradicts no row`, () => {
        const versions = [...new Set(rows.flatMap((r) => [r.a, r.b]))];
        versions.sort(scheme.compare);
        const rank = new Map<string, number>();
        // Equal neighbours share a rank, so the rank encodes the order the sort found.
        versions.forEach((v, i) => {
          const prev = versions[i - 1];
          rank.set(v, prev !== undefined && scheme.compare(prev, v) === 0 ? rank.get(prev)! : i);
        });
        for (const r of rows) {
          const got = Math.sign(rank.get(r.a)! - rank.get(r.b)!);
          assert.equal(got, r.expected, `line ${r.line}: ${r.a} vs ${r.b} after sorting`);
        }
      });
    }
  });
}

describe('versioning registry', () => {
  it('registers every scheme file under src/versioning, each with vectors', () => {
    const dir = join(import.meta.dirname, '..', '..', 'src', 'versioning');
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && f !== 'index.ts' && f !== 'types.ts')
      .map((f) => f.slice(0, -3));
    assert.deepEqual(files.sort(), [...SCHEME_NAMES].sort());
    for (const name of SCHEME_NAMES) {
      assert.equal(SCHEMES[name as keyof typeof SCHEMES].name, name);
      assert.ok(readVectors(vectorFiles(name)[0]!).length > 0, `${name}.tsv has rows`);
    }
  });

  it('compareVersions rejects an unknown scheme with a USAGE error naming it', () => {
    assert.throws(
      () => compareVersions('nonesuch', '1', '2'),
      (e: unknown) => e instanceof MoatError && e.code === 'USAGE' && e.message.includes('"nonesuch"'),
    );
    assert.equal(getScheme('toString'), undefined);
  });

  it('maps OSV ecosystems with release suffixes to their scheme', () => {
    assert.equal(schemeForEcosystem('Debian:12'), SCHEMES.dpkg);
    assert.equal(schemeForEcosystem('Ubuntu:22.04:LTS'), SCHEMES.dpkg);
    assert.equal(schemeForEcosystem('Alpine:v3.20'), SCHEMES.apk);
    assert.equal(schemeForEcosystem('Red Hat:enterprise_linux:9::appstream'), SCHEMES.rpm);
    assert.equal(schemeForEcosystem('Hex'), undefined);
  });

  it('maps the language ecosystems of OSV to their scheme', () => {
    const expected: Record<string, keyof typeof SCHEMES> = {
      npm: 'semver',
      'crates.io': 'semver',
      Go: 'go',
      PyPI: 'pep440',
      Maven: 'maven',
      RubyGems: 'rubygems',
      NuGet: 'nuget',
      Packagist: 'composer',
    };
    for (const [ecosystem, name] of Object.entries(expected)) {
      assert.equal(schemeForEcosystem(ecosystem), SCHEMES[name], ecosystem);
    }
  });

  it('never throws on hostile input, and stays antisymmetric', () => {
    const samples = [
      '',
      ' ',
      ':',
      '-',
      '~',
      '^',
      '_',
      '.',
      '1:',
      ':1',
      '1-',
      '-1',
      '\u0000',
      'é1',
      '1.0\n',
      '9'.repeat(400),
      `1.${'-a'.repeat(300)}`,
      'v',
      'v1',
      '=',
      '+',
      '!',
      '1!',
      '@dev',
      'dev-',
      '1.0-',
      '0-0.x',
      '\u0668',
      '\ud835\udfe4',
      'a\u0668b1',
    ];
    for (const name of SCHEME_NAMES) {
      const s = getScheme(name)!;
      for (const a of samples) {
        assert.equal(typeof s.valid(a), 'boolean');
        for (const b of samples)
          assert.equal(s.compare(a, b), -s.compare(b, a) || 0, `${name}: ${a} vs ${b}`);
      }
      assert.equal(s.valid(''), false, `${name}: the empty string is not a version`);
    }
  });
});
