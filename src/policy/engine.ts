import { MoatError } from '../errors.js';
import { BUILTIN_CHECKS } from './checks/index.js';
import { PSS_LATEST, type PssLevel, pssCheckIds } from './checks/pss.js';
import { type Exemption, matchExemption } from './exemptions.js';
import { globMatcher } from './glob.js';
import { POD_KINDS, withObjectCache } from './k8s.js';
import type {
  AdmissionFacts,
  Check,
  CheckConfig,
  CheckContext,
  Effect,
  Inventory,
  K8sObject,
  ObjectCheck,
  PolicyResult,
  ResourceRef,
  SourcedObject,
  Violation,
} from './types.js';

export interface PolicyConfig {
  /** per-check effect and parameters, keyed by id or glob (`pss.*`, `defender.*`); exact ids win over globs */
  checks?: Record<string, CheckConfig>;
  /** run only these checks (ids or globs), `--checks` */
  select?: readonly string[];
  /** run only the Pod Security Standards at this level and version, `--pss LEVEL[@VERSION]` */
  pss?: { level: PssLevel; version?: number };
  /** PSS semantics version for PSS checks when `pss` is not given (default: newest) */
  pssVersion?: number;
  exemptions?: readonly Exemption[];
  /** reported as the cluster of every resource */
  cluster?: string;
  /** extra checks (compiled ValidatingAdmissionPolicies) */
  extraChecks?: readonly Check[];
  /** now, for exemption expiry (tests) */
  now?: Date;
}

/** Violations by column (Assessment.columns). */
export interface ResultColumns {
  /** index into Assessment.checks */
  check: number[];
  message: string[];
  path: Array<string | undefined>;
  container: Array<string | undefined>;
  /** index into Assessment.resources */
  resource: number[];
}

/** A check the engine will run, with its resolved effect and parameters. */
export interface ActiveCheck {
  check: Check;
  effect: Effect;
  params: Readonly<Record<string, unknown>>;
}

export interface Assessment {
  /** violations not exempted (built from `columns` when first read) */
  readonly results: PolicyResult[];
  /**
   * the violations not exempted, by column, in the order of `results`: what reports read (a posture run has
   * ~180,000, and an object each costs the engine and the garbage collector more than the checks do)
   */
  columns: ResultColumns;
  /** violations an exemption matched */
  exempted: PolicyResult[];
  /**
   * the objects that violations are about, once each (a ResourceRef without the container), in the order
   * of their first violation; `columns.resource[i]` and `exemptedResources[i]` index it, so reports group
   * by object without keys
   */
  resources: ResourceRef[];
  exemptedResources: number[];
  /** checks that ran */
  checks: ActiveCheck[];
  /** per check id: resources it evaluated (namespace exclusions applied), the denominator of the secure score */
  applicable: Record<string, number>;
  /** objects evaluated by at least one check, per kind */
  evaluated: Record<string, number>;
  /** objects no check applies to, per kind (counted and skipped) */
  skipped: Record<string, number>;
  /** exemptions past their expiry date: they no longer apply */
  expiredExemptions: Exemption[];
  /** checks that threw on an object (a bug or an object far outside the schema): reported, not fatal */
  errors: Array<{ checkId: string; resource: ResourceRef; message: string }>;
}

/**
 * What a worker found on its objects (PolicyEngine.evaluateRemote): per object and check evaluated, in
 * order, the number of violations in `counts` (-1: the check threw); in `refs`, per violation the ids in
 * `strings` of its message, path and container (-1: absent), per failed check that of the error message;
 * `resources`: the violations (by number) that name another object than the one evaluated.
 */
export interface RemoteViolations {
  counts: Int32Array;
  refs: Int32Array;
  strings: string[];
  resources: Array<[number, K8sObject]>;
}

/** A range of objects of which some were evaluated by a worker (PolicyEngine.begin). */
export interface RemoteRange {
  /** object index (into the run's objects) -> evaluated by the worker whose violations these are */
  isRemote(index: number): boolean;
  violations: RemoteViolations;
}

/** A posture run in parts: see PolicyEngine.begin. */
export interface Assessing {
  /** objects [from, to), in order; objects `remote` names take their violations from it */
  evaluate(from: number, to: number, remote?: RemoteRange): void;
  /** cluster-scope checks, once every object was evaluated */
  finish(): Assessment;
}

/** Parses `baseline`, `restricted@v1.30`, `restricted@latest`. */
export function parsePssSpec(spec: string): { level: PssLevel; version: number } {
  const m = /^(baseline|restricted)(?:@(?:v?1\.(\d+)|latest))?$/.exec(spec.trim());
  if (!m) {
    throw new MoatError(
      'USAGE',
      `--pss ${spec}: expected baseline or restricted, optionally @v1.N or @latest`,
    );
  }
  const version = m[2] === undefined ? PSS_LATEST : Number(m[2]);
  if (version > PSS_LATEST) {
    throw new MoatError(
      'USAGE',
      `--pss ${spec}: the newest Pod Security Standards version known is v1.${PSS_LATEST}`,
    );
  }
  return { level: m[1] as PssLevel, version };
}

/** Checks, their effects and parameters resolved once; then `assess` (posture) and `review` (admission). */
export class PolicyEngine {
  readonly active: ActiveCheck[];
  readonly pssVersion: number;
  /** per kind, the indices into `active` of the object-scope checks for it */
  private readonly byKind = new Map<string, number[]>();
  /** per active check: its excludedNamespaces parameter, when not empty */
  private readonly excluded: Array<readonly unknown[] | undefined>;
  /** indices into `active` of the cluster-scope checks */
  private readonly clusterChecks: number[];
  private readonly cfg: PolicyConfig;
  /** the built-in catalogue and no custom checks */
  private readonly builtin: boolean;

  constructor(cfg: PolicyConfig = {}, checks: readonly Check[] = BUILTIN_CHECKS) {
    this.cfg = cfg;
    this.builtin = checks === BUILTIN_CHECKS && !cfg.extraChecks?.length;
    this.pssVersion = cfg.pss?.version ?? cfg.pssVersion ?? PSS_LATEST;
    const all = [...checks, ...(cfg.extraChecks ?? [])];
    const ids = new Set<string>();
    for (const c of all) {
      if (ids.has(c.id)) throw new MoatError('USAGE', `policy: two checks have the id ${c.id}`);
      ids.add(c.id);
    }
    this.active = resolveChecks(all, cfg, this.pssVersion);
    this.active.forEach((a, i) => {
      if (a.check.scope !== 'object') return;
      for (const k of a.check.kinds) {
        const list = this.byKind.get(k);
        if (list) list.push(i);
        else this.byKind.set(k, [i]);
      }
    });
    // per active check, its excludedNamespaces when it has some: read once, not per object
    this.excluded = this.active.map((a) => {
      const ex = a.params.excludedNamespaces;
      return Array.isArray(ex) && ex.length > 0 ? ex : undefined;
    });
    this.clusterChecks = [];
    this.active.forEach((a, i) => {
      if (a.check.scope === 'cluster') this.clusterChecks.push(i);
    });
  }

  /** Kinds some active check evaluates or reads. */
  kinds(): Set<string> {
    const s = new Set<string>();
    for (const a of this.active) {
      for (const k of a.check.kinds) s.add(k);
      for (const k of a.check.reads ?? []) s.add(k);
    }
    return s;
  }

  /**
   * Whether a posture run may be split among worker threads (src/posture/shard.ts), and the kinds whose
   * objects every thread then needs whole (what checks look up in the inventory; of other objects, apiVersion,
   * kind and metadata are enough). Undefined when it may not: the catalogue is not the built-in one (a
   * worker rebuilds it from the configuration; compiled custom policies cannot be sent), or a workload
   * kind would have to be shared whole (the workloads are most of the bytes).
   */
  sharedKinds(): Set<string> | undefined {
    if (!this.builtin) return undefined;
    const kinds = new Set<string>();
    for (const a of this.active) {
      const c = a.check;
      for (const k of c.reads ?? []) kinds.add(k);
      if (c.scope === 'cluster' && c.metadataOnly !== true) for (const k of c.kinds) kinds.add(k);
    }
    for (const k of POD_KINDS) if (kinds.has(k)) return undefined;
    return kinds;
  }

  /** Posture: every active check over every object, then cluster-scope checks over the inventory. */
  assess(objects: readonly SourcedObject[]): Assessment {
    const run = this.begin(objects);
    run.evaluate(0, objects.length);
    return run.finish();
  }

  /**
   * Posture in parts: `evaluate` ranges of `objects` in order (their object-scope checks, or, for objects
   * a worker evaluated, the violations it sent), then `finish` (cluster-scope checks). The results are
   * those of `assess`, in the same order. `objects` is the whole inventory from the start: checks look
   * objects up in it.
   */
  begin(objects: readonly SourcedObject[]): Assessing {
    const state = this.startRun(objects);
    return {
      evaluate: (from, to, remote) => withObjectCache(() => this.evaluateRange(state, from, to, remote)),
      finish: () => this.finishRun(state),
    };
  }

  private startRun(objects: readonly SourcedObject[]): PostureRun {
    const inventory = makeInventory(objects.map((o) => o.object));
    const out = new Outcome(this.active, this.expiredExemptions());
    const clusterKinds = new Set<string>();
    for (const i of this.clusterChecks) {
      const a = this.active[i] as ActiveCheck;
      for (const k of a.check.kinds) clusterKinds.add(k);
      if (a.check.scope === 'cluster') for (const k of a.check.reads ?? []) clusterKinds.add(k);
    }
    return {
      objects,
      run: newRun(this.active.length, inventory, undefined),
      out,
      clusterKinds,
      next: 0,
      finished: false,
    };
  }

  private evaluateRange(state: PostureRun, from: number, to: number, remote?: RemoteRange): void {
    if (from !== state.next || to < from || to > state.objects.length || state.finished) {
      throw new MoatError('INTERNAL', `policy engine: objects ${from}-${to} evaluated out of order`);
    }
    const { run, out } = state;
    const replay = remote ? { ...remote, slot: 0, ref: 0, violation: 0, resource: 0 } : undefined;
    for (let j = from; j < to; j++) {
      const { object, source } = state.objects[j] as SourcedObject;
      const kind = object.kind ?? '';
      const list = this.byKind.get(kind);
      if (!list && !state.clusterKinds.has(kind)) {
        out.skipped[kind] = (out.skipped[kind] ?? 0) + 1;
        continue;
      }
      out.evaluated[kind] = (out.evaluated[kind] ?? 0) + 1;
      if (!list) continue;
      if (replay?.isRemote(j)) this.replayObject(list, object, source, replay, run, out);
      else for (const i of list) this.runObjectCheck(i, object, source, run, out);
    }
    if (replay && replay.slot !== replay.violations.counts.length) {
      throw new MoatError('INTERNAL', 'policy engine: a worker evaluated other objects than those replayed');
    }
    state.next = to;
  }

  /** The violations a worker found on one object, recorded as runObjectCheck would have. */
  private replayObject(
    list: readonly number[],
    object: K8sObject,
    source: SourcedObject['source'],
    r: Replay,
    run: Run,
    out: Outcome,
  ): void {
    const { counts, refs, strings, resources } = r.violations;
    for (const i of list) {
      const a = this.active[i] as ActiveCheck;
      if (!countApplicable(this.excluded[i], i, object, run)) continue;
      const n = counts[r.slot++] as number;
      if (n < 0) {
        out.errors.push({
          checkId: a.check.id,
          resource: resourceRef(object, source, this.cfg.cluster),
          message: strings[refs[r.ref++] as number] as string,
        });
        continue;
      }
      for (let k = 0; k < n; k++) {
        const v: Violation = { message: strings[refs[r.ref] as number] as string };
        const path = refs[r.ref + 1] as number;
        const container = refs[r.ref + 2] as number;
        r.ref += 3;
        if (path >= 0) v.path = strings[path] as string;
        if (container >= 0) v.container = strings[container] as string;
        const res = resources[r.resource];
        if (res !== undefined && res[0] === r.violation) {
          v.resource = res[1];
          r.resource++;
        }
        r.violation++;
        this.record(i, v.resource ?? object, source, v, run, out);
      }
    }
  }

  private finishRun(state: PostureRun): Assessment {
    if (state.next !== state.objects.length || state.finished) {
      throw new MoatError('INTERNAL', 'policy engine: finish before every object was evaluated');
    }
    state.finished = true;
    const { run, out } = state;
    const inventory = run.inventory;
    setApplicable(run, this.active, out);
    const sourceOf = new Map<K8sObject, SourcedObject['source']>();
    for (const o of state.objects) sourceOf.set(o.object, o.source);
    for (const i of this.clusterChecks) {
      const a = this.active[i] as ActiveCheck;
      out.applicable[a.check.id] = a.check.kinds.reduce((n, k) => n + inventory.byKind(k).length, 0);
      const ctx: CheckContext = { params: a.params, pssVersion: this.pssVersion, inventory };
      let violations: Violation[];
      try {
        violations = a.check.scope === 'cluster' ? a.check.evaluateCluster(ctx) : [];
      } catch (e) {
        out.errors.push({
          checkId: a.check.id,
          resource: { apiVersion: '', kind: '', name: '' },
          message: String(e),
        });
        continue;
      }
      for (const v of violations) {
        const target = v.resource ?? { kind: 'Cluster', metadata: { name: this.cfg.cluster ?? 'cluster' } };
        this.record(i, target, sourceOf.get(target) ?? {}, v, run, out);
      }
    }
    return out;
  }

  /**
   * A worker's part of a posture run: the object-scope checks of `objects`, in the order `Assessing`
   * replays them (per object, its kind's checks whose namespace exclusions leave it in), with the
   * inventory of the whole run (`inventory`, in input order). Plain data, for postMessage.
   */
  evaluateRemote(objects: readonly K8sObject[], inventory: readonly K8sObject[]): RemoteViolations {
    return withObjectCache(() => {
      const counts: number[] = [];
      const refs: number[] = [];
      // each distinct string once: messages repeat across objects, and the main thread groups them by
      // string, which is cheap for one string object hashed once
      const ids = new Map<string, number>();
      const strings: string[] = [];
      const id = (x: string | undefined): number => {
        if (x === undefined) return -1;
        let n = ids.get(x);
        if (n === undefined) {
          n = strings.length;
          ids.set(x, n);
          strings.push(x);
        }
        return n;
      };
      const resources: Array<[number, K8sObject]> = [];
      const ctxs: Array<CheckContext | undefined> = [];
      const inv = makeInventory(inventory);
      let violations = 0;
      for (const object of objects) {
        const list = this.byKind.get(object.kind ?? '');
        if (!list) continue;
        for (const i of list) {
          const a = this.active[i] as ActiveCheck;
          const excluded = this.excluded[i];
          if (excluded && namespaceExcluded(excluded, object)) continue;
          let ctx = ctxs[i];
          if (!ctx) {
            ctx = { params: a.params, pssVersion: this.pssVersion, inventory: inv };
            ctxs[i] = ctx;
          }
          let found: Violation[];
          try {
            found = (a.check as ObjectCheck).evaluate(object, ctx);
          } catch (e) {
            counts.push(-1);
            refs.push(id(e instanceof Error ? e.message : String(e)));
            continue;
          }
          counts.push(found.length);
          for (const v of found) {
            refs.push(id(v.message), id(v.path), id(v.container));
            if (v.resource) resources.push([violations, v.resource]);
            violations++;
          }
        }
      }
      // Int32Arrays move to the main thread without a copy (postMessage transfer list)
      return { counts: Int32Array.from(counts), refs: Int32Array.from(refs), strings, resources };
    });
  }

  private runObjectCheck(
    i: number,
    object: K8sObject,
    source: SourcedObject['source'],
    run: Run,
    out: Outcome,
  ): void {
    const a = this.active[i] as ActiveCheck;
    if (!countApplicable(this.excluded[i], i, object, run)) return;
    // one context per check and run: checks are pure and do not keep it
    let ctx = run.ctx[i];
    if (!ctx) {
      ctx = {
        params: a.params,
        pssVersion: this.pssVersion,
        inventory: run.inventory,
        admission: run.admission,
      };
      run.ctx[i] = ctx;
    }
    let violations: Violation[];
    try {
      violations = (a.check as ObjectCheck).evaluate(object, ctx);
    } catch (e) {
      out.errors.push({
        checkId: a.check.id,
        resource: resourceRef(object, source, this.cfg.cluster),
        message: e instanceof Error ? e.message : String(e),
      });
      return;
    }
    for (const v of violations) this.record(i, v.resource ?? object, source, v, run, out);
  }

  /** Admission: the object-scope checks for one object. Cluster-scope checks need an inventory and are skipped. */
  review(object: K8sObject, facts: AdmissionFacts, namespaceObject?: K8sObject): Assessment {
    return withObjectCache(() => this.reviewOne(object, facts, namespaceObject));
  }

  private reviewOne(object: K8sObject, facts: AdmissionFacts, namespaceObject?: K8sObject): Assessment {
    const inventory = makeInventory(namespaceObject ? [namespaceObject] : []);
    const out = new Outcome(this.active, []);
    const list = this.byKind.get(object.kind ?? '');
    if (!list) {
      out.skipped[object.kind ?? ''] = 1;
      return out;
    }
    out.evaluated[object.kind ?? ''] = 1;
    const run = newRun(this.active.length, inventory, facts);
    for (const i of list) this.runObjectCheck(i, object, {}, run, out);
    setApplicable(run, this.active, out);
    return out;
  }

  private record(
    i: number,
    object: K8sObject,
    source: SourcedObject['source'],
    v: Violation,
    run: Run,
    out: Outcome,
  ) {
    // violations come object by object: most are about the object of the one before
    let refs = run.lastObject === object ? run.lastRefs : run.refs.get(object);
    if (!refs) {
      refs = out.addResource(resourceRef(object, source, this.cfg.cluster));
      run.refs.set(object, refs);
    }
    run.lastObject = object;
    run.lastRefs = refs;
    const exemptions = this.cfg.exemptions;
    if (exemptions?.length) {
      const a = this.active[i] as ActiveCheck;
      const result = makeResult(a, v.message, v.path, refs, v.container);
      const now = this.cfg.now ?? new Date();
      for (const ex of exemptions) {
        if (matchExemption(ex, result, object, now)) {
          result.exemption = { reason: ex.reason, ...(ex.expires ? { expires: ex.expires } : {}) };
          out.exempted.push(result);
          out.exemptedResources.push(refs.id);
          return;
        }
      }
    }
    const c = out.columns;
    c.check.push(i);
    c.message.push(v.message);
    c.path.push(v.path || undefined);
    c.container.push(v.container || undefined);
    c.resource.push(refs.id);
  }

  private expiredExemptions(): Exemption[] {
    const now = this.cfg.now ?? new Date();
    return (this.cfg.exemptions ?? []).filter(
      (e) => e.expires !== undefined && Date.parse(e.expires) < now.getTime(),
    );
  }
}

/** State of one assess or review call. */
interface Run {
  inventory: Inventory;
  admission: AdmissionFacts | undefined;
  /** per active check (by index): objects evaluated, and the order checks were first counted in */
  applicable: number[];
  order: number[];
  ctx: Array<CheckContext | undefined>;
  /** the ResourceRefs of each object with results (a Map per run: a WeakMap costs the GC more) */
  refs: Map<K8sObject, ObjectRefs>;
  /** the object of the last violation recorded, and its refs */
  lastObject: K8sObject | undefined;
  lastRefs: ObjectRefs | undefined;
}

/** The ResourceRefs of an object with violations: its own and one per container; `id` indexes Assessment.resources. */
interface ObjectRefs {
  base: ResourceRef;
  byContainer: ResourceRef[];
  id: number;
}

const NO_REFS: ResourceRef[] = [];

/** The ResourceRef of an object's container, one per container, shared by its results. */
function containerRef(refs: ObjectRefs, container: string | undefined): ResourceRef {
  if (!container) return refs.base;
  // a pod has a few containers: a scan beats hashing the name
  for (const r of refs.byContainer) if (r.container === container) return r;
  const ref = { ...refs.base, container };
  if (refs.byContainer === NO_REFS) refs.byContainer = [];
  refs.byContainer.push(ref);
  return ref;
}

function makeResult(
  a: ActiveCheck,
  message: string,
  path: string | undefined,
  refs: ObjectRefs,
  container: string | undefined,
): PolicyResult {
  const result: PolicyResult = {
    checkId: a.check.id,
    severity: a.check.severity,
    effect: a.effect,
    message,
    resource: containerRef(refs, container),
  };
  if (path) result.path = path;
  return result;
}

/** An Assessment as the engine fills it: violations by column, `results` built from them on first read. */
class Outcome implements Assessment {
  readonly columns: ResultColumns = { check: [], message: [], path: [], container: [], resource: [] };
  readonly exempted: PolicyResult[] = [];
  readonly resources: ResourceRef[] = [];
  readonly exemptedResources: number[] = [];
  readonly applicable: Record<string, number> = {};
  readonly evaluated: Record<string, number> = {};
  readonly skipped: Record<string, number> = {};
  readonly errors: Assessment['errors'] = [];
  private readonly refs: ObjectRefs[] = [];
  private built: PolicyResult[] | undefined;

  constructor(
    readonly checks: ActiveCheck[],
    readonly expiredExemptions: Exemption[],
  ) {}

  addResource(base: ResourceRef): ObjectRefs {
    const refs: ObjectRefs = { base, byContainer: NO_REFS, id: this.resources.length };
    this.resources.push(base);
    this.refs.push(refs);
    return refs;
  }

  get results(): PolicyResult[] {
    if (this.built?.length !== this.columns.check.length) {
      const c = this.columns;
      const out: PolicyResult[] = [];
      for (let k = 0; k < c.check.length; k++) {
        out.push(
          makeResult(
            this.checks[c.check[k] as number] as ActiveCheck,
            c.message[k] as string,
            c.path[k],
            this.refs[c.resource[k] as number] as ObjectRefs,
            c.container[k],
          ),
        );
      }
      this.built = out;
    }
    return this.built;
  }
}

/** One posture run in progress (PolicyEngine.begin). */
interface PostureRun {
  objects: readonly SourcedObject[];
  run: Run;
  out: Outcome;
  /** kinds some cluster-scope check reads: objects of these kinds are evaluated, not skipped */
  clusterKinds: Set<string>;
  /** the next object to evaluate */
  next: number;
  finished: boolean;
}

/** Where Assessing.evaluate is in a worker's violations. */
interface Replay extends RemoteRange {
  slot: number;
  ref: number;
  violation: number;
  resource: number;
}

/** Counts an object for check `i`'s score denominator; false when the check's namespace exclusions leave it out. */
function countApplicable(
  excluded: readonly unknown[] | undefined,
  i: number,
  object: K8sObject,
  run: Run,
): boolean {
  if (excluded && namespaceExcluded(excluded, object)) return false;
  const n = run.applicable[i] ?? 0;
  if (n === 0) run.order.push(i);
  run.applicable[i] = n + 1;
  return true;
}

function newRun(checks: number, inventory: Inventory, admission: AdmissionFacts | undefined): Run {
  return {
    inventory,
    admission,
    applicable: new Array<number>(checks).fill(0),
    order: [],
    ctx: new Array<CheckContext | undefined>(checks).fill(undefined),
    refs: new Map(),
    lastObject: undefined,
    lastRefs: undefined,
  };
}

/** `applicable` counts into the assessment, keyed by check id in the order they were first counted. */
function setApplicable(run: Run, active: readonly ActiveCheck[], out: Assessment): void {
  for (const i of run.order)
    out.applicable[(active[i] as ActiveCheck).check.id] = run.applicable[i] as number;
}

/** Runs one check on one object with its defaults merged with `params` (tests and the Gatekeeper mapping). */
export function evaluateCheck(
  check: Check,
  object: K8sObject,
  opts: {
    params?: Record<string, unknown>;
    pssVersion?: number;
    inventory?: readonly K8sObject[];
    admission?: AdmissionFacts;
  } = {},
): Violation[] {
  const params = { ...defaultParams(check), ...(opts.params ?? {}) };
  const ctx: CheckContext = {
    params,
    pssVersion: opts.pssVersion ?? PSS_LATEST,
    inventory: makeInventory(opts.inventory ?? [object]),
    admission: opts.admission,
  };
  return check.scope === 'object' ? check.evaluate(object, ctx) : check.evaluateCluster(ctx);
}

export function defaultParams(check: Check): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of check.parameters) out[p.name] = structuredClone(p.default);
  return out;
}

export function makeInventory(objects: readonly K8sObject[]): Inventory {
  const byKind = new Map<string, K8sObject[]>();
  for (const o of objects) {
    const k = o.kind ?? '';
    const list = byKind.get(k);
    if (list) list.push(o);
    else byKind.set(k, [o]);
  }
  return { objects, byKind: (kind) => byKind.get(kind) ?? [] };
}

export function resourceRef(
  object: K8sObject,
  source: SourcedObject['source'],
  cluster?: string,
): ResourceRef {
  const ref: ResourceRef = {
    apiVersion: object.apiVersion ?? '',
    kind: object.kind ?? '',
    name: object.metadata?.name ?? object.metadata?.generateName ?? '',
  };
  const c = source.cluster ?? cluster;
  if (c) ref.cluster = c;
  if (object.metadata?.namespace) ref.namespace = object.metadata.namespace;
  if (source.file || source.line !== undefined) ref.source = source;
  return ref;
}

function namespaceExcluded(excluded: readonly unknown[], object: K8sObject): boolean {
  const ns = object.metadata?.namespace;
  return ns !== undefined && excluded.includes(ns);
}

/** Effects and parameters from configuration; which checks run. */
function resolveChecks(all: readonly Check[], cfg: PolicyConfig, pssVersion: number): ActiveCheck[] {
  const entries = Object.entries(cfg.checks ?? {});
  const exact = new Map(entries.filter(([k]) => !k.includes('*')));
  const globs = entries.filter(([k]) => k.includes('*')).map(([k, v]) => ({ match: globMatcher(k), v }));
  let selected: ((id: string) => boolean) | undefined;
  if (cfg.pss) {
    const ids = new Set(pssCheckIds(cfg.pss.level, pssVersion));
    selected = (id) => ids.has(id);
  } else if (cfg.select?.length) {
    const ms = cfg.select.map(globMatcher);
    selected = (id) => ms.some((m) => m(id));
  }
  // by default every PSS check that exists at the chosen version runs: the baseline and the restricted
  // level together. A restricted check that replaces a baseline one under PSA (hostPath volumes by
  // restricted volume types, capabilities, seccomp) does not hide the baseline finding, which is the
  // more severe one; `--pss LEVEL` gives PSA's exact set
  const defaultPss = new Set([
    ...pssCheckIds('baseline', pssVersion),
    ...pssCheckIds('restricted', pssVersion),
  ]);
  const unknown = cfg.select?.filter((s) => !s.includes('*') && !all.some((c) => c.id === s)) ?? [];
  if (unknown.length) throw new MoatError('USAGE', `--checks: no check has the id ${unknown.join(', ')}`);
  for (const id of exact.keys()) {
    if (!all.some((c) => c.id === id))
      throw new MoatError('USAGE', `policy.checks: no check has the id ${id}`);
  }
  const out: ActiveCheck[] = [];
  for (const check of all) {
    if (selected ? !selected(check.id) : check.family === 'pss' && !defaultPss.has(check.id)) continue;
    const conf: CheckConfig = {};
    for (const g of globs)
      if (g.match(check.id)) Object.assign(conf, g.v, { params: { ...conf.params, ...g.v.params } });
    const ex = exact.get(check.id);
    if (ex) Object.assign(conf, ex, { params: { ...conf.params, ...ex.params } });
    const configured = ex?.params !== undefined && Object.keys(ex.params).length > 0;
    const effect = conf.effect ?? check.defaultEffect;
    if (effect === 'disabled') continue;
    // configuration-required checks flag everything with their defaults: off until configured or named
    if (check.configurationRequired && !configured && !(selected && ex?.effect)) continue;
    out.push({ check, effect, params: { ...defaultParams(check), ...(conf.params ?? {}) } });
  }
  return out;
}
