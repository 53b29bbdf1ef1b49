import type { AnalyzerContext } from './types.js';

const MAX_WARNINGS = 20;

/**
 * Forwards per-record warnings to the context, at most MAX_WARNINGS of them; `flush()` reports how many more
 * were suppressed, so that a garbage file yields a handful of lines instead of one per stanza.
 */
export interface BoundedWarn {
  (reason: string): void;
  flush(): void;
}

export function boundedWarn(ctx: AnalyzerContext, limit = MAX_WARNINGS): BoundedWarn {
  let count = 0;
  const warn = (reason: string): void => {
    count++;
    if (count <= limit) ctx.warn(reason);
  };
  const flush = (): void => {
    if (count > limit) ctx.warn(`${count - limit} more problems of the same kind were not reported`);
    count = 0;
  };
  return Object.assign(warn, { flush });
}
