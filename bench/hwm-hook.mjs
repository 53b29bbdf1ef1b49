// Preloaded with `node --import` when GNU time is missing: writes the process's peak RSS (VmHWM, KiB)
// to $MOAT_BENCH_HWM at exit.
import { readFileSync, writeFileSync } from 'node:fs';

process.on('exit', () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  if (m && process.env.MOAT_BENCH_HWM) writeFileSync(process.env.MOAT_BENCH_HWM, m[1]);
});
