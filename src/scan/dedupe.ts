/**
 * One entry per language package: the same package is often seen twice in one image, installed
 * (node_modules/lodash/package.json) and declared by a lockfile (package-lock.json), or embedded in
 * two binaries. Packages of the same type, name and version are merged: names compared as the
 * ecosystem compares them (npm exactly, PyPI per PEP 503, Maven `groupId:artifactId`, Go module paths
 * exactly, NuGet ignoring case), and kept apart when only one of them is owned by an OS package (that
 * one is matched differently). The merged package keeps the strongest evidence's entry (installed
 * metadata over a binary's build info over a lockfile's declaration) and lists every file in
 * `locations`. OS packages are left as they are.
 */
import { type FoundBy, isOsPackageType, type LangPackageType, type Package } from '../model/package.js';
import { LANG_ECOSYSTEMS, normalizeName } from '../vulndb/ecosystem.js';

/** Higher is stronger: what is on disk beats what a binary embeds beats what a lockfile declares. */
const STRENGTH: Record<FoundBy, number> = { installed: 3, binary: 2, lockfile: 1 };

function strength(p: Package): number {
  return p.foundBy ? STRENGTH[p.foundBy] : 0;
}

/** The identity packages are merged by. */
export function dedupeKey(p: Package): string {
  const ecosystem: string = LANG_ECOSYSTEMS[p.type as LangPackageType] ?? p.type;
  return `${p.type}\0${normalizeName(ecosystem, p.name)}\0${p.version}\0${p.osPackage ?? ''}`;
}

/**
 * Merges duplicate language packages (see the file comment). The result keeps the input order (each
 * merged package where its first occurrence was); input objects are not modified.
 */
export function dedupePackages(packages: readonly Package[]): Package[] {
  const groups = new Map<string, Package[]>();
  const order: (Package | string)[] = [];
  // a go.sum names every version the resolver looked at; beside a go.mod, the go.mod says what is used
  const goModDirs = new Set(
    packages.filter((p) => p.type === 'go' && isGoMod(p.path)).map((p) => dirOf(p.path)),
  );
  for (const p of packages) {
    if (p.extra?.goSum === true && goModDirs.has(dirOf(p.path))) continue;
    if (isOsPackageType(p.type)) {
      order.push(p);
      continue;
    }
    const k = dedupeKey(p);
    const g = groups.get(k);
    if (g) g.push(p);
    else {
      groups.set(k, [p]);
      order.push(k);
    }
  }
  return order.map((x) => (typeof x === 'string' ? merge(groups.get(x)!) : x));
}

function merge(group: Package[]): Package {
  if (group.length === 1 && !group[0]!.locations) return group[0]!;
  let best = group[0]!;
  for (const p of group) if (strength(p) > strength(best)) best = p;
  const out: Package = { ...best };
  const locations = new Set<string>([best.path]);
  for (const p of group) {
    locations.add(p.path);
    for (const l of p.locations ?? []) locations.add(l);
  }
  if (locations.size > 1) out.locations = [...locations];
  else delete out.locations;
  // a lockfile knows the dependency graph that installed metadata lacks: any say beats none
  const direct = group.map((p) => p.direct).filter((d) => d !== undefined);
  if (direct.length > 0) out.direct = direct.includes(true);
  else delete out.direct;
  // development-only when some file says so and none says it is also a runtime dependency
  const dev = group.map((p) => p.dev).filter((d) => d !== undefined);
  if (dev.length > 0) out.dev = !dev.includes(false);
  else delete out.dev;
  for (const p of group) {
    if (out.license === undefined && p.license !== undefined) out.license = p.license;
    if (out.purl === undefined && p.purl !== undefined) out.purl = p.purl;
  }
  return out;
}

function isGoMod(path: string): boolean {
  return path === 'go.mod' || path.endsWith('/go.mod');
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}
