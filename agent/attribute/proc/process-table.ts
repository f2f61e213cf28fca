import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, KernwatchError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import { PROCESS_LOOKUP, type ProcessAttribution, type ProcessIdentity } from '../attribution-types.js';
import { cgroupIdentity } from './cgroup-identity.js';
import { ProcFileReader } from './proc-file-reader.js';
import { bootTimeMs, isKernelThread, parseProcStat, startedAtMs, type ProcStat } from './proc-stat.js';

/**
 * pid → process identity (container id, pod uid), kept for processes that are already gone.
 *
 * A seccomp KILL ends the process, and its parent usually reaps it at once: by the time the record is
 * read, /proc/<pid> is gone. So a periodic scan lists <procRoot> and reads stat + cgroup of every pid it
 * has not seen before, and the identities it read stay in a bounded cache keyed by pid and start time.
 * lookup() reads the live process when it exists and started before the record, and falls back to the
 * newest cached process of that pid that started before the record and had not ended by then.
 *
 * Pid reuse: a live process that started after the record is another process (start ticks); when this
 * process sees the pid namespace of <procRoot> (hostPID, or /proc itself), each tick also reads
 * sys/kernel/ns_last_pid, the allocator's cursor: the pids handed out since the last tick are known, so a
 * known pid handed out again is read anew, and a cached process whose pid went to a process no scan saw
 * gets no records from that time on. Without it (a pod without hostPID reading /host/proc) only the
 * start-time checks apply.
 *
 * Costs (measured by test/bench/attribution-bench.ts): a listing is ~0.4 µs per process plus ~20-50 µs
 * per new process read; a tick with no new pid (ns_last_pid unchanged) skips the listing and costs one
 * pread. The timer is unref'd, reads are synchronous (see ProcFileReader), and a tick reads at most
 * `maxReadsPerScan` processes; the rest wait for the next tick.
 */

export interface ProcessTableOptions {
  /** /proc, or /host/proc inside a pod. */
  procRoot?: string;
  /**
   * How often new pids are looked for. A process that lives less than this may be missed. 20 ms: every
   * process living 50 ms or more is attributed, and about two thirds of those living 10 ms, for ~1% of
   * one core on an idle node (test/bench/attribution-bench.ts); 10 ms catches ~all of the 10 ms ones at
   * about twice the idle cost (the timer's wake-ups dominate it).
   */
  scanIntervalMs?: number;
  /** Pids kept (live and gone); the least recently stored are evicted first. */
  maxEntries?: number;
  /** Identities kept per pid (one per process that had this pid). */
  identitiesPerPid?: number;
  /**
   * Slack when comparing a process's start with a record's time: starttime has 10 ms ticks, the boot
   * time estimate ~5 ms, and the audit timestamp is the kernel's coarse clock (one jiffy, 4 ms at
   * HZ=250, late ticks on an idle CPU). A pid reused within this window after a record is the only thing
   * it could confuse, and that needs the whole pid space to wrap in that time.
   */
  startToleranceMs?: number;
  /**
   * How long a process caught inside the runtime's init (comm `runc:[2:INIT]`) outside any container is
   * read again at every tick. `runc exec` (kubectl exec) forks that process in runc's own cgroup and
   * writes it into the container's cgroup only afterwards; it then execs the command with the same pid
   * and start time. Until a read finds it in a container, its host identity is provisional: a lookup
   * answers unknown rather than host for it.
   */
  settleMs?: number;
  /** Bound on stat+cgroup reads per tick (the pre-warm scan at start() reads every process). */
  maxReadsPerScan?: number;
  log?: Logger;
}

export const PROCESS_TABLE_DEFAULTS = {
  procRoot: '/proc',
  scanIntervalMs: 20,
  maxEntries: 16_384,
  identitiesPerPid: 4,
  startToleranceMs: 50,
  settleMs: 1000,
  maxReadsPerScan: 256,
} as const;

/** For metrics: monotonically increasing counts. */
export interface ProcessTableCounters {
  /** Ticks that listed procRoot. */
  scans: number;
  /** Ticks that saw no new pid allocated and skipped the listing. */
  scansSkipped: number;
  /** Processes whose stat (and cgroup) a scan or a lookup read. */
  pidsRead: number;
  /** cgroup re-reads of processes caught in the runtime's init outside a container. */
  rechecks: number;
  /** New pids left to the next tick by maxReadsPerScan. */
  deferred: number;
  /** Lookups answered with an identity from the cache (live with a known start, or gone). */
  cacheHits: number;
  /** Lookups that found no identity ('unknown'). */
  misses: number;
  /** Pids dropped to stay within maxEntries. */
  evictions: number;
  lookupsLive: number;
  lookupsCached: number;
  lookupsUnknown: number;
  /** Reads that failed for another reason than "process gone" (e.g. EACCES), and failed listings. */
  readErrors: number;
}

/** Time spent in scan ticks (including skipped ones), for the scan's CPU cost. */
export interface ScanCost {
  ticks: number;
  totalMicros: number;
  maxMicros: number;
  lastMicros: number;
}

interface Entry {
  identity: ProcessIdentity;
  /** The process ended before this: the first scan that no longer found it, or its successor's start. */
  goneAtMs: number | undefined;
  /** Its pid was handed to a process no scan saw after this time: later records are not surely its. */
  ambiguousAfterMs?: number;
  /** Read outside a container while in the runtime's init (see settleMs): not a settled host identity. */
  provisional?: boolean;
}

const BOOT_TIME_REFRESH_MS = 1000;

export class ProcessTable {
  private readonly procRoot: string;
  private readonly scanIntervalMs: number;
  private readonly maxEntries: number;
  private readonly identitiesPerPid: number;
  private readonly toleranceMs: number;
  private readonly settleMs: number;
  private readonly maxReadsPerScan: number;
  private readonly log: Logger | undefined;
  private readonly reader = new ProcFileReader();
  /** pid → identities of the processes that had it, oldest first. Map order = least recently stored first. */
  private readonly entries = new Map<number, Entry[]>();
  /** pid → generation of the last listing that showed it. */
  private readonly seen = new Map<number, number>();
  /** Provisional entries (runtime init outside a container): read again until settleMs. */
  private readonly unsettled = new Map<number, Entry>();
  private generation = 0;
  private bootMs: number;
  private bootReadAtMs: number;
  /** Open fd of <procRoot>/sys/kernel/ns_last_pid when it describes procRoot's pid namespace. */
  private lastPidFd: number | undefined;
  private lastPid: number | undefined;
  private lastPidReadAtMs = 0;
  private pidMax = 4_194_304;
  /** Listed pids the last tick had no budget to read. */
  private readonly deferred = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private warnedListing = false;
  private readonly count: ProcessTableCounters = {
    scans: 0,
    scansSkipped: 0,
    pidsRead: 0,
    rechecks: 0,
    deferred: 0,
    cacheHits: 0,
    misses: 0,
    evictions: 0,
    lookupsLive: 0,
    lookupsCached: 0,
    lookupsUnknown: 0,
    readErrors: 0,
  };
  private readonly cost: ScanCost = { ticks: 0, totalMicros: 0, maxMicros: 0, lastMicros: 0 };

  /** Reads the boot time at once: throws a KernwatchError when procRoot is not a readable procfs. */
  constructor(options: ProcessTableOptions = {}) {
    const d = PROCESS_TABLE_DEFAULTS;
    this.procRoot = options.procRoot ?? d.procRoot;
    this.scanIntervalMs = positive('scanIntervalMs', options.scanIntervalMs ?? d.scanIntervalMs);
    this.maxEntries = positive('maxEntries', options.maxEntries ?? d.maxEntries);
    this.identitiesPerPid = positive('identitiesPerPid', options.identitiesPerPid ?? d.identitiesPerPid);
    this.toleranceMs = options.startToleranceMs ?? d.startToleranceMs;
    this.settleMs = options.settleMs ?? d.settleMs;
    this.maxReadsPerScan = positive('maxReadsPerScan', options.maxReadsPerScan ?? d.maxReadsPerScan);
    this.log = options.log;
    const now = Date.now();
    const boot = this.readBootTime(now);
    if (boot === undefined) {
      throw new KernwatchError(
        ERROR_CODES.attribution,
        `Cannot read the boot time from ${join(this.procRoot, 'uptime')} or ${join(this.procRoot, 'stat')}`,
        { cause: this.reader.lastError },
      );
    }
    this.bootMs = boot;
    this.bootReadAtMs = now;
  }

  /** Pre-warms the cache with every process now, then scans every scanIntervalMs. */
  start(): void {
    if (this.timer !== undefined) return;
    this.lastPidFd = this.seesOwnPidNamespace() ? this.openLastPid() : undefined;
    const t0 = process.hrtime.bigint();
    try {
      this.scan(true);
    } catch (err) {
      throw new KernwatchError(ERROR_CODES.attribution, `Cannot list ${this.procRoot}`, { cause: err });
    }
    this.log?.info(
      {
        procRoot: this.procRoot,
        processes: this.seen.size,
        cached: this.entries.size,
        ms: Number(process.hrtime.bigint() - t0) / 1e6,
        scanIntervalMs: this.scanIntervalMs,
        skipsIdleScans: this.lastPidFd !== undefined,
      },
      'Process table pre-warmed.',
    );
    this.timer = setInterval(() => {
      this.scanOnce();
    }, this.scanIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.lastPidFd !== undefined) closeSync(this.lastPidFd);
    this.lastPidFd = undefined;
  }

  /** One scan tick, as the timer runs it (bounded, may skip the listing when no pid was allocated). */
  scanOnce(): void {
    const t0 = process.hrtime.bigint();
    try {
      this.scan(false);
    } catch (err) {
      this.count.readErrors++;
      if (!this.warnedListing) {
        this.warnedListing = true;
        this.log?.warn(
          { err, procRoot: this.procRoot },
          'Cannot list the process directory; gone processes may go unattributed.',
        );
      }
    }
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    this.cost.ticks++;
    this.cost.totalMicros += us;
    this.cost.lastMicros = us;
    if (us > this.cost.maxMicros) this.cost.maxMicros = us;
  }

  /**
   * Who `pid` was at `atMs` (ms since the epoch, the record's time). Synchronous: a few µs from the
   * cache, ~20 µs when the live process must be read.
   */
  lookup(pid: number, atMs: number): ProcessAttribution {
    const stat = this.readStat(pid);
    if (stat !== undefined && !isKernelThread(stat)) this.supersede(stat);
    if (stat !== undefined && startedAtMs(stat.startTicks, this.bootMs) <= atMs + this.toleranceMs) {
      const known = this.find(pid, stat.startTicks);
      if (known?.identity.containerId !== undefined) return this.answer(PROCESS_LOOKUP.live, known, true);
      const text = this.reader.read(join(this.procRoot, String(pid), 'cgroup'));
      if (text !== undefined) {
        const id = cgroupIdentity(text);
        // A zombie's v1 lines read '/': without a 0:: line naming its container, the read says nothing.
        if (id.containerId !== undefined || stat.state !== 'Z') {
          return this.answer(PROCESS_LOOKUP.live, this.store(stat, id, Date.now()), false);
        }
      }
      if (known !== undefined && known.provisional !== true)
        return this.answer(PROCESS_LOOKUP.cached, known, true);
    }
    // Gone, or the pid now belongs to a process that started after the record.
    const cached = this.cachedAt(pid, atMs);
    if (cached !== undefined) return this.answer(PROCESS_LOOKUP.cached, cached, true);
    this.count.misses++;
    this.count.lookupsUnknown++;
    return { lookup: PROCESS_LOOKUP.unknown };
  }

  counters(): Readonly<ProcessTableCounters> {
    return { ...this.count, readErrors: this.count.readErrors + this.reader.unexpectedErrors };
  }

  scanCost(): Readonly<ScanCost> {
    return { ...this.cost };
  }

  /** Pids in the cache. */
  get size(): number {
    return this.entries.size;
  }

  private answer(lookup: ProcessAttribution['lookup'], entry: Entry, fromCache: boolean): ProcessAttribution {
    if (fromCache) this.count.cacheHits++;
    if (lookup === PROCESS_LOOKUP.live) this.count.lookupsLive++;
    else this.count.lookupsCached++;
    return { lookup, identity: entry.identity };
  }

  private scan(full: boolean): void {
    const now = Date.now();
    if (now - this.bootReadAtMs >= BOOT_TIME_REFRESH_MS) {
      const boot = this.readBootTime(now);
      if (boot !== undefined) this.bootMs = boot;
      this.bootReadAtMs = now;
    }
    let budget = full ? Number.POSITIVE_INFINITY : this.maxReadsPerScan;
    budget -= this.recheckUnsettled(now, budget);
    // Pids handed out since the previous read of ns_last_pid: (from, to], wrapping at pid_max.
    let from = -1;
    let to = -1;
    const previousReadAtMs = this.lastPidReadAtMs;
    if (this.lastPidFd !== undefined) {
      // Read before listing: a pid allocated after this read shows up as a change at the next tick.
      const text = this.reader.readOpen(this.lastPidFd);
      const parsed = text === undefined ? Number.NaN : Number.parseInt(text, 10);
      const current = Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : undefined;
      const previous = this.lastPid;
      this.lastPid = current;
      this.lastPidReadAtMs = now;
      if (!full && current !== undefined && current === previous && this.deferred.size === 0) {
        this.count.scansSkipped++;
        return;
      }
      if (current !== undefined && previous !== undefined && current !== previous) {
        from = previous;
        to = current;
      }
    }
    const allocated = (pid: number): boolean =>
      from >= 0 && (from < to ? pid > from && pid <= to : pid > from || pid <= to);
    const names = readdirSync(this.procRoot);
    this.count.scans++;
    const gen = ++this.generation;
    this.deferred.clear();
    for (const name of names) {
      const pid = pidOfName(name);
      if (pid === undefined) continue;
      if (this.seen.has(pid)) {
        this.seen.set(pid, gen);
        // A pid we knew, handed out again since the last tick: the process we knew ended and another
        // one has its pid now. readNew tells them apart by start ticks.
        if (allocated(pid) && budget > 0) {
          budget--;
          this.readNew(pid, now);
        }
        continue;
      }
      // Not marked seen: the next tick takes it up.
      if (budget <= 0) {
        this.deferred.add(pid);
        continue;
      }
      budget--;
      if (this.readNew(pid, now)) this.seen.set(pid, gen);
    }
    for (const [pid, g] of this.seen) {
      if (g !== gen) {
        this.seen.delete(pid);
        this.markGone(pid, now);
      }
    }
    this.count.deferred += this.deferred.size;
    if (from >= 0) this.boundReusedUnseen(allocated, from, to, previousReadAtMs, now);
  }

  /**
   * A pid handed out since the last tick that is not listed now belonged, for part of that interval,
   * to a process (or thread) no scan saw. The process cached for that pid had ended before then, and a
   * record from that interval may be the unseen process's: such records get no identity at all.
   */
  private boundReusedUnseen(
    allocated: (pid: number) => boolean,
    from: number,
    to: number,
    previousReadAtMs: number,
    now: number,
  ): void {
    const span = from < to ? to - from : this.pidMax - from + to;
    const check = (pid: number): void => {
      if (!allocated(pid) || this.seen.has(pid) || this.deferred.has(pid)) return;
      const list = this.entries.get(pid);
      const newest = list?.[list.length - 1];
      if (newest === undefined || newest.identity.startedAtMs + this.toleranceMs >= previousReadAtMs) return;
      newest.goneAtMs = Math.min(newest.goneAtMs ?? now, now);
      newest.ambiguousAfterMs ??= previousReadAtMs;
    };
    if (span <= this.entries.size) {
      for (let i = 1; i <= span; i++) check(((from + i - 1) % this.pidMax) + 1);
    } else {
      for (const pid of this.entries.keys()) check(pid);
    }
  }

  /** Reads a pid first seen by a scan. False when it was gone before it could be read. */
  private readNew(pid: number, now: number): boolean {
    const stat = this.readStat(pid);
    if (stat === undefined) return false;
    if (isKernelThread(stat)) return true;
    if (this.find(pid, stat.startTicks) !== undefined) return true;
    this.supersede(stat);
    const text = this.reader.read(join(this.procRoot, String(pid), 'cgroup'));
    if (text === undefined) return false;
    const id = cgroupIdentity(text);
    if (stat.state === 'Z' && id.containerId === undefined) return true;
    this.store(stat, id, now);
    return true;
  }

  /** `stat` is a later process than the newest one cached for its pid: that one ended before it started. */
  private supersede(stat: ProcStat): void {
    const list = this.entries.get(stat.pid);
    const newest = list?.[list.length - 1];
    if (newest === undefined || newest.identity.startTicks >= stat.startTicks) return;
    const started = startedAtMs(stat.startTicks, this.bootMs);
    newest.goneAtMs = Math.min(newest.goneAtMs ?? started, started);
  }

  /** Reads again the cgroup of provisional entries. Returns the reads spent. */
  private recheckUnsettled(now: number, budget: number): number {
    let spent = 0;
    for (const [pid, entry] of this.unsettled) {
      if (spent >= budget) break;
      if (entry.goneAtMs !== undefined) {
        this.unsettled.delete(pid);
        continue;
      }
      if (now - entry.identity.startedAtMs >= this.settleMs) {
        // Still outside a container long after it started: a host process after all.
        entry.provisional = false;
        this.unsettled.delete(pid);
        continue;
      }
      spent++;
      this.count.rechecks++;
      const text = this.reader.read(join(this.procRoot, String(pid), 'cgroup'));
      if (text === undefined) {
        this.unsettled.delete(pid);
        continue;
      }
      const id = cgroupIdentity(text);
      if (id.containerId !== undefined) {
        const { pid: p, startTicks, startedAtMs: started, ppid } = entry.identity;
        entry.identity =
          ppid === undefined
            ? { pid: p, startTicks, startedAtMs: started, ...id }
            : { pid: p, startTicks, startedAtMs: started, ppid, ...id };
        entry.provisional = false;
        this.unsettled.delete(pid);
      }
    }
    return spent;
  }

  private readStat(pid: number): ProcStat | undefined {
    const text = this.reader.read(join(this.procRoot, String(pid), 'stat'));
    if (text === undefined) return undefined;
    this.count.pidsRead++;
    return parseProcStat(text);
  }

  private find(pid: number, startTicks: number): Entry | undefined {
    const list = this.entries.get(pid);
    if (list === undefined) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i];
      if (e !== undefined && e.identity.startTicks === startTicks) return e;
    }
    return undefined;
  }

  /**
   * The process that had `pid` at `atMs`: the newest one started by then, unless it had already ended
   * (its pid was seen gone, or reused by a later process) — then the record came from a process the
   * scans never saw, and nothing is returned rather than a wrong identity.
   */
  private cachedAt(pid: number, atMs: number): Entry | undefined {
    const list = this.entries.get(pid);
    if (list === undefined) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i];
      if (e === undefined || e.identity.startedAtMs > atMs + this.toleranceMs) continue;
      const successorStart = list[i + 1]?.identity.startedAtMs;
      const endedBy = Math.min(e.goneAtMs ?? Infinity, successorStart ?? Infinity);
      if (atMs > endedBy + this.toleranceMs) return undefined;
      if (e.ambiguousAfterMs !== undefined && atMs > e.ambiguousAfterMs + this.toleranceMs) return undefined;
      // Caught in the runtime's init and gone before a read found it in its container: unknown, not host.
      if (e.provisional === true) return undefined;
      return e;
    }
    return undefined;
  }

  private store(stat: ProcStat, id: ReturnType<typeof cgroupIdentity>, now: number): Entry {
    const pid = stat.pid;
    const identity: ProcessIdentity = {
      pid,
      startTicks: stat.startTicks,
      startedAtMs: startedAtMs(stat.startTicks, this.bootMs),
      ppid: stat.ppid,
      ...id,
    };
    const entry: Entry = { identity, goneAtMs: undefined };
    if (id.containerId === undefined && isRuntimeInit(stat.comm)) entry.provisional = true;
    let list = this.entries.get(pid);
    if (list === undefined) {
      while (this.entries.size >= this.maxEntries) this.evictOldest();
      list = [];
    } else {
      this.entries.delete(pid);
    }
    this.entries.set(pid, list);
    const same = list.findIndex((e) => e.identity.startTicks === stat.startTicks);
    if (same >= 0) {
      list[same] = entry;
    } else {
      list.push(entry);
      if (list.length > this.identitiesPerPid) list.shift();
    }
    if (entry.provisional === true && now - identity.startedAtMs < this.settleMs)
      this.unsettled.set(pid, entry);
    else this.unsettled.delete(pid);
    return entry;
  }

  private evictOldest(): void {
    const oldest = this.entries.keys().next();
    if (oldest.done === true) return;
    this.entries.delete(oldest.value);
    this.unsettled.delete(oldest.value);
    this.count.evictions++;
  }

  private markGone(pid: number, now: number): void {
    this.unsettled.delete(pid);
    const list = this.entries.get(pid);
    const last = list?.[list.length - 1];
    if (last !== undefined && last.goneAtMs === undefined) last.goneAtMs = now;
  }

  private readBootTime(now: number): number | undefined {
    const uptime = this.reader.read(join(this.procRoot, 'uptime'));
    const stat = uptime === undefined ? this.reader.read(join(this.procRoot, 'stat')) : undefined;
    return bootTimeMs(now, uptime, stat);
  }

  /**
   * ns_last_pid (like /proc/loadavg's last pid) is the READER's pid namespace, whatever procfs it is
   * read through. It says something about <procRoot> only when <procRoot>/self is this very process.
   */
  private openLastPid(): number | undefined {
    try {
      return openSync(join(this.procRoot, 'sys', 'kernel', 'ns_last_pid'), 'r');
    } catch {
      return undefined;
    }
  }

  private seesOwnPidNamespace(): boolean {
    try {
      return readlinkSync(join(this.procRoot, 'self')) === String(process.pid);
    } catch {
      return false;
    }
  }
}

/**
 * runc's init names itself `runc:[0:PARENT]`, `runc:[1:CHILD]`, `runc:[2:INIT]` (nsexec.c) until it
 * execs the container's command; it starts as `runc` (/proc/self/exe init).
 */
function isRuntimeInit(comm: string): boolean {
  return comm === 'runc' || comm.startsWith('runc:[');
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) {
    throw new KernwatchError(ERROR_CODES.config, `ProcessTable ${name} must be a positive number, got ${v}`);
  }
  return v;
}

const CH_0 = 0x30;
const CH_9 = 0x39;

/** `1234` → 1234; `self`, `sys`, `thread-self`... → undefined. */
function pidOfName(name: string): number | undefined {
  let v = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return undefined;
    v = v * 10 + (c - CH_0);
  }
  return name.length === 0 ? undefined : v;
}
