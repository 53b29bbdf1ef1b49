import { stat } from 'node:fs/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { MoatError } from '../errors.js';
import { log } from '../log.js';
import { type Assessment, type PolicyConfig, PolicyEngine, type RemoteViolations } from '../policy/engine.js';
import type { K8sObject, ObjectSource, SourcedObject } from '../policy/types.js';
import { loadManifestItems, type ManifestError, type ManifestItem, type ManifestLoad } from './manifests.js';

/**
 * `moat posture` on large manifest sets, split among worker threads on request (MOAT_POSTURE_THREADS;
 * planParts says why not by default). The files are cut into contiguous parts; the main thread reads the
 * first, each worker another, and runs the object-scope checks of what it read. The threads share only
 * what checks look up in the inventory (ServiceAccounts, Roles...: PolicyEngine.sharedKinds) whole; of
 * every other object a worker sends the main thread apiVersion, kind and metadata, which is what the
 * report, exemptions and the cluster-scope checks read (cloning whole workloads would cost about what
 * parsing them does). The main thread replays each worker's violations in input order, then runs the
 * cluster-scope checks: the report is the one a single thread makes.
 */

const MAX_THREADS = 8;
/**
 * The main thread's part, relative to a worker's: besides its own part it receives the others' objects,
 * replays their violations and writes the report.
 */
const MAIN_WEIGHT = 0.7;

interface ShardData {
  moatPostureShard: true;
  /** this worker's part (the main thread reads part 0) and the number of parts */
  part: number;
  parts: number;
  items: ManifestItem[];
  config: PolicyConfig;
  /** kinds shared whole */
  shared: string[];
}

type FromWorker =
  | {
      type: 'parsed';
      errors: ManifestError[];
      files: number;
      documents: number;
      /** the objects read: whole for shared kinds, else apiVersion, kind and metadata */
      objects: K8sObject[];
      /** their sources, by column: file (index into sourceFiles; -1 none), line and document (-1 none) */
      sourceFiles: string[];
      sourceFile: Int32Array;
      sourceLine: Int32Array;
      sourceDocument: Int32Array;
    }
  | { type: 'evaluated'; violations: RemoteViolations }
  | { type: 'failed'; message: string };

/** Another part's objects of the shared kinds, for the worker's inventory. */
interface ToWorker {
  part: number;
  objects: K8sObject[];
}

/** apiVersion, kind and metadata: what the main thread reads of an object a worker evaluated. */
export function metadataOf(o: K8sObject): K8sObject {
  const s: K8sObject = { kind: o.kind };
  if (o.apiVersion !== undefined) s.apiVersion = o.apiVersion;
  if (o.metadata !== undefined) s.metadata = o.metadata;
  return s;
}

/**
 * Splits manifest items into contiguous parts, one per thread (the main thread's smaller), or returns
 * undefined for one thread. `threads`: how many were asked for (MOAT_POSTURE_THREADS), one by default.
 */
export async function planParts(
  items: readonly ManifestItem[],
  threads?: number,
): Promise<ManifestItem[][] | undefined> {
  // only on request (MOAT_POSTURE_THREADS): on the 2-core machine the benchmark runs on, one thread is as
  // fast or faster (bench/posture.mjs, 20,000 objects: 2.3-2.5 s on one, 2.4-3.0 s on two). V8's garbage
  // collector and optimizing compiler already use the second core (a one-thread run uses ~1.3 cores), and
  // a worker compiles the checks again and competes with both; parsing alone in a worker does not pay
  // either (the main thread parses half the files as slowly as it parses all of them alone)
  const files = items.filter((item) => !('error' in item)).length;
  const n = Math.min(threads ?? 1, MAX_THREADS, files);
  // a worker runs this module's file: from TypeScript sources (tests under tsx) a worker thread would
  // not have the loader, so only the built JavaScript splits
  if (n < 2 || !import.meta.url.endsWith('.js')) return undefined;
  const sizes = await Promise.all(
    items.map(async (item) => {
      if ('error' in item) return 0;
      try {
        return (await stat(item.file)).size;
      } catch {
        return 0; // reported when it is read
      }
    }),
  );
  return splitParts(items, sizes, n);
}

/**
 * Cuts items (with their sizes in bytes) into at most `n` contiguous, non-empty parts: the first (the main
 * thread's) weighs MAIN_WEIGHT, each other one 1, and each file goes to the part where most of its bytes
 * fall (so a big file can leave fewer parts). Undefined when that leaves one part.
 */
export function splitParts(
  items: readonly ManifestItem[],
  sizes: readonly number[],
  n: number,
): ManifestItem[][] | undefined {
  const total = sizes.reduce((x, s) => x + s, 0);
  const unit = total / (MAIN_WEIGHT + n - 1);
  const ends = Array.from({ length: n - 1 }, (_, k) => unit * (MAIN_WEIGHT + k));
  const parts: ManifestItem[][] = [[]];
  let done = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as ManifestItem;
    const cur = parts[parts.length - 1] as ManifestItem[];
    const size = sizes[i] as number;
    if (cur.length > 0 && parts.length < n && done + size / 2 > (ends[parts.length - 1] as number)) {
      parts.push([item]);
    } else cur.push(item);
    done += size;
  }
  return parts.length >= 2 ? parts : undefined;
}

/** A worker and the messages it sends, in order. */
class Shard {
  private readonly worker: Worker;
  private readonly queue: FromWorker[] = [];
  private waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(data: ShardData) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: data });
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'failed') this.fail(new MoatError('INTERNAL', `posture worker: ${m.message}`));
      else if (this.waiting) {
        this.waiting.resolve(m);
        this.waiting = undefined;
      } else this.queue.push(m);
    });
    this.worker.on('error', (e) => this.fail(new MoatError('INTERNAL', `posture worker: ${e.message}`)));
    this.worker.on('exit', (code) => {
      if (this.waiting || code !== 0) this.fail(new MoatError('INTERNAL', `posture worker exited (${code})`));
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.waiting?.reject(this.failure);
    this.waiting = undefined;
  }

  async next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    const m =
      this.queue.shift() ??
      (await new Promise<FromWorker>((resolve, reject) => {
        if (this.failure) reject(this.failure);
        else this.waiting = { resolve, reject };
      }));
    if (m.type !== type) throw new MoatError('INTERNAL', `posture worker sent ${m.type}, not ${type}`);
    return m as Extract<FromWorker, { type: T }>;
  }

  send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * Reads `parts` (from planParts: the main thread the first, a worker each other one) and assesses them
 * with `engine`, built from `config` (engine.sharedKinds() must not be undefined). Of objects workers
 * evaluated, the load holds apiVersion, kind and metadata (whole for the shared kinds).
 */
export async function assessParts(
  engine: PolicyEngine,
  config: PolicyConfig,
  parts: readonly ManifestItem[][],
): Promise<{ load: ManifestLoad; assessment: Assessment }> {
  const kinds = engine.sharedKinds();
  if (!kinds) throw new MoatError('INTERNAL', 'posture: this catalogue cannot be split among threads');
  log.debug(
    { threads: parts.length, files: parts.map((p) => p.length).join('+') },
    'posture: manifests split among threads',
  );
  const { extraChecks: _, ...plain } = config;
  const shards = parts.slice(1).map(
    (items, i) =>
      new Shard({
        moatPostureShard: true,
        part: i + 1,
        parts: parts.length,
        items,
        config: plain,
        shared: [...kinds],
      }),
  );
  try {
    const own = await loadManifestItems(parts[0] ?? []);
    const mine = own.objects.filter((o) => kinds.has(o.object.kind ?? '')).map((o) => o.object);
    for (const s of shards) s.send({ part: 0, objects: mine });
    const load: ManifestLoad = { ...own, objects: [...own.objects] };
    const ranges: Array<{ from: number; to: number }> = [];
    for (const [i, s] of shards.entries()) {
      const p = await s.next('parsed');
      const whole = p.objects.filter((o) => kinds.has(o.kind ?? ''));
      for (const [j, other] of shards.entries()) if (j !== i) other.send({ part: i + 1, objects: whole });
      const from = load.objects.length;
      p.objects.forEach((object, k) => {
        const source: ObjectSource = {};
        const f = p.sourceFile[k] as number;
        if (f >= 0) source.file = p.sourceFiles[f];
        if ((p.sourceLine[k] as number) >= 0) source.line = p.sourceLine[k];
        if ((p.sourceDocument[k] as number) >= 0) source.document = p.sourceDocument[k];
        load.objects.push({ object, source });
      });
      ranges.push({ from, to: load.objects.length });
      for (const e of p.errors) load.errors.push(e);
      load.files += p.files;
      load.documents += p.documents;
    }
    const run = engine.begin(load.objects);
    run.evaluate(0, own.objects.length);
    for (const [i, s] of shards.entries()) {
      const { violations } = await s.next('evaluated');
      const { from, to } = ranges[i] as (typeof ranges)[number];
      run.evaluate(from, to, { isRemote: () => true, violations });
    }
    return { load, assessment: run.finish() };
  } finally {
    await Promise.all(shards.map((s) => s.stop()));
  }
}

/** The sources of a worker's objects, by column. */
function sourceColumns(objects: readonly SourcedObject[]) {
  const sourceFiles: string[] = [];
  const ids = new Map<string, number>();
  const sourceFile = new Int32Array(objects.length);
  const sourceLine = new Int32Array(objects.length);
  const sourceDocument = new Int32Array(objects.length);
  objects.forEach(({ source }, k) => {
    let f = -1;
    if (source.file !== undefined) {
      f = ids.get(source.file) ?? -1;
      if (f < 0) {
        f = sourceFiles.length;
        ids.set(source.file, f);
        sourceFiles.push(source.file);
      }
    }
    sourceFile[k] = f;
    sourceLine[k] = source.line ?? -1;
    sourceDocument[k] = source.document ?? -1;
  });
  return { sourceFiles, sourceFile, sourceLine, sourceDocument };
}

/** The worker: read its part, send what the main thread needs, wait for the others' shared objects, evaluate. */
async function work(data: ShardData, port: NonNullable<typeof parentPort>): Promise<void> {
  const others = new Map<number, K8sObject[]>();
  let complete: (() => void) | undefined;
  const all = new Promise<void>((resolve) => {
    complete = resolve;
  });
  port.on('message', (m: ToWorker) => {
    others.set(m.part, m.objects);
    if (others.size === data.parts - 1) complete?.();
  });
  try {
    const kinds = new Set(data.shared);
    const engine = new PolicyEngine(data.config);
    const load = await loadManifestItems(data.items);
    const columns = sourceColumns(load.objects);
    port.postMessage(
      {
        type: 'parsed',
        errors: load.errors,
        files: load.files,
        documents: load.documents,
        objects: load.objects.map((o) => (kinds.has(o.object.kind ?? '') ? o.object : metadataOf(o.object))),
        ...columns,
      } satisfies FromWorker,
      [
        columns.sourceFile.buffer as ArrayBuffer,
        columns.sourceLine.buffer as ArrayBuffer,
        columns.sourceDocument.buffer as ArrayBuffer,
      ],
    );
    await all;
    // the inventory checks read: the shared kinds of every part, in input order, and this part whole
    const inventory: K8sObject[] = [];
    for (let p = 0; p < data.parts; p++) {
      if (p === data.part) for (const o of load.objects) inventory.push(o.object);
      else for (const o of others.get(p) ?? []) inventory.push(o);
    }
    const violations = engine.evaluateRemote(
      load.objects.map((o) => o.object),
      inventory,
    );
    port.postMessage({ type: 'evaluated', violations } satisfies FromWorker, [
      violations.counts.buffer as ArrayBuffer,
      violations.refs.buffer as ArrayBuffer,
    ]);
  } catch (e) {
    port.postMessage({
      type: 'failed',
      message: e instanceof Error ? e.message : String(e),
    } satisfies FromWorker);
  } finally {
    port.close();
  }
}

// this module is the worker's entry point too (in the bundle: the chunk that holds it)
if (!isMainThread && parentPort && (workerData as Partial<ShardData> | null)?.moatPostureShard === true) {
  void work(workerData as ShardData, parentPort);
}
