import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MoatError } from '../../src/errors.js';
import { normalizePath, TarReader } from '../../src/image/tar.js';
import type { LayerEntry } from '../../src/image/types.js';
import { buildTar, header, type TarSpec } from '../scan/tar-builder.js';

interface Read {
  entries: LayerEntry[];
  bodies: Map<string, Buffer>;
  done: boolean;
}

/** Parses `tar` fed in chunks of `chunk` bytes, asking for the bodies `want` accepts. */
function parse(
  tar: Buffer,
  chunk = 65536,
  want: (e: LayerEntry) => boolean = () => true,
  layer = 'sha256:test',
): Read {
  const entries: LayerEntry[] = [];
  const bodies = new Map<string, Buffer>();
  let parts: Buffer[] = [];
  const r = new TarReader(
    {
      entry: (e) => {
        entries.push(e);
        parts = [];
        return want(e);
      },
      data: (c) => parts.push(Buffer.from(c)),
      end: (e) => bodies.set(e.path, Buffer.concat(parts)),
    },
    layer,
  );
  for (let o = 0; o < tar.length; o += chunk) r.push(tar.subarray(o, o + chunk));
  r.end();
  return { entries, bodies, done: r.done };
}

function expectError(fn: () => unknown, code: string, ...needles: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MoatError, `expected MoatError, got ${e}`);
    assert.equal(e.code, code);
    for (const n of needles) assert.ok(e.message.includes(n), `"${e.message}" should mention ${n}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'moat-tar-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('TarReader on archives written by GNU tar', () => {
  // a tree with a long name, a symlink, a hardlink, an empty file and a multi-block file
  const root = join(tmp, 'tree');
  const longDir = `deep/${'d'.repeat(60)}/${'e'.repeat(60)}`;
  const files: Record<string, Buffer> = {
    'etc/os-release': Buffer.from('ID=test\n'),
    'empty.txt': Buffer.alloc(0),
    [`${longDir}/${'f'.repeat(90)}.txt`]: Buffer.from('long name body'),
    'big.bin': Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251)),
  };
  mkdirSync(join(root, longDir), { recursive: true });
  mkdirSync(join(root, 'etc'));
  for (const [p, b] of Object.entries(files)) writeFileSync(join(root, p), b);
  symlinkSync('../big.bin', join(root, 'etc/link'));
  linkSync(join(root, 'big.bin'), join(root, 'hard.bin'));

  for (const format of ['gnu', 'pax', 'ustar', 'v7'] as const) {
    it(`reads --format=${format}`, () => {
      const archive = join(tmp, `${format}.tar`);
      // v7 has no room for long names (nor a magic): it gets the short-named part of the tree
      const members = format === 'v7' ? ['./etc', './big.bin', './hard.bin', './empty.txt'] : ['.'];
      execFileSync('tar', ['--format', format, '-C', root, '-cf', archive, ...members]);
      const listed = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l !== '' && l !== './')
        .map((l) => normalizePath(l, 'x'));
      for (const chunk of [1, 511, 512, 513, 65536]) {
        const r = parse(readFileSync(archive), chunk);
        assert.deepEqual(
          r.entries.map((e) => e.path),
          listed,
          `chunk ${chunk}`,
        );
        const hl = r.entries.find((e) => e.type === 'hardlink')!;
        for (const [p, b] of Object.entries(files)) {
          if (!listed.includes(p)) continue;
          // one of big.bin / hard.bin carries the body, the other links to it
          const path = p === hl.path ? hl.linkname! : p;
          assert.deepEqual(r.bodies.get(path), b, `${p} chunk ${chunk}`);
        }
        const link = r.entries.find((e) => e.path === 'etc/link');
        assert.equal(link?.type, 'symlink');
        assert.equal(link?.linkname, '../big.bin');
        // tar stores the second name of an inode as a hardlink to the first one archived
        const hard = r.entries.filter((e) => e.path === 'hard.bin' || e.path === 'big.bin');
        assert.equal(hard.filter((e) => e.type === 'hardlink').length, 1);
        assert.equal(hl.linkname, hl.path === 'hard.bin' ? 'big.bin' : 'hard.bin');
        assert.equal(r.entries.find((e) => e.path === 'etc')?.type, 'dir');
        assert.ok(r.done);
      }
    });
  }
});

describe('TarReader headers', () => {
  it('applies pax path, linkpath and size, and global headers', () => {
    const longPath = `a/${'x'.repeat(200)}/file`;
    const tar = buildTar(
      [
        { path: longPath, body: 'pax', pax: { path: longPath, mtime: '1.5', 'SCHILY.xattr.user.x': 'y' } },
        { path: 'l', type: 'symlink', pax: { path: 'l', linkpath: `/${'t'.repeat(150)}` } },
        { path: 'sized', body: 'abcdef', size: 0, pax: { size: '6' } },
      ],
      { globalPax: { comment: 'made by a test' } },
    );
    const r = parse(tar, 100);
    assert.deepEqual(
      r.entries.map((e) => [e.path, e.type, e.size]),
      [
        [longPath, 'file', 3],
        ['l', 'symlink', 0],
        ['sized', 'file', 6],
      ],
    );
    assert.equal(r.entries[1]!.linkname, `/${'t'.repeat(150)}`);
    assert.equal(r.bodies.get('sized')?.toString(), 'abcdef');
  });

  it('applies GNU long names and long link names', () => {
    const name = `${'n'.repeat(150)}/file`;
    const link = `${'k'.repeat(150)}/target`;
    const r = parse(
      buildTar([{ path: name, type: 'symlink', linkname: link, gnuLong: true }, { path: 'after' }]),
    );
    assert.equal(r.entries[0]!.path, name);
    assert.equal(r.entries[0]!.linkname, link);
    assert.equal(r.entries[1]!.path, 'after');
  });

  it('reads base-256 sizes', () => {
    const body = Buffer.alloc(700, 7);
    const r = parse(
      buildTar([
        { path: 'b256', body, base256: true },
        { path: 'next', body: 'n' },
      ]),
    );
    assert.equal(r.entries[0]!.size, 700);
    assert.deepEqual(r.bodies.get('b256'), body);
    assert.equal(r.bodies.get('next')?.toString(), 'n');
  });

  it('hands over only wanted bodies and skips the rest', () => {
    const r = parse(
      buildTar([
        { path: 'skip', body: Buffer.alloc(100_000, 1) },
        { path: 'keep', body: 'kept' },
      ]),
      4096,
      (e) => e.path === 'keep',
    );
    assert.deepEqual([...r.bodies.keys()], ['keep']);
    assert.equal(r.bodies.get('keep')?.toString(), 'kept');
  });

  it('maps entry types and ignores bodies of header-only types', () => {
    const r = parse(
      buildTar([
        { path: 'd/', type: 'dir' },
        { path: 'old-style-dir/', typeflag: '\0' },
        { path: 'fifo', type: 'fifo' },
        { path: 'h', type: 'hardlink', linkname: './d/../fifo' },
      ]),
    );
    assert.deepEqual(
      r.entries.map((e) => [e.path, e.type, e.linkname]),
      [
        ['d', 'dir', undefined],
        ['old-style-dir', 'dir', undefined],
        ['fifo', 'other', undefined],
        ['h', 'hardlink', 'fifo'],
      ],
    );
  });

  it('accepts an archive without end blocks that stops at an entry boundary, and a lone zero block', () => {
    assert.equal(parse(buildTar([{ path: 'a', body: 'x' }], { end: false })).entries.length, 1);
    const lone = Buffer.concat([buildTar([{ path: 'a', body: 'x' }], { end: false }), Buffer.alloc(512)]);
    assert.equal(parse(lone).entries.length, 1);
  });

  it('ignores data after the end-of-archive marker (record padding)', () => {
    const tar = Buffer.concat([
      buildTar([{ path: 'a', body: 'x' }]),
      Buffer.alloc(8192),
      Buffer.from('junk'),
    ]);
    const r = parse(tar);
    assert.ok(r.done);
    assert.equal(r.entries.length, 1);
  });
});

describe('TarReader on hostile input', () => {
  it('rejects a bad checksum with CORRUPT_LAYER naming the layer', () => {
    const tar = buildTar([
      { path: 'ok', body: 'x' },
      { path: 'bad', body: 'y', badChecksum: true },
    ]);
    expectError(
      () => parse(tar, 65536, () => true, 'sha256:feed'),
      'CORRUPT_LAYER',
      'sha256:feed',
      'checksum',
    );
  });

  it('rejects an archive truncated inside a body or a header', () => {
    const tar = buildTar([
      { path: 'a', body: Buffer.alloc(2000, 1) },
      { path: 'b', body: 'x' },
    ]);
    expectError(() => parse(tar.subarray(0, 1000)), 'CORRUPT_LAYER', 'sha256:test', 'truncated', '"a"');
    expectError(() => parse(tar.subarray(0, 2560 + 100)), 'CORRUPT_LAYER', 'truncated');
  });

  it('rejects a truncated pax header', () => {
    const tar = buildTar([{ path: 'p', body: 'x', pax: { path: 'p' } }]);
    expectError(() => parse(tar.subarray(0, 1024)), 'CORRUPT_LAYER', 'truncated');
  });

  it('rejects a huge declared size when the data is not there', () => {
    const tar = buildTar([{ path: 'huge', body: 'x', size: 2 ** 40, base256: true }], { end: true });
    expectError(() => parse(tar), 'CORRUPT_LAYER', 'truncated', 'huge');
  });

  it('rejects a size beyond 2^53 and garbage numbers', () => {
    const h = header('x', { typeflag: '0', size: 0 });
    h.fill(0xfe, 124, 136);
    h[124] = 0x80;
    // recompute the checksum so only the size is wrong
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
    expectError(() => parse(Buffer.concat([h, Buffer.alloc(1024)])), 'CORRUPT_LAYER', 'size');
  });

  it('rejects data after a lone zero block', () => {
    const tar = Buffer.concat([Buffer.alloc(512), buildTar([{ path: 'a' }])]);
    expectError(() => parse(tar), 'CORRUPT_LAYER', 'zero block');
  });

  it('rejects random bytes', () => {
    const junk = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919) % 256));
    expectError(() => parse(junk), 'CORRUPT_LAYER', 'bad tar header');
  });

  const traversal: [TarSpec, string][] = [
    [{ path: '../../etc/passwd', body: 'root' }, 'escapes the image root'],
    [{ path: 'a/../../etc/passwd', body: 'root' }, 'escapes the image root'],
    [{ path: '/etc/passwd', body: 'root' }, 'absolute path'],
    [{ path: 'x', pax: { path: '../evil' } }, 'escapes the image root'],
    [{ path: `${'../'.repeat(40)}etc/shadow`, gnuLong: true }, 'escapes the image root'],
    [{ path: 'h', type: 'hardlink', linkname: '../../etc/shadow' }, 'escapes the image root'],
    [{ path: 'h', type: 'hardlink', linkname: '/etc/shadow' }, 'absolute path'],
  ];
  for (const [spec, why] of traversal) {
    it(`refuses ${spec.linkname ? `hardlink to ${spec.linkname}` : spec.path.slice(0, 30)} (${why})`, () => {
      expectError(
        () => parse(buildTar([spec]), 65536, () => true, 'sha256:bad'),
        'PATH_TRAVERSAL',
        'sha256:bad',
        why,
      );
    });
  }

  it('keeps symlink targets as written (they are resolved inside the image later)', () => {
    const r = parse(buildTar([{ path: 'escape', type: 'symlink', linkname: '../../../../etc/shadow' }]));
    assert.equal(r.entries[0]!.linkname, '../../../../etc/shadow');
  });
});

describe('normalizePath', () => {
  const cases: [string, string | undefined][] = [
    ['./usr/bin/', 'usr/bin'],
    ['usr//lib///x', 'usr/lib/x'],
    ['./', undefined],
    ['.', undefined],
    ['a/./b/../c', 'a/c'],
    ['plain/path', 'plain/path'],
    ['..foo/bar..', '..foo/bar..'],
    ['.wh..wh..opq', '.wh..wh..opq'],
  ];
  for (const [raw, want] of cases) {
    it(`${JSON.stringify(raw)} → ${JSON.stringify(want)}`, () => assert.equal(normalizePath(raw, 'l'), want));
  }
});
