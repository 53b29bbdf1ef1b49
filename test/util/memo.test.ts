import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { boundedMemo } from '../../src/util/memo.js';

describe('boundedMemo', () => {
  test('calls the function once per key, undefined results included', () => {
    const calls: string[] = [];
    const f = boundedMemo((k: string) => {
      calls.push(k);
      return k === 'none' ? undefined : k.length;
    });
    assert.equal(f('abc'), 3);
    assert.equal(f('abc'), 3);
    assert.equal(f('none'), undefined);
    assert.equal(f('none'), undefined);
    assert.deepEqual(calls, ['abc', 'none'], 'each key computed once');
  });

  test('holds at most max entries: full, it starts over', () => {
    let calls = 0;
    const f = boundedMemo((k: string) => {
      calls++;
      return k;
    }, 3);
    for (const k of ['a', 'b', 'c']) f(k);
    assert.equal(calls, 3);
    f('a');
    assert.equal(calls, 3, 'a is still remembered');
    f('d'); // the fourth key clears the three before it
    f('a');
    assert.equal(calls, 5, 'a was computed again after the clear');
  });

  test('an exception is not remembered', () => {
    let calls = 0;
    const f = boundedMemo((k: string) => {
      calls++;
      if (k === 'bad') throw new Error('bad');
      return k;
    });
    assert.throws(() => f('bad'));
    assert.throws(() => f('bad'));
    assert.equal(calls, 2);
  });
});
