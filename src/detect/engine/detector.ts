import { createHash } from 'node:crypto';
import { errorMessage } from '../../errors.js';
import { log } from '../../log.js';
import { fromCel, toCel } from '../../policy/cel/values.js';
import type { Alert } from '../alert.js';
import type { AuditEvent } from '../event.js';
import type { CompiledRule, LoadedRules } from '../rules/load.js';
import { type AggregateHit, Aggregator } from './aggregate.js';
import { type IndexedRule, prefilter, RuleIndex } from './rule-index.js';

/**
 * The detection engine: each audit event goes through the rule index to the few rules written for its
 * verb and resource, their cheap `match` fields, then their CEL condition, exceptions and aggregation.
 * A match opens an alert or folds into the open one for the same rule, resource and user (or the same
 * aggregation key) within the dedup window. Time is the events' own (stageTimestamp), so replaying an
 * old log gives the same alerts as watching it live. All state is bounded.
 */
export interface DetectorOptions {
  /** lists for `data` when `rules` is a plain array (a LoadedRules carries its own) */
  data?: Readonly<Record<string, string[]>>;
  /** cluster name for alerts whose events do not carry one (event.source.cluster) */
  cluster?: string;
  /** an alert absorbs matches for this long after its first event; default 10 minutes */
  dedupWindowMs?: number;
  /** open alerts kept; past it the oldest is closed early; default 10,000 */
  maxOpenAlerts?: number;
  /** closed alerts waiting for drain(); past it the oldest are dropped and counted; default 100,000 */
  maxClosedAlerts?: number;
  /** keys per aggregating rule; default 10,000 (first-seen: 100,000) */
  maxAggregationKeys?: number;
  /** audit IDs kept as evidence per alert; default 20 */
  maxAuditIDs?: number;
}

export interface RuleStats {
  evaluations: number;
  matches: number;
  suppressed: number;
  errors: number;
  /** aggregation keys held (bounded by maxAggregationKeys) */
  keys: number;
}

export interface DetectorStats {
  events: number;
  /** CEL conditions evaluated, over all rules */
  evaluations: number;
  alertsOpened: number;
  openAlerts: number;
  droppedAlerts: number;
  rules: Record<string, RuleStats>;
}

export interface Detector {
  /** Runs the rules on one event; returns the alerts it opened (they are updated in place until closed). */
  process(event: AuditEvent): Alert[];
  /**
   * Moves the detector's clock to `timeMs` (never back) and closes the alerts whose window ended. The
   * clock otherwise moves only with matching events, so a live reader calls this with the last event's
   * time after each batch (and with the wall clock when idle) for alerts to close without new matches.
   */
  advance(timeMs: number): void;
  /** Alerts whose dedup window has passed (by event time) since the last drain, final. */
  drain(): Alert[];
  /** Closes every open alert and returns them with the drained ones: the end of a scan. */
  flush(): Alert[];
  stats(): DetectorStats;
}

interface OpenAlert {
  alert: Alert;
  windowEnd: number;
}

const NONE: Alert[] = [];
const SWEEP_EVERY_MS = 1000;

export function createDetector(
  rules: LoadedRules | readonly CompiledRule[],
  opts: DetectorOptions = {},
): Detector {
  const list = Array.isArray(rules) ? (rules as readonly CompiledRule[]) : (rules as LoadedRules).rules;
  const data = toCel(Array.isArray(rules) ? (opts.data ?? {}) : (rules as LoadedRules).data);
  const dedupMs = opts.dedupWindowMs ?? 600_000;
  const maxOpen = opts.maxOpenAlerts ?? 10_000;
  const maxClosed = opts.maxClosedAlerts ?? 100_000;
  const maxIDs = opts.maxAuditIDs ?? 20;
  const index = new RuleIndex(list);
  const aggregators = new Map<IndexedRule, Aggregator>();
  for (const ir of index.all) {
    const agg = ir.rule.spec.aggregation;
    if (!agg) continue;
    const maxKeys = opts.maxAggregationKeys ?? (agg.type === 'first-seen' ? 100_000 : 10_000);
    aggregators.set(ir, new Aggregator(agg, maxKeys));
  }
  const open = new Map<string, OpenAlert>();
  let closed: Alert[] = [];
  let events = 0;
  let evaluations = 0;
  let opened = 0;
  let dropped = 0;
  let watermark = Number.NEGATIVE_INFINITY;
  let nextSweep = Number.NEGATIVE_INFINITY;
  let started = false;

  function close(key: string, o: OpenAlert): void {
    open.delete(key);
    closed.push(o.alert);
    if (closed.length > maxClosed) {
      const over = closed.length - maxClosed;
      closed = closed.slice(over);
      dropped += over;
    }
  }

  function sweep(now: number): void {
    // windows have one length, so insertion order is (nearly) expiry order: stop at the first live one
    for (const [key, o] of open) {
      if (o.windowEnd > now) break;
      close(key, o);
    }
  }

  function record(
    ir: IndexedRule,
    e: AuditEvent,
    time: number,
    aggKey: string | undefined,
    hit: AggregateHit | undefined,
  ): Alert | undefined {
    const spec = ir.rule.spec;
    const ref = e.objectRef ?? {};
    const user = e.user?.username ?? '';
    const name = ref.name ?? objectName(e.responseObject) ?? objectName(e.requestObject);
    const key =
      aggKey !== undefined
        ? `${spec.id}\u0000${aggKey}`
        : `${spec.id}\u0000${ref.apiGroup ?? ''}/${ref.resource ?? ''}/${ref.subresource ?? ''}\u0000${ref.namespace ?? ''}\u0000${name ?? ''}\u0000${user}`;
    const ids = hit?.auditIDs ?? [e.auditID];
    const count = hit?.count ?? 1;
    const iso = isoOf(e, time);
    const existing = open.get(key);
    if (existing && time < existing.windowEnd) {
      const a = existing.alert;
      // the same request logged again at another stage (ResponseStarted, then ResponseComplete)
      if (!hit && a.auditIDs.includes(e.auditID)) return undefined;
      a.count += count;
      if (time >= Date.parse(a.lastSeen)) a.lastSeen = iso;
      for (const id of ids) if (a.auditIDs.length < maxIDs && !a.auditIDs.includes(id)) a.auditIDs.push(id);
      if (hit && a.aggregation) a.aggregation.value = Math.max(a.aggregation.value, hit.value);
      return undefined;
    }
    if (existing) close(key, existing);
    const alert: Alert = {
      id: createHash('sha256')
        .update(`${key}\u0000${ids[0] ?? ''}`)
        .digest('hex')
        .slice(0, 16),
      rule: { id: spec.id, name: spec.name },
      severity: spec.severity,
      tactic: spec.mitre.tactic,
      technique: spec.mitre.technique,
      description: spec.description,
      remediation: spec.remediation,
      resource: { apiGroup: ref.apiGroup ?? '', resource: ref.resource ?? '' },
      verb: e.verb,
      user,
      groups: e.user?.groups ?? [],
      sourceIPs: e.sourceIPs ?? [],
      firstSeen: iso,
      lastSeen: iso,
      count,
      auditIDs: ids.slice(0, maxIDs),
      defender: spec.defender,
      falco: spec.falco,
    };
    const cluster = e.source?.cluster ?? opts.cluster;
    if (cluster !== undefined) alert.cluster = cluster;
    if (ref.namespace) alert.namespace = alert.resource.namespace = ref.namespace;
    if (ref.subresource) alert.resource.subresource = ref.subresource;
    if (name) alert.resource.name = name;
    if (e.userAgent) alert.userAgent = e.userAgent;
    if (hit && aggKey !== undefined && spec.aggregation) {
      alert.aggregation = { type: spec.aggregation.type, key: aggKey.split('\u001f'), value: hit.value };
    }
    open.set(key, { alert, windowEnd: time + dedupMs });
    opened++;
    if (open.size > maxOpen) {
      const first = open.entries().next().value;
      if (first) close(first[0], first[1]);
    }
    return alert;
  }

  function process(e: AuditEvent): Alert[] {
    events++;
    if (!started) {
      started = true;
      const t0 = eventTime(e, 0);
      for (const agg of aggregators.values()) agg.startLearning(t0);
    }
    const cands = index.candidates(e.verb, e.objectRef?.resource ?? '');
    if (cands.length === 0) return NONE;
    let celEvent: unknown;
    let vars: { event: unknown; data: unknown } | undefined;
    let v: { event: unknown; data: unknown };
    let out: Alert[] | undefined;
    for (let i = 0; i < cands.length; i++) {
      const ir = cands[i] as IndexedRule;
      if (!prefilter(ir, e)) continue;
      if (vars === undefined) {
        celEvent = toCel(e);
        vars = { event: celEvent, data };
      }
      v = vars;
      ir.evaluations++;
      evaluations++;
      const rule = ir.rule;
      try {
        if (rule.condition.evaluate(v) !== true) continue;
        if (rule.exceptions.some((x) => x.test(celEvent, e, data as Record<string, string[]>))) {
          ir.suppressed++;
          continue;
        }
      } catch (err) {
        // a condition that errors (a missing field it did not guard with has()) does not match, as in
        // Falco; the first error of each rule is logged so a rule that never works can be found
        if (ir.errors++ === 0) evalFailed(rule.spec.id, e, err);
        continue;
      }
      ir.matches++;
      const time = eventTime(e, watermark);
      if (time > watermark) watermark = time;
      if (watermark >= nextSweep) {
        sweep(watermark);
        nextSweep = watermark + SWEEP_EVERY_MS;
      }
      let aggKey: string | undefined;
      let hit: AggregateHit | undefined;
      const agg = aggregators.get(ir);
      if (agg) {
        try {
          aggKey = rule.by.map((p) => keyString(p.evaluate(v))).join('\u001f');
          const value = rule.field ? keyString(rule.field.evaluate(v)) : undefined;
          hit = agg.add(aggKey, time, e.auditID, value);
        } catch (err) {
          if (ir.errors++ === 0) evalFailed(rule.spec.id, e, err);
          continue;
        }
        if (!hit) continue;
      }
      const alert = record(ir, e, time, aggKey, hit);
      if (alert) {
        out ??= [];
        out.push(alert);
      }
    }
    return out ?? NONE;
  }

  return {
    process,
    advance(timeMs: number) {
      if (!(timeMs > watermark)) return;
      watermark = timeMs;
      sweep(watermark);
      nextSweep = watermark + SWEEP_EVERY_MS;
    },
    drain() {
      const out = closed;
      closed = [];
      return out;
    },
    flush() {
      for (const [key, o] of open) close(key, o);
      const out = closed;
      closed = [];
      return out;
    },
    stats() {
      const rulesStats: Record<string, RuleStats> = {};
      for (const ir of index.all) {
        rulesStats[ir.rule.spec.id] = {
          evaluations: ir.evaluations,
          matches: ir.matches,
          suppressed: ir.suppressed,
          errors: ir.errors,
          keys: aggregators.get(ir)?.size ?? 0,
        };
      }
      return {
        events,
        evaluations,
        alertsOpened: opened,
        openAlerts: open.size,
        droppedAlerts: dropped,
        rules: rulesStats,
      };
    },
  };
}

function evalFailed(rule: string, e: AuditEvent, err: unknown): void {
  log.debug(
    { rule, auditID: e.auditID, reason: errorMessage(err).split('\n')[0] },
    'detection rule could not be evaluated',
  );
}

/** Milliseconds of the event's own time: when the stage was reached, else when the request arrived. */
export function eventTime(e: AuditEvent, fallback: number): number {
  const s = e.stageTimestamp ?? e.requestReceivedTimestamp ?? (e as { timestamp?: string }).timestamp;
  const t = s === undefined ? Number.NaN : Date.parse(s);
  return Number.isNaN(t) ? (Number.isFinite(fallback) ? fallback : 0) : t;
}

function isoOf(e: AuditEvent, time: number): string {
  return e.stageTimestamp ?? e.requestReceivedTimestamp ?? new Date(time).toISOString();
}

function objectName(o: unknown): string | undefined {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined;
  const md = (o as { metadata?: { name?: unknown } }).metadata;
  return typeof md?.name === 'string' && md.name !== '' ? md.name : undefined;
}

function keyString(v: unknown): string {
  const j = fromCel(v);
  return typeof j === 'string' ? j : JSON.stringify(j);
}
