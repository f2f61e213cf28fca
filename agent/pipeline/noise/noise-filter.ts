import { ConfigError } from '../../errors.js';
import { NOISE_REASON, type KernwatchEvent } from '../../events.js';
import { ContainerRateLimit } from './container-rate-limit.js';
import { AuditTimeReader } from '../../audit-time.js';
import { denialKey, subjectKey } from './denial-identity.js';
import { addDenial, byLine, heldEvent, holdDenial, type HeldDenials } from './held-denials.js';
import { newNoiseCounters, type NoiseCounters } from './noise-counters.js';

/** An event on its way through the chain, with the chain's line number of its first record. */
export interface HeldInput {
  event: KernwatchEvent;
  /** Increasing along the stream; the checkpoint must not pass a line whose denial is held. */
  line: number;
}

export interface NoiseFilterOptions {
  /** Identical denials within this much audit time are published as one event. 0: no coalescing. */
  coalesceWindowMs: number;
  /** Events per container per second of audit time beyond which a summary is published. 0: no limit. */
  perContainerPerSecond: number;
  /** Open coalescing windows (distinct identities) kept at once; the oldest is closed beyond it. */
  maxGroups?: number;
  /** Rate-limit buckets kept at once; the oldest is dropped beyond it. */
  maxContainers?: number;
}

/**
 * Thousands of identities within two seconds only happen in a flood, which the rate limit already
 * handles; each window holds at most one event, so this bounds memory to a few MB.
 */
export const DEFAULT_MAX_GROUPS = 8192;
/** A node runs at most a few hundred containers (kubelet's default is 110 pods). */
export const DEFAULT_MAX_CONTAINERS = 2048;

/** One identity's coalescing window, opened by the denial that went out at once. */
interface CoalesceWindow {
  readonly subject: string;
  readonly denial: string;
  /** The subject's windows, this one among them (to remove it without a second lookup). */
  readonly siblings: Map<string, CoalesceWindow>;
  /** Audit time (ms) of the opener: the window is [startMs, endMs). */
  readonly startMs: number;
  readonly endMs: number;
  /** The line of the denial that opened the window (see oldestHeldLine). */
  readonly openerLine: number;
  /** The identical denials after the opener, once there is one. */
  held: HeldDenials | undefined;
}

/**
 * Noise control between attribution and the sinks: pure, synchronous, no I/O, no timers; the caller
 * passes its monotonic clock in.
 *
 * Coalescing: the first denial of an identity (denialIdentity) goes out at once with count 1, because
 * security must hear of it without delay, and opens a window of `coalesceWindowMs` of AUDIT time. The
 * identical denials inside the window are held as one event (the first of them is its representative:
 * its id and fields; `count` = how many) which is emitted when the stream's audit time reaches the
 * window's end, or when the wall clock says it was held a whole window (an idle stream, due()). The next
 * identical denial after that opens a new window.
 *
 * Why audit time: the groups depend only on the records and their order, never on batching or on how
 * fast they were read, so re-reading the same records after a crash rebuilds the same events with the
 * same ids and the NATS sink's dedup by id removes the repeats. (oldestHeldLine keeps the checkpoint
 * before the window's opener for exactly that.) The stream's time is the audit time of the latest event,
 * not the highest seen: one corrupt far-future stamp or a clock stepped forward then closes the open
 * windows once instead of disabling coalescing until the real clock catches up; a clock stepped back
 * closes the windows it left in the future (isOver).
 *
 * The rate limit (ContainerRateLimit) applies to the events that would go out at once (window openers);
 * coalesced events and summaries never take a token, since they already stand for many denials and are
 * bounded by the windows. A denial folded into a summary opens no window.
 *
 * Every denial admitted ends up in exactly one emitted event's count, and is counted on the way (see
 * NoiseCounters). The known limit: a window closed by the wall clock (due()) is the one decision not
 * made from the records; after a crash right after such a close, re-reading may group differently.
 */
export class NoiseFilter {
  readonly counters: NoiseCounters = newNoiseCounters();
  private readonly windowMs: number;
  private readonly maxGroups: number;
  private readonly rateLimit: ContainerRateLimit | undefined;
  /** Open windows by subject, then by denial (see denial-identity.ts for why two levels). */
  private readonly bySubject = new Map<string, Map<string, CoalesceWindow>>();
  /**
   * Open windows in the order they were opened; their ends are (nearly) in the same order. Sets of the
   * window objects themselves: insertion-ordered, and an object's hash costs nothing to compute.
   */
  private readonly windows = new Set<CoalesceWindow>();
  /** Windows holding denials, in the order of their first held denial (= wall-clock order). */
  private readonly holding = new Set<CoalesceWindow>();
  private readonly auditTime = new AuditTimeReader();
  /** The first window's end and start less a window: most events skip the sweep with two compares. */
  private sweepAtMs = Number.POSITIVE_INFINITY;
  private sweepBeforeMs = Number.NEGATIVE_INFINITY;
  /** Audit time of the latest event; events without a readable time are placed at it. */
  private streamMs = 0;

  constructor(o: NoiseFilterOptions) {
    const maxGroups = o.maxGroups ?? DEFAULT_MAX_GROUPS;
    const maxContainers = o.maxContainers ?? DEFAULT_MAX_CONTAINERS;
    if (!(Number.isFinite(o.coalesceWindowMs) && o.coalesceWindowMs >= 0)) {
      throw new ConfigError(`noise.coalesceWindow must be 0 or more ms, not ${String(o.coalesceWindowMs)}.`);
    }
    if (!(Number.isFinite(o.perContainerPerSecond) && o.perContainerPerSecond >= 0)) {
      throw new ConfigError(
        `noise.perContainerPerSecond must be 0 or more, not ${String(o.perContainerPerSecond)}.`,
      );
    }
    if (
      !Number.isInteger(maxGroups) ||
      maxGroups < 1 ||
      !Number.isInteger(maxContainers) ||
      maxContainers < 1
    ) {
      throw new ConfigError('The noise filter needs maxGroups and maxContainers of at least 1.');
    }
    this.windowMs = o.coalesceWindowMs;
    this.maxGroups = maxGroups;
    this.rateLimit =
      o.perContainerPerSecond > 0
        ? new ContainerRateLimit(o.perContainerPerSecond, maxContainers, this.counters)
        : undefined;
  }

  /**
   * Takes a batch in stream order and returns what goes out now, in order: events passed at once, and
   * held events whose window the batch's audit times closed (each before the event that closed it).
   * `nowMs` (monotonic) only dates when denials were first held, for due().
   */
  admit(batch: readonly HeldInput[], nowMs: number): KernwatchEvent[] {
    const out: KernwatchEvent[] = [];
    for (const { event, line } of batch) this.admitOne(event, line, nowMs, out);
    return out;
  }

  /**
   * Held events whose stream went idle: a coalesced event held a whole window of wall-clock time since
   * its first held denial, a summary held a whole rate-limit period. In stream order.
   */
  due(nowMs: number): KernwatchEvent[] {
    const closed: HeldDenials[] = [];
    for (const w of this.holding) {
      if (w.held === undefined || w.held.heldSinceMs + this.windowMs > nowMs) break;
      this.forget(w);
      this.holding.delete(w);
      closed.push(w.held);
    }
    this.refreshSweepAt();
    this.rateLimit?.due(nowMs, closed);
    this.counters.closedIdle += closed.length;
    return this.emitAll(closed);
  }

  /** At shutdown: everything held, as events in stream order; the filter is empty afterwards. */
  drain(): KernwatchEvent[] {
    const closed: HeldDenials[] = [];
    for (const w of this.holding) if (w.held !== undefined) closed.push(w.held);
    this.holding.clear();
    this.windows.clear();
    this.bySubject.clear();
    this.refreshSweepAt();
    this.rateLimit?.drain(closed);
    this.counters.drained += closed.length;
    return this.emitAll(closed);
  }

  /**
   * The chain must not checkpoint past this line. For a coalescing window that holds denials it is the
   * line of the window's OPENER (already published), not of the held representative: a crash then
   * re-reads the opener too, the window forms again exactly as before, and the held event comes out with
   * the same id and count. Resuming between the opener and the representative would instead publish the
   * representative alone (a duplicate id with count 1, dropped by the NATS dedup) and regroup the rest
   * under a new id: counted twice. For a held summary, likewise, the first line of its bucket's period
   * (see ContainerRateLimit.oldestHeldLine). Windows holding nothing need no protection: nothing of
   * theirs is unpublished.
   */
  oldestHeldLine(): number | undefined {
    let oldest = this.rateLimit?.oldestHeldLine();
    // Few windows hold at once (only repeating identities), so a scan is cheap; openers are in line
    // order among all windows but not among the holding ones.
    for (const w of this.holding) if (oldest === undefined || w.openerLine < oldest) oldest = w.openerLine;
    return oldest;
  }

  /** When (caller's monotonic ms) due() will next have something; undefined while nothing is held. */
  nextDueMs(): number | undefined {
    let next = this.rateLimit?.nextDueMs();
    for (const w of this.holding) {
      if (w.held !== undefined) {
        const at = w.held.heldSinceMs + this.windowMs;
        if (next === undefined || at < next) next = at;
      }
      break;
    }
    return next;
  }

  /** Open coalescing windows, held coalesced events, held summaries and rate-limit buckets, for metrics. */
  get sizes(): { windows: number; held: number; summaries: number; buckets: number } {
    return {
      windows: this.windows.size,
      held: this.holding.size,
      summaries: this.rateLimit?.heldSummaries ?? 0,
      buckets: this.rateLimit?.buckets ?? 0,
    };
  }

  private admitOne(e: KernwatchEvent, line: number, nowMs: number, out: KernwatchEvent[]): void {
    this.counters.admitted++;
    const parsed = this.auditTime.ms(e.time);
    const t = Number.isNaN(parsed) ? this.streamMs : parsed;
    this.streamMs = t;
    // Windows and periods the stream has left behind close before this event: emissions stay in stream
    // order, and closing per event (not per batch) keeps the groups independent of batch boundaries.
    if (t >= this.sweepAtMs || t < this.sweepBeforeMs) this.sweep(t, out);
    this.rateLimit?.sweep(t, out);

    if (this.windowMs === 0) {
      if (this.mayPass(e, t, line, nowMs, out)) {
        this.counters.passed++;
        out.push(e);
      }
      return;
    }
    const subject = subjectKey(e);
    const denial = denialKey(e);
    let siblings = this.bySubject.get(subject);
    const w = siblings?.get(denial);
    if (w !== undefined) {
      if (!this.isOver(w, t)) {
        this.counters.coalesced++;
        if (w.held === undefined) {
          w.held = holdDenial(NOISE_REASON.coalesced, e, line, t, nowMs);
          this.holding.add(w);
        } else {
          addDenial(w.held, e, t);
        }
        return;
      }
      // A window the sweep has not reached yet (opened out of audit-time order): over all the same.
      this.close(w, out);
      this.refreshSweepAt();
    }
    if (!this.mayPass(e, t, line, nowMs, out)) return;
    // The evicted window's held denials are older than this one: they go out first.
    if (this.windows.size >= this.maxGroups) this.evictOldest(out);
    this.counters.passed++;
    out.push(e);
    // The subject's map may have gone with the window closed above or an evicted one.
    siblings = this.bySubject.get(subject);
    if (siblings === undefined) {
      siblings = new Map();
      this.bySubject.set(subject, siblings);
    }
    const opened: CoalesceWindow = {
      subject,
      denial,
      siblings,
      startMs: t,
      endMs: t + this.windowMs,
      openerLine: line,
      held: undefined,
    };
    siblings.set(denial, opened);
    this.windows.add(opened);
    if (this.windows.size === 1) this.refreshSweepAt();
  }

  /** Out at once unless the rate limit folds it into its container's summary (which counts it). */
  private mayPass(e: KernwatchEvent, t: number, line: number, nowMs: number, out: KernwatchEvent[]): boolean {
    return this.rateLimit === undefined || this.rateLimit.take(e, t, line, nowMs, out);
  }

  private sweep(t: number, out: KernwatchEvent[]): void {
    for (const w of this.windows) {
      // Deleting the entry being visited is safe while iterating a Set.
      if (!this.isOver(w, t)) break;
      this.close(w, out);
    }
    this.refreshSweepAt();
  }

  /** Too many identities at once: the oldest window closes early, its held event goes out, not away. */
  private evictOldest(out: KernwatchEvent[]): void {
    for (const w of this.windows) {
      this.close(w, out);
      this.counters.groupsEvicted++;
      break;
    }
    this.refreshSweepAt();
  }

  private close(w: CoalesceWindow, out: KernwatchEvent[]): void {
    this.forget(w);
    if (w.held === undefined) return;
    this.holding.delete(w);
    this.counters.coalescedEvents++;
    out.push(heldEvent(w.held));
  }

  /** Removes an open window from the lookup and the order (not from `holding`). */
  private forget(w: CoalesceWindow): void {
    this.windows.delete(w);
    w.siblings.delete(w.denial);
    // An empty map per past subject would grow without bound (unresolved subjects are pids).
    if (w.siblings.size === 0) this.bySubject.delete(w.subject);
  }

  /**
   * Stream time reached the window's end, or went back more than a window before its start: the clock
   * was stepped back (or one stamp was far in the future). Without the second case such a window would
   * absorb every identical denial until the real clock caught up with it, hours maybe.
   */
  private isOver(w: CoalesceWindow, t: number): boolean {
    return t >= w.endMs || t < w.startMs - this.windowMs;
  }

  private refreshSweepAt(): void {
    this.sweepAtMs = Number.POSITIVE_INFINITY;
    this.sweepBeforeMs = Number.NEGATIVE_INFINITY;
    for (const w of this.windows) {
      this.sweepAtMs = w.endMs;
      this.sweepBeforeMs = w.startMs - this.windowMs;
      break;
    }
  }

  /** Held denials closed together (due, drain) as events in stream order, counted by kind. */
  private emitAll(closed: HeldDenials[]): KernwatchEvent[] {
    closed.sort(byLine);
    const events: KernwatchEvent[] = [];
    for (const h of closed) {
      if (h.reason === NOISE_REASON.coalesced) this.counters.coalescedEvents++;
      else this.counters.summaries++;
      events.push(heldEvent(h));
    }
    return events;
  }
}
