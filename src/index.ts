/**
 * moat's programmatic API (docs/api.md). The CLI is built on exactly these functions.
 *
 *   import { scanImage, compareVersions } from 'moat';
 */

export { installManifest, renderManifest } from './admission/install.js';
// Kubernetes posture and admission (docs/posture.md, docs/admission.md)
export { AdmissionReviewer } from './admission/review.js';
export { type AdmissionServerOptions, startAdmissionServer } from './admission/server.js';
export { ANALYZERS } from './analyzers/index.js';
export type { AnalysisOutput, Analyzer, FileInput } from './analyzers/types.js';
export { ERROR_CODES, type ErrorCode, EXIT, MoatError } from './errors.js';
export { openImage } from './image/index.js';
export type { ImageConfig, LayerDescriptor, OpenedImage } from './image/types.js';
export type * from './model/index.js';
export { REPORT_SCHEMA_VERSION, SEVERITIES } from './model/index.js';
export { compileCel, createCelEnvironment } from './policy/cel/environment.js';
export { compileValidatingAdmissionPolicies, type PolicyLoadError } from './policy/cel/vap.js';
export { BUILTIN_CHECKS } from './policy/checks/index.js';
export { PSS_LATEST, type PssLevel, pssCheckIds } from './policy/checks/pss.js';
export {
  type ActiveCheck,
  type Assessment,
  evaluateCheck,
  type PolicyConfig,
  PolicyEngine,
  parsePssSpec,
} from './policy/engine.js';
export { type Exemption, loadExemptions, parseExemptions } from './policy/exemptions.js';
export { containersOf, POD_KINDS, podSpecOf } from './policy/k8s.js';
export type * from './policy/types.js';
export { listCluster } from './posture/cluster.js';
export { assessPosture, loadCustomChecks, type PostureOptions } from './posture/index.js';
export { loadManifests } from './posture/manifests.js';
export { buildPostureReport, type PostureReport, type Recommendation } from './posture/report.js';
export { REPORT_FORMATS, type ReportFormat, renderReport } from './report/index.js';
export { renderJson } from './report/json.js';
export { renderJunit } from './report/junit.js';
export { renderPosture } from './report/posture.js';
export { renderSarif } from './report/sarif.js';
export { renderScanTable } from './report/table.js';
export { renderCycloneDx } from './sbom/cyclonedx.js';
export { type ParsedSbom, readSbomFile } from './sbom/read.js';
export { type ScanSbomOptions, scanSbom } from './sbom/scan.js';
export { renderSpdx } from './sbom/spdx.js';
export { exceedsThreshold, filterFindings } from './scan/filter.js';
export { type InventoryResult, inventoryFs, inventoryImage } from './scan/inventory-image.js';
export { formatPurl, type Purl, parsePurl, purlFor } from './scan/purl.js';
export { type ScanFsOptions, type ScanImageOptions, scanFs, scanImage } from './scan/scanner.js';
export { applySuppressions, loadSuppressions } from './suppress/index.js';
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
