import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupIdentity } from '../../../agent/attribute/proc/cgroup-identity.js';
import { parseProcStat } from '../../../agent/attribute/proc/proc-stat.js';
import { ProcessTable } from '../../../agent/attribute/proc/process-table.js';
import { KernwatchError } from '../../../agent/errors.js';

/**
 * ProcessTable against the real /proc of this machine, with processes this test starts (no root needed:
 * they stay in the test's own cgroup, so their identity is whatever /proc/self/cgroup says). Scans are
 * run with scanOnce() and the timer interval is set far away, so no result depends on timing.
 * Container cgroups, seccomp kills and pid reuse are in test/integration/attribute/proc-*.test.ts.
 */

const FAR = 3_600_000;
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await once(c, 'exit');
    }
  }
});

async function startSleep(): Promise<ChildProcess & { pid: number }> {
  const c = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(c);
  await once(c, 'spawn');
  if (c.pid === undefined) throw new Error('sleep did not start');
  return c as ChildProcess & { pid: number };
}

async function end(c: ChildProcess & { pid: number }): Promise<void> {
  c.kill('SIGKILL');
  await once(c, 'exit');
  // libuv reaps the child before 'exit': its /proc entry is gone.
  expect(existsSync(`/proc/${c.pid}`)).toBe(false);
}

const ours = cgroupIdentity(readFileSync('/proc/self/cgroup', 'latin1'));
const startTicksOf = (pid: number): number | undefined =>
  parseProcStat(readFileSync(`/proc/${pid}/stat`, 'latin1'))?.startTicks;

describe('ProcessTable on the real /proc', () => {
  it('reads a live process that started before the record: its pid, parent, start ticks and cgroup', async () => {
    const c = await startSleep();
    const table = new ProcessTable({ scanIntervalMs: FAR });
    const got = table.lookup(c.pid, Date.now());
    expect(got.lookup).toBe('live');
    expect(got.identity).toStrictEqual({
      pid: c.pid,
      ppid: process.pid,
      startTicks: startTicksOf(c.pid),
      startedAtMs: got.identity?.startedAtMs,
      ...ours,
    });
    expect(Math.abs((got.identity?.startedAtMs ?? 0) - Date.now())).toBeLessThan(60_000);
  });

  it('remembers a process the pre-warm scan saw, after it has ended and been reaped', async () => {
    const c = await startSleep();
    const ticks = startTicksOf(c.pid);
    const table = new ProcessTable({ scanIntervalMs: FAR });
    table.start();
    const atMs = Date.now();
    await end(c);
    const got = table.lookup(c.pid, atMs);
    table.stop();
    expect(got.lookup).toBe('cached');
    expect(got.identity?.pid).toBe(c.pid);
    expect(got.identity?.startTicks).toBe(ticks);
    expect(got.identity?.containerId).toBe(ours.containerId);
  });

  it('finds in a scan tick a process started after start()', async () => {
    const table = new ProcessTable({ scanIntervalMs: FAR });
    table.start();
    const c = await startSleep();
    table.scanOnce();
    const atMs = Date.now();
    await end(c);
    expect(table.lookup(c.pid, atMs).lookup).toBe('cached');
    table.stop();
  });

  it('answers unknown for a process that no scan saw and that is gone', async () => {
    const table = new ProcessTable({ scanIntervalMs: FAR });
    const c = await startSleep();
    const atMs = Date.now();
    await end(c);
    expect(table.lookup(c.pid, atMs)).toStrictEqual({ lookup: 'unknown' });
    expect(table.counters().misses).toBe(1);
    expect(table.counters().lookupsUnknown).toBe(1);
  });

  it('gives no identity to a record made after the scans saw the process gone', async () => {
    const a = await startSleep();
    const table = new ProcessTable({ scanIntervalMs: FAR });
    table.start();
    const whileA = Date.now();
    await end(a);
    // Another process starts: a pid is handed out, so the next tick lists /proc and misses A.
    await startSleep();
    table.scanOnce();
    const seenGone = Date.now();
    expect(table.lookup(a.pid, seenGone + 1000)).toStrictEqual({ lookup: 'unknown' });
    expect(table.lookup(a.pid, whileA).lookup).toBe('cached');
    table.stop();
  });

  it('does not give a record made before a process started the identity of that process', async () => {
    const c = await startSleep();
    const table = new ProcessTable({ scanIntervalMs: FAR, startToleranceMs: 50 });
    const live = table.lookup(c.pid, Date.now());
    const started = live.identity?.startedAtMs ?? 0;
    // One second before it started: the pid then belonged to another process, which no scan saw.
    expect(table.lookup(c.pid, started - 1000)).toStrictEqual({ lookup: 'unknown' });
  });

  it('answers from the cache for a live process it already knows by its start ticks', async () => {
    const c = await startSleep();
    const table = new ProcessTable({ scanIntervalMs: FAR, settleMs: 0 });
    const first = table.lookup(c.pid, Date.now());
    const second = table.lookup(c.pid, Date.now());
    expect(second).toStrictEqual(first);
    // Only a container identity is trusted without a new read (a host one may still move, see settleMs).
    expect(table.counters().cacheHits).toBe(ours.containerId === undefined ? 0 : 1);
    expect(table.counters().lookupsLive).toBe(2);
  });

  it('keeps at most maxEntries pids and evicts the least recently stored', async () => {
    const [a, b, c] = [await startSleep(), await startSleep(), await startSleep()];
    const table = new ProcessTable({ scanIntervalMs: FAR, maxEntries: 2 });
    for (const p of [a, b, c]) expect(table.lookup(p.pid, Date.now()).lookup).toBe('live');
    expect(table.size).toBe(2);
    expect(table.counters().evictions).toBe(1);
    const atMs = Date.now();
    await end(a);
    await end(c);
    expect(table.lookup(a.pid, atMs).lookup).toBe('unknown');
    expect(table.lookup(c.pid, atMs).lookup).toBe('cached');
  });

  it('counts every scan tick and the time spent in it', () => {
    const table = new ProcessTable({ scanIntervalMs: FAR });
    table.start();
    table.scanOnce();
    table.scanOnce();
    table.scanOnce();
    table.stop();
    const cost = table.scanCost();
    expect(cost.ticks).toBe(3);
    expect(cost.totalMicros).toBeGreaterThan(0);
    expect(cost.maxMicros).toBeGreaterThanOrEqual(cost.lastMicros);
    const n = table.counters();
    // The pre-warm scan lists /proc once; each tick either lists it or finds no new pid and skips.
    expect(n.scans + n.scansSkipped).toBe(4);
    expect(n.scans).toBeGreaterThanOrEqual(1);
    expect(n.pidsRead).toBeGreaterThan(0);
  });

  it('refuses a procRoot that is not a procfs, naming the file it could not read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kernwatch-noproc-'));
    try {
      let caught: unknown;
      try {
        new ProcessTable({ procRoot: dir });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(KernwatchError);
      expect((caught as KernwatchError).code).toBe('attribution');
      expect((caught as KernwatchError).message).toBe(
        `Cannot read the boot time from ${join(dir, 'uptime')} or ${join(dir, 'stat')}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a scan interval that is not positive', () => {
    expect(() => new ProcessTable({ scanIntervalMs: 0 })).toThrow(
      new KernwatchError('config', 'ProcessTable scanIntervalMs must be a positive number, got 0'),
    );
  });
});
