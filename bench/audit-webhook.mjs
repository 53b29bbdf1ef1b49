// Audit webhook ingest (issue 5): EventList batches as kube-apiserver's webhook backend sends them (400
// events a batch, several keep-alive HTTPS connections) into the audit webhook, which acknowledges each
// batch only after its WAL fsync. Goal: 5,000 events/s sustained (the API server's default batching
// peaks near 4,000: 10 batches/s of 400) with nothing lost across a kill -9.
//
// Phases, each server in its own process (this one generates the load):
//  1. open loop: a batch is due every 400/rate seconds whether or not earlier ones were answered, for
//     BENCH_SECONDS, rounds alternating moat and the baseline (a bare node:https server that reads the
//     body and answers 200); batch latency p50/p99, sustained events/s, server CPU per event;
//  2. capacity: closed loop, 6 connections sending the next batch as soon as one is answered;
//  3. crash: the closed-loop load on a fresh server, kill -9 after 2.5 s with batches in flight (some
//     mid-write), a restart on the same data dir,
//     every unacknowledged batch sent again (the API server retries), then the WAL is read back and
//     the acknowledged events are counted against the stored ones (lost, stored twice).
//
// Events are the realistic mix of audit-detect.mjs (kubelets, controllers, scheduler, one Falco fixture
// attack in 100), each with a fresh auditID so that dedup drops nothing. Runs on dist/ (`npm run
// build`), or on src/ through tsx when dist/ lacks the webhook or BENCH_TSX=1.
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeAuditLog } from './audit-detect.mjs';
import { finish, median, ROOT, removeDir, report, tempDir } from './lib.mjs';

const RATE = Number(process.env.BENCH_RATE ?? 5000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_RUNS ?? 3);
const BATCH = 400;
const CONNECTIONS = 6;
const WARMUP_SECONDS = 2;
const CAPACITY_SECONDS = 4;
const CRASH_AFTER_MS = 2500;
const GOAL = 5000;
const TOKEN = 'bench-token-0123456789abcdef';
const OK = JSON.stringify({ apiVersion: 'v1', kind: 'Status', status: 'Success', code: 200 });

const DIST = join(ROOT, 'dist', 'detect', 'webhook', 'index.js');
const USE_DIST = existsSync(DIST) && !process.env.BENCH_TSX;
const underTsx = process.execArgv.some((a) => a.includes('tsx'));
const lib = (dist, src) => import(pathToFileURL(join(ROOT, USE_DIST ? `dist/${dist}` : `src/${src}`)).href);
const webhookLib = () => lib('detect/webhook/index.js', 'detect/webhook/index.ts');

// ---- server processes --------------------------------------------------------------------------------

async function serve(kind, dataDir) {
  const cert = process.env.BENCH_CERT;
  const key = process.env.BENCH_KEY;
  let server;
  let consumed = 0;
  if (kind === 'moat') {
    const { startAuditWebhook } = await webhookLib();
    let detector;
    if (process.env.BENCH_DETECT) {
      const { loadDefaultRules } = await lib('detect/rules/load.js', 'detect/rules/load.ts');
      const { createDetector } = await lib('detect/engine/detector.js', 'detect/engine/detector.ts');
      detector = createDetector(loadDefaultRules());
    }
    server = await startAuditWebhook({
      dataDir,
      tls: { cert, key },
      host: '127.0.0.1',
      port: 0,
      tokens: [TOKEN],
      onEvents: (events) => {
        consumed += events.length;
        if (detector) for (const e of events) detector.process(e);
      },
    });
  } else {
    server = createServer({ cert, key, keepAliveTimeout: 120_000 }, (req, res) => {
      req.on('data', () => {});
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': OK.length });
        res.end(OK);
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    server.port = server.address().port;
  }
  process.send({ port: server.port });
  process.on('message', (m) => {
    if (m === 'stats') {
      const s = kind === 'moat' ? server.stats() : undefined;
      process.send({
        cpu: process.cpuUsage(),
        consumed,
        ...(s
          ? {
              wal: s.wal,
              batches: s.batches,
              events: s.eventsAccepted,
              duplicates: s.duplicates,
              consumer: s.consumer,
            }
          : {}),
      });
    }
  });
  // a graceful stop (the crash phase's second life); kill -9 needs no handler
  process.on('disconnect', () => {
    Promise.resolve(kind === 'moat' ? server.close() : undefined).then(() => process.exit(0));
  });
}

function startServer(kind, certs, dataDir = '') {
  // BENCH_PROFILE=DIR: V8 CPU profiles of the moat servers (profile-summary.mjs DIR/*)
  const prof =
    process.env.BENCH_PROFILE && kind === 'moat'
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
      : [];
  const args = [
    ...prof,
    ...(USE_DIST ? [] : ['--import', 'tsx']),
    import.meta.filename,
    '--serve',
    kind,
    dataDir,
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit', 'ipc'],
    env: { ...process.env, BENCH_CERT: certs.server.cert, BENCH_KEY: certs.server.key },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ ...m, child }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${code}) before listening`)));
  });
}

function statsOf(server) {
  return new Promise((resolve) => {
    server.child.once('message', (m) => resolve({ cpuMs: (m.cpu.user + m.cpu.system) / 1000, ...m }));
    server.child.send('stats');
  });
}

// ---- batches -----------------------------------------------------------------------------------------

/**
 * Batch bodies built by concatenation: each template event is pre-serialized around its auditID, so a
 * batch costs a string join, not 400 JSON.stringify calls that would take CPU from the server under test.
 */
class Batches {
  constructor(templates) {
    this.templates = templates;
    this.next = 0;
    // a per-run prefix: the WAL of a previous run never makes these duplicates
    this.run = Math.floor(Math.random() * 0xffffffff)
      .toString(16)
      .padStart(8, '0');
  }

  id(n) {
    return `${this.run}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  }

  /** Batch i: its body and the (auditID, stage) of its events. */
  make() {
    const first = this.next;
    this.next += BATCH;
    const parts = [];
    const events = [];
    for (let k = 0; k < BATCH; k++) {
      const t = this.templates[(first + k) % this.templates.length];
      const id = this.id(first + k);
      parts.push(t.before + id + t.after);
      events.push({ auditID: id, stage: t.stage });
    }
    const body = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${parts.join(',')}]}`;
    return { body: Buffer.from(body), events };
  }
}

function templates() {
  const dir = tempDir('moat-bench-webhook-');
  try {
    const { lines } = writeAuditLog(join(dir, 'audit.log'), 4000);
    return lines.map((l) => {
      const e = JSON.parse(l);
      e.auditID = '@ID@';
      const text = JSON.stringify(e);
      const at = text.indexOf('@ID@');
      return { before: text.slice(0, at), after: text.slice(at + 4), stage: e.stage };
    });
  } finally {
    removeDir(dir);
  }
}

// ---- load --------------------------------------------------------------------------------------------

function post(port, agent, ca, body) {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/audit',
        method: 'POST',
        agent,
        ca,
        servername: 'localhost',
        headers: {
          Authorization: `Bearer ${TOKEN}`,
          'Content-Type': 'application/json',
          'Content-Length': body.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', () => resolve(0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Open loop: batch i is due at t0 + i·400/rate s. Returns per-batch latency and the acknowledged batches. */
async function openLoop(port, agent, ca, batches, seconds) {
  const interval = (BATCH / RATE) * 1000;
  const total = Math.max(1, Math.round(seconds * (RATE / BATCH)));
  const latencies = [];
  const acked = [];
  const failed = [];
  let errors = 0;
  const t0 = performance.now() + 5;
  const inflight = [];
  let lastAck = t0;
  for (let i = 0; i < total; i++) {
    const wait = t0 + i * interval - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const b = batches.make();
    const sent = performance.now();
    inflight.push(
      post(port, agent, ca, b.body).then((status) => {
        if (status === 200) {
          lastAck = performance.now();
          latencies.push(lastAck - sent);
          acked.push(b.events);
        } else {
          errors++;
          failed.push(b);
        }
      }),
    );
  }
  await Promise.all(inflight);
  // the load's own length, or longer when the server fell behind and the last answers came late
  const elapsed = Math.max(total * interval, lastAck - t0) / 1000;
  const events = acked.length * BATCH;
  return { latencies, acked, failed, errors, events, elapsed, eventsPerS: events / elapsed };
}

/**
 * Closed loop: `connections` senders, each posting its next batch as soon as one is answered, for
 * `seconds`, or until `killAt` ms after the start, when `kill` runs and the senders stop sending.
 */
async function closedLoop(port, agent, ca, batches, seconds, { killAt, kill } = {}) {
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const acked = [];
  const failed = [];
  let killed = false;
  const timer =
    killAt === undefined
      ? undefined
      : setTimeout(() => {
          killed = true;
          kill();
        }, killAt);
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (!killed && performance.now() < end) {
        const b = batches.make();
        const status = await post(port, agent, ca, b.body);
        // an acknowledged batch's body is dropped: only its events are checked later
        if (status === 200) acked.push(b.events);
        else failed.push(b);
      }
    }),
  );
  clearTimeout(timer);
  const elapsed = (performance.now() - t0) / 1000;
  return { acked, failed, errors: failed.length, eventsPerS: (acked.length * BATCH) / elapsed };
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

// ---- the crash phase ---------------------------------------------------------------------------------

async function crash(certs, batches) {
  const { storedEventKeys, eventKey } = await webhookLib();
  const dataDir = tempDir('moat-bench-webhook-crash-');
  try {
    const first = await startServer('moat', certs, dataDir);
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    // full speed on every connection, so that batches are in flight (some mid-write) at the kill
    const exited = new Promise((r) => first.child.once('exit', r));
    const out = await closedLoop(first.port, agent, certs.ca.cert, batches, 10, {
      killAt: CRASH_AFTER_MS,
      kill: () => first.child.kill('SIGKILL'),
    });
    await exited;
    agent.destroy();
    const acked = out.acked;
    // second life: every batch that got no 200 is sent again, as the API server retries it
    const second = await startServer('moat', certs, dataDir);
    const agent2 = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const resent = await Promise.all(out.failed.map((b) => post(second.port, agent2, certs.ca.cert, b.body)));
    agent2.destroy();
    // the replay to the consumer runs at start-up, beside the resent batches: wait for it
    let after = await statsOf(second);
    while (after.wal.checkpoint < after.wal.durableSeq) {
      await new Promise((r) => setTimeout(r, 20));
      after = await statsOf(second);
    }
    const exit = new Promise((r) => second.child.once('exit', r));
    second.child.disconnect();
    await exit;

    // read the WAL back: every acknowledged event once, the resent ones too, nothing else twice
    const { counts: stored, tornBytes } = await storedEventKeys(join(dataDir, 'audit-wal'));
    let lost = 0;
    for (const events of [...acked, ...out.failed.filter((_, i) => resent[i] === 200).map((b) => b.events)]) {
      for (const e of events) if (!stored.has(eventKey(e.auditID, e.stage))) lost++;
    }
    const twice = [...stored.values()].filter((n) => n > 1).length;
    return {
      ackedBeforeKill: acked.length * BATCH,
      inFlightAtKill: out.failed.length * BATCH,
      resentFailed: resent.filter((s) => s !== 200).length,
      stored: stored.size,
      lost,
      twice,
      duplicatesDropped: after.duplicates,
      replayed: after.consumer.replayedEvents,
      tornBytes,
    };
  } finally {
    removeDir(dataDir);
  }
}

// ---- main --------------------------------------------------------------------------------------------

async function main() {
  const { generateCa, issueServerCertificate } = await lib('admission/certs.js', 'admission/certs.ts');
  const ca = generateCa('moat audit webhook bench CA');
  const certs = { ca, server: issueServerCertificate(ca, ['localhost']) };
  const batches = new Batches(templates());
  const dataDir = tempDir('moat-bench-webhook-data-');
  const servers = { moat: await startServer('moat', certs, dataDir), bare: await startServer('bare', certs) };
  const agents = {
    moat: new Agent({ keepAlive: true, maxSockets: CONNECTIONS }),
    bare: new Agent({ keepAlive: true, maxSockets: CONNECTIONS }),
  };
  const rounds = { moat: [], bare: [] };
  const cpu = { moat: 0, bare: 0 };
  const events = { moat: 0, bare: 0 };
  const all = { moat: [], bare: [] };
  let errors = 0;
  let capacity;
  let walStats;
  try {
    for (const k of ['moat', 'bare']) {
      await openLoop(servers[k].port, agents[k], certs.ca.cert, batches, WARMUP_SECONDS);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const k of ['moat', 'bare']) {
        const before = await statsOf(servers[k]);
        const out = await openLoop(servers[k].port, agents[k], certs.ca.cert, batches, SECONDS);
        const after = await statsOf(servers[k]);
        cpu[k] += after.cpuMs - before.cpuMs;
        events[k] += out.events;
        errors += out.errors;
        all[k].push(...out.latencies);
        rounds[k].push({
          p50: percentile(out.latencies, 50),
          p99: percentile(out.latencies, 99),
          eps: out.eventsPerS,
        });
      }
    }
    capacity = {};
    for (const k of ['moat', 'bare']) {
      capacity[k] = await closedLoop(servers[k].port, agents[k], certs.ca.cert, batches, CAPACITY_SECONDS);
      errors += capacity[k].errors;
      // the capacity batches are not kept: a closed loop makes far more than the open-loop phases
      capacity[k].acked = capacity[k].failed = undefined;
    }
    walStats = await statsOf(servers.moat);
  } finally {
    for (const a of Object.values(agents)) a.destroy();
    for (const s of Object.values(servers)) s.child.disconnect();
  }
  removeDir(dataDir);
  const c = await crash(certs, batches);

  const fig = (k) => ({
    p50: median(rounds[k].map((x) => x.p50)),
    p99: median(rounds[k].map((x) => x.p99)),
    eps: median(rounds[k].map((x) => x.eps)),
  });
  const moat = fig('moat');
  const bare = fig('bare');
  const ok = report(
    `audit webhook ${RATE} events/s in batches of ${BATCH} over ${CONNECTIONS} keep-alive HTTPS connections, median of ${ROUNDS} rounds of ${SECONDS} s, then kill -9 mid-load`,
    {
      events_per_s: moat.eps,
      moat_p50_ms: moat.p50,
      moat_p99_ms: moat.p99,
      moat_max_ms: percentile(all.moat, 100),
      bare_p50_ms: bare.p50,
      bare_p99_ms: bare.p99,
      ratio_p50: moat.p50 / bare.p50,
      ratio_p99: moat.p99 / bare.p99,
      moat_capacity_events_per_s: capacity.moat.eventsPerS,
      bare_capacity_events_per_s: capacity.bare.eventsPerS,
      capacity_ratio: capacity.moat.eventsPerS / capacity.bare.eventsPerS,
      moat_cpu_us_per_event: (cpu.moat * 1000) / events.moat,
      bare_cpu_us_per_event: (cpu.bare * 1000) / events.bare,
      batches: walStats.batches,
      fsyncs: walStats.wal.fsyncs,
      fsyncs_per_batch: walStats.wal.fsyncs / walStats.batches,
      wal_mb: walStats.wal.bytes / 1048576,
      consumed: walStats.consumed,
      errors,
      crash_acked_events: c.ackedBeforeKill,
      crash_in_flight_events: c.inFlightAtKill,
      crash_stored_events: c.stored,
      crash_lost: c.lost,
      crash_stored_twice: c.twice,
      crash_retry_duplicates_dropped: c.duplicatesDropped,
      crash_replayed: c.replayed,
      crash_torn_bytes: c.tornBytes,
      runtime: USE_DIST ? 'dist' : 'tsx',
    },
    {
      text: `>= ${GOAL} events/s sustained, none lost or stored twice after kill -9`,
      headline: `${Math.round(moat.eps).toLocaleString('en')} events/s (capacity ${Math.round(capacity.moat.eventsPerS).toLocaleString('en')}, ${(capacity.moat.eventsPerS / capacity.bare.eventsPerS).toFixed(2)}x bare), p99 ${moat.p99.toFixed(1)} ms, lost ${c.lost}`,
      check: () =>
        moat.eps >= GOAL * 0.98 &&
        capacity.moat.eventsPerS >= GOAL &&
        errors === 0 &&
        c.lost === 0 &&
        c.twice === 0 &&
        c.resentFailed === 0,
    },
  );
  finish([ok]);
}

if (process.argv[1] === import.meta.filename) {
  if (process.argv[2] === '--serve') await serve(process.argv[3], process.argv[4]);
  else if (!USE_DIST && !underTsx) {
    // src/ through tsx: run this script again under the loader
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', import.meta.filename, ...process.argv.slice(2)],
      {
        stdio: 'inherit',
      },
    );
    child.on('exit', (code) => process.exit(code ?? 1));
  } else await main();
}
