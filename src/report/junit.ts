/**
 * JUnit XML, as CI systems read it (Jenkins, GitLab, GitHub test reporters; the common schema of
 * testsuites/testsuite/testcase with failure and skipped): one testsuite per vulnerable package, one
 * testcase per finding, failed with the vulnerability in the message. Suppressed findings are skipped
 * testcases naming the rule. A healthy scan is one suite for the target with one passing testcase, so that
 * the CI shows the check ran.
 */
import type { Finding, SuppressedFinding } from '../model/finding.js';
import type { ScanResult } from '../model/result.js';
import { groupByPackage, suppressionReason, suppressionSource } from './table.js';

/**
 * XML 1.0 text and attribute escaping. Most control characters and lone surrogates are not allowed in
 * XML 1.0 even escaped: they are dropped.
 */
export function xmlEscape(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const attrs = (a: Record<string, string | number>): string =>
  Object.entries(a)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');

function failureText(f: Finding): string {
  const lines = [
    `${f.id}${f.aliases.length ? ` (${f.aliases.join(', ')})` : ''}`,
    `package: ${f.package.name} ${f.installedVersion} (${f.package.type}) in ${f.package.path}`,
    `severity: ${f.severity} (${f.severitySource})`,
    `status: ${f.status}${f.fixedVersion ? `, fixed in ${f.fixedVersion}` : ''}`,
  ];
  if (f.package.layer) lines.push(`layer: ${f.package.layer.index} ${f.package.layer.digest}`);
  if (f.title) lines.push(`title: ${f.title}`);
  lines.push(f.remediation);
  for (const r of f.references.slice(0, 5)) lines.push(r);
  return lines.join('\n');
}

export function renderJunit(r: ScanResult): string {
  const timestamp = r.generatedAt.slice(0, 19);
  const suppressed = r.suppressed ?? [];
  const all: Finding[] = [...r.findings, ...suppressed];
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let skipped = 0;
  for (const g of groupByPackage(all)) {
    const first = g.findings[0]!;
    const name = `${first.package.name} ${first.installedVersion}`;
    const cases: string[] = [];
    let suiteFailures = 0;
    let suiteSkipped = 0;
    for (const f of g.findings) {
      const by = (f as Partial<SuppressedFinding>).suppressedBy;
      const head = `    <testcase${attrs({ classname: `${first.package.type}.${first.package.name}`, name: f.id, file: f.package.path, time: 0 })}>`;
      if (by) {
        suiteSkipped++;
        const why = suppressionReason(by);
        cases.push(
          `${head}\n      <skipped${attrs({ message: `suppressed by ${suppressionSource(by)}${why ? `: ${why}` : ''}` })}/>\n    </testcase>`,
        );
      } else {
        suiteFailures++;
        const message = `${f.id} (${f.severity}) in ${f.package.name} ${f.installedVersion}${f.fixedVersion ? `: fixed in ${f.fixedVersion}` : ': no fix yet'}`;
        cases.push(
          `${head}\n      <failure${attrs({ message, type: f.severity })}>${xmlEscape(failureText(f))}</failure>\n    </testcase>`,
        );
      }
    }
    tests += g.findings.length;
    failures += suiteFailures;
    skipped += suiteSkipped;
    suites.push(
      `  <testsuite${attrs({ name, tests: g.findings.length, failures: suiteFailures, errors: 0, skipped: suiteSkipped, time: 0, timestamp })}>\n` +
        `    <properties>\n      <property${attrs({ name: 'path', value: g.path })}/>\n` +
        `      <property${attrs({ name: 'type', value: first.package.type })}/>\n    </properties>\n` +
        `${cases.join('\n')}\n  </testsuite>`,
    );
  }
  if (r.findings.length === 0) {
    // a healthy target: one passing test, so the CI records that the scan ran
    tests++;
    suites.push(
      `  <testsuite${attrs({ name: r.target.name, tests: 1, failures: 0, errors: 0, skipped: 0, time: 0, timestamp })}>\n` +
        `    <testcase${attrs({ classname: 'moat', name: `no known vulnerabilities in ${r.summary.packages} packages`, time: 0 })}/>\n` +
        '  </testsuite>',
    );
  }
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites${attrs({ name: `moat ${r.target.name}`, tests, failures, errors: 0, skipped, time: 0 })}>\n` +
    `${suites.join('\n')}\n</testsuites>\n`
  );
}
