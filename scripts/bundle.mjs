// Bundles the CLI into dist/bin/ (one file per lazily loaded part) so that a run loads a handful of
// files instead of ~100 modules: start-up time is most of a warm rescan. The library entry point
// (dist/index.js, from tsc) is not bundled. better-sqlite3's JavaScript is bundled too (its native addon
// is loaded by path, see src/util/sqlite.ts). Minified, with source maps that --debug turns on: parsing
// less code is a measurable share of a warm rescan (742M -> 720M instructions under callgrind).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// chunk names carry content hashes: clear the old ones so they do not pile up
rmSync('dist/bin', { recursive: true, force: true });

await build({
  entryPoints: { main: 'dist/cli/main.js' },
  outdir: 'dist/bin',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: [],
  minify: true,
  sourcemap: 'linked',
  // bundled CommonJS dependencies call require(); give the ESM bundle one
  banner: {
    js: "import { createRequire as __moatRequire } from 'node:module'; const require = __moatRequire(import.meta.url);",
  },
  logLevel: 'warning',
  legalComments: 'linked',
});
