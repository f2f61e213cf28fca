import { describe, expect, test } from 'vitest';
import { NoiseFilter } from '../../../agent/pipeline/noise/noise-filter.js';
import { eventToJson } from '../../../agent/sinks/event-json.js';
import { EVENT_KEY_ORDER, schemaProblems } from '../../helpers/event-schema.js';
import { lines, seccompAt, withPid } from './noise-test-events.js';

// The `noise` field is part of the public event: written right after `count`, only when present.

describe('events of the noise filter as JSON', () => {
  const f = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 2 });
  // Unresolved, as `kernwatch parse` attributes: the same process repeating getppid, then two other
  // processes whose denials exceed the shared unresolved bucket of 2/s.
  const input = [
    seccompAt(0, 1),
    seccompAt(100, 2),
    seccompAt(200, 3),
    withPid(seccompAt(300, 4, 39), 100),
    withPid(seccompAt(400, 5, 39), 200),
  ];
  const out = [...f.admit(lines(input), 0), ...f.drain()];

  test('the filter emitted plain, coalesced and rate-limited events to check', () => {
    expect(out.map((e) => [e.count, e.noise?.reason])).toEqual([
      [1, undefined],
      [1, undefined],
      [2, 'coalesced'],
      [1, 'rate_limited'],
    ]);
  });

  test('noise follows count, and parses back to exactly the event', () => {
    const coalesced = out[2];
    if (coalesced === undefined) throw new Error('no coalesced event');
    const json = eventToJson(coalesced);
    expect(json).toContain(
      `"count":2,"noise":{"reason":"coalesced","firstTime":"2026-11-28T11:38:47.100Z","lastTime":"2026-11-28T11:38:47.200Z"},"process":`,
    );
    for (const e of out) {
      const parsed = JSON.parse(eventToJson(e)) as object;
      expect(parsed).toStrictEqual(e);
      const keys = Object.keys(parsed);
      expect(keys).toEqual(EVENT_KEY_ORDER.filter((k) => keys.includes(k)));
    }
  });

  test('an event standing for itself has no noise key at all', () => {
    expect(eventToJson(out[0] ?? seccompAt(0, 1))).not.toContain('noise');
  });

  test('every emitted event meets the kernwatch.v1 contract', () => {
    for (const e of out) expect(schemaProblems(e)).toEqual([]);
  });

  test('the contract check refuses a malformed noise field', () => {
    const bad = { ...seccompAt(0, 1), noise: { reason: 'merged', firstTime: 'x', lastTime: 'y' } };
    expect(schemaProblems(bad as unknown as Parameters<typeof schemaProblems>[0])).toEqual([
      'noise.reason merged',
      'noise times',
    ]);
  });
});
