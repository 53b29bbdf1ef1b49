import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { composer, normalizeComposer, phpVersionCompare } from '../../src/versioning/composer.js';
import { checkTotalOrder, hasCommand, pick, prng, runOracle, VECTORS_DIR } from './helpers.js';

/**
 * composer/semver as Debian packages it (php-composer-semver, on php-cli): per pair, both normalised
 * forms (or "!" where normalize() throws) and the order Semver::sort() uses: Comparator on the normalised
 * forms, master/trunk/default as 9999999-dev ("none" when Composer has no order for the pair).
 */
const AUTOLOAD = '/usr/share/php/Composer/Semver/autoload.php';
const ORACLE = `<?php
require '${AUTOLOAD}';
use Composer\\Semver\\VersionParser;
use Composer\\Semver\\Comparator;
$p = new VersionParser();
$norm = function ($v) use ($p) {
  try { return $p->normalizeDefaultBranch($p->normalize($v)); } catch (\\Exception $e) { return null; }
};
while (($line = fgets(STDIN)) !== false) {
  [$a, $b] = explode("\\t", rtrim($line, "\\n"));
  $na = $norm($a); $nb = $norm($b);
  $r = 'none';
  if ($na !== null && $nb !== null) {
    $r = Comparator::lessThan($na, $nb) ? -1 : (Comparator::greaterThan($na, $nb) ? 1 : (Comparator::equalTo($na, $nb) ? 0 : 'none'));
  }
  echo implode("\\t", [$na ?? '!', $nb ?? '!', $r, version_compare($a, $b)]), "\\n";
}
`;

/** composer/semver's own VersionParserTest normalisation cases, as `input<TAB>normalized` ("!": rejected). */
function normalizeRows(): { input: string; expected: string | undefined }[] {
  const [header, ...lines] = readFileSync(join(VECTORS_DIR, 'composer-normalize.tsv'), 'utf8').split('\n');
  assert.equal(header, 'input\tnormalized');
  return lines
    .filter((l) => l !== '')
    .map((l) => {
      const [input, out] = l.split('\t');
      assert.ok(input !== undefined && out !== undefined, l);
      return { input, expected: out === '!' ? undefined : out };
    });
}

// Dates with two short parts after them (20230131.0.0) came with composer/semver 3.4; Debian has 3.3.
const MODIFIER = '[._-]?(?:(?:stable|beta|b|RC|alpha|a|patch|pl|p)(?:[.-]?\\d+)*)?(?:[.-]?dev)?';
const CALVER = new RegExp(`^v?\\d{4}(?:[.:-]?\\d{2}){1,6}(?:[.:-]?\\d{1,3}){2}${MODIFIER}$`, 'i');
const OLD_DATE = new RegExp(`^v?\\d{4}(?:[.:-]?\\d{2}){1,6}(?:[.:-]?\\d{1,3})?${MODIFIER}$`, 'i');

function newerCalVer(v: string): boolean {
  const core = v
    .trim()
    .replace(/ +as +.*$/, '')
    .replace(/@\w+$/, '')
    .replace(/\+.*$/, '');
  return CALVER.test(core) && !OLD_DATE.test(core);
}

const NUMBERS = [
  '0',
  '1',
  '2',
  '10',
  '00',
  '01',
  '99999',
  '100000',
  '2010',
  '20100102',
  '99999999999999999999',
];
const STABILITY = [
  'alpha',
  'a',
  'beta',
  'b',
  'RC',
  'rc',
  'patch',
  'pl',
  'p',
  'stable',
  'STABLE',
  'dev',
  'Alpha',
];

/** A random Packagist version: numbers, a stability suffix, -dev, branches, some damage. */
function version(rand: () => number): string {
  const r = rand();
  if (r < 0.06)
    return pick(rand, ['dev-master', 'master', 'dev-trunk', 'dev-feature/x', 'dev-1.x', 'DEV-Foo', 'dev-']);
  let v = pick(rand, ['', '', '', 'v', 'V']) + pick(rand, NUMBERS);
  for (let n = Math.floor(rand() * 4); n > 0; n--)
    v += `${pick(rand, ['.', '.', '.', '-'])}${pick(rand, NUMBERS)}`;
  if (rand() < 0.5) {
    v += pick(rand, ['-', '-', '.', '_', '']) + pick(rand, STABILITY);
    if (rand() < 0.5) v += pick(rand, ['', '.', '-']) + pick(rand, ['1', '2', '10', '0', '1.2']);
  }
  if (rand() < 0.15) v += pick(rand, ['-dev', '.dev', 'dev', '.x-dev', '@dev', '@stable']);
  if (rand() < 0.1) v += `+${pick(rand, ['build', '001', 'a.b'])}`;
  if (rand() < 0.06) v += pick(rand, ['-meh', '.', 'x', ' as 1.0', '-SNAPSHOT']);
  return v;
}

describe('composer', () => {
  it("normalises as composer/semver's VersionParserTest says", () => {
    const rows = normalizeRows();
    assert.ok(rows.length > 80);
    for (const { input, expected } of rows) {
      assert.equal(normalizeComposer(input), expected, JSON.stringify(input));
      assert.equal(composer.valid(input), expected !== undefined, JSON.stringify(input));
    }
  });

  it('orders stabilities dev < alpha < beta < RC < stable < patch, then higher numbers', () => {
    const ordered = [
      '1.0.0-dev',
      '1.0.0-alpha',
      '1.0.0-alpha2',
      '1.0.0-beta',
      '1.0.0-RC1',
      '1.0.0',
      '1.0.0-p1',
    ];
    ordered.push('1.0.0.1-dev', '1.0.1', '1.1-dev', '2.0', '9999999-dev');
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        assert.equal(
          composer.compare(ordered[i]!, ordered[j]!),
          Math.sign(i - j),
          `${ordered[i]} vs ${ordered[j]}`,
        );
      }
    }
  });

  it('puts master-like branches on top, other branches below versions, rejected strings at the bottom', () => {
    assert.equal(composer.compare('dev-master', '99999.0'), 1);
    assert.equal(composer.compare('master', 'dev-trunk'), 0);
    assert.equal(composer.compare('dev-feature', '0.0.1-dev'), -1);
    assert.equal(composer.compare('dev-a', 'dev-b'), -1);
    assert.equal(composer.compare('1.0.0-meh', 'dev-a'), -1);
  });

  it("reproduces PHP's version_compare() on raw strings", () => {
    const cases: [string, string, number][] = [
      ['1.0', '1.0.0', -1],
      ['1.0rc1', '1.0', -1],
      ['1.0pl1', '1.0', 1],
      ['1.0-dev', '1.0-alpha', -1],
      ['1.0.foo', '1.0.xyz', 0],
      ['1.0.foo', '1.0.bar', -1],
      ['1.0.foo', '1.0-dev', -1],
      ['1.0', '1.0.', 1],
      ['1', '1.a', 1],
    ];
    for (const [a, b, want] of cases) assert.equal(phpVersionCompare(a, b), want, `${a} vs ${b}`);
  });

  it('is a total order on generated strings, valid or not', () => {
    const rand = prng(0xc0);
    assert.deepEqual(
      checkTotalOrder(
        composer.compare,
        Array.from({ length: 700 }, () => version(rand)),
      ),
      [],
    );
  });

  it("agrees with composer/semver (Debian php-composer-semver) and PHP's version_compare on generated pairs", (t) => {
    if (!existsSync(AUTOLOAD) || !hasCommand('php', ['-v'])) {
      t.skip('php or composer/semver not found (Debian packages: php-cli, php-composer-semver)');
      return;
    }
    const rand = prng(0xc1);
    const pairs: string[][] = [];
    while (pairs.length < 20000) {
      const a = version(rand);
      pairs.push([a, rand() < 0.5 ? version(rand) : a.replace(/\d+/, pick(rand, ['0', '1', '2', '01']))]);
    }
    const answers = runOracle('php', ['-r', `?>${ORACLE}`], pairs);
    const wrong: string[] = [];
    let compared = 0;
    pairs.forEach(([a, b], i) => {
      const [na, nb, cmp, raw] = answers[i]!;
      if (phpVersionCompare(a!, b!) !== Number(raw)) wrong.push(`version_compare(${a}, ${b}) = ${raw}`);
      const sides: [string, string][] = [
        [a!, na!],
        [b!, nb!],
      ];
      for (const [v, n] of sides) {
        const ours = normalizeComposer(v);
        const mapped =
          ours === 'dev-master' || ours === 'dev-trunk' || ours === 'dev-default' ? '9999999-dev' : ours;
        if ((mapped ?? '!') !== n && !newerCalVer(v))
          wrong.push(`normalize(${JSON.stringify(v)}): ours ${ours}, Composer ${n}`);
      }
      if (cmp === 'none' || na === '!' || nb === '!' || newerCalVer(a!) || newerCalVer(b!)) return;
      compared++;
      const ours = composer.compare(a!, b!);
      if (ours !== Number(cmp)) wrong.push(`${a} vs ${b}: ours ${ours}, Composer ${cmp}`);
    });
    assert.deepEqual(wrong.slice(0, 20), []);
    assert.ok(compared > 5000, `only ${compared} comparable pairs`);
  });
});
