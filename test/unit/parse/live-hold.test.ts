import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CORPUS } from '../../helpers/fixtures.js';
import { collectingParser } from '../../helpers/parse-text.js';

// Live sources cannot wait for 256 more lines on a quiet node: they flush by time and must not checkpoint
// past an event that is still waiting for its siblings.
const seccompLines = readFileSync(join(CORPUS, 'kmsg/kernel618-seccomp-all-actions.kmsg'), 'utf8')
  .split('\n')
  .filter((l) => l.includes('type=1326'));

describe('holding events for live sources', () => {
  test('a lone SECCOMP record waits, and is reported as pending from its line', () => {
    const { events, parser } = collectingParser();
    parser.pushLine('6,1,1,-;unrelated kernel line');
    parser.pushLine(seccompLines[0] ?? '');
    expect(events).toHaveLength(0);
    expect(parser.linesSeen).toBe(2);
    expect(parser.oldestPendingLine()).toBe(2);
  });

  test('flushThrough emits exactly the events that began at or before the given line', () => {
    const { events, parser } = collectingParser();
    parser.pushLine(seccompLines[0] ?? '');
    parser.pushLine(seccompLines[1] ?? '');
    parser.pushLine(seccompLines[2] ?? '');
    parser.flushThrough(2);
    expect(events.map((e) => e.auditId)).toEqual(
      seccompLines.slice(0, 2).map((l) => /audit\(([^)]*)\)/.exec(l)?.[1]),
    );
    expect(parser.oldestPendingLine()).toBe(3);
    parser.flushThrough(3);
    expect(events).toHaveLength(3);
    expect(parser.oldestPendingLine()).toBeUndefined();
  });

  test('an event ended by EOE is not pending', () => {
    const { events, parser } = collectingParser();
    parser.pushLine(
      'type=AVC msg=audit(1691606009.904:685): avc:  denied  { ioctl } for  pid=7103 comm="x" scontext=u:r:a_t:s0 tcontext=u:r:b_t:s0 tclass=unix_stream_socket permissive=1',
    );
    expect(parser.oldestPendingLine()).toBe(1);
    parser.pushLine('type=EOE msg=audit(1691606009.904:685): ');
    expect(events).toHaveLength(1);
    expect(parser.oldestPendingLine()).toBeUndefined();
  });

  test('flushThrough of a line before every pending event emits nothing', () => {
    const { events, parser } = collectingParser();
    parser.pushLine('6,1,1,-;unrelated kernel line');
    parser.pushLine(seccompLines[0] ?? '');
    parser.flushThrough(1);
    expect(events).toHaveLength(0);
    expect(parser.oldestPendingLine()).toBe(2);
  });
});
