import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MoatError } from '../../src/errors.js';
import { openDir } from '../../src/image/dir.js';
import type { LayerEntry } from '../../src/image/types.js';
import { collectInventory } from '../../src/scan/inventory.js';
import { parseStatus, status, TEST_ANALYZERS } from '../scan/test-analyzers.js';

const tmp = mkdtempSync(join(tmpdir(), 'moat-dir-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// a small root filesystem with the traps a hostile rootfs would set
const root = join(tmp, 'rootfs');
const outside = join(tmp, 'outside-secret');
writeFileSync(outside, 'ID=host-secret\n');
for (const d of ['etc', 'usr/lib', 'var/lib/dpkg/status.d', 'srv/rpmdb'])
  mkdirSync(join(root, d), { recursive: true });
writeFileSync(join(root, 'usr/lib/os-release'), 'ID=debian\nVERSION_ID="12"\n');
symlinkSync('../usr/lib/os-release', join(root, 'etc/os-release'));
writeFileSync(join(root, 'var/lib/dpkg/status'), status('bash=5.2', 'zlib=1.3'));
writeFileSync(join(root, 'var/lib/dpkg/status.d/tzdata'), status('tzdata=2024a'));
// absolute symlink to a host file: inside the image it means <root>/..., which does not exist
symlinkSync(outside, join(root, 'etc/host-link'));
symlinkSync('/etc/passwd', join(root, 'etc/lsb-release'));
// a symlinked directory whose target holds a wanted file under another name
writeFileSync(join(root, 'srv/rpmdb/Packages'), 'rpm=4.18\n');
mkdirSync(join(root, 'var/lib'), { recursive: true });
symlinkSync('../../srv/rpmdb', join(root, 'var/lib/rpm'));

describe('openDir', () => {
  it('rejects a missing path or a file with NOT_FOUND naming the path', async () => {
    for (const p of [join(tmp, 'missing'), outside]) {
      await assert.rejects(
        openDir(p),
        (e: unknown) => e instanceof MoatError && e.code === 'NOT_FOUND' && e.message.includes(p),
      );
    }
  });

  it('walks every entry with lstat, in name order, recording symlinks without following them', async () => {
    const img = await openDir(root);
    assert.equal(img.source, 'dir');
    assert.equal(img.layers.length, 1);
    const seen: LayerEntry[] = [];
    await img.walk!({
      entry: (e) => {
        seen.push(e);
        return false;
      },
      content: () => assert.fail('nothing was wanted'),
    });
    const byPath = new Map(seen.map((e) => [e.path, e]));
    assert.deepEqual(byPath.get('etc/host-link'), {
      path: 'etc/host-link',
      type: 'symlink',
      size: 0,
      mode: byPath.get('etc/host-link')!.mode,
      linkname: outside,
    });
    assert.equal(byPath.get('var/lib/rpm')?.type, 'symlink');
    assert.equal(byPath.get('var/lib/rpm/Packages'), undefined, 'did not descend through the symlink');
    assert.equal(
      byPath.get('usr/lib/os-release')?.size,
      readFileSync(join(root, 'usr/lib/os-release')).length,
    );
    const paths = seen.map((e) => e.path);
    const expected = (function list(rel: string): string[] {
      return readdirSync(join(root, rel), { withFileTypes: true })
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .flatMap((d) => {
          const p = rel ? `${rel}/${d.name}` : d.name;
          return d.isDirectory() ? [p, ...list(p)] : [p];
        });
    })('');
    assert.deepEqual(paths, expected);
  });

  it('hands wanted files in memory, or spooled under spoolDir above memoryCap', async () => {
    const img = await openDir(root);
    const spoolDir = join(tmp, 'spool');
    const got: { path: string; data?: string; spool?: string }[] = [];
    await img.walk!({
      entry: (e) => e.path === 'var/lib/dpkg/status' || e.path === 'usr/lib/os-release',
      content: (e, d) =>
        got.push({
          path: e.path,
          data: d.data?.toString(),
          spool: d.spoolPath && readFileSync(d.spoolPath, 'utf8'),
        }),
      memoryCap: 100,
      spoolDir,
    });
    assert.deepEqual(got, [
      {
        path: 'usr/lib/os-release',
        data: readFileSync(join(root, 'usr/lib/os-release'), 'utf8'),
        spool: undefined,
      },
      {
        path: 'var/lib/dpkg/status',
        data: undefined,
        spool: readFileSync(join(root, 'var/lib/dpkg/status'), 'utf8'),
      },
    ]);
  });
});

describe('collectInventory over dir:', () => {
  it('finds the packages and OS, resolves links inside the root and never caches', async () => {
    const cacheDir = join(tmp, 'cache');
    const inv = await collectInventory(await openDir(root), {
      analyzers: TEST_ANALYZERS,
      cacheDir,
      memoryCap: 50,
    });
    const expected = [
      ...parseStatus(readFileSync(join(root, 'var/lib/dpkg/status'), 'utf8'), 'var/lib/dpkg/status'),
      ...parseStatus(
        readFileSync(join(root, 'var/lib/dpkg/status.d/tzdata'), 'utf8'),
        'var/lib/dpkg/status.d/tzdata',
      ),
      // read through var/lib/rpm → ../../srv/rpmdb
      { type: 'rpm', name: 'rpm', version: '4.18', path: 'var/lib/rpm/Packages' },
    ];
    assert.deepEqual(
      inv.packages.map(({ layer, ...p }) => p).sort((a, b) => a.name.localeCompare(b.name)),
      expected.sort((a, b) => a.name.localeCompare(b.name)),
    );
    assert.deepEqual(inv.layers, [{ index: 0, digest: `dir:${root}` }]);
    assert.deepEqual(
      inv.osHints.map((h) => h.os.family),
      ['debian'],
    );
    assert.equal(existsSync(join(cacheDir, 'layers.sqlite')), false, 'dir: sources are not cached');
    assert.deepEqual(
      existsSync(join(cacheDir, 'tmp')) ? readdirSync(join(cacheDir, 'tmp')) : [],
      [],
      'spool files removed',
    );
    assert.ok(!JSON.stringify(inv).includes('host-secret'));
  });
});
