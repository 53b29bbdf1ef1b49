/**
 * The table: findings grouped by package (named once, findings by severity inside, packages by their
 * worst finding), aliases shown, suppressed findings counted and listed only with --show-suppressed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { severityRank } from '../../src/model/severity.js';
import { groupByPackage, renderScanTable } from '../../src/report/table.js';
import { fixedResult, healthyResult } from './fixture.js';

/** Rows of the first table, carrying the package name down to its continuation rows. */
function rows(text: string): { pkg: string; cells: string[] }[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^PACKAGE\s+VULNERABILITY/.test(l)) + 2;
  const out: { pkg: string; cells: string[] }[] = [];
  let pkg = '';
  for (const line of lines.slice(start)) {
    if (line.trim() === '') break;
    const cells = line.trim().split(/\s{2,}/);
    if (!line.startsWith(' ')) pkg = cells.shift()!;
    out.push({ pkg, cells });
  }
  return out;
}

describe('table', () => {
  test('each package is named once, its findings follow by severity', () => {
    const r = fixedResult();
    const text = renderScanTable(r);
    const got = rows(text);
    assert.equal(got.length, r.findings.length);
    for (const name of new Set(r.findings.map((f) => f.package.name))) {
      const named = text.split('\n').filter((l) => l.startsWith(`${name} `));
      assert.equal(named.length, 1, `${name} named once`);
    }
    const groups = groupByPackage(r.findings);
    let prevWorst = Number.POSITIVE_INFINITY;
    for (const g of groups) {
      const ranks = g.findings.map((f) => severityRank(f.severity));
      assert.deepEqual(
        ranks,
        [...ranks].sort((a, b) => b - a),
        `${g.name} by severity`,
      );
      assert.ok(ranks[0]! <= prevWorst, 'packages by their worst finding');
      prevWorst = ranks[0]!;
    }
    // rows come in group order and show each finding's id, severity and aliases
    const expected = groups.flatMap((g) => g.findings);
    got.forEach((row, i) => {
      const f = expected[i]!;
      assert.equal(row.pkg, f.package.name);
      assert.equal(row.cells[0], f.id);
      assert.equal(row.cells[1], f.severity);
      const aliases = f.aliases.filter((a) => a !== f.id);
      if (aliases.length) assert.ok(row.cells.includes(aliases.slice(0, 2).join(', ')), `${f.id} aliases`);
    });
  });

  test('suppressed findings: a count by default, the list with the rule under --show-suppressed', () => {
    const r = fixedResult();
    const n = r.suppressed!.length;
    const plain = renderScanTable(r);
    assert.match(plain, new RegExp(`suppressed: ${n}`));
    assert.match(plain, new RegExp(`${n} findings suppressed .*--show-suppressed`));
    for (const s of r.suppressed!) assert.ok(!plain.includes(s.id), `${s.id} hidden`);
    const shown = renderScanTable(r, { showSuppressed: true });
    assert.match(shown, new RegExp(`Suppressed \\(${n}\\):`));
    for (const s of r.suppressed!) {
      const line = shown.split('\n').find((l) => l.includes(s.id))!;
      assert.ok(line.includes(s.suppressedBy.file), line);
      assert.ok(line.includes(s.suppressedBy.reason ?? s.suppressedBy.justification!), line);
    }
  });

  test('healthy, and healthy only after suppression', () => {
    assert.match(renderScanTable(healthyResult()), /Healthy: no known vulnerabilities in \d+ packages/);
    const r = fixedResult();
    r.findings = [];
    r.summary = { ...r.summary, findings: 0, healthy: true };
    assert.match(renderScanTable(r), /No vulnerabilities left after suppressions\./);
  });

  test('a package name found at two paths is told apart by its path', () => {
    const r = fixedResult();
    const copy = structuredClone(r.findings.find((f) => f.package.name === 'lodash')!);
    copy.package.path = 'other/node_modules/lodash/package.json';
    r.findings.push(copy);
    const text = renderScanTable(r);
    assert.ok(text.includes('lodash (app/node_modules/lodash/package.json)'));
    assert.ok(text.includes('lodash (other/node_modules/lodash/package.json)'));
  });
});
