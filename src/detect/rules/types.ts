import type { AlertSeverity } from '../alert.js';

/** Cheap field tests run before a rule's CEL condition; `verbs` and `resources` also index the rule. */
export interface RuleMatch {
  verbs?: string[];
  resources?: string[];
  /** omitted: with `resources`, only requests on the object itself (no subresource); `*`: any */
  subresources?: string[];
  /** `''` is the core group */
  apiGroups?: string[];
  /** default `ResponseComplete`, so a request logged at several stages is seen once */
  stages?: string[];
  users?: string[];
  namespaces?: string[];
  /** responseStatus.code values, e.g. [401, 403] */
  codes?: number[];
  /** case-insensitive substrings of the user agent */
  userAgents?: string[];
}

export type AggregationType = 'count' | 'distinct' | 'first-seen';

export interface RuleAggregation {
  type: AggregationType;
  /** CEL expressions over `event`; their values, joined, are the aggregation key */
  by: string[];
  /** distinct: the CEL expression whose distinct values are counted */
  field?: string;
  /** count, distinct: alert once the window holds this many events (or values) */
  threshold?: number;
  /** count, distinct: window length in milliseconds */
  windowMs?: number;
  /** first-seen: keys seen during this long after the first event are the baseline */
  learningMs?: number;
}

/** Where a rule, list or exception was written: for load errors and `moat rules` listings. */
export interface SourcePos {
  file: string;
  line: number;
}

export interface RuleSpec {
  id: string;
  name: string;
  description: string;
  severity: AlertSeverity;
  mitre: { tactic: string; technique: string };
  remediation: string;
  condition: string;
  match?: RuleMatch;
  aggregation?: RuleAggregation;
  defender: string[];
  falco: string[];
  enabled: boolean;
  /** names of lists in `data` that must be non-empty for the rule to run (allowlist rules) */
  requires: string[];
  tags: string[];
  pos: SourcePos;
  /** line of each field, for compile errors that point at the condition or an aggregation key */
  lines: Record<string, number>;
}

/** An exception appended to a rule: a CEL condition, or field/value tuples (Falco's exceptions). */
export interface ExceptionSpec {
  rule: string;
  name: string;
  condition?: string;
  fields?: ExceptionField[];
  values?: (string | string[])[][];
  pos: SourcePos;
}

export const EXCEPTION_FIELDS = [
  'user',
  'group',
  'namespace',
  'name',
  'resource',
  'subresource',
  'verb',
  'userAgent',
  'sourceIP',
  'image',
] as const;
export type ExceptionField = (typeof EXCEPTION_FIELDS)[number];

/** One rule file after parsing and schema validation: a pack or a user's tuning file alike. */
export interface RuleFile {
  file: string;
  rules: RuleSpec[];
  lists: { name: string; items: string[]; pos: SourcePos }[];
  exceptions: ExceptionSpec[];
  enable: { rule: string; pos: SourcePos }[];
  disable: { rule: string; pos: SourcePos }[];
}

/** A load problem as data: the rule (when known) is left out, the rest load. */
export interface RuleLoadError {
  file: string;
  line: number;
  rule?: string;
  message: string;
}

/** A rule left out on purpose (disabled, or an allowlist it requires is not configured). */
export interface SkippedRule {
  rule: string;
  file: string;
  line: number;
  reason: string;
}
