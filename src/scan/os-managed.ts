/**
 * Language packages that the OS package manager installed: Debian's python3-requests puts
 * `usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO` on disk and lists it in
 * `var/lib/dpkg/info/python3-requests.list`; Alpine's py3-* and RHEL's python3-* packages do the same
 * in apk's and rpm's databases. Such a package is marked with its owner (`osPackage`): the
 * distribution patches it (often backporting fixes without changing the upstream version), so by
 * default it is left to the OS advisories rather than matched against the language ecosystem's.
 */
import type { OwnedFiles } from '../analyzers/types.js';
import { isOsPackageType, type Package } from '../model/package.js';

/**
 * Sets `osPackage` on every language package whose declaring file (its `path`, or any of its
 * `locations`) an OS package owns. Paths on both sides go through `resolve` (symlinks of the final
 * filesystem), so that a file list naming `lib/python3/...` meets a package read at `usr/lib/python3/...`
 * on a merged-/usr image. Owned-file lists come from the OS databases visible in the final filesystem
 * (distroless `status.d` images have none: nothing is marked there). Returns how many were marked.
 */
export function markOsManaged(
  packages: Package[],
  owned: readonly OwnedFiles[],
  resolve: (path: string) => string = (p) => p,
): number {
  if (owned.length === 0 || packages.every((p) => isOsPackageType(p.type))) return 0;
  const safe = (p: string): string => {
    try {
      return resolve(p);
    } catch {
      // a symlink loop on the way: compare the path as written
      return p;
    }
  };
  const owners = new Map<string, string>();
  for (const o of owned) {
    for (const p of o.paths) {
      const key = safe(p);
      // two packages claiming one file (dpkg diversions, rpm shared files): the first listed keeps it
      if (!owners.has(key)) owners.set(key, o.owner);
    }
  }
  let marked = 0;
  for (const pkg of packages) {
    if (isOsPackageType(pkg.type) || pkg.osPackage) continue;
    let owner = owners.get(safe(pkg.path));
    for (const loc of pkg.locations ?? []) {
      if (owner) break;
      owner = owners.get(safe(loc));
    }
    if (owner) {
      pkg.osPackage = owner;
      marked++;
    }
  }
  return marked;
}
