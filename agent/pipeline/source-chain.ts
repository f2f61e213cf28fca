import { ERROR_CODES, KernwatchError } from '../errors.js';
import { RetryBackoff } from '../retry-backoff.js';
import type { EventSource, IdentifiedDenial, KernwatchEvent } from '../events.js';
import { AuditStreamParser } from '../parse/audit-stream-parser.js';
import type { EventSink } from '../sinks/event-sink.js';
import type { LiveSource, RawBatch } from '../sources/raw-batch.js';
import type { Logger } from '../telemetry/logger.js';
import { TAKE_RESULT, type BatchQueue } from './batch-queue.js';
import type { HeldInput } from './noise/noise-filter.js';
import type { NoiseFilter } from './noise/noise-filter.js';
import type { RecentEventIds } from './recent-event-ids.js';

export interface DenialAttributor {
  /** Never drops a denial: one event per denial, `attribution: 'unresolved'` when nothing is known. */
  attribute(denials: readonly IdentifiedDenial[], source: EventSource): Promise<KernwatchEvent[]>;
}

export interface SourceChainOptions<C> {
  source: LiveSource<C>;
  queue: BatchQueue<C>;
  attributor: DenialAttributor;
  sinks: readonly EventSink[];
  /** Shared by all chains when several sources are on. */
  recentIds?: RecentEventIds;
  /** How long an event waits for sibling records before it is emitted without them. */
  holdMs: number;
  /** Coalescing and rate limiting between attribution and the sinks (none: every denial published). */
  noise?: NoiseFilter;
  log: Logger;
  /** Monotonic clock in ms. */
  clock?: () => number;
}

export interface ChainCounters {
  batches: number;
  events: number;
  duplicatesDropped: number;
  deliveryRetries: number;
  commits: number;
  commitFailures: number;
}

interface BatchSpan<C> {
  firstLine: number;
  lastLine: number;
  from: C;
  to: C;
}

const MAX_RETRY_DELAY_MS = 5000;
const COMMIT_WARNING_INTERVAL_MS = 60_000;
/** Events without a pod (host processes, unresolved, containers outside Kubernetes). */
export const NO_NAMESPACE = '_host';
/** Namespaces beyond the label bound; a node runs far fewer in practice. */
export const OTHER_NAMESPACES = '_other';
const MAX_DELIVERED_KEYS = 1024;
/** How long an idle chain sleeps when nothing is held: only a new batch can give it work then. */
const IDLE_WAIT_MS = 1000;

/**
 * One source's way through the chain: batch → parser → attributor → every sink → checkpoint. Sequential
 * by design: events of one source stay in order, and the checkpoint can only move over lines whose events
 * every sink has. The parser may hold an event's first lines while it waits for siblings; the checkpoint
 * then stays at the start of the batch holding the oldest such line, so a crash re-reads at most that much.
 */
export class SourceChain<C> {
  readonly parser: AuditStreamParser;
  readonly counters: ChainCounters = {
    batches: 0,
    events: 0,
    duplicatesDropped: 0,
    deliveryRetries: 0,
    commits: 0,
    commitFailures: 0,
  };
  private pendingDenials: IdentifiedDenial[] = [];
  private readonly spans: BatchSpan<C>[] = [];
  /** (time, lines seen) after each batch: which lines are older than the hold time. */
  private readonly lineClock: { atMs: number; lines: number }[] = [];
  private readonly clock: () => number;
  private stopping = false;
  private lastTaken: C | undefined;
  /**
   * The delivery of the last events, then their checkpoint, still under way while the next batch is
   * parsed and attributed: with NATS, a batch's acks take a round trip the chain would otherwise spend
   * idle. One at a time, so events and checkpoints stay in order.
   */
  private inFlight: Promise<void> = Promise.resolve();
  private pendingPosition: C | undefined;
  private committing: Promise<void> | undefined;
  private lastCommitWarningMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: SourceChainOptions<C>) {
    this.clock = o.clock ?? (() => performance.now());
    this.parser = new AuditStreamParser({
      onDenial: (d) => {
        this.pendingDenials.push(d);
      },
    });
  }

  /** Runs until the queue is closed and drained, then emits what the parser and the noise filter hold. */
  async run(): Promise<void> {
    for (;;) {
      const next = await this.o.queue.take(this.waitMs());
      if (next === TAKE_RESULT.closed) break;
      if (next !== TAKE_RESULT.timeout) this.feed(next);
      this.expireHeld();
      await this.deliverAndCommit();
    }
    this.parser.flushAll();
    await this.deliverAndCommit();
    const held = this.o.noise?.drain() ?? [];
    this.launch(held, this.takeCommitPosition());
    await this.inFlight;
    await this.committing;
  }

  /**
   * How long to wait for the next batch: until the oldest held record's hold time ends (so an event
   * without siblings goes out hold time after it was read, not up to a tick later), or until the noise
   * filter has a window to close; idle otherwise.
   */
  private waitMs(): number {
    const now = this.clock();
    let until = Number.POSITIVE_INFINITY;
    if (this.parser.oldestPendingLine() !== undefined) {
      const first = this.lineClock[0];
      until = first === undefined ? now + this.o.holdMs : first.atMs + this.o.holdMs;
    }
    const noiseDue = this.o.noise?.nextDueMs();
    if (noiseDue !== undefined) until = Math.min(until, noiseDue);
    if (!Number.isFinite(until)) return IDLE_WAIT_MS;
    return Math.max(1, Math.min(IDLE_WAIT_MS, Math.ceil(until - now)));
  }

  /** Delivery retries give up once stopping: the checkpoint then stays where it is and nothing is lost. */
  markStopping(): void {
    this.stopping = true;
  }

  private feed(batch: RawBatch<C>): void {
    const firstLine = this.parser.linesSeen + 1;
    for (const line of batch.lines) this.parser.pushLine(line);
    this.counters.batches++;
    const lastLine = this.parser.linesSeen;
    if (lastLine >= firstLine) this.spans.push({ firstLine, lastLine, from: batch.from, to: batch.to });
    else this.spans.push({ firstLine, lastLine: firstLine - 1, from: batch.from, to: batch.to });
    this.lineClock.push({ atMs: this.clock(), lines: lastLine });
  }

  private expireHeld(): void {
    const cutoff = this.clock() - this.o.holdMs;
    let through = -1;
    while (this.lineClock.length > 0 && (this.lineClock[0]?.atMs ?? Infinity) <= cutoff) {
      through = this.lineClock.shift()?.lines ?? through;
    }
    if (through >= 0) this.parser.flushThrough(through);
  }

  private async deliverAndCommit(): Promise<void> {
    const denials = this.pendingDenials;
    let events: KernwatchEvent[] = [];
    if (denials.length > 0) {
      this.pendingDenials = [];
      const attributed = await this.o.attributor.attribute(denials, this.o.source.kind);
      // Duplicates across sources go before the noise filter: a coalesced event must not be dropped
      // because its representative was already seen, with the count it stands for.
      const recent = this.o.recentIds;
      const noise = this.o.noise;
      if (noise === undefined) {
        events = recent === undefined ? attributed : attributed.filter((e) => recent.firstSighting(e.id));
        this.counters.duplicatesDropped += attributed.length - events.length;
      } else {
        const admitted: HeldInput[] = [];
        attributed.forEach((event, i) => {
          if (recent !== undefined && !recent.firstSighting(event.id)) {
            this.counters.duplicatesDropped++;
            return;
          }
          admitted.push({ event, line: denials[i]?.line ?? this.parser.linesSeen });
        });
        events = noise.admit(admitted, this.clock());
      }
    }
    const due = this.o.noise?.due(this.clock());
    if (due !== undefined && due.length > 0) events = events.length === 0 ? due : [...events, ...due];
    const position = this.takeCommitPosition();
    // At most one delivery outstanding: the next batch is parsed while this one is acknowledged, no more.
    await this.inFlight;
    this.launch(events, position);
  }

  /** Starts delivering `events` and then committing `position`, once the previous delivery is done. */
  private launch(events: readonly KernwatchEvent[], position: C | undefined): void {
    if (events.length === 0 && position === undefined) return;
    const previous = this.inFlight;
    const next = (async () => {
      await previous;
      if (events.length > 0) await this.deliverEvents(events);
      if (position !== undefined) this.requestCommit(position);
    })();
    // Handled here so that a failure is not reported as unhandled before the chain awaits it (the next
    // launch, or the end of run()); awaiting `inFlight` still throws it.
    next.catch(() => undefined);
    this.inFlight = next;
  }

  private async deliverEvents(events: readonly KernwatchEvent[]): Promise<void> {
    await this.deliver(events);
    this.counters.events += events.length;
    this.countDelivered(events);
  }

  /** The noise filter's counts, when there is one. */
  get noiseCounters(): NoiseFilter['counters'] | undefined {
    return this.o.noise?.counters;
  }

  /** Delivered events by kind, outcome and namespace, for metrics; namespaces beyond a bound share one key. */
  readonly delivered = new Map<string, number>();

  private countDelivered(events: readonly KernwatchEvent[]): void {
    for (const e of events) {
      let key = `${e.kind}|${e.outcome}|${e.pod?.namespace ?? NO_NAMESPACE}`;
      if (!this.delivered.has(key) && this.delivered.size >= MAX_DELIVERED_KEYS) {
        key = `${e.kind}|${e.outcome}|${OTHER_NAMESPACES}`;
      }
      this.delivered.set(key, (this.delivered.get(key) ?? 0) + 1);
    }
  }

  private async deliver(events: readonly KernwatchEvent[]): Promise<void> {
    if (events.length === 0) return;
    let remaining = [...this.o.sinks];
    const retry = new RetryBackoff(100, MAX_RETRY_DELAY_MS);
    for (;;) {
      const results = await Promise.allSettled(remaining.map((s) => s.deliver(events)));
      const failed: EventSink[] = [];
      results.forEach((r, i) => {
        const sink = remaining[i];
        if (r.status === 'rejected' && sink !== undefined) {
          failed.push(sink);
          this.o.log.warn(
            { sink: sink.name, err: r.reason as unknown },
            'A sink refused a batch; retrying it.',
          );
        }
      });
      if (failed.length === 0) return;
      if (this.stopping) {
        throw new KernwatchError(
          ERROR_CODES.sink,
          `Sinks ${failed.map((s) => s.name).join(', ')} did not take the last batch before shutdown.`,
        );
      }
      this.counters.deliveryRetries++;
      remaining = failed;
      await new Promise((r) => setTimeout(r, retry.next()));
    }
  }

  /**
   * Where the checkpoint may move now that the events emitted so far are on their way: over every line
   * whose events were emitted, never past the oldest line the parser or the noise filter still holds.
   * Undefined when it would not move.
   */
  private takeCommitPosition(): C | undefined {
    if (this.spans.length === 0) return undefined;
    const oldest = minDefined(this.parser.oldestPendingLine(), this.o.noise?.oldestHeldLine());
    let position: C | undefined;
    if (oldest === undefined) {
      position = this.spans[this.spans.length - 1]?.to;
      this.spans.length = 0;
    } else {
      while (this.spans.length > 1 && (this.spans[0]?.lastLine ?? Infinity) < oldest) this.spans.shift();
      position = this.spans[0]?.from;
    }
    if (position === undefined || position === this.lastTaken) return undefined;
    this.lastTaken = position;
    return position;
  }

  /**
   * Saves run beside delivery, not in its way: a checkpoint's fsync can take tens of milliseconds on a
   * busy disk, and the next events must not wait for it. The newest position wins; one save at a time.
   */
  private requestCommit(position: C): void {
    this.pendingPosition = position;
    this.committing ??= this.commitLoop();
  }

  private async commitLoop(): Promise<void> {
    for (let p = this.pendingPosition; p !== undefined; p = this.pendingPosition) {
      this.pendingPosition = undefined;
      await this.commitAt(p);
    }
    this.committing = undefined;
  }

  private async commitAt(position: C): Promise<void> {
    try {
      await this.o.source.commit(position);
      this.counters.commits++;
    } catch (err) {
      // The events are delivered; only the resume point stays behind (a restart reads them again). The
      // next batch retries with a newer position.
      this.counters.commitFailures++;
      const now = this.clock();
      if (now - this.lastCommitWarningMs >= COMMIT_WARNING_INTERVAL_MS) {
        this.lastCommitWarningMs = now;
        this.o.log.error(
          { err, failures: this.counters.commitFailures },
          'Cannot save the checkpoint; after a restart these records will be delivered again.',
        );
      }
    }
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
