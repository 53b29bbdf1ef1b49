import type { RuleAggregation } from '../rules/types.js';

/**
 * Aggregation state of one rule, keyed by the values of its `by` expressions and bounded: the least
 * recently touched keys are evicted past `maxKeys` (for first-seen an evicted key can alert again, which
 * is the price of bounded memory; docs/detect/rules.md says so).
 */
export interface AggregateHit {
  /** events (count), distinct values (distinct) or 1 (first-seen) behind the hit */
  value: number;
  /** audit IDs to fold into the alert: the window's on the first hit, this event's afterwards */
  auditIDs: string[];
  /** events to add to the alert's count */
  count: number;
}

interface CountState {
  times: number[];
  ids: string[];
  active: boolean;
}

interface DistinctState {
  /** value -> last time seen, in insertion (age) order */
  values: Map<string, number>;
  ids: string[];
  active: boolean;
}

export class Aggregator {
  private readonly keys = new Map<string, CountState | DistinctState | number>();
  /** first-seen: event time the learning window started at */
  private learningStart: number | undefined;

  constructor(
    readonly spec: RuleAggregation,
    private readonly maxKeys: number,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  /** Feeds one matching event; returns a hit when the rule should alert. `value` is the distinct field's. */
  add(key: string, time: number, auditID: string, value: string | undefined): AggregateHit | undefined {
    switch (this.spec.type) {
      case 'count':
        return this.count(key, time, auditID);
      case 'distinct':
        return this.distinct(key, time, auditID, value ?? '');
      case 'first-seen':
        return this.firstSeen(key, time, auditID);
    }
  }

  private touch<T extends CountState | DistinctState | number>(key: string, fresh: () => T): T {
    const prev = this.keys.get(key) as T | undefined;
    if (prev !== undefined) this.keys.delete(key);
    const st = prev ?? fresh();
    this.keys.set(key, st);
    if (this.keys.size > this.maxKeys) {
      const oldest = this.keys.keys().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    return st;
  }

  private count(key: string, t: number, id: string): AggregateHit | undefined {
    const threshold = this.spec.threshold ?? 1;
    const windowMs = this.spec.windowMs ?? 0;
    const st = this.touch<CountState>(key, () => ({ times: [], ids: [], active: false }));
    st.times.push(t);
    st.ids.push(id);
    // only the last `threshold` events can decide whether the window holds `threshold` of them
    while (st.times.length > threshold) {
      st.times.shift();
      st.ids.shift();
    }
    while (st.times.length > 0 && (st.times[0] as number) <= t - windowMs) {
      st.times.shift();
      st.ids.shift();
    }
    if (st.times.length < threshold) {
      st.active = false;
      return undefined;
    }
    if (st.active) return { value: st.times.length, auditIDs: [id], count: 1 };
    st.active = true;
    return { value: st.times.length, auditIDs: [...st.ids], count: st.times.length };
  }

  private distinct(key: string, t: number, id: string, value: string): AggregateHit | undefined {
    const threshold = this.spec.threshold ?? 1;
    const windowMs = this.spec.windowMs ?? 0;
    const st = this.touch<DistinctState>(key, () => ({ values: new Map(), ids: [], active: false }));
    st.values.delete(value);
    st.values.set(value, t);
    st.ids.push(id);
    if (st.ids.length > threshold) st.ids.shift();
    // Map order is age order (a value seen again is re-inserted), so expiry stops at the first live value
    for (const [v, seen] of st.values) {
      if (seen > t - windowMs) break;
      st.values.delete(v);
    }
    while (st.values.size > threshold) {
      const oldest = st.values.keys().next().value;
      if (oldest === undefined) break;
      st.values.delete(oldest);
    }
    if (st.values.size < threshold) {
      st.active = false;
      return undefined;
    }
    if (st.active) return { value: st.values.size, auditIDs: [id], count: 1 };
    st.active = true;
    return { value: st.values.size, auditIDs: [...st.ids], count: st.ids.length };
  }

  private firstSeen(key: string, t: number, id: string): AggregateHit | undefined {
    if (this.learningStart === undefined) this.learningStart = t;
    const known = this.keys.has(key);
    this.touch<number>(key, () => t);
    if (known || t < this.learningStart + (this.spec.learningMs ?? 0)) return undefined;
    return { value: 1, auditIDs: [id], count: 1 };
  }

  /** Starts first-seen learning at a given time (the detector's first event) rather than at the rule's first match. */
  startLearning(t: number): void {
    this.learningStart ??= t;
  }
}
