import type { Finding } from '../model/finding.js';
import type { ScanResult } from '../model/result.js';
import type { Severity } from '../model/severity.js';

/**
 * SARIF 2.1.0 (OASIS): one rule per vulnerability id, one result per affected package. Locations point
 * at the package database inside the image (artifactLocation relative to the image, uriBaseId ROOTPATH)
 * because that is the file a fix changes. `security-severity` (0-10) lets code-scanning UIs rank results.
 */
const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  CRITICAL: 'error',
  HIGH: 'error',
  MEDIUM: 'warning',
  LOW: 'note',
  UNKNOWN: 'note',
};

/** Representative scores when a finding has no CVSS score of its own (GitHub's bands). */
const BAND_SCORE: Record<Severity, number> = {
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
  for (const f of r.findings) {
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
          physicalLocation: { artifactLocation: { uri: f.package.path, uriBaseId: 'ROOTPATH' } },
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
    });
  }
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
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
