import type { KernwatchEvent, NoiseReason } from '../../events.js';

/**
 * Denials held back to be published as one event: the first one is the representative (its id, its
 * fields), the others only add to the count and the time span. The id is the representative's own: it
 * was never published on its own, and re-reading the same records yields the same representative, so the
 * NATS sink's dedup by id still holds.
 */
export interface HeldDenials {
  readonly reason: NoiseReason;
  readonly representative: KernwatchEvent;
  /** The chain's line of the representative's first record. */
  readonly line: number;
  /** Wall clock (the caller's monotonic ms) when the first denial was held: idle streams close by it. */
  readonly heldSinceMs: number;
  count: number;
  firstMs: number;
  firstTime: string;
  lastMs: number;
  lastTime: string;
}

export function holdDenial(
  reason: NoiseReason,
  e: KernwatchEvent,
  line: number,
  auditMs: number,
  nowMs: number,
): HeldDenials {
  return {
    reason,
    representative: e,
    line,
    heldSinceMs: nowMs,
    count: e.count,
    firstMs: auditMs,
    firstTime: e.time,
    lastMs: auditMs,
    lastTime: e.time,
  };
}

/** Audit times may arrive slightly out of order (a record is stamped at syscall entry, written at exit). */
export function addDenial(h: HeldDenials, e: KernwatchEvent, auditMs: number): void {
  h.count += e.count;
  if (auditMs < h.firstMs) {
    h.firstMs = auditMs;
    h.firstTime = e.time;
  }
  if (auditMs > h.lastMs) {
    h.lastMs = auditMs;
    h.lastTime = e.time;
  }
}

/** The event the held denials are published as; the representative itself is not modified. */
export function heldEvent(h: HeldDenials): KernwatchEvent {
  return {
    ...h.representative,
    count: h.count,
    noise: { reason: h.reason, firstTime: h.firstTime, lastTime: h.lastTime },
  };
}

/** Held denials in stream order (by their representative's line), for emissions gathered from two places. */
export function byLine(a: HeldDenials, b: HeldDenials): number {
  return a.line - b.line;
}
