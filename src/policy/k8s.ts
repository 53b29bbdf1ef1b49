import { text } from './text.js';
import type { K8sMetadata, K8sObject } from './types.js';

/** Kinds whose objects carry a pod spec: Pods and every pod-template owner. */
export const POD_KINDS = [
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'ReplicationController',
  'PodTemplate',
] as const;

export type JsonObject = Record<string, unknown>;

/** A pod spec found in an object, with the path that leads to it. */
export interface PodSpecRef {
  /** the pod's metadata: the Pod's own, or the template's (labels, annotations: AppArmor, seccomp) */
  metadata: K8sMetadata;
  spec: JsonObject;
  /** path of `spec` inside the object, e.g. `spec.template.spec`, `spec.jobTemplate.spec.template.spec` */
  path: string;
  /** path of `metadata`, e.g. `spec.template.metadata` */
  metadataPath: string;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** o[keys[0]][keys[1]]..., or undefined when a step is not an object (indexed: it runs per check and object). */
function at(o: unknown, keys: readonly string[]): unknown {
  let cur = o;
  for (let k = 0; k < keys.length; k++) {
    if (!isObject(cur)) return undefined;
    cur = cur[keys[k] as string];
  }
  return cur;
}

// During an assessment every check asks for the same object's pod spec and containers, one object after
// another; the engine turns these caches on for the length of one run (objects do not change during it).
// One entry each: the engine evaluates every check of an object before the next object, and a WeakMap
// per run costs more (its ephemeron table is work for every garbage collection) than the rare recompute
// when another caller goes back to an earlier object.
let caching = false;
let specObject: K8sObject | undefined;
let specRef: PodSpecRef | undefined;
let containerRef: PodSpecRef | undefined;
let containerLists:
  | { all: ContainerRef[]; other: Array<[readonly ContainerKind[], ContainerRef[]]> }
  | undefined;

/** Runs `fn` with podSpecOf/containersOf memoized per object; callers must not modify what they return. */
export function withObjectCache<T>(fn: () => T): T {
  if (caching) return fn();
  caching = true;
  currentRun = ++runs;
  try {
    return fn();
  } finally {
    caching = false;
    specObject = undefined;
    specRef = undefined;
    containerRef = undefined;
    containerLists = undefined;
    currentRun = 0;
  }
}

let runs = 0;
let currentRun = 0;

/** Inside withObjectCache, a number for that call (objects do not change until it returns); else 0. */
export function objectRun(): number {
  return currentRun;
}

/** The pod spec of a Pod or pod-template owner, or undefined when the object has none. */
export function podSpecOf(obj: K8sObject): PodSpecRef | undefined {
  if (!caching) return findPodSpec(obj);
  if (specObject !== obj) {
    specObject = obj;
    specRef = findPodSpec(obj);
  }
  return specRef;
}

/** Where each kind keeps its pod template (holder of metadata and spec), and the paths that follow. */
const HOLDERS: Readonly<Record<string, { base: readonly string[]; path: string; metadataPath: string }>> = {};
for (const [kinds, base] of [
  [['Pod'], []],
  [['PodTemplate'], ['template']],
  [['CronJob'], ['spec', 'jobTemplate', 'spec', 'template']],
  [
    ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'ReplicationController'],
    ['spec', 'template'],
  ],
] as const) {
  const prefix = base.length ? `${base.join('.')}.` : '';
  // one string per kind, shared by every object: checks build their paths on it
  for (const k of kinds)
    (HOLDERS as Record<string, (typeof HOLDERS)[string]>)[k] = {
      base,
      path: `${prefix}spec`,
      metadataPath: `${prefix}metadata`,
    };
}

function findPodSpec(obj: K8sObject): PodSpecRef | undefined {
  const h = Object.hasOwn(HOLDERS, obj.kind ?? '') ? HOLDERS[obj.kind as string] : undefined;
  if (!h) return undefined;
  const holder = at(obj, h.base);
  if (!isObject(holder)) return undefined;
  const spec = holder.spec;
  if (!isObject(spec)) return undefined;
  const metadata = isObject(holder.metadata) ? (holder.metadata as K8sMetadata) : {};
  return { metadata, spec, path: h.path, metadataPath: h.metadataPath };
}

export type ContainerKind = 'containers' | 'initContainers' | 'ephemeralContainers';

/** One container of a pod spec, with its path. */
export interface ContainerRef {
  container: JsonObject;
  name: string;
  kind: ContainerKind;
  index: number;
  /** e.g. `spec.template.spec.initContainers[1]` */
  path: string;
  /** for messages: `container "app"`, `init container "setup"`, `ephemeral container "debugger"` */
  label: string;
}

const KIND_WORD: Record<ContainerKind, string> = {
  containers: 'container',
  initContainers: 'init container',
  ephemeralContainers: 'ephemeral container',
};

const CONTAINER_KINDS: readonly ContainerKind[] = ['containers', 'initContainers', 'ephemeralContainers'];

/**
 * Every container of a pod spec (regular, init and ephemeral, in that order), or those of `kinds` in its
 * order: pass a module constant (within an engine run, selections are cached by identity).
 */
export function containersOf(
  ref: PodSpecRef,
  kinds: readonly ContainerKind[] = CONTAINER_KINDS,
): ContainerRef[] {
  if (!caching) return listContainers(ref, kinds);
  let lists = containerLists;
  if (containerRef !== ref || lists === undefined) {
    lists = { all: listContainers(ref, CONTAINER_KINDS), other: [] };
    containerRef = ref;
    containerLists = lists;
  }
  if (kinds === CONTAINER_KINDS) return lists.all;
  // callers pass module constants: the selection is found by identity
  // (indexed, without destructuring: no iterator per call before the JIT warms up)
  for (let k = 0; k < lists.other.length; k++) {
    const entry = lists.other[k] as [readonly ContainerKind[], ContainerRef[]];
    if (entry[0] === kinds) return entry[1];
  }
  // the same ContainerRefs in another selection or order (PSA lists init containers first)
  const list: ContainerRef[] = [];
  for (const kind of kinds) for (const c of lists.all) if (c.kind === kind) list.push(c);
  lists.other.push([kinds, list]);
  return list;
}

function listContainers(ref: PodSpecRef, kinds: readonly ContainerKind[]): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const kind of kinds) {
    const list = ref.spec[kind];
    if (!Array.isArray(list)) continue;
    for (let index = 0; index < list.length; index++) {
      const c: unknown = list[index];
      if (!isObject(c)) continue;
      const name = typeof c.name === 'string' ? c.name : `${kind}[${index}]`;
      out.push({
        container: c,
        name,
        kind,
        index,
        path: text`${ref.path}.${kind}[${index}]`,
        label: text`${KIND_WORD[kind]} "${name}"`,
      });
    }
  }
  return out;
}

/**
 * The kind that begins a message about the object itself (`Deployment runs as ...`). Messages do not
 * name the object: the report lists it as the finding's resource, and a message that names it would make
 * each object a finding of its own instead of one finding with every object it applies to.
 */
export function kindWord(obj: K8sObject): string {
  return typeof obj.kind === 'string' && obj.kind !== '' ? obj.kind : 'object';
}

/** Reads a nested value without throwing; undefined when any step is missing or not an object. */
export function get(o: unknown, path: string): unknown {
  return at(o, path.split('.'));
}
