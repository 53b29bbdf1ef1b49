/**
 * `moat db update` against a local stand-in for the OSV bucket (test/helpers/osv-server.ts serving the
 * project's export zips): a first download (200), then a conditional request answered 304 (unchanged),
 * the counts in `moat db status`, a changed export downloaded again, and the mirror URL taken from the
 * flag, MOAT_DB_URL or the config file, in that order.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { moat, moatJson, REPO, requireBuild, type Sandbox, sandbox } from '../helpers/cli.js';
import { type OsvServer, startOsvServer } from '../helpers/osv-server.js';
import { zipJsonEntries } from './lib.js';

const EXPORTS = join(REPO, 'test/fixtures/vulndb/osv-export');
const ECOSYSTEMS = ['Debian', 'npm'];

interface UpdateJson {
  ecosystems: { ecosystem: string; status: 'updated' | 'unchanged'; records?: number }[];
}
interface StatusJson {
  totalRecords: number;
  ecosystems: { ecosystem: string; records: number; source?: string }[];
}

let counts: Record<string, number>;
let servers: OsvServer[];
let bucket: string;

before(async () => {
  requireBuild();
  const prep = await sandbox();
  process.once('exit', () => prep.remove());
  bucket = join(prep.inputs, 'bucket');
  counts = {};
  for (const e of ECOSYSTEMS) {
    mkdirSync(join(bucket, e), { recursive: true });
    copyFileSync(join(EXPORTS, e, 'all.zip'), join(bucket, e, 'all.zip'));
    counts[e] = zipJsonEntries(join(EXPORTS, e, 'all.zip')).length;
  }
  // three servers over the same files, to tell which URL a run used
  servers = await Promise.all([startOsvServer(bucket), startOsvServer(bucket), startOsvServer(bucket)]);
});
after(async () => {
  await Promise.all((servers ?? []).map((s) => s.close()));
});

const seen = (s: OsvServer) => s.requests.map((r) => `${r.status} ${r.path}`);

describe('moat db update', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await sandbox();
  });
  after(() => sb?.remove());

  it('downloads each ecosystem (200), then gets 304 and leaves the data unchanged', async () => {
    const [osv] = servers;
    const args = ['db', 'update', '--db-url', osv!.url, '--ecosystems', ECOSYSTEMS.join(',')];
    const first = await moatJson<UpdateJson>(sb, args);
    assert.deepEqual(
      first.ecosystems.map((e) => [e.ecosystem, e.status, e.records]),
      ECOSYSTEMS.map((e) => [e, 'updated', counts[e]]),
    );
    assert.deepEqual(seen(osv!), ['200 /Debian/all.zip', '200 /npm/all.zip']);

    const second = await moatJson<UpdateJson>(sb, args);
    assert.deepEqual(
      second.ecosystems.map((e) => [e.ecosystem, e.status]),
      ECOSYSTEMS.map((e) => [e, 'unchanged']),
    );
    assert.deepEqual(seen(osv!).slice(2), ['304 /Debian/all.zip', '304 /npm/all.zip']);
    // the second round was conditional: it sent the validators of the first
    for (const r of osv!.requests.slice(2))
      assert.ok(r.headers['if-none-match'] || r.headers['if-modified-since']);

    const status = await moatJson<StatusJson>(sb, ['db', 'status']);
    assert.equal(
      status.totalRecords,
      ECOSYSTEMS.reduce((n, e) => n + counts[e]!, 0),
    );
    for (const e of ECOSYSTEMS) {
      const row = status.ecosystems.find((x) => x.ecosystem === e);
      assert.equal(row?.records, counts[e], e);
      assert.match(row?.source ?? '', new RegExp(`${e}/all\\.zip`));
    }
    // the table shows the same counts
    const table = await moat(sb, ['db', 'status']);
    for (const e of ECOSYSTEMS) assert.match(table.stdout, new RegExp(`^${e}\\s+${counts[e]}\\s`, 'm'));

    // an export that changes upstream (new validators) is downloaded again; the other stays unchanged
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(bucket, 'npm', 'all.zip'), later, later);
    const third = await moatJson<UpdateJson>(sb, args);
    assert.deepEqual(
      third.ecosystems.map((e) => [e.ecosystem, e.status]),
      [
        ['Debian', 'unchanged'],
        ['npm', 'updated'],
      ],
    );
    assert.equal((await moatJson<StatusJson>(sb, ['db', 'status'])).totalRecords, status.totalRecords);
  });

  it('the table output names each ecosystem with its result', async () => {
    const fresh = await sandbox();
    try {
      const r = await moat(fresh, ['db', 'update', '--db-url', servers[0]!.url, '--ecosystems', 'npm']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^npm\\s+updated\\s+${counts.npm}`, 'm'));
    } finally {
      fresh.remove();
    }
  });

  it('an ecosystem the mirror does not have is an input error naming its URL', async () => {
    const fresh = await sandbox();
    try {
      const r = await moat(fresh, [
        'db',
        'update',
        '--db-url',
        servers[0]!.url,
        '--ecosystems',
        'NoSuchEcosystem',
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.lines.length, 1, r.stderr);
      assert.match(r.lines[0]!, /NoSuchEcosystem\/all\.zip.*404/);
    } finally {
      fresh.remove();
    }
  });
});

describe('--db-url from the flag, MOAT_DB_URL and the config file', () => {
  it('config < environment < flag', async () => {
    const [fromConfig, fromEnv, fromFlag] = servers as [OsvServer, OsvServer, OsvServer];
    const count = () => servers.map((s) => s.requests.length);
    const sb = await sandbox();
    try {
      writeFileSync(join(sb.cwd, 'moat.yaml'), `db-url: ${fromConfig.url}\necosystems: [npm]\n`);
      let before = count();
      let r = await moat(sb, ['db', 'update']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        count().map((n, i) => n - before[i]!),
        [1, 0, 0],
        'the config file',
      );

      before = count();
      r = await moat(sb, ['db', 'update'], { env: { MOAT_DB_URL: fromEnv.url } });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        count().map((n, i) => n - before[i]!),
        [0, 1, 0],
        'MOAT_DB_URL over the config file',
      );

      before = count();
      r = await moat(sb, ['db', 'update', '--db-url', fromFlag.url], { env: { MOAT_DB_URL: fromEnv.url } });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        count().map((n, i) => n - before[i]!),
        [0, 0, 1],
        'the flag over both',
      );
      const status = await moatJson<StatusJson>(sb, ['db', 'status']);
      assert.deepEqual(
        status.ecosystems.map((e) => [e.ecosystem, e.records]),
        [['npm', counts.npm]],
      );
    } finally {
      sb.remove();
    }
  });
});
