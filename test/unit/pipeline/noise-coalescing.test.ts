import { describe, expect, test } from 'vitest';
import { NoiseFilter } from '../../../agent/pipeline/noise/noise-filter.js';
import { inContainer, lines, seccompAt, summary } from './noise-test-events.js';

// Identical denials within the coalescing window (audit time) go out as the first one at once plus one
// event that stands for the rest, with `count` and `noise`.

const filter = (): NoiseFilter => new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 50 });
/** getppid (110) in container 1 at audit time T0 + at. */
const getppid = (at: number, serial: number) => inContainer(seccompAt(at, serial), 1);
const getpid = (at: number, serial: number) => inContainer(seccompAt(at, serial, 39), 1);
const open = (at: number, serial: number) => inContainer(seccompAt(at, serial, 2), 1);

describe('coalescing identical denials', () => {
  test('a burst of ten goes out as the first at once and one event with count 9 when the window closes', () => {
    const f = filter();
    const burst = Array.from({ length: 10 }, (_, i) => getppid(i * 100, i + 1));
    const first = f.admit(lines(burst), 0);
    expect(first).toHaveLength(1);
    expect(first[0]).toBe(burst[0]);
    expect(first[0]?.noise).toBeUndefined();

    const next = getppid(2500, 11);
    const out = f.admit(lines([next], 11), 100);
    expect(out.map(summary)).toEqual([
      {
        id: burst[1]?.id,
        count: 9,
        noise: { reason: 'coalesced', firstTime: burst[1]?.time, lastTime: burst[9]?.time },
      },
      { id: next.id, count: 1 },
    ]);
    expect(out[0]?.id).toBe('test-node:1795865927.100:2/0');
    expect(out[0]?.raw).toEqual(burst[1]?.raw);
    expect(out[0]?.container).toEqual(burst[1]?.container);
    expect(f.counters).toMatchObject({
      admitted: 11,
      passed: 2,
      coalesced: 9,
      coalescedEvents: 1,
      rateLimited: 0,
    });
  });

  test('the held representative itself is not changed: the emitted event is a copy', () => {
    const f = filter();
    const a = getppid(0, 1);
    const b = getppid(10, 2);
    const c = getppid(20, 3);
    f.admit(lines([a, b, c]), 0);
    const [held] = f.drain();
    expect(held?.count).toBe(2);
    expect(held).not.toBe(b);
    expect(b.count).toBe(1);
    expect(b.noise).toBeUndefined();
  });

  test('different syscalls are different denials: each goes out and is held on its own', () => {
    const f = filter();
    const events = [getppid(0, 1), getpid(100, 2), getppid(200, 3), getpid(300, 4), getppid(400, 5)];
    expect(f.admit(lines(events), 0).map((e) => e.id)).toEqual([events[0]?.id, events[1]?.id]);
    expect(f.drain().map(summary)).toEqual([
      {
        id: events[2]?.id,
        count: 2,
        noise: { reason: 'coalesced', firstTime: events[2]?.time, lastTime: events[4]?.time },
      },
      {
        id: events[3]?.id,
        count: 1,
        noise: { reason: 'coalesced', firstTime: events[3]?.time, lastTime: events[3]?.time },
      },
    ]);
  });

  test('two identical denials 2.1 s apart in audit time are two windows: both go out at once', () => {
    const f = filter();
    const events = [getppid(0, 1), getppid(2100, 2)];
    expect(f.admit(lines(events), 0)).toEqual(events);
    expect(f.drain()).toEqual([]);
    expect(f.counters.coalesced).toBe(0);
  });

  test('the window is [first, first + 2 s) of audit time: 1.999 s is inside, 2.000 s opens the next', () => {
    const f = filter();
    const events = [getppid(0, 1), getppid(1999, 2), getppid(2000, 3), getppid(4100, 4)];
    expect(f.admit(lines(events), 0).map(summary)).toEqual([
      { id: events[0]?.id, count: 1 },
      {
        id: events[1]?.id,
        count: 1,
        noise: { reason: 'coalesced', firstTime: events[1]?.time, lastTime: events[1]?.time },
      },
      { id: events[2]?.id, count: 1 },
      { id: events[3]?.id, count: 1 },
    ]);
  });

  test('the audit time decides, not the wall clock: a backlog read in one instant still splits by window', () => {
    const f = filter();
    const events = Array.from({ length: 6 }, (_, i) => getppid(i * 1000, i + 1));
    // 0 opens [0,2000) and holds 1000; 2000 closes it and opens [2000,4000) holding 3000; 4000 likewise.
    expect(f.admit(lines(events), 0).map(summary)).toEqual([
      { id: events[0]?.id, count: 1 },
      {
        id: events[1]?.id,
        count: 1,
        noise: { reason: 'coalesced', firstTime: events[1]?.time, lastTime: events[1]?.time },
      },
      { id: events[2]?.id, count: 1 },
      {
        id: events[3]?.id,
        count: 1,
        noise: { reason: 'coalesced', firstTime: events[3]?.time, lastTime: events[3]?.time },
      },
      { id: events[4]?.id, count: 1 },
    ]);
    expect(f.drain().map((e) => e.id)).toEqual([events[5]?.id]);
  });

  test('an idle stream closes a window by the wall clock: due() once it was held 2 s', () => {
    const f = filter();
    const a = getppid(0, 1);
    const b = getppid(300, 2);
    expect(f.admit(lines([a]), 0)).toEqual([a]);
    expect(f.nextDueMs()).toBeUndefined();
    expect(f.admit(lines([b], 2), 1000)).toEqual([]);
    expect(f.nextDueMs()).toBe(3000);
    expect(f.due(2999)).toEqual([]);
    expect(f.due(3000).map(summary)).toEqual([
      { id: b.id, count: 1, noise: { reason: 'coalesced', firstTime: b.time, lastTime: b.time } },
    ]);
    expect(f.nextDueMs()).toBeUndefined();
    expect(f.counters.closedIdle).toBe(1);
    // The window is closed: the next identical denial goes out at once, even inside the old audit window.
    const c = getppid(600, 3);
    expect(f.admit(lines([c], 3), 3100)).toEqual([c]);
  });

  test('a window holding nothing has nothing due', () => {
    const f = filter();
    f.admit(lines([getppid(0, 1)]), 0);
    expect(f.due(1e9)).toEqual([]);
  });

  test('a window opened out of audit-time order closes at its own end when its identity comes back', () => {
    const f = filter();
    // getppid opens [1000,3000); getpid, stamped earlier, opens [500,2500) behind it.
    const events = [getppid(1000, 1), getpid(500, 2), getpid(600, 3), open(2600, 4), getpid(2700, 5)];
    expect(f.admit(lines(events), 0).map(summary)).toEqual([
      { id: events[0]?.id, count: 1 },
      { id: events[1]?.id, count: 1 },
      { id: events[3]?.id, count: 1 },
      {
        id: events[2]?.id,
        count: 1,
        noise: { reason: 'coalesced', firstTime: events[2]?.time, lastTime: events[2]?.time },
      },
      { id: events[4]?.id, count: 1 },
    ]);
  });

  test('firstTime and lastTime span the held denials even when their stamps arrive out of order', () => {
    const f = filter();
    const events = [getppid(0, 1), getppid(900, 2), getppid(400, 3), getppid(1200, 4)];
    f.admit(lines(events), 0);
    expect(f.drain().map(summary)).toEqual([
      {
        id: events[1]?.id,
        count: 3,
        noise: { reason: 'coalesced', firstTime: events[2]?.time, lastTime: events[3]?.time },
      },
    ]);
  });

  test('a coalescing window of 0 turns coalescing off: every denial goes out as it came', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 0, perContainerPerSecond: 50 });
    const events = Array.from({ length: 5 }, (_, i) => getppid(i, i + 1));
    expect(f.admit(lines(events), 0)).toEqual(events);
    expect(f.drain()).toEqual([]);
    expect(f.oldestHeldLine()).toBeUndefined();
    expect(f.counters).toMatchObject({ admitted: 5, passed: 5, coalesced: 0 });
  });

  test('with both 0 the filter passes everything through and holds nothing', () => {
    const f = new NoiseFilter({ coalesceWindowMs: 0, perContainerPerSecond: 0 });
    const events = Array.from({ length: 200 }, (_, i) => getppid(i, i + 1));
    expect(f.admit(lines(events), 0)).toEqual(events);
    expect(f.sizes).toEqual({ windows: 0, held: 0, summaries: 0, buckets: 0 });
  });
});
