/**
 * Kubernetes quantities as k8s.io/apimachinery's resource.ParseQuantity reads them (the grammar in
 * src/policy/quantity.ts); the expected values are the quantity definitions themselves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQuantity } from '../../src/policy/quantity.js';

test('decimal, binary and exponent suffixes', () => {
  const cases: Array<[unknown, number]> = [
    ['1', 1],
    ['500m', 0.5],
    ['0.5', 0.5],
    ['.5', 0.5],
    ['5.', 5],
    ['+2', 2],
    ['-1', -1],
    ['250u', 0.00025],
    ['7n', 7e-9],
    ['1k', 1000],
    ['1M', 1e6],
    ['1G', 1e9],
    ['1T', 1e12],
    ['1P', 1e15],
    ['1E', 1e18],
    ['1Ki', 1024],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['64Gi', 68719476736],
    ['1Ei', 2 ** 60],
    ['1e3', 1000],
    ['1E3', 1000],
    ['12e-3', 0.012],
    [2, 2],
    [0.25, 0.25],
  ];
  for (const [q, want] of cases) assert.equal(parseQuantity(q), want, String(q));
});

test('equal quantities written differently compare equal', () => {
  assert.equal(parseQuantity('300m'), parseQuantity('0.3'));
  assert.equal(parseQuantity('100m'), parseQuantity('1e-1'));
  assert.equal(parseQuantity('1024Mi'), parseQuantity('1Gi'));
  assert.equal(parseQuantity('1000M'), parseQuantity('1G'));
  assert.ok((parseQuantity('1Gi') ?? 0) > (parseQuantity('1G') ?? 0));
});

test('not quantities', () => {
  for (const q of [
    '',
    'm',
    'Gi',
    '1 Gi',
    '1gi',
    '1KB',
    '1.2.3',
    '0x10',
    'abc',
    '1e',
    '--1',
    null,
    undefined,
    {},
    Number.NaN,
    Infinity,
  ]) {
    assert.equal(parseQuantity(q), undefined, String(q));
  }
});
