import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joined, text } from '../../src/policy/text.js';

// values a check message can carry: repeated names, numbers, missing values, and malformed input shown as-is
const VALUES: unknown[] = [
  'app',
  'sidecar',
  '',
  0,
  -0,
  1,
  8080,
  Number.NaN,
  undefined,
  null,
  true,
  'x y',
  { a: 1 },
];

function pick(seed: number): unknown {
  return VALUES[seed % VALUES.length];
}

test('text gives the plain template result for every sequence of values, repeated or not', () => {
  // a deterministic walk that repeats the last values often (the case the site cache answers) and
  // changes one value at a time (the case it must not answer)
  let a: unknown = 'app';
  let b: unknown = 0;
  let c: unknown;
  for (let k = 0; k < 2000; k++) {
    const r = (k * 7919) % 13;
    if (r === 1) a = pick(k);
    else if (r === 2) b = pick(k + 3);
    else if (r === 3) c = pick(k + 5);
    assert.equal(text`container ${a} on port ${b}`, `container ${a} on port ${b}`);
    assert.equal(text`${a}.${b}:${c}`, `${a}.${b}:${c}`);
    assert.equal(text`only ${c}`, `only ${c}`);
    assert.equal(text`${a}${b}${c}${a}${b}`, `${a}${b}${c}${a}${b}`);
  }
});

test('text tells apart values that differ only in a position past the first', () => {
  const site = (x: unknown, y: unknown, z: unknown) => text`${x}/${y}/${z}`;
  assert.equal(site('a', 'b', 'c'), 'a/b/c');
  assert.equal(site('a', 'b', 'c'), 'a/b/c');
  assert.equal(site('a', 'b', 'd'), 'a/b/d');
  assert.equal(site('a', 'b', undefined), 'a/b/undefined');
  assert.equal(site('a', 'b', 'undefined'), 'a/b/undefined');
  assert.equal(site('a', 'B', 'd'), 'a/B/d');
  // four or more values: the site cache does not apply, the tree still tells them apart
  const four = (w: unknown, x: unknown, y: unknown, z: unknown) => text`${w}${x}${y}${z}`;
  assert.equal(four(1, 2, 3, 4), '1234');
  assert.equal(four(1, 2, 3, 5), '1235');
  assert.equal(four(1, 2, 3, 4), '1234');
});

test('text keeps giving right answers after a site outgrows its bound and starts over', () => {
  for (let i = 0; i < 10_000; i++) assert.equal(text`item ${i} of ${i % 7}`, `item ${i} of ${i % 7}`);
  assert.equal(text`item ${3} of ${3}`, 'item 3 of 3');
});

test('an object value is shown as-is and does not stick to the site', () => {
  const site = (x: unknown) => text`value ${x}`;
  const o = { toString: () => 'first' };
  assert.equal(site(o), 'value first');
  o.toString = () => 'second';
  assert.equal(site(o), 'value second');
  assert.equal(site('plain'), 'value plain');
});

test('joined joins as Array.prototype.join does', () => {
  assert.equal(joined([], ', '), '');
  assert.equal(joined(['a'], ', '), 'a');
  assert.equal(joined(['a', 'b', 'c'], ', '), 'a, b, c');
  assert.equal(joined(['a', 'b', 'c'], ', '), 'a, b, c');
  assert.equal(joined(['a', 'b', 'd'], ' and '), 'a and b and d');
});
