import type { Finding, SuppressedFinding, Suppression } from '../model/finding.js';
import type { ScanResult } from '../model/result.js';
import { SEVERITIES, severityRank } from '../model/severity.js';
import { textTable } from './text-table.js';

export interface TableOptions {
  /** terminal width; 0 = unlimited */
  width?: number;
  /** list suppressed findings with the rule that suppressed them (--show-suppressed) */
  showSuppressed?: boolean;
}

/**
 * Human report: a header about the target (OS, end of life, DB age, counts), then the findings grouped by
 * package (the package named once, its findings by severity), then suppressed findings when asked.
 */
export function renderScanTable(r: ScanResult, opts: TableOptions = {}): string {
  const out: string[] = [];
  const t = r.target;
  const platform = t.kind === 'image' ? t.platform : undefined;
  out.push(`${t.name}${t.digest ? ` (${t.digest})` : ''}${platform ? ` ${platform}` : ''}`);
  if (t.kind === 'sbom') {
    out.push(`SBOM: ${t.ref} (${t.format === 'cyclonedx' ? 'CycloneDX' : 'SPDX'} ${t.specVersion})`);
  }
  if (r.os) {
    let os = `OS: ${r.os.name}`;
    if (r.os.eol?.ended)
      os += `  END OF LIFE since ${r.os.eol.ltsDate ?? r.os.eol.date} — no more security updates`;
    else if (r.os.eol?.inLts) os += `  regular support ended ${r.os.eol.date}; LTS until ${r.os.eol.ltsDate}`;
    out.push(os);
  } else {
    out.push('OS: not detected');
  }
  if (r.db) {
    const age = r.db.ageHours === undefined ? 'unknown age' : `${formatAge(r.db.ageHours)} old`;
    out.push(`Vulnerability DB: ${age}${r.db.stale ? ' (STALE: run `moat db update`)' : ''}`);
  }
  const s = r.summary;
  const counts = [...SEVERITIES]
    .reverse()
    .map((sev) => `${sev}: ${s.bySeverity[sev]}`)
    .join(', ');
  out.push(
    `Packages: ${s.packages}  Findings: ${s.findings} (${counts})` +
      `${s.filtered ? `  hidden by filters: ${s.filtered}` : ''}` +
      `${s.suppressed ? `  suppressed: ${s.suppressed}` : ''}`,
  );
  out.push('');
  const width = opts.width ?? 0;
  if (s.healthy) {
    const after = [s.filtered ? 'filters' : '', s.suppressed ? 'suppressions' : ''].filter(Boolean);
    out.push(
      after.length
        ? `No vulnerabilities left after ${after.join(' and ')}.`
        : `Healthy: no known vulnerabilities in ${s.packages} packages.`,
    );
  } else {
    out.push(renderFindings(r.findings, width).trimEnd());
  }
  const suppressed = r.suppressed ?? [];
  if (suppressed.length > 0) {
    out.push('');
    if (opts.showSuppressed) {
      out.push(`Suppressed (${suppressed.length}):`);
      out.push(renderSuppressed(suppressed, width).trimEnd());
    } else {
      out.push(
        `${suppressed.length} finding${suppressed.length === 1 ? '' : 's'} suppressed by ignore rules or VEX (--show-suppressed lists them).`,
      );
    }
  }
  for (const w of r.warnings) out.push(`warning: ${w.message}`);
  return `${out.join('\n').trimEnd()}\n`;
}

interface Group {
  name: string;
  path: string;
  findings: Finding[];
}

/**
 * Findings per package (name, version, path), packages ordered by their worst finding, then name; within
 * a package by severity, then id. A name found at several paths is labelled with the path.
 */
export function groupByPackage(findings: readonly Finding[]): Group[] {
  const groups = new Map<string, Group>();
  for (const f of findings) {
    const key = `${f.package.type}\0${f.package.name}\0${f.installedVersion}\0${f.package.path}`;
    const g = groups.get(key);
    if (g) g.findings.push(f);
    else groups.set(key, { name: f.package.name, path: f.package.path, findings: [f] });
  }
  const list = [...groups.values()];
  for (const g of list) {
    g.findings.sort(
      (a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id),
    );
  }
  const worst = (g: Group) => severityRank(g.findings[0]!.severity);
  return list.sort(
    (a, b) => worst(b) - worst(a) || a.name.localeCompare(b.name) || a.path.localeCompare(b.path),
  );
}

function labels(groups: readonly Group[]): string[] {
  const count = new Map<string, number>();
  for (const g of groups) count.set(g.name, (count.get(g.name) ?? 0) + 1);
  return groups.map((g) => ((count.get(g.name) ?? 0) > 1 ? `${g.name} (${g.path})` : g.name));
}

/** At most two aliases, then how many more. */
function aliasCell(f: Finding): string {
  const a = f.aliases.filter((x) => x !== f.id);
  return a.length <= 2 ? a.join(', ') : `${a.slice(0, 2).join(', ')} +${a.length - 2}`;
}

function renderFindings(findings: readonly Finding[], width: number): string {
  const groups = groupByPackage(findings);
  const names = labels(groups);
  const rows: string[][] = [];
  groups.forEach((g, i) => {
    g.findings.forEach((f, k) => {
      rows.push([
        k === 0 ? names[i]! : '',
        f.id,
        f.severity,
        f.status,
        f.installedVersion,
        f.fixedVersion ?? '',
        f.package.layer ? String(f.package.layer.index) : '',
        aliasCell(f),
        f.title ?? '',
      ]);
    });
  });
  return textTable(
    [
      { header: 'PACKAGE' },
      { header: 'VULNERABILITY' },
      { header: 'SEVERITY' },
      { header: 'STATUS' },
      { header: 'INSTALLED' },
      { header: 'FIXED IN' },
      { header: 'LAYER', align: 'right' },
      { header: 'ALIASES' },
      { header: 'TITLE', flexible: true },
    ],
    rows,
    width,
  );
}

/** Where a suppression came from, in one cell: "file:line", "file (openvex not_affected)". */
export function suppressionSource(by: Suppression): string {
  if (by.kind === 'ignore-file') return `${by.file}${by.line ? `:${by.line}` : ''}`;
  return `${by.file} (${by.kind}${by.status ? ` ${by.status}` : ''})`;
}

/** Why: the reason of an ignore entry, the justification and statement of a VEX statement. */
export function suppressionReason(by: Suppression): string {
  const parts = [by.justification, by.statement ?? by.reason].filter((x): x is string => !!x);
  let s = parts.join(': ');
  if (by.expires) s += `${s ? ' ' : ''}(until ${by.expires})`;
  return s;
}

function renderSuppressed(suppressed: readonly SuppressedFinding[], width: number): string {
  const groups = groupByPackage(suppressed);
  const names = labels(groups);
  const rows: string[][] = [];
  groups.forEach((g, i) => {
    g.findings.forEach((f, k) => {
      const by = (f as SuppressedFinding).suppressedBy;
      rows.push([
        k === 0 ? names[i]! : '',
        f.id,
        f.severity,
        f.installedVersion,
        suppressionSource(by),
        suppressionReason(by),
      ]);
    });
  });
  return textTable(
    [
      { header: 'PACKAGE' },
      { header: 'VULNERABILITY' },
      { header: 'SEVERITY' },
      { header: 'INSTALLED' },
      { header: 'SUPPRESSED BY' },
      { header: 'REASON', flexible: true },
    ],
    rows,
    width,
  );
}

function formatAge(hours: number): string {
  if (hours < 1) return `${Math.round(hours * 60)} min`;
  if (hours < 48) return `${Math.round(hours)} h`;
  return `${Math.round(hours / 24)} days`;
}
