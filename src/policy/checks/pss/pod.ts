import type { Severity } from '../../../model/severity.js';
import { boundedMemo } from '../../../util/memo.js';
import {
  type ContainerRef,
  containersOf,
  isObject,
  type JsonObject,
  objectRun,
  type PodSpecRef,
  podSpecOf,
} from '../../k8s.js';
import { text } from '../../text.js';
import type { K8sObject } from '../../types.js';

/** Pod Security Standards levels with checks (`privileged` allows everything, so it has none). */
export type PssLevel = 'baseline' | 'restricted';

/**
 * A pod spec as the PSS checks see it: its spec and metadata, and its containers in PSA's order (init,
 * regular, ephemeral, so names list the same way). Pod-level fields are read live through getters.
 */
export class Pod {
  constructor(
    readonly ref: PodSpecRef,
    readonly containers: readonly ContainerRef[],
  ) {}

  get spec(): JsonObject {
    return this.ref.spec;
  }

  /** `spec.securityContext`, when it is an object */
  get sc(): JsonObject | undefined {
    return objectAt(this.ref.spec, 'securityContext');
  }

  /** `spec.os.name: windows`; some restricted checks do not apply to Windows pods from v1.25 */
  get windows(): boolean {
    const os = this.ref.spec.os;
    return isObject(os) && os.name === 'windows';
  }

  /** `spec.hostUsers: false`: the pod runs in a user namespace (relaxes some checks from v1.35) */
  get userNamespace(): boolean {
    return this.ref.spec.hostUsers === false;
  }
}

/** Where a violation sits: the container at fault (none for pod-level fields) and the field's path. */
export interface Spot {
  container?: string;
  path: string;
}

/** A denied check: PSA's forbidden reason and detail, plus every offending field. */
export interface Finding {
  reason: string;
  detail: string;
  spots: Spot[];
}

/** One Pod Security Standards check as data plus its evaluation, before it becomes an ObjectCheck. */
export interface PssDef {
  /** the camelCase name in our id, `pss.<level>.<name>` */
  name: string;
  /** PSA's check id (`capabilities_baseline`, `seccompProfile_restricted`, ...) */
  psa: string;
  level: PssLevel;
  /** first policy version (minor) the check exists at */
  since: number;
  /** PSA id of the baseline check this restricted check replaces from `since` on */
  overrides?: string;
  severity: Severity;
  title: string;
  description: string;
  remediation: string;
  /** evaluates at policy version `version` (never below `since`) */
  check(pod: Pod, version: number): Finding | undefined;
}

const PSA_ORDER = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/**
 * The engine runs every check on one object before the next, so the PSS checks share the pod the first
 * one builds: a one-entry cache, used only within the engine run (withObjectCache) that built it, where
 * objects do not change. Outside a run (a check evaluated directly) the pod is built on every call.
 */
let last: { object: K8sObject; pod: Pod; run: number } | undefined;

export function podOf(object: K8sObject): Pod | undefined {
  const run = objectRun();
  if (run !== 0 && last?.run === run && last.object === object) return last.pod;
  const ref = podSpecOf(object);
  if (!ref) return undefined;
  const pod = new Pod(ref, containersOf(ref, PSA_ORDER));
  last = run !== 0 ? { object, pod, run } : undefined;
  return pod;
}

export function objectAt(o: JsonObject | undefined, key: string): JsonObject | undefined {
  const v = o?.[key];
  return isObject(v) ? v : undefined;
}

/** A container's securityContext, when it is an object. */
export function scOf(c: ContainerRef): JsonObject | undefined {
  return objectAt(c.container, 'securityContext');
}

export function pluralize(singular: string, plural: string, count: number): string {
  return count === 1 ? singular : plural;
}

// JSON-quoted names, one string object each (messages are interned: policy/text.ts)
const quote = boundedMemo((s: string): string => JSON.stringify(s));

/** `"a", "b"`: one string object per distinct list, built item by item */
export function quoteList(items: Iterable<string>): string {
  let list: string | undefined;
  for (const item of items) list = list === undefined ? quote(item) : text`${list}, ${quote(item)}`;
  return list ?? '';
}

/** `container "a"` / `containers "a", "b"` */
export function containerList(names: readonly string[]): string {
  return text`${pluralize('container', 'containers', names.length)} ${quoteList(names)}`;
}

const NONE: string[] = [];
const NO_SPOTS: Spot[] = [];

/** Collects who set a bad value (the pod and/or containers) for the `pod and containers "a", "b" ...` phrasing. */
export class Setters {
  pod = false;
  // allocated on the first violation: most checks of most pods find nothing
  containers: string[] = NONE;
  spots: Spot[] = NO_SPOTS;

  addPod(path: string): void {
    this.pod = true;
    if (this.spots === NO_SPOTS) this.spots = [];
    this.spots.push({ path });
  }

  addContainer(c: ContainerRef, path: string): void {
    if (this.spots === NO_SPOTS) this.spots = [];
    if (this.containers === NONE) this.containers = [];
    if (!this.containers.includes(c.name)) this.containers.push(c.name);
    this.spots.push({ container: c.name, path });
  }

  get empty(): boolean {
    return this.spots.length === 0;
  }

  /** `pod`, `container "a"`, `pod and containers "a", "b"` */
  subject(): string {
    if (!this.containers.length) return this.pod ? 'pod' : '';
    const list = containerList(this.containers);
    return this.pod ? text`pod and ${list}` : list;
  }
}

/** Sorted distinct values as a quoted list. */
export function quoteSorted(values: Iterable<string>): string {
  return quoteList([...new Set(values)].sort());
}

/** A string field's value for messages; non-strings (malformed input) are shown as JSON. */
export function display(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}
