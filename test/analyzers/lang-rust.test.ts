import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cargoLock, parseCargoLock } from '../../src/analyzers/cargo-lock.js';
import { goBinary } from '../../src/analyzers/go-binary.js';
import { rustBinary } from '../../src/analyzers/rust-binary.js';
import { expectedVersioned, ids, langBinaries, langCases, runLang } from './lang-kit.js';

const EXEC = { size: 64 * 1024, mode: 0o100755 };

describe('cargo-lock analyzer over the trivy Cargo.lock fixtures', () => {
  const cases = langCases('cargo');
  it('has fixtures', () => assert.ok(cases.length >= 3));
  for (const c of cases) {
    it(c.case, async () => {
      for (const mode of ['data', 'spool'] as const) {
        const res = await runLang(cargoLock, 'src/app/Cargo.lock', join(c.dir, c.input), mode);
        assert.ok(res.wanted);
        if (c.expectError) {
          assert.deepEqual(res.packages, []);
          assert.equal(res.warnings.length, 1);
          assert.match(res.warnings[0]!, /^malformed Cargo\.lock: line \d+/);
          continue;
        }
        assert.deepEqual(res.warnings, []);
        assert.deepEqual(ids(res.packages), ids(expectedVersioned(c)));
        for (const p of res.packages) assert.deepEqual([p.type, p.foundBy], ['cargo', 'lockfile']);
        // the workspace's own crates have no source; the crates they depend on are direct
        const text = readFileSync(join(c.dir, c.input), 'utf8');
        const local = res.packages.filter((p) => p.extra?.source === 'local').map((p) => p.name);
        assert.deepEqual(local, ['normal']);
        assert.match(text, /name = "normal"\nversion = "0\.1\.0"\ndependencies/);
        assert.deepEqual(
          res.packages.filter((p) => p.direct).map((p) => p.name),
          ['libc'],
        );
      }
    });
  }

  it('reads the v1 to v4 dependency forms', () => {
    const crates = parseCargoLock(
      [
        'version = 4',
        '',
        '[[package]]',
        'name = "app"',
        'version = "0.1.0"',
        'dependencies = [',
        ' "serde",',
        ' "rand 0.8.5",',
        ' "rand 0.7.3 (registry+https://github.com/rust-lang/crates.io-index)",',
        ']',
        '',
        '[[package]]',
        'name = "serde"',
        'version = "1.0.190"',
        'source = "registry+https://github.com/rust-lang/crates.io-index"',
        'checksum = "91d3c334ca1ee894a2c6f6ad698fe8c435b76d504b13d436f0685d648d6d96f7"',
        '',
        '[[package]]',
        'name = "rand"',
        'version = "0.8.5"',
        'source = "registry+https://github.com/rust-lang/crates.io-index"',
        '',
        '[[package]]',
        'name = "rand"',
        'version = "0.7.3"',
        'source = "registry+https://github.com/rust-lang/crates.io-index"',
        '',
        '[[package]]',
        'name = "tokio"',
        'version = "1.33.0"',
        'source = "git+https://github.com/tokio-rs/tokio?branch=master#abc"',
        '',
        '[[patch.unused]]',
        'name = "unused"',
        'version = "9.9.9"',
      ].join('\n'),
    );
    assert.deepEqual(
      crates.map((c) => `${c.name}@${c.version}`),
      ['app@0.1.0', 'serde@1.0.190', 'rand@0.8.5', 'rand@0.7.3', 'tokio@1.33.0'],
    );
    const text = Buffer.from(
      readFileSync(
        join(langCases('cargo').find((c) => c.case === 'cargo-normal-lock')!.dir, 'cargo_normal.lock'),
      ),
    );
    const warnings: string[] = [];
    const out = cargoLock.analyze(
      { path: 'Cargo.lock', size: text.length, data: text },
      { warn: (r) => warnings.push(r) },
    );
    assert.ok(Array.isArray((out as { packages?: unknown[] }).packages));
    assert.deepEqual(warnings, []);
  });

  it('wants Cargo.lock, not the lockfiles crates ship in CARGO_HOME', () => {
    assert.ok(cargoLock.wants('Cargo.lock'));
    assert.ok(cargoLock.wants('usr/src/app/Cargo.lock'));
    assert.ok(
      !cargoLock.wants('root/.cargo/registry/src/index.crates.io-6f17d22bba15001f/ryu-1.0.15/Cargo.lock'),
    );
    assert.ok(!cargoLock.wants('usr/src/app/Cargo.toml'));
  });
});

describe('rust-binary analyzer over cargo-auditable data added with objcopy', () => {
  it('reports the runtime crates of deps.json, not the build-time ones', async () => {
    const dir = join(await langBinaries(), 'rust');
    const doc = JSON.parse(readFileSync(join(dir, 'deps.json'), 'utf8')) as {
      packages: { name: string; version: string; kind?: string; root?: boolean }[];
    };
    const want = doc.packages.filter((p) => p.kind !== 'build');
    assert.ok(want.length >= 3 && want.length < doc.packages.length);
    for (const mode of ['data', 'spool'] as const) {
      const res = await runLang(rustBinary, 'usr/local/bin/auditable', join(dir, 'auditable'), mode);
      assert.ok(res.wanted);
      assert.deepEqual(res.warnings, []);
      assert.deepEqual(ids(res.packages), ids(want));
      for (const p of res.packages) assert.deepEqual([p.type, p.foundBy], ['cargo', 'binary']);
      const root = doc.packages.find((p) => p.root)!;
      assert.equal(res.packages.find((p) => p.extra?.main)?.name, root.name);
    }
    // a C program with the section is no Go binary
    const go = await runLang(goBinary, 'usr/local/bin/auditable', join(dir, 'auditable'), 'data', EXEC);
    assert.deepEqual([go.packages, go.warnings], [[], []]);
  });

  it('warns when the section is not zlib data; stays silent on executables without one', async () => {
    const dir = join(await langBinaries(), 'rust');
    const bad = await runLang(rustBinary, 'bin/x', join(dir, 'auditable-corrupt'));
    assert.deepEqual(bad.packages, []);
    assert.equal(bad.warnings.length, 1);
    assert.match(bad.warnings[0]!, /^the \.dep-v0 section is not zlib data/);
    const plain = await runLang(rustBinary, 'bin/true', join(dir, 'plain'));
    assert.deepEqual([plain.packages, plain.warnings], [[], []]);
    for (const c of langCases('rust-binary')) {
      const res = await runLang(rustBinary, 'bin/dummy', join(c.dir, c.input), 'data', EXEC);
      assert.deepEqual([res.packages, res.warnings], [[], []]);
    }
    // a truncated executable: the go-binary analyzer reports it, once
    const goDir = join(await langBinaries(), 'go');
    const cut = await runLang(rustBinary, 'bin/app', join(goDir, 'app-truncated-100'), 'data', EXEC);
    assert.deepEqual([cut.packages, cut.warnings], [[], []]);
  });

  it('wants executables only', () => {
    assert.ok(rustBinary.wants('usr/bin/x', EXEC));
    assert.ok(!rustBinary.wants('usr/bin/x', { size: 64 * 1024, mode: 0o100644 }));
    assert.ok(!rustBinary.wants('usr/bin/x'));
  });
});
