import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { TransportCopies } from '../../../agent/sources/journald/transport-copies.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { parseText } from '../../helpers/parse-text.js';

// One seccomp record (corpus gh-containers-crun-683) as journald stores it twice when auditd is not
// running: from the audit multicast and from the kernel log (test/fixtures/constructed/README.md).
const audit = readFileSync(join(FIXTURES, 'constructed/journald-audit-transport.json'), 'utf8').trim();
const kernel = readFileSync(join(FIXTURES, 'constructed/journald-kernel-transport.json'), 'utf8').trim();

describe('the two journald transports of one record', () => {
  test('without the filter the parser makes two events of the one record, with different ids', () => {
    const { events } = parseText(`${audit}\n${kernel}\n`);
    expect(events.map((e) => e.id)).toEqual([
      'test-node:1622229872.180:55/0',
      'test-node:1622229872.180:55/1',
    ]);
  });

  test('the copy from the second transport is dropped, whichever comes first', () => {
    for (const [first, second] of [
      [audit, kernel],
      [kernel, audit],
    ] as const) {
      const copies = new TransportCopies();
      expect(copies.isCopy(first)).toBe(false);
      expect(copies.isCopy(second)).toBe(true);
      expect(copies.dropped).toBe(1);
      const { events } = parseText(`${first}\n`);
      expect(events.map((e) => e.id)).toEqual(['test-node:1622229872.180:55/0']);
    }
  });

  test('another record of the same transport is never taken for a copy', () => {
    const copies = new TransportCopies();
    expect(copies.isCopy(audit)).toBe(false);
    expect(copies.isCopy(audit.replace('"_AUDIT_ID":"55"', '"_AUDIT_ID":"56"'))).toBe(false);
    expect(copies.isCopy(kernel.replace('audit(1622229872.180:55)', 'audit(1622229872.180:57)'))).toBe(false);
  });

  test('a record of another type in the same event is not a copy', () => {
    const copies = new TransportCopies();
    expect(copies.isCopy(audit)).toBe(false);
    expect(copies.isCopy(kernel.replace('audit: type=1326', 'audit: type=1300'))).toBe(false);
  });

  test('entries of other transports pass untouched', () => {
    const copies = new TransportCopies();
    const syslog = audit.replace('"_TRANSPORT":"audit"', '"_TRANSPORT":"syslog"');
    expect(copies.isCopy(syslog)).toBe(false);
    expect(copies.isCopy(syslog)).toBe(false);
  });

  test('memory is bounded: beyond its capacity the oldest keys are forgotten', () => {
    const copies = new TransportCopies(2);
    expect(copies.isCopy(audit)).toBe(false);
    for (const id of ['60', '61']) copies.isCopy(audit.replace('"_AUDIT_ID":"55"', `"_AUDIT_ID":"${id}"`));
    expect(copies.isCopy(kernel)).toBe(false);
  });
});
