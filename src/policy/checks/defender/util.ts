import { MoatError } from '../../../errors.js';
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

/** excludedContainers (by name) and excludedImages, for the parameters a check declares. */
export function isExcluded(c: ContainerRef, params: Readonly<Record<string, unknown>>): boolean {
  const names = params.excludedContainers;
  if (Array.isArray(names) && names.includes(c.name)) return true;
  return imageMatches(imageOf(c), strings(params.excludedImages));
}

/** The containers a check evaluates: every kind by default, minus the excluded ones. */
export function checkedContainers(
  ref: PodSpecRef,
  params: Readonly<Record<string, unknown>>,
  kinds?: readonly ContainerKind[],
): ContainerRef[] {
  return containersOf(ref, kinds).filter((c) => !isExcluded(c, params));
}

/**
 * For pod-level settings (host namespaces, token automount): the pod is excluded when it has containers
 * and every one of them is excluded, e.g. a node agent built only from trusted images.
 */
export function podExcluded(ref: PodSpecRef, params: Readonly<Record<string, unknown>>): boolean {
  const all = containersOf(ref);
  return all.length > 0 && all.every((c) => isExcluded(c, params));
}

const KIND_WORD: Record<ContainerKind, string> = {
  containers: 'container',
  initContainers: 'init container',
  ephemeralContainers: 'ephemeral container',
};

/** `container "app"`, `init container "setup"`, `ephemeral container "debugger"`. */
export function who(c: ContainerRef): string {
  return `${KIND_WORD[c.kind]} "${c.name}"`;
}

export function securityContext(o: Record<string, unknown>): Record<string, unknown> {
  return obj(o.securityContext);
}

// compiled user patterns, bounded: configurations hold a handful of patterns, not thousands
const regexCache = new Map<string, RegExp>();

/** Compiles a configured regular expression once; a pattern that does not compile is a usage error. */
export function regex(pattern: string, checkId: string, param: string): RegExp {
  let re = regexCache.get(pattern);
  if (re) return re;
  try {
    re = new RegExp(pattern);
  } catch (e) {
    throw new MoatError(
      'CONFIG',
      `${checkId}: ${param} ${JSON.stringify(pattern)} is not a valid regular expression: ${(e as Error).message}`,
    );
  }
  if (regexCache.size >= 256) regexCache.clear();
  regexCache.set(pattern, re);
  return re;
}
