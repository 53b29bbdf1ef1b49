import { readFileSync } from 'node:fs';

/** moat's own version, from package.json (read once; the file sits two levels above src/ and dist/). */
export const MOAT_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
