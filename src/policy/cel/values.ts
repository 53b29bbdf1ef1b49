import { EvaluationError } from '@marcbachmann/cel-js';

/**
 * Conversions between parsed JSON/YAML and the values cel-js evaluates. CEL has distinct int and double
 * types; cel-js represents ints as bigint and treats every JS number as a double, so `replicas + 1` on a
 * raw parsed object fails. Kubernetes types fields by schema (integer -> int); without schemas we type by
 * value: integral numbers become ints, others stay doubles.
 */

export type CelValue = unknown;

const cache = new WeakMap<object, CelValue>();

/**
 * A CEL view of a JSON value. Objects are converted once and cached (by identity) so that several
 * policies evaluating the same object share one conversion (so an object must not be changed after it
 * was first evaluated). Maps are null-prototype objects, so a `__proto__` key is a plain key.
 */
export function toCel(value: unknown): CelValue {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return scalar(value);
  const hit = cache.get(value);
  if (hit !== undefined) return hit;
  const out = convert(value);
  cache.set(value, out);
  return out;
}

function scalar(v: unknown): CelValue {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  return v;
}

function convert(v: unknown): CelValue {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object') return scalar(v);
  if (Array.isArray(v)) {
    const out = new Array<CelValue>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = convert(v[i]);
    return out;
  }
  if (v instanceof Date || v instanceof Uint8Array) return v;
  // cel-js types a value by its `constructor` property: an own key of that name would make the map
  // unusable (and let a crafted label knock a policy into its failure path), so such maps become Maps
  if (Object.hasOwn(v, 'constructor')) {
    const m = new Map<string, CelValue>();
    for (const [k, x] of Object.entries(v)) if (x !== undefined && x !== null) m.set(k, convert(x));
    return m;
  }
  const out: Record<string, CelValue> = Object.create(null);
  for (const k in v as Record<string, unknown>) {
    const x = (v as Record<string, unknown>)[k];
    // a null field is an absent field to the API server (has() is false), so it is left out
    if (x !== undefined && x !== null) out[k] = convert(x);
  }
  return out;
}

/** A CEL result as JSON-friendly data (ints become numbers when safe, strings otherwise). */
export function fromCel(v: CelValue): unknown {
  if (typeof v === 'bigint') {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(v)
      : String(v);
  }
  if (Array.isArray(v)) return v.map(fromCel);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), fromCel(x)]));
  if (v !== null && typeof v === 'object' && isPlainMap(v)) {
    const out: Record<string, unknown> = {};
    for (const k in v) out[k] = fromCel((v as Record<string, unknown>)[k]);
    return out;
  }
  if (v !== null && typeof v === 'object') return String(v);
  return v;
}

export function isPlainMap(v: object): v is Record<string, CelValue> {
  const c = (v as { constructor?: unknown }).constructor;
  return c === undefined || c === Object;
}

/** Values with their own equality (Quantity, IP, CIDR, URL, Semver). */
export interface CelComparable {
  celEquals(other: unknown): boolean;
}

function hasCelEquals(v: unknown): v is CelComparable {
  return typeof v === 'object' && v !== null && typeof (v as CelComparable).celEquals === 'function';
}

/** CEL equality (heterogeneous numeric equality included), for list and set functions. */
export function celEquals(a: CelValue, b: CelValue): boolean {
  if (a === b) return true;
  if (typeof a === 'bigint' || typeof a === 'number') {
    // biome-ignore lint/suspicious/noDoubleEquals: bigint/number cross-type comparison is intended
    return (typeof b === 'bigint' || typeof b === 'number') && a == b;
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (hasCelEquals(a)) return a.celEquals(b);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!celEquals(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof Uint8Array) {
    return b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (isPlainMap(a) && isPlainMap(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) if (!(k in b) || !celEquals(a[k], b[k])) return false;
    return true;
  }
  return String(a) === String(b) && Object.getPrototypeOf(a) === Object.getPrototypeOf(b);
}

/** -1, 0 or 1 for comparable values of one CEL type (int, uint, double, string, bool, bytes, timestamp, duration). */
export function celCompare(a: CelValue, b: CelValue): number {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  if (a instanceof Date && b instanceof Date) return Math.sign(a.getTime() - b.getTime());
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] ?? 0) < (b[i] ?? 0) ? -1 : 1;
    return Math.sign(a.length - b.length);
  }
  const va = primitiveOf(a);
  const vb = primitiveOf(b);
  if (va !== undefined && vb !== undefined && typeof va === typeof vb) return va < vb ? -1 : va > vb ? 1 : 0;
  throw celError('no_such_overload', `cannot compare ${typeName(a)} and ${typeName(b)}`);
}

/** uint (UnsignedInt) and Duration expose valueOf(); compare through it. */
function primitiveOf(v: unknown): bigint | number | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const p = (v as { valueOf(): unknown }).valueOf();
  return typeof p === 'bigint' || typeof p === 'number' ? p : undefined;
}

export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'bigint':
      return 'int';
    case 'number':
      return 'double';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
  }
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof Date) return 'timestamp';
  if (isPlainMap(v as object) || v instanceof Map) return 'map';
  return (v as object).constructor?.name ?? 'object';
}

/** The error a CEL function handler throws; cel-js attaches the expression position. */
export function celError(code: string, message: string): EvaluationError {
  return new EvaluationError({ code, message });
}

interface FunctionRegistry {
  registerFunction(signature: string, handler: never, opts: { async: boolean }): unknown;
}

/**
 * Registers a synchronous function. cel-js treats a handler as possibly async unless told otherwise,
 * which makes every call site check for promises.
 */
export function fn(env: object, signature: string, handler: (...args: never[]) => unknown): void {
  (env as FunctionRegistry).registerFunction(signature, handler as never, { async: false });
}
