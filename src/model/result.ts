import type { Finding, SuppressedFinding } from './finding.js';
import type { LayerRef, OsInfo, Package } from './package.js';
import type { Severity } from './severity.js';

/**
 * Version of the JSON report schema (docs/json-schema.md). Published versions are never changed in
 * place: a breaking change gets a new major number.
 */
export const REPORT_SCHEMA_VERSION = '1.1';

export type ImageSourceKind = 'registry' | 'oci' | 'docker-archive' | 'dir';

export interface ImageTarget {
  kind: 'image';
  /** the reference as the user gave it */
  ref: string;
  source: ImageSourceKind;
  /** canonical name: registry/repository:tag for registry refs; the path for local sources */
  name: string;
  /** manifest digest, when the source has a manifest */
  digest?: string;
  /** image config digest (the image id) */
  configDigest?: string;
  /** os/arch[/variant] of the image that was scanned */
  platform?: string;
  mediaType?: string;
  layers: LayerRef[];
  created?: string;
}

/** An SBOM given to `moat scan sbom`: its packages were read from the document, not from an image. */
export interface SbomTarget {
  kind: 'sbom';
  /** the file as the user gave it */
  ref: string;
  /** what the SBOM describes (CycloneDX metadata.component, the SPDX document's name), else the file name */
  name: string;
  format: 'cyclonedx' | 'spdx';
  /** "1.6", "2.3", ... */
  specVersion: string;
  /** the described image's digest, when the SBOM records one */
  digest?: string;
  /** layers named by the SBOM's packages (moat's own SBOMs record them), else empty */
  layers: LayerRef[];
}

/**
 * A directory given to `moat scan fs`: a project tree or a root filesystem, read in place (as `dir:`
 * reads one, skipping `.git`). Its packages carry no layer.
 */
export interface FilesystemTarget {
  kind: 'filesystem';
  /** the path as the user gave it */
  ref: string;
  /** the absolute path */
  name: string;
  /** a directory has no digest (declared so that `target.digest` reads on every kind) */
  digest?: never;
  /** always empty: a directory has no layers (every target kind has the field) */
  layers: LayerRef[];
}

/** What a scan looked at. 1.1 added `sbom` and `filesystem` next to `image` (docs/json-schema.md). */
export type ScanTarget = ImageTarget | SbomTarget | FilesystemTarget;

export interface DbInfo {
  path: string;
  schemaVersion: number;
  /** when the data was imported or downloaded (ISO) */
  updatedAt?: string;
  /** age in hours at scan time */
  ageHours?: number;
  /** true when older than the configured maximum age */
  stale: boolean;
}

export interface Summary {
  packages: number;
  findings: number;
  bySeverity: Record<Severity, number>;
  /** findings hidden by --severity / --only-fixed */
  filtered: number;
  /** no findings after filters */
  healthy: boolean;
  /** findings removed by an ignore rule or a VEX statement (1.1; counted before --severity/--only-fixed) */
  suppressed?: number;
}

export interface ScanWarning {
  /** short stable code, e.g. "analyzer-failed", "db-stale", "os-unsupported" */
  code: string;
  message: string;
  /** file or layer it concerns, when any */
  subject?: string;
}

export interface ScanResult {
  schemaVersion: string;
  tool: { name: 'moat'; version: string };
  generatedAt: string;
  target: ScanTarget;
  os?: OsInfo;
  db?: DbInfo;
  summary: Summary;
  findings: Finding[];
  /** every package found; only with --list-packages */
  packages?: Package[];
  /** findings that an ignore rule or a VEX statement suppressed, each with the rule (1.1) */
  suppressed?: SuppressedFinding[];
  warnings: ScanWarning[];
}
