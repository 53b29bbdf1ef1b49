/**
 * An alert raised by a detection rule over Kubernetes audit events. One alert stands for every event
 * the same rule matched on the same resource by the same user within the dedup window: `count`,
 * `firstSeen`/`lastSeen` and a bounded sample of `auditIDs` describe them.
 */

/** Defender's scale (it has Informational) rather than the vulnerability one, which has no INFO. */
export const ALERT_SEVERITIES = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export function isAlertSeverity(s: string): s is AlertSeverity {
  return (ALERT_SEVERITIES as readonly string[]).includes(s);
}

/** The object an alert is about, from the event's objectRef (cluster-scoped objects have no namespace). */
export interface AlertResource {
  apiGroup: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface Alert {
  /** stable for the same rule, dedup key and first event: 16 hex digits */
  id: string;
  rule: { id: string; name: string };
  severity: AlertSeverity;
  /** MITRE ATT&CK tactic and technique ids (TA0002, T1609) */
  tactic: string;
  technique: string;
  description: string;
  remediation: string;
  cluster?: string;
  namespace?: string;
  resource: AlertResource;
  verb: string;
  user: string;
  groups: string[];
  userAgent?: string;
  sourceIPs: string[];
  /** RFC 3339 times of the first and last matching event */
  firstSeen: string;
  lastSeen: string;
  /** matching events folded into this alert */
  count: number;
  /** evidence: the audit IDs of the first matching events, at most `maxAuditIDs` of them */
  auditIDs: string[];
  /** the aggregation's key values when the rule aggregates (count, distinct, first-seen) */
  aggregation?: { type: string; key: string[]; value: number };
  /** cross-references: Defender for Containers alert types and Falco k8saudit rule names */
  defender: string[];
  falco: string[];
}
