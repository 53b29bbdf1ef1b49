/**
 * A template tag for check messages and paths: `text\`container "${name}" runs privileged\`` returns the
 * same string object every time it is given the same values. A posture run reports ~180,000 violations
 * whose messages and paths repeat (the same container name and setting in thousands of workloads); built
 * anew, each is a fresh string that the report must flatten and hash to group, and that the garbage
 * collector must copy. Interned, they are a few hundred strings, hashed once. Values are keys as they are
 * (short: names, numbers, constant path prefixes), so nothing long is hashed per call.
 */

interface Node {
  text: string | undefined;
  next: Map<unknown, Node> | undefined;
}

interface Root {
  node: Node;
  size: number;
  /**
   * The values and text of the site's last call with at most three values: sites are called object after
   * object with the same values (the same container path, the same name), and a match skips the walk
   */
  v0: unknown;
  v1: unknown;
  v2: unknown;
  last: string | undefined;
}

/** Per call site; values repeat little in messages that carry per-object names (accounts, images), so each site is bounded. */
const MAX_PER_SITE = 4096;
const roots = new WeakMap<TemplateStringsArray, Root>();

function build(strings: TemplateStringsArray, values: readonly unknown[]): string {
  let s = strings[0] as string;
  for (let i = 0; i < values.length; i++) s += String(values[i]) + (strings[i + 1] as string);
  return s;
}

/**
 * The tag. Up to six values, as separate parameters: a rest parameter would allocate an array per call,
 * and a posture run makes ~600,000 (a seventh value is a type error at the call site).
 */
export function text(
  strings: TemplateStringsArray,
  v0?: unknown,
  v1?: unknown,
  v2?: unknown,
  v3?: unknown,
  v4?: unknown,
  v5?: unknown,
): string {
  const n = strings.length - 1;
  let root = roots.get(strings);
  if (root === undefined || root.size >= MAX_PER_SITE) {
    // a site that has seen this many distinct texts starts over: the common ones come back first
    root = { node: { text: undefined, next: undefined }, size: 0, v0, v1, v2, last: undefined };
    roots.set(strings, root);
  } else if (root.last !== undefined && root.v0 === v0 && root.v1 === v1 && root.v2 === v2) {
    // unused values are undefined in both; last is only set for sites with at most three
    return root.last;
  }
  let node = root.node;
  for (let k = 0; k < n; k++) {
    const v = k === 0 ? v0 : k === 1 ? v1 : k === 2 ? v2 : k === 3 ? v3 : k === 4 ? v4 : v5;
    // objects (malformed input shown as-is) would be kept alive and never match: build those directly
    if (typeof v === 'object' && v !== null) return build(strings, [v0, v1, v2, v3, v4, v5].slice(0, n));
    node.next ??= new Map();
    let child = node.next.get(v);
    if (child === undefined) {
      child = { text: undefined, next: undefined };
      node.next.set(v, child);
      root.size++;
    }
    node = child;
  }
  node.text ??= build(strings, [v0, v1, v2, v3, v4, v5].slice(0, n));
  if (n <= 3) {
    root.v0 = v0;
    root.v1 = v1;
    root.v2 = v2;
    root.last = node.text;
  }
  return node.text;
}

/** `parts` joined by `sep`, interned as `text` does (one string object per distinct list). */
export function joined(parts: readonly string[], sep: string): string {
  let s = parts[0] ?? '';
  for (let i = 1; i < parts.length; i++) s = text`${s}${sep}${parts[i]}`;
  return s;
}
