/**
 * `moat scan sbom FILE`: the packages of a CycloneDX or SPDX SBOM matched like an image's. The OS (and so
 * the ecosystem of OS packages) comes from the SBOM; suppression and filters apply as in an image scan.
 */
import { basename } from 'node:path';
import type { OsHint } from '../analyzers/types.js';
import type { Finding } from '../model/finding.js';
import type { ProgressFn } from '../model/progress.js';
import { REPORT_SCHEMA_VERSION, type ScanResult, type ScanWarning } from '../model/result.js';
import type { Severity } from '../model/severity.js';
import { filterFindings, sortFindings, summarize } from '../scan/filter.js';
import { resolveOs } from '../scan/os.js';
import { describeDb } from '../scan/scanner.js';
import { loadSuppressions, purlIndex, suppress } from '../suppress/index.js';
import { defaultCacheDir, defaultDbPath } from '../util/dirs.js';
import { MOAT_VERSION } from '../util/version.js';
import { type MatchInput, matchPackages } from '../vulndb/matcher.js';
import { openVulnDb } from '../vulndb/store.js';
import { type ParsedSbom, readSbomFile } from './read.js';

export interface ScanSbomOptions {
  cacheDir?: string;
  dbPath?: string;
  dbMaxAgeMs?: number;
  listPackages?: boolean;
  severity?: readonly Severity[];
  onlyFixed?: boolean;
  ignoreFile?: string;
  vex?: readonly string[];
  /** also match language packages that an OS package installed */
  osManagedLang?: boolean;
  onProgress?: ProgressFn;
  now?: Date;
}

const DAY_MS = 86_400_000;

export async function scanSbom(file: string, opts: ScanSbomOptions = {}): Promise<ScanResult> {
  const now = opts.now ?? new Date();
  const dbPath = opts.dbPath ?? defaultDbPath(opts.cacheDir ?? defaultCacheDir());
  const rules =
    opts.ignoreFile || opts.vex?.length
      ? await loadSuppressions({ ignoreFile: opts.ignoreFile, vex: opts.vex, now })
      : undefined;
  const sbom = readSbomFile(file);
  const os = resolveOs(osHints(sbom, file), now);
  const warnings: ScanWarning[] = [...sbom.warnings];
  if (!os && sbom.packages.some((p) => p.type === 'dpkg' || p.type === 'apk' || p.type === 'rpm')) {
    warnings.push({
      code: 'os-unknown',
      message:
        'the SBOM names no OS (operating-system component or purl distro): OS packages were not matched',
    });
  }

  const db = openVulnDb(dbPath, { readonly: true });
  let findings: Finding[];
  let dbUpdatedAt: string | undefined;
  let dbSchemaVersion: number;
  try {
    const input: MatchInput & { osManagedLang?: boolean } = { os, packages: sbom.packages };
    if (opts.osManagedLang) input.osManagedLang = true;
    findings = matchPackages(db, input);
    dbUpdatedAt = db.updatedAt();
    dbSchemaVersion = db.schemaVersion;
  } finally {
    db.close();
  }
  opts.onProgress?.({ phase: 'match', id: file, done: sbom.packages.length, unit: 'items', finished: true });

  const dbInfo = describeDb(dbPath, dbSchemaVersion, dbUpdatedAt, now, opts.dbMaxAgeMs ?? 7 * DAY_MS);
  if (dbInfo.stale) {
    warnings.push({
      code: 'db-stale',
      message: `vulnerability database is ${Math.round((dbInfo.ageHours ?? 0) / 24)} days old: run \`moat db update\``,
    });
  }
  if (os?.eol?.ended) {
    warnings.push({
      code: 'os-eol',
      message: `${os.name} reached end of life on ${os.eol.ltsDate ?? os.eol.date}: it gets no security fixes`,
    });
  }
  const sup = suppress(findings, rules, { os, targetDigest: sbom.digest, purlOf: purlIndex(sbom.packages) });
  warnings.push(...sup.warnings);
  const { kept, dropped } = filterFindings(sup.kept, { severity: opts.severity, onlyFixed: opts.onlyFixed });
  sortFindings(kept);
  const summary = summarize(kept, sbom.packages.length, dropped);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'moat', version: MOAT_VERSION },
    generatedAt: now.toISOString(),
    target: {
      kind: 'sbom',
      ref: file,
      name: sbom.name ?? basename(file),
      format: sbom.format,
      specVersion: sbom.specVersion,
      ...(sbom.digest ? { digest: sbom.digest } : {}),
      layers: sbom.layers,
    },
    os,
    db: dbInfo,
    summary: rules ? { ...summary, suppressed: sup.suppressed.length } : summary,
    findings: kept,
    packages: opts.listPackages ? sbom.packages : undefined,
    suppressed: rules ? sup.suppressed : undefined,
    warnings,
  };
}

/** The SBOM's OS as the hint resolveOs expects (it adds the OSV ecosystem and end-of-life status). */
function osHints(sbom: ParsedSbom, file: string): OsHint[] {
  const o = sbom.os;
  if (!o?.family) return [];
  const os: OsHint['os'] = {
    family: o.family,
    name: o.name ?? `${o.family} ${o.version}`.trim(),
    version: o.version,
    source: `${file} (${o.source})`,
  };
  if (o.codename) os.codename = o.codename;
  return [{ priority: 0, os }];
}
