/**
 * One entry point for the scan report formats: the CLI (and API users) pick a renderer by name. Every
 * renderer works on the same ScanResult; the SBOM formats need its `packages` (the CLI asks the scan for
 * them when one of those formats is chosen).
 */
import type { ScanResult } from '../model/result.js';
import { renderCycloneDx } from '../sbom/cyclonedx.js';
import { renderSpdx } from '../sbom/spdx.js';
import { renderJson } from './json.js';
import { renderJunit } from './junit.js';
import { renderSarif } from './sarif.js';
import { renderScanTable, type TableOptions } from './table.js';

export const REPORT_FORMATS = ['table', 'json', 'sarif', 'junit', 'cyclonedx', 'spdx'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Formats that list every package: a scan rendered in them must keep its package list. */
export function needsPackages(format: ReportFormat): boolean {
  return format === 'cyclonedx' || format === 'spdx';
}

export function renderReport(r: ScanResult, format: ReportFormat, opts: TableOptions = {}): string {
  switch (format) {
    case 'json':
      return renderJson(r);
    case 'sarif':
      return renderSarif(r);
    case 'junit':
      return renderJunit(r);
    case 'cyclonedx':
      return renderCycloneDx(r);
    case 'spdx':
      return renderSpdx(r);
    default:
      return renderScanTable(r, opts);
  }
}
