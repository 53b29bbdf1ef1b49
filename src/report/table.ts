import type { Finding } from '../model/finding.js';
import type { ScanResult } from '../model/result.js';
import { SEVERITIES } from '../model/severity.js';
import { textTable } from './text-table.js';

export interface TableOptions {
  /** terminal width; 0 = unlimited */
  width?: number;
}

/** Human report: a header about the target (OS, end of life, DB age, counts), then one row per finding. */
export function renderScanTable(r: ScanResult, opts: TableOptions = {}): string {
  const out: string[] = [];
  const t = r.target;
  const platform = t.kind === 'image' ? t.platform : undefined;
  out.push(`${t.name}${t.digest ? ` (${t.digest})` : ''}${platform ? ` ${platform}` : ''}`);
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
    `Packages: ${s.packages}  Findings: ${s.findings} (${counts})${s.filtered ? `  hidden by filters: ${s.filtered}` : ''}`,
  );
  out.push('');
  if (s.healthy) {
    out.push(
      s.filtered
        ? 'No vulnerabilities left after filters.'
        : `Healthy: no known vulnerabilities in ${s.packages} packages.`,
    );
  } else {
    out.push(renderFindings(r.findings, opts.width ?? 0));
  }
  for (const w of r.warnings) out.push(`warning: ${w.message}`);
  return `${out.join('\n').trimEnd()}\n`;
}

function renderFindings(findings: readonly Finding[], width: number): string {
  const rows = findings.map((f) => [
    f.package.name,
    f.id,
    f.severity,
    f.status,
    f.installedVersion,
    f.fixedVersion ?? '',
    f.package.layer ? String(f.package.layer.index) : '',
    f.title ?? '',
  ]);
  return textTable(
    [
      { header: 'PACKAGE' },
      { header: 'VULNERABILITY' },
      { header: 'SEVERITY' },
      { header: 'STATUS' },
      { header: 'INSTALLED' },
      { header: 'FIXED IN' },
      { header: 'LAYER', align: 'right' },
      { header: 'TITLE', flexible: true },
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
