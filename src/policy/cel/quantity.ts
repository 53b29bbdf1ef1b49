/**
 * Kubernetes resource.Quantity (k8s.io/apimachinery/pkg/api/resource): `<sign><digits>[.<digits>]<suffix>`
 * with a binary-SI suffix (Ki Mi Gi Ti Pi Ei), a decimal-SI suffix (n u m "" k M G T P E) or a decimal
 * exponent (e3, E-2). Values are held exactly as a count of nano-units (10^-9), the finest precision
 * Kubernetes keeps: finer digits round up, away from zero, as ParseQuantity does.
 */
export class Quantity {
  constructor(
    /** the value times 10^9 */
    readonly nanos: bigint,
    /** the text it was parsed from, when it was */
    readonly text?: string,
  ) {}

  static parse(s: string): Quantity {
    const q = parseQuantity(s);
    if (typeof q === 'string')
      throw new QuantityError(
        `quantities must match the regular expression '${QUANTITY_RE}' (${q}): ${JSON.stringify(s)}`,
      );
    return q;
  }

  sign(): number {
    return this.nanos === 0n ? 0 : this.nanos > 0n ? 1 : -1;
  }

  compare(o: Quantity): number {
    return this.nanos === o.nanos ? 0 : this.nanos > o.nanos ? 1 : -1;
  }

  add(o: Quantity): Quantity {
    return new Quantity(this.nanos + o.nanos);
  }

  sub(o: Quantity): Quantity {
    return new Quantity(this.nanos - o.nanos);
  }

  isInteger(): boolean {
    return this.asInteger() !== undefined;
  }

  /** The value as an int64, or undefined when it has a fraction or does not fit. */
  asInteger(): bigint | undefined {
    if (this.nanos % NANO !== 0n) return undefined;
    const v = this.nanos / NANO;
    return v > INT64_MAX || v < -INT64_MAX - 1n ? undefined : v;
  }

  asApproximateFloat(): number {
    return Number(this.nanos) / 1e9;
  }

  /** Base units (bytes, cores): fractions round up, as Quantity.Value() does. */
  value(): bigint {
    const q = this.nanos / NANO;
    return this.nanos % NANO > 0n ? q + 1n : q;
  }

  /** Milli-units, rounded up (Quantity.MilliValue()). */
  milliValue(): bigint {
    const q = this.nanos / 1_000_000n;
    return this.nanos % 1_000_000n > 0n ? q + 1n : q;
  }

  celEquals(o: unknown): boolean {
    return o instanceof Quantity && o.nanos === this.nanos;
  }

  /** Canonical decimal form: the largest of n, u, m, "" that keeps the value exact. */
  toString(): string {
    if (this.text !== undefined) return this.text;
    for (const [suffix, div] of [
      ['', NANO],
      ['m', 1_000_000n],
      ['u', 1_000n],
    ] as const) {
      if (this.nanos % div === 0n) return `${this.nanos / div}${suffix}`;
    }
    return `${this.nanos}n`;
  }
}

export class QuantityError extends Error {}

export const QUANTITY_RE = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';

const NANO = 1_000_000_000n;
const INT64_MAX = 9_223_372_036_854_775_807n;

/** numerator and denominator of each suffix's multiplier */
const SUFFIXES: Record<string, readonly [bigint, bigint]> = {
  '': [1n, 1n],
  n: [1n, 1_000_000_000n],
  u: [1n, 1_000_000n],
  m: [1n, 1_000n],
  k: [1_000n, 1n],
  M: [1_000_000n, 1n],
  G: [1_000_000_000n, 1n],
  T: [1_000_000_000_000n, 1n],
  P: [1_000_000_000_000_000n, 1n],
  E: [1_000_000_000_000_000_000n, 1n],
  Ki: [1n << 10n, 1n],
  Mi: [1n << 20n, 1n],
  Gi: [1n << 30n, 1n],
  Ti: [1n << 40n, 1n],
  Pi: [1n << 50n, 1n],
  Ei: [1n << 60n, 1n],
};

/** Beyond this decimal exponent the exact representation would be unreasonably large. */
const MAX_EXPONENT = 1000;

function parseQuantity(s: string): Quantity | string {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/.exec(s);
  if (!m) return 'unparseable';
  const [, sign, int = '', frac = '', suffix = ''] = m;
  if (int === '' && frac === '') return 'no digits';
  let num: bigint;
  let den: bigint;
  const fixed = SUFFIXES[suffix];
  if (fixed) [num, den] = fixed;
  else {
    const e = /^[eE]([+-]?[0-9]+)$/.exec(suffix);
    if (!e) return `unknown suffix ${JSON.stringify(suffix)}`;
    const exp = Number(e[1]);
    if (Math.abs(exp) > MAX_EXPONENT) return `exponent ${exp} out of range`;
    num = exp >= 0 ? 10n ** BigInt(exp) : 1n;
    den = exp >= 0 ? 1n : 10n ** BigInt(-exp);
  }
  const mantissa = BigInt(`${int}${frac}` || '0');
  const numerator = mantissa * num * NANO;
  const denominator = den * 10n ** BigInt(frac.length);
  let nanos = numerator / denominator;
  if (numerator % denominator !== 0n) nanos += 1n;
  // ParseQuantity caps binary-SI amounts at the int64 maximum
  if (fixed && suffix.endsWith('i') && nanos > INT64_MAX * NANO) nanos = INT64_MAX * NANO;
  return new Quantity(sign === '-' ? -nanos : nanos, s);
}

/** True when `s` parses as a Kubernetes quantity. */
export function isQuantity(s: string): boolean {
  return typeof parseQuantity(s) !== 'string';
}
