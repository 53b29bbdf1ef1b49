import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { go } from '../../src/versioning/go.js';
import { checkTotalOrder, hasCommand, pick, prng, runOracle } from './helpers.js';

/** golang.org/x/mod/semver from Debian's golang-golang-x-mod-dev, vendored into a one-file Go program. */
const XMOD = '/usr/share/gocode/src/golang.org/x/mod/semver';
const ORACLE_MAIN = `package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/semver"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	valid := func(s string) int {
		if semver.IsValid(s) {
			return 1
		}
		return 0
	}
	for in.Scan() {
		f := strings.Split(in.Text(), "\\t")
		fmt.Fprintf(out, "%d\\t%d\\t%d\\n", semver.Compare(f[0], f[1]), valid(f[0]), valid(f[1]))
	}
}
`;

let workDir: string | undefined;
after(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Builds the oracle offline (no module proxy); undefined when Go or x/mod is not installed. */
function buildOracle(): string | undefined {
  if (!existsSync(join(XMOD, 'semver.go')) || !hasCommand('go', ['version'])) return undefined;
  workDir = mkdtempSync(join(tmpdir(), 'moat-xmod-'));
  const vendor = join(workDir, 'vendor', 'golang.org', 'x', 'mod', 'semver');
  mkdirSync(vendor, { recursive: true });
  cpSync(join(XMOD, 'semver.go'), join(vendor, 'semver.go'));
  writeFileSync(
    join(workDir, 'go.mod'),
    'module moat.test/oracle\n\ngo 1.19\n\nrequire golang.org/x/mod v0.7.0\n',
  );
  writeFileSync(
    join(workDir, 'vendor', 'modules.txt'),
    '# golang.org/x/mod v0.7.0\n## explicit; go 1.17\ngolang.org/x/mod/semver\n',
  );
  writeFileSync(join(workDir, 'main.go'), ORACLE_MAIN);
  const bin = join(workDir, 'oracle');
  const r = spawnSync('go', ['build', '-o', bin, '.'], {
    cwd: workDir,
    encoding: 'utf8',
    env: {
      ...process.env,
      GOPROXY: 'off',
      GOFLAGS: '-mod=vendor',
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: '0',
      GOCACHE: join(workDir, 'cache'),
    },
  });
  assert.equal(r.status, 0, `go build: ${r.error ?? r.stderr}`);
  return bin;
}

const NUMBERS = ['0', '1', '2', '9', '10', '123', '0', '1', '2', '01', '00', '99999999999999999999'];
const PRE = ['alpha', 'beta', 'rc', '0', '1', '2', '11', '01', 'a-b', '-', 'x1', '1x', 'A', 'pre'];

/** A random, sometimes malformed, module version: tags, shorthands, pseudo-versions, +incompatible. */
function version(rand: () => number): string {
  const r = rand();
  let v = pick(rand, ['v', 'v', 'v', 'v', '', 'V', 'vv']) + pick(rand, NUMBERS);
  if (r < 0.15) {
    const time = pick(rand, ['20191109021931', '20220906165146', '20220906165147', '00010101000000']);
    v = `${v}.${pick(rand, ['0', '1'])}.${pick(rand, ['0', '4'])}-${pick(rand, ['', '0.', 'pre.0.'])}${time}-${pick(rand, ['daa7c04131f5', 'f3363e06e74c'])}`;
  } else {
    if (rand() < 0.85) v += `.${pick(rand, NUMBERS)}`;
    if (rand() < 0.8) v += `.${pick(rand, NUMBERS)}`;
    if (rand() < 0.45)
      v += `-${Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(rand, PRE)).join('.')}`;
  }
  if (rand() < 0.2) v += `+${pick(rand, ['incompatible', 'meta', 'a.b', '', 'x..y'])}`;
  if (rand() < 0.08) v = v.slice(0, Math.floor(rand() * v.length));
  if (rand() < 0.05) v += pick(rand, ['.', '-', '+', ' ', '_']);
  return v;
}

/** The form x/mod sees: OSV's Go versions lack the `v`, which moat reads as present. */
function withV(v: string): string {
  return v.startsWith('v') ? v : `v${v}`;
}

describe('go', () => {
  it('reads shorthands, ignores build metadata (+incompatible), orders pseudo-versions by time', () => {
    assert.equal(go.compare('v1', 'v1.0.0'), 0);
    assert.equal(go.compare('v1.2', 'v1.2.0'), 0);
    assert.equal(go.compare('v2.0.0+incompatible', 'v2.0.0'), 0);
    assert.equal(go.compare('v0.0.0-20220906165146-f3363e06e74c', 'v0.0.0-20191109021931-daa7c04131f5'), 1);
    assert.equal(go.compare('v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.3'), 1);
    assert.equal(go.compare('v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.4'), -1);
  });

  it("accepts OSV's versions without the v prefix", () => {
    assert.equal(go.compare('1.2.3', 'v1.2.3'), 0);
    assert.equal(go.compare('0.0.0-20220906165146-f3363e06e74c', 'v0.0.0-20220906165146-f3363e06e74c'), 0);
    assert.equal(go.valid('1.2.3'), true);
  });

  it('puts every invalid string below every valid one, all invalid strings equal (as x/mod does)', () => {
    assert.equal(go.compare('(devel)', 'v0.0.0'), -1);
    assert.equal(go.compare('(devel)', 'junk'), 0);
    for (const v of [
      '',
      'v',
      'v1.2-pre',
      'v01.0.0',
      'v1.0.0-01',
      'v1.0.0+',
      'V1.0.0',
      'v1.0.0.0',
      'v1.0.0-a..b',
    ]) {
      assert.equal(go.valid(v), false, v);
    }
  });

  it('is a total order on generated strings, valid or not', () => {
    const rand = prng(0x60);
    assert.deepEqual(
      checkTotalOrder(
        go.compare,
        Array.from({ length: 700 }, () => version(rand)),
      ),
      [],
    );
  });

  it('agrees with golang.org/x/mod/semver (Debian golang-golang-x-mod-dev, built offline) on generated pairs', (t) => {
    const oracle = buildOracle();
    if (!oracle) {
      t.skip('go or golang.org/x/mod not installed (Debian packages: golang-go, golang-golang-x-mod-dev)');
      return;
    }
    const rand = prng(0x61);
    const pairs: string[][] = [];
    while (pairs.length < 20000) {
      const a = version(rand);
      pairs.push([a, rand() < 0.5 ? version(rand) : a.replace(/\d+/, pick(rand, ['0', '1', '2', '01']))]);
    }
    const answers = runOracle(
      oracle,
      [],
      pairs.map((p) => p.map(withV)),
    );
    const wrong: string[] = [];
    let valid = 0;
    pairs.forEach(([a, b], i) => {
      const [cmp, va, vb] = answers[i]!;
      if (go.compare(a!, b!) !== Number(cmp))
        wrong.push(`${a} vs ${b}: ours ${go.compare(a!, b!)}, x/mod ${cmp}`);
      if (go.valid(a!) !== (va === '1')) wrong.push(`valid(${a}): ours ${go.valid(a!)}`);
      if (go.valid(b!) !== (vb === '1')) wrong.push(`valid(${b}): ours ${go.valid(b!)}`);
      if (va === '1' && vb === '1') valid++;
    });
    assert.deepEqual(wrong.slice(0, 20), []);
    assert.ok(valid > 3000, `only ${valid} pairs of valid versions`);
  });
});
