import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { maven } from '../../src/versioning/maven.js';
import { checkTotalOrder, hasCommand, pick, prng, readVectors, runOracle, VECTORS_DIR } from './helpers.js';

/** Debian's maven-artifact (package libmaven3-core-java, pulled in by `maven`): Maven 3.8.7's ComparableVersion. */
const JARS = ['/usr/share/java/maven3-artifact.jar', '/usr/share/maven/lib/maven-artifact-3.x.jar'];
const ORACLE = `
import java.io.*;
import org.apache.maven.artifact.versioning.ComparableVersion;

public class Oracle {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
    PrintStream out = new PrintStream(new BufferedOutputStream(System.out), false, "UTF-8");
    for (String line; (line = in.readLine()) != null; ) {
      String[] f = line.split("\\t", -1);
      out.println(Integer.signum(new ComparableVersion(f[0]).compareTo(new ComparableVersion(f[1]))));
    }
    out.flush();
  }
}
`;

let workDir: string | undefined;
after(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** `java` with the oracle as a single source file (JDK 11+ runs it without a separate javac step). */
function oracle(): string[] | undefined {
  const jar = JARS.find((j) => existsSync(j));
  // Running a source file needs a JDK (its compiler module), not just a runtime.
  if (!jar || !hasCommand('java', ['-version']) || !hasCommand('javac', ['-version'])) return undefined;
  workDir = mkdtempSync(join(tmpdir(), 'moat-maven-'));
  const src = join(workDir, 'Oracle.java');
  writeFileSync(src, ORACLE);
  return ['-cp', jar, src];
}

const NUMBERS = ['0', '1', '2', '10', '00', '01', '20240101', '1234567890', '12345678901234567890'];
const QUALIFIERS = [
  'alpha',
  'beta',
  'rc',
  'cr',
  'milestone',
  'sp',
  'SNAPSHOT',
  'RC',
  'jre',
  'android',
  'Beta',
];

/**
 * Versions as Maven projects publish them: dotted numbers, then a `-` qualifier with an optional attached
 * number and an optional `-SNAPSHOT`, or a final release qualifier (ga, final, release). Maven 3.x and 4
 * order these alike; they part on qualifiers joined to numbers by `-` or followed by 0, on anything after
 * a release qualifier and on non-ASCII digits, which the vectors cover.
 */
function published(rand: () => number): string {
  let v = pick(rand, ['0', '1', '2', '10', '01']);
  for (let n = Math.floor(rand() * 4); n > 0; n--) v += `.${pick(rand, NUMBERS)}`;
  if (rand() < 0.25)
    return `${v}${pick(rand, ['-', '.'])}${pick(rand, ['ga', 'final', 'release', 'Final', 'GA'])}`;
  if (rand() < 0.6) v += `-${pick(rand, QUALIFIERS)}${rand() < 0.5 ? pick(rand, ['1', '2', '10']) : ''}`;
  if (rand() < 0.2) v += '-SNAPSHOT';
  return v;
}

/** Anything: separators in any order, empty parts, qualifiers glued to numbers, non-ASCII letters and digits. */
function anything(rand: () => number): string {
  const parts = [
    ...NUMBERS,
    ...QUALIFIERS,
    'a',
    'b',
    'm',
    'ga',
    'final',
    'x',
    '',
    '\u0668',
    'é',
    'a\u0668b1',
  ];
  let v = pick(rand, ['0', '1', '2', '10', '', '-', '.', 'a']);
  for (let n = Math.floor(rand() * 6); n > 0; n--)
    v += pick(rand, ['.', '-', '', '--', '.-']) + pick(rand, parts);
  return v;
}

describe('maven', () => {
  it('orders qualifiers alpha < beta < milestone < rc < snapshot < release < sp < unknown (lexical)', () => {
    const ordered = ['1-alpha', '1-beta', '1-milestone', '1-rc', '1-snapshot', '1', '1-sp', '1-abc', '1-xyz'];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        assert.equal(
          maven.compare(ordered[i]!, ordered[j]!),
          Math.sign(i - j),
          `${ordered[i]} vs ${ordered[j]}`,
        );
      }
    }
  });

  it('reads aliases, separators and digit/letter transitions as ComparableVersion does', () => {
    const same = [
      ['1.0.0', '1'],
      ['1-ga', '1'],
      ['1.0.FINAL', '1'],
      ['1cr2', '1-rc-2'],
      ['1a1', '1-alpha-1'],
      ['1m3', '1.0-MILESTONE3'],
      ['2.0.X', '2-X'],
      ['0-x', 'x'],
      ['1.0-SNAPSHOT', '1-snapshot'],
    ];
    for (const [a, b] of same) assert.equal(maven.compare(a!, b!), 0, `${a} = ${b}`);
    assert.equal(maven.compare('1-1', '1.1'), -1);
    assert.equal(maven.compare('1.0.RC2', '1.0-RC3'), -1);
    assert.equal(maven.compare('1-ga1', '1'), 1);
    assert.equal(maven.compare('1', '\u0668'), 1);
  });

  it('never throws where ComparableVersion would, and valid() rejects only empty, blank-bearing or long strings', () => {
    assert.equal(maven.compare('a\u0668b1', 'a8'), 0);
    assert.equal(maven.compare(`1.${'0.'.repeat(200)}1`, '1'), 1);
    for (const v of ['1', 'x', '1.0-SNAPSHOT', '\u0668']) assert.equal(maven.valid(v), true, v);
    for (const v of ['', ' 1', '1.0\n', 'a'.repeat(257)])
      assert.equal(maven.valid(v), false, JSON.stringify(v));
  });

  it('is a total order on generated strings', () => {
    const rand = prng(0x3a7);
    const versions = Array.from({ length: 700 }, () => (rand() < 0.5 ? published(rand) : anything(rand)));
    assert.deepEqual(checkTotalOrder(maven.compare, versions), []);
  });

  it("the vectors differ from Debian's Maven 3.8.7 only on the documented rows (MNG-7714, U+0668)", (t) => {
    const args = oracle();
    if (!args) {
      t.skip("java or Debian's maven-artifact jar not found (Debian packages: default-jdk-headless, maven)");
      return;
    }
    const rows = readVectors(join(VECTORS_DIR, 'maven.tsv'));
    const answers = runOracle(
      'java',
      args,
      rows.map((r) => [r.a, r.b]),
    );
    const differ = rows
      .filter((r, i) => Number(answers[i]![0]) !== r.expected)
      .map((r) => `${r.a} vs ${r.b}`);
    assert.ok(
      differ.every((d) => d.includes('redhat') || d.includes('\u0668')),
      differ.join('; '),
    );
    assert.ok(differ.length <= 8, differ.join('; '));
  });

  it("agrees with Debian's Maven 3.8.7 ComparableVersion on generated published-style versions", (t) => {
    const args = oracle();
    if (!args) {
      t.skip("java or Debian's maven-artifact jar not found (Debian packages: default-jdk-headless, maven)");
      return;
    }
    const rand = prng(0x3a8);
    const pairs: string[][] = [];
    while (pairs.length < 20000) {
      const a = published(rand);
      pairs.push([a, rand() < 0.5 ? published(rand) : a.replace(/\d+/, pick(rand, ['0', '1', '2']))]);
    }
    const answers = runOracle('java', args, pairs);
    const wrong: string[] = [];
    pairs.forEach(([a, b], i) => {
      const ours = maven.compare(a!, b!);
      if (ours !== Number(answers[i]![0])) wrong.push(`${a} vs ${b}: ours ${ours}, Maven ${answers[i]![0]}`);
    });
    assert.deepEqual(wrong.slice(0, 20), []);
  });
});
