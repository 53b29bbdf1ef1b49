import type { LayerRef, PackageType } from './package.js';
import type { Severity } from './severity.js';

export type FindingStatus = 'fixed' | 'no fix';

export interface CvssScore {
  /** "2.0", "3.0", "3.1", "4.0" */
  version: string;
  vector: string;
  score: number;
  severity: Severity;
  /** where the vector came from: "osv" (record severity[]), or a database_specific source */
  source: string;
}

/** One vulnerability affecting one package. */
export interface Finding {
  /** primary id, e.g. CVE-2023-1234 when the record has one as alias/upstream, else the record id */
  id: string;
  /** every other id the same vulnerability is known by (record ids, GHSA, DSA, ...) — merged across records */
  aliases: string[];
  /** ids of the OSV records that produced this finding */
  records: string[];
  ecosystem: string;
  package: {
    type: PackageType;
    name: string;
    version: string;
    arch?: string;
    /** the name the advisory is keyed on (source package for Debian/Ubuntu/Alpine), when different */
    matchedName?: string;
    matchedVersion?: string;
    path: string;
    layer?: LayerRef;
  };
  installedVersion: string;
  /** lowest version that fixes it in the affected range, when known */
  fixedVersion?: string;
  status: FindingStatus;
  severity: Severity;
  /** what decided `severity`: "cvss-v4", "cvss-v3", "cvss-v2", "ghsa", "debian-urgency", ..., "none" */
  severitySource: string;
  cvss: CvssScore[];
  title?: string;
  description?: string;
  references: string[];
  published?: string;
  modified?: string;
  /** one line telling the user what to do */
  remediation: string;
}

/** Where a suppression came from (docs/suppression.md). */
export type SuppressionKind = 'ignore-file' | 'openvex' | 'cyclonedx-vex';

/** The rule or statement that suppressed a finding. */
export interface Suppression {
  kind: SuppressionKind;
  /** the file the rule was read from */
  file: string;
  /** ignore files: the entry's position (1-based line) */
  line?: number;
  /** the rule's or statement's vulnerability id */
  id: string;
  /** ignore files: the entry's reason */
  reason?: string;
  /** ignore files: the entry's expiry date */
  expires?: string;
  /** VEX status: OpenVEX not_affected/fixed, CycloneDX analysis.state not_affected/false_positive/resolved */
  status?: string;
  /** VEX justification (OpenVEX justification, CycloneDX analysis.justification) */
  justification?: string;
  /** VEX free text: OpenVEX impact_statement/status_notes, CycloneDX analysis.detail */
  statement?: string;
}

/** A finding removed from `findings` by an ignore rule or a VEX statement. */
export interface SuppressedFinding extends Finding {
  suppressedBy: Suppression;
}
