/** Severities in ascending order. UNKNOWN ranks below LOW so that thresholds never hide it. */
export const SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function isSeverity(s: string): s is Severity {
  return (SEVERITIES as readonly string[]).includes(s);
}

/** Parses a user-supplied severity name, case-insensitive; returns undefined when unknown. */
export function parseSeverity(s: string): Severity | undefined {
  const up = s.trim().toUpperCase();
  return isSeverity(up) ? up : undefined;
}
