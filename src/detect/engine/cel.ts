import type { Environment } from '@marcbachmann/cel-js';
import { createCelEnvironment } from '../../policy/cel/environment.js';
import { type CelValue, fn, isPlainMap } from '../../policy/cel/values.js';
import { AddressMatcher, DomainMatcher } from '../lists.js';

/**
 * The CEL environment of detection rules: the Kubernetes CEL libraries (as for admission policies) plus
 * two variables, `event` (the audit event as the API server writes it) and `data` (the rule packs'
 * named string lists, allowlists included), and helpers for what Falco's `ka.req.pod.*` fields give:
 * the pod spec inside any workload, its containers, images and hostPath volumes.
 */
export const RULE_VARIABLES = { event: 'dyn', data: 'map<string, list<string>>' } as const;

let env: Environment | undefined;

export function detectionEnvironment(): Environment {
  if (env) return env;
  const e = createCelEnvironment({ variables: RULE_VARIABLES });
  fn(e, 'podSpec(dyn): map<string, dyn>', (ev: CelValue) => podSpec(ev));
  fn(e, 'containers(dyn): list<map<string, dyn>>', (ev: CelValue) => containers(podSpec(ev)));
  fn(e, 'images(dyn): list<string>', (ev: CelValue) => images(ev));
  fn(e, 'hostPaths(dyn): list<string>', (ev: CelValue) => hostPaths(podSpec(ev)));
  fn(e, 'imageRepository(string): string', (s: string) => imageRepository(s));
  fn(e, 'imageName(string): string', (s: string) => imageName(s));
  fn(e, 'pathMatches(string, list<string>): bool', (p: string, pats: string[]) => pathMatches(p, pats));
  fn(e, 'ipInList(string, list<string>): bool', (ip: string, list: string[]) =>
    compiled(addressLists, list, AddressMatcher).has(ip),
  );
  fn(e, 'domainInList(string, list<string>): bool', (host: string, list: string[]) =>
    compiled(domainLists, list, DomainMatcher).has(host),
  );
  env = e;
  return e;
}

/**
 * Address and domain lists (threat intelligence: proxies, Tor exits, bad domains) can hold thousands of
 * entries and are checked on every event, so each list is compiled once (a set plus sorted ranges, see
 * ../lists.ts). Lists are the same array for the detector's life (`data` is converted once), which makes
 * the array a sound cache key; a list literal in a condition is compiled per evaluation.
 */
const addressLists = new WeakMap<readonly string[], AddressMatcher>();
const domainLists = new WeakMap<readonly string[], DomainMatcher>();

function compiled<M>(
  cache: WeakMap<readonly string[], M>,
  list: readonly string[],
  Make: new (entries: readonly string[]) => M,
): M {
  let m = cache.get(list);
  if (!m) {
    m = new Make(list);
    cache.set(list, m);
  }
  return m;
}

const EMPTY: Record<string, CelValue> = Object.freeze(Object.create(null));

function get(v: CelValue, k: string): CelValue {
  if (v === null || typeof v !== 'object') return undefined;
  if (v instanceof Map) return v.get(k);
  return isPlainMap(v) ? (v as Record<string, CelValue>)[k] : undefined;
}

/**
 * The pod spec a request creates or changes: a Pod's own spec, the pod template of a Deployment,
 * ReplicaSet, StatefulSet, DaemonSet, Job or ReplicationController, or a CronJob's job template.
 * Patches (a JSON patch is a list) and objects without a pod spec give an empty map.
 */
export function podSpec(ev: CelValue): Record<string, CelValue> {
  const spec = get(get(ev, 'requestObject'), 'spec');
  if (spec === undefined) return EMPTY;
  if (get(spec, 'containers') !== undefined) return spec as Record<string, CelValue>;
  const tpl = get(get(spec, 'template'), 'spec');
  if (tpl !== undefined) return tpl as Record<string, CelValue>;
  const job = get(get(get(get(spec, 'jobTemplate'), 'spec'), 'template'), 'spec');
  return (job as Record<string, CelValue> | undefined) ?? EMPTY;
}

/** containers, initContainers and ephemeralContainers, as Falco's list fields cover all three. */
export function containers(spec: CelValue): CelValue[] {
  const out: CelValue[] = [];
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
    const list = get(spec, key);
    if (Array.isArray(list)) for (const c of list) out.push(c);
  }
  return out;
}

function images(ev: CelValue): string[] {
  const out: string[] = [];
  for (const c of containers(podSpec(ev))) {
    const img = get(c, 'image');
    if (typeof img === 'string') out.push(img);
  }
  return out;
}

function hostPaths(spec: CelValue): string[] {
  const out: string[] = [];
  const vols = get(spec, 'volumes');
  if (!Array.isArray(vols)) return out;
  for (const v of vols) {
    const p = get(get(v, 'hostPath'), 'path');
    if (typeof p === 'string') out.push(normalizePath(p));
  }
  return out;
}

/** `/etc/` and `/etc//` mount the same directory as `/etc`; only the trailing slashes are folded. */
function normalizePath(p: string): string {
  let s = p.replace(/\/{2,}/g, '/');
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/**
 * An image reference without its tag and digest, as Falco's `ka.req.pod.containers.image.repository`
 * (no registry normalisation: `nginx` stays `nginx`, `docker.io/library/nginx` stays as it is).
 */
export function imageRepository(ref: string): string {
  let s = ref;
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  const colon = s.lastIndexOf(':');
  if (colon > s.lastIndexOf('/')) s = s.slice(0, colon);
  return s;
}

/** The last path component of the repository: `xmrig` for `docker.io/metal3d/xmrig:latest`. */
export function imageName(ref: string): string {
  const repo = imageRepository(ref);
  return repo.slice(repo.lastIndexOf('/') + 1);
}

/**
 * Whether a host path is one of the patterns: a pattern is an exact path, or a directory ending in
 * `/**` that also covers everything under it (so `/` itself can be listed without covering every path).
 */
export function pathMatches(path: string, patterns: readonly string[]): boolean {
  const p = normalizePath(path);
  for (const pat of patterns) {
    if (pat.endsWith('/**')) {
      const dir = pat.slice(0, -3) || '/';
      if (p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`)) return true;
    } else if (p === normalizePath(pat)) return true;
  }
  return false;
}
