import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';
import { dpkg } from '../../src/analyzers/dpkg.js';
import type { OsInfo, Package } from '../../src/model/package.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'vulndb');
export const ORACLE = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'debian-expected.sh');

export const fixture = (...parts: string[]): string => join(FIXTURES, ...parts);

export const DEBIAN_ZIP = fixture('osv-export', 'Debian', 'all.zip');

export const DEBIAN_12: OsInfo = {
  family: 'debian',
  name: 'Debian GNU/Linux 12 (bookworm)',
  version: '12',
  codename: 'bookworm',
  ecosystem: 'Debian:12',
  source: 'etc/os-release',
};

/** A temp dir removed when the test ends. */
export function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'moat-vulndb-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Installed packages of a dpkg status file, read with moat's own dpkg analyzer (as a scan does). */
export async function statusPackages(path: string): Promise<Package[]> {
  const data = readFileSync(path);
  const warnings: string[] = [];
  const out = await dpkg.analyze(
    { path: 'var/lib/dpkg/status', size: data.length, data },
    { warn: (r) => warnings.push(r) },
  );
  if (warnings.length > 0) throw new Error(`dpkg analyzer warnings for ${path}: ${warnings.join('; ')}`);
  return out.packages ?? [];
}

/** Extracts every entry of a zip into `dir` (for the oracle, which reads a records folder). */
export function extractZip(zip: string, dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  return new Promise((resolve, reject) => {
    let n = 0;
    yauzl.open(zip, { lazyEntries: true }, (err, z) => {
      if (err || !z) return reject(err);
      z.on('error', reject);
      z.on('end', () => resolve(n));
      z.on('entry', (e: yauzl.Entry) => {
        if (e.fileName.endsWith('/') || e.fileName.includes('..')) return z.readEntry();
        z.openReadStream(e, (e2, s) => {
          if (e2 || !s) return reject(e2);
          pipeline(s, createWriteStream(join(dir, e.fileName.replaceAll('/', '_'))))
            .then(() => {
              n++;
              z.readEntry();
            })
            .catch(reject);
        });
      });
      z.readEntry();
    });
  });
}

/** Reads a TSV with a header line into rows. */
export function readTsv(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l !== '');
}
