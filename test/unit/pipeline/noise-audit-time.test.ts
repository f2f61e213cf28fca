import { describe, expect, test } from 'vitest';
import { AuditTimeReader } from '../../../agent/audit-time.js';
import { apparmorAt, seccompAt, selinuxAt } from './noise-test-events.js';

// The filter reads audit times without Date.parse per event; it must agree with Date.parse everywhere.

describe('reading the audit time of an event', () => {
  test('agrees with Date.parse for parsed events, across second, minute and day boundaries', () => {
    const reader = new AuditTimeReader();
    const times = [
      seccompAt(0, 1).time,
      seccompAt(999, 2).time,
      seccompAt(1000, 3).time,
      seccompAt(1001, 4).time,
      seccompAt(60_000, 5).time,
      apparmorAt(0, 6, 'environ').time,
      selinuxAt(86_400_000 + 7, 7).time,
      seccompAt(5, 8).time,
    ];
    expect(times[1]).toBe('2026-11-28T11:38:47.999Z');
    for (const t of times) expect(reader.ms(t)).toBe(Date.parse(t));
  });

  test('a time in another shape goes to Date.parse; a time that is no date is NaN', () => {
    const reader = new AuditTimeReader();
    expect(reader.ms('2026-11-28T11:38:47Z')).toBe(Date.parse('2026-11-28T11:38:47Z'));
    expect(reader.ms('2026-11-28T11:38:47.12xZ')).toBe(Date.parse('2026-11-28T11:38:47.12xZ'));
    expect(reader.ms('not a time at all, 24 ch')).toBeNaN();
    expect(reader.ms('2026-13-45T99:99:99.000Z')).toBeNaN();
  });
});
