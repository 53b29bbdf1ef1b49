// Generates the OCI layout that bench/scan-memory.mjs scans: one gzip layer holding the `base` test
// image's real dpkg status and os-release, an rpm database larger than moat's in-memory cap (so it is
// spooled to disk and read page by page), and ~1 GiB of other files. Written once into /var/tmp and
// reused while its stamp matches. Usage: node bench/make-big-image.mjs [OUT_DIR]
import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import Database from 'better-sqlite3';
import { FIXTURES, IMAGES } from './lib.mjs';

/** bumped when the generated content changes, so that cached layouts are rebuilt */
const GENERATOR_VERSION = 1;
export const BIG_REF = 'big';
export const DEFAULT_BIG_DIR = '/var/tmp/moat-bench-images/big-1g';
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** moat's in-memory cap for wanted files is 16 MiB (DEFAULT_MEMORY_CAP in src/scan/layer.ts) */
const RPMDB_BYTES = 40 * MiB;

/** The layout (generated when missing or stale); returns its directory and the layer's sizes. */
export async function ensureBigImage({ dir = DEFAULT_BIG_DIR, fillerBytes = GiB, log = console.error } = {}) {
  const stampPath = join(dir, 'stamp.json');
  const want = { version: GENERATOR_VERSION, fillerBytes };
  if (existsSync(stampPath)) {
    const stamp = JSON.parse(readFileSync(stampPath, 'utf8'));
    if (
      stamp.version === want.version &&
      stamp.fillerBytes === want.fillerBytes &&
      existsSync(join(dir, 'index.json'))
    ) {
      return { dir, ref: BIG_REF, ...stamp };
    }
  }
  log(`generating ${dir} (${fillerBytes} bytes of filler; once, then cached)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const t0 = Date.now();

  const rootfs = join(IMAGES, 'rootfs', 'base');
  const status = readFileSync(join(rootfs, 'var', 'lib', 'dpkg', 'status'));
  const osRelease = readFileSync(join(rootfs, 'etc', 'os-release'));
  const rpmdb = paddedRpmDb(dir);

  const tmp = join(dir, 'layer.tmp');
  const diffHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let tarBytes = 0;
  let blobBytes = 0;
  await pipeline(
    Readable.from(tarStream({ status, osRelease, rpmdb, fillerBytes })),
    tap((c) => {
      diffHash.update(c);
      tarBytes += c.length;
    }),
    createGzip({ level: 1, chunkSize: 256 * 1024 }),
    tap((c) => {
      blobHash.update(c);
      blobBytes += c.length;
    }),
    createWriteStream(tmp),
  );
  const layerDigest = `sha256:${blobHash.digest('hex')}`;
  renameSync(tmp, blobPath(dir, layerDigest));

  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffHash.digest('hex')}`] },
      history: [{ created_by: 'bench/make-big-image.mjs: status, os-release, rpmdb and filler' }],
    }),
  );
  const configDigest = putBlob(dir, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: blobBytes },
      ],
    }),
  );
  const manifestDigest = putBlob(dir, manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': BIG_REF },
        },
      ],
    }),
  );
  const stamp = { ...want, tarBytes, blobBytes, layer: blobPath(dir, layerDigest), rpmdbBytes: rpmdb.length };
  writeFileSync(stampPath, JSON.stringify(stamp));
  log(`generated in ${((Date.now() - t0) / 1000).toFixed(1)} s: tar ${tarBytes} B, gzip ${blobBytes} B`);
  return { dir, ref: BIG_REF, ...stamp };
}

function blobPath(dir, digest) {
  return join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

function putBlob(dir, buf) {
  const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
  writeFileSync(blobPath(dir, digest), buf);
  return digest;
}

function tap(fn) {
  return new Transform({
    transform(chunk, _enc, cb) {
      fn(chunk);
      cb(null, chunk);
    },
  });
}

/**
 * A real rpm database (CBL-Mariner 2.0's rpmdb.sqlite from the analyzer fixtures) grown past the
 * in-memory cap with a padding table: real rpmdb.sqlite files of large distributions reach tens of MiB
 * through their index tables, which the analyzer never reads either.
 */
function paddedRpmDb(dir) {
  const p = join(dir, 'rpmdb.tmp');
  copyFileSync(join(FIXTURES, 'pkgdb', 'rpm-sqlite', 'cbl-mariner-2.0', 'rpmdb.sqlite'), p);
  const db = new Database(p);
  db.pragma('journal_mode = DELETE');
  db.exec('CREATE TABLE bench_padding (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  const put = db.prepare('INSERT INTO bench_padding (data) VALUES (?)');
  const rows = Math.ceil((RPMDB_BYTES - statSync(p).size) / (64 * 1024));
  db.transaction(() => {
    for (let i = 0; i < rows; i++) put.run(randomBytes(64 * 1024));
  })();
  db.close();
  const buf = readFileSync(p);
  rmSync(p);
  if (buf.length <= 16 * MiB) throw new Error(`padded rpmdb is only ${buf.length} bytes`);
  return buf;
}

/** ustar header for a regular file (names here are short ASCII) */
function header(name, size, type = '0') {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(type === '5' ? '0000755\0' : '0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('14707464460\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i];
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

const pad = (n) => Buffer.alloc((512 - (n % 512)) % 512);

/** a deterministic generator (xorshift32): the same layout on every machine run */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/**
 * The layer's tar, in ~4 MiB chunks. Filler content is hex text of random bytes (compresses about 2:1,
 * like typical layer content), sliced at varying offsets from a 32 MiB pool: ~24k small files (512 B to
 * 32 KiB, as in /usr/share) and six large ones (as libraries, models or archives in real images).
 */
async function* tarStream({ status, osRelease, rpmdb, fillerBytes }) {
  const random = rng(42);
  const pool = Buffer.from(randomBytes(16 * MiB).toString('hex'), 'latin1');
  let out = [];
  let outLen = 0;
  const push = (b) => {
    out.push(b);
    outLen += b.length;
  };
  const flush = () => {
    const c = Buffer.concat(out, outLen);
    out = [];
    outLen = 0;
    return c;
  };
  const dirs = new Set();
  const parents = (name) => {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = `${parts.slice(0, i).join('/')}/`;
      if (!dirs.has(d)) {
        dirs.add(d);
        push(header(d, 0, '5'));
      }
    }
  };
  const file = function* (name, content) {
    parents(name);
    push(header(name, content.length));
    push(content);
    push(pad(content.length));
    if (outLen >= 4 * MiB) yield flush();
  };
  const slice = (size) => {
    const at = Math.floor(random() * (pool.length - size));
    return pool.subarray(at, at + size);
  };

  yield* file('etc/os-release', osRelease);
  yield* file('var/lib/dpkg/status', status);
  yield* file('var/lib/rpm/rpmdb.sqlite', rpmdb);
  const largeEach = Math.floor((fillerBytes * 0.6) / 6);
  let left = fillerBytes - largeEach * 6;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, 512 + Math.floor(random() * 32 * 1024));
    left -= size;
    yield* file(
      `usr/share/bench/d${String(i >> 8).padStart(3, '0')}/f${String(i).padStart(5, '0')}.txt`,
      slice(size),
    );
  }
  for (let i = 0; i < 6; i++) {
    const name = `opt/bench/large-${i}.bin`;
    parents(name);
    push(header(name, largeEach));
    for (let done = 0; done < largeEach; ) {
      const n = Math.min(8 * MiB, largeEach - done);
      push(slice(n));
      done += n;
      if (outLen >= 4 * MiB) yield flush();
    }
    push(pad(largeEach));
  }
  push(Buffer.alloc(1024));
  yield flush();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await ensureBigImage({ dir: process.argv[2] ?? DEFAULT_BIG_DIR });
  console.log(JSON.stringify(r));
}
