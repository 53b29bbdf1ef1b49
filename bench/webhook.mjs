// Admission webhook latency (issue 4): a typical Deployment's AdmissionReview at a fixed 1,000 requests/s
// over keep-alive HTTPS, with the whole default catalogue. Goal: p99 < 5 ms on the 2-core machine.
// Baseline in the same run: a bare node:https server that reads the body and returns a fixed
// AdmissionReview. Each server runs in its own process (the load generator in this one); rounds alternate
// moat and bare so that load on the shared machine hits both alike.
//
// The load is open-loop: request i is due at t0 + i/rate whatever happened to earlier ones (a closed loop
// waits for answers and so hides stalls). Latency is measured from writing a request to reading its
// answer; the generator's own lag (due → written: timer granularity, a busy machine) is reported beside
// it, and the latency counted from the due time too.
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { finish, median, ROOT, report } from './lib.mjs';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);
const WARMUP_SECONDS = 4;
const GOAL_P99_MS = 5;
const SERVER_NAME = 'moat-admission.moat-system.svc';
const dist = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);

/** A Deployment as the API server sends it on CREATE: two containers, probes, env, mounts, managedFields. */
export function typicalDeployment() {
  const container = (name, image, port) => ({
    name,
    image,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
    env: [
      { name: 'LOG_LEVEL', value: 'info' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'shop-db', key: 'password' } } },
    ],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: '/ready', port: 'http', scheme: 'HTTP' },
      periodSeconds: 5,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
    volumeMounts: [{ name: 'config', mountPath: '/etc/shop', readOnly: true }],
    securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'checkout',
      namespace: 'shop',
      labels: { app: 'checkout', 'app.kubernetes.io/part-of': 'shop', tier: 'backend' },
      annotations: {
        'deployment.kubernetes.io/revision': '1',
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
      },
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          apiVersion: 'apps/v1',
          time: '2026-01-01T00:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
            'f:spec': { 'f:replicas': {}, 'f:template': {} },
          },
        },
      ],
    },
    spec: {
      replicas: 3,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      selector: { matchLabels: { app: 'checkout' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: {
          labels: { app: 'checkout', tier: 'backend' },
          annotations: { 'prometheus.io/scrape': 'true' },
        },
        spec: {
          serviceAccountName: 'checkout',
          securityContext: {
            runAsUser: 10001,
            runAsGroup: 10001,
            fsGroup: 10001,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            container('checkout', 'registry.example.com/shop/checkout:2.4.1', 8080),
            container('envoy', 'envoyproxy/envoy:v1.31.0', 9901),
          ],
          volumes: [{ name: 'config', configMap: { name: 'checkout-config', defaultMode: 420 } }],
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          schedulerName: 'default-scheduler',
        },
      },
    },
  };
}

export function review(uid) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      requestKind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      requestResource: { group: 'apps', version: 'v1', resource: 'deployments' },
      name: 'checkout',
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'ci-deployer', uid: 'u-1', groups: ['system:authenticated', 'deployers'] },
      object: typicalDeployment(),
      oldObject: null,
      dryRun: false,
      options: {
        kind: 'CreateOptions',
        apiVersion: 'meta.k8s.io/v1',
        fieldManager: 'kubectl-client-side-apply',
      },
    },
  };
}

// ---- server processes ------------------------------------------------------------------------------

async function serve(kind) {
  const cert = process.env.BENCH_CERT;
  const key = process.env.BENCH_KEY;
  let port;
  if (kind === 'moat') {
    const { startAdmissionServer } = await dist('admission/server.js');
    const { PolicyEngine } = await dist('policy/engine.js');
    // BENCH_EMPTY_ENGINE=1: no checks at all (what the HTTP and review plumbing costs alone)
    const engine = process.env.BENCH_EMPTY_ENGINE ? new PolicyEngine({}, []) : new PolicyEngine();
    const server = await startAdmissionServer({
      engine,
      tls: { cert, key },
      port: 0,
      host: '127.0.0.1',
      bypass: { namespace: 'moat-system', serviceAccount: 'moat-admission' },
      // as `moat admission serve`: one JSON line per request with violations on stdout (here /dev/null:
      // a pipe to this busy parent would stall the server whenever the pipe is full)
      ...(process.env.BENCH_NO_AUDIT ? {} : { audit: (r) => process.stdout.write(`${JSON.stringify(r)}\n`) }),
    });
    port = server.port;
    process.send({ port, checks: engine.active.length });
  } else {
    const { createServer } = await import('node:https');
    const fixed = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'fixed', allowed: true },
    });
    const server = createServer({ cert, key, keepAliveTimeout: 120_000 }, (req, res) => {
      req.on('data', () => {});
      req.on('end', () => {
        res.writeHead(200, {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(fixed),
        });
        res.end(fixed);
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    port = server.address().port;
    process.send({ port });
  }
  // CPU time used so far (for the per-request figure), and since the last ask: the longest event-loop
  // stall and garbage-collection pause
  const { monitorEventLoopDelay, PerformanceObserver } = await import('node:perf_hooks');
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let gcMax = 0;
  let gcTotal = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMax = Math.max(gcMax, e.duration);
      gcTotal += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', () => {
    process.send({ cpu: process.cpuUsage(), loopMaxMs: loop.max / 1e6, gcMaxMs: gcMax, gcTotalMs: gcTotal });
    loop.reset();
    gcMax = 0;
    gcTotal = 0;
  });
  process.on('disconnect', () => process.exit(0));
}

function statsOf(server) {
  return new Promise((resolve) => {
    server.child.once('message', (m) => resolve({ cpuMs: (m.cpu.user + m.cpu.system) / 1000, ...m }));
    server.child.send('stats');
  });
}

function startServer(kind, certs) {
  // BENCH_PROFILE=DIR: V8 CPU profile of the moat server (BENCH_PROFILE_KIND=bare: of the bare one), see profile-summary.mjs
  const prof =
    process.env.BENCH_PROFILE && kind === (process.env.BENCH_PROFILE_KIND ?? 'moat')
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
      : [];
  const child = spawn(process.execPath, [...prof, import.meta.filename, '--serve', kind], {
    stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit', 'ipc'],
    env: { ...process.env, BENCH_CERT: certs.server.cert, BENCH_KEY: certs.server.key },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ ...m, child }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${code})`)));
  });
}

// ---- open-loop load generator ------------------------------------------------------------------------

/**
 * A minimal keep-alive HTTPS/1.1 client: pre-encoded requests written to raw TLS sockets, responses read
 * by Content-Length. node:https's client costs more CPU per request than the server under test does,
 * which on a 2-core machine would measure the generator; this one costs a few microseconds.
 */
class Pool {
  constructor(port, ca) {
    this.port = port;
    this.ca = ca;
    this.idle = [];
    this.waiting = [];
    this.all = [];
  }

  send(bytes, done) {
    const conn = this.idle.pop();
    if (conn) conn.send(bytes, done);
    else if (this.all.length < 64) this.open().send(bytes, done);
    else this.waiting.push([bytes, done]);
  }

  open() {
    const conn = {
      sock: connect({ host: '127.0.0.1', port: this.port, ca: this.ca, servername: SERVER_NAME }),
      buf: null,
      done: null,
      ready: false,
      queued: null,
    };
    conn.sock.setNoDelay(true);
    conn.sock.on('secureConnect', () => {
      conn.ready = true;
      if (conn.queued) conn.sock.write(conn.queued);
      conn.queued = null;
    });
    conn.send = (bytes, done) => {
      conn.done = done;
      conn.buf = null;
      if (conn.ready) conn.sock.write(bytes);
      else conn.queued = bytes;
    };
    conn.sock.on('data', (chunk) => {
      conn.buf = conn.buf ? Buffer.concat([conn.buf, chunk]) : chunk;
      const end = conn.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = conn.buf.toString('latin1', 0, end);
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (conn.buf.length < end + 4 + length) return;
      const status = Number(head.slice(9, 12));
      const done = conn.done;
      conn.done = null;
      conn.buf = null;
      const next = this.waiting.shift();
      if (next) conn.send(next[0], next[1]);
      else this.idle.push(conn);
      done(status);
    });
    const fail = () => {
      this.all = this.all.filter((c) => c !== conn);
      this.idle = this.idle.filter((c) => c !== conn);
      if (conn.done) conn.done(0);
      conn.done = null;
    };
    conn.sock.on('error', fail);
    conn.sock.on('close', fail);
    this.all.push(conn);
    return conn;
  }

  close() {
    for (const c of this.all) c.sock.destroy();
  }
}

async function load(pool, requests, seconds) {
  const total = Math.round(RATE * seconds);
  const latencies = new Float64Array(total);
  const fromDue = new Float64Array(total);
  const lags = new Float64Array(total);
  let done = 0;
  let errors = 0;
  let next = 0;
  const t0 = performance.now() + 5;
  await new Promise((resolve) => {
    const fire = (i) => {
      const due = t0 + (i * 1000) / RATE;
      const sent = performance.now();
      lags[i] = sent - due;
      pool.send(requests[i % requests.length], (status) => {
        const now = performance.now();
        latencies[i] = now - sent;
        fromDue[i] = now - due;
        if (status !== 200) errors++;
        if (++done === total) resolve();
      });
    };
    const tick = () => {
      const now = performance.now();
      // send every request that is due (catching up after a late timer), then sleep until the next one
      while (next < total && t0 + (next * 1000) / RATE <= now) fire(next++);
      if (next < total) setTimeout(tick, Math.max(0, t0 + (next * 1000) / RATE - performance.now()));
    };
    setTimeout(tick, 5);
  });
  const connections = pool.all.length;
  return { latencies: [...latencies], fromDue: [...fromDue], lags: [...lags], errors, connections };
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main() {
  if (!existsSync(join(ROOT, 'dist', 'admission', 'server.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const { generateWebhookCertificates } = await dist('admission/certs.js');
  const certs = generateWebhookCertificates('moat-admission', 'moat-system');
  // distinct uids, as the API server sends; the body is built once so that JSON encoding is not timed
  const bodies = Array.from({ length: 256 }, (_, i) =>
    Buffer.from(JSON.stringify(review(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`))),
  );
  // what the API server writes: the request line and headers, then the AdmissionReview
  const requests = bodies.map((b) =>
    Buffer.concat([
      Buffer.from(
        `POST /validate?timeout=5s HTTP/1.1\r\nHost: ${SERVER_NAME}:443\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: ${b.length}\r\n\r\n`,
      ),
      b,
    ]),
  );
  const servers = { moat: await startServer('moat', certs), bare: await startServer('bare', certs) };
  const samples = { moat: [], bare: [] };
  const dueSamples = { moat: [], bare: [] };
  // per-round percentiles: the median round is the figure, so that another job's burst on the shared
  // machine costs one round, not the result
  const rounds = { moat: [], bare: [] };
  const lags = { moat: [], bare: [] };
  const cpuMs = { moat: 0, bare: 0 };
  const stalls = { moat: 0, bare: 0 };
  const gc = { moat: { max: 0, total: 0 }, bare: { max: 0, total: 0 } };
  let connections = 0;
  let errors = 0;
  const pools = {};
  try {
    // one pool per server for the whole run, as the API server keeps its connections to a webhook;
    // warm-up: the pool's connections opened (a round starting with none would measure a burst of TLS
    // handshakes), and V8 given the few thousand reviews it takes to optimize the checks (per-review
    // time falls from ~0.9 ms in the first second to ~0.2 ms by the third)
    for (const k of ['moat', 'bare']) {
      pools[k] = new Pool(servers[k].port, certs.ca.cert);
      await load(pools[k], requests, WARMUP_SECONDS);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const k of ['moat', 'bare']) {
        const before = await statsOf(servers[k]);
        const out = await load(pools[k], requests, SECONDS);
        const after = await statsOf(servers[k]);
        cpuMs[k] += after.cpuMs - before.cpuMs;
        stalls[k] = Math.max(stalls[k], after.loopMaxMs);
        gc[k] = { max: Math.max(gc[k].max, after.gcMaxMs), total: gc[k].total + after.gcTotalMs };
        connections = Math.max(connections, out.connections);
        samples[k].push(...out.latencies);
        dueSamples[k].push(...out.fromDue);
        rounds[k].push({
          p50: percentile(out.latencies, 50),
          p99: percentile(out.latencies, 99),
          dueP99: percentile(out.fromDue, 99),
        });
        lags[k].push(...out.lags);
        errors += out.errors;
        if (out.errors > 0) console.log(`${k}: ${out.errors} failed requests`);
      }
    }
  } finally {
    for (const p of Object.values(pools)) p.close();
    for (const s of Object.values(servers)) s.child.disconnect();
  }
  const fig = (k) => ({
    p50: median(rounds[k].map((r) => r.p50)),
    p99: median(rounds[k].map((r) => r.p99)),
    dueP99: median(rounds[k].map((r) => r.dueP99)),
    allP99: percentile(samples[k], 99),
    max: percentile(samples[k], 100),
  });
  const moat = fig('moat');
  const bare = fig('bare');
  const ok = report(
    `webhook ${RATE} req/s, keep-alive HTTPS, Deployment (${bodies[0].length} B), ${servers.moat.checks} checks, median of ${ROUNDS} rounds of ${SECONDS} s`,
    {
      moat_p50_ms: moat.p50,
      moat_p99_ms: moat.p99,
      moat_max_ms: moat.max,
      bare_p50_ms: bare.p50,
      bare_p99_ms: bare.p99,
      ratio_p50: moat.p50 / bare.p50,
      ratio_p99: moat.p99 / bare.p99,
      moat_cpu_us_per_req: (cpuMs.moat * 1000) / samples.moat.length,
      bare_cpu_us_per_req: (cpuMs.bare * 1000) / samples.bare.length,
      moat_loop_stall_max_ms: stalls.moat,
      moat_gc_pause_max_ms: gc.moat.max,
      moat_gc_ms_per_s: gc.moat.total / (ROUNDS * SECONDS),
      bare_loop_stall_max_ms: stalls.bare,
      requests: samples.moat.length,
      errors,
      max_connections: connections,
      moat_p99_from_due_ms: moat.dueP99,
      bare_p99_from_due_ms: bare.dueP99,
      moat_p99_all_rounds_ms: moat.allP99,
      bare_p99_all_rounds_ms: bare.allP99,
      generator_lag_p99_ms: percentile([...lags.moat, ...lags.bare], 99),
      generator_lag_median_ms: median(lags.moat),
    },
    {
      text: `p99 < ${GOAL_P99_MS} ms at ${RATE} req/s`,
      headline: `p99 ${moat.p99.toFixed(2)} ms (bare ${bare.p99.toFixed(2)} ms), p50 ${moat.p50.toFixed(2)} ms`,
      check: () => moat.p99 < GOAL_P99_MS && errors === 0,
    },
  );
  finish([ok]);
}

// run as a script (not when imported for its request builders)
if (process.argv[1] === import.meta.filename) {
  if (process.argv[2] === '--serve') await serve(process.argv[3]);
  else await main();
}
