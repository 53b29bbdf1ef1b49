import { ALERT_SEVERITIES, type Alert, type AlertSeverity } from '../detect/alert.js';
import type { MalformedSample } from '../detect/ingest/stats.js';
import { textTable } from './text-table.js';

/**
 * Renderers for `moat audit scan`: a table sorted by severity then time, a JSON document
 * (docs/schema/audit-alerts-1.0.json) and JSON lines (one alert per line and nothing else, for streaming
 * and log shippers). Every renderer works on the same AlertReport; the alerts are the detector's as is.
 */
export const ALERT_FORMATS = ['table', 'json', 'jsonl'] as const;
export type AlertFormat = (typeof ALERT_FORMATS)[number];

export const ALERTS_SCHEMA_VERSION = '1.0';

/** A rule or list problem found while loading, as data (rules: src/detect/rules/types.ts RuleLoadError). */
export interface AlertReportError {
  file: string;
  line: number;
  rule?: string;
  message: string;
}

export interface AlertReport {
  schemaVersion: string;
  generator: { name: 'moat'; version: string };
  /** when the report was written (RFC 3339) */
  time: string;
  /** the files and directories read (`-` for stdin) */
  inputs: string[];
  summary: {
    /** audit events read */
    events: number;
    /** records that should have been audit events but could not be used */
    malformed: number;
    /** the first malformed records: file, line, reason, excerpt */
    malformedSamples: MalformedSample[];
    /** records recognised and dropped on purpose (CloudWatch control messages, other log categories) */
    skipped: number;
    /** alerts in `alerts` */
    alerts: number;
    bySeverity: Record<AlertSeverity, number>;
    /** alerts left out by --severity */
    filtered: number;
    /** alerts dropped because more were waiting than the detector keeps (its bound) */
    dropped: number;
    rules: { loaded: number; skipped: number; errors: number };
  };
  /** rules not run on purpose: disabled, or waiting for a list to be configured */
  skippedRules: Array<{ rule: string; file: string; line: number; reason: string }>;
  errors: AlertReportError[];
  alerts: Alert[];
}

/** What a run knows: the alerts (any order) and its counters. */
export interface AlertReportInput {
  version: string;
  inputs: string[];
  alerts: readonly Alert[];
  ingest: { events: number; malformed: number; skipped: number; samples: readonly MalformedSample[] };
  /** rules that ran */
  rulesLoaded: number;
  skippedRules: AlertReport['skippedRules'];
  errors: AlertReportError[];
  filtered?: number;
  dropped?: number;
}

const RANK: Record<AlertSeverity, number> = { INFO: 0, LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };

export function alertSeverityRank(s: AlertSeverity): number {
  return RANK[s];
}

/** Most severe first, then the earliest first seen, then by rule and alert id (a stable order for diffs). */
export function compareAlerts(a: Alert, b: Alert): number {
  return (
    RANK[b.severity] - RANK[a.severity] ||
    (a.firstSeen < b.firstSeen ? -1 : a.firstSeen > b.firstSeen ? 1 : 0) ||
    (a.rule.id < b.rule.id ? -1 : a.rule.id > b.rule.id ? 1 : 0) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

export function countBySeverity(
  alerts: readonly { severity: AlertSeverity }[],
): Record<AlertSeverity, number> {
  const by = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFO: 0 } satisfies Record<AlertSeverity, number>;
  for (const a of alerts) by[a.severity]++;
  return by;
}

/** The report document: alerts sorted, the summary computed from them and the run's counters. */
export function alertReport(input: AlertReportInput, now = new Date()): AlertReport {
  const alerts = [...input.alerts].sort(compareAlerts);
  return {
    schemaVersion: ALERTS_SCHEMA_VERSION,
    generator: { name: 'moat', version: input.version },
    time: now.toISOString(),
    inputs: input.inputs,
    summary: {
      events: input.ingest.events,
      malformed: input.ingest.malformed,
      malformedSamples: [...input.ingest.samples],
      skipped: input.ingest.skipped,
      alerts: alerts.length,
      bySeverity: countBySeverity(alerts),
      filtered: input.filtered ?? 0,
      dropped: input.dropped ?? 0,
      rules: {
        loaded: input.rulesLoaded,
        skipped: input.skippedRules.length,
        errors: input.errors.length,
      },
    },
    skippedRules: input.skippedRules,
    errors: input.errors,
    alerts,
  };
}

export function renderAlerts(r: AlertReport, format: AlertFormat, opts: { width?: number } = {}): string {
  switch (format) {
    case 'json':
      return renderAlertJson(r);
    case 'jsonl':
      return r.alerts.map(renderAlertLine).join('');
    default:
      return renderAlertTable(r, opts);
  }
}

/** Above this many alerts the document is written on one line: indentation is most of a large report. */
const COMPACT_ABOVE = 10_000;

export function renderAlertJson(r: AlertReport): string {
  return `${JSON.stringify(r, null, r.alerts.length > COMPACT_ABOVE ? undefined : 2)}\n`;
}

/** One alert as a JSON line (the jsonl format, and what `--follow` streams). */
export function renderAlertLine(a: Alert): string {
  return `${JSON.stringify(a)}\n`;
}

/** `namespace/resource/name[/subresource]`, the API path's order; `-` for requests without an object. */
export function alertTarget(a: Alert): string {
  const r = a.resource;
  const kind = r.apiGroup && r.resource ? `${r.resource}.${r.apiGroup}` : r.resource;
  const parts = [a.namespace, kind || undefined, r.name, r.subresource].filter(
    (p) => p !== undefined && p !== '',
  );
  return parts.length > 0 ? parts.join('/') : '-';
}

/** RFC 3339 to the second: the audit log's microseconds do not help a reader. */
function shortTime(t: string): string {
  return t.replace(/^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.\d+/, '$1');
}

export function renderAlertTable(r: AlertReport, opts: { width?: number } = {}): string {
  const s = r.summary;
  const out: string[] = [];
  const sev = ALERT_SEVERITIES.slice()
    .reverse()
    .map((k) => `${k} ${s.bySeverity[k]}`)
    .join(', ');
  out.push(
    `Audit events: ${s.events} read, ${s.malformed} malformed, ${s.skipped} skipped (from ${r.inputs.join(', ')})`,
  );
  out.push(
    `Rules: ${s.rules.loaded} run, ${s.rules.skipped} skipped, ${s.rules.errors} ${s.rules.errors === 1 ? 'error' : 'errors'}`,
  );
  out.push(
    `Alerts: ${s.alerts} (${sev})${s.filtered ? `; ${s.filtered} below --severity not shown` : ''}${s.dropped ? `; ${s.dropped} dropped (too many open)` : ''}`,
  );
  out.push('');
  if (r.alerts.length === 0) out.push('No alerts.');
  else {
    const clusters = new Set(r.alerts.map((a) => a.cluster ?? ''));
    const showCluster = clusters.size > 1;
    if (!showCluster && r.alerts[0]?.cluster) out.push(`Cluster: ${r.alerts[0].cluster}`);
    const rows = r.alerts.map((a) => [
      a.severity,
      a.rule.id,
      `${showCluster && a.cluster ? `${a.cluster}:` : ''}${alertTarget(a)}`,
      a.user || '-',
      String(a.count),
      shortTime(a.firstSeen),
      a.lastSeen === a.firstSeen ? '' : shortTime(a.lastSeen),
    ]);
    out.push(
      textTable(
        [
          { header: 'SEVERITY' },
          { header: 'RULE' },
          { header: 'RESOURCE', flexible: true },
          { header: 'USER' },
          { header: 'COUNT', align: 'right' },
          { header: 'FIRST SEEN' },
          { header: 'LAST SEEN' },
        ],
        rows,
        opts.width ?? 0,
      ).trimEnd(),
    );
  }
  // load errors are printed on stderr as they are found; the table only counts them
  return `${out.join('\n').trimEnd()}\n`;
}

/** `file:line rule id: message`, the way rule load errors are printed everywhere (docs/detect/rules.md). */
export function formatLoadError(e: AlertReportError): string {
  return `${e.file}${e.line > 0 ? `:${e.line}` : ''}${e.rule ? ` rule ${e.rule}` : ''}: ${e.message}`;
}
