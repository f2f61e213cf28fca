import { describe, expect, test } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import { NoiseFilter, type HeldInput } from '../../../agent/pipeline/noise/noise-filter.js';
import { mulberry32 } from '../../helpers/corpus-lines.js';
import { inContainer, lines, seccompAt, summary } from './noise-test-events.js';

// What the chain relies on: the checkpoint line, the next due time, shutdown, bounds, and that the same
// records always give the same events, whatever the batching.

const sys = (c: number, at: number, serial: number, nr: number) => inContainer(seccompAt(at, serial, nr), c);

/**
 * A mixed stream over some 6 s of audit time: three containers and unresolved processes, mostly a few
 * repeating syscalls, with floods of distinct ones in container 1 that trip a rate limit of 20/s.
 */
function mixedStream(seed: number): HeldInput[] {
  const rnd = mulberry32(seed);
  const events: KernwatchEvent[] = [];
  let at = 0;
  for (let i = 0; i < 400; i++) {
    const flood = i % 100 > 60 && i % 100 < 95;
    at += Math.floor(rnd() * (flood ? 5 : 40));
    const c = flood ? 1 : Math.floor(rnd() * 4);
    const nr = flood ? 200 + i : ([39, 110, 2, 3][Math.floor(rnd() * 4)] ?? 39);
    const e = seccompAt(at, i + 1, nr);
    events.push(c === 0 ? e : inContainer(e, c));
  }
  return lines(events, 10);
}

function runInBatches(input: readonly HeldInput[], size: number): KernwatchEvent[] {
  const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 20 });
  const out: KernwatchEvent[] = [];
  for (let i = 0; i < input.length; i += size) out.push(...f.admit(input.slice(i, i + size), i));
  out.push(...f.drain());
  return out;
}

describe('the noise filter in the chain', () => {
  test('oldestHeldLine is the line of the opener of a window holding denials, and clears once emitted', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 50 });
    expect(f.oldestHeldLine()).toBeUndefined();
    f.admit([{ event: sys(1, 0, 1, 110), line: 5 }], 0);
    f.admit([{ event: sys(1, 100, 2, 39), line: 6 }], 0);
    expect(f.oldestHeldLine()).toBeUndefined();
    f.admit([{ event: sys(1, 200, 3, 39), line: 7 }], 0);
    expect(f.oldestHeldLine()).toBe(6);
    f.admit([{ event: sys(1, 300, 4, 110), line: 8 }], 0);
    expect(f.oldestHeldLine()).toBe(5);
    // 2050 closes the getppid window [0,2000); the getpid one [100,2100) still holds.
    expect(f.admit([{ event: sys(1, 2050, 5, 2), line: 9 }], 0).map((e) => e.count)).toEqual([1, 1]);
    expect(f.oldestHeldLine()).toBe(6);
    f.admit([{ event: sys(1, 2200, 6, 3), line: 10 }], 0);
    expect(f.oldestHeldLine()).toBeUndefined();
  });

  test('a held rate-limit summary keeps the checkpoint at the first line of its bucket period', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 2 });
    f.admit(lines([sys(1, 0, 1, 1), sys(1, 10, 2, 2)], 20), 0);
    expect(f.oldestHeldLine()).toBeUndefined();
    f.admit(lines([sys(1, 20, 3, 3)], 22), 0);
    expect(f.oldestHeldLine()).toBe(20);
    expect(f.admit(lines([sys(1, 1000, 4, 4)], 23), 0).map((e) => e.noise?.reason)).toEqual([
      'rate_limited',
      undefined,
    ]);
    expect(f.oldestHeldLine()).toBeUndefined();
  });

  test('nextDueMs is the earliest of the held windows and summaries', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 1 });
    f.admit(lines([sys(1, 0, 1, 1), sys(1, 10, 2, 1)]), 100);
    expect(f.nextDueMs()).toBe(2100);
    f.admit(lines([sys(1, 20, 3, 2)], 3), 500);
    expect(f.nextDueMs()).toBe(1500);
    expect(f.due(1500).map((e) => e.noise?.reason)).toEqual(['rate_limited']);
    expect(f.nextDueMs()).toBe(2100);
    expect(f.due(2100).map((e) => e.noise?.reason)).toEqual(['coalesced']);
    expect(f.nextDueMs()).toBeUndefined();
  });

  test('drain() emits everything held in stream order and leaves the filter empty', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 1 });
    const events = [sys(1, 0, 1, 1), sys(1, 10, 2, 2), sys(2, 20, 3, 1), sys(2, 30, 4, 1), sys(1, 40, 5, 3)];
    expect(f.admit(lines(events), 0)).toEqual([events[0], events[2]]);
    expect(f.drain().map(summary)).toEqual([
      {
        id: events[1]?.id,
        count: 2,
        noise: { reason: 'rate_limited', firstTime: events[1]?.time, lastTime: events[4]?.time },
      },
      {
        id: events[3]?.id,
        count: 1,
        noise: { reason: 'coalesced', firstTime: events[3]?.time, lastTime: events[3]?.time },
      },
    ]);
    expect(f.counters).toMatchObject({ drained: 2, summaries: 1, coalescedEvents: 1 });
    expect(f.oldestHeldLine()).toBeUndefined();
    expect(f.nextDueMs()).toBeUndefined();
    expect(f.sizes).toEqual({ windows: 0, held: 0, summaries: 0, buckets: 0 });
    expect(f.drain()).toEqual([]);
  });

  test('the same records give the same events whatever the batch sizes', () => {
    const input = mixedStream(7);
    const whole = runInBatches(input, input.length).map(summary);
    expect(whole.some((e) => e.noise?.reason === 'coalesced')).toBe(true);
    expect(whole.some((e) => e.noise?.reason === 'rate_limited')).toBe(true);
    for (const size of [1, 7, 33]) expect(runInBatches(input, size).map(summary)).toEqual(whole);
  });

  test('nothing disappears: the counts of all emitted events add up to every denial admitted', () => {
    const input = mixedStream(11);
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 20, maxGroups: 5 });
    const out = [
      ...f.admit(input.slice(0, 200), 0),
      ...f.due(1e9),
      ...f.admit(input.slice(200), 1e9),
      ...f.drain(),
    ];
    const c = f.counters;
    expect(out.reduce((n, e) => n + e.count, 0)).toBe(400);
    expect(c.admitted).toBe(400);
    expect(c.passed + c.coalesced + c.rateLimited).toBe(400);
    expect(out.filter((e) => e.noise !== undefined)).toHaveLength(c.coalescedEvents + c.summaries);
    expect(out.filter((e) => e.noise === undefined)).toHaveLength(c.passed);
    expect(c.groupsEvicted).toBeGreaterThan(0);
    expect(new Set(out.map((e) => e.id)).size).toBe(out.length);
  });

  test('beyond maxGroups the oldest window closes early and its held event goes out, not away', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 50, maxGroups: 2 });
    const events = [sys(1, 0, 1, 1), sys(1, 10, 2, 1), sys(1, 20, 3, 2), sys(1, 30, 4, 3)];
    expect(f.admit(lines(events), 0).map(summary)).toEqual([
      { id: events[0]?.id, count: 1 },
      { id: events[2]?.id, count: 1 },
      {
        id: events[1]?.id,
        count: 1,
        noise: { reason: 'coalesced', firstTime: events[1]?.time, lastTime: events[1]?.time },
      },
      { id: events[3]?.id, count: 1 },
    ]);
    expect(f.counters.groupsEvicted).toBe(1);
    expect(f.sizes.windows).toBe(2);
    // Its identity comes back inside the old window: it goes out again rather than being merged.
    const again = sys(1, 40, 5, 1);
    expect(f.admit(lines([again], 5), 0)).toEqual([again]);
    expect(f.counters.groupsEvicted).toBe(2);
  });

  test('a clock stepped back ends the window and the rate period it left in the future', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 1 });
    const events = [sys(1, 10_000, 1, 110), sys(1, 20, 2, 110), sys(1, 30, 3, 39)];
    expect(f.admit(lines(events), 0)).toEqual([events[0], events[1]]);
    expect(f.counters).toMatchObject({ passed: 2, coalesced: 0, rateLimited: 1 });
  });

  test('one far-future stamp does not turn coalescing off for the records after it', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 50 });
    const events = [sys(1, 0, 1, 110), sys(1, 1e9, 2, 110), sys(1, 100, 3, 110), sys(1, 200, 4, 110)];
    expect(f.admit(lines(events), 0)).toEqual([events[0], events[1], events[2]]);
    expect(f.drain().map(summary)).toEqual([
      {
        id: events[3]?.id,
        count: 1,
        noise: { reason: 'coalesced', firstTime: events[3]?.time, lastTime: events[3]?.time },
      },
    ]);
  });

  test('options outside their range are refused', () => {
    expect(() => new NoiseFilter({ coalesceWindowMs: -1, perContainerPerSecond: 50 })).toThrow(
      /coalesceWindow/,
    );
    expect(() => new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: Number.NaN })).toThrow(
      /perContainerPerSecond/,
    );
    expect(
      () => new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 50, maxGroups: 0 }),
    ).toThrow(/maxGroups/);
  });
});
