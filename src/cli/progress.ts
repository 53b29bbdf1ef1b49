import type { ProgressEvent, ProgressFn } from '../model/progress.js';

/**
 * A one-line progress display on stderr, only when stderr is a terminal (silent in CI and pipes). Shows
 * the sum over the items in flight, redrawn at most every 100 ms.
 */
export function terminalProgress(enabled: boolean): { onProgress?: ProgressFn; done(): void } {
  const stream = process.stderr;
  if (!enabled || !stream.isTTY) return { done() {} };
  const items = new Map<string, ProgressEvent>();
  let last = 0;
  let drawn = false;
  const draw = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    let done = 0;
    let total = 0;
    let phase = '';
    let unit: ProgressEvent['unit'] = 'items';
    for (const e of items.values()) {
      done += e.done;
      total += e.total ?? 0;
      phase = e.phase;
      unit = e.unit;
    }
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 50));
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const bar = total > 0 ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ` : '';
    const amount =
      unit === 'bytes'
        ? `${mib(done)}${total ? `/${mib(total)}` : ''} MiB`
        : `${done}${total ? `/${total}` : ''} ${unit}`;
    stream.write(`\r\x1b[2K${phase} ${bar}${amount}`);
    drawn = true;
  };
  return {
    onProgress(e) {
      items.set(`${e.phase}:${e.id}`, e);
      draw(e.finished === true);
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}

function mib(n: number): string {
  return (n / 1048576).toFixed(1);
}
