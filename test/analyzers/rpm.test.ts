import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parseRpmHeader, parseSourceRpm, type RpmHeaderInfo } from '../../src/analyzers/rpm/header.js';
import { readRpmDatabase, rpm } from '../../src/analyzers/rpm.js';
import type { FileInput } from '../../src/analyzers/types.js';
import { caseDir, caseFiles, expectedOf, PKGDB, pkgdbCases, runAnalyzer } from './helpers.js';

type ExpectedRpm = Omit<RpmHeaderInfo, 'packager'>;

/** The header fields expected.json records (everything but PACKAGER). */
function info(h: RpmHeaderInfo): ExpectedRpm {
  const { packager: _p, ...rest } = h;
  return rest;
}

function headersOf(file: FileInput): { headers: ExpectedRpm[]; warnings: string[]; threw?: string } {
  const headers: ExpectedRpm[] = [];
  const warnings: string[] = [];
  try {
    readRpmDatabase(
      file,
      (blob) => headers.push(info(parseRpmHeader(blob))),
      (w) => warnings.push(w),
    );
  } catch (e) {
    return { headers, warnings, threw: (e as Error).message };
  }
  return { headers, warnings };
}

const key = (p: {
  name: string;
  epoch?: number | null;
  version: string;
  release: string;
  arch?: string | null;
}) => `${p.name}|${p.epoch ?? ''}|${p.version}|${p.release}|${p.arch ?? ''}`;

/** Expected package identity as moat reports it, derived from an expected.json row. */
function expectedPackage(p: ExpectedRpm, path: string) {
  const evr = `${p.version}-${p.release}`;
  const src = p.sourceRpm ? parseSourceRpm(p.sourceRpm) : undefined;
  return {
    name: p.name,
    version: p.epoch === null ? evr : `${p.epoch}:${evr}`,
    epoch: p.epoch ?? undefined,
    upstreamVersion: p.version,
    release: p.release,
    arch: p.arch ?? undefined,
    source: src && {
      name: src.name,
      version:
        p.epoch === null ? `${src.version}-${src.release}` : `${p.epoch}:${src.version}-${src.release}`,
    },
    license: p.license ?? undefined,
    modularityLabel: p.modularityLabel ?? undefined,
    path,
  };
}

const DB_DIRS = ['var/lib/rpm/', 'usr/lib/sysimage/rpm/', 'usr/share/rpm/'];

describe('rpm analyzer over the shared pkgdb fixtures', () => {
  const cases = [...pkgdbCases('rpm-bdb'), ...pkgdbCases('rpm-sqlite'), ...pkgdbCases('rpm-ndb')];
  it('has fixtures of every backend', () => {
    for (const f of ['rpm-bdb', 'rpm-sqlite', 'rpm-ndb'])
      assert.ok(
        cases.some((c) => c.format === f),
        f,
      );
  });
  for (const c of cases) {
    it(`${c.format}/${c.case}`, async () => {
      const exp = expectedOf(c);
      const want = exp.packages as ExpectedRpm[];
      for (const [i, dir] of DB_DIRS.entries()) {
        const mode = i % 2 === 0 ? 'data' : 'spool';
        const res = await runAnalyzer(
          rpm,
          caseFiles(c, (p) => dir + p),
          mode,
        );
        assert.equal(res.wanted.length, 1);
        if (exp.expect_error) {
          assert.equal(res.packages.length, 0);
          assert.ok(res.warnings.length > 0, 'an unreadable database is reported');
          continue;
        }
        assert.deepEqual(
          res.packages.map((p) => p.name),
          want.map((p) => p.name),
          `${mode}: packages in the database's own order`,
        );
        const got = res.packages.map((p) => ({
          name: p.name,
          version: p.version,
          epoch: p.epoch,
          upstreamVersion: p.upstreamVersion,
          release: p.release,
          arch: p.arch,
          source: p.source,
          license: p.license,
          modularityLabel: p.extra?.modularityLabel,
          path: p.path,
        }));
        assert.deepEqual(
          got,
          want.map((p) => expectedPackage(p, dir + c.files[0])),
        );
        // a readable database is read without complaint (the btree index case may say what it is)
        if (want.length > 0) assert.deepEqual(res.warnings, []);
      }
      // every header field, compared as a set keyed by name+epoch+version+release+arch
      const got = headersOf({
        path: `var/lib/rpm/${c.files[0]}`,
        size: 0,
        data: readFileSync(join(caseDir(c), c.files[0]!)),
      });
      if (exp.expect_error) {
        assert.equal(got.headers.length, 0);
        assert.ok(got.threw, 'opening must fail');
        return;
      }
      const byKey = new Map(got.headers.map((h) => [key(h), h]));
      assert.equal(byKey.size, want.length);
      for (const p of want) assert.deepEqual(byKey.get(key(p)), p);
    });
  }
});

describe('rpm headers (rpm-header fixtures: raw blobs of CentOS 5–8)', () => {
  for (const c of pkgdbCases('rpm-header')) {
    it(c.case, () => {
      const exp = expectedOf(c);
      assert.equal(exp.headers.length, exp.package_count);
      for (const h of exp.headers as { file: string; package: ExpectedRpm }[]) {
        assert.deepEqual(info(parseRpmHeader(readFileSync(join(caseDir(c), h.file)))), h.package, h.file);
      }
    });
  }
});

const GENERATED = join(PKGDB, 'generated', 'rpm-bdb');

describe('rpm Berkeley DB variants (generated by db5.3_load, listed by rpm 4.18)', () => {
  const dirs = readdirSync(GENERATED);
  it('covers page sizes, byte orders, checksums, inline items and bucket chains', () =>
    assert.ok(dirs.length >= 7));
  for (const d of dirs) {
    it(d, () => {
      const exp = JSON.parse(readFileSync(join(GENERATED, d, 'expected.json'), 'utf8'));
      const path = join(GENERATED, d, 'Packages');
      for (const file of [
        { path: 'var/lib/rpm/Packages', size: 0, data: readFileSync(path) },
        { path: 'var/lib/rpm/Packages', size: 0, spoolPath: path },
      ] satisfies FileInput[]) {
        const got = headersOf(file);
        assert.equal(got.threw, undefined);
        assert.deepEqual(got.warnings, []);
        // the same order as rpm's cursor (bucket by bucket)
        assert.deepEqual(got.headers, exp.packages);
      }
    });
  }
});

describe('rpm wants', () => {
  it('takes the three backends in the three database folders', () => {
    for (const dir of DB_DIRS) {
      for (const f of ['Packages', 'Packages.db', 'rpmdb.sqlite']) assert.ok(rpm.wants(dir + f), dir + f);
    }
    for (const p of [
      'var/lib/rpm/Name',
      'var/lib/rpm/rpmdb.sqlite-shm',
      'var/lib/rpm/sub/Packages',
      'Packages',
    ]) {
      assert.equal(rpm.wants(p), false, p);
    }
  });
});

describe('rpm source package names', () => {
  it('splits name-version-release.src.rpm', () => {
    assert.deepEqual(parseSourceRpm('util-linux-2.32.1-42.el8_8.src.rpm'), {
      name: 'util-linux',
      version: '2.32.1',
      release: '42.el8_8',
    });
    assert.deepEqual(parseSourceRpm('perl-Carp-1.42-396.el8.nosrc.rpm')?.name, 'perl-Carp');
    assert.equal(parseSourceRpm('(none)'), undefined);
    assert.equal(parseSourceRpm('foo.src.rpm'), undefined);
  });
});

// ---- hostile input -------------------------------------------------------------------------------------

interface BdbView {
  buf: Buffer;
  le: boolean;
  pageSize: number;
  u32(at: number): number;
  setU32(at: number, v: number): void;
  /** page numbers by page type */
  pages(type: number): number[];
}

function bdb(name: string): BdbView {
  const buf = Buffer.from(readFileSync(join(GENERATED, name, 'Packages')));
  const le = buf.readUInt32LE(12) === 0x061561;
  const u32 = (at: number) => (le ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const pageSize = u32(20);
  return {
    buf,
    le,
    pageSize,
    u32,
    setU32: (at, v) => (le ? buf.writeUInt32LE(v, at) : buf.writeUInt32BE(v, at)),
    pages: (type) => {
      const out: number[] = [];
      for (let p = 1; p * pageSize < buf.length; p++) if (buf[p * pageSize + 25] === type) out.push(p);
      return out;
    },
  };
}

function analyzeBuffer(data: Buffer, path = 'var/lib/rpm/Packages') {
  const warnings: string[] = [];
  const out = rpm.analyze({ path, size: data.length, data }, { warn: (w) => warnings.push(w) });
  assert.ok(!('then' in out));
  return { packages: out.packages ?? [], warnings };
}

describe('rpm on hostile Berkeley DB files', () => {
  const P_OVERFLOW = 7;
  const P_HASH = 13;
  const total = (name: string) =>
    JSON.parse(readFileSync(join(GENERATED, name, 'expected.json'), 'utf8')).package_count;

  it('stops an overflow chain that loops onto itself', () => {
    const v = bdb('p512-be-overflow');
    const first = v.pages(P_OVERFLOW)[0]!;
    v.setU32(first * v.pageSize + 16, first);
    const t = Date.now();
    const { packages, warnings } = analyzeBuffer(v.buf);
    assert.ok(Date.now() - t < 2000);
    assert.equal(packages.length, total('p512-be-overflow') - 1);
    assert.equal(warnings.length, 1);
  });

  it('stops an overflow chain that points back to an earlier page', () => {
    const v = bdb('p512-be-overflow');
    const ovf = v.pages(P_OVERFLOW);
    const last = ovf.find((p) => v.u32(p * v.pageSize + 16) === 0)!;
    v.setU32(last * v.pageSize + 16, ovf[0]!);
    const { packages, warnings } = analyzeBuffer(v.buf);
    assert.ok(packages.length < total('p512-be-overflow'));
    assert.ok(warnings.length >= 1);
  });

  it('refuses a huge declared off-page length without allocating it', () => {
    const v = bdb('p4096-le-all');
    const page = v.pages(P_HASH)[0]!;
    const base = page * v.pageSize;
    // second item of the page (the first value) is an H_OFFPAGE entry: type(1) pad(3) pgno(4) tlen(4)
    const off = v.buf.readUInt16LE(base + 26 + 2);
    assert.equal(v.buf[base + off], 3);
    v.setU32(base + off + 8, 0xfffffff0);
    const { packages, warnings } = analyzeBuffer(v.buf);
    assert.equal(packages.length, total('p4096-le-all') - 1);
    assert.match(warnings.join(), /declares 4294967280 bytes/);
  });

  it('refuses overflow chains shared between items (no quadratic walk)', () => {
    const v = bdb('p512-le-chains');
    let first = -1;
    let items = 0;
    for (const page of v.pages(P_HASH)) {
      const base = page * v.pageSize;
      const n = v.buf.readUInt16LE(base + 20);
      for (let i = 1; i < n; i += 2) {
        const off = v.buf.readUInt16LE(base + 26 + i * 2);
        if (v.buf[base + off] !== 3) continue;
        if (first < 0) first = v.u32(base + off + 4);
        else v.setU32(base + off + 4, first);
        items++;
      }
    }
    assert.ok(items > 40);
    const { packages, warnings } = analyzeBuffer(v.buf);
    assert.equal(packages.length, 1);
    assert.ok(warnings.some((w) => /linked twice/.test(w)));
  });

  it('stops a bucket page chain that loops', () => {
    const v = bdb('p512-le-chains');
    const pages = v.pages(P_HASH);
    for (const p of pages) v.setU32(p * v.pageSize + 16, p);
    const { warnings } = analyzeBuffer(v.buf);
    assert.ok(warnings.some((w) => /linked twice/.test(w)));
  });

  it('rejects a meta page declaring more buckets than pages', () => {
    const v = bdb('p1024-be-buckets');
    v.setU32(72, 0xffffffff);
    const { packages, warnings } = analyzeBuffer(v.buf);
    assert.equal(packages.length, 0);
    assert.match(warnings[0]!, /buckets/);
  });

  it('rejects bad page sizes and unknown versions', () => {
    for (const [at, value, why] of [
      [20, 1000, /page size/],
      [20, 0, /page size/],
      [16, 99, /version/],
    ] as const) {
      const v = bdb('p4096-le-all');
      v.setU32(at, value);
      const { packages, warnings } = analyzeBuffer(v.buf);
      assert.equal(packages.length, 0);
      assert.match(warnings[0]!, why);
    }
  });

  it('reads what a truncated file still holds', () => {
    const v = bdb('p4096-le-all');
    const { packages, warnings } = analyzeBuffer(v.buf.subarray(0, Math.floor(v.buf.length / 2)));
    assert.ok(packages.length < total('p4096-le-all'));
    assert.ok(warnings.length > 0);
  });

  it('survives random corruption quickly', () => {
    // deterministic pseudo-random byte flips over every page kind
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (const name of ['p512-le-chains', 'p4096-le-all', 'p65536-be-inline', 'p1024-le-chksum']) {
      for (let round = 0; round < 30; round++) {
        const v = bdb(name);
        for (let i = 0; i < 40; i++) v.buf[rand() % v.buf.length] = rand() & 0xff;
        const t = Date.now();
        const { packages } = analyzeBuffer(v.buf);
        assert.ok(packages.length <= total(name) + 1);
        assert.ok(Date.now() - t < 2000, `${name} round ${round} took too long`);
      }
    }
  });
});

describe('rpm on hostile headers', () => {
  const good = readFileSync(join(PKGDB, 'rpm-header', 'centos7-plain', 'findutils-4.5.11-5.el7.hdr'));
  const withU32 = (at: number, value: number) => () => {
    const b = Buffer.from(good);
    b.writeUInt32BE(value, at);
    return parseRpmHeader(b);
  };
  it('rejects huge declared counts and lengths', () => {
    assert.throws(withU32(0, 0xffffffff), /index entries/);
    assert.throws(withU32(4, 0x7fffffff), /bytes of data/);
    assert.throws(withU32(4, 0x10000), /needs/);
    assert.throws(() => parseRpmHeader(good.subarray(0, 7)), /truncated/);
    assert.throws(() => parseRpmHeader(good.subarray(0, 1000)), /needs/);
  });
  it('ignores entries pointing outside the data and strings without a terminator', () => {
    const b = Buffer.from(good);
    const il = b.readUInt32BE(0);
    const dl = b.readUInt32BE(4);
    for (let i = 0; i < il; i++) {
      const at = 8 + i * 16;
      if (b.readUInt32BE(at) === 1004) b.writeInt32BE(dl + 100, at + 8); // SUMMARY beyond the data
      if (b.readUInt32BE(at) === 1014) b.writeInt32BE(-5, at + 8); // LICENSE at a negative offset
    }
    // the last string of the store loses its NUL
    b[8 + il * 16 + dl - 1] = 0x41;
    const h = parseRpmHeader(b);
    assert.equal(h.name, 'findutils');
    assert.equal(h.summary, null);
    assert.equal(h.license, null);
  });
  it('reports a header without a name as unreadable, and goes on', () => {
    const b = Buffer.from(good);
    const il = b.readUInt32BE(0);
    for (let i = 0; i < il; i++) if (b.readUInt32BE(8 + i * 16) === 1000) b.writeUInt32BE(99999, 8 + i * 16);
    assert.throws(() => parseRpmHeader(b), /NAME/);
  });
});

describe('rpm on hostile NDB and SQLite files', () => {
  const ndbPath = join(PKGDB, 'rpm-ndb', 'sle15-bci', 'Packages.db');
  it('rejects a huge slot page count', () => {
    const b = Buffer.from(readFileSync(ndbPath));
    b.writeUInt32LE(0xffffffff, 12);
    const { packages, warnings } = analyzeBuffer(b, 'var/lib/rpm/Packages.db');
    assert.equal(packages.length, 0);
    assert.match(warnings[0]!, /slot pages/);
  });
  it('skips blobs declaring lengths beyond their blocks', () => {
    const b = Buffer.from(readFileSync(ndbPath));
    const blk = b.readUInt32LE(32 + 8);
    b.writeUInt32LE(0x7fffffff, blk * 16 + 12);
    const { packages, warnings } = analyzeBuffer(b, 'var/lib/rpm/Packages.db');
    assert.equal(packages.length, expectedOf(pkgdbCases('rpm-ndb')[0]!).package_count - 1);
    assert.equal(warnings.length, 1);
  });

  it('stops when slots share blobs', () => {
    const b = Buffer.from(readFileSync(ndbPath));
    // the slot of the largest blob
    let big = 32;
    for (let at = 32; at < 4096; at += 16) if (b.readUInt32LE(at + 12) > b.readUInt32LE(big + 12)) big = at;
    const slot0 = [b.readUInt32LE(big + 4), b.readUInt32LE(big + 8), b.readUInt32LE(big + 12)];
    // every slot claims the first package's blob (same index, so each blob head still checks out)
    for (let at = 32; at < 4096; at += 16) {
      b.writeUInt32LE(slot0[0]!, at + 4);
      b.writeUInt32LE(slot0[1]!, at + 8);
      b.writeUInt32LE(slot0[2]!, at + 12);
    }
    const blobLen = b.readUInt32LE(slot0[1]! * 16 + 12);
    const { packages, warnings } = analyzeBuffer(b, 'var/lib/rpm/Packages.db');
    assert.ok(254 * blobLen > b.length, 'the shared blob is large enough to exceed the file');
    assert.equal(packages.length, Math.floor(b.length / blobLen));
    assert.match(warnings.at(-1)!, /overlapping/);
  });

  const dir = mkdtempSync(join(tmpdir(), 'moat-rpm-test-'));
  const sqlite = (name: string, sql: string[]): string => {
    const p = join(dir, name);
    const db = new Database(p);
    for (const s of sql) db.exec(s);
    db.close();
    return p;
  };
  it('refuses a Packages view that would never end', () => {
    const p = sqlite('view.sqlite', [
      'CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS hnum, x AS blob FROM c',
    ]);
    for (const file of [{ spoolPath: p }, { data: readFileSync(p) }]) {
      const warnings: string[] = [];
      const out = rpm.analyze(
        { path: 'var/lib/rpm/rpmdb.sqlite', size: 0, ...file },
        { warn: (w) => warnings.push(w) },
      );
      assert.ok(!('then' in out));
      assert.equal(out.packages?.length, 0);
      assert.match(warnings[0]!, /not a plain table/);
    }
  });
  it('refuses generated columns and skips rows that are not headers', () => {
    const p = sqlite('gen.sqlite', [
      'CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB GENERATED ALWAYS AS (zeroblob(100000000)))',
    ]);
    assert.match(analyzeBuffer(readFileSync(p), 'var/lib/rpm/rpmdb.sqlite').warnings[0]!, /generated column/);
    const q = sqlite('rows.sqlite', [
      'CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)',
      "INSERT INTO Packages (blob) VALUES (x'00'), ('text'), (x'ffffffffffffffff')",
    ]);
    const { packages, warnings } = analyzeBuffer(readFileSync(q), 'var/lib/rpm/rpmdb.sqlite');
    assert.equal(packages.length, 0);
    assert.equal(warnings.length, 2);
  });
  it('removes its temporary copy of a WAL-mode spool file', () => {
    const src = join(PKGDB, 'rpm-sqlite', 'cbl-mariner-2.0', 'rpmdb.sqlite');
    const spool = join(dir, 'spool.sqlite');
    writeFileSync(spool, readFileSync(src));
    const before = readdirSync(dir).sort();
    const out = rpm.analyze(
      { path: 'var/lib/rpm/rpmdb.sqlite', size: 0, spoolPath: spool },
      { warn: () => {} },
    );
    assert.ok(!('then' in out));
    assert.ok((out.packages?.length ?? 0) > 100);
    assert.deepEqual(readdirSync(dir).sort(), before);
    assert.deepEqual(readFileSync(spool), readFileSync(src), 'the spool file is left untouched');
  });
  it('cleans up', () => rmSync(dir, { recursive: true, force: true }));
});
