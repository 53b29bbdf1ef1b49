import { API_RESOURCES } from './resources.js';
import type { Inventory, K8sObject } from './types.js';

/**
 * What checks need to know about objects beyond the one they evaluate: the scope of built-in kinds, the
 * namespace an object lands in, and an indexed lookup by kind, namespace and name in the inventory.
 */

/**
 * Namespaced built-in kinds (policy/resources.ts) that are stored objects: objects of these kinds without
 * metadata.namespace land in `default`. (Binding is create-only: the API server never stores or lists it.)
 */
export const NAMESPACED_KINDS: readonly string[] = API_RESOURCES.filter(
  (r) => r.namespaced && r.kind !== 'Binding',
).map((r) => r.kind);
const NAMESPACED = new Set(NAMESPACED_KINDS);

/** Cluster-scoped built-in kinds: Kubernetes ignores a metadata.namespace written on them. */
const CLUSTER_SCOPED = new Set(API_RESOURCES.filter((r) => !r.namespaced).map((r) => r.kind));

/**
 * The namespace an object lives in: its own, `default` for a namespaced built-in kind without one (what
 * `kubectl apply` without `-n` does), or undefined (a cluster-scoped kind, or an unknown kind without one).
 */
export function namespaceOf(obj: K8sObject): string | undefined {
  if (CLUSTER_SCOPED.has(obj.kind ?? '')) return undefined;
  const ns = obj.metadata?.namespace;
  if (typeof ns === 'string' && ns !== '') return ns;
  return NAMESPACED.has(obj.kind ?? '') ? 'default' : undefined;
}

// One index per kind list of an inventory (the engine builds the inventory once per assessment), so
// that a lookup per workload stays O(1) at 20,000 objects: namespace -> name -> object, with every
// namespace under ANY too (keyed by the strings as they are: no key is built per lookup)
const ANY = '\u0000any';
const indexCache = new WeakMap<readonly K8sObject[], Map<string, Map<string, K8sObject>>>();

/**
 * The object of `kind` named `name`: in namespace `ns` for a namespaced kind, anywhere when `ns` is
 * undefined (cluster-scoped kinds, whose metadata.namespace Kubernetes ignores). First one wins.
 */
export function lookup(inventory: Inventory, kind: string, name: string, ns?: string): K8sObject | undefined {
  const list = inventory.byKind(kind);
  if (!list.length) return undefined;
  let index = indexCache.get(list);
  if (!index) {
    index = new Map();
    for (const o of list) {
      const n = o.metadata?.name ?? '';
      for (const key of [namespaceOf(o) ?? '', ANY]) {
        let names = index.get(key);
        if (!names) {
          names = new Map();
          index.set(key, names);
        }
        if (!names.has(n)) names.set(n, o);
      }
    }
    indexCache.set(list, index);
  }
  return index.get(ns ?? ANY)?.get(name);
}
