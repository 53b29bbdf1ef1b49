import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadAll } from 'js-yaml';
import { imageMatches } from '../../src/policy/checks/defender/util.js';
import { BUILTIN_CHECKS } from '../../src/policy/checks/index.js';
import { evaluateCheck } from '../../src/policy/engine.js';
import {
  GATEKEEPER_MAPPINGS,
  GATEKEEPER_UNCOVERED,
  gatekeeperMapping,
} from '../../src/policy/gatekeeper-map.js';
import { containersOf, isObject, podSpecOf } from '../../src/policy/k8s.js';
import type { AdmissionFacts, K8sObject, Violation } from '../../src/policy/types.js';
import { unchangedPodSpecUpdate } from '../../src/policy/update.js';

/**
 * The Gatekeeper library's gator suites (test/fixtures/gatekeeper/index.json) against our checks: every
 * constraint of a covered policy is mapped onto a check (src/policy/gatekeeper-map.ts) and each sample
 * must get the suite's verdict. Held-back samples, when added to the index, are picked up the same way.
 */

const dir = new URL('../fixtures/gatekeeper/', import.meta.url);

interface Assertion {
  /** gator's default when omitted is `yes` */
  violations?: 'yes' | 'no' | number;
  message?: string;
}
interface Case {
  name: string;
  object: string;
  inventory: string[];
  expected: 'allowed' | 'disallowed';
  assertions: Assertion[];
}
interface Entry {
  policy: string;
  sample: string;
  dir: string;
  constraint: string;
  constraintKind: string;
  parameters: Record<string, unknown> | null;
  cases: Case[];
}
interface Index {
  entries: Entry[];
  templates: Record<string, { constraintKind: string }>;
}

const index = JSON.parse(readFileSync(new URL('index.json', dir), 'utf8')) as Index;
const docs = readFileSync(new URL('../../docs/policy/gatekeeper-mapping.md', import.meta.url), 'utf8');

function load(path: string): K8sObject {
  const docs = loadAll(readFileSync(new URL(path, dir), 'utf8')).filter(isObject);
  assert.ok(docs[0], `${path}: no object`);
  return docs[0] as K8sObject;
}

/** An AdmissionReview sample is evaluated as the admission door does: the unchanged-UPDATE rule first. */
function evaluate(
  checkId: string,
  raw: K8sObject,
  params: Record<string, unknown>,
  inventory: K8sObject[],
  pssVersion?: number,
): Violation[] {
  const check = BUILTIN_CHECKS.find((c) => c.id === checkId);
  assert.ok(check, `no check ${checkId}`);
  let object = raw;
  let admission: AdmissionFacts | undefined;
  if (raw.kind === 'AdmissionReview') {
    const req = isObject(raw.request) ? raw.request : {};
    object = req.object as K8sObject;
    const oldObject = isObject(req.oldObject) ? (req.oldObject as K8sObject) : undefined;
    admission = { operation: req.operation as AdmissionFacts['operation'], oldObject };
    if (admission.operation === 'UPDATE' && unchangedPodSpecUpdate(object, oldObject)) return [];
  }
  return evaluateCheck(check, object, {
    params,
    inventory: [object, ...inventory],
    admission,
    ...(pssVersion !== undefined ? { pssVersion } : {}),
  });
}

/**
 * Gator's message filters are regexes over Gatekeeper's own wording. The ones that name a container kind
 * (`container`, `initContainer`, `ephemeralContainer`, case-sensitive, so `container` never matches the
 * other two) become filters on the violation's path; other wording is Gatekeeper's, so those assertions
 * count every violation.
 */
const KIND_FILTERS: Record<string, RegExp> = {
  container: /(^|\.)containers\[/,
  initContainer: /(^|\.)initContainers\[/,
  ephemeralContainer: /(^|\.)ephemeralContainers\[/,
};

function holds(a: Assertion, violations: Violation[]): boolean {
  const filter = a.message !== undefined ? KIND_FILTERS[a.message] : undefined;
  const n = filter ? violations.filter((v) => filter.test(v.path ?? '')).length : violations.length;
  if (a.violations === undefined || a.violations === 'yes') return n > 0;
  if (a.violations === 'no') return n === 0;
  return n === a.violations;
}

/** Whether a sample relies on an image exemption the mapped check does not have (PSS checks). */
function usesIgnoredExemption(object: K8sObject, exemptImages: unknown): boolean {
  const inner =
    object.kind === 'AdmissionReview' && isObject(object.request) ? object.request.object : object;
  const ref = isObject(inner) ? podSpecOf(inner as K8sObject) : undefined;
  if (!ref || !Array.isArray(exemptImages)) return false;
  return containersOf(ref).some((c) => imageMatches(String(c.container.image), exemptImages.map(String)));
}

const results = { entries: 0, unsupported: 0, cases: 0, agreed: 0, skipped: 0 };

describe('Gatekeeper library samples', () => {
  test('every library policy is mapped or listed as not covered, with the reason in the docs', () => {
    for (const [policy, t] of Object.entries(index.templates)) {
      const m = gatekeeperMapping(policy);
      if (m) {
        assert.equal(m.constraintKind, t.constraintKind, policy);
        for (const id of m.checks)
          assert.ok(
            BUILTIN_CHECKS.some((c) => c.id === id),
            `${policy} → ${id}`,
          );
        assert.ok(docs.includes(`| ${policy} |`), `docs/policy/gatekeeper-mapping.md lists ${policy}`);
      } else {
        assert.ok(GATEKEEPER_UNCOVERED[policy], `${policy} is neither mapped nor listed as not covered`);
        assert.ok(docs.includes(`| ${policy} |`), `docs/policy/gatekeeper-mapping.md lists ${policy}`);
      }
    }
    for (const m of GATEKEEPER_MAPPINGS)
      assert.ok(index.templates[m.policy], `${m.policy} is a library policy`);
  });

  for (const entry of index.entries) {
    const mapping = gatekeeperMapping(entry.policy);
    if (!mapping) continue;
    describe(`${entry.policy}/${entry.sample} (${entry.constraint})`, () => {
      const mapped = mapping.map(entry.parameters ?? {});
      if ('unsupported' in mapped) {
        test('constraint parameters outside the check', (t) => {
          results.unsupported++;
          t.diagnostic(mapped.unsupported);
        });
        return;
      }
      results.entries++;
      for (const c of entry.cases) {
        test(`${c.name}: ${c.expected}`, (t) => {
          const object = load(`${entry.dir}/${c.object}`);
          if (
            mapped.ignored?.includes('exemptImages') &&
            usesIgnoredExemption(object, entry.parameters?.exemptImages)
          ) {
            results.skipped++;
            t.skip(`relies on exemptImages, which ${mapped.checkId} does not have`);
            return;
          }
          const inventory = c.inventory.map((f) => load(`${entry.dir}/${f}`));
          const violations = evaluate(mapped.checkId, object, mapped.params, inventory, mapped.pssVersion);
          results.cases++;
          for (const a of c.assertions) {
            assert.ok(
              holds(a, violations),
              `${c.object}: expected ${JSON.stringify(a)}, got ${JSON.stringify(violations.map((v) => v.message))}`,
            );
          }
          results.agreed++;
        });
      }
    });
  }

  test('coverage', (t) => {
    // every mapped constraint's cases ran and agreed (a disagreement fails its own test above)
    assert.ok(results.entries > 0);
    assert.equal(results.agreed, results.cases);
    t.diagnostic(
      `${results.entries} constraints mapped (${results.unsupported} outside the checks' meaning), ${results.agreed}/${results.cases} samples agree, ${results.skipped} skipped (image exemptions a PSS check lacks)`,
    );
  });
});
