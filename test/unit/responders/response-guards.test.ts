import { describe, expect, test } from 'vitest';
import { DecisionFolding } from '../../../agent/responders/decision-folding.js';
import { NodeBudget } from '../../../agent/responders/node-budget.js';
import { PodCooldown } from '../../../agent/responders/pod-cooldown.js';
import { podUid } from './response-test-events.js';

// The guards take the time as an argument: every test walks an explicit clock (ms), no sleeps.

describe('NodeBudget: a sliding minute of actions', () => {
  test('room shrinks by what was taken and frees each slot exactly windowMs after it was taken', () => {
    const budget = new NodeBudget(3);
    expect(budget.room(0)).toBe(3);
    expect(budget.take(2, 1_000)).toBe(true);
    expect(budget.room(1_000)).toBe(1);
    expect(budget.take(1, 5_000)).toBe(true);
    expect(budget.room(5_000)).toBe(0);
    // The two slots taken at 1 s free together at 61 s, not a millisecond before.
    expect(budget.room(60_999)).toBe(0);
    expect(budget.room(61_000)).toBe(2);
    // The one taken at 5 s frees at 65 s.
    expect(budget.room(64_999)).toBe(2);
    expect(budget.room(65_000)).toBe(3);
  });

  test('take is all or nothing: a request larger than the room takes no slot', () => {
    const budget = new NodeBudget(3);
    expect(budget.take(2, 0)).toBe(true);
    expect(budget.take(2, 10)).toBe(false);
    expect(budget.room(10)).toBe(1); // the refused request took nothing
    expect(budget.take(1, 20)).toBe(true);
    expect(budget.take(1, 30)).toBe(false);
    expect(budget.room(30)).toBe(0);
    // More than the whole budget never fits, not even with every slot free.
    expect(budget.take(4, 1_000_000)).toBe(false);
    expect(budget.room(1_000_000)).toBe(3);
  });

  test('a refused take at the edge of the window does not refresh the slots', () => {
    const budget = new NodeBudget(1);
    expect(budget.take(1, 0)).toBe(true);
    expect(budget.take(1, 59_999)).toBe(false);
    expect(budget.take(1, 60_000)).toBe(true);
    expect(budget.nextSlotAt(60_000)).toBe(120_000);
  });

  test('nextSlotAt: undefined while a slot is free, else when the oldest slot frees', () => {
    const budget = new NodeBudget(2);
    expect(budget.nextSlotAt(0)).toBeUndefined();
    expect(budget.take(1, 100)).toBe(true);
    expect(budget.nextSlotAt(100)).toBeUndefined(); // one slot still free
    expect(budget.take(1, 300)).toBe(true);
    expect(budget.nextSlotAt(300)).toBe(60_100);
    expect(budget.nextSlotAt(60_099)).toBe(60_100);
    expect(budget.nextSlotAt(60_100)).toBeUndefined(); // the slot taken at 100 ms is free again
    expect(budget.take(1, 60_100)).toBe(true);
    expect(budget.nextSlotAt(60_100)).toBe(60_300); // now the one taken at 300 ms is the oldest
  });

  test('a window other than a minute', () => {
    const budget = new NodeBudget(2, 10_000);
    expect(budget.take(2, 500)).toBe(true);
    expect(budget.nextSlotAt(500)).toBe(10_500);
    expect(budget.room(10_499)).toBe(0);
    expect(budget.room(10_500)).toBe(2);
  });

  test('a budget of 0 refuses every action, at any time', () => {
    const budget = new NodeBudget(0);
    expect(budget.room(0)).toBe(0);
    expect(budget.take(1, 0)).toBe(false);
    expect(budget.take(1, 3_600_000)).toBe(false);
    expect(budget.room(3_600_000)).toBe(0);
    // No slot will ever free: there is no time to name.
    expect(budget.nextSlotAt(3_600_000)).toBeUndefined();
  });
});

describe('PodCooldown', () => {
  const a = podUid(1);
  const b = podUid(2);
  const c = podUid(3);

  test('a pod without a response has no cooldown', () => {
    const cooldown = new PodCooldown(30_000);
    expect(cooldown.activeUntil(a, 0)).toBeUndefined();
  });

  test('start: active until start + cooldown, then gone', () => {
    const cooldown = new PodCooldown(30_000);
    cooldown.start(a, 1_000);
    expect(cooldown.activeUntil(a, 1_000)).toBe(31_000);
    expect(cooldown.activeUntil(a, 30_999)).toBe(31_000);
    expect(cooldown.activeUntil(b, 1_000)).toBeUndefined(); // per pod
    expect(cooldown.activeUntil(a, 31_000)).toBeUndefined();
    expect(cooldown.activeUntil(a, 31_001)).toBeUndefined();
  });

  test('a new start restarts the cooldown from that time', () => {
    const cooldown = new PodCooldown(30_000);
    cooldown.start(a, 0);
    cooldown.start(a, 10_000);
    expect(cooldown.activeUntil(a, 35_000)).toBe(40_000);
    expect(cooldown.activeUntil(a, 40_000)).toBeUndefined();
  });

  test('a cooldown of 0 never activates', () => {
    const cooldown = new PodCooldown(0);
    cooldown.start(a, 1_000);
    expect(cooldown.activeUntil(a, 1_000)).toBeUndefined();
    expect(cooldown.activeUntil(a, 999)).toBeUndefined();
  });

  test('bounded: beyond maxPods the oldest entry is evicted', () => {
    const cooldown = new PodCooldown(30_000, 2);
    cooldown.start(a, 0);
    cooldown.start(b, 1);
    cooldown.start(c, 2);
    expect(cooldown.activeUntil(a, 3)).toBeUndefined();
    expect(cooldown.activeUntil(b, 3)).toBe(30_001);
    expect(cooldown.activeUntil(c, 3)).toBe(30_002);
  });

  test('bounded: a restarted pod counts as the newest entry', () => {
    const d = podUid(4);
    const cooldown = new PodCooldown(30_000, 3);
    cooldown.start(a, 0);
    cooldown.start(b, 1);
    cooldown.start(a, 2); // a is now newer than b
    cooldown.start(c, 3);
    cooldown.start(d, 4); // the fourth: b, the oldest, goes
    expect(cooldown.activeUntil(a, 5)).toBe(30_002);
    expect(cooldown.activeUntil(b, 5)).toBeUndefined();
    expect(cooldown.activeUntil(c, 5)).toBe(30_003);
    expect(cooldown.activeUntil(d, 5)).toBe(30_004);
  });
});

describe('DecisionFolding', () => {
  test('the first decision of a key is published with repeats 0', () => {
    const folding = new DecisionFolding();
    expect(folding.admit('k', 0)).toEqual({ repeats: 0 });
  });

  test('identical decisions within the window are folded; the next after it carries their number', () => {
    const folding = new DecisionFolding(60_000);
    expect(folding.admit('k', 0)).toEqual({ repeats: 0 });
    expect(folding.admit('k', 1)).toBeUndefined();
    expect(folding.admit('k', 30_000)).toBeUndefined();
    expect(folding.admit('k', 59_999)).toBeUndefined();
    expect(folding.admit('k', 60_000)).toEqual({ repeats: 3 });
    // A new window starts at that publication.
    expect(folding.admit('k', 60_001)).toBeUndefined();
    expect(folding.admit('k', 119_999)).toBeUndefined();
    expect(folding.admit('k', 120_000)).toEqual({ repeats: 2 });
    // Nothing folded since: the next one after the window says 0.
    expect(folding.admit('k', 180_000)).toEqual({ repeats: 0 });
  });

  test('the window runs from the last publication, not from the last folded decision', () => {
    const folding = new DecisionFolding(10_000);
    expect(folding.admit('k', 0)).toEqual({ repeats: 0 });
    expect(folding.admit('k', 9_000)).toBeUndefined();
    expect(folding.admit('k', 10_000)).toEqual({ repeats: 1 });
  });

  test('keys are folded independently', () => {
    const folding = new DecisionFolding(60_000);
    expect(folding.admit('a', 0)).toEqual({ repeats: 0 });
    expect(folding.admit('b', 10)).toEqual({ repeats: 0 });
    expect(folding.admit('a', 20)).toBeUndefined();
    expect(folding.admit('a', 30)).toBeUndefined();
    expect(folding.admit('b', 40)).toBeUndefined();
    expect(folding.admit('a', 60_000)).toEqual({ repeats: 2 });
    expect(folding.admit('b', 60_009)).toBeUndefined(); // b's window started at 10 ms
    expect(folding.admit('b', 60_010)).toEqual({ repeats: 2 });
  });

  test('bounded: beyond maxKeys the oldest key is forgotten (with what it had folded)', () => {
    const folding = new DecisionFolding(60_000, 2);
    expect(folding.admit('a', 0)).toEqual({ repeats: 0 });
    expect(folding.admit('b', 1)).toEqual({ repeats: 0 });
    expect(folding.admit('a', 2)).toBeUndefined(); // folded: a is remembered
    expect(folding.admit('c', 3)).toEqual({ repeats: 0 }); // evicts a, the oldest
    expect(folding.admit('a', 4)).toEqual({ repeats: 0 }); // forgotten: published again; evicts b
    expect(folding.admit('b', 5)).toEqual({ repeats: 0 }); // evicts c
    expect(folding.admit('a', 6)).toBeUndefined(); // a and b are the two remembered
    expect(folding.admit('b', 7)).toBeUndefined();
    expect(folding.admit('c', 8)).toEqual({ repeats: 0 });
  });
});
