import type { Environment } from '@marcbachmann/cel-js';
import { isQuantity, Quantity } from './quantity.js';
import { celError, fn } from './values.js';

/** Kubernetes' quantity library (k8s.io/apiserver/pkg/cel/library/quantity.go). */
export function registerQuantity(env: Environment): void {
  env.registerType('Quantity', Quantity);
  fn(env, 'quantity(string): Quantity', (s: string) => {
    try {
      return Quantity.parse(s);
    } catch (e) {
      throw celError('invalid_quantity', (e as Error).message);
    }
  });
  fn(env, 'isQuantity(string): bool', isQuantity);
  fn(env, 'Quantity.isInteger(): bool', (q: Quantity) => q.isInteger());
  fn(env, 'Quantity.asInteger(): int', (q: Quantity) => {
    const v = q.asInteger();
    if (v === undefined) throw celError('invalid_quantity', 'cannot convert value to integer');
    return v;
  });
  fn(env, 'Quantity.asApproximateFloat(): double', (q: Quantity) => q.asApproximateFloat());
  fn(env, 'Quantity.sign(): int', (q: Quantity) => BigInt(q.sign()));
  fn(env, 'sign(Quantity): int', (q: Quantity) => BigInt(q.sign()));
  fn(env, 'Quantity.add(Quantity): Quantity', (a: Quantity, b: Quantity) => a.add(b));
  fn(env, 'Quantity.add(int): Quantity', (a: Quantity, b: bigint) => a.add(fromInt(b)));
  fn(env, 'Quantity.sub(Quantity): Quantity', (a: Quantity, b: Quantity) => a.sub(b));
  fn(env, 'Quantity.sub(int): Quantity', (a: Quantity, b: bigint) => a.sub(fromInt(b)));
  fn(env, 'Quantity.compareTo(Quantity): int', (a: Quantity, b: Quantity) => BigInt(a.compare(b)));
  fn(env, 'Quantity.isGreaterThan(Quantity): bool', (a: Quantity, b: Quantity) => a.compare(b) > 0);
  fn(env, 'Quantity.isLessThan(Quantity): bool', (a: Quantity, b: Quantity) => a.compare(b) < 0);
  fn(env, 'string(Quantity): string', (q: Quantity) => q.toString());
  env.registerOperator('Quantity == Quantity', (a: Quantity, b: Quantity) => a.celEquals(b));
}

function fromInt(i: bigint): Quantity {
  return new Quantity(i * 1_000_000_000n);
}
