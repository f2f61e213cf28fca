/**
 * What the noise filter did, in events. Nothing disappears silently: every admitted event is exactly one
 * of passed, coalesced or rateLimited (admitted = passed + coalesced + rateLimited), and every coalesced or
 * rate-limited event is inside the count of exactly one emitted event once it is emitted (by the stream,
 * by due(), by eviction or by drain()).
 */
export interface NoiseCounters {
  /** Events given to admit(). */
  admitted: number;
  /** Events delivered at once, as they came (count 1): the first of their identity in a window. */
  passed: number;
  /** Events merged into another (held) event of the same identity instead of being published alone. */
  coalesced: number;
  /** Events folded into their container's rate-limit summary. */
  rateLimited: number;
  /** Coalesced events emitted (`noise.reason: "coalesced"`), however they were closed. */
  coalescedEvents: number;
  /** Rate-limit summary events emitted (`noise.reason: "rate_limited"`). */
  summaries: number;
  /** Of the emitted held events: those closed by the wall clock (an idle stream), in due(). */
  closedIdle: number;
  /** Of the emitted held events: those emitted by drain() at shutdown. */
  drained: number;
  /** Coalescing windows closed early because maxGroups was reached (their held event, if any, emitted). */
  groupsEvicted: number;
  /** Rate-limit buckets dropped early because maxContainers was reached (their summary, if any, emitted). */
  containersEvicted: number;
}

export function newNoiseCounters(): NoiseCounters {
  return {
    admitted: 0,
    passed: 0,
    coalesced: 0,
    rateLimited: 0,
    coalescedEvents: 0,
    summaries: 0,
    closedIdle: 0,
    drained: 0,
    groupsEvicted: 0,
    containersEvicted: 0,
  };
}
