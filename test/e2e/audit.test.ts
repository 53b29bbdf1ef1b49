/**
 * `moat audit scan` and `moat audit rules` through the built CLI. Expected alerts come from the fixtures:
 * the Falco trace files' index (each Falco rule it expects has alerts of ours naming it, with the same event
 * count; files expecting none raise none), the CIDR list fixtures, and reading the same events another way
 * (stdin, gzip, rotated directories, cloud exports). Every JSON output is validated against
 * docs/schema/audit-alerts-1.0.json, every JSON line against its alert definition. Also: --fail-on exit
 * codes, broken and unreadable user files, unreadable inputs, and --follow on a file appended to while the
 * CLI runs.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import type { Alert } from '../../src/detect/alert.js';
import type { AlertReport } from '../../src/report/alerts.js';
import { MOAT_BIN, moat, REPO, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';

const FALCO = join(REPO, 'test/fixtures/audit/falco-events');
const CLOUD = join(REPO, 'test/fixtures/audit/cloud');
const DETECT = join(REPO, 'test/fixtures/detect');
const ALLOWLISTS = join(DETECT, 'falco-allowlists.yaml');
const LISTS = join(DETECT, 'lists');
const SCHEMA = JSON.parse(readFileSync(join(REPO, 'docs/schema/audit-alerts-1.0.json'), 'utf8')) as {
  $id: string;
};

const ajv = new Ajv2020({ allErrors: true, strict: true });
(addFormatsPlugin as unknown as (a: Ajv2020) => void)(ajv);
const validateReport = ajv.compile(SCHEMA);
const validateAlert = ajv.getSchema(`${SCHEMA.$id}#/$defs/alert`);

interface FixtureIndex {
  fixtures: Record<
    string,
    { events: number; expected_stock_rules: Record<string, number>; expect_no_alert_stock_rules: boolean }
  >;
}
const INDEX = JSON.parse(readFileSync(join(FALCO, 'index.json'), 'utf8')) as FixtureIndex;

function parseReport(stdout: string): AlertReport {
  const doc: AlertReport = JSON.parse(stdout);
  assert.ok(validateReport(doc), ajv.errorsText(validateReport.errors));
  return doc;
}

function parseLines(stdout: string): Alert[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const a: Alert = JSON.parse(l);
      assert.ok(validateAlert?.(a), ajv.errorsText(validateAlert?.errors));
      return a;
    });
}

/** What two runs must agree on: each alert's rule, target, user, count and evidence. */
function essence(alerts: readonly Alert[]): string[] {
  return alerts
    .map(
      (a) =>
        `${a.rule.id}|${a.namespace ?? ''}|${a.resource.resource}/${a.resource.name ?? ''}|${a.user}|${a.count}|${a.auditIDs.join(',')}`,
    )
    .sort();
}

function jsonLines(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

/** Runs `fn` over items with at most `n` at once (each spawns a CLI). */
async function pool<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

describe('moat audit scan', () => {
  let sb: Sandbox;
  before(async () => {
    requireBuild();
    sb = await sandbox();
  });
  after(() => sb.remove());

  const scan = (args: string[]) => moat(sb, ['audit', 'scan', ...args]);

  test('every Falco trace file: the alerts its index expects (same events, after dedup), none where it expects none', async () => {
    const files = Object.keys(INDEX.fixtures);
    const runs = await pool(files, 4, (f) =>
      scan([join(FALCO, f), '--activity', '--rules', ALLOWLISTS, '--format', 'json']),
    );
    files.forEach((f, i) => {
      const r = runs[i] as Awaited<ReturnType<typeof scan>>;
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      const doc = parseReport(r.stdout);
      const spec = INDEX.fixtures[f] as FixtureIndex['fixtures'][string];
      const got: Record<string, number> = {};
      for (const a of doc.alerts) for (const name of a.falco) got[name] = (got[name] ?? 0) + a.count;
      assert.deepEqual(got, spec.expected_stock_rules, f);
      if (spec.expect_no_alert_stock_rules) assert.deepEqual(doc.alerts, [], f);
      // fal_01_003.json is `{"kind": 0}`: counted as malformed, reported, not fatal
      if (f === 'fal_01_003.json') {
        assert.equal(doc.summary.malformed, 1);
        assert.equal(doc.summary.events, 0);
        assert.match(r.stderr, /1 malformed audit record skipped \(first at .*fal_01_003\.json:1: /);
      } else assert.equal(doc.summary.events, spec.events, f);
    });
  });

  describe('formats over the whole directory', () => {
    const args = [FALCO, '--activity', '--rules', ALLOWLISTS];
    let json: AlertReport;
    before(async () => {
      const r = await scan([...args, '-f', 'json']);
      assert.equal(r.code, 0, r.stderr);
      json = parseReport(r.stdout);
    });

    test('json: the fixtures give alerts, counted by severity; index.json and fal_01_003.json are malformed samples', () => {
      assert.ok(json.alerts.length > 20);
      const total = Object.values(json.summary.bySeverity).reduce((a, b) => a + b, 0);
      assert.equal(total, json.alerts.length);
      assert.equal(json.summary.events, Object.values(INDEX.fixtures).reduce((n, f) => n + f.events, 0) - 1);
      const sampled = json.summary.malformedSamples.map((s) => s.file?.slice(FALCO.length + 1)).sort();
      assert.deepEqual(sampled, ['fal_01_003.json', 'index.json']);
      assert.deepEqual(json.inputs, [FALCO]);
      assert.ok(json.alerts.some((a) => a.defender.length > 0));
    });

    test('jsonl: one valid alert per line, the same alerts as json, nothing else on stdout', async () => {
      const r = await scan([...args, '-f', 'jsonl']);
      assert.equal(r.code, 0, r.stderr);
      const lines = parseLines(r.stdout);
      assert.equal(lines.length, json.alerts.length);
      assert.deepEqual(essence(lines), essence(json.alerts));
      assert.match(r.stderr, new RegExp(`moat: ${json.summary.events} events read, ${lines.length} alerts`));
    });

    test('table: a row per alert, every rule id named; -o writes the same to a file', async () => {
      const r = await scan([...args]);
      assert.equal(r.code, 0, r.stderr);
      for (const id of new Set(json.alerts.map((a) => a.rule.id))) assert.ok(r.stdout.includes(id), id);
      const rows = r.stdout.split('\n').filter((l) => /^(CRITICAL|HIGH|MEDIUM|LOW|INFO) /.test(l));
      assert.equal(rows.length, json.alerts.length);
      const out = join(sb.out, 'alerts.txt');
      const o = await scan([...args, '-o', out]);
      assert.equal(o.code, 0);
      assert.equal(o.stdout, '');
      assert.equal(readFileSync(out, 'utf8'), r.stdout);
    });

    test('--severity keeps only those severities and counts the rest', async () => {
      const r = await scan([...args, '-f', 'json', '--severity', 'high,medium']);
      const doc = parseReport(r.stdout);
      const want = json.alerts.filter((a) => a.severity === 'HIGH' || a.severity === 'MEDIUM');
      assert.ok(want.length > 0 && want.length < json.alerts.length);
      assert.deepEqual(essence(doc.alerts), essence(want));
      assert.equal(doc.summary.filtered, json.alerts.length - want.length);
    });

    test('--fail-on: exit 1 at or above the most severe alert, 0 above it; INFO counts', async () => {
      const rank = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
      const top = Math.max(...json.alerts.map((a) => rank.indexOf(a.severity)));
      assert.ok(top < rank.length - 1, 'the fixtures have no CRITICAL alert');
      const at = await scan([...args, '-q', '-f', 'json', '--fail-on', rank[top] as string]);
      assert.equal(at.code, 1);
      assert.deepEqual(essence(parseReport(at.stdout).alerts), essence(json.alerts));
      assert.equal((await scan([...args, '-q', '-f', 'json', '--fail-on', rank[top + 1] as string])).code, 0);
      // INFO alerts only (the activity pack) fail --fail-on INFO but not LOW
      const infoOnly = [...args, '-q', '-f', 'json', '--severity', 'info'];
      assert.equal((await scan([...infoOnly, '--fail-on', 'info'])).code, 1);
      assert.equal((await scan([...infoOnly, '--fail-on', 'low'])).code, 0);
    });
  });

  test('stdin, plain and gzipped, gives the alerts of the file', async () => {
    const file = join(FALCO, 'create_nginx_pod_privileged.json');
    const byFile = parseReport((await scan([file, '-f', 'json'])).stdout);
    assert.ok(byFile.alerts.length > 0);
    for (const input of [readFileSync(file), gzipSync(readFileSync(file))]) {
      const r = await moat(sb, ['audit', 'scan', '-', '-f', 'json'], { input });
      assert.equal(r.code, 0, r.stderr);
      const doc = parseReport(r.stdout);
      assert.deepEqual(doc.inputs, ['-']);
      assert.deepEqual(essence(doc.alerts), essence(byFile.alerts));
    }
  });

  test('a rotated directory (gzipped backups, timestamped names, the live file) reads like the whole log in order', async () => {
    const names = Object.keys(INDEX.fixtures).filter((f) => f !== 'fal_01_003.json');
    const all = names.flatMap((f) => jsonLines(join(FALCO, f)));
    const whole = join(sb.inputs, 'whole.log');
    writeFileSync(whole, `${all.join('\n')}\n`);
    const dir = join(sb.inputs, 'rotated');
    mkdirSync(dir);
    const third = Math.ceil(all.length / 3);
    const part = (i: number) => `${all.slice(i * third, (i + 1) * third).join('\n')}\n`;
    // lumberjack's backup names; written newest first so that modification times would give the wrong order
    writeFileSync(join(dir, 'audit.log'), part(2));
    writeFileSync(join(dir, 'audit-2018-10-26T10-00-00.000.log'), part(1));
    writeFileSync(join(dir, 'audit-2018-10-25T10-00-00.000.log.gz'), gzipSync(part(0)));
    writeFileSync(join(dir, 'notes.md'), 'not an audit log\n');
    const a = parseReport((await scan([whole, '--activity', '-f', 'json'])).stdout);
    const b = parseReport((await scan([dir, '--activity', '-f', 'json'])).stdout);
    assert.equal(b.summary.events, all.length);
    assert.equal(b.summary.malformed, 0);
    assert.ok(a.alerts.length > 0);
    assert.deepEqual(essence(b.alerts), essence(a.alerts));
  });

  test('cloud exports (EKS CloudWatch, Firehose gzip, AKS) give the alerts of the raw events, with the cluster they name', async () => {
    const raw = parseReport((await scan([FALCO, '-f', 'json'])).stdout);
    for (const f of ['eks-cloudwatch.jsonl', 'eks-firehose-s3.gz', 'aks-storage.jsonl']) {
      const r = await scan([join(CLOUD, f), '-f', 'json', '--cluster-name', 'ignored']);
      assert.equal(r.code, 0, r.stderr);
      const doc = parseReport(r.stdout);
      assert.deepEqual(essence(doc.alerts), essence(raw.alerts), f);
      assert.ok(
        doc.alerts.every((a) => a.cluster === 'prod-east'),
        f,
      );
    }
    // events that name no cluster take --cluster-name
    const named = parseReport(
      (await scan([join(FALCO, 'exec_pod.json'), '-f', 'json', '--cluster-name', 'lab'])).stdout,
    );
    assert.ok(named.alerts.length > 0 && named.alerts.every((a) => a.cluster === 'lab'));
  });

  test('--list with a CIDR file turns proxy-source-address on: an alert per address inside a range, none outside', async () => {
    const pos = join(LISTS, 'proxy-cidr-positive.jsonl');
    const neg = join(LISTS, 'proxy-cidr-negative.jsonl');
    const list = `proxy_ips=${join(LISTS, 'proxy-cidrs.txt')}`;
    const off = parseReport((await scan([pos, '-f', 'json'])).stdout);
    assert.ok(off.skippedRules.some((s) => s.rule === 'proxy-source-address' && /proxy_ips/.test(s.reason)));
    assert.ok(!off.alerts.some((a) => a.rule.id === 'proxy-source-address'));
    const on = parseReport((await scan([pos, '-f', 'json', '--list', list])).stdout);
    const proxy = on.alerts.filter((a) => a.rule.id === 'proxy-source-address');
    const events = jsonLines(pos).map((l) => JSON.parse(l) as { auditID: string; sourceIPs: string[] });
    assert.deepEqual(proxy.flatMap((a) => a.auditIDs).sort(), events.map((e) => e.auditID).sort());
    assert.ok(proxy.every((a) => a.defender.includes('K8S_TI_Proxy')));
    const quiet = parseReport((await scan([neg, '-f', 'json', '--list', list])).stdout);
    assert.ok(!quiet.alerts.some((a) => a.rule.id === 'proxy-source-address'));
    // the same list through the environment and a config file
    const env = await moat(sb, ['audit', 'scan', pos, '-f', 'json'], { env: { MOAT_LIST: list } });
    assert.equal(
      parseReport(env.stdout).alerts.filter((a) => a.rule.id === 'proxy-source-address').length,
      proxy.length,
    );
  });

  test('a bad list line is reported with file:line and the rest of the list loads; an unread list is a warning', async () => {
    const r = await scan([
      join(LISTS, 'proxy-cidr-positive.jsonl'),
      '-f',
      'json',
      '--list',
      `proxy_ips=${join(LISTS, 'bad-addresses.txt')}`,
      '--list',
      `proxy_ip=${join(LISTS, 'proxy-cidrs.txt')}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const bad = readFileSync(join(LISTS, 'bad-addresses.txt'), 'utf8').split('\n');
    const badLine = bad.findIndex((l) => l.startsWith('203.0.113.300')) + 1;
    assert.ok(
      r.stderr.includes(
        `moat: ${join(LISTS, 'bad-addresses.txt')}:${badLine}: list proxy_ips: "203.0.113.300"`,
      ),
      r.stderr,
    );
    assert.match(r.stderr, /warning: list proxy_ip .* is not read by any loaded rule/);
    const doc = parseReport(r.stdout);
    assert.equal(doc.summary.rules.errors, 3);
    // 203.0.113.7 is on the good lines: its event still alerts
    assert.ok(
      doc.alerts.some((a) => a.rule.id === 'proxy-source-address' && a.sourceIPs[0] === '203.0.113.7'),
    );
  });

  describe('user rule files', () => {
    const broken = () => {
      const file = join(sb.inputs, 'my-rules.yaml');
      writeFileSync(
        file,
        `version: 1
rules:
  - id: my-broken
    name: Broken
    description: A rule whose condition does not parse.
    severity: HIGH
    mitre: { tactic: TA0002, technique: T1609 }
    remediation: Nothing to do, this is a test rule.
    condition: event.verb ==
  - id: my-exec
    name: Any exec, critical here
    description: Every exec into a pod.
    severity: CRITICAL
    mitre: { tactic: TA0002, technique: T1609 }
    remediation: Nothing to do, this is a test rule.
    match: { verbs: [create, get], resources: [pods], subresources: [exec], stages: [ResponseStarted, ResponseComplete] }
    condition: "true"
exceptions:
  - rule: no-such-rule
    name: typo
    condition: "true"
`,
      );
      return file;
    };

    test('a broken rule is reported as file:line rule id: message and the rest runs', async () => {
      const file = broken();
      const lines = readFileSync(file, 'utf8').split('\n');
      const condLine = lines.findIndex((l) => l.includes('condition: event.verb ==')) + 1;
      const exLine = lines.findIndex((l) => l.includes('rule: no-such-rule')) + 1;
      const r = await scan([
        join(FALCO, 'exec_pod.json'),
        '--rules',
        file,
        '-f',
        'json',
        '--fail-on',
        'critical',
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`moat: ${file}:${condLine} rule my-broken: condition: `), r.stderr);
      assert.ok(
        r.stderr.includes(
          `moat: ${file}:${exLine} rule no-such-rule: exception "typo" names an unknown rule`,
        ),
        r.stderr,
      );
      const doc = parseReport(r.stdout);
      assert.deepEqual(doc.alerts.map((a) => a.rule.id).sort(), ['exec-into-pod', 'my-exec']);
      assert.equal(doc.errors.length, 2);
    });

    test('moat audit rules lists it with its status and exits 2; clean files exit 0', async () => {
      const file = broken();
      const r = await moat(sb, ['audit', 'rules', '--rules', file, '-f', 'json']);
      assert.equal(r.code, 2);
      const doc = JSON.parse(r.stdout) as {
        rules: Array<{ id: string; status: string; reason?: string; falco: string[] }>;
      };
      assert.equal(doc.rules.find((x) => x.id === 'my-broken')?.status, 'error');
      assert.equal(doc.rules.find((x) => x.id === 'my-exec')?.status, 'enabled');
      assert.match(doc.rules.find((x) => x.id === 'disallowed-user')?.reason ?? '', /allowed_k8s_users/);
      const clean = await moat(sb, ['audit', 'rules', '--rules', ALLOWLISTS, '--activity']);
      assert.equal(clean.code, 0, clean.stderr);
      assert.ok(clean.stdout.includes('activity.secret-read'));
      assert.match(clean.stdout, /\d+ rules: \d+ enabled, \d+ skipped, 0 errors/);
      assert.equal(doc.rules.find((x) => x.id === 'exec-into-pod')?.falco[0], 'Attach/Exec Pod');
    });

    test('a file that is not YAML, or cannot be read, stops with one line naming it', async () => {
      const bad = join(sb.inputs, 'not-yaml.yaml');
      writeFileSync(bad, 'rules:\n  - id: x\n   name: [unclosed\n');
      for (const args of [
        ['--rules', bad],
        ['--rules', join(sb.inputs, 'missing.yaml')],
        ['--list', `proxy_ips=${join(sb.inputs, 'missing.txt')}`],
      ]) {
        const r = await scan([join(FALCO, 'exec_pod.json'), ...args]);
        assert.equal(r.code, 2, args.join(' '));
        assert.equal(r.lines.length, 1, r.stderr);
        assert.ok(r.lines[0]?.includes(args[1]?.replace(/^proxy_ips=/, '') ?? ''), r.stderr);
        assert.equal(r.stdout, '');
      }
    });
  });

  test('an unreadable input: exit 2, one line naming it, no output', async () => {
    const missing = join(sb.inputs, 'no-such-audit.log');
    const r = await scan([join(FALCO, 'exec_pod.json'), missing, '-f', 'json']);
    assert.equal(r.code, 2);
    assert.deepEqual(r.lines, [`moat: cannot read audit log ${missing}: ENOENT`]);
    assert.equal(r.stdout, '');
    const none = await scan([]);
    assert.equal(none.code, 2);
    assert.equal((await scan([FALCO, '-f', 'sarif'])).code, 2);
  });

  test('--follow: alerts stream as they close while the file grows; SIGTERM flushes the rest', async () => {
    const file = join(sb.inputs, 'live-audit.log');
    writeFileSync(file, '');
    const exec = JSON.parse(jsonLines(join(FALCO, 'exec_pod.json'))[0] as string) as Record<string, unknown>;
    const at = (id: string, t: string) =>
      JSON.stringify({ ...exec, auditID: id, requestReceivedTimestamp: t, stageTimestamp: t });
    const child: ChildProcess = spawn(
      process.execPath,
      [MOAT_BIN, 'audit', 'scan', file, '--follow', '-f', 'jsonl', '--dedup-window', '1s'],
      { cwd: sb.cwd, env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (c) => (stderr += c));
    const closed = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    const firstLine = new Promise<void>((res) =>
      child.stdout?.on('data', (c) => {
        stdout += c;
        if (stdout.includes('\n')) res();
      }),
    );
    try {
      // the first exec; then, 5 s later by the events' clock, another: the first alert's window has passed
      appendFileSync(file, `${at('follow-1', '2026-01-02T10:00:00.000000Z')}\n`);
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(stdout, '', 'an alert is not written while its window is open');
      appendFileSync(file, `${at('follow-2', '2026-01-02T10:00:05.000000Z')}\n`);
      await firstLine;
      const streamed = parseLines(stdout);
      assert.deepEqual(
        streamed.map((a) => [a.rule.id, a.auditIDs]),
        [['exec-into-pod', ['follow-1']]],
      );
      child.kill('SIGTERM');
      assert.equal(await closed, 0, stderr);
      const all = parseLines(stdout);
      assert.deepEqual(
        all.map((a) => a.auditIDs),
        [['follow-1'], ['follow-2']],
      );
      assert.match(stderr, /moat: 2 events read, 2 alerts \(MEDIUM 2\)/);
    } finally {
      clearTimeout(guard);
      child.kill('SIGKILL');
    }
  });
});
