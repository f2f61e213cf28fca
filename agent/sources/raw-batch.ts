import type { EventSource } from '../events.js';

/**
 * Lines read from one source in one go. `from` is the source position of the first line and `to` the
 * position just after the last one: the pipeline commits `to` once every sink delivered the batch's
 * events, or an earlier batch's `from` while the parser still holds one of this batch's lines.
 * Positions are opaque to everything but the source that made them, and always JSON-serialisable.
 */
export interface RawBatch<C = unknown> {
  lines: string[];
  from: C;
  to: C;
}

/**
 * Where a source hands its batches. File and journald sources await `put` before reading on (that is
 * their backpressure); /dev/kmsg cannot wait without losing the ring, so it uses `offer` and counts what
 * was refused.
 */
export interface BatchWriter<C = unknown> {
  put(batch: RawBatch<C>): Promise<void>;
  offer(batch: RawBatch<C>): boolean;
}

/** One live source of kernel records. `start` returns once reading began; reading then runs until `stop`. */
export interface LiveSource<C = unknown> {
  /** Stable and unique among the agent's sources, e.g. `auditd:/var/log/audit/audit.log`: names the checkpoint. */
  readonly name: string;
  readonly kind: EventSource;
  start(out: BatchWriter<C>): Promise<void>;
  /** Persists `position` (a batch's `from` or `to`) as where to resume after a restart. */
  commit(position: C): Promise<void>;
  /** Stops reading; resolves when no further batch will be written. */
  stop(): Promise<void>;
  /** Counters for metrics and logs: lines read, batches, drops, loss the source saw. */
  readonly counters: SourceCounters;
}

export interface SourceCounters {
  linesRead: number;
  batches: number;
  /** Batches or records the source could not hand over (kmsg when the queue is full). */
  dropped: number;
  /** Loss the transport itself reported: kmsg EPIPE overruns, journald gaps. */
  transportLoss: number;
  /** Loss the kernel reported in-band: `callbacks suppressed`, `audit: rate limit exceeded`, `audit_lost=`. */
  kernelLoss: number;
  /** Rotations, truncations, child restarts, reopenings. */
  reopens: number;
}

export function newSourceCounters(): SourceCounters {
  return { linesRead: 0, batches: 0, dropped: 0, transportLoss: 0, kernelLoss: 0, reopens: 0 };
}
