import type { FoundBy, LangPackageType, Package } from '../../model/package.js';

/** What a format parser knows about one package entry. */
export interface LangEntry {
  name: string;
  version: string;
  license?: string;
  /** undefined when the file does not say */
  dev?: boolean;
  /** undefined when the file does not say */
  direct?: boolean;
  extra?: Record<string, string | number | boolean | null>;
}

/**
 * Collects the packages of one file, one per name and version: a lockfile can list the same release several
 * times (npm under nested node_modules paths, pnpm once per peer-dependency set). Merged entries are dev only
 * when every occurrence is, and direct when any is.
 */
export class PackageSet {
  private readonly byKey = new Map<string, Package>();

  constructor(
    private readonly type: LangPackageType,
    private readonly path: string,
    private readonly foundBy: FoundBy,
  ) {}

  add(e: LangEntry): void {
    const key = `${e.name}\u0000${e.version}`;
    const seen = this.byKey.get(key);
    if (seen) {
      if (e.dev !== undefined) seen.dev = seen.dev === undefined ? e.dev : seen.dev && e.dev;
      if (e.direct !== undefined) seen.direct = seen.direct === true || e.direct;
      if (!seen.license && e.license) seen.license = e.license;
      return;
    }
    const pkg: Package = {
      type: this.type,
      name: e.name,
      version: e.version,
      path: this.path,
      foundBy: this.foundBy,
    };
    if (e.license) pkg.license = e.license;
    if (e.dev !== undefined) pkg.dev = e.dev;
    if (e.direct !== undefined) pkg.direct = e.direct;
    if (e.extra && Object.keys(e.extra).length > 0) pkg.extra = e.extra;
    this.byKey.set(key, pkg);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The packages in a stable order (name, then version), so cached layer results do not churn. */
  list(): Package[] {
    return [...this.byKey.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0,
    );
  }
}
