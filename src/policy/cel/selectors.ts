/** A Kubernetes LabelSelector (metav1.LabelSelector). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/**
 * Does `labels` satisfy the selector? An absent or empty selector matches everything (admission's
 * namespaceSelector/objectSelector default). A malformed selector is an error: the caller reports it.
 */
export function matchesSelector(
  sel: LabelSelector | undefined | null,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(labels[e.key] as string)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[e.key] as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        throw new Error(`unknown label selector operator ${JSON.stringify(e.operator)}`);
    }
  }
  return true;
}

/** A reason the selector is malformed, or undefined. */
export function selectorProblem(sel: unknown): string | undefined {
  if (sel === undefined || sel === null) return undefined;
  if (typeof sel !== 'object' || Array.isArray(sel)) return 'must be an object';
  const s = sel as Record<string, unknown>;
  if (s.matchLabels !== undefined) {
    if (typeof s.matchLabels !== 'object' || s.matchLabels === null || Array.isArray(s.matchLabels))
      return 'matchLabels must be a map';
    for (const v of Object.values(s.matchLabels))
      if (typeof v !== 'string') return 'matchLabels values must be strings';
  }
  if (s.matchExpressions !== undefined) {
    if (!Array.isArray(s.matchExpressions)) return 'matchExpressions must be a list';
    for (const [i, e] of s.matchExpressions.entries()) {
      const x = e as Record<string, unknown>;
      if (typeof x?.key !== 'string') return `matchExpressions[${i}].key must be a string`;
      const op = x.operator;
      if (op !== 'In' && op !== 'NotIn' && op !== 'Exists' && op !== 'DoesNotExist') {
        return `matchExpressions[${i}].operator must be In, NotIn, Exists or DoesNotExist`;
      }
      const values = x.values;
      if ((op === 'In' || op === 'NotIn') && (!Array.isArray(values) || values.length === 0)) {
        return `matchExpressions[${i}].values must be a non-empty list for ${op}`;
      }
    }
  }
  return undefined;
}
