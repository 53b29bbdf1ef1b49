// Summarises a V8 CPU profile (`node --cpu-prof`): self and inclusive time per function, and per file.
// Several files (e.g. one per run of a noisy command) are averaged.
// Usage: node bench/profile-summary.mjs FILE.cpuprofile... [--top N] [--filter TEXT]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const values = new Set(['--top', '--filter'].map((o) => args.indexOf(o) + 1).filter((i) => i > 0));
const files = args.filter((a, i) => !a.startsWith('--') && !values.has(i));
if (files.length === 0) {
  console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile... [--top N] [--filter TEXT]');
  process.exit(2);
}
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const top = Number(opt('top', 30));
const filter = opt('filter', '');

const key = (n) => {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
  return `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`;
};
const fileOf = (n) =>
  n.callFrame.url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '') || n.callFrame.functionName;
const add = (m, k, us) => m.set(k, (m.get(k) ?? 0) + us / files.length);
const self = new Map();
const incl = new Map();
const byFile = new Map();
let total = 0;
for (const file of files) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // each sample's duration goes to its leaf (self) and once to every distinct function on its stack
  const selfUs = new Map();
  const dt = prof.timeDeltas;
  for (let i = 0; i < prof.samples.length; i++) {
    const d = dt[i + 1] ?? 0;
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + d);
  }
  for (const [id, us] of selfUs) {
    total += us / files.length;
    const n = nodes.get(id);
    add(self, key(n), us);
    add(byFile, fileOf(n), us);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(nodes.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      add(incl, k, us);
    }
  }
}
const show = (title, m) => {
  console.log(`\n${title}`);
  const rows = [...m]
    .filter(([k]) => k.includes(filter))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
  for (const [k, us] of rows)
    console.log(
      `${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`,
    );
};
console.log(`total sampled: ${(total / 1000).toFixed(1)} ms (mean of ${files.length} profiles)`);
show('self time by function', self);
show('inclusive time by function', incl);
show('self time by file', byFile);
