import { MoatError } from '../errors.js';
import { BUILTIN_CHECKS } from './checks/index.js';
import { PSS_LATEST, type PssLevel, pssCheckIds } from './checks/pss.js';
import { type Exemption, matchExemption } from './exemptions.js';
import { globMatcher } from './glob.js';
import { withObjectCache } from './k8s.js';
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

/** A check the engine will run, with its resolved effect and parameters. */
export interface ActiveCheck {
  check: Check;
  effect: Effect;
  params: Readonly<Record<string, unknown>>;
}

export interface Assessment {
  /** violations not exempted */
  results: PolicyResult[];
  /** violations an exemption matched */
  exempted: PolicyResult[];
  /**
   * the objects that results and exempted violations are about, once each (a ResourceRef without the
   * container), in the order of their first violation; `resultResources[i]` and `exemptedResources[i]`
   * are the index here of `results[i]` and `exempted[i]`, so reports group by object without keys
   */
  resources: ResourceRef[];
  resultResources: number[];
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
  private readonly clusterChecks: ActiveCheck[];
  private readonly cfg: PolicyConfig;

  constructor(cfg: PolicyConfig = {}, checks: readonly Check[] = BUILTIN_CHECKS) {
    this.cfg = cfg;
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
    this.clusterChecks = this.active.filter((a) => a.check.scope === 'cluster');
  }

  /** Kinds some active check evaluates. */
  kinds(): Set<string> {
    const s = new Set(this.byKind.keys());
    for (const a of this.clusterChecks) {
      for (const k of a.check.kinds) s.add(k);
      if (a.check.scope === 'cluster') for (const k of a.check.reads ?? []) s.add(k);
    }
    return s;
  }

  /** Posture: every active check over every object, then cluster-scope checks over the inventory. */
  assess(objects: readonly SourcedObject[]): Assessment {
    return withObjectCache(() => this.assessAll(objects));
  }

  private assessAll(objects: readonly SourcedObject[]): Assessment {
    const inventory = makeInventory(objects.map((o) => o.object));
    const sourceOf = new Map<K8sObject, SourcedObject['source']>();
    for (const o of objects) sourceOf.set(o.object, o.source);
    const out: Assessment = {
      results: [],
      exempted: [],
      resources: [],
      resultResources: [],
      exemptedResources: [],
      checks: this.active,
      applicable: {},
      evaluated: {},
      skipped: {},
      expiredExemptions: this.expiredExemptions(),
      errors: [],
    };
    const run = newRun(this.active.length, inventory, undefined);
    const clusterKinds = new Set(
      this.clusterChecks.flatMap((a) => [
        ...a.check.kinds,
        ...(a.check.scope === 'cluster' ? (a.check.reads ?? []) : []),
      ]),
    );
    for (const { object, source } of objects) {
      const kind = object.kind ?? '';
      const list = this.byKind.get(kind);
      if (!list && !clusterKinds.has(kind)) {
        out.skipped[kind] = (out.skipped[kind] ?? 0) + 1;
        continue;
      }
      out.evaluated[kind] = (out.evaluated[kind] ?? 0) + 1;
      if (!list) continue;
      for (const i of list) this.runObjectCheck(i, object, source, run, out);
    }
    setApplicable(run, this.active, out);
    for (const a of this.clusterChecks) {
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
        this.record(a, target, sourceOf.get(target) ?? {}, v, run, out);
      }
    }
    return out;
  }

  /** Admission: the object-scope checks for one object. Cluster-scope checks need an inventory and are skipped. */
  review(object: K8sObject, facts: AdmissionFacts, namespaceObject?: K8sObject): Assessment {
    return withObjectCache(() => this.reviewOne(object, facts, namespaceObject));
  }

  private reviewOne(object: K8sObject, facts: AdmissionFacts, namespaceObject?: K8sObject): Assessment {
    const inventory = makeInventory(namespaceObject ? [namespaceObject] : []);
    const out: Assessment = {
      results: [],
      exempted: [],
      resources: [],
      resultResources: [],
      exemptedResources: [],
      checks: this.active,
      applicable: {},
      evaluated: {},
      skipped: {},
      expiredExemptions: [],
      errors: [],
    };
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

  private runObjectCheck(
    i: number,
    object: K8sObject,
    source: SourcedObject['source'],
    run: Run,
    out: Assessment,
  ): void {
    const a = this.active[i] as ActiveCheck;
    if (namespaceExcluded(a.params, object)) return;
    const n = run.applicable[i] ?? 0;
    if (n === 0) run.order.push(i);
    run.applicable[i] = n + 1;
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
    for (const v of violations) this.record(a, v.resource ?? object, source, v, run, out);
  }

  private record(
    a: ActiveCheck,
    object: K8sObject,
    source: SourcedObject['source'],
    v: Violation,
    run: Run,
    out: Assessment,
  ) {
    // one ResourceRef per object and one per container, shared by their results: fewer objects to
    // allocate, and renderers serialize each ref once
    let refs = run.refs.get(object);
    if (!refs) {
      refs = {
        base: resourceRef(object, source, this.cfg.cluster),
        byContainer: undefined,
        id: out.resources.length,
      };
      out.resources.push(refs.base);
      run.refs.set(object, refs);
    }
    let resource = refs.base;
    if (v.container) {
      refs.byContainer ??= new Map();
      const hit = refs.byContainer.get(v.container);
      if (hit) resource = hit;
      else {
        resource = { ...refs.base, container: v.container };
        refs.byContainer.set(v.container, resource);
      }
    }
    const result: PolicyResult = {
      checkId: a.check.id,
      severity: a.check.severity,
      effect: a.effect,
      message: v.message,
      resource,
    };
    if (v.path) result.path = v.path;
    const exemptions = this.cfg.exemptions;
    if (exemptions?.length) {
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
    out.results.push(result);
    out.resultResources.push(refs.id);
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
  refs: Map<K8sObject, { base: ResourceRef; byContainer: Map<string, ResourceRef> | undefined; id: number }>;
}

function newRun(checks: number, inventory: Inventory, admission: AdmissionFacts | undefined): Run {
  return {
    inventory,
    admission,
    applicable: new Array<number>(checks).fill(0),
    order: [],
    ctx: new Array<CheckContext | undefined>(checks).fill(undefined),
    refs: new Map(),
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

function namespaceExcluded(params: Readonly<Record<string, unknown>>, object: K8sObject): boolean {
  const ex = params.excludedNamespaces;
  const ns = object.metadata?.namespace;
  return Array.isArray(ex) && ns !== undefined && ex.includes(ns);
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
