import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Finding } from '../../src/model/finding.js';
import type { Package } from '../../src/model/package.js';
import { importOsv } from '../../src/vulndb/import.js';
import { matchPackages } from '../../src/vulndb/matcher.js';
import { openVulnDb } from '../../src/vulndb/store.js';
import { DEBIAN_12, DEBIAN_ZIP, extractZip, fixture, ORACLE, readTsv, statusPackages } from './helpers.js';

/**
 * Debian matching against the ground truth: six real dpkg status files, the stored findings of the oracle
 * (test/scripts/debian-expected.sh, every comparison by `dpkg --compare-versions`), and — when dpkg and jq are
 * installed — a fresh run of the oracle on the records extracted from the same zip the database is built from.
 */
const ROOTS = [
  'minbase-bookworm-only',
  'minbase-all-suites',
  'extras-bookworm-only',
  'extras-all-suites',
  'image-base-old',
  'image-base',
];

const hasTool = (t: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const ORACLE_TOOLS = hasTool('dpkg') && hasTool('jq') && hasTool('bash');

/** The oracle's line format: binary, installed, source, source version, record id, fixed version. */
function asOracleLines(findings: Finding[]): string[] {
  const out: string[] = [];
  for (const f of findings) {
    const p = f.package;
    for (const r of f.records) {
      out.push(
        [
          p.name,
          p.version,
          p.matchedName ?? p.name,
          p.matchedVersion ?? p.version,
          r,
          f.fixedVersion ?? '',
        ].join('\t'),
      );
    }
  }
  return out.sort();
}

describe('Debian 12 matching agrees with the oracle', () => {
  let dbPath = '';
  let recordsDir = '';
  const packages = new Map<string, Package[]>();

  let dir = '';
  after(() => rmSync(dir, { recursive: true, force: true }));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'moat-vulndb-'));
    dbPath = join(dir, 'vulndb.sqlite');
    await importOsv(dbPath, DEBIAN_ZIP);
    if (ORACLE_TOOLS) {
      recordsDir = join(dir, 'records');
      await extractZip(DEBIAN_ZIP, recordsDir);
    }
    for (const r of ROOTS) packages.set(r, await statusPackages(fixture('ground-truth', `${r}.status`)));
  });

  for (const root of ROOTS) {
    it(`${root}: findings equal the stored oracle output`, () => {
      const db = openVulnDb(dbPath);
      try {
        const got = asOracleLines(matchPackages(db, { os: DEBIAN_12, packages: packages.get(root)! }));
        const expected = readTsv(fixture('ground-truth', `${root}.expected.tsv`)).sort();
        assert.deepEqual(got, expected);
        if (expected.length === 0) {
          // an empty expectation must come from versions, not from missing data: most of these sources have records
          const sources = [...new Set(packages.get(root)!.map((p) => p.source?.name ?? p.name))];
          const covered = db.affected(['Debian:12', 'Debian'], sources).length;
          assert.ok(
            covered > 100,
            `${root}: only ${covered} records for its ${sources.length} source packages`,
          );
        }
      } finally {
        db.close();
      }
    });
  }

  it('the ground truth is not empty: the bookworm-only roots have findings', () => {
    for (const root of ['minbase-bookworm-only', 'extras-bookworm-only', 'image-base-old']) {
      assert.ok(
        readTsv(fixture('ground-truth', `${root}.expected.tsv`)).length > 0,
        `${root} has expected findings`,
      );
    }
  });

  it('findings carry source-package remediation and the fixing source version', () => {
    const db = openVulnDb(dbPath);
    try {
      const findings = matchPackages(db, { os: DEBIAN_12, packages: packages.get('extras-bookworm-only')! });
      // binNMU: libbrotli1 1.0.9-2+b6 is built from brotli 1.0.9-2, which is what is compared
      const brotli = findings.find((f) => f.package.name === 'libbrotli1');
      assert.ok(brotli, 'libbrotli1 has a finding');
      assert.equal(brotli.package.matchedName, 'brotli');
      assert.notEqual(brotli.package.matchedVersion, brotli.installedVersion);
      assert.equal(brotli.status, 'fixed');
      assert.match(
        brotli.remediation,
        new RegExp(
          `^Upgrade libbrotli1 to a version built from source package brotli ${brotli.fixedVersion!.replace(/[+.]/g, '\\$&')} or later$`,
        ),
      );
      assert.match(brotli.id, /^CVE-\d{4}-\d+$/);
      assert.ok(brotli.aliases.includes(brotli.records[0]!), 'the DEBIAN-CVE record id is an alias');
      // a binary named like its source at the source version: plain wording
      const apt = findings.find((f) => f.package.name === 'apt');
      assert.ok(apt);
      assert.equal(apt.package.matchedName, undefined);
      assert.equal(apt.remediation, `Upgrade apt to ${apt.fixedVersion} or later`);
      // the changelog-derived records have no severity (their urgency is the upload's): UNKNOWN
      assert.ok(findings.every((f) => f.severity === 'UNKNOWN' && f.severitySource === 'none'));
      assert.ok(findings.every((f) => f.title && f.references.length > 0 && f.ecosystem === 'Debian:12'));
    } finally {
      db.close();
    }
  });

  it('the oracle, run now with dpkg --compare-versions, gives the same findings', {
    skip: !ORACLE_TOOLS && 'needs dpkg and jq',
  }, async () => {
    const run = promisify(execFile);
    const db = openVulnDb(dbPath);
    try {
      // two at a time: the oracle is a shell script that calls dpkg once per version pair
      const queue = [...ROOTS];
      const worker = async (): Promise<void> => {
        for (let root = queue.shift(); root; root = queue.shift()) {
          const status = fixture('ground-truth', `${root}.status`);
          const { stdout } = await run('bash', [ORACLE, status, recordsDir], { maxBuffer: 64 * 1024 * 1024 });
          const oracle = stdout
            .split('\n')
            .filter((l) => l !== '')
            .sort();
          assert.deepEqual(
            oracle,
            readTsv(fixture('ground-truth', `${root}.expected.tsv`)).sort(),
            `${root}: stored TSV is current`,
          );
          const got = asOracleLines(matchPackages(db, { os: DEBIAN_12, packages: packages.get(root)! }));
          assert.deepEqual(got, oracle, `${root}: moat agrees with the oracle`);
        }
      };
      await Promise.all([worker(), worker()]);
    } finally {
      db.close();
    }
  });
});
