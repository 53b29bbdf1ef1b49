import type { Suppression } from '../model/finding.js';
import type { Purl } from '../scan/purl.js';

/** Which packages a rule covers: a purl (with or without version and qualifiers), or name/version/type. */
export interface PackageSelector {
  purl?: Purl;
  name?: string;
  version?: string;
  type?: string;
}

/**
 * One ignore entry or VEX statement, as data (Grype's ignore rules, Trivy's .trivyignore.yaml and VEX
 * support are the models): it applies to a finding whose id or aliases meet `ids`, whose package meets
 * one of `packages` (any package when absent) and whose path meets one of `paths` (any when absent).
 */
export interface Rule {
  /** upper-cased ids the rule names: its vulnerability id and aliases */
  ids: string[];
  packages?: PackageSelector[];
  /** glob patterns over the package's path (`*` within a segment, `**` across) */
  paths?: string[];
  /** VEX: the statement covers every package of the target (a product naming the image itself) */
  wholeTarget?: boolean;
  /** VEX: the image digest its product names; the statement does not apply to another image */
  targetDigest?: string;
  /** VEX statements that say "affected" or "under investigation" keep the finding (and override earlier ones) */
  suppresses: boolean;
  /** VEX: when the statement was made (ms); later statements override earlier ones */
  time?: number;
  /** order in which the rule was read, to break ties */
  seq: number;
  /** what the report says about it */
  info: Suppression;
}

/** The rules of every ignore file and VEX document given to a scan. */
export interface RuleSet {
  ignore: Rule[];
  vex: Rule[];
  /** problems found while loading (expired entries, statements without products, ...) */
  warnings: { code: string; message: string; subject?: string }[];
}
