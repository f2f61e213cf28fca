import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bootTimeMs,
  isKernelThread,
  parseBtime,
  parseProcStat,
  parseUptimeMs,
  startedAtMs,
  USER_HZ,
} from '../../../agent/attribute/proc/proc-stat.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/** /proc/<pid>/stat, /proc/stat btime and /proc/uptime, from real files (test/fixtures/cgroup/README.md). */

const fixture = (name: string): string => readFileSync(join(FIXTURES, 'cgroup', name), 'latin1');

describe('/proc/<pid>/stat', () => {
  it('splits after the last ")" so that a comm with spaces and parentheses does not shift the fields', () => {
    expect(parseProcStat(fixture('kernel618-odd-comm.stat'))).toStrictEqual({
      pid: 13729,
      comm: 'we) ir (d',
      state: 'S',
      ppid: 13727,
      flags: 4194304,
      startTicks: 324743,
    });
  });

  it('reads a zombie killed by seccomp: state Z, its parent and its start ticks', () => {
    expect(parseProcStat(fixture('kernel618-hybrid-systemd-burstable-zombie.stat'))).toStrictEqual({
      pid: 13354,
      comm: 'sv',
      state: 'Z',
      ppid: 13313,
      flags: 4228876,
      startTicks: 324043,
    });
  });

  it('knows a kernel thread by PF_KTHREAD in its flags, and a user process by its absence', () => {
    const kthreadd = parseProcStat(fixture('kernel618-kthreadd.stat'));
    const user = parseProcStat(fixture('kernel618-odd-comm.stat'));
    expect(kthreadd?.pid).toBe(2);
    expect(kthreadd !== undefined && isKernelThread(kthreadd)).toBe(true);
    expect(user !== undefined && isKernelThread(user)).toBe(false);
  });

  it.each([
    ['an empty text', ''],
    ['no parentheses', '13729 sv S 13727'],
    ['a line cut before starttime', '13729 (sv) S 13727 13725 8651 0 -1 4194304 108 0 0 0 0 0 0 0 20 0 1 0'],
    ['a non-numeric pid', 'x (sv) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0'],
  ])('rejects %s', (_what, text) => {
    expect(parseProcStat(text)).toBeUndefined();
  });
});

describe('boot time and start time', () => {
  it('reads btime from /proc/stat', () => {
    expect(parseBtime(fixture('kernel618-proc-stat.txt'))).toBe(1795866750);
  });

  it('reads the uptime in ms', () => {
    expect(parseUptimeMs(fixture('kernel618-proc-uptime.txt'))).toBe(3652360);
  });

  it('puts the boot time from uptime within the second that btime names', () => {
    // The two files were read together, so "now" is btime + uptime to within that second.
    const btime = 1795866750;
    const nowMs = (btime + 3652.36) * 1000 + 400;
    const boot = bootTimeMs(nowMs, fixture('kernel618-proc-uptime.txt'), fixture('kernel618-proc-stat.txt'));
    expect(boot).toBe(nowMs - 3652360 - 5);
    expect(boot).toBeGreaterThanOrEqual(btime * 1000);
    expect(boot).toBeLessThan((btime + 1) * 1000);
  });

  it('falls back to btime when uptime is unreadable', () => {
    expect(bootTimeMs(0, undefined, fixture('kernel618-proc-stat.txt'))).toBe(1795866750000);
    expect(bootTimeMs(0, undefined, undefined)).toBeUndefined();
  });

  it('turns start ticks into ms with USER_HZ = 100', () => {
    expect(USER_HZ).toBe(100);
    expect(startedAtMs(324043, 1795866750000)).toBe(1795866750000 + 3240430);
  });
});
