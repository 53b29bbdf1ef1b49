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

function at(o: unknown, ...keys: string[]): unknown {
  let cur = o;
  for (const k of keys) {
    if (!isObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

// During an assessment every check asks for the same object's pod spec and containers; the engine turns
// these caches on for the length of one run (objects do not change during it) and drops them after.
let specCache: WeakMap<K8sObject, PodSpecRef | null> | undefined;
let containerCache: WeakMap<PodSpecRef, ContainerRef[]> | undefined;

/** Runs `fn` with podSpecOf/containersOf memoized per object; callers must not modify what they return. */
export function withObjectCache<T>(fn: () => T): T {
  if (specCache) return fn();
  specCache = new WeakMap();
  containerCache = new WeakMap();
  try {
    return fn();
  } finally {
    specCache = undefined;
    containerCache = undefined;
  }
}

/** The pod spec of a Pod or pod-template owner, or undefined when the object has none. */
export function podSpecOf(obj: K8sObject): PodSpecRef | undefined {
  if (specCache) {
    const hit = specCache.get(obj);
    if (hit !== undefined) return hit ?? undefined;
    const ref = findPodSpec(obj);
    specCache.set(obj, ref ?? null);
    return ref;
  }
  return findPodSpec(obj);
}

function findPodSpec(obj: K8sObject): PodSpecRef | undefined {
  let base: string[];
  switch (obj.kind) {
    case 'Pod':
      base = [];
      break;
    case 'PodTemplate':
      base = ['template'];
      break;
    case 'CronJob':
      base = ['spec', 'jobTemplate', 'spec', 'template'];
      break;
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
    case 'ReplicationController':
      base = ['spec', 'template'];
      break;
    default:
      return undefined;
  }
  const holder = base.length ? at(obj, ...base) : obj;
  if (!isObject(holder)) return undefined;
  const spec = holder.spec;
  if (!isObject(spec)) return undefined;
  const metadata = isObject(holder.metadata) ? (holder.metadata as K8sMetadata) : {};
  const prefix = base.length ? `${base.join('.')}.` : '';
  return { metadata, spec, path: `${prefix}spec`, metadataPath: `${prefix}metadata` };
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
}

const CONTAINER_KINDS: readonly ContainerKind[] = ['containers', 'initContainers', 'ephemeralContainers'];

/** Every container of a pod spec (regular, init and ephemeral, in that order). */
export function containersOf(
  ref: PodSpecRef,
  kinds: readonly ContainerKind[] = CONTAINER_KINDS,
): ContainerRef[] {
  if (containerCache && kinds === CONTAINER_KINDS) {
    const hit = containerCache.get(ref);
    if (hit) return hit;
    const all = listContainers(ref, kinds);
    containerCache.set(ref, all);
    return all;
  }
  return listContainers(ref, kinds);
}

function listContainers(ref: PodSpecRef, kinds: readonly ContainerKind[]): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const kind of kinds) {
    const list = ref.spec[kind];
    if (!Array.isArray(list)) continue;
    list.forEach((c, index) => {
      if (!isObject(c)) return;
      out.push({
        container: c,
        name: typeof c.name === 'string' ? c.name : `${kind}[${index}]`,
        kind,
        index,
        path: `${ref.path}.${kind}[${index}]`,
      });
    });
  }
  return out;
}

/** `apiVersion/kind namespace/name` for messages. */
export function describeObject(obj: K8sObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? obj.metadata?.generateName ?? '<unnamed>';
  return `${obj.kind ?? '<no kind>'} ${ns ? `${ns}/` : ''}${name}`;
}

/** Reads a nested value without throwing; undefined when any step is missing or not an object. */
export function get(o: unknown, path: string): unknown {
  return at(o, ...path.split('.'));
}
