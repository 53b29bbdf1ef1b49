import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ANALYZERS, analyzerKey } from '../../src/analyzers/index.js';
import type { Analyzer } from '../../src/analyzers/types.js';
import { ANALYZER_VERSIONS, analyzerKey as versionsKey } from '../../src/analyzers/versions.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'analyzers');

function isAnalyzer(v: unknown): v is Analyzer {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as Record<string, unknown>;
  return (
    typeof a.name === 'string' &&
    typeof a.version === 'number' &&
    typeof a.maxSize === 'number' &&
    typeof a.wants === 'function' &&
    typeof a.analyze === 'function'
  );
}

describe('analyzer registry', () => {
  it('the version table lists exactly the registered analyzers, with their versions', () => {
    assert.deepEqual(
      Object.fromEntries(ANALYZERS.map((a) => [a.name, a.version])),
      Object.fromEntries(Object.entries(ANALYZER_VERSIONS)),
    );
    assert.equal(analyzerKey(), versionsKey(), 'cache keys computed without the analyzers match');
    assert.notEqual(
      versionsKey({ ...ANALYZER_VERSIONS, dpkg: 99 }),
      versionsKey(),
      'a bumped version changes the key',
    );
  });

  it('registers every analyzer exported from src/analyzers/*.ts', async () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.ts') && f !== 'index.ts');
    let found = 0;
    for (const f of files) {
      const mod: Record<string, unknown> = await import(pathToFileURL(join(DIR, f)).href);
      for (const [name, value] of Object.entries(mod)) {
        if (!isAnalyzer(value)) continue;
        found++;
        assert.ok(
          ANALYZERS.includes(value),
          `${f} exports analyzer "${name}" that src/analyzers/index.ts does not list`,
        );
      }
    }
    assert.equal(found, ANALYZERS.length, 'every registered analyzer lives in its own file');
  });

  it('has unique names, positive versions and size caps', () => {
    const names = ANALYZERS.map((a) => a.name);
    assert.equal(new Set(names).size, names.length);
    for (const a of ANALYZERS) {
      assert.ok(Number.isInteger(a.version) && a.version > 0, a.name);
      assert.ok(a.maxSize > 0, a.name);
    }
  });

  it('keys the layer cache on names and versions, independent of order', () => {
    const key = analyzerKey(ANALYZERS);
    assert.equal(key, analyzerKey([...ANALYZERS].reverse()));
    for (const a of ANALYZERS) assert.ok(key.includes(`${a.name}@${a.version}`));
    const bumped = ANALYZERS.map((a, i) => (i === 0 ? { ...a, version: a.version + 1 } : a));
    assert.notEqual(analyzerKey(bumped), key);
    assert.notEqual(analyzerKey(ANALYZERS.slice(1)), key);
  });

  it('asks for each path from one analyzer at most', () => {
    const paths = [
      'etc/os-release',
      'usr/lib/os-release',
      'var/lib/dpkg/status',
      'var/lib/dpkg/status.d/libc6',
      'lib/apk/db/installed',
      'var/lib/rpm/Packages',
      'usr/lib/sysimage/rpm/rpmdb.sqlite',
      'usr/bin/bash',
    ];
    for (const p of paths) assert.ok(ANALYZERS.filter((a) => a.wants(p)).length <= 1, p);
  });
});
