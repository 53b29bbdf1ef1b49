import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openExecutable } from '../../src/analyzers/bin/exe.js';
import {
  goBinary,
  goBinaryPackages,
  goStdlibVersion,
  parseGoModInfo,
  readGoBuildInfo,
} from '../../src/analyzers/go-binary.js';
import { gomod, parseGoMod } from '../../src/analyzers/gomod.js';
import { gosum, parseGoSum } from '../../src/analyzers/gosum.js';
import { bufferAccess } from '../../src/analyzers/lang/zip.js';
import { rustBinary } from '../../src/analyzers/rust-binary.js';
import type { Package } from '../../src/model/package.js';
import { dedupePackages } from '../../src/scan/dedupe.js';
import {
  expectedVersioned,
  ids,
  langBinaries,
  langCases,
  relationshipMismatches,
  runLang,
} from './lang-kit.js';

const EXEC = 0o100755;

describe('gomod analyzer over the trivy go.mod fixtures', () => {
  const cases = langCases('gomod');
  it('has fixtures', () => assert.ok(cases.length >= 8));
  for (const c of cases) {
    it(c.case, async () => {
      const abs = join(c.dir, c.input);
      for (const mode of ['data', 'spool'] as const) {
        const res = await runLang(gomod, 'src/app/go.mod', abs, mode);
        assert.ok(res.wanted);
        assert.deepEqual(res.warnings, []);
        const text = readFileSync(abs, 'utf8');
        let want = expectedVersioned(c);
        // the go/toolchain lines are a minimum toolchain, not the one that built anything: no stdlib from go.mod
        if (c.parserOptions.useMinVersion) want = want.filter((p) => p.name !== 'stdlib');
        if (c.parserOptions.replace === false) {
          // the go command always applies replace directives; trivy's replace=false switch has no counterpart:
          // the result is the replace-applied one of the same go.mod
          const same = cases.find(
            (o) =>
              o !== c &&
              o.parserOptions.replace === true &&
              readFileSync(join(o.dir, o.input), 'utf8') === text,
          );
          assert.ok(same, 'a replace=true case with the same go.mod');
          want = expectedVersioned(same);
        }
        const got = ids(res.packages);
        const extra = got.filter((id) => !ids(want).includes(id));
        // before Go 1.17 trivy reads indirect requirements from go.sum; moat reports go.mod's own `// indirect`
        // lines: each extra one must be such a line
        for (const id of extra) {
          const [path, version] = id.split('@');
          assert.ok(
            text.split('\n').some((l) => l.includes(`${path} ${version}`) && /\/\/\s*indirect/.test(l)),
            `${id} is not an indirect requirement of ${c.case}`,
          );
        }
        assert.deepEqual(
          got.filter((id) => !extra.includes(id)),
          ids(want),
        );
        assert.deepEqual(relationshipMismatches({ ...c, packages: want }, res.packages), []);
        for (const p of res.packages) {
          assert.equal(p.type, 'go');
          assert.equal(p.foundBy, 'lockfile');
          assert.equal(p.path, 'src/app/go.mod');
        }
        // the main module is the project, never a dependency
        const main = /^module\s+(\S+)/m.exec(text)![1];
        assert.ok(!res.packages.some((p) => p.name === main));
      }
    });
  }
});

describe('go.mod details', () => {
  it('parses blocks, quoted paths, comments and the replace forms', () => {
    const warnings: string[] = [];
    const mod = parseGoMod(
      [
        'module "example.com/m" // the module',
        'go 1.21',
        'toolchain go1.21.5',
        'require (',
        '\texample.com/a v1.0.0',
        '\t"example.com/b" v1.2.0 // indirect; kept for tests',
        '\texample.com/c v0.1.0 // not indirect',
        ')',
        'require example.com/d v2.0.0+incompatible',
        'exclude example.com/a v0.9.0',
        'replace (',
        '\texample.com/a => example.com/fork v1.0.1',
        '\texample.com/c v0.1.0 => ../c',
        ')',
        'require broken',
        'retract v1.0.0',
      ].join('\n'),
      (r) => warnings.push(r),
    );
    assert.equal(mod.module, 'example.com/m');
    assert.equal(mod.go, '1.21');
    assert.deepEqual(
      mod.requires.map((r) => [r.path, r.version, r.indirect]),
      [
        ['example.com/a', 'v1.0.0', false],
        ['example.com/b', 'v1.2.0', true],
        ['example.com/c', 'v0.1.0', false],
        ['example.com/d', 'v2.0.0+incompatible', false],
      ],
    );
    assert.deepEqual(mod.replaces, [
      { path: 'example.com/a', newPath: 'example.com/fork', newVersion: 'v1.0.1' },
      { path: 'example.com/c', version: 'v0.1.0', newPath: '../c' },
    ]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /line 15/);
  });

  it('skips the module cache and the toolchain modules, and warns on files that are not go.mod', async () => {
    assert.ok(gomod.wants('app/go.mod'));
    assert.ok(gomod.wants('go.mod'));
    assert.ok(!gomod.wants('root/go/pkg/mod/github.com/x/y@v1.2.3/go.mod'));
    assert.ok(!gomod.wants('app/go.sum'));
    const run = (text: string) => {
      const warnings: string[] = [];
      const out = gomod.analyze(
        { path: 'go.mod', size: text.length, data: Buffer.from(text) },
        { warn: (r) => warnings.push(r) },
      );
      return { out: out as { packages?: unknown[] }, warnings };
    };
    const std = run('module std\n\ngo 1.19\n\nrequire golang.org/x/net v0.0.0-20220722155237-a158d28d115b\n');
    assert.deepEqual(std.out, {});
    const junk = run('<html>not a go.mod</html>\n');
    assert.equal(junk.out.packages, undefined);
    assert.equal(junk.warnings.length, 1);
  });
});

/** Modules `go version -m` prints for a binary: the oracle for the go-binary analyzer. */
async function goVersionM(file: string): Promise<{ goVersion: string; modules: string[] }> {
  const { stdout } = await promisify(execFile)('go', ['version', '-m', file]);
  const lines = stdout.split('\n');
  const goVersion = lines[0]!.slice(lines[0]!.indexOf(': ') + 2).trim();
  const modules: string[] = [];
  let pending: string | undefined;
  const flush = () => {
    if (pending) modules.push(pending);
    pending = undefined;
  };
  for (const l of lines.slice(1)) {
    const f = l.trim().split('\t');
    if (f[0] === 'dep' || f[0] === 'mod') {
      flush();
      if (f[2] && f[2] !== '(devel)') pending = `${f[1]}@${f[2]}`;
    } else if (f[0] === '=>') {
      // go version -m shows what replaced the module; a local directory has no release version
      pending = f[2] && f[2] !== '(devel)' ? `${f[1]}@${f[2]}` : undefined;
    }
  }
  flush();
  return { goVersion, modules: modules.sort() };
}

describe('go-binary analyzer over binaries built by Debian golang-go', () => {
  const builds = ['app', 'app-stripped', 'app-386', 'app.exe', 'app-darwin'];
  for (const name of builds) {
    it(`${name}: the modules and toolchain that go version -m reports`, async () => {
      const dir = join(await langBinaries(), 'go');
      const abs = join(dir, name);
      const oracle = await goVersionM(abs);
      assert.ok(oracle.modules.length >= 2, 'the fixture has dependencies');
      const std = goStdlibVersion(oracle.goVersion);
      assert.ok(std && /^\d+\.\d+\.\d+/.test(std));
      for (const mode of ['data', 'spool'] as const) {
        const res = await runLang(goBinary, `usr/local/bin/${name}`, abs, mode);
        assert.ok(res.wanted);
        assert.deepEqual(res.warnings, []);
        assert.deepEqual(ids(res.packages), [...oracle.modules, `stdlib@${std}`].sort());
        for (const p of res.packages) {
          assert.equal(p.type, 'go');
          assert.equal(p.foundBy, 'binary');
          assert.equal(p.path, `usr/local/bin/${name}`);
        }
        // a replaced module is reported under its replacement, naming the original
        const fork = res.packages.find((p) => p.extra?.replaces);
        assert.ok(fork, 'the fixture replaces a module');
      }
      // the other binary analyzer finds nothing to say about a Go binary
      const rust = await runLang(rustBinary, `usr/local/bin/${name}`, abs);
      assert.deepEqual([rust.packages, rust.warnings], [[], []]);
    });
  }

  it('the toolchain itself is a Go binary (go version -m on /usr/bin/go)', async () => {
    const oracle = await goVersionM('/usr/lib/go/bin/go');
    const res = await runLang(goBinary, 'usr/lib/go/bin/go', '/usr/lib/go/bin/go');
    assert.ok(ids(res.packages).includes(`stdlib@${goStdlibVersion(oracle.goVersion)}`));
  });

  it('warns on truncated binaries, naming the reason, and goes on', async () => {
    const dir = join(await langBinaries(), 'go');
    for (const [name, reason] of [
      ['app-truncated-half', /build ?info|past the end/],
      ['app-truncated-1m', /past the end/],
      ['app-truncated-100', /past the end/],
    ] as const) {
      const res = await runLang(goBinary, `bin/${name}`, join(dir, name), 'data', {
        size: 1 << 20,
        mode: EXEC,
      });
      assert.deepEqual(res.packages, [], name);
      assert.equal(res.warnings.length, 1, name);
      assert.match(res.warnings[0]!, reason, name);
      assert.match(res.warnings[0]!, /^unreadable ELF executable/, name);
    }
  });

  it('ignores what is not a Go binary without a warning (trivy sad-path fixture, scripts, C programs)', async () => {
    for (const c of langCases('go-binary')) {
      const res = await runLang(goBinary, 'bin/dummy', join(c.dir, c.input), 'data', {
        size: 1 << 20,
        mode: EXEC,
      });
      assert.deepEqual([res.packages, res.warnings], [[], []]);
    }
    const plain = join(await langBinaries(), 'rust', 'plain');
    const res = await runLang(goBinary, 'bin/true', plain, 'data', { size: 1 << 20, mode: EXEC });
    assert.deepEqual([res.packages, res.warnings], [[], []]);
  });

  it('reads the first slice of a universal Mach-O, and ignores a Java class file that shares its magic', async () => {
    const thin = readFileSync(join(await langBinaries(), 'go', 'app-darwin'));
    const head = Buffer.alloc(4096);
    head.writeUInt32BE(0xcafebabe, 0);
    head.writeUInt32BE(1, 4);
    head.writeUInt32BE(0x01000007, 8); // CPU_TYPE_X86_64
    head.writeUInt32BE(3, 12);
    head.writeUInt32BE(4096, 16);
    head.writeUInt32BE(thin.length, 20);
    head.writeUInt32BE(12, 24);
    const fat = Buffer.concat([head, thin]);
    const warnings: string[] = [];
    const fatOut = goBinary.analyze(
      { path: 'bin/fat', size: fat.length, data: fat },
      { warn: (r) => warnings.push(r) },
    );
    const thinOut = goBinary.analyze(
      { path: 'bin/fat', size: thin.length, data: thin },
      { warn: (r) => warnings.push(r) },
    );
    assert.deepEqual(fatOut, thinOut);
    assert.ok((fatOut.packages?.length ?? 0) > 1);
    const klass = Buffer.from('cafebabe0000004100ff', 'hex');
    const out = goBinary.analyze(
      { path: 'bin/A.class', size: klass.length, data: klass },
      { warn: (r) => warnings.push(r) },
    );
    assert.deepEqual([out, warnings], [{}, []]);
  });

  it('wants executables of plausible size only', () => {
    assert.ok(goBinary.wants('usr/bin/app', { size: 2 << 20, mode: 0o100755 }));
    assert.ok(goBinary.wants('app/tool.exe', { size: 2 << 20, mode: 0o100644 }));
    assert.ok(!goBinary.wants('usr/bin/app', { size: 2 << 20, mode: 0o100644 }));
    assert.ok(!goBinary.wants('usr/bin/tiny', { size: 4096, mode: 0o100755 }));
    assert.ok(!goBinary.wants('usr/bin/huge', { size: 1 << 30, mode: 0o100755 }));
    assert.ok(!goBinary.wants('usr/bin/app'));
  });
});

/**
 * A minimal ELF executable holding pre-Go-1.18 build info: the header's two pointers lead to Go string
 * headers {data, len} in a writable PT_LOAD segment, in the given byte order and pointer size. With
 * `section`, a `.go.buildinfo` section names the blob; without, it sits at the start of the data segment.
 */
function oldStyleElf(opts: {
  ptr: 4 | 8;
  big: boolean;
  section: boolean;
  vers: string;
  mod: string;
}): Buffer {
  const { ptr, big } = opts;
  const is64 = ptr === 8;
  const ehsize = is64 ? 64 : 52;
  const phsize = is64 ? 56 : 32;
  const shsize = is64 ? 64 : 40;
  const dataOff = 0x100;
  const base = 0x10000;
  const vers = Buffer.from(opts.vers);
  const framed = Buffer.concat([
    Buffer.alloc(16, 0x30),
    Buffer.from(`${opts.mod}\n`),
    Buffer.alloc(16, 0x31),
  ]);
  // data segment: [32-byte header][vers string header][mod string header][vers][mod]
  const hdrVers = 32;
  const hdrMod = 32 + 2 * ptr;
  const strVers = 32 + 4 * ptr;
  const strMod = strVers + vers.length;
  const data = Buffer.alloc(strMod + framed.length);
  const w = (off: number, v: number) => {
    if (ptr === 8) big ? data.writeBigUInt64BE(BigInt(v), off) : data.writeBigUInt64LE(BigInt(v), off);
    else big ? data.writeUInt32BE(v, off) : data.writeUInt32LE(v, off);
  };
  data.write('\xff Go buildinf:', 0, 'latin1');
  data[14] = ptr;
  data[15] = big ? 1 : 0;
  w(16, base + hdrVers);
  w(16 + ptr, base + hdrMod);
  w(hdrVers, base + strVers);
  w(hdrVers + ptr, vers.length);
  w(hdrMod, base + strMod);
  w(hdrMod + ptr, framed.length);
  vers.copy(data, strVers);
  framed.copy(data, strMod);

  const names = Buffer.from('\0.shstrtab\0.go.buildinfo\0');
  const namesOff = dataOff + data.length;
  const shoff = namesOff + names.length;
  const nsec = opts.section ? 3 : 0;
  const out = Buffer.alloc(shoff + nsec * shsize);
  const u16 = (o: number, v: number) => (big ? out.writeUInt16BE(v, o) : out.writeUInt16LE(v, o));
  const u32 = (o: number, v: number) => (big ? out.writeUInt32BE(v, o) : out.writeUInt32LE(v, o));
  const word = (o: number, v: number) => {
    if (is64) big ? out.writeBigUInt64BE(BigInt(v), o) : out.writeBigUInt64LE(BigInt(v), o);
    else u32(o, v);
  };
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, big ? 2 : 1, 1], 0);
  u16(16, 2); // ET_EXEC
  word(is64 ? 0x20 : 0x1c, ehsize); // phoff
  word(is64 ? 0x28 : 0x20, nsec ? shoff : 0); // shoff
  u16(is64 ? 0x36 : 0x2a, phsize);
  u16(is64 ? 0x38 : 0x2c, 1);
  u16(is64 ? 0x3a : 0x2e, shsize);
  u16(is64 ? 0x3c : 0x30, nsec);
  u16(is64 ? 0x3e : 0x32, nsec ? 1 : 0);
  // one PT_LOAD, read+write
  const ph = ehsize;
  u32(ph, 1);
  if (is64) {
    u32(ph + 4, 6);
    word(ph + 8, dataOff);
    word(ph + 16, base);
    word(ph + 32, data.length);
    word(ph + 40, data.length);
  } else {
    u32(ph + 4, dataOff);
    u32(ph + 8, base);
    u32(ph + 16, data.length);
    u32(ph + 20, data.length);
    u32(ph + 24, 6);
  }
  data.copy(out, dataOff);
  names.copy(out, namesOff);
  if (opts.section) {
    const sh = (
      i: number,
      name: number,
      type: number,
      flags: number,
      addr: number,
      off: number,
      size: number,
    ) => {
      const o = shoff + i * shsize;
      u32(o, name);
      u32(o + 4, type);
      word(o + 8, flags);
      word(is64 ? o + 16 : o + 12, addr);
      word(is64 ? o + 24 : o + 16, off);
      word(is64 ? o + 32 : o + 20, size);
    };
    sh(1, 1, 3, 0, 0, namesOff, names.length);
    sh(2, 11, 1, 3, base, dataOff, data.length);
  }
  return out;
}

describe('pre-1.18 build info (pointer form), both byte orders and pointer sizes', () => {
  const mod = [
    'path\texample.com/old',
    'mod\texample.com/old\tv1.4.0\th1:abc=',
    'dep\tgithub.com/pkg/errors\tv0.9.1\th1:def=',
    'dep\tgolang.org/x/text\tv0.3.0',
    '=>\tgolang.org/x/text\tv0.3.7\th1:ghi=',
  ].join('\n');
  for (const ptr of [4, 8] as const) {
    for (const big of [false, true]) {
      for (const section of [true, false]) {
        it(`${ptr * 8}-bit ${big ? 'big' : 'little'}-endian, ${section ? 'in .go.buildinfo' : 'at the data start'}`, () => {
          const elf = oldStyleElf({ ptr, big, section, vers: 'go1.16.15', mod });
          const ra = bufferAccess(elf);
          const info = readGoBuildInfo(openExecutable(ra, 'elf'), ra);
          assert.deepEqual(info, { goVersion: 'go1.16.15', modInfo: `${mod}\n` });
          assert.deepEqual(ids(goBinaryPackages(info!, 'bin/old')), [
            'example.com/old@v1.4.0',
            'github.com/pkg/errors@v0.9.1',
            'golang.org/x/text@v0.3.7',
            'stdlib@1.16.15',
          ]);
        });
      }
    }
  }

  it('a pointer to an unmapped address is a warning, not a crash', () => {
    const elf = oldStyleElf({ ptr: 8, big: false, section: true, vers: 'go1.16', mod });
    elf.writeBigUInt64LE(0xdead0000n, 0x100 + 16);
    const warnings: string[] = [];
    const out = goBinary.analyze(
      { path: 'bin/x', size: elf.length, data: elf },
      { warn: (r) => warnings.push(r) },
    );
    assert.deepEqual(out, {});
    assert.match(warnings[0]!, /unmapped address/);
  });
});

describe('Go version and module info text', () => {
  it('maps toolchain tags to OSV stdlib versions (golang.org/x/vuln GoTagToSemver, without the v)', () => {
    const cases: [string, string | undefined][] = [
      ['go1.19.8', '1.19.8'],
      ['go1.20', '1.20.0'],
      ['go1.21rc2', '1.21.0-rc.2'],
      ['go1.9beta1', '1.9.0-beta.1'],
      ['go1.22.1 X:boringcrypto', '1.22.1'],
      ['go1', '1.0.0'],
      ['devel go1.23-a1b2c3 Tue Jan 1 2024', undefined],
      ['gccgo', undefined],
    ];
    for (const [tag, want] of cases) assert.equal(goStdlibVersion(tag), want, tag);
  });

  it('reads path, mod, dep, => and build lines', () => {
    const mi = parseGoModInfo(
      'path\tx/cmd\nmod\tx\t(devel)\t\ndep\ta\tv1\th1:a\n=>\t./a\t(devel)\t\ndep\tb\tv2\nbuild\tCGO_ENABLED=0\n',
    );
    assert.equal(mi.path, 'x/cmd');
    assert.deepEqual(mi.main, { path: 'x', version: '(devel)' });
    assert.deepEqual(mi.deps, [
      { path: 'a', version: 'v1', sum: 'h1:a', replace: { path: './a', version: '(devel)' } },
      { path: 'b', version: 'v2' },
    ]);
    assert.deepEqual(mi.settings, { CGO_ENABLED: '0' });
  });
});

describe('gosum analyzer over the trivy go.sum fixtures', () => {
  const cases = langCases('gosum');
  it('has fixtures', () => assert.ok(cases.length >= 3));
  for (const c of cases) {
    it(c.case, async () => {
      const abs = join(c.dir, c.input);
      for (const mode of ['data', 'spool'] as const) {
        const res = await runLang(gosum, 'src/app/go.sum', abs, mode);
        assert.ok(res.wanted);
        assert.deepEqual(res.warnings, []);
        assert.deepEqual(ids(res.packages), ids(expectedVersioned(c)));
        assert.ok(res.packages.every((p) => p.extra?.goSum === true && p.foundBy === 'lockfile'));
      }
    });
  }

  it('keeps the highest version of each module and reports malformed lines', () => {
    const warnings: string[] = [];
    const m = parseGoSum(
      'a.io/x v1.2.0 h1:abc=\na.io/x v1.10.0/go.mod h1:def=\nb.io/y v0.1.0-20200101000000-abcdefabcdef h1:x=\nnot a line\n',
      (w) => warnings.push(w),
    );
    assert.deepEqual(
      [...m],
      [
        ['a.io/x', 'v1.10.0'],
        ['b.io/y', 'v0.1.0-20200101000000-abcdefabcdef'],
      ],
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /line 4/);
  });

  it('a go.sum beside a go.mod gives way to it; a go.sum alone is kept', () => {
    const pkg = (path: string, name: string, goSum: boolean): Package => ({
      type: 'go',
      name,
      version: 'v1.0.0',
      path,
      foundBy: 'lockfile',
      ...(goSum ? { extra: { goSum: true } } : {}),
    });
    const out = dedupePackages([
      pkg('app/go.mod', 'used.io/a', false),
      pkg('app/go.sum', 'used.io/a', true),
      pkg('app/go.sum', 'looked-at.io/b', true),
      pkg('lib/go.sum', 'only-sum.io/c', true),
    ]);
    assert.deepEqual(
      out.map((p) => `${p.path} ${p.name}`),
      ['app/go.mod used.io/a', 'lib/go.sum only-sum.io/c'],
    );
  });
});
