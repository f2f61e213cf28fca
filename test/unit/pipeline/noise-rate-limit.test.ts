import { describe, expect, test } from 'vitest';
import { NoiseFilter } from '../../../agent/pipeline/noise/noise-filter.js';
import { apparmorAt, inContainer, lines, onHost, seccompAt, summary, withPid } from './noise-test-events.js';

// At most perContainerPerSecond events go out at once per container per second of audit time; the rest
// of that second is one summary event (representative: the first suppressed denial, count: how many).

/** Syscall `nr` in container `c` at audit time T0 + at: distinct syscalls never coalesce. */
const sys = (c: number, at: number, serial: number, nr: number) => inContainer(seccompAt(at, serial, nr), c);

describe('the per-container rate limit', () => {
  test('120 distinct denials in one second at 50/s: the first 50 go out, then one summary with count 70', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 50 });
    const flood = Array.from({ length: 120 }, (_, i) => sys(1, Math.floor((i * 1000) / 120), i + 1, i));
    const out = f.admit(lines(flood), 0);
    expect(out).toEqual(flood.slice(0, 50));
    expect(f.counters).toMatchObject({ admitted: 120, passed: 50, rateLimited: 70, summaries: 0 });

    // Audit time reaches the end of the second: the summary goes out before the next event.
    const next = sys(1, 1000, 121, 200);
    expect(f.admit(lines([next], 121), 10).map(summary)).toEqual([
      {
        id: flood[50]?.id,
        count: 70,
        noise: { reason: 'rate_limited', firstTime: flood[50]?.time, lastTime: flood[119]?.time },
      },
      { id: next.id, count: 1 },
    ]);
    expect(flood[50]?.time).toBe('2026-11-28T11:38:47.416Z');
    expect(flood[119]?.time).toBe('2026-11-28T11:38:47.991Z');
    expect(f.counters).toMatchObject({ passed: 51, summaries: 1 });
  });

  test('containers are limited independently', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 50 });
    const first = Array.from({ length: 60 }, (_, i) => sys(1, i * 10, i + 1, i));
    const second = Array.from({ length: 10 }, (_, i) => sys(2, 600 + i * 10, 61 + i, i));
    const out = f.admit(lines([...first, ...second]), 0);
    expect(out).toEqual([...first.slice(0, 50), ...second]);
    expect(f.drain().map(summary)).toEqual([
      {
        id: first[50]?.id,
        count: 10,
        noise: { reason: 'rate_limited', firstTime: first[50]?.time, lastTime: first[59]?.time },
      },
    ]);
  });

  test('an idle stream gets its summary from due() a second after the first suppression', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 50 });
    const flood = Array.from({ length: 51 }, (_, i) => sys(1, i, i + 1, i));
    expect(f.admit(lines(flood), 5000)).toHaveLength(50);
    expect(f.nextDueMs()).toBe(6000);
    expect(f.due(5999)).toEqual([]);
    expect(f.due(6000).map(summary)).toEqual([
      {
        id: flood[50]?.id,
        count: 1,
        noise: { reason: 'rate_limited', firstTime: flood[50]?.time, lastTime: flood[50]?.time },
      },
    ]);
    // The bucket stays empty until audit time ends its second: the next denial starts a new summary.
    expect(f.admit(lines([sys(1, 900, 52, 300)], 52), 6100)).toEqual([]);
    expect(f.counters).toMatchObject({ rateLimited: 2, summaries: 1, closedIdle: 1 });
    expect(f.nextDueMs()).toBe(7100);
  });

  test('coalesced denials take no token: only events that would go out at once are limited', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 1 });
    const a = [sys(1, 0, 1, 110), sys(1, 100, 2, 110), sys(1, 200, 3, 110)];
    const b = sys(1, 300, 4, 39);
    expect(f.admit(lines([...a, b]), 0)).toEqual([a[0]]);
    expect(f.counters).toMatchObject({ passed: 1, coalesced: 2, rateLimited: 1 });

    const c = sys(1, 1000, 5, 2);
    expect(f.admit(lines([c], 5), 0).map(summary)).toEqual([
      { id: b.id, count: 1, noise: { reason: 'rate_limited', firstTime: b.time, lastTime: b.time } },
      { id: c.id, count: 1 },
    ]);
    expect(f.drain().map(summary)).toEqual([
      {
        id: a[1]?.id,
        count: 2,
        noise: { reason: 'coalesced', firstTime: a[1]?.time, lastTime: a[2]?.time },
      },
    ]);
  });

  test('a denial folded into a summary opens no coalescing window', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 1 });
    const events = [sys(1, 0, 1, 110), sys(1, 10, 2, 39), sys(1, 20, 3, 39)];
    f.admit(lines(events), 0);
    expect(f.counters).toMatchObject({ passed: 1, coalesced: 0, rateLimited: 2 });
    expect(f.drain().map(summary)).toEqual([
      {
        id: events[1]?.id,
        count: 2,
        noise: { reason: 'rate_limited', firstTime: events[1]?.time, lastTime: events[2]?.time },
      },
    ]);
  });

  test('a rate below one a second stretches the period: 0.5/s lets one through every 2 s', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 0.5 });
    const events = [sys(1, 0, 1, 1), sys(1, 1000, 2, 2), sys(1, 1999, 3, 3), sys(1, 2000, 4, 4)];
    expect(f.admit(lines(events), 0).map(summary)).toEqual([
      { id: events[0]?.id, count: 1 },
      {
        id: events[1]?.id,
        count: 2,
        noise: { reason: 'rate_limited', firstTime: events[1]?.time, lastTime: events[2]?.time },
      },
      { id: events[3]?.id, count: 1 },
    ]);
  });

  test('unresolved denials share one bucket; host denials have one per executable', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 1 });
    const unresolved = [withPid(seccompAt(0, 1), 100), withPid(seccompAt(10, 2, 39), 200)];
    const host = [onHost(seccompAt(20, 3, 2)), onHost(apparmorAt(30, 4, 'environ'))];
    expect(f.admit(lines([...unresolved, ...host]), 0)).toEqual([unresolved[0], ...host]);
    expect(f.counters.rateLimited).toBe(1);
  });

  test('0 per second turns the rate limit off', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 0 });
    const flood = Array.from({ length: 120 }, (_, i) => sys(1, Math.floor((i * 1000) / 120), i + 1, i));
    expect(f.admit(lines(flood), 0)).toEqual(flood);
    expect(f.counters.rateLimited).toBe(0);
  });

  test('beyond maxContainers the oldest bucket is dropped and its summary goes out, not away', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 1, maxContainers: 2 });
    const events = [sys(1, 0, 1, 1), sys(1, 10, 2, 2), sys(2, 20, 3, 1), sys(3, 30, 4, 1)];
    expect(f.admit(lines(events), 0).map(summary)).toEqual([
      { id: events[0]?.id, count: 1 },
      { id: events[2]?.id, count: 1 },
      {
        id: events[1]?.id,
        count: 1,
        noise: { reason: 'rate_limited', firstTime: events[1]?.time, lastTime: events[1]?.time },
      },
      { id: events[3]?.id, count: 1 },
    ]);
    expect(f.counters).toMatchObject({ containersEvicted: 1, summaries: 1 });
    expect(f.sizes.buckets).toBe(2);
  });
});
