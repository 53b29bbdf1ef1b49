// Posture end to end (issue 4): `moat posture DIR` over 20,000 objects, the whole default catalogue, JSON
// report to /dev/null, on two corpora:
//
// - reference: 20,000 Deployments shaped like the Kubernetes documentation's example Deployment
//   (bench/k8s-objects.mjs writeReferenceDeployments). The issue calibrates its goal on 20,000
//   Deployments that js-yaml parses in under 1 s and the `yaml` package in about 7 s on this machine;
//   these take 0.7 s and 7.0 s. Every one of them breaks 16 checks (320,000 violations). Goal: under 2 s.
// - mixed: 10,000 Deployments with two containers, probes, env and security contexts, plus Services,
//   ServiceAccounts, ConfigMaps and RBAC (bench/k8s-objects.mjs writeK8sObjects), 2.4 times the
//   reference's bytes. Reported against the same 2 s, for information.
//
// Baseline in the same run, per corpus: a node process that only reads and parses the same files with
// js-yaml (what any tool has to pay), so the ratio says what the engine adds on top of parsing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeK8sObjects, writeReferenceDeployments } from './k8s-objects.mjs';
import {
  alternate,
  finish,
  MOAT,
  measure,
  median,
  ms,
  ROOT,
  removeDir,
  report,
  runs,
  tempDir,
} from './lib.mjs';

const GOAL_MS = 2000;
const OBJECTS = 20_000;

function measureCorpus(dir, name, write, { n, goal }) {
  const manifests = join(dir, name);
  const { counts } = write(manifests, OBJECTS);
  const parseOnly = join(dir, `parse-only-${name}.mjs`);
  // resolve js-yaml from the project, as moat does
  writeFileSync(
    parseOnly,
    `import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const yaml = createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('js-yaml');
let n = 0;
for (const f of readdirSync(${JSON.stringify(manifests)})) n += yaml.loadAll(readFileSync(${JSON.stringify(manifests)} + '/' + f, 'utf8')).length;
if (n !== ${OBJECTS}) throw new Error('parsed ' + n);
`,
  );
  const t = alternate(n, {
    parse: () => measure(process.execPath, [parseOnly]).wall,
    moat: () =>
      measure(process.execPath, [MOAT, 'posture', '-q', '--format', 'json', '-o', '/dev/null', manifests], {
        cwd: dir,
      }).wall,
  });
  const moatMs = ms(median(t.moat));
  const parseMs = ms(median(t.parse));
  const headline = `${Math.round(moatMs)} ms (${Math.round(OBJECTS / (moatMs / 1000))} objects/s, ${(moatMs / parseMs).toFixed(2)}x parsing)`;
  return report(
    `posture, ${name} (${OBJECTS.toLocaleString('en')} objects: ${Object.entries(counts)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')})`,
    {
      moat_ms: moatMs,
      objects_per_s: OBJECTS / (moatMs / 1000),
      parse_only_ms: parseMs,
      ratio: moatMs / parseMs,
      // the machine is shared: the spread says how much of a miss is the neighbours'
      moat_min_ms: ms(Math.min(...t.moat)),
      moat_max_ms: ms(Math.max(...t.moat)),
      parse_only_min_ms: ms(Math.min(...t.parse)),
      runs: n,
    },
    goal
      ? { text: `end to end < ${GOAL_MS} ms`, check: () => moatMs < GOAL_MS, headline }
      : // for information: no PASS or MISS, but the figure in the summary
        { text: `none (information; the goal is the reference corpus's)`, headline },
  );
}

export async function posture({ n = runs(5) } = {}) {
  const dir = tempDir('moat-bench-posture-');
  try {
    const ok = measureCorpus(dir, 'reference', writeReferenceDeployments, { n, goal: true });
    measureCorpus(dir, 'mixed', writeK8sObjects, { n, goal: false });
    return ok;
  } finally {
    removeDir(dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) finish([await posture()]);
