/**
 * moat's programmatic API (docs/api.md). The CLI is built on exactly these functions.
 *
 *   import { scanImage, compareVersions } from 'moat';
 */
export { ANALYZERS } from './analyzers/index.js';
export type { AnalysisOutput, Analyzer, FileInput } from './analyzers/types.js';
export { ERROR_CODES, type ErrorCode, EXIT, MoatError } from './errors.js';
export { openImage } from './image/index.js';
export type { ImageConfig, LayerDescriptor, OpenedImage } from './image/types.js';
export type * from './model/index.js';
export { REPORT_SCHEMA_VERSION, SEVERITIES } from './model/index.js';
export { renderJson } from './report/json.js';
export { renderSarif } from './report/sarif.js';
export { renderScanTable } from './report/table.js';
export { exceedsThreshold, filterFindings } from './scan/filter.js';
export { type ScanFsOptions, type ScanImageOptions, scanFs, scanImage } from './scan/scanner.js';
export { MOAT_VERSION } from './util/version.js';
export {
  compareVersions,
  getScheme,
  SCHEMES,
  type SchemeName,
  schemeForEcosystem,
} from './versioning/index.js';
export type { VersionScheme } from './versioning/types.js';
export { importOsv } from './vulndb/import.js';
export { matchPackages } from './vulndb/matcher.js';
export { dbStatus } from './vulndb/status.js';
export { updateDb } from './vulndb/update.js';
