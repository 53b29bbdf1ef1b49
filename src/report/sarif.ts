import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Finding, SuppressedFinding } from '../model/finding.js';
import type { ScanResult } from '../model/result.js';
import type { Severity } from '../model/severity.js';

/**
 * SARIF 2.1.0 (OASIS): one rule per vulnerability id, one result per affected package. Locations point
 * at the package database inside the image (artifactLocation relative to the image, uriBaseId ROOTPATH)
 * because that is the file a fix changes. `security-severity` (0-10) lets code-scanning UIs rank results.
 * Suppressed findings are results with an accepted external `suppressions` entry (SARIF 3.35), which
 * code-scanning UIs show as dismissed, with the ignore rule's reason or the VEX justification.
 */
export const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  CRITICAL: 'error',
  HIGH: 'error',
  MEDIUM: 'warning',
  LOW: 'note',
  UNKNOWN: 'note',
};

/** Representative scores when a finding has no CVSS score of its own (GitHub's bands). */
export const BAND_SCORE: Record<Severity, number> = {
  CRITICAL: 9.5,
  HIGH: 8.0,
  MEDIUM: 5.5,
  LOW: 2.0,
  UNKNOWN: 0.0,
};

export function renderSarif(r: ScanResult): string {
  const rules = new Map<string, object>();
  const ruleIndex = new Map<string, number>();
  const results: object[] = [];
  for (const f of [...r.findings, ...(r.suppressed ?? [])]) {
    if (!ruleIndex.has(f.id)) {
      ruleIndex.set(f.id, rules.size);
      rules.set(f.id, rule(f));
    }
    results.push({
      ruleId: f.id,
      ruleIndex: ruleIndex.get(f.id),
      level: LEVEL[f.severity],
      message: {
        text:
          `${f.package.name} ${f.installedVersion} is affected by ${f.id}` +
          `${f.aliases.length ? ` (${f.aliases.join(', ')})` : ''}. ${f.remediation}`,
      },
      locations: [
        {
          physicalLocation: { artifactLocation: { uri: pathUri(f.package.path), uriBaseId: 'ROOTPATH' } },
          logicalLocations: [
            { name: r.target.name, kind: 'module', fullyQualifiedName: `${r.target.name}/${f.package.name}` },
          ],
        },
      ],
      partialFingerprints: { 'moat/v1': `${f.id}|${f.package.name}|${f.installedVersion}|${f.package.path}` },
      properties: {
        package: f.package.name,
        installedVersion: f.installedVersion,
        fixedVersion: f.fixedVersion ?? null,
        status: f.status,
        severity: f.severity,
        layer: f.package.layer?.digest ?? null,
      },
      ...suppressions(f),
    });
  }
  const sarif = {
    $schema: 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'moat',
            version: r.tool.version,
            semanticVersion: r.tool.version,
            rules: [...rules.values()],
          },
        },
        originalUriBaseIds: { ROOTPATH: { uri: 'file:///' } },
        results,
        properties: {
          target: r.target.name,
          digest: r.target.digest ?? null,
          os: r.os?.name ?? null,
        },
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}

/** A package path as a relative URI reference: each segment percent-encoded (spaces, `#`, `%`, ...). */
function pathUri(path: string): string {
  return path
    .replace(/^\/+/, '')
    .split('/')
    .map((seg) => encodeURIComponent(seg))
    .join('/');
}

function suppressions(f: Finding): { suppressions?: object[] } {
  const by = (f as Partial<SuppressedFinding>).suppressedBy;
  if (!by) return {};
  const why = [by.justification, by.statement ?? by.reason].filter(Boolean).join(': ');
  const where = `${by.file}${by.line ? `:${by.line}` : ''}`;
  return {
    suppressions: [
      {
        kind: 'external',
        status: 'accepted',
        justification: `${by.kind} ${where}${by.status ? ` (${by.status})` : ''}${why ? `: ${why}` : ''}`,
        location: {
          physicalLocation: {
            artifactLocation: { uri: isAbsolute(by.file) ? pathToFileURL(by.file).href : pathUri(by.file) },
          },
        },
      },
    ],
  };
}

function rule(f: Finding): object {
  const score = Math.max(0, ...f.cvss.map((c) => c.score));
  const secSeverity = score > 0 ? score : BAND_SCORE[f.severity];
  const title = f.title ?? `${f.id} in ${f.package.name}`;
  const link = f.references[0];
  return {
    id: f.id,
    name: f.id.replace(/[^A-Za-z0-9]/g, ''),
    shortDescription: { text: title },
    fullDescription: { text: f.description ?? title },
    ...(link ? { helpUri: link } : {}),
    help: {
      text: `${title}\n${f.remediation}`,
      markdown: `**${f.id}** ${title}\n\n${f.remediation}${link ? `\n\n${link}` : ''}`,
    },
    defaultConfiguration: { level: LEVEL[f.severity] },
    properties: {
      'security-severity': secSeverity.toFixed(1),
      precision: 'very-high',
      tags: ['security', 'vulnerability', f.severity],
    },
  };
}
