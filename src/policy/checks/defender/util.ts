import { MoatError } from '../../../errors.js';
import { boundedMemo } from '../../../util/memo.js';
import { type ContainerKind, type ContainerRef, containersOf, isObject, type PodSpecRef } from '../../k8s.js';

/** Parameter readers: configuration comes from users, so wrong types degrade to "not set", never throw. */
export function strings(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  const out: string[] = [];
  for (const x of v) if (typeof x === 'string' || typeof x === 'number') out.push(String(x));
  return out;
}

export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  return typeof v === 'number' ? String(v) : undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

export function obj(v: unknown): Record<string, unknown> {
  return isObject(v) ? v : {};
}

/**
 * Azure's excludedImages / Gatekeeper's exemptImages: an exact image, or a prefix when the entry ends in `*`
 * (`myregistry.azurecr.io/istio:*`).
 */
export function imageMatches(image: string, patterns: readonly string[]): boolean {
  for (const p of patterns) {
    if (p.endsWith('*') ? image.startsWith(p.slice(0, -1)) : image === p) return true;
  }
  return false;
}

export function imageOf(c: ContainerRef): string {
  return typeof c.container.image === 'string' ? c.container.image : '';
}

type Params = Readonly<Record<string, unknown>>;

/**
 * `derive` memoized per parameters object: the engine passes a check the same object for every object it
 * evaluates, so lists and ranges are read from it once, not per workload.
 */
export function perParams<T>(derive: (params: Params) => T): (params: Params) => T {
  const cache = new WeakMap<Params, T>();
  return (params) => {
    if (cache.has(params)) return cache.get(params) as T;
    const value = derive(params);
    cache.set(params, value);
    return value;
  };
}

/** excludedContainers and excludedImages of a parameters object, read once: the engine passes the same object for every object. */
interface Exclusions {
  names: readonly unknown[];
  images: readonly string[];
  none: boolean;
}
const exclusionCache = new WeakMap<Params, Exclusions>();

function exclusionsOf(params: Params): Exclusions {
  let ex = exclusionCache.get(params);
  if (!ex) {
    const names = Array.isArray(params.excludedContainers) ? params.excludedContainers : [];
    const images = strings(params.excludedImages);
    ex = { names, images, none: names.length === 0 && images.length === 0 };
    exclusionCache.set(params, ex);
  }
  return ex;
}

function excluded(c: ContainerRef, ex: Exclusions): boolean {
  return ex.names.includes(c.name) || imageMatches(imageOf(c), ex.images);
}

/** excludedContainers (by name) and excludedImages, for the parameters a check declares. */
export function isExcluded(c: ContainerRef, params: Params): boolean {
  return excluded(c, exclusionsOf(params));
}

/** The containers a check evaluates: every kind by default, minus the excluded ones. */
export function checkedContainers(
  ref: PodSpecRef,
  params: Params,
  kinds?: readonly ContainerKind[],
): readonly ContainerRef[] {
  const all = containersOf(ref, kinds);
  const ex = exclusionsOf(params);
  // nothing excluded (the defaults): the shared list as it is
  return ex.none ? all : all.filter((c) => !excluded(c, ex));
}

/**
 * For pod-level settings (host namespaces, token automount): the pod is excluded when it has containers
 * and every one of them is excluded, e.g. a node agent built only from trusted images.
 */
export function podExcluded(ref: PodSpecRef, params: Params): boolean {
  const ex = exclusionsOf(params);
  if (ex.none) return false;
  const all = containersOf(ref);
  return all.length > 0 && all.every((c) => excluded(c, ex));
}

/** `container "app"`, `init container "setup"`, `ephemeral container "debugger"`. */
export function who(c: ContainerRef): string {
  return c.label;
}

export function securityContext(o: Record<string, unknown>): Record<string, unknown> {
  return obj(o.securityContext);
}

// compiled user patterns, bounded: configurations hold a handful of patterns, not thousands
const compiledRegex = boundedMemo((pattern: string) => new RegExp(pattern), 256);

/** Compiles a configured regular expression once; a pattern that does not compile is a usage error. */
export function regex(pattern: string, checkId: string, param: string): RegExp {
  try {
    return compiledRegex(pattern);
  } catch (e) {
    throw new MoatError(
      'CONFIG',
      `${checkId}: ${param} ${JSON.stringify(pattern)} is not a valid regular expression: ${(e as Error).message}`,
    );
  }
}
