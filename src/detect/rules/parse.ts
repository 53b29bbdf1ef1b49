import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { parseDurationMs } from '../../util/duration.js';
import { type AlertSeverity, isAlertSeverity } from '../alert.js';
import {
  type AggregationType,
  EXCEPTION_FIELDS,
  type ExceptionField,
  type ExceptionSpec,
  type RuleAggregation,
  type RuleFile,
  type RuleLoadError,
  type RuleMatch,
  type RuleSpec,
} from './types.js';

/**
 * Stages 1 and 2 of loading rules: read YAML keeping positions, then check each entry against the
 * schema (docs/detect/rules.md). Every problem is returned as data with file and line; an entry with a
 * problem is left out and the rest of the file is kept, as Falco's loader does.
 */

const RULE_KEYS = new Set([
  'id',
  'name',
  'description',
  'severity',
  'mitre',
  'remediation',
  'condition',
  'match',
  'aggregation',
  'defender',
  'falco',
  'enabled',
  'requires',
  'tags',
]);
const MATCH_KEYS = [
  'verbs',
  'resources',
  'subresources',
  'apiGroups',
  'stages',
  'users',
  'namespaces',
  'codes',
  'userAgents',
] as const;
const STAGES = new Set(['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic', '*']);
const AGG_TYPES: readonly AggregationType[] = ['count', 'distinct', 'first-seen'];
/** the 14 Enterprise ATT&CK tactics */
const TACTICS = new Set([
  'TA0043',
  'TA0042',
  'TA0001',
  'TA0002',
  'TA0003',
  'TA0004',
  'TA0005',
  'TA0006',
  'TA0007',
  'TA0008',
  'TA0009',
  'TA0011',
  'TA0010',
  'TA0040',
]);
const ID_RE = /^[a-z0-9][a-z0-9.-]{0,99}$/;
const LIST_NAME_RE = /^[a-z_][a-z0-9_]{0,99}$/;

class FieldError extends Error {
  constructor(
    message: string,
    readonly node?: Node | null,
  ) {
    super(message);
  }
}

export function parseRuleFile(text: string, file: string): { file: RuleFile; errors: RuleLoadError[] } {
  const out: RuleFile = { file, rules: [], lists: [], exceptions: [], enable: [], disable: [] };
  const errors: RuleLoadError[] = [];
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const lineOf = (n: Node | null | undefined, fallback = 1): number =>
    n?.range ? lc.linePos(n.range[0]).line : fallback;
  if (doc.errors.length > 0) {
    for (const e of doc.errors)
      errors.push({
        file,
        line: lc.linePos(e.pos[0]).line,
        message: e.message.split('\n')[0] ?? e.message,
      });
    return { file: out, errors };
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return { file: out, errors };
  if (!isMap(root)) {
    errors.push({
      file,
      line: lineOf(root),
      message: 'a rule file is a map with rules, lists, exceptions, enable or disable',
    });
    return { file: out, errors };
  }
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as Node | null;
    const at = lineOf(value, lineOf(pair.key as Node));
    switch (key) {
      case 'version':
        if (!isScalar(value) || value.value !== 1)
          errors.push({ file, line: at, message: 'version must be 1' });
        break;
      case 'pack':
        break;
      case 'rules':
        forEach(value, 'rules', (item) => {
          try {
            const r = ruleSpec(item, file, lineOf);
            out.rules.push(r);
          } catch (e) {
            errors.push(fieldError(e, file, lineOf, item, ruleIdOf(item)));
          }
        });
        break;
      case 'lists':
        if (!isMap(value)) {
          errors.push({ file, line: at, message: 'lists must be a map of list name to strings' });
          break;
        }
        for (const lp of value.items) {
          const name = isScalar(lp.key) ? String(lp.key.value) : '';
          const line = lineOf(lp.key as Node);
          try {
            if (!LIST_NAME_RE.test(name))
              throw new FieldError(`list name "${name}" must be lower_snake_case`);
            out.lists.push({ name, items: strings(lp.value as Node, `list ${name}`), pos: { file, line } });
          } catch (e) {
            errors.push(fieldError(e, file, lineOf, lp.value as Node, undefined, line));
          }
        }
        break;
      case 'exceptions':
        forEach(value, 'exceptions', (item) => {
          try {
            out.exceptions.push(exceptionSpec(item, file, lineOf));
          } catch (e) {
            errors.push(fieldError(e, file, lineOf, item, refOf(item)));
          }
        });
        break;
      case 'enable':
      case 'disable':
        try {
          const ids = strings(value, key);
          const items = isSeq(value) ? value.items : [];
          for (let i = 0; i < ids.length; i++) {
            out[key].push({ rule: ids[i] as string, pos: { file, line: lineOf(items[i] as Node, at) } });
          }
        } catch (e) {
          errors.push(fieldError(e, file, lineOf, value));
        }
        break;
      default:
        errors.push({ file, line: lineOf(pair.key as Node), message: `unknown section "${key}"` });
    }
  }
  return { file: out, errors };

  function forEach(value: Node | null, what: string, each: (item: Node) => void): void {
    if (!isSeq(value)) {
      errors.push({ file, line: lineOf(value), message: `${what} must be a list` });
      return;
    }
    for (const item of value.items) each(item as Node);
  }
}

function fieldError(
  e: unknown,
  file: string,
  lineOf: (n: Node | null | undefined, fb?: number) => number,
  item: Node | null,
  rule?: string,
  fallbackLine?: number,
): RuleLoadError {
  const line = lineOf(e instanceof FieldError ? (e.node ?? item) : item, fallbackLine ?? lineOf(item));
  const message = e instanceof Error ? e.message : String(e);
  return rule ? { file, line, rule, message } : { file, line, message };
}

function ruleIdOf(item: Node): string | undefined {
  if (!isMap(item)) return undefined;
  const id = item.get('id');
  return typeof id === 'string' ? id : undefined;
}

function refOf(item: Node): string | undefined {
  if (!isMap(item)) return undefined;
  const r = item.get('rule');
  return typeof r === 'string' ? r : undefined;
}

function asMap(n: Node | null | undefined, what: string): YAMLMap {
  if (!isMap(n)) throw new FieldError(`${what} must be a map`, n);
  return n;
}

function field(m: YAMLMap, key: string): Node | undefined {
  return (m.get(key, true) as Node | undefined) ?? undefined;
}

function str(m: YAMLMap, key: string, required: true): string;
function str(m: YAMLMap, key: string, required: false): string | undefined;
function str(m: YAMLMap, key: string, required: boolean): string | undefined {
  const n = field(m, key);
  if (n === undefined) {
    if (required) throw new FieldError(`missing "${key}"`, m);
    return undefined;
  }
  if (!isScalar(n) || typeof n.value !== 'string' || n.value.trim() === '') {
    throw new FieldError(`"${key}" must be a non-empty string`, n);
  }
  return n.value;
}

function strings(n: Node | null | undefined, what: string): string[] {
  if (!isSeq(n)) throw new FieldError(`${what} must be a list of strings`, n);
  return n.items.map((x) => {
    if (!isScalar(x) || (typeof x.value !== 'string' && typeof x.value !== 'number')) {
      throw new FieldError(`${what} must be a list of strings`, x as Node);
    }
    return String(x.value);
  });
}

function ruleSpec(item: Node, file: string, lineOf: (n: Node | null | undefined) => number): RuleSpec {
  const m = asMap(item, 'a rule');
  for (const p of m.items) {
    const k = isScalar(p.key) ? String(p.key.value) : '';
    if (!RULE_KEYS.has(k)) throw new FieldError(`unknown rule field "${k}"`, p.key as Node);
  }
  const id = str(m, 'id', true);
  if (!ID_RE.test(id))
    throw new FieldError(
      `rule id "${id}" must be lower-case letters, digits, dots and dashes`,
      field(m, 'id'),
    );
  const sev = str(m, 'severity', true).toUpperCase();
  if (!isAlertSeverity(sev))
    throw new FieldError(
      `severity "${sev}" is not one of INFO, LOW, MEDIUM, HIGH, CRITICAL`,
      field(m, 'severity'),
    );
  const mitreNode = asMap(field(m, 'mitre'), '"mitre" ({tactic, technique})');
  const tactic = str(mitreNode, 'tactic', true);
  const technique = str(mitreNode, 'technique', true);
  if (!TACTICS.has(tactic))
    throw new FieldError(
      `mitre.tactic "${tactic}" is not an ATT&CK Enterprise tactic id (TA0001...)`,
      field(mitreNode, 'tactic'),
    );
  if (!/^T\d{4}(\.\d{3})?$/.test(technique))
    throw new FieldError(
      `mitre.technique "${technique}" is not an ATT&CK technique id (T1609, T1078.001)`,
      field(mitreNode, 'technique'),
    );
  const lines: Record<string, number> = {};
  for (const p of m.items) lines[String((p.key as { value?: unknown }).value)] = lineOf(p.value as Node);
  const enabledNode = field(m, 'enabled');
  if (enabledNode !== undefined && !(isScalar(enabledNode) && typeof enabledNode.value === 'boolean')) {
    throw new FieldError('"enabled" must be true or false', enabledNode);
  }
  const opt = (k: string) => (field(m, k) === undefined ? [] : strings(field(m, k), `"${k}"`));
  const spec: RuleSpec = {
    id,
    name: str(m, 'name', true),
    description: str(m, 'description', true),
    severity: sev satisfies AlertSeverity,
    mitre: { tactic, technique },
    remediation: str(m, 'remediation', true),
    condition: str(m, 'condition', true),
    defender: opt('defender'),
    falco: opt('falco'),
    enabled: enabledNode === undefined ? true : (enabledNode as { value: boolean }).value,
    requires: opt('requires'),
    tags: opt('tags'),
    pos: { file, line: lineOf(item) },
    lines,
  };
  const match = field(m, 'match');
  if (match !== undefined) spec.match = matchSpec(match);
  const agg = field(m, 'aggregation');
  if (agg !== undefined) spec.aggregation = aggregationSpec(agg);
  return spec;
}

function matchSpec(n: Node): RuleMatch {
  const m = asMap(n, '"match"');
  const out: RuleMatch = {};
  for (const p of m.items) {
    const k = isScalar(p.key) ? String(p.key.value) : '';
    if (!(MATCH_KEYS as readonly string[]).includes(k))
      throw new FieldError(`unknown match field "${k}"`, p.key as Node);
    const list = strings(p.value as Node, `match.${k}`);
    if (list.length === 0)
      throw new FieldError(`match.${k} is empty: it would match nothing`, p.value as Node);
    if (k === 'stages') {
      const bad = list.find((s) => !STAGES.has(s));
      if (bad) throw new FieldError(`match.stages: "${bad}" is not an audit stage`, p.value as Node);
    }
    if (k === 'codes') {
      const codes = list.map(Number);
      if (codes.some((c) => !Number.isInteger(c) || c < 100 || c > 599))
        throw new FieldError('match.codes must be HTTP status codes', p.value as Node);
      out.codes = codes;
      continue;
    }
    out[k as Exclude<(typeof MATCH_KEYS)[number], 'codes'>] =
      k === 'userAgents' ? list.map((u) => u.toLowerCase()) : list;
  }
  return out;
}

/** `90s`, `10m`, `24h`, `7d` (any CLI duration); undefined unless positive. */
export function parseDuration(s: string): number | undefined {
  const ms = parseDurationMs(s);
  return ms !== undefined && ms > 0 ? ms : undefined;
}

function aggregationSpec(n: Node): RuleAggregation {
  const m = asMap(n, '"aggregation"');
  const type = str(m, 'type', true);
  if (!(AGG_TYPES as readonly string[]).includes(type)) {
    throw new FieldError(`aggregation.type "${type}" is not count, distinct or first-seen`, field(m, 'type'));
  }
  const byNode = field(m, 'by');
  const by = byNode === undefined ? [] : strings(byNode, 'aggregation.by');
  const out: RuleAggregation = { type: type as AggregationType, by };
  const duration = (k: string): number => {
    const s = str(m, k, true);
    const ms = parseDuration(s);
    if (ms === undefined)
      throw new FieldError(`aggregation.${k} "${s}" is not a duration like 30s, 10m, 24h, 7d`, field(m, k));
    return ms;
  };
  if (type === 'first-seen') {
    if (by.length === 0) throw new FieldError('aggregation.by is required for first-seen', m);
    out.learningMs = duration('learning');
    return out;
  }
  const t = field(m, 'threshold');
  if (
    !isScalar(t) ||
    typeof t.value !== 'number' ||
    !Number.isInteger(t.value) ||
    t.value < 1 ||
    t.value > 10_000
  ) {
    throw new FieldError('aggregation.threshold must be an integer from 1 to 10000', t ?? m);
  }
  out.threshold = t.value;
  out.windowMs = duration('window');
  if (type === 'distinct') out.field = str(m, 'field', true);
  return out;
}

function exceptionSpec(
  item: Node,
  file: string,
  lineOf: (n: Node | null | undefined) => number,
): ExceptionSpec {
  const m = asMap(item, 'an exception');
  for (const p of m.items) {
    const k = isScalar(p.key) ? String(p.key.value) : '';
    if (!['rule', 'name', 'condition', 'fields', 'values'].includes(k)) {
      throw new FieldError(`unknown exception field "${k}"`, p.key as Node);
    }
  }
  const out: ExceptionSpec = {
    rule: str(m, 'rule', true),
    name: str(m, 'name', true),
    pos: { file, line: lineOf(item) },
  };
  const condition = str(m, 'condition', false);
  const fieldsNode = field(m, 'fields');
  if ((condition === undefined) === (fieldsNode === undefined)) {
    throw new FieldError('an exception has either "condition" or "fields" with "values"', m);
  }
  if (condition !== undefined) {
    out.condition = condition;
    return out;
  }
  const fields = strings(fieldsNode, 'exception fields');
  for (const f of fields) {
    if (!(EXCEPTION_FIELDS as readonly string[]).includes(f)) {
      throw new FieldError(`exception field "${f}" is not one of ${EXCEPTION_FIELDS.join(', ')}`, fieldsNode);
    }
  }
  const valuesNode = field(m, 'values');
  if (!isSeq(valuesNode) || valuesNode.items.length === 0)
    throw new FieldError('"values" must be a non-empty list of tuples', valuesNode ?? m);
  out.fields = fields as ExceptionField[];
  out.values = valuesNode.items.map((t) => {
    if (!isSeq(t) || t.items.length !== fields.length) {
      throw new FieldError(`each value tuple must have ${fields.length} item(s), one per field`, t as Node);
    }
    return t.items.map((cell) => (isSeq(cell) ? strings(cell, 'a value list') : scalarString(cell as Node)));
  });
  return out;
}

function scalarString(n: Node): string {
  if (!isScalar(n) || n.value === null || typeof n.value === 'object')
    throw new FieldError('a value must be a string or a list of strings', n);
  return String(n.value);
}
