// Generates a Node.js project shaped like what npm writes: node_modules with N installed packages
// (package.json manifests, scoped and unscoped) and a v3 package-lock.json of about a given size.
// Used by bench/lang-analyze.mjs and by test/analyzers/lang-perf.test.ts (correctness on big inputs).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const INTEGRITY = `sha512-${'A'.repeat(86)}==`;

export function packageName(i) {
  return i % 7 === 0 ? `@scope${i % 13}/pkg-${i}` : `pkg-${i}`;
}

/** A v3 package-lock.json of about `bytes` bytes: hoisted packages and nested copies. */
export function packageLock(bytes) {
  const parts = ['{"name":"app","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{'];
  parts.push('"":{"name":"app","version":"1.0.0","dependencies":{"pkg-1":"^1.0.0","pkg-2":"^1.0.0"}}');
  let size = parts.join('').length;
  let i = 0;
  while (size < bytes) {
    const n = packageName(i);
    const path = i % 5 === 0 ? `node_modules/${packageName(i + 1)}/node_modules/${n}` : `node_modules/${n}`;
    const entry = `,\n    "${path}": {\n      "version": "${1 + (i % 9)}.${i % 17}.${i % 31}",\n      "resolved": "https://registry.npmjs.org/${n}/-/${n.replace(/^@[^/]+\//, '')}-1.0.0.tgz",\n      "integrity": "${INTEGRITY}",\n      ${i % 3 === 0 ? '"dev": true,\n      ' : ''}"license": "MIT",\n      "dependencies": {\n        "${packageName(i + 2)}": "^1.0.0",\n        "${packageName(i + 3)}": "~2.1.0"\n      },\n      "engines": {\n        "node": ">=14"\n      }\n    }`;
    parts.push(entry);
    size += entry.length;
    i++;
  }
  parts.push('}}');
  return { text: parts.join(''), count: i };
}

export function manifest(i) {
  return JSON.stringify(
    {
      name: packageName(i),
      version: `1.${i % 10}.${i % 7}`,
      description: 'A package of the generated tree, shaped like a real manifest',
      main: 'index.js',
      license: i % 4 === 0 ? { type: 'MIT', url: 'https://opensource.org/licenses/MIT' } : 'MIT',
      repository: { type: 'git', url: `git+https://github.com/example/${i}.git` },
      keywords: ['one', 'two', 'three'],
      dependencies: { [packageName(i + 1)]: '^1.0.0', [packageName(i + 2)]: '^2.0.0' },
      devDependencies: { mocha: '^10.0.0', eslint: '^8.0.0' },
      scripts: { test: 'mocha', lint: 'eslint .' },
      engines: { node: '>=14' },
    },
    null,
    2,
  );
}

/**
 * Writes `<root>/app/node_modules/**\/package.json` for `packages` packages and `<root>/app/package-lock.json`
 * of about `lockBytes`; returns the files (path relative to root, absolute path) and the lock's entry count.
 */
export function writeNodeProject(root, { packages = 1500, lockBytes = 10 * 1024 * 1024 } = {}) {
  const manifests = [];
  for (let i = 0; i < packages; i++) {
    const path = `app/node_modules/${packageName(i)}/package.json`;
    const abs = join(root, path);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, manifest(i));
    manifests.push({ path, abs });
  }
  const lock = packageLock(lockBytes);
  const lockFile = { path: 'app/package-lock.json', abs: join(root, 'app', 'package-lock.json') };
  writeFileSync(lockFile.abs, lock.text);
  return { manifests, lock: lockFile, lockBytes: lock.text.length, lockEntries: lock.count };
}
