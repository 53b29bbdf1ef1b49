import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Analyzer } from '../../src/analyzers/types.js';
import { MoatError } from '../../src/errors.js';
import type { LayerDescriptor } from '../../src/image/types.js';
import { type AnalyzeOptions, analyzeLayer, readAliases, sweepSpool } from '../../src/scan/layer.js';
import { buildTarGz, type TarSpec } from './tar-builder.js';
import { content, dpkgLike, osLike, parseStatus, status, TEST_ANALYZERS } from './test-analyzers.js';

const tmp = mkdtempSync(join(tmpdir(), 'moat-layer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const spool = join(tmp, 'tmp');

const STATUS = 'var/lib/dpkg/status';
const LAYER: LayerDescriptor = {
  index: 0,
  digest: 'sha256:aaaa',
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

function opts(over: Partial<AnalyzeOptions> = {}): AnalyzeOptions {
  return {
    analyzers: TEST_ANALYZERS,
    tmpDir: spool,
    maxLayerBytes: 1e9,
    maxFileBytes: 1e8,
    memoryCap: 1e6,
    ...over,
  };
}

function run(entries: TarSpec[], over: Partial<AnalyzeOptions> = {}) {
  return analyzeLayer(Readable.from([buildTarGz(entries)]), LAYER, opts(over));
}

async function rejects(p: Promise<unknown>, code: string, ...needles: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MoatError, `expected MoatError, got ${e}`);
    assert.equal(e.code, code, e.message);
    for (const n of needles) assert.ok(e.message.includes(n), `"${e.message}" should mention ${n}`);
    return true;
  });
}

describe('analyzeLayer', () => {
  it('runs analyzers on wanted files and records links, whiteouts and opaque dirs', async () => {
    const st = status('bash=5.2-1', 'coreutils=9.1-1');
    const r = await run([
      { path: './etc/', type: 'dir' },
      { path: './etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      { path: './usr/lib/os-release', body: 'ID=debian\nVERSION_ID="12"\n' },
      { path: './var/lib/dpkg/status', body: st },
      { path: './var/lib/dpkg/status-hard', type: 'hardlink', linkname: './var/lib/dpkg/status' },
      { path: './var/cache/.wh.apt', body: '' },
      { path: './opt/app/.wh..wh..opq', body: '' },
      { path: './.wh.tmp', body: '' },
      { path: './usr/.wh..wh.plnk', body: '' },
      { path: './usr/bin/unwanted', body: Buffer.alloc(50_000, 1) },
    ]);
    assert.deepEqual(
      r.outputs.map((o) => [o.path, o.analyzer]),
      [
        ['usr/lib/os-release', 'os-test'],
        ['var/lib/dpkg/status', 'dpkg-test'],
      ],
    );
    const pkgs = r.outputs.find((o) => o.analyzer === 'dpkg-test')!.output.packages!;
    assert.deepEqual(pkgs, parseStatus(st, 'var/lib/dpkg/status'));
    assert.deepEqual(r.symlinks, [['etc/os-release', '../usr/lib/os-release']]);
    assert.deepEqual(r.hardlinks, [['var/lib/dpkg/status-hard', 'var/lib/dpkg/status']]);
    assert.deepEqual(r.whiteouts.sort(), ['tmp', 'var/cache/apt']);
    assert.deepEqual(r.opaqueDirs, ['opt/app']);
    assert.deepEqual(r.files.sort(), ['usr/bin/unwanted', 'usr/lib/os-release', 'var/lib/dpkg/status']);
    assert.deepEqual(r.dirs, ['etc']);
    assert.equal(r.entries, 10);
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r, 'JSON-serialisable for the cache');
  });

  it('spools files above the memory cap to the cache tmp dir and removes them afterwards', async () => {
    const big = status(...Array.from({ length: 3000 }, (_, i) => `pkg${i}=1.${i}`));
    const seen: { spool?: string; data: boolean; existed: boolean; dir: string }[] = [];
    const probe: Analyzer = {
      ...dpkgLike,
      name: 'probe',
      analyze: (f) => {
        seen.push({
          spool: f.spoolPath,
          data: f.data !== undefined,
          existed: !!f.spoolPath && existsSync(f.spoolPath),
          dir: spool,
        });
        return { packages: parseStatus(content(f), f.path) };
      },
    };
    const r = await run([{ path: 'var/lib/dpkg/status', body: big }], {
      analyzers: [probe],
      memoryCap: 10_000,
    });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.data, false);
    assert.ok(seen[0]!.spool?.startsWith(spool), 'spooled under the cache tmp dir');
    assert.ok(seen[0]!.existed);
    assert.equal(r.outputs[0]!.output.packages!.length, 3000);
    assert.deepEqual(readdirSync(spool), [], 'spool file removed');
  });

  it('skips files over an analyzer maxSize (or the global cap) with a warning', async () => {
    const small: Analyzer = { ...dpkgLike, maxSize: 100 };
    const r = await run([{ path: 'var/lib/dpkg/status', body: status('a=1', 'b=2', 'c=3') }], {
      analyzers: [small],
    });
    assert.equal(r.outputs.length, 0);
    assert.equal(r.warnings.length, 1);
    assert.equal(r.warnings[0]!.code, 'file-too-large');
    assert.match(r.warnings[0]!.message, /sha256:aaaa.*var\/lib\/dpkg\/status/);
    const r2 = await run([{ path: 'var/lib/dpkg/status', body: status('a=1') }], { maxFileBytes: 10 });
    assert.equal(r2.warnings[0]!.code, 'file-too-large');
  });

  it('turns analyzer failures into warnings naming the file and layer, and goes on', async () => {
    const boom: Analyzer = {
      ...osLike,
      name: 'boom',
      analyze: () => Promise.reject(new Error('cannot parse')),
    };
    const r = await run(
      [
        { path: 'etc/os-release', body: 'ID=x' },
        { path: 'var/lib/dpkg/status', body: status('a=1') },
      ],
      { analyzers: [boom, dpkgLike] },
    );
    assert.equal(r.outputs.length, 1);
    assert.equal(r.warnings[0]!.code, 'analyzer-failed');
    assert.match(
      r.warnings[0]!.message,
      /layer sha256:aaaa: etc\/os-release: boom analyzer failed: cannot parse/,
    );
    assert.equal(r.warnings[0]!.subject, 'sha256:aaaa:etc/os-release');
  });

  it('passes analyzer warnings through', async () => {
    const picky: Analyzer = {
      ...dpkgLike,
      analyze: (f, ctx) => {
        ctx.warn('odd stanza');
        return { packages: parseStatus(content(f), f.path) };
      },
    };
    const r = await run([{ path: 'var/lib/dpkg/status', body: status('a=1') }], { analyzers: [picky] });
    assert.equal(r.outputs.length, 1);
    assert.match(r.warnings[0]!.message, /var\/lib\/dpkg\/status: dpkg-test: odd stanza/);
  });

  it('fails with LAYER_TOO_LARGE past the decompressed cap', async () => {
    await rejects(
      run([{ path: 'big', body: Buffer.alloc(300_000) }], { maxLayerBytes: 100_000 }),
      'LAYER_TOO_LARGE',
      'sha256:aaaa',
      '100000',
    );
  });

  it('fails with LAYER_TOO_LARGE on a declared size beyond the cap, before reading it', async () => {
    await rejects(
      run([{ path: 'var/lib/dpkg/status', body: 'x', size: 2 ** 42, base256: true }], { maxLayerBytes: 1e9 }),
      'LAYER_TOO_LARGE',
      'var/lib/dpkg/status',
      String(2 ** 42),
    );
  });

  it('fails on a huge declared size of a skipped file as a truncated layer', async () => {
    await rejects(
      run([{ path: 'junk', body: 'x', size: 2 ** 29 }], { maxLayerBytes: 2 ** 30 }),
      'CORRUPT_LAYER',
      'truncated',
    );
  });

  it('fails with PATH_TRAVERSAL naming the layer and the entry', async () => {
    await rejects(
      run([{ path: '../../etc/passwd', body: 'root:x:0:0' }]),
      'PATH_TRAVERSAL',
      'sha256:aaaa',
      '../../etc/passwd',
    );
    await rejects(run([{ path: '/etc/passwd', body: 'root:x:0:0' }]), 'PATH_TRAVERSAL', '/etc/passwd');
  });

  it('fails on a truncated layer and leaves no spool file behind', async () => {
    const gz = buildTarGz([
      { path: 'var/lib/dpkg/status', body: status(...Array.from({ length: 500 }, (_, i) => `p${i}=1`)) },
    ]);
    const tar = gunzipSync(gz);
    const cut = gzipSync(tar.subarray(0, 9000));
    await rejects(
      analyzeLayer(Readable.from([cut]), LAYER, opts({ memoryCap: 100 })),
      'CORRUPT_LAYER',
      'truncated',
      'var/lib/dpkg/status',
    );
    assert.deepEqual(readdirSync(spool), []);
  });

  it('keeps only the last occurrence of a path written twice in one layer', async () => {
    const twice = await run([
      { path: STATUS, body: status('old=1') },
      { path: STATUS, body: status('new=2') },
    ]);
    assert.deepEqual(
      twice.outputs.flatMap((o) => o.output.packages!.map((p) => p.name)),
      ['new'],
    );
    const replaced = await run([
      { path: STATUS, body: status('old=1') },
      { path: STATUS, type: 'symlink', linkname: '/elsewhere' },
    ]);
    assert.deepEqual(replaced.outputs, []);
  });

  it('sweeps spool files left by a killed run, but not recent ones or other files', () => {
    const dir = join(tmp, 'sweep');
    mkdirSync(dir);
    for (const f of ['spool-1-old', 'spool-2-new', 'unrelated']) writeFileSync(join(dir, f), 'x');
    const past = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(join(dir, 'spool-1-old'), past, past);
    utimesSync(join(dir, 'unrelated'), past, past);
    sweepSpool(dir);
    assert.deepEqual(readdirSync(dir).sort(), ['spool-2-new', 'unrelated']);
    sweepSpool(join(tmp, 'no-such-dir'));
  });

  it('re-reads requested files under their alias path', async () => {
    const gz = buildTarGz([
      { path: 'usr/lib/sysimage/rpm/Packages', body: 'bash=5\nzlib=1.3\n' },
      { path: 'var/lib/rpm', type: 'symlink', linkname: '../../usr/lib/sysimage/rpm' },
    ]);
    const r = await readAliases(
      { blob: Readable.from([gz]) },
      LAYER,
      [
        {
          real: 'usr/lib/sysimage/rpm/Packages',
          as: 'var/lib/rpm/Packages',
          analyzer: 'rpm-test',
          entry: 'usr/lib/sysimage/rpm/Packages',
        },
      ],
      opts(),
    );
    assert.deepEqual(
      r.outputs.map((o) => [
        o.path,
        o.entry,
        o.output.packages!.map((p) => `${p.name}=${p.version}@${p.path}`),
      ]),
      [
        [
          'var/lib/rpm/Packages',
          'usr/lib/sysimage/rpm/Packages',
          ['bash=5@var/lib/rpm/Packages', 'zlib=1.3@var/lib/rpm/Packages'],
        ],
      ],
    );
  });
});

const IMAGES = process.env.MOAT_TEST_IMAGES ?? '/var/tmp/moat-test-images';
describe('analyzeLayer on a real base layer', { skip: !existsSync(join(IMAGES, 'oci/index.json')) }, () => {
  it('hands analyzers the same bytes GNU tar extracts', async () => {
    const oci = join(IMAGES, 'oci');
    const blobPath = (d: string) => join(oci, 'blobs', d.replace(':', '/'));
    const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8'));
    const desc = index.manifests.find(
      (m: { annotations?: Record<string, string> }) =>
        m.annotations?.['org.opencontainers.image.ref.name'] === 'base',
    );
    const layer = JSON.parse(readFileSync(blobPath(desc.digest), 'utf8')).layers[0];
    const hashes = new Map<string, string>();
    const hasher: Analyzer = {
      name: 'hash',
      version: 1,
      maxSize: 1e8,
      wants: (p) => p === 'var/lib/dpkg/status' || p === 'usr/lib/os-release',
      analyze: (f) => {
        hashes.set(f.path, createHash('sha256').update(f.data!).digest('hex'));
        return {};
      },
    };
    const r = await analyzeLayer(
      createReadStream(blobPath(layer.digest)),
      { index: 0, ...layer },
      opts({ analyzers: [hasher] }),
    );
    const listing = execFileSync('tar', ['-tzf', blobPath(layer.digest)], {
      maxBuffer: 64 << 20,
      encoding: 'utf8',
    });
    const members = listing.split('\n').filter((l) => l !== '' && l !== './');
    for (const path of hashes.keys()) {
      const member = members.find((m) => m.replace(/^\.\//, '') === path)!;
      const bytes = execFileSync('tar', ['-xzOf', blobPath(layer.digest), member], { maxBuffer: 64 << 20 });
      assert.equal(hashes.get(path), createHash('sha256').update(bytes).digest('hex'), path);
    }
    assert.deepEqual([...hashes.keys()].sort(), ['usr/lib/os-release', 'var/lib/dpkg/status']);
    assert.equal(r.entries, members.length);
  });
});
