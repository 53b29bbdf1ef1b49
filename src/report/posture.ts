import { isAbsolute, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Severity } from '../model/severity.js';
import type { ResourceRef } from '../policy/types.js';
import {
  affectedPairs,
  type PostureReport,
  type Recommendation,
  type ReportResource,
} from '../posture/report.js';
import { BAND_SCORE, LEVEL } from './sarif.js';
import { textTable } from './text-table.js';

/**
 * Renderers for `moat posture`: the table groups by recommendation (check) with its affected resources,
 * JSON is the report as is (docs/schema/posture-report-1.0.json: resources listed once, findings refer to
 * them by index), SARIF has one rule per check and one result per affected resource and finding, located
 * at the manifest document (file and line) when there is one.
 */
export const POSTURE_FORMATS = ['table', 'json', 'sarif'] as const;
export type PostureFormat = (typeof POSTURE_FORMATS)[number];

export function renderPosture(
  r: PostureReport,
  format: PostureFormat,
  opts: { width?: number; showExempted?: boolean } = {},
): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(r, null, affectedCount(r) > COMPACT_ABOVE ? undefined : 2)}\n`;
    case 'sarif':
      return renderPostureSarif(r);
    default:
      return renderPostureTable(r, opts);
  }
}

/**
 * Above this many affected resources (resource references of all findings) the JSON and SARIF reports are
 * written on one line: a 20,000-object cluster yields ~180,000, and indentation puts each index of a
 * finding's `resources` on a line of its own.
 */
export const COMPACT_ABOVE = 10_000;

function affectedCount(r: PostureReport): number {
  let n = 0;
  for (const rec of r.recommendations) for (const f of rec.findings) n += f.resources.length;
  return n;
}

/** `cluster:namespace/Kind/name [container]` */
export function resourceName(r: ResourceRef): string {
  const parts = [
    r.cluster ? `${r.cluster}:` : '',
    r.namespace ? `${r.namespace}/` : '',
    `${r.kind}/${r.name}`,
  ];
  return parts.join('') + (r.container ? ` [${r.container}]` : '');
}

/** resourceName of a report resource and container; the resource's own part is computed once per index */
class Names {
  private readonly base: string[] = [];
  constructor(private readonly resources: readonly ReportResource[]) {}

  resource(i: number): ReportResource {
    const r = this.resources[i];
    if (r === undefined) throw new Error(`posture report: no resource ${i}`);
    return r;
  }

  name(i: number, container: string | undefined): string {
    let name = this.base[i];
    if (name === undefined) {
      name = resourceName(this.resource(i));
      this.base[i] = name;
    }
    return container ? `${name} [${container}]` : name;
  }
}

function where(r: ReportResource): string {
  if (!r.source?.file) return '';
  return `${r.source.file}${r.source.line ? `:${r.source.line}` : ''}`;
}

export function renderPostureTable(
  r: PostureReport,
  opts: { width?: number; showExempted?: boolean } = {},
): string {
  const out: string[] = [];
  const s = r.summary;
  const target =
    r.target.type === 'cluster'
      ? `cluster ${r.target.cluster ?? r.target.inputs.join(', ')}`
      : r.target.inputs.join(', ');
  out.push(`Posture of ${target}: ${s.objects} objects, ${s.checks} checks`);
  out.push(`Secure score: ${r.score.value} / ${r.score.max}`);
  const sev = (['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as Severity[])
    .map((k) => `${k} ${s.bySeverity[k]}`)
    .join(', ');
  out.push(
    `Recommendations: ${s.recommendations} (${sev})${s.exempted ? `; ${s.exempted} exempted violations` : ''}`,
  );
  out.push('');
  if (r.recommendations.length === 0)
    out.push('No recommendations: every evaluated resource passes every check.\n');
  const names = new Names(r.resources);
  for (const rec of r.recommendations) out.push(recommendationBlock(rec, opts.width ?? 0, names));
  if (opts.showExempted && r.exempted.length) {
    out.push('Exempted:');
    out.push(
      textTable(
        [
          { header: 'CHECK' },
          { header: 'RESOURCE', flexible: true },
          { header: 'REASON' },
          { header: 'EXPIRES' },
        ],
        r.exempted.map((e) => [
          e.checkId,
          names.name(e.resource, e.container),
          e.exemption.reason,
          e.exemption.expires ?? '',
        ]),
        opts.width ?? 0,
      ),
    );
  }
  const skipped = Object.entries(s.skipped);
  if (skipped.length)
    out.push(`Skipped (no check applies): ${skipped.map(([k, n]) => `${k || '<no kind>'} ${n}`).join(', ')}`);
  for (const e of r.errors) out.push(`error: ${e.source}${e.line ? `:${e.line}` : ''}: ${e.message}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return `${out.join('\n').trimEnd()}\n`;
}

function recommendationBlock(rec: Recommendation, width: number, names: Names): string {
  const head = `[${rec.severity}] ${rec.id}: ${rec.title} (${rec.unhealthy} of ${rec.applicable} resources, effect ${rec.effect})`;
  const rows = affectedPairs(rec).map(([i, f]) => [
    names.name(i, f.container),
    f.message,
    where(names.resource(i)),
  ]);
  const hasWhere = rows.some((x) => x[2]);
  const cols = [
    { header: 'RESOURCE' },
    { header: 'FINDING', flexible: true },
    ...(hasWhere ? [{ header: 'SOURCE' }] : []),
  ];
  const table = textTable(cols, hasWhere ? rows : rows.map((x) => x.slice(0, 2)), width);
  return `${head}\n${table}Remediation: ${rec.remediation}\n`;
}

function fileUri(file: string): string {
  if (file === '-' || file === '<stdin>') return 'stdin';
  if (!isAbsolute(file)) return file.split('\\').join('/');
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel)
    ? rel.split('\\').join('/')
    : pathToFileURL(file).href;
}

export function renderPostureSarif(r: PostureReport): string {
  const rules: object[] = [];
  const index = new Map<string, number>();
  const results: object[] = [];
  const add = (
    rec: Pick<Recommendation, 'id' | 'title' | 'description' | 'remediation' | 'severity' | 'category'>,
  ) => {
    if (index.has(rec.id)) return index.get(rec.id) as number;
    index.set(rec.id, rules.length);
    rules.push({
      id: rec.id,
      name: rec.id.replace(/[^A-Za-z0-9]+/g, '_'),
      shortDescription: { text: rec.title },
      fullDescription: { text: rec.description || rec.title },
      help: { text: rec.remediation, markdown: `**Remediation**: ${rec.remediation}` },
      defaultConfiguration: { level: LEVEL[rec.severity] },
      properties: {
        'security-severity': BAND_SCORE[rec.severity].toFixed(1),
        tags: ['security', 'kubernetes', rec.category],
      },
    });
    return rules.length - 1;
  };
  const names = new Names(r.resources);
  const uris = new Map<string, string>();
  for (const rec of r.recommendations) {
    const ruleIndex = add(rec);
    for (const [i, f] of affectedPairs(rec)) {
      const name = names.name(i, f.container);
      results.push({
        ruleId: rec.id,
        ruleIndex,
        level: LEVEL[rec.severity],
        message: { text: `${name}: ${f.message}` },
        locations: [location(names.resource(i), name, uris, f.path)],
        partialFingerprints: { 'moat/v1': `${rec.id}|${name}|${f.path ?? ''}` },
      });
    }
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
            rules,
          },
        },
        results,
        properties: { secureScore: r.score.value },
      },
    ],
  };
  // compact above COMPACT_ABOVE results, as the JSON report: the indentation is half of ~200 MB
  return `${JSON.stringify(sarif, null, results.length > COMPACT_ABOVE ? undefined : 2)}\n`;
}

function location(res: ReportResource, name: string, uris: Map<string, string>, path?: string): object {
  const logical = [
    {
      name: res.name,
      kind: 'resource',
      fullyQualifiedName: `${name}${path ? `#${path}` : ''}`,
    },
  ];
  const line = res.source?.line;
  const file = res.source?.file;
  if (!file) return { logicalLocations: logical };
  // path.relative per result is a tenth of the rendering time; files are few
  let uri = uris.get(file);
  if (uri === undefined) {
    uri = fileUri(file);
    uris.set(file, uri);
  }
  return {
    physicalLocation: {
      artifactLocation: { uri },
      ...(line ? { region: { startLine: line } } : {}),
    },
    logicalLocations: logical,
  };
}
