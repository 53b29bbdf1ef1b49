import { boundedMemo } from '../util/memo.js';

/**
 * Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`, `128974848`), as k8s.io/apimachinery's
 * resource.ParseQuantity reads them:
 *
 *   <quantity> ::= <signedNumber><suffix>
 *   <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei | n | u | m | "" | k | M | G | T | P | E | (e|E)<signedInteger>
 *
 * https://github.com/kubernetes/apimachinery/blob/master/pkg/api/resource/quantity.go
 */

const BINARY: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

// the exponent branch must come before the decimal-SI one: `1E` is exa, `1E3` is 1000
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|[eE]([+-]?\d+)|(n|u|m|k|M|G|T|P|E)?)$/;

/**
 * The value of a quantity in base units (cores, bytes), or undefined when it is not a valid quantity.
 * YAML numbers (`cpu: 2`) are accepted as they are. Equal decimal quantities map to the same double
 * (`300m` and `0.3`), because decimal scaling goes through one correctly rounded string conversion.
 */
export function parseQuantity(q: unknown): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  if (typeof q !== 'string') return undefined;
  return parseRemembered(q);
}

// manifests repeat a few values (`500m`, `256Mi`) thousands of times: remember them, within a bound
const parseRemembered = boundedMemo(parse);

function parse(q: string): number | undefined {
  const m = QUANTITY.exec(q.trim());
  if (!m) return undefined;
  const [, num = '', binary, exponent, decimal] = m;
  if (binary !== undefined) return Number(num) * 2 ** (BINARY[binary] ?? 0);
  const exp = exponent !== undefined ? Number(exponent) : (DECIMAL[decimal ?? ''] ?? 0);
  return Number(`${num}e${exp}`);
}
