import { NOISE_REASON, type KernwatchEvent } from '../../events.js';
import { rateLimitKey } from './denial-identity.js';
import { addDenial, heldEvent, holdDenial, type HeldDenials } from './held-denials.js';
import type { NoiseCounters } from './noise-counters.js';

/** One bucket's current period: how many events it let through, and the summary of those it did not. */
interface RatePeriod {
  readonly key: string;
  /** The line of the period's first event (see oldestHeldLine). */
  readonly startLine: number;
  /** Audit time (ms) of the period's first event, and at which the bucket is full again. */
  readonly startMs: number;
  readonly endMs: number;
  used: number;
  summary: HeldDenials | undefined;
}

/**
 * The per-container rate limit: at most `perSecond` events per bucket (see rateLimitKey) per second of
 * AUDIT time; the rest of that second is folded into one summary event, emitted when the second is over.
 *
 * The bucket holds `capacity` tokens and is refilled completely once per period, counted from the first
 * event after it was last full; it is not refilled continuously. Why: `perContainerPerSecond: 50` reads as
 * "at most 50 a second", and a continuously refilling bucket lets almost twice that through in the first
 * second of a flood (its burst plus what trickles in meanwhile), then interleaves single survivors with
 * the summaries. Here a flood gives exactly `capacity` events, then one summary for the rest of the
 * period, emitted as soon as the stream's audit time shows the period is over (at most one period after
 * the first suppression). For a rate below 1 a second, the period stretches (0.5/s: one event per 2 s).
 *
 * Audit time, not the wall clock, so that the same records always give the same decisions whatever the
 * batching, and re-reading after a crash rebuilds the same events. The wall clock only closes a summary
 * whose stream went idle (due()); the bucket itself stays empty until audit time ends its period.
 */
export class ContainerRateLimit {
  readonly capacity: number;
  readonly periodMs: number;
  /** Current periods in the order they started; their ends are (nearly) in the same order. */
  private readonly periods = new Map<string, RatePeriod>();
  /** Periods that hold a summary, in the order of their first suppression (= stream and wall order). */
  private readonly summaries = new Map<string, RatePeriod>();
  /** The first period's end and start less a period: most events skip the sweep with two compares. */
  private sweepAtMs = Number.POSITIVE_INFINITY;
  private sweepBeforeMs = Number.NEGATIVE_INFINITY;

  constructor(
    perSecond: number,
    private readonly maxBuckets: number,
    private readonly counters: NoiseCounters,
  ) {
    this.capacity = Math.max(1, Math.floor(perSecond));
    this.periodMs = (1000 * this.capacity) / perSecond;
  }

  /** Closes the periods that audit time `auditMs` has ended, emitting their summaries into `out`. */
  sweep(auditMs: number, out: KernwatchEvent[]): void {
    if (auditMs < this.sweepAtMs && auditMs >= this.sweepBeforeMs) return;
    for (const p of this.periods.values()) {
      // Deleting the entry being visited is safe while iterating a Map.
      if (!this.isOver(p, auditMs)) break;
      this.close(p, out);
    }
    this.refreshSweepAt();
  }

  /**
   * True: the event may go out now (a token was taken). False: it was folded into its bucket's summary.
   * Anything emitted on the way (the previous period's summary, an evicted bucket's) goes to `out` first.
   */
  take(e: KernwatchEvent, auditMs: number, line: number, nowMs: number, out: KernwatchEvent[]): boolean {
    const key = rateLimitKey(e);
    let p = this.periods.get(key);
    if (p !== undefined && this.isOver(p, auditMs)) {
      this.close(p, out);
      this.refreshSweepAt();
      p = undefined;
    }
    if (p === undefined) {
      if (this.periods.size >= this.maxBuckets) this.evictOldest(out);
      p = {
        key,
        startLine: line,
        startMs: auditMs,
        endMs: auditMs + this.periodMs,
        used: 0,
        summary: undefined,
      };
      this.periods.set(key, p);
      if (this.periods.size === 1) this.refreshSweepAt();
    }
    if (p.used < this.capacity) {
      p.used++;
      return true;
    }
    this.counters.rateLimited++;
    if (p.summary === undefined) {
      p.summary = holdDenial(NOISE_REASON.rateLimited, e, line, auditMs, nowMs);
      this.summaries.set(key, p);
    } else {
      addDenial(p.summary, e, auditMs);
    }
    return false;
  }

  /** Summaries held for a whole period of wall-clock time (an idle stream); the buckets stay empty. */
  due(nowMs: number, out: HeldDenials[]): void {
    for (const p of this.summaries.values()) {
      const s = p.summary;
      if (s === undefined || s.heldSinceMs + this.periodMs > nowMs) break;
      this.summaries.delete(p.key);
      p.summary = undefined;
      out.push(s);
    }
  }

  /** Every summary held, and all state forgotten (shutdown). */
  drain(out: HeldDenials[]): void {
    for (const p of this.summaries.values()) if (p.summary !== undefined) out.push(p.summary);
    this.summaries.clear();
    this.periods.clear();
    this.refreshSweepAt();
  }

  /**
   * The first line of the oldest period holding a summary. Not the summary's own first line: a period
   * always starts with a full bucket, so re-reading from its first event after a crash takes exactly the
   * same decisions and rebuilds the same summary (same id, same count), which the NATS dedup then drops
   * if it was already published. Resuming inside the period would let the suppressed denials through
   * with a fresh bucket while the published summary already counted them.
   */
  oldestHeldLine(): number | undefined {
    let oldest: number | undefined;
    for (const p of this.summaries.values())
      if (oldest === undefined || p.startLine < oldest) oldest = p.startLine;
    return oldest;
  }

  nextDueMs(): number | undefined {
    for (const p of this.summaries.values()) {
      return p.summary === undefined ? undefined : p.summary.heldSinceMs + this.periodMs;
    }
    return undefined;
  }

  get heldSummaries(): number {
    return this.summaries.size;
  }

  get buckets(): number {
    return this.periods.size;
  }

  /** More containers than the bound: the oldest period ends early (a fresh bucket for it later), never its summary. */
  private evictOldest(out: KernwatchEvent[]): void {
    for (const p of this.periods.values()) {
      this.close(p, out);
      this.counters.containersEvicted++;
      break;
    }
    this.refreshSweepAt();
  }

  private close(p: RatePeriod, out: KernwatchEvent[]): void {
    this.periods.delete(p.key);
    const s = p.summary;
    if (s === undefined) return;
    this.summaries.delete(p.key);
    p.summary = undefined;
    this.counters.summaries++;
    out.push(heldEvent(s));
  }

  /**
   * Audit time reached the period's end, or went back more than a period before its start (a clock
   * stepped back, or one far-future stamp): otherwise that period would last until the real clock caught
   * up with it, and the container would get `capacity` events for all that time.
   */
  private isOver(p: RatePeriod, auditMs: number): boolean {
    return auditMs >= p.endMs || auditMs < p.startMs - this.periodMs;
  }

  private refreshSweepAt(): void {
    this.sweepAtMs = Number.POSITIVE_INFINITY;
    this.sweepBeforeMs = Number.NEGATIVE_INFINITY;
    for (const p of this.periods.values()) {
      this.sweepAtMs = p.endMs;
      this.sweepBeforeMs = p.startMs - this.periodMs;
      break;
    }
  }
}
