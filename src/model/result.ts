import type { Finding } from './finding.js';
import type { LayerRef, OsInfo, Package } from './package.js';
import type { Severity } from './severity.js';

/**
 * Version of the JSON report schema (docs/json-schema.md). Published versions are never changed in
 * place: a breaking change gets a new major number.
 */
export const REPORT_SCHEMA_VERSION = '1.0';

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
  target: ImageTarget;
  os?: OsInfo;
  db?: DbInfo;
  summary: Summary;
  findings: Finding[];
  /** every package found; only with --list-packages */
  packages?: Package[];
  warnings: ScanWarning[];
}
