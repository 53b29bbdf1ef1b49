// exemptions match every violation against their globs: compile each pattern once (configurations hold a few)
const compiled = new Map<string, (s: string) => boolean>();

/** `*` matches any run of characters (dots included); everything else is literal. */
export function globMatcher(pattern: string): (s: string) => boolean {
  let m = compiled.get(pattern);
  if (m) return m;
  if (!pattern.includes('*')) m = (s) => s === pattern;
  else {
    const re = new RegExp(`^${pattern.split('*').map(escapeRe).join('.*')}$`);
    m = (s) => re.test(s);
  }
  if (compiled.size >= 1024) compiled.clear();
  compiled.set(pattern, m);
  return m;
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
