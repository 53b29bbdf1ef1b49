/**
 * The `moat audit` options and rule loading in process: the options parse from flags, environment and
 * config file (repeatable --rules and --list, INFO as a severity, durations); loadAuditRules loads packs,
 * user files and list files as a scan does, tells a broken rule (reported, the rest loads) from a file that
 * is not YAML or cannot be read (one config error), and types list files by how rules read them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Command } from 'commander';
import { auditCommand, loadAuditRules } from '../../src/cli/audit.js';
import { addOptions, type OptionName, resolveSettings } from '../../src/cli/options.js';
import { DEFAULT_RULES_DIR, ruleFilesIn } from '../../src/detect/rules/load.js';
import { parseRuleFile } from '../../src/detect/rules/parse.js';

const FIX = join(import.meta.dirname, '../fixtures/detect');
const tmp = mkdtempSync(join(tmpdir(), 'moat-audit-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const NAMES: OptionName[] = [
  'rules',
  'list',
  'activity',
  'severity',
  'fail-on',
  'dedup-window',
  'cluster-name',
  'format',
];

function settings(argv: string[], config: Record<string, unknown> = {}) {
  const cmd = new Command('t').exitOverride();
  addOptions(cmd, NAMES);
  cmd.parse(argv, { from: 'user' });
  return resolveSettings(cmd, NAMES, config, 'moat.yaml');
}

const shipped = ruleFilesIn([DEFAULT_RULES_DIR])
  .filter((f) => !f.endsWith('k8s-activity.yaml'))
  .flatMap((f) => parseRuleFile(readFileSync(f, 'utf8'), f).file.rules);

describe('audit options', () => {
  test('repeatable --rules and --list, INFO severities, durations, jsonl', () => {
    const s = settings([
      '--rules',
      'a.yaml',
      '--rules',
      'b.yaml,c.yaml',
      '--list',
      'proxy_ips=tor.txt',
      '--list',
      'allowed_k8s_users=users.txt',
      '--severity',
      'info,high',
      '--fail-on',
      'info',
      '--dedup-window',
      '90s',
      '-f',
      'jsonl',
    ]);
    assert.deepEqual(s.rules, ['a.yaml', 'b.yaml', 'c.yaml']);
    assert.deepEqual(s.list, ['proxy_ips=tor.txt', 'allowed_k8s_users=users.txt']);
    assert.deepEqual(s.severity, ['INFO', 'HIGH']);
    assert.equal(s['fail-on'], 'INFO');
    assert.equal(s['dedup-window'], 90_000);
    assert.equal(s.format, 'jsonl');
    assert.equal(settings([])['dedup-window'], 600_000);
  });

  test('the config file gives the same settings', () => {
    const s = settings([], {
      rules: ['my-rules.yaml'],
      list: ['proxy_ips=/etc/moat/tor.txt'],
      'cluster-name': 'prod',
      activity: true,
    });
    assert.deepEqual(s.rules, ['my-rules.yaml']);
    assert.deepEqual(s.list, ['proxy_ips=/etc/moat/tor.txt']);
    assert.equal(s['cluster-name'], 'prod');
    assert.equal(s.activity, true);
  });

  test('moat audit has scan and rules', () => {
    assert.deepEqual(
      auditCommand()
        .commands.map((c) => c.name())
        .sort(),
      ['rules', 'scan'],
    );
  });
});

describe('loadAuditRules', () => {
  test('the packs alone: every enabled shipped rule either runs or waits for its list', async () => {
    const set = await loadAuditRules({ ruleFiles: [], activity: false, lists: [] });
    assert.deepEqual(set.rules.errors, []);
    const enabled = shipped.filter((r) => r.enabled);
    assert.equal(set.rules.rules.length + set.rules.skipped.length, shipped.length);
    assert.deepEqual(
      set.rules.skipped
        .filter((s) => s.reason.startsWith('requires'))
        .map((s) => s.rule)
        .sort(),
      enabled
        .filter((r) => r.requires.length > 0)
        .map((r) => r.id)
        .sort(),
    );
    const withActivity = await loadAuditRules({ ruleFiles: [], activity: true, lists: [] });
    assert.ok(withActivity.rules.rules.length > set.rules.rules.length);
  });

  test('a list file fills the list its name gives, typed by the rules that read it', async () => {
    const set = await loadAuditRules({
      ruleFiles: [],
      activity: false,
      lists: [
        { name: 'proxy_ips', file: join(FIX, 'lists/proxy-cidrs.txt') },
        { name: 'allowed_k8s_users', file: join(FIX, 'lists/proxy-cidrs.txt') },
      ],
    });
    // as a string list, a CIDR file's lines are just strings: no errors there; the proxy rule now runs
    assert.deepEqual(set.rules.errors, []);
    assert.ok(set.rules.rules.some((r) => r.spec.id === 'proxy-source-address'));
    const entries = readFileSync(join(FIX, 'lists/proxy-cidrs.txt'), 'utf8')
      .split('\n')
      .map((l) => l.replace(/(^|\s)#.*/, '').trim())
      .filter((l) => l !== '');
    assert.equal(set.listSizes.proxy_ips, entries.length);
    assert.deepEqual(set.warnings, []);
    const bad = await loadAuditRules({
      ruleFiles: [],
      activity: false,
      lists: [{ name: 'proxy_ips', file: join(FIX, 'lists/bad-addresses.txt') }],
    });
    assert.deepEqual(
      bad.rules.errors.map((e) => e.line),
      [3, 5, 6],
    );
  });

  test("a broken rule is an error as data; the file's other rules load", async () => {
    const file = join(tmp, 'mixed.yaml');
    writeFileSync(
      file,
      [
        'rules:',
        '  - id: good-one',
        '    name: Good',
        '    description: Fine.',
        '    severity: LOW',
        '    mitre: { tactic: TA0002, technique: T1609 }',
        '    remediation: Nothing, a test rule.',
        '    condition: event.verb == "create"',
        '  - id: bad-one',
        '    name: Bad',
        '    description: Broken.',
        '    severity: LOW',
        '    mitre: { tactic: TA0002, technique: T1609 }',
        '    remediation: Nothing, a test rule.',
        '    condition: event.verb ==',
        '',
      ].join('\n'),
    );
    const set = await loadAuditRules({ ruleFiles: [file], activity: false, lists: [] });
    assert.deepEqual(
      set.rules.errors.map((e) => [e.file, e.line, e.rule]),
      [[file, 15, 'bad-one']],
    );
    assert.ok(set.rules.rules.some((r) => r.spec.id === 'good-one'));
  });

  test('a file that is not YAML, not a map, or missing is one config error naming it', async () => {
    const cases: Array<[string, string | undefined, RegExp]> = [
      ['syntax.yaml', 'rules:\n  - id: x\n   name: [unclosed\n', /rule file .*syntax\.yaml:\d+: /],
      ['list.yaml', '- a\n- b\n', /rule file .*list\.yaml: not a rule file/],
      ['missing.yaml', undefined, /rule file .*missing\.yaml: cannot read: ENOENT/],
    ];
    for (const [name, text, re] of cases) {
      const file = join(tmp, name);
      if (text !== undefined) writeFileSync(file, text);
      await assert.rejects(
        loadAuditRules({ ruleFiles: [file], activity: false, lists: [] }),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'CONFIG');
          assert.match(e.message, re);
          assert.ok(!e.message.includes('\n'));
          return true;
        },
      );
    }
    await assert.rejects(
      loadAuditRules({
        ruleFiles: [],
        activity: false,
        lists: [{ name: 'proxy_ips', file: join(tmp, 'nope.txt') }],
      }),
      /list file .*nope\.txt: cannot read: ENOENT/,
    );
  });

  test('a list no rule reads is a warning', async () => {
    const set = await loadAuditRules({
      ruleFiles: [],
      activity: false,
      lists: [{ name: 'proxy_ip', file: join(FIX, 'lists/proxy-cidrs.txt') }],
    });
    assert.match(set.warnings[0] ?? '', /list proxy_ip .* is not read by any loaded rule/);
  });
});
