/**
 * JUnit XML read back by an independent XML parser (Python's xml.etree, which rejects malformed XML):
 * suites per package, a failed testcase per finding, skipped ones for suppressed findings, a passing
 * testcase for a healthy target, and text that needs escaping kept intact.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { renderJunit, xmlEscape } from '../../src/report/junit.js';
import { fixedResult, healthyResult } from './fixture.js';

interface Parsed {
  tests: number;
  failures: number;
  skipped: number;
  suites: {
    name: string;
    tests: number;
    failures: number;
    skipped: number;
    cases: {
      classname: string;
      name: string;
      failure?: { message: string; text: string };
      skipped?: string;
    }[];
  }[];
}

const PARSE = `
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
out = {"tests": int(root.get("tests")), "failures": int(root.get("failures")), "skipped": int(root.get("skipped")), "suites": []}
for s in root.findall("testsuite"):
    cases = []
    for c in s.findall("testcase"):
        case = {"classname": c.get("classname"), "name": c.get("name")}
        f = c.find("failure")
        if f is not None: case["failure"] = {"message": f.get("message"), "text": f.text or ""}
        k = c.find("skipped")
        if k is not None: case["skipped"] = k.get("message")
        cases.append(case)
    out["suites"].append({"name": s.get("name"), "tests": int(s.get("tests")), "failures": int(s.get("failures")), "skipped": int(s.get("skipped")), "cases": cases})
print(json.dumps(out))
`;

function parse(xml: string): Parsed {
  return JSON.parse(execFileSync('python3', ['-c', PARSE], { input: xml, encoding: 'utf8' })) as Parsed;
}

describe('JUnit XML', () => {
  test('one suite per vulnerable package, one testcase per finding; suppressed ones skipped', () => {
    const r = fixedResult();
    const x = parse(renderJunit(r));
    const suppressed = r.suppressed ?? [];
    assert.equal(x.tests, r.findings.length + suppressed.length);
    assert.equal(x.failures, r.findings.length);
    assert.equal(x.skipped, suppressed.length);
    const packages = new Set(
      [...r.findings, ...suppressed].map((f) => `${f.package.name} ${f.installedVersion}`),
    );
    assert.deepEqual(new Set(x.suites.map((s) => s.name)), packages);
    for (const s of x.suites) {
      assert.equal(s.tests, s.cases.length);
      assert.equal(s.failures, s.cases.filter((c) => c.failure).length);
      assert.equal(s.skipped, s.cases.filter((c) => c.skipped).length);
    }
    for (const f of r.findings) {
      const c = x.suites
        .flatMap((s) => s.cases)
        .find((k) => k.name === f.id && k.classname.endsWith(f.package.name));
      assert.ok(c?.failure, f.id);
      assert.ok(c.failure.message.includes(f.severity));
      if (f.fixedVersion) assert.ok(c.failure.message.includes(f.fixedVersion));
    }
    for (const f of suppressed) {
      const c = x.suites.flatMap((s) => s.cases).find((k) => k.name === f.id);
      assert.ok(c?.skipped?.includes(f.suppressedBy.file), f.id);
    }
  });

  test('a healthy target is one passing testcase', () => {
    const x = parse(renderJunit(healthyResult()));
    assert.equal(x.tests, 1);
    assert.equal(x.failures, 0);
    assert.equal(x.suites.length, 1);
    assert.equal(x.suites[0]!.cases[0]!.failure, undefined);
  });

  test('markup, quotes and control characters in advisory text', () => {
    const r = fixedResult();
    const f = r.findings[0]!;
    f.title = `a <b> & "c" 'd' \u0001\u001b[31m]]> end`;
    const x = parse(renderJunit(r));
    const c = x.suites.flatMap((s) => s.cases).find((k) => k.name === f.id)!;
    // the parser gives back the text, less the characters XML 1.0 cannot carry
    assert.ok(c.failure!.text.includes(`title: a <b> & "c" 'd' [31m]]> end`), c.failure!.text);
    assert.equal(xmlEscape('\uD800x\u0000'), 'x', 'lone surrogates and NUL are dropped');
  });
});
