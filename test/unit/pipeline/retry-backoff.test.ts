import { describe, expect, test } from 'vitest';
import { RetryBackoff } from '../../../agent/retry-backoff.js';

describe('retry backoff', () => {
  test('doubles from the initial delay up to the cap, and starts over after a reset', () => {
    const b = new RetryBackoff(100, 500);
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 500, 500]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  test('with jitter each delay lies between half and all of its step', () => {
    const low = new RetryBackoff(100, 1000, true, () => 0);
    const high = new RetryBackoff(100, 1000, true, () => 1);
    expect([low.next(), low.next()]).toEqual([50, 100]);
    expect([high.next(), high.next()]).toEqual([100, 200]);
  });
});
