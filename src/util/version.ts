import { readFileSync } from 'node:fs';

/** moat's own version, from package.json (read once; two levels above src/util/, dist/util/ and the bundle in dist/bin/). */
export const MOAT_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
