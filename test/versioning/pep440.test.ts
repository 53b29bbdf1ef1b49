import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { pep440 } from '../../src/versioning/pep440.js';
import { checkTotalOrder, pick, prng, runOracle } from './helpers.js';

/**
 * The `packaging` library as oracle: Version (22.0 and later, Debian python3-packaging) for valid versions
 * and validity, and the LegacyVersion of packaging 21.3, which Debian's python3-pip still vendors, for the
 * order of invalid strings. Prints: version order (or "-" when a side is invalid), legacy order (or "-"
 * without pip), valid(a), valid(b).
 */
const ORACLE = `
import sys
from packaging.version import Version, InvalidVersion
try:
    from pip._vendor.packaging.version import parse as legacy_parse
except Exception:
    legacy_parse = None
def sign(a, b):
    return -1 if a < b else (1 if a > b else 0)
def ok(v):
    try:
        return Version(v)
    except InvalidVersion:
        return None
for line in sys.stdin:
    a, b = line.rstrip("\\n").split("\\t")
    va, vb = ok(a), ok(b)
    modern = sign(va, vb) if va is not None and vb is not None else "-"
    legacy = sign(legacy_parse(a), legacy_parse(b)) if legacy_parse else "-"
    print(modern, legacy, int(va is not None), int(vb is not None), sep="\\t")
`;

/** The first Python that imports packaging 22 or later: Debian's interpreter first (python3-packaging). */
function python(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, [
      '-c',
      'import packaging.version as v; v.Version("1"); assert not hasattr(v, "LegacyVersion")',
    ]);
    if (r.error === undefined && r.status === 0) return py;
  }
  return undefined;
}

const RELEASES = ['0', '1', '1.0', '1.0.0', '1.2', '2', '10', '01', '1.01', '0100', '99999999999999999999'];
const PRE = ['a', 'b', 'c', 'rc', 'alpha', 'beta', 'pre', 'preview', 'A', 'RC'];
const SEP = ['', '', '.', '-', '_'];

/** A random version string: mostly PEP 440 spellings, some damaged into legacy strings. */
function version(rand: () => number): string {
  let v = pick(rand, ['', '', '', '', 'v', 'V', ' ']);
  if (rand() < 0.1) v += `${pick(rand, ['0', '1', '2', '00'])}!`;
  v += pick(rand, RELEASES);
  if (rand() < 0.35)
    v +=
      pick(rand, SEP) + pick(rand, PRE) + pick(rand, SEP.slice(0, 3)) + pick(rand, ['', '0', '1', '2', '01']);
  if (rand() < 0.25) {
    v +=
      rand() < 0.3
        ? `-${pick(rand, ['0', '1', '5'])}`
        : `${pick(rand, SEP)}${pick(rand, ['post', 'rev', 'r', 'POST'])}${pick(rand, SEP.slice(0, 3))}${pick(rand, ['', '0', '1', '2'])}`;
  }
  if (rand() < 0.25) v += `${pick(rand, SEP)}${pick(rand, ['dev', 'DEV'])}${pick(rand, ['', '0', '1', '2'])}`;
  if (rand() < 0.2) v += `+${pick(rand, ['local', '1', 'abc.1', 'ubuntu-1', '1.abc', 'A_B', '01', 'a..b'])}`;
  if (rand() < 0.1) {
    const at = Math.floor(rand() * (v.length + 1));
    v = v.slice(0, at) + pick(rand, ['x', '-', '.', 'final', 'pre', 'dev', '_', '!', 'é']) + v.slice(at);
  }
  return v;
}

describe('pep440', () => {
  it('normalises spellings, separators and implicit numbers', () => {
    const same = [
      ['1.0-rc1', '1.0rc1'],
      ['1.0.rc.1', '1.0c1'],
      ['1.0-preview1', '1.0rc1'],
      ['1.0alpha', '1.0a0'],
      ['1.0.post', '1.0.post0'],
      ['1.0-1', '1.0.post1'],
      ['1.0_r_1', '1.0.post1'],
      ['1.0-dev', '1.0.dev0'],
      ['v1.0', '1.0.0'],
      ['0!1.0', '1'],
      ['1.0+Ubuntu-1', '1.0+ubuntu.1'],
      [' 1.0 ', '1.0'],
    ];
    for (const [a, b] of same) assert.equal(pep440.compare(a!, b!), 0, `${a} = ${b}`);
  });

  it('orders dev < pre < release < post, dev-only first, locals after the public version', () => {
    const ordered = [
      '1.0.dev0',
      '1.0a1.dev1',
      '1.0a1',
      '1.0b1',
      '1.0rc1',
      '1.0',
      '1.0+abc',
      '1.0+1',
      '1.0+1.a',
    ];
    ordered.push('1.0.post1.dev1', '1.0.post1', '1.1.dev1', '1!0.1');
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        assert.equal(
          pep440.compare(ordered[i]!, ordered[j]!),
          Math.sign(i - j),
          `${ordered[i]} vs ${ordered[j]}`,
        );
      }
    }
  });

  it('orders invalid strings as LegacyVersion did: below every valid version', () => {
    assert.equal(pep440.valid('1.0-foo'), false);
    assert.equal(pep440.compare('1.0-foo', '0.0.dev0'), -1);
    assert.equal(pep440.compare('2.0-foo', '1.0-foo'), 1);
    assert.equal(pep440.compare('1.0-foo', '1.0-foo.0'), 0);
    assert.equal(pep440.compare('french toast', 'french toast'), 0);
    for (const v of ['', ' ', '1.0.', '.1', '1..0', '1.0+', '1.0+a..b', '1.0-', '1.0.post1.post2', 'a']) {
      assert.equal(pep440.valid(v), false, v);
    }
  });

  it('is a total order on generated strings, valid or not', () => {
    const rand = prng(0x440);
    assert.deepEqual(
      checkTotalOrder(
        pep440.compare,
        Array.from({ length: 700 }, () => version(rand)),
      ),
      [],
    );
  });

  it("agrees with packaging's Version (and pip's vendored LegacyVersion for invalid strings)", (t) => {
    const py = python();
    if (!py) {
      t.skip('Python with packaging >= 22 not found (Debian package: python3-packaging)');
      return;
    }
    const rand = prng(0x441);
    const pairs: string[][] = [];
    while (pairs.length < 20000) {
      const a = version(rand);
      pairs.push([a, rand() < 0.5 ? version(rand) : a.replace(/\d+/, pick(rand, ['0', '1', '2', '00']))]);
    }
    const answers = runOracle(py, ['-c', ORACLE], pairs);
    const wrong: string[] = [];
    let modern = 0;
    let legacy = 0;
    pairs.forEach(([a, b], i) => {
      const [m, l, va, vb] = answers[i]!;
      const ours = pep440.compare(a!, b!);
      if (pep440.valid(a!) !== (va === '1'))
        wrong.push(`valid(${JSON.stringify(a)}): ours ${pep440.valid(a!)}`);
      if (m !== '-') {
        modern++;
        if (ours !== Number(m))
          wrong.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: ours ${ours}, Version ${m}`);
      }
      if (l !== '-' && (va !== '1' || vb !== '1')) {
        legacy++;
        if (ours !== Number(l))
          wrong.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: ours ${ours}, legacy ${l}`);
      }
    });
    assert.deepEqual(wrong.slice(0, 20), []);
    assert.ok(modern > 5000, `only ${modern} pairs of valid versions`);
    t.diagnostic(`${modern} valid pairs, ${legacy} with an invalid side, oracle ${py}`);
    if (legacy === 0) t.diagnostic("pip's vendored packaging 21.3 not found: legacy order not cross-checked");
  });
});
