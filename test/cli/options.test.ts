import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { Command } from 'commander';
import { loadConfig } from '../../src/cli/config.js';
import {
  addOptions,
  envName,
  OPTIONS,
  type OptionName,
  parseBytes,
  parseDuration,
  resolveSettings,
} from '../../src/cli/options.js';

const NAMES: OptionName[] = ['format', 'fail-on', 'severity', 'quiet', 'timeout', 'only-fixed', 'ecosystems'];

function parse(argv: string[]): Command {
  const cmd = new Command('t').exitOverride();
  addOptions(cmd, NAMES);
  cmd.parse(argv, { from: 'user' });
  return cmd;
}

const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith('MOAT_') && !(k in saved)) delete process.env[k];
});

describe('option definitions', () => {
  test('every option has a MOAT_ environment name derived from its name', () => {
    for (const name of Object.keys(OPTIONS)) assert.match(envName(name), /^MOAT_[A-Z_]+$/);
    assert.equal(envName('fail-on'), 'MOAT_FAIL_ON');
  });

  test('docs/cli.md documents every option with its environment variable', () => {
    const doc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    for (const def of Object.values(OPTIONS)) {
      assert.ok(doc.includes(`\`--${def.name}`), `--${def.name} is documented`);
      assert.ok(doc.includes(`\`${envName(def.name)}\``), `${envName(def.name)} is documented`);
    }
  });

  test('durations and sizes', () => {
    assert.equal(parseDuration('90'), 90_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('7d'), 7 * 86_400_000);
    assert.throws(() => parseDuration('soon'), /not a duration/);
    assert.throws(() => parseDuration('5m garbage'), /not a duration/);
    assert.equal(parseBytes('512MiB'), 512 * 1024 * 1024);
    assert.equal(parseBytes('2GB'), 2e9);
    assert.equal(parseBytes('100'), 100);
    assert.throws(() => parseBytes('lots'), /not a size/);
  });
});

describe('precedence: flag > environment > config file > default', () => {
  test('defaults when nothing is set', () => {
    const s = resolveSettings(parse([]), NAMES, {});
    assert.equal(s.format, 'table');
    assert.equal(s['fail-on'], undefined);
    assert.equal(s.timeout, 5 * 60_000);
    assert.deepEqual(s.ecosystems, OPTIONS.ecosystems.default);
  });

  test('config file beats default, environment beats config, flag beats environment', () => {
    const config = { format: 'json', 'fail-on': 'low', severity: ['HIGH', 'critical'], timeout: '30s' };
    let s = resolveSettings(parse([]), NAMES, config);
    assert.equal(s.format, 'json');
    assert.equal(s['fail-on'], 'LOW');
    assert.deepEqual(s.severity, ['HIGH', 'CRITICAL']);
    assert.equal(s.timeout, 30_000);

    process.env.MOAT_FAIL_ON = 'medium';
    process.env.MOAT_FORMAT = 'sarif';
    s = resolveSettings(parse([]), NAMES, config);
    assert.equal(s['fail-on'], 'MEDIUM');
    assert.equal(s.format, 'sarif');

    s = resolveSettings(parse(['--fail-on', 'critical', '-f', 'table']), NAMES, config);
    assert.equal(s['fail-on'], 'CRITICAL');
    assert.equal(s.format, 'table');
  });

  test('boolean environment values are read as booleans', () => {
    process.env.MOAT_QUIET = 'false';
    assert.equal(resolveSettings(parse([]), NAMES, {}).quiet, false);
    process.env.MOAT_QUIET = '1';
    assert.equal(resolveSettings(parse([]), NAMES, {}).quiet, true);
  });

  test('--ignore-unfixed is an alias of --only-fixed', () => {
    assert.equal(resolveSettings(parse(['--ignore-unfixed']), NAMES, {})['only-fixed'], true);
    assert.equal(resolveSettings(parse([]), NAMES, {})['only-fixed'], undefined);
  });

  test('bad values from any source are rejected with the source named', () => {
    assert.throws(() => parse(['--fail-on', 'urgent']), /not a severity/);
    process.env.MOAT_TIMEOUT = 'forever';
    assert.throws(() => resolveSettings(parse([]), NAMES, {}), /MOAT_TIMEOUT.*not a duration/);
    delete process.env.MOAT_TIMEOUT;
    assert.throws(
      () => resolveSettings(parse([]), NAMES, { format: 'xml' }, 'moat.yaml'),
      /moat\.yaml: format/,
    );
  });
});

describe('config file discovery', () => {
  test('moat.yaml in the working directory, then the user config dir; --config must exist', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'moat-cfg-'));
    const xdg = mkdtempSync(join(tmpdir(), 'moat-xdg-'));
    const prev = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = xdg;
    try {
      assert.deepEqual((await loadConfig(undefined, cwd)).values, {});
      mkdirSync(join(xdg, 'moat'));
      writeFileSync(join(xdg, 'moat', 'moat.yaml'), 'format: sarif\n');
      assert.equal((await loadConfig(undefined, cwd)).values.format, 'sarif');
      writeFileSync(join(cwd, 'moat.yaml'), 'format: json\nfail-on: HIGH\n');
      const c = await loadConfig(undefined, cwd);
      assert.equal(c.file, join(cwd, 'moat.yaml'));
      assert.equal(c.values['fail-on'], 'HIGH');
      await assert.rejects(loadConfig(join(cwd, 'missing.yaml'), cwd), /missing\.yaml: not found/);
      writeFileSync(join(cwd, 'list.yaml'), '- a\n- b\n');
      await assert.rejects(loadConfig(join(cwd, 'list.yaml'), cwd), /expected a mapping/);
      writeFileSync(join(cwd, 'bad.yaml'), 'format: [unclosed\n');
      await assert.rejects(loadConfig(join(cwd, 'bad.yaml'), cwd), /bad\.yaml/);
    } finally {
      if (prev === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = prev;
    }
  });
});
