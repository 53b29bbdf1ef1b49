/**
 * What the CycloneDX and SPDX writers and readers share: the input they render, moat's package properties
 * (written as CycloneDX properties and SPDX annotations, read back by `moat scan sbom`), license handling,
 * stable identifiers.
 */
import { createHash } from 'node:crypto';
import type { Finding, SuppressedFinding } from '../model/finding.js';
import type { FoundBy, LayerRef, OsInfo, Package } from '../model/package.js';
import type { ScanTarget } from '../model/result.js';
import { assignPurls } from '../scan/purl.js';

/** What an SBOM is written from: an inventory (`moat sbom`) or a scan result (`--format cyclonedx`). */
export interface SbomInput {
  tool: { name: 'moat'; version: string };
  generatedAt: string;
  target: ScanTarget;
  os?: OsInfo;
  packages?: Package[];
  /** scan results only: written as CycloneDX vulnerabilities */
  findings?: Finding[];
  suppressed?: SuppressedFinding[];
}

/** moat's per-package properties (CycloneDX `properties[].name`, SPDX annotation prefixes). */
export const PROP = {
  type: 'moat:package:type',
  path: 'moat:path',
  location: 'moat:location',
  layerIndex: 'moat:layer:index',
  layerDigest: 'moat:layer:digest',
  layerDiffId: 'moat:layer:diffId',
  foundBy: 'moat:foundBy',
  osPackage: 'moat:osPackage',
  dev: 'moat:dev',
  direct: 'moat:direct',
} as const;

export type Property = { name: string; value: string };

/** The properties recording where a package was found and how; `packageFromProperties` reads them back. */
export function packageProperties(p: Package): Property[] {
  const out: Property[] = [{ name: PROP.type, value: p.type }];
  if (p.path) out.push({ name: PROP.path, value: p.path });
  for (const l of p.locations ?? []) if (l !== p.path) out.push({ name: PROP.location, value: l });
  if (p.layer) {
    out.push({ name: PROP.layerIndex, value: String(p.layer.index) });
    out.push({ name: PROP.layerDigest, value: p.layer.digest });
    if (p.layer.diffId) out.push({ name: PROP.layerDiffId, value: p.layer.diffId });
  }
  if (p.foundBy) out.push({ name: PROP.foundBy, value: p.foundBy });
  if (p.osPackage) out.push({ name: PROP.osPackage, value: p.osPackage });
  if (p.dev !== undefined) out.push({ name: PROP.dev, value: String(p.dev) });
  if (p.direct !== undefined) out.push({ name: PROP.direct, value: String(p.direct) });
  return out;
}

const FOUND_BY: readonly string[] = ['installed', 'lockfile', 'binary'] satisfies FoundBy[];

/** Applies moat's properties (when the SBOM has them) to a package read from its purl. */
export function applyProperties(pkg: Package, props: readonly Property[]): void {
  const get = (n: string) => props.find((p) => p.name === n)?.value;
  const path = get(PROP.path);
  if (path) pkg.path = path;
  const locations = props.filter((p) => p.name === PROP.location).map((p) => p.value);
  if (locations.length) pkg.locations = [pkg.path, ...locations];
  const digest = get(PROP.layerDigest);
  const index = Number(get(PROP.layerIndex));
  if (digest && Number.isInteger(index) && index >= 0) {
    const layer: LayerRef = { index, digest };
    const diffId = get(PROP.layerDiffId);
    if (diffId) layer.diffId = diffId;
    pkg.layer = layer;
  }
  const foundBy = get(PROP.foundBy);
  if (foundBy && FOUND_BY.includes(foundBy)) pkg.foundBy = foundBy as FoundBy;
  const osPackage = get(PROP.osPackage);
  if (osPackage) pkg.osPackage = osPackage;
  const dev = get(PROP.dev);
  if (dev) pkg.dev = dev === 'true';
  const direct = get(PROP.direct);
  if (direct) pkg.direct = direct === 'true';
}

/** Packages with purls (set from the OS when missing), in input order. */
export function packagesOf(input: SbomInput): Package[] {
  const packages = input.packages ? [...input.packages] : [];
  return assignPurls(packages, input.os);
}

/** Key of a package as findings name it (type, name, version, arch, path). */
export function packageKey(p: {
  type: string;
  name: string;
  version: string;
  arch?: string;
  path: string;
}): string {
  return `${p.type}\0${p.name}\0${p.version}\0${p.arch ?? ''}\0${p.path}`;
}

/**
 * An SPDX license expression as given when it is one syntactically (ids, `LicenseRef-`, AND/OR/WITH,
 * parentheses), else undefined: free-text licenses (rpm's "GPLv2+ and BSD" is both) are kept as text.
 */
export function spdxExpression(license: string): string | undefined {
  const s = license.trim();
  if (!s) return undefined;
  const tokens = s.replace(/[()]/g, ' ').split(/\s+/).filter(Boolean);
  let expectId = true;
  for (const t of tokens) {
    if (expectId) {
      if (!/^[A-Za-z0-9][A-Za-z0-9.+-]*$/.test(t) || /^(AND|OR|WITH)$/i.test(t)) return undefined;
      expectId = false;
    } else {
      // SPDX operators are case-sensitive upper case ("and" means free text)
      if (t !== 'AND' && t !== 'OR' && t !== 'WITH') return undefined;
      expectId = true;
    }
  }
  return expectId ? undefined : s;
}

/** A name-based UUID (RFC 4122 layout, version 5 nibble) so that equal inputs give equal documents. */
export function stableUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\0')).digest('hex');
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A date-time accepted by both formats' schemas: UTC, seconds precision (SPDX allows no fraction). */
export function utcSeconds(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19)}Z`;
}
