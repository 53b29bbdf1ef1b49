/**
 * Suppression for scans (docs/suppression.md): ignore files and VEX documents are loaded into one rule set
 * before the scan (a bad file fails fast, naming file and line), then applied to the matched findings
 * before the --severity/--only-fixed filters.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding, SuppressedFinding } from '../model/finding.js';
import type { ScanWarning } from '../model/result.js';
import { applySuppressions, type SuppressContext } from './apply.js';
import { IGNORE_FILE_NAME, loadIgnoreFile } from './ignore-file.js';
import type { RuleSet } from './types.js';
import { loadVex } from './vex.js';

export { applySuppressions, purlIndex, purlMatches, type SuppressContext } from './apply.js';
export { IGNORE_FILE_NAME, loadIgnoreFile } from './ignore-file.js';
export type { PackageSelector, Rule, RuleSet } from './types.js';
export { loadVex } from './vex.js';

export interface SuppressionOptions {
  /** an ignore file (.moatignore format) */
  ignoreFile?: string;
  /** VEX documents (OpenVEX or CycloneDX) */
  vex?: readonly string[];
  /** decides which ignore entries have expired (default now) */
  now?: Date;
}

/** `.moatignore` in the working directory (or `cwd`) when it exists: the CLI's default ignore file. */
export function defaultIgnoreFile(cwd?: string): string | undefined {
  // relative to the working directory, so that reports name it as the user knows it
  const f = cwd ? join(cwd, IGNORE_FILE_NAME) : IGNORE_FILE_NAME;
  return existsSync(f) ? f : undefined;
}

export async function loadSuppressions(opts: SuppressionOptions): Promise<RuleSet> {
  const set: RuleSet = { ignore: [], vex: [], warnings: [] };
  const add = (s: RuleSet) => {
    set.ignore.push(...s.ignore);
    set.vex.push(...s.vex);
    set.warnings.push(...s.warnings);
  };
  if (opts.ignoreFile) add(await loadIgnoreFile(opts.ignoreFile, opts.now ?? new Date()));
  for (const f of opts.vex ?? []) add(loadVex(f, set.vex.length));
  return set;
}

/** Suppressions applied to a scan's findings, with the load warnings for the report. */
export function suppress(
  findings: readonly Finding[],
  rules: RuleSet | undefined,
  ctx: SuppressContext,
): { kept: Finding[]; suppressed: SuppressedFinding[]; warnings: ScanWarning[] } {
  if (!rules) return { kept: [...findings], suppressed: [], warnings: [] };
  return { ...applySuppressions(findings, rules, ctx), warnings: rules.warnings };
}
