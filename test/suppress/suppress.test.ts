/**
 * Ignore files and VEX documents applied to the findings of the fixed ScanResult
 * (test/report/fixture.ts), one rule at a time as test/fixtures/suppress/SOURCES.md describes them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isMoatError } from '../../src/errors.js';
import type { Finding } from '../../src/model/finding.js';
import {
  applySuppressions,
  loadIgnoreFile,
  loadSuppressions,
  loadVex,
  purlIndex,
} from '../../src/suppress/index.js';
import { fixedResult } from '../report/fixture.js';

const FIXTURES = new URL('../fixtures/suppress/', import.meta.url).pathname;
const fixture = (name: string) => join(FIXTURES, name);
const NOW = new Date('2026-01-15T00:00:00Z');
const tmp = mkdtempSync(join(tmpdir(), 'moat-suppress-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function apply(rules: Awaited<ReturnType<typeof loadSuppressions>>) {
  const r = fixedResult();
  return applySuppressions(r.findings, rules, {
    os: r.os,
    targetDigest: r.target.digest,
    purlOf: purlIndex(r.packages!),
  });
}

const ids = (fs: readonly Finding[]) => fs.map((f) => f.id).sort();

describe('.moatignore', () => {
  test('id (or alias), package (name, source name, purl), path (glob or directory); expired entries warn', async () => {
    const rules = await loadIgnoreFile(fixture('moatignore.yaml'), NOW);
    const out = apply(rules);
    assert.deepEqual(ids(out.suppressed), ['CVE-2020-8203', 'CVE-2023-5156', 'CVE-2023-5678']);
    assert.equal(out.kept.length + out.suppressed.length, fixedResult().findings.length);
    const lodash = out.suppressed.find((f) => f.id === 'CVE-2020-8203')!;
    assert.deepEqual(lodash.suppressedBy, {
      kind: 'ignore-file',
      file: fixture('moatignore.yaml'),
      line: 4,
      id: 'GHSA-p6mc-m468-83gw',
      reason: 'zipObjectDeep is not used',
      expires: '2026-12-31',
    });
    assert.deepEqual(
      rules.warnings.map((w) => w.code),
      ['ignore-expired'],
    );
    assert.match(rules.warnings[0]!.message, /moatignore\.yaml:\d+: .*CVE-2020-14343 expired on 2025-12-31/);
  });

  test('an entry applies through the last day of `expires`, not after', async () => {
    const file = join(tmp, 'expiry.yaml');
    writeFileSync(file, 'ignore:\n  - id: CVE-2023-5156\n    expires: 2026-01-15\n');
    assert.equal((await loadIgnoreFile(file, new Date('2026-01-15T23:59:59Z'))).ignore.length, 1);
    const late = await loadIgnoreFile(file, new Date('2026-01-16T00:00:00Z'));
    assert.equal(late.ignore.length, 0);
    assert.equal(late.warnings[0]?.code, 'ignore-expired');
  });

  test('a broken file is an input error naming file and line', async () => {
    const cases: [string, RegExp][] = [
      ['- id: CVE-1\n- package: x\n', /bad\.yaml:2: entry without an `id`/],
      ['- id: CVE-1\n  expires: someday\n', /bad\.yaml:1: `expires` is not a date/],
      ['- id: [unclosed\n', /bad\.yaml:\d+: not valid YAML/],
      ['id: CVE-1\n', /bad\.yaml: expected a list/],
      ['- id: CVE-1\n  package: "pkg:"\n', /bad\.yaml:1: `package` is not a valid purl/],
    ];
    const file = join(tmp, 'bad.yaml');
    for (const [text, pattern] of cases) {
      writeFileSync(file, text);
      await assert.rejects(
        loadIgnoreFile(file, NOW),
        (e: unknown) => isMoatError(e) && e.code === 'BAD_SUPPRESSION' && pattern.test(e.message),
        text,
      );
    }
    await assert.rejects(loadIgnoreFile(join(tmp, 'missing.yaml'), NOW), /ignore file .*missing\.yaml/);
  });

  test('unknown keys are reported, the entry still applies', async () => {
    const file = join(tmp, 'typo.yaml');
    writeFileSync(file, '- id: CVE-2023-5156\n  reson: typo\n');
    const rules = await loadIgnoreFile(file, NOW);
    assert.equal(rules.ignore.length, 1);
    assert.match(rules.warnings[0]!.message, /typo\.yaml:1: unknown key `reson`/);
  });
});

describe('OpenVEX', () => {
  test('not_affected and fixed suppress; affected and a later under_investigation keep; another image does not apply', () => {
    const rules = loadVex(fixture('app.openvex.json'));
    const out = apply(rules);
    assert.deepEqual(ids(out.suppressed), ['CVE-2020-14343', 'CVE-2020-8203', 'CVE-2023-4911']);
    const byId = (id: string) => out.suppressed.find((f) => f.id === id)!.suppressedBy;
    assert.equal(byId('CVE-2020-8203').status, 'not_affected');
    assert.equal(byId('CVE-2020-8203').justification, 'vulnerable_code_not_in_execute_path');
    assert.equal(byId('CVE-2020-8203').statement, 'zipObjectDeep is never called');
    assert.equal(byId('CVE-2023-4911').status, 'fixed');
    assert.equal(byId('CVE-2020-14343').id, 'GHSA-8q59-q68h-6hv4', 'matched through the alias');
  });

  test('the v0.0.1 shape, and timestamps deciding between documents', async () => {
    assert.deepEqual(ids(apply(loadVex(fixture('legacy.openvex.json'))).suppressed), ['CVE-2023-5678']);
    // the 2026 under_investigation statement is later than the 2023 not_affected one
    const both = await loadSuppressions({
      vex: [fixture('legacy.openvex.json'), fixture('app.openvex.json')],
    });
    assert.ok(!ids(apply(both).suppressed).includes('CVE-2023-5678'));
  });
});

describe('CycloneDX VEX', () => {
  test('analysis states: false_positive, resolved, not_affected suppress; exploitable and no analysis keep', () => {
    const out = apply(loadVex(fixture('app.cdx-vex.json')));
    assert.deepEqual(ids(out.suppressed), ['CVE-2020-14343', 'CVE-2021-44228', 'CVE-2023-5156']);
    const byId = (id: string) => out.suppressed.find((f) => f.id === id)!.suppressedBy;
    assert.equal(byId('CVE-2021-44228').status, 'false_positive');
    assert.equal(byId('CVE-2021-44228').statement, 'the JndiLookup class is removed from the jar');
    assert.equal(byId('CVE-2020-14343').justification, 'requires_configuration');
  });

  test('not a VEX document: an input error', () => {
    const file = join(tmp, 'not-vex.json');
    writeFileSync(file, '{"hello": "world"}');
    assert.throws(
      () => loadVex(file),
      (e: unknown) => isMoatError(e) && e.code === 'BAD_SUPPRESSION' && e.message.includes(file),
    );
  });
});

describe('together', () => {
  test('ignore entries first, then VEX; findings are either kept or suppressed, never both', async () => {
    const rules = await loadSuppressions({
      ignoreFile: fixture('moatignore.yaml'),
      vex: [fixture('app.openvex.json'), fixture('app.cdx-vex.json')],
      now: NOW,
    });
    const out = apply(rules);
    const all = fixedResult().findings;
    assert.equal(out.kept.length + out.suppressed.length, all.length);
    assert.equal(new Set([...ids(out.kept), ...ids(out.suppressed)]).size, all.length);
    // CVE-2020-8203 is named by the ignore file and the OpenVEX document: the ignore entry wins
    assert.equal(out.suppressed.find((f) => f.id === 'CVE-2020-8203')?.suppressedBy.kind, 'ignore-file');
  });
});
