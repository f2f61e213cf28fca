/**
 * /proc/<pid>/stat, and the clock that turns its start time into wall-clock milliseconds.
 *
 * The line is `pid (comm) state ppid pgrp ... starttime ...`. comm is the executable's name as the
 * process chose it (up to 15 bytes) and may contain spaces and parentheses — `13729 (we) ir (d) S ...`
 * is a real line — so the fields are counted from the LAST ')' (the kernel writes no ')' after comm).
 */

/**
 * Clock ticks per second of the tick-based fields (starttime). The kernel converts them with
 * USER_HZ, which is 100 on every Linux architecture kernwatch runs on (x86, arm64: include/asm-generic/
 * param.h); sysconf(_SC_CLK_TCK), which Node cannot call, returns this same constant. CONFIG_HZ (250 or
 * 1000) is the scheduler's tick and does not show here.
 */
export const USER_HZ = 100;
const MS_PER_TICK = 1000 / USER_HZ;

/** PF_KTHREAD in the flags field: a kernel thread (never in a container, never under seccomp). */
export const PF_KTHREAD = 0x00200000;

export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z (zombie: exited, not yet reaped), T, t, X, I... */
  state: string;
  ppid: number;
  flags: number;
  /** Field 22: clock ticks (USER_HZ) since boot. */
  startTicks: number;
}

const CH_SPACE = 0x20;
const CH_0 = 0x30;
const CH_9 = 0x39;

/** Parses a /proc/<pid>/stat line; undefined when it is not one. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open <= 0 || close < open) return undefined;
  const pid = decimalAt(text, 0, open);
  if (pid === undefined) return undefined;
  // After ") ": field 3 (state) starts at close + 2; walk the spaces to fields 4, 9 and 22.
  let field = 3;
  let s = close + 2;
  let state = '';
  let ppid: number | undefined;
  let flags: number | undefined;
  let startTicks: number | undefined;
  while (s < text.length && field <= 22) {
    let e = text.indexOf(' ', s);
    if (e < 0) e = text.length;
    if (field === 3) state = text.slice(s, e);
    else if (field === 4) ppid = decimalAt(text, s, e);
    else if (field === 9) flags = decimalAt(text, s, e);
    else if (field === 22) startTicks = decimalAt(text, s, trimEnd(text, s, e));
    field++;
    s = e + 1;
  }
  if (state === '' || ppid === undefined || flags === undefined || startTicks === undefined) return undefined;
  return { pid, comm: text.slice(open + 2, close), state, ppid, flags, startTicks };
}

export function isKernelThread(stat: ProcStat): boolean {
  return (stat.flags & PF_KTHREAD) !== 0;
}

/** Start of a process in ms since the epoch, from its start ticks and the boot time. */
export function startedAtMs(startTicks: number, bootTimeMs: number): number {
  return bootTimeMs + startTicks * MS_PER_TICK;
}

/** `btime` of <procRoot>/stat: boot time in whole seconds since the epoch. */
export function parseBtime(procStatText: string): number | undefined {
  let at = 0;
  if (!procStatText.startsWith('btime ')) {
    const nl = procStatText.indexOf('\nbtime ');
    if (nl < 0) return undefined;
    at = nl + 1;
  }
  const s = at + 6;
  let e = procStatText.indexOf('\n', s);
  if (e < 0) e = procStatText.length;
  return decimalAt(procStatText, s, e);
}

/** First field of <procRoot>/uptime (`3029.08 4225.96`): seconds since boot, CLOCK_BOOTTIME, 10 ms steps. */
export function parseUptimeMs(uptimeText: string): number | undefined {
  let e = uptimeText.indexOf(' ');
  if (e < 0) e = uptimeText.length;
  const v = Number(uptimeText.slice(0, e));
  return Number.isFinite(v) && e > 0 ? v * 1000 : undefined;
}

/**
 * Boot time in ms since the epoch, as the clock that the audit timestamps use (CLOCK_REALTIME) sees it.
 *
 * `btime` alone is whole seconds: a start time built on it can be up to 1 s early, far coarser than the
 * pid-reuse check needs. starttime counts CLOCK_BOOTTIME (suspend included), and so does /proc/uptime,
 * so now - uptime is the boot time to ~10 ms; uptime is truncated to 10 ms, which makes that estimate up
 * to 10 ms late, hence half a tick is taken off. btime is the fallback when uptime is unreadable, and
 * the estimate is refreshed now and then because a stepped wall clock moves it.
 */
export function bootTimeMs(
  nowMs: number,
  uptimeText: string | undefined,
  procStatText: string | undefined,
): number | undefined {
  const up = uptimeText === undefined ? undefined : parseUptimeMs(uptimeText);
  if (up !== undefined) return nowMs - up - MS_PER_TICK / 2;
  const btime = procStatText === undefined ? undefined : parseBtime(procStatText);
  return btime === undefined ? undefined : btime * 1000;
}

function trimEnd(text: string, s: number, e: number): number {
  while (e > s && text.charCodeAt(e - 1) <= CH_SPACE) e--;
  return e;
}

function decimalAt(text: string, s: number, e: number): number | undefined {
  if (e <= s) return undefined;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = text.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return undefined;
    v = v * 10 + (c - CH_0);
  }
  return v;
}
