import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DedupIndex,
  KEY_BYTES,
  openWal,
  type Wal,
  type WalRecord,
  writeEventKey,
} from '../../src/detect/webhook/index.js';
import { setLogLevel } from '../../src/log.js';

setLogLevel('silent');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'moat-wal-'));
  dirs.push(d);
  return d;
}

/** A record of `n` events with fresh UUID auditIDs: its keys and a payload naming them. */
function batch(n: number, tag = ''): { keys: Buffer; payload: Buffer; ids: string[] } {
  const ids = Array.from({ length: n }, () => randomUUID());
  const keys = Buffer.alloc(n * KEY_BYTES);
  for (const [i, id] of ids.entries()) writeEventKey(id, 'ResponseComplete', keys, i * KEY_BYTES);
  return { keys, ids, payload: Buffer.from(JSON.stringify({ tag, ids })) };
}

async function readAll(wal: Wal, from = 1): Promise<WalRecord[]> {
  const reader = wal.reader(from);
  const out: WalRecord[] = [];
  for (;;) {
    const recs = await reader.next(64 * 1024);
    if (recs.length === 0) break;
    out.push(...recs);
  }
  await reader.close();
  return out;
}

const segments = (dir: string) =>
  readdirSync(join(dir))
    .filter((n) => n.endsWith('.wal'))
    .sort();

describe('dedup index', () => {
  it('agrees with a Set over random keys while evicting the oldest', () => {
    const cap = 1000;
    const index = new DedupIndex(cap);
    const order: string[] = [];
    const key = Buffer.alloc(KEY_BYTES);
    const ids = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? `not-a-uuid-${i}` : randomUUID()));
    const stages = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic', 'Odd'];
    for (let step = 0; step < 20_000; step++) {
      // re-draw recent and old ids alike, so both hits and evicted keys are exercised
      const id = ids[Math.floor(Math.random() * ids.length)] as string;
      const stage = stages[step % stages.length] as string;
      writeEventKey(id, stage, key, 0);
      const name = `${id}/${stage}`;
      const expected = order.includes(name);
      assert.equal(index.has(key, 0), expected, `step ${step}`);
      if (!expected) {
        index.add(key, 0);
        order.push(name);
        if (order.length > cap) order.shift();
      }
    }
    assert.equal(index.size, cap);
  });

  it('tells the stages of one request apart and reads UUIDs case-insensitively', () => {
    const id = randomUUID();
    const a = Buffer.alloc(KEY_BYTES);
    const b = Buffer.alloc(KEY_BYTES);
    writeEventKey(id, 'RequestReceived', a, 0);
    writeEventKey(id, 'ResponseComplete', b, 0);
    assert.notDeepEqual(a, b);
    writeEventKey(id.toUpperCase(), 'RequestReceived', b, 0);
    assert.deepEqual(a, b);
  });
});

describe('write-ahead log', () => {
  it('keeps records across close and reopen, in order, with their keys', async () => {
    const dir = tempDir();
    const wal = await openWal(dir);
    const written = [batch(3, 'a'), batch(1, 'b'), batch(400, 'c')];
    const seqs: number[] = [];
    for (const b of written) seqs.push(await wal.append('events', b.keys, b.ids.length, b.payload));
    assert.deepEqual(seqs, [1, 2, 3]);
    await wal.close();

    const again = await openWal(dir);
    assert.equal(again.durableSeq(), 3);
    assert.equal(again.openSeq, 3);
    const recs = await readAll(again);
    assert.deepEqual(
      recs.map((r) => JSON.parse(r.payload.toString()).tag),
      written.map((_, i) => 'abc'[i]),
    );
    for (const [i, r] of recs.entries()) assert.deepEqual(r.keys, written[i]?.keys);
    // the dedup index was rebuilt from the keys on disk
    for (const b of written) assert.ok(again.dedup.has(b.keys, 0));
    assert.equal(again.dedup.size, 404);
    await again.close();
  });

  it('shares one fsync among concurrent appends (group commit)', async () => {
    const dir = tempDir();
    const wal = await openWal(dir);
    const n = 200;
    const seqs = await Promise.all(
      Array.from({ length: n }, () => {
        const b = batch(2);
        return wal.append('events', b.keys, 2, b.payload);
      }),
    );
    assert.deepEqual(
      seqs,
      Array.from({ length: n }, (_, i) => i + 1),
    );
    const { fsyncs, appendedRecords } = wal.stats();
    assert.equal(appendedRecords, n);
    // the first append goes alone; everything queued behind it shares the next fsync or two
    assert.ok(fsyncs < n / 10, `${fsyncs} fsyncs for ${n} appends`);
    await wal.close();
  });

  it('cuts a torn tail record at open and appends after it', async () => {
    const dir = tempDir();
    let wal = await openWal(dir);
    const kept = batch(5, 'kept');
    await wal.append('events', kept.keys, 5, kept.payload);
    const firstRecordEnd = wal.stats().bytes;
    const torn = batch(5, 'torn');
    await wal.append('events', torn.keys, 5, torn.payload);
    await wal.close();
    const file = join(dir, segments(dir)[0] as string);
    const full = statSync(file).size;
    // a crash in the middle of the second record's write
    truncateSync(file, full - 7);
    wal = await openWal(dir);
    assert.equal(wal.durableSeq(), 1);
    assert.equal(wal.stats().tornBytes, full - 7 - firstRecordEnd);
    assert.equal(statSync(file).size, firstRecordEnd);
    assert.ok(wal.dedup.has(kept.keys, 0));
    assert.ok(!wal.dedup.has(torn.keys, 0), 'the torn record was never acknowledged');
    const next = batch(2, 'next');
    assert.equal(await wal.append('events', next.keys, 2, next.payload), 2);
    await wal.close();
    wal = await openWal(dir);
    assert.deepEqual(
      (await readAll(wal)).map((r) => JSON.parse(r.payload.toString()).tag),
      ['kept', 'next'],
    );
    await wal.close();
  });

  it('cuts a tail whose checksum does not match, and trailing zeros', async () => {
    const dir = tempDir();
    let wal = await openWal(dir);
    for (const tag of ['a', 'b', 'c']) {
      const b = batch(3, tag);
      await wal.append('events', b.keys, 3, b.payload);
    }
    await wal.close();
    const file = join(dir, segments(dir)[0] as string);
    const bytes = readFileSync(file);
    // flip a payload byte of the last record: its length is fine, its CRC is not
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0xff;
    // and a filesystem that grew the file without writing it (ext4 after power loss) leaves zeros
    writeFileSync(file, Buffer.concat([bytes, Buffer.alloc(4096)]));
    wal = await openWal(dir);
    assert.equal(wal.durableSeq(), 2);
    assert.deepEqual(
      (await readAll(wal)).map((r) => JSON.parse(r.payload.toString()).tag),
      ['a', 'b'],
    );
    assert.equal(statSync(file).size, bytes.length + 4096 - wal.stats().tornBytes);
    await wal.close();
  });

  it('rotates segments, reads across them, and deletes the oldest past the retention size', async () => {
    const dir = tempDir();
    const wal = await openWal(dir, { segmentBytes: 4096, retentionBytes: 5 * 4096 });
    const all: string[] = [];
    for (let i = 0; i < 200; i++) {
      const b = batch(4, `r${i}`);
      all.push(`r${i}`);
      await wal.append('events', b.keys, 4, b.payload);
    }
    const st = wal.stats();
    assert.ok(st.deletedSegments > 0, 'retention deleted segments');
    assert.ok(st.bytes <= 6 * 4096 + 1024, `${st.bytes} bytes kept`);
    assert.equal(segments(dir).length, st.segments);
    // nothing was consumed: what retention deleted is reported
    assert.ok(st.deletedUnconsumed > 0);
    const recs = await readAll(wal);
    const tags = recs.map((r) => JSON.parse(r.payload.toString()).tag);
    // what is left is the newest records, in order, without a gap
    assert.deepEqual(tags, all.slice(all.length - tags.length));
    assert.equal(recs.at(-1)?.seq, 200);
    await wal.close();
    // reopened, the dedup index holds the keys of every record left, older segments' too
    const again = await openWal(dir, { segmentBytes: 4096, retentionBytes: 5 * 4096 });
    assert.ok(segments(dir).length > 2);
    for (const r of recs) {
      for (let off = 0; off < r.keys.length; off += KEY_BYTES) assert.ok(again.dedup.has(r.keys, off));
    }
    assert.equal(again.dedup.size, recs.length * 4);
    await again.close();
  });

  it('persists the checkpoint and reads from it after a reopen', async () => {
    const dir = tempDir();
    let wal = await openWal(dir, { segmentBytes: 2048 });
    for (let i = 0; i < 20; i++) {
      const b = batch(2, `c${i}`);
      await wal.append('events', b.keys, 2, b.payload);
    }
    wal.setCheckpoint(13);
    await wal.close();
    wal = await openWal(dir);
    assert.equal(wal.checkpoint(), 13);
    const recs = await readAll(wal, wal.checkpoint() + 1);
    assert.deepEqual(
      recs.map((r) => r.seq),
      [14, 15, 16, 17, 18, 19, 20],
    );
    // sequence numbers continue after the last record
    const b = batch(1);
    assert.equal(await wal.append('events', b.keys, 1, b.payload), 21);
    await wal.close();
  });

  it('refuses a directory another live process holds, takes over a dead one', async () => {
    const dir = tempDir();
    const wal = await openWal(dir);
    await assert.rejects(openWal(dir), /already open in this process/);
    await wal.close();
    // pid 1 is alive (init); a lock naming it belongs to someone else
    writeFileSync(join(dir, 'lock'), '1\n');
    await assert.rejects(openWal(dir), /in use by process 1/);
    // a pid that cannot exist: the lock is stale
    writeFileSync(join(dir, 'lock'), '2147483646\n');
    const taken = await openWal(dir);
    await taken.close();
    // pid 1 alive, but not the process that wrote the lock (its start time differs): a reused pid
    writeFileSync(join(dir, 'lock'), '1 123456789\n');
    const reused = await openWal(dir);
    assert.match(readFileSync(join(dir, 'lock'), 'utf8'), new RegExp(`^${process.pid} \\d+\n$`));
    await reused.close();
  });
});
