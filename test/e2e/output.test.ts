/**
 * What a user sees: JSON that validates against the published schema, SARIF, the table, --output,
 * exit codes (--fail-on after --severity/--only-fixed), --quiet, options from flags, MOAT_* variables and
 * config files with their precedence, usage errors, `moat db status` and the stale-database warning.
 *
 * The Debian records carry no severity and always a fix, which would leave the filters nothing to do.
 * So this file imports a variant derived at run time from the real export: each record gets a Debian
 * tracker urgency (`affected[].ecosystem_specific.urgency`, as osv.dev's Debian records carry it) and
 * some lose their `fixed` events (affected with no fix), chosen by a hash of the record id. The oracle
 * checks the variant's findings too.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import {
  DEBIAN_ZIP,
  guarded,
  importedCache,
  type MoatRun,
  moat,
  moatJson,
  requireBuild,
  type Sandbox,
  sandbox,
  snapshot,
  snapshotDiff,
} from '../helpers/cli.js';
import { type TestImages, testImages } from '../helpers/registry.js';
import {
  bucket,
  extractZip,
  OracleRecords,
  oracle,
  type Report,
  rank,
  reportFindingKeys,
  SCHEMA,
  SEVERITIES,
  type Sev,
  setDiff,
  stable,
} from './lib.js';

let images: TestImages;
let sb: Sandbox;
let zipRecords: number;
let derived: OracleRecords;
let full: Report;
let ref: string;

const URGENCY = ['high', 'medium', 'low', 'unimportant', 'not yet assigned'] as const;

/** The variant described above, written next to the extracted records. */
function deriveRecords(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const file of readdirSync(from)) {
    const rec = JSON.parse(readFileSync(join(from, file), 'utf8')) as {
      id: string;
      affected?: {
        ecosystem_specific?: Record<string, unknown>;
        ranges?: { events: Record<string, string>[] }[];
      }[];
    };
    const urgency = URGENCY[bucket(`urgency:${rec.id}`, URGENCY.length)]!;
    const unfixed = bucket(`unfixed:${rec.id}`, 4) === 0;
    for (const a of rec.affected ?? []) {
      a.ecosystem_specific = { ...a.ecosystem_specific, urgency };
      if (unfixed) for (const r of a.ranges ?? []) r.events = r.events.filter((e) => !('fixed' in e));
    }
    writeFileSync(join(to, file), JSON.stringify(rec));
  }
}

before(async () => {
  requireBuild();
  images = await testImages();
  const prep = await sandbox();
  process.once('exit', () => prep.remove());
  const plain = join(prep.inputs, 'records');
  zipRecords = extractZip(DEBIAN_ZIP, plain);
  deriveRecords(plain, join(prep.inputs, 'derived'));
  derived = new OracleRecords(join(prep.inputs, 'derived'));
  sb = await sandbox({ cacheFrom: await importedCache([join(prep.inputs, 'derived')]) });
  ref = `oci:${images.oci}:base-old`;
  full = await moatJson<Report>(sb, ['scan', 'image', ref, '--list-packages']);
});
after(() => sb?.remove());

const scanJson = (...args: string[]): Promise<Report> =>
  moatJson<Report>(sb, ['scan', 'image', ref, ...args]);

function assertUsageError(r: MoatRun, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.equal(r.lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(r.lines[0]!, pattern);
}

describe('the derived data', () => {
  it('gives findings of several severities, some without a fix, as the oracle computes them', async () => {
    const severities = new Set(full.findings.map((f) => f.severity));
    assert.ok(severities.size >= 3, `severities ${[...severities]}`);
    assert.ok(full.findings.some((f) => f.status === 'no fix'));
    assert.ok(full.findings.some((f) => f.status === 'fixed'));
    const expected = await oracle(join(images.root, 'rootfs', 'base-old'), derived);
    assert.deepEqual(setDiff(reportFindingKeys(full), expected), { missing: [], extra: [] });
    for (const f of full.findings) assert.equal(f.fixedVersion === undefined, f.status === 'no fix', f.id);
  });
});

describe('report formats', () => {
  it('JSON validates against docs/schema/scan-report-1.0.json', async () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    (addFormatsPlugin as unknown as (a: Ajv2020) => void)(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));
    const reports: [string, unknown][] = [
      ['base-old --list-packages', full],
      ['base', await moatJson(sb, ['scan', 'image', `oci:${images.oci}:base`])],
      [
        'distroless',
        await moatJson(sb, ['scan', 'image', `oci:${images.oci}:distroless`, '--list-packages']),
      ],
      ['go-scratch', await moatJson(sb, ['scan', 'image', `oci:${images.oci}:go-scratch`])],
      ['stale db, filters', await scanJson('--db-max-age', '1ms', '--severity', 'HIGH,LOW', '--only-fixed')],
      ['dir:', await moatJson(sb, ['scan', 'image', `dir:${join(images.root, 'rootfs', 'python')}`])],
    ];
    for (const [what, r] of reports) {
      assert.ok(validate(r), `${what}: ${ajv.errorsText(validate.errors)}`);
    }
  });

  it('SARIF 2.1.0: one result per finding, one rule per vulnerability id', async () => {
    const r = await moat(sb, ['scan', 'image', ref, '--format', 'sarif']);
    assert.equal(r.code, 0, r.stderr);
    const sarif = JSON.parse(r.stdout) as {
      version: string;
      runs: {
        tool: { driver: { name: string; rules: { id: string }[] } };
        results: { ruleId: string; ruleIndex: number; level: string; properties: { package: string } }[];
      }[];
    };
    assert.equal(sarif.version, '2.1.0');
    assert.equal(sarif.runs.length, 1);
    const run = sarif.runs[0]!;
    assert.equal(run.tool.driver.name, 'moat');
    assert.equal(run.results.length, full.findings.length);
    const ruleIds = run.tool.driver.rules.map((x) => x.id);
    assert.equal(new Set(ruleIds).size, ruleIds.length, 'rule ids are unique');
    assert.deepEqual(new Set(ruleIds), new Set(full.findings.map((f) => f.id)));
    for (const res of run.results) {
      assert.equal(run.tool.driver.rules[res.ruleIndex]?.id, res.ruleId);
      assert.ok(['error', 'warning', 'note', 'none'].includes(res.level));
    }
    const pairs = (xs: string[]) => xs.sort();
    assert.deepEqual(
      pairs(run.results.map((x) => `${x.ruleId} ${x.properties.package}`)),
      pairs(full.findings.map((f) => `${f.id} ${f.package.name}`)),
    );
  });

  it('table: the counts, then one row per finding with package, id, severity, versions and layer', async () => {
    const r = await moat(sb, ['scan', 'image', ref]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`Packages: ${full.summary.packages}\\s+Findings: ${full.summary.findings}`),
    );
    assert.match(r.stdout, /Debian GNU\/Linux 12/);
    const lines = r.stdout.split('\n');
    const headerAt = lines.findIndex((l) => /^PACKAGE\s+VULNERABILITY\s+SEVERITY/.test(l));
    assert.ok(headerAt >= 0, r.stdout);
    // rows are grouped by package: the name is written on the group's first row only
    const rows: string[][] = [];
    let current = '';
    for (const l of lines.slice(headerAt + 2)) {
      if (!/^\S|^\s+\S/.test(l) || /^warning:/.test(l)) break;
      const cells = l.trim().split(/\s+/);
      if (/^\S/.test(l)) current = cells[0]!;
      else cells.unshift(current);
      rows.push(cells);
    }
    assert.equal(rows.length, full.findings.length, 'one row per finding');
    for (const f of full.findings) {
      const cells = rows.find((c) => c[0] === f.package.name && c[1] === f.id);
      assert.ok(cells, `no row for ${f.package.name} ${f.id}`);
      assert.equal(cells[2], f.severity);
      assert.ok(cells.includes(f.installedVersion));
      if (f.fixedVersion) assert.ok(cells.includes(f.fixedVersion));
    }
  });

  for (const format of ['json', 'sarif', 'table'] as const) {
    it(`--output FILE (${format}): the report goes to the file only, nothing else is written`, async () => {
      const file = join(sb.out, `report.${format}`);
      const before = snapshot(guarded(sb));
      const r = await moat(sb, ['scan', 'image', ref, '--format', format, '--output', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '');
      assert.deepEqual(
        snapshotDiff(before, snapshot(guarded(sb))).map((l) => l.replace(/ \(.*\)$/, '')),
        [`added ${file}`],
      );
      const toStdout = await moat(sb, ['scan', 'image', ref, '--format', format]);
      const written = readFileSync(file, 'utf8');
      if (format === 'json')
        assert.deepEqual(stable(JSON.parse(written)), stable(JSON.parse(toStdout.stdout)));
      else if (format === 'sarif') assert.deepEqual(JSON.parse(written), JSON.parse(toStdout.stdout));
      else assert.equal(written.replace(/DB: .*\n/, ''), toStdout.stdout.replace(/DB: .*\n/, ''));
    });
  }
});

describe('filters and exit codes', () => {
  const atOrAbove = (r: Report, s: Sev) => r.findings.some((f) => rank(f.severity) >= rank(s));

  for (const threshold of SEVERITIES) {
    it(`--fail-on ${threshold}: exit 1 exactly when a finding at or above it remains`, async () => {
      const r = await moat(sb, ['scan', 'image', ref, '--format', 'json', '--fail-on', threshold]);
      assert.equal(r.code, atOrAbove(full, threshold) ? 1 : 0, r.stderr);
      // the threshold changes the exit code only, never the report
      assert.deepEqual((JSON.parse(r.stdout) as Report).findings, full.findings);
    });
  }

  it('--severity keeps only the listed severities and counts the rest as filtered', async () => {
    const present = [...new Set(full.findings.map((f) => f.severity))];
    const keep = present.slice(0, 2);
    const r = await scanJson('--severity', keep.join(',').toLowerCase());
    const expected = full.findings.filter((f) => keep.includes(f.severity));
    assert.deepEqual(
      r.findings.map((f) => `${f.package.name} ${f.id}`).sort(),
      expected.map((f) => `${f.package.name} ${f.id}`).sort(),
    );
    assert.equal(r.summary.filtered, full.findings.length - expected.length);
    assert.ok(r.summary.filtered > 0);
  });

  it('--only-fixed and its alias --ignore-unfixed drop findings without a fix', async () => {
    const expected = full.findings
      .filter((f) => f.status === 'fixed')
      .map((f) => `${f.package.name} ${f.id}`);
    for (const flag of ['--only-fixed', '--ignore-unfixed']) {
      const r = await scanJson(flag);
      assert.deepEqual(r.findings.map((f) => `${f.package.name} ${f.id}`).sort(), expected.sort(), flag);
      assert.equal(r.summary.filtered, full.findings.length - expected.length);
    }
  });

  it('--fail-on applies after the filters', async () => {
    const top = full.findings.reduce(
      (m, f) => (rank(f.severity) > rank(m) ? f.severity : m),
      'UNKNOWN' as Sev,
    );
    assert.notEqual(top, 'UNKNOWN');
    const below = SEVERITIES.filter((s) => rank(s) < rank(top));
    // only severities below the top one are kept, and the threshold is the top one: nothing remains at it
    const r = await moat(sb, [
      'scan',
      'image',
      ref,
      '--format',
      'json',
      '--severity',
      below.join(','),
      '--fail-on',
      top,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const filtered = JSON.parse(r.stdout) as Report;
    assert.ok(filtered.findings.every((f) => rank(f.severity) < rank(top)));
    // --only-fixed: the exit code follows what the fixed findings alone give
    const fixedOnly = full.findings.filter((f) => f.status === 'fixed');
    for (const s of SEVERITIES) {
      const x = await moat(sb, ['scan', 'image', ref, '--format', 'json', '--only-fixed', '--fail-on', s]);
      assert.equal(
        x.code,
        fixedOnly.some((f) => rank(f.severity) >= rank(s)) ? 1 : 0,
        `--only-fixed --fail-on ${s}`,
      );
    }
  });

  it('--quiet silences the warnings on stderr, not the report', async () => {
    const loud = await moat(sb, ['scan', 'image', ref, '--format', 'json', '--db-max-age', '1ms']);
    assert.equal(loud.code, 0);
    assert.ok(
      loud.lines.some((l) => /warning: .*database/i.test(l)),
      loud.stderr,
    );
    const quiet = await moat(sb, [
      'scan',
      'image',
      ref,
      '--format',
      'json',
      '--db-max-age',
      '1ms',
      '--quiet',
    ]);
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, '');
    assert.deepEqual(stable(JSON.parse(quiet.stdout)), stable(JSON.parse(loud.stdout)));
  });
});

describe('options from flags, MOAT_* variables and config files', () => {
  const formatOf = (stdout: string): string => {
    if (stdout.startsWith('{')) {
      const doc = JSON.parse(stdout) as { version?: string; schemaVersion?: string };
      return doc.version === '2.1.0' ? 'sarif' : doc.schemaVersion ? 'json' : 'other';
    }
    return /^PACKAGE\s+VULNERABILITY/m.test(stdout) ? 'table' : 'other';
  };
  const formatRun = async (args: string[], env: Record<string, string | undefined> = {}, cwd?: string) => {
    const r = await moat(sb, ['scan', 'image', ref, ...args], { env, cwd });
    assert.equal(r.code, 0, r.stderr);
    return formatOf(r.stdout);
  };

  it('moat.yaml in the working directory, --config FILE, the user config dir; flag > env > config', async () => {
    const cwd = join(sb.inputs, 'project');
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(cwd, 'moat.yaml'), 'format: sarif\n');
    assert.equal(await formatRun([], {}, cwd), 'sarif');
    assert.equal(await formatRun([], { MOAT_FORMAT: 'json' }, cwd), 'json');
    assert.equal(await formatRun(['--format', 'table'], { MOAT_FORMAT: 'json' }, cwd), 'table');
    // --config beats ./moat.yaml
    const other = join(sb.inputs, 'other.yaml');
    writeFileSync(other, 'format: json\n');
    assert.equal(await formatRun(['--config', other], {}, cwd), 'json');
    assert.equal(await formatRun([], { MOAT_CONFIG: other }, cwd), 'json');
    // without ./moat.yaml, the user's config dir
    const userDir = join(sb.home, '.config', 'moat');
    mkdirSync(userDir, { recursive: true });
    writeFileSync(join(userDir, 'moat.yaml'), 'format: sarif\n');
    try {
      assert.equal(await formatRun([]), 'sarif');
    } finally {
      writeFileSync(join(userDir, 'moat.yaml'), '{}\n');
    }
    assert.equal(await formatRun([]), 'table');
  });

  it('filters and thresholds from the environment and from a config file', async () => {
    const keep = [...new Set(full.findings.map((f) => f.severity))][0]!;
    const expected = full.findings.filter((f) => f.severity === keep).length;
    const viaEnv = await moatJson<Report>(sb, ['scan', 'image', ref], { env: { MOAT_SEVERITY: keep } });
    assert.equal(viaEnv.findings.length, expected);
    const cfg = join(sb.inputs, 'filters.yaml');
    writeFileSync(cfg, `severity: [${keep}]\nonly-fixed: true\nlist-packages: true\n`);
    const viaCfg = await moatJson<Report>(sb, ['scan', 'image', ref, '--config', cfg]);
    assert.equal(
      viaCfg.findings.length,
      full.findings.filter((f) => f.severity === keep && f.status === 'fixed').length,
    );
    assert.equal(viaCfg.packages?.length, full.packages?.length);
    // MOAT_ONLY_FIXED=false beats the config's true
    const envWins = await moatJson<Report>(sb, ['scan', 'image', ref, '--config', cfg], {
      env: { MOAT_ONLY_FIXED: 'false' },
    });
    assert.equal(envWins.findings.length, expected);
    // fail-on from the config file, from the environment, and the flag over both
    const failCfg = join(sb.inputs, 'fail.yaml');
    writeFileSync(failCfg, 'fail-on: UNKNOWN\nformat: json\n');
    const any = full.findings.length > 0 ? 1 : 0;
    assert.equal((await moat(sb, ['scan', 'image', ref, '--config', failCfg])).code, any);
    const r = await moat(sb, ['scan', 'image', ref, '--config', failCfg], {
      env: { MOAT_FAIL_ON: 'CRITICAL' },
    });
    const critical = full.findings.some((f) => f.severity === 'CRITICAL') ? 1 : 0;
    assert.equal(r.code, critical);
    const flag = await moat(sb, ['scan', 'image', ref, '--config', failCfg, '--fail-on', 'UNKNOWN'], {
      env: { MOAT_FAIL_ON: 'CRITICAL' },
    });
    assert.equal(flag.code, any);
  });

  it('unknown options, missing arguments and bad values are usage errors (exit 2, one line)', async () => {
    assertUsageError(await moat(sb, ['scan', 'image', ref, '--no-such-option']), /no-such-option/);
    assertUsageError(await moat(sb, ['scan', 'image']), /ref|argument/i);
    assertUsageError(await moat(sb, ['scan', 'image', ref, '--format']), /format/);
    assertUsageError(await moat(sb, ['scan', 'image', ref, '--format', 'xml']), /xml/);
    assertUsageError(await moat(sb, ['scan', 'image', ref, '--fail-on', 'severe']), /severe/);
    assertUsageError(await moat(sb, ['scan', 'image', ref, '--severity', 'HIGH,bad']), /bad/);
    assertUsageError(await moat(sb, ['scan', 'image', ref, '--timeout', 'soon']), /soon/);
    assertUsageError(
      await moat(sb, ['scan', 'image', ref], { env: { MOAT_FORMAT: 'xml' } }),
      /MOAT_FORMAT|xml/,
    );
    assertUsageError(await moat(sb, ['no-such-command']), /no-such-command/);
    // jsonl and INFO are the audit alerts' format and severity: findings commands refuse them
    assertUsageError(await moat(sb, ['scan', 'image', ref, '--format', 'jsonl']), /jsonl.*moat audit scan/);
    assertUsageError(await moat(sb, ['scan', 'image', ref, '--fail-on', 'INFO']), /--fail-on INFO/);
    assertUsageError(await moat(sb, ['posture', '--severity', 'HIGH,INFO', sb.inputs]), /--severity INFO/);
  });

  it('a broken config file is an input error naming the file', async () => {
    const bad = join(sb.inputs, 'broken.yaml');
    writeFileSync(bad, 'format: [json\n');
    assertUsageError(await moat(sb, ['scan', 'image', ref, '--config', bad]), new RegExp(bad));
    writeFileSync(bad, 'format: xml\n');
    assertUsageError(await moat(sb, ['scan', 'image', ref, '--config', bad]), new RegExp(`${bad}.*xml`));
    assertUsageError(
      await moat(sb, ['scan', 'image', ref, '--config', join(sb.inputs, 'missing.yaml')]),
      /missing\.yaml/,
    );
  });
});

describe('moat db status and the age of the data', () => {
  it('JSON: the record count of the import, the source and the age', async () => {
    const s = await moatJson<{
      totalRecords: number;
      stale: boolean;
      ecosystems: { ecosystem: string; records: number; source?: string }[];
    }>(sb, ['db', 'status']);
    assert.equal(s.totalRecords, zipRecords);
    assert.deepEqual(
      s.ecosystems.map((e) => [e.ecosystem, e.records]),
      [['Debian', zipRecords]],
    );
    assert.equal(s.stale, false);
    const stale = await moatJson<{ stale: boolean }>(sb, ['db', 'status', '--db-max-age', '1ms']);
    assert.equal(stale.stale, true);
  });

  it('table: one row per ecosystem with its count', async () => {
    const r = await moat(sb, ['db', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Debian\\s+${zipRecords}\\s`, 'm'));
    assert.match(r.stdout, new RegExp(`Records: ${zipRecords}`));
    assert.doesNotMatch(r.stdout, /STALE/);
    assert.match((await moat(sb, ['db', 'status', '--db-max-age', '1ms'])).stdout, /STALE/);
  });

  it('a scan warns when the data is older than --db-max-age', async () => {
    const fresh = await scanJson();
    assert.equal(fresh.db?.stale, false);
    assert.ok(!fresh.warnings.some((w) => w.code === 'db-stale'));
    const old = await scanJson('--db-max-age', '1ms');
    assert.equal(old.db?.stale, true);
    assert.ok(old.warnings.some((w) => w.code === 'db-stale'));
    const table = await moat(sb, ['scan', 'image', ref, '--db-max-age', '1ms']);
    assert.match(table.stdout, /STALE/);
    const viaEnv = await moat(sb, ['scan', 'image', ref, '--format', 'json'], {
      env: { MOAT_DB_MAX_AGE: '1ms' },
    });
    assert.equal((JSON.parse(viaEnv.stdout) as Report).db?.stale, true);
  });

  it('a missing database is exit 2 with one line that says so and how to fix it', async () => {
    const empty = join(sb.root, 'empty-cache');
    for (const args of [
      ['scan', 'image', ref],
      ['db', 'status'],
    ]) {
      const before = snapshot(guarded(sb));
      const r = await moat(sb, args, { env: { MOAT_CACHE_DIR: empty } });
      assertUsageError(r, /database.*(not found|missing|no such)/i);
      assert.match(r.lines[0]!, /moat db (update|import)/);
      assert.deepEqual(snapshotDiff(before, snapshot(guarded(sb))), []);
    }
  });
});
