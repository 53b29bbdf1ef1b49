import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rubygems } from '../../src/versioning/rubygems.js';
import { checkTotalOrder, hasCommand, pick, prng, runOracle } from './helpers.js';

/** Gem::Version from Ruby's bundled RubyGems (Debian package: ruby): prints <=> (or "-") and correct? twice. */
const ORACLE = `
STDIN.each_line do |line|
  a, b = line.chomp("\\n").split("\\t", -1)
  ok = [a, b].map { |v| Gem::Version.correct?(v) }
  cmp = ok.all? ? (Gem::Version.new(a) <=> Gem::Version.new(b)) : "-"
  puts [cmp, ok[0] ? 1 : 0, ok[1] ? 1 : 0].join("\\t")
end
`;

const PARTS = [
  '0',
  '1',
  '2',
  '10',
  '00',
  '01',
  '99999999999999999999',
  'a',
  'b',
  'pre',
  'rc',
  'beta',
  'A',
  'x',
  'a1',
  '1a',
  'rc2',
];

/** A random gem version: dotted alphanumeric parts, a `-` prerelease tail, sometimes damaged. */
function version(rand: () => number): string {
  let v = pick(rand, ['', '', '', ' ', '\v']) + pick(rand, ['0', '1', '2', '10', '01']);
  for (let n = Math.floor(rand() * 4); n > 0; n--) v += `.${pick(rand, PARTS)}`;
  if (rand() < 0.25)
    v += `-${Array.from({ length: 1 + Math.floor(rand() * 2) }, () => pick(rand, PARTS)).join('.')}`;
  if (rand() < 0.1) {
    const at = Math.floor(rand() * (v.length + 1));
    v = v.slice(0, at) + pick(rand, ['.', '-', '_', 'a', ' ', '..', '+']) + v.slice(at);
  }
  return v;
}

describe('rubygems', () => {
  it('treats a letter as a prerelease and drops trailing zeros from both halves', () => {
    const ordered = ['1.0.a', '1.0.a.1', '1.0.b', '1.0.pre', '1.0.rc1', '1.0', '1.0.0.1', '1.1.a', '1.1'];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        assert.equal(
          rubygems.compare(ordered[i]!, ordered[j]!),
          Math.sign(i - j),
          `${ordered[i]} vs ${ordered[j]}`,
        );
      }
    }
    assert.equal(rubygems.compare('1.0.0-rc1', '1.0.0.pre.rc1'), 0);
    assert.equal(rubygems.compare('1.0.a.0', '1.a'), 0);
    assert.equal(rubygems.compare('1.0.B', '1.0.a'), -1);
  });

  it('reads a blank string as 0 but valid() is false for it; malformed strings sort below all versions', () => {
    assert.equal(rubygems.compare('', '0'), 0);
    assert.equal(rubygems.valid(''), false);
    assert.equal(rubygems.valid(' 1.0 '), true);
    for (const v of ['1a', '1.0-', '1..0', '.1', '1.0+b', 'a', '1.0 1']) {
      assert.equal(rubygems.valid(v), false, v);
      assert.equal(rubygems.compare(v, '0.a'), -1, v);
    }
  });

  it('is a total order on generated strings, valid or not', () => {
    const rand = prng(0x9e3);
    assert.deepEqual(
      checkTotalOrder(
        rubygems.compare,
        Array.from({ length: 700 }, () => version(rand)),
      ),
      [],
    );
  });

  it("agrees with RubyGems' Gem::Version on generated pairs", (t) => {
    if (!hasCommand('ruby', ['-e', 'Gem::Version'])) {
      t.skip('ruby not found (Debian package: ruby)');
      return;
    }
    const rand = prng(0x9e4);
    const pairs: string[][] = [];
    while (pairs.length < 20000) {
      const a = version(rand);
      pairs.push([a, rand() < 0.5 ? version(rand) : a.replace(/\d+/, pick(rand, ['0', '1', '2', '00']))]);
    }
    const answers = runOracle('ruby', ['--disable-gems', '-rrubygems', '-e', ORACLE], pairs);
    const wrong: string[] = [];
    let compared = 0;
    pairs.forEach(([a, b], i) => {
      const [cmp, va, vb] = answers[i]!;
      for (const [v, ok] of [
        [a!, va],
        [b!, vb],
      ] as const) {
        // Gem::Version accepts a blank string; moat's valid() does not (documented).
        if (v.trim() !== '' && rubygems.valid(v) !== (ok === '1')) wrong.push(`valid(${JSON.stringify(v)})`);
      }
      if (cmp === '-') return;
      compared++;
      const ours = rubygems.compare(a!, b!);
      if (ours !== Number(cmp))
        wrong.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: ours ${ours}, Gem ${cmp}`);
    });
    assert.deepEqual(wrong.slice(0, 20), []);
    assert.ok(compared > 5000, `only ${compared} pairs of valid versions`);
  });
});
