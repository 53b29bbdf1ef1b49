// File readers: gzip by magic bytes, rotated files and directories in time order, malformed records,
// following a growing / rotated / truncated file.
import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { AuditEvent } from '../../src/detect/event.js';
import {
  followAuditFile,
  listAuditFiles,
  newIngestStats,
  readAuditEvents,
} from '../../src/detect/ingest/index.js';

const FALCO = join(import.meta.dirname, '..', 'fixtures', 'audit', 'falco-events');
const tmp = mkdtempSync(join(tmpdir(), 'moat-ingest-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// one real event as a template; each test stamps its own auditIDs to track order
const template = JSON.parse(readFileSync(join(FALCO, 'create_secret.json'), 'utf8').trim()) as AuditEvent;
const line = (id: string) => `${JSON.stringify({ ...template, auditID: id })}\n`;
const lines = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => line(`${prefix}-${i}`)).join('');

async function ids(input: string | string[], stats = newIngestStats()): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readAuditEvents(input, { stats })) out.push(e.auditID);
  return out;
}

describe('files', () => {
  it('detects gzip by magic bytes, not by name', async () => {
    const gz = join(tmp, 'plain-name.log');
    writeFileSync(gz, gzipSync(lines('g', 3)));
    const plain = join(tmp, 'misnamed.gz');
    writeFileSync(plain, lines('p', 2));
    assert.deepEqual(await ids([gz, plain]), ['g-0', 'g-1', 'g-2', 'p-0', 'p-1']);
  });

  it('reads multi-member gzip (concatenated rotations) to the end', async () => {
    const f = join(tmp, 'multi.log.gz');
    writeFileSync(f, Buffer.concat([gzipSync(lines('a', 2)), gzipSync(lines('b', 2))]));
    assert.deepEqual(await ids(f), ['a-0', 'a-1', 'b-0', 'b-1']);
  });

  it('a corrupt gzip keeps what was read and is counted', async () => {
    const f = join(tmp, 'corrupt.log.gz');
    const whole = gzipSync(lines('c', 200));
    writeFileSync(f, whole.subarray(0, whole.length - 40));
    const stats = newIngestStats();
    const got = await ids(f, stats);
    assert.ok(got.length < 200);
    assert.equal(stats.malformed, 1);
    assert.match(stats.samples[0]!.reason, /gzip/);
  });

  it('orders a directory of rotated files by the rotation stamp, else mtime, current file last', async () => {
    const dir = join(tmp, 'rotated');
    rmSync(dir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'audit-2026-01-02T03-04-05.678.log.gz'), gzipSync(lines('second', 2)));
    writeFileSync(join(dir, 'audit-2026-01-01T00-00-00.000.log'), lines('first', 2));
    writeFileSync(join(dir, 'audit.log'), lines('current', 2));
    writeFileSync(join(dir, 'notes.md'), 'not a log');
    // mtimes contradict the names for the stamped files: the name wins
    const old = new Date('2020-01-01T00:00:00Z');
    utimesSync(join(dir, 'audit-2026-01-02T03-04-05.678.log.gz'), old, old);
    const listed = await listAuditFiles(dir);
    assert.equal(listed.length, 3);
    assert.deepEqual(await ids(dir), [
      'first-0',
      'first-1',
      'second-0',
      'second-1',
      'current-0',
      'current-1',
    ]);
  });

  it('counts malformed records with file, line and reason, and keeps only the first N as samples', async () => {
    const f = join(tmp, 'bad.log');
    const noVerb = JSON.stringify({ ...template, verb: undefined });
    writeFileSync(
      f,
      [
        line('ok-0').trim(),
        '{"kind": 0}',
        '',
        'not json',
        noVerb,
        '[1]',
        line('ok-1').trim(),
        '{"truncated": ',
      ].join('\n'),
    );
    const stats = newIngestStats(3);
    assert.deepEqual(await ids(f, stats), ['ok-0', 'ok-1']);
    assert.equal(stats.malformed, 5);
    assert.equal(stats.samples.length, 3);
    assert.deepEqual(
      stats.samples.map((s) => [s.file, s.line]),
      [
        [f, 2],
        [f, 4],
        [f, 5],
      ],
    );
    assert.match(stats.samples[2]!.reason, /without verb/);
  });

  it('a line over the limit is counted and skipped without holding it', async () => {
    const f = join(tmp, 'long.log');
    writeFileSync(f, `${line('a')}${'x'.repeat(5000)}\n${line('b')}`);
    const stats = newIngestStats();
    const out: string[] = [];
    for await (const e of readAuditEvents(f, { stats, maxLineBytes: 1000, chunkBytes: 512 }))
      out.push(e.auditID);
    assert.deepEqual(out, ['a', 'b']);
    assert.equal(stats.malformed, 1);
    assert.equal(stats.samples[0]!.line, 2);
  });

  it('a missing file is an error naming it', async () => {
    await assert.rejects(ids(join(tmp, 'nope.log')), /nope\.log/);
  });
});

describe('follow', () => {
  /** Collects followed events into `got`; resolves `until(n)` once n have arrived. */
  function follower(file: string, signal: AbortSignal) {
    const got: string[] = [];
    let waiting: { n: number; resolve: () => void } | undefined;
    const done = (async () => {
      for await (const batch of followAuditFile(file, { signal, pollMs: 10 })) {
        for (const e of batch) got.push(e.auditID);
        if (waiting && got.length >= waiting.n) waiting.resolve();
      }
    })();
    const until = (n: number) =>
      new Promise<void>((resolve, reject) => {
        if (got.length >= n) return resolve();
        const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${n} events: ${got}`)), 5000);
        waiting = {
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    return { got, until, done };
  }

  it('tails a growing file across partial lines, rotation and truncation, and stops on abort', async () => {
    const f = join(tmp, 'follow.log');
    writeFileSync(f, lines('a', 2));
    const ac = new AbortController();
    const { got, until, done } = follower(f, ac.signal);
    // a failed wait must still stop the follower, or the test process never ends
    const stop = (e: unknown) => {
      ac.abort();
      throw e;
    };
    await until(2).catch(stop);
    // a line written in two parts
    const half = line('b-0');
    appendFileSync(f, half.slice(0, 50));
    await new Promise((r) => setTimeout(r, 40));
    appendFileSync(f, half.slice(50) + lines('b', 3).slice(half.length));
    await until(5).catch(stop);
    // lumberjack rotation: rename, then a new file at the same path; the old file's late write still counts
    renameSync(f, join(tmp, 'follow-2026-01-01T00-00-00.000.log'));
    appendFileSync(join(tmp, 'follow-2026-01-01T00-00-00.000.log'), line('c-late'));
    writeFileSync(f, lines('d', 2));
    await until(8).catch(stop);
    // copytruncate
    truncateSync(f, 0);
    writeFileSync(f, line('e-0'));
    await until(9).catch(stop);
    ac.abort();
    await done;
    assert.deepEqual(got, ['a-0', 'a-1', 'b-0', 'b-1', 'b-2', 'c-late', 'd-0', 'd-1', 'e-0']);
  });

  it('fromEnd skips what is already there', async () => {
    const f = join(tmp, 'follow-end.log');
    writeFileSync(f, lines('old', 3));
    const ac = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const batch of followAuditFile(f, { signal: ac.signal, pollMs: 10, fromEnd: true })) {
        for (const e of batch) got.push(e.auditID);
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    appendFileSync(f, line('new'));
    for (let i = 0; i < 200 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await done;
    assert.deepEqual(got, ['new']);
  });
});
