import { boundedMemo } from '../util/memo.js';

/**
 * `*` matches any run of characters (dots included); everything else is literal. Exemptions match every
 * violation against their globs: each pattern is compiled once (configurations hold a few).
 */
export const globMatcher = boundedMemo((pattern: string): ((s: string) => boolean) => {
  if (!pattern.includes('*')) return (s) => s === pattern;
  const re = new RegExp(`^${pattern.split('*').map(escapeRe).join('.*')}$`);
  return (s) => re.test(s);
}, 1024);

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
