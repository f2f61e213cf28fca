import {
  EventsV1Api,
  EventsV1Event,
  EventsV1EventSeries,
  PatchStrategy,
  V1MicroTime,
  V1ObjectMeta,
  V1ObjectReference,
  type KubeConfig,
} from '@kubernetes/client-node';
import type { KernwatchEvent } from '../../events.js';
import { kubeRequestOptions } from '../../kube-request-options.js';
import { RetryBackoff } from '../../retry-backoff.js';
import type { Logger } from '../../telemetry/logger.js';
import { RateLimitedWarning } from '../../telemetry/rate-limited-warning.js';
import type { EventSink } from '../event-sink.js';
import { planWrites, SERIES_PHASE, SeriesTable, type DenialSeries } from './denial-series.js';
import { EventNamer } from './event-name.js';
import { TokenBucket } from './token-bucket.js';
import { WRITE_FAILURE, writeFailureOf, type PodEventWriteError } from './write-failure.js';

/**
 * Kubernetes Events (events.k8s.io/v1) on the pod for its denials, the way kubelet reports repeated
 * events: the first denial of a series (see denial-series-key.ts) creates an Event, later ones raise
 * its `series.count`. After client-go's tools/events EventBroadcaster (event_broadcaster.go):
 *
 * - like it: create on the first occurrence, then PATCH `series: {count, lastObservedTime}` with a
 *   strategic merge patch; a PATCH answered 404 (the Event's TTL ran out) creates the Event again;
 *   transport errors and 5xx are retried, other refusals are not; a bounded number of attempts; series
 *   quiet for 6 minutes are forgotten (its `finishTime`);
 * - unlike it: the count is written on a heartbeat (`seriesHeartbeatMs`) instead of only every 30
 *   minutes, so `kubectl get events` stays current during an attack; one global token bucket bounds the
 *   agent's calls (client-go has none on this path); a 429 or 5xx pauses every write (honouring
 *   Retry-After) instead of sleeping per event; a create answered 409 after an earlier attempt of that
 *   name timed out counts as created (the earlier attempt landed) and is patched to the true count.
 *
 * `deliver` only folds events into a bounded in-memory table and returns: no API call per denial, and an
 * API server that hangs or fails never holds up the chain. A single background loop makes the calls.
 */

export const REPORTING_CONTROLLER = 'kernwatch.io/agent';
/** The API server refuses a longer reportingInstance. */
const REPORTING_INSTANCE_MAX = 128;

/** Why denials never reached an Event's count (a bounded metric label). */
export const DROP_REASON = {
  /** The series table was full and this series was the least recently seen. */
  evicted: 'evicted',
  /** The API kept failing for `maxAttempts` tries. */
  retriesExhausted: 'retries_exhausted',
  /** The API server refused the Event (403, 422, a gone namespace…). */
  rejected: 'rejected',
  /** The agent stopped before the count was written (or events arrived after close). */
  shutdown: 'shutdown',
} as const;
export type DropReason = (typeof DROP_REASON)[keyof typeof DROP_REASON];

export interface PodEventReporterOptions {
  kubeConfig: KubeConfig;
  /** This node: `reportingInstance` is `kernwatch-<node>`. */
  node: string;
  log: Logger;
  /** Wall clock, ms since the epoch. Default Date.now. */
  clock?: () => number;
  /**
   * The agent's sustained share of the API server for Events. Default 5/s: every node runs an agent, so
   * a cluster-wide incident costs the API server nodes × 5 calls/s at most.
   */
  callsPerSecond?: number;
  /** Calls allowed at once before the rate applies (the first denials of an incident). Default 25. */
  burst?: number;
  /** A series' count is written at most this often. Default 30 s. */
  seriesHeartbeatMs?: number;
  /** A series written up to date and quiet this long is forgotten; a recurrence is a new Event. Default 6 min. */
  seriesIdleMs?: number;
  /** Series held at most; beyond, the least recently seen is evicted. Default 1000. */
  maxSeries?: number;
  /** Failed attempts before a series is dropped. Default 12 (client-go's maxTriesPerEvent). */
  maxAttempts?: number;
  /** Pause after a failure, doubling up to `retryMaxMs`, with jitter. Default 1 s. */
  retryInitialMs?: number;
  /** Default 60 s. */
  retryMaxMs?: number;
  /** One API call may take this long before it counts as failed. Default 10 s. */
  requestTimeoutMs?: number;
  /** `close` writes what it can for this long, then gives up. Default 5 s. */
  closeTimeoutMs?: number;
}

/** Plain counters for metrics and the shutdown summary. */
export interface PodEventReporterCounters {
  /** Denials folded into a series (coalesced events count as many). */
  folded: number;
  /** Events without a pod (host processes, unresolved attribution): no Kubernetes Event. */
  skippedNoPod: number;
  /** Events created (the first denial of a series). */
  created: number;
  /** Series counts written. */
  patched: number;
  /** Events created again because the server had lost them (a PATCH answered 404). */
  recreated: number;
  /** API calls that failed, each attempt counted. */
  failed: number;
  /** Series pushed out of the full table. */
  evictions: number;
  /** Denials that never reached an Event's count, by reason. */
  dropped: Record<DropReason, number>;
}

export class PodEventReporter implements EventSink {
  readonly bestEffort = true;
  readonly name = 'kubernetes-events';
  readonly counters: PodEventReporterCounters = {
    folded: 0,
    skippedNoPod: 0,
    created: 0,
    patched: 0,
    recreated: 0,
    failed: 0,
    evictions: 0,
    dropped: { evicted: 0, retries_exhausted: 0, rejected: 0, shutdown: 0 },
  };

  private readonly api: EventsV1Api;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly reportingInstance: string;
  private readonly heartbeatMs: number;
  private readonly idleMs: number;
  private readonly maxAttempts: number;
  private readonly requestTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly table: SeriesTable;
  private readonly bucket: TokenBucket;
  private readonly backoff: RetryBackoff;
  private readonly namer = new EventNamer();
  private readonly dropWarning: RateLimitedWarning;
  private pausedUntil = 0;
  private failingSince: number | undefined;
  private closing = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private inFlight: AbortController | undefined;

  constructor(options: PodEventReporterOptions) {
    this.api = options.kubeConfig.makeApiClient(EventsV1Api);
    this.log = options.log;
    this.clock = options.clock ?? Date.now;
    this.reportingInstance = `kernwatch-${options.node}`.slice(0, REPORTING_INSTANCE_MAX);
    this.heartbeatMs = options.seriesHeartbeatMs ?? 30_000;
    this.idleMs = options.seriesIdleMs ?? 6 * 60_000;
    this.maxAttempts = options.maxAttempts ?? 12;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
    this.table = new SeriesTable(options.maxSeries ?? 1000);
    this.bucket = new TokenBucket(options.callsPerSecond ?? 5, options.burst ?? 25, this.clock);
    this.backoff = new RetryBackoff(options.retryInitialMs ?? 1000, options.retryMaxMs ?? 60_000, true);
    this.dropWarning = new RateLimitedWarning(
      this.log,
      'Denials lost for Kubernetes Events (the NATS feed and other sinks still carry them).',
      { level: 'error', now: this.clock },
    );
  }

  /** Series held in memory. */
  get seriesHeld(): number {
    return this.table.size;
  }

  /** True while the API server keeps failing: the last write failed and none succeeded since. */
  get apiFailing(): boolean {
    return this.failingSince !== undefined;
  }

  /** Folds the events into their series and returns at once; never throws, never waits for the API. */
  deliver(events: readonly KernwatchEvent[]): Promise<void> {
    if (this.closing) {
      let lost = 0;
      for (const e of events) if (e.pod !== undefined) lost += e.count;
      if (lost > 0) this.drop(DROP_REASON.shutdown, lost, {});
      return Promise.resolve();
    }
    const now = this.clock();
    let wake = false;
    for (const e of events) {
      try {
        const folded = this.table.fold(e, now);
        if (folded === undefined) {
          this.counters.skippedNoPod++;
          continue;
        }
        this.counters.folded += e.count;
        if (folded.created || folded.becameDirty) wake = true;
        if (folded.evicted !== undefined) {
          this.counters.evictions++;
          const unwritten = folded.evicted.count - folded.evicted.written;
          if (unwritten > 0)
            this.drop(DROP_REASON.evicted, unwritten, { namespace: folded.evicted.regarding.namespace });
        }
      } catch (err) {
        // A bug in building one Event must not cost the chain its batch.
        this.log.debug({ err, eventId: e.id }, 'Could not fold a denial into a Kubernetes Event series.');
      }
    }
    if (wake) this.start();
    return Promise.resolve();
  }

  /**
   * Always true: this sink takes every event (it only folds them in memory), and Kubernetes Events are a
   * courtesy copy of what the other sinks deliver. Reporting an unreachable API server through /readyz
   * would mark every agent unready at once during an API outage and stall DaemonSet rollouts, for no
   * gain. Failures show in `counters`, `apiFailing` and the logs instead.
   */
  healthy(): boolean {
    return true;
  }

  /** Writes what is pending (heartbeat or not) for at most `closeTimeoutMs`; what is left is dropped. */
  async close(): Promise<void> {
    if (this.closing) {
      await this.loop;
      return;
    }
    this.log.debug({ seriesHeld: this.table.size }, 'Writing pending Kubernetes Events before stopping.');
    this.closing = true;
    this.start();
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.closeTimeoutMs);
    });
    await Promise.race([this.loop, deadline]);
    clearTimeout(timer);
    this.stopped = true;
    this.inFlight?.abort();
    this.wake?.();
    await this.loop;
    let lost = 0;
    for (const s of this.table.values()) lost += s.count - s.written;
    if (lost > 0) this.drop(DROP_REASON.shutdown, lost, {});
    this.log.info(
      { ...this.counters, dropped: { ...this.counters.dropped }, seriesHeld: this.table.size },
      'Kubernetes Event reporter stopped.',
    );
  }

  private start(): void {
    this.loop ??= this.run();
    this.wake?.();
  }

  /** The one writer: picks the next due write, waits for the rate limit and any pause, makes the call. */
  private async run(): Promise<void> {
    while (!this.stopped) {
      const now = this.clock();
      if (now < this.pausedUntil) {
        await this.sleep(this.pausedUntil - now);
        continue;
      }
      const plan = planWrites(this.table.values(), now, {
        heartbeatMs: this.heartbeatMs,
        idleMs: this.idleMs,
        flushAll: this.closing,
      });
      for (const s of plan.idle) this.table.delete(s);
      if (plan.next === undefined) {
        // Nothing due: a shutdown is done; otherwise sleep until a heartbeat, an idle series or a new
        // fold. The loop never ends on its own, so a fold cannot slip in while it is winding down.
        if (this.closing) return;
        await this.sleep(plan.wakeInMs);
        continue;
      }
      if (!this.bucket.tryTake()) {
        await this.sleep(this.bucket.msUntilToken());
        continue;
      }
      await this.write(plan.next);
    }
  }

  /**
   * Resolves after `ms` (never, when undefined), or at once when `wake` is called: a new series, one
   * with something new to write, close.
   */
  private sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      if (ms !== undefined) {
        timer = setTimeout(done, ms);
        // The loop must not keep the process alive on its own: close() is what flushes.
        timer.unref();
      }
      this.wake = done;
    });
  }

  private async write(s: DenialSeries): Promise<void> {
    const sending = s.count;
    const create = s.phase === SERIES_PHASE.create;
    s.name ??= this.namer.next(s.regarding.name, this.clock());
    const name = s.name;
    const abort = new AbortController();
    this.inFlight = abort;
    const timer = setTimeout(() => {
      abort.abort();
    }, this.requestTimeoutMs);
    try {
      if (create) {
        await this.api.createNamespacedEvent(
          { namespace: s.regarding.namespace, body: this.eventBody(s, name, sending) },
          kubeRequestOptions(abort.signal),
        );
      } else {
        await this.api.patchNamespacedEvent(
          {
            name,
            namespace: s.regarding.namespace,
            body: { series: seriesOf(sending, s.lastObservedMs) },
          },
          kubeRequestOptions(abort.signal, PatchStrategy.StrategicMergePatch),
        );
      }
      this.written(s, sending, create);
    } catch (err) {
      if (this.stopped) return;
      this.counters.failed++;
      this.failed(s, sending, writeFailureOf(create ? 'create' : 'patch', name, err));
    } finally {
      clearTimeout(timer);
      this.inFlight = undefined;
    }
  }

  private written(s: DenialSeries, sending: number, create: boolean): void {
    if (create) {
      if (s.recreating) this.counters.recreated++;
      else this.counters.created++;
      s.phase = SERIES_PHASE.created;
      s.recreating = false;
      s.unconfirmedCreateCount = undefined;
    } else {
      this.counters.patched++;
    }
    s.written = sending;
    s.attempts = 0;
    s.lastWriteAt = this.clock();
    this.backoff.reset();
    if (this.failingSince !== undefined) {
      this.log.info(
        { failedForMs: this.clock() - this.failingSince },
        'Kubernetes Events are being written again.',
      );
      this.failingSince = undefined;
    }
  }

  private failed(s: DenialSeries, sending: number, failure: PodEventWriteError): void {
    const create = s.phase === SERIES_PHASE.create;
    switch (failure.kind) {
      case WRITE_FAILURE.notFound:
        if (create) {
          // The namespace is gone (and with it the pod): nothing to attach the Event to.
          this.dropSeries(s, DROP_REASON.rejected, failure);
          return;
        }
        // The Event expired (the API server's --event-ttl, 1 h by default) or was deleted while the series
        // went on: create it again, with the whole count as its series.
        s.phase = SERIES_PHASE.create;
        s.name = undefined;
        s.written = 0;
        s.recreating = true;
        return;
      case WRITE_FAILURE.alreadyExists:
        if (s.unconfirmedCreateCount !== undefined) {
          // An earlier attempt of this very name timed out or lost its answer, and did land. The server
          // shows at least that attempt's count; a patch brings it up to date.
          s.phase = SERIES_PHASE.created;
          s.written = s.unconfirmedCreateCount;
          s.unconfirmedCreateCount = undefined;
          if (s.recreating) this.counters.recreated++;
          else this.counters.created++;
          s.recreating = false;
          s.lastWriteAt = this.clock();
          return;
        }
        // Someone else's Event holds the name: take another one.
        s.name = undefined;
        this.attempted(s, failure);
        return;
      case WRITE_FAILURE.transient:
        // The server may have taken the create and lost only its answer; the first attempt carried the
        // smallest count, so that is the least the Event can show if one attempt landed.
        if (create) s.unconfirmedCreateCount ??= sending;
        if (this.failingSince === undefined) {
          this.failingSince = this.clock();
          this.log.warn(
            { err: failure, status: failure.status },
            'Cannot write Kubernetes Events; retrying with backoff (denials still reach every other sink).',
          );
        }
        if (!this.attempted(s, failure)) return;
        this.pausedUntil = this.clock() + Math.max(this.backoff.next(), failure.retryAfterMs ?? 0);
        return;
      case WRITE_FAILURE.rejected:
        this.dropSeries(s, DROP_REASON.rejected, failure);
        return;
    }
  }

  /** Counts an attempt; false (and the series dropped) once attempts are used up. */
  private attempted(s: DenialSeries, failure: PodEventWriteError): boolean {
    s.attempts++;
    if (s.attempts < this.maxAttempts) return true;
    this.dropSeries(s, DROP_REASON.retriesExhausted, failure);
    return false;
  }

  private dropSeries(s: DenialSeries, reason: DropReason, failure: PodEventWriteError): void {
    this.table.delete(s);
    const lost = s.count - s.written;
    if (lost > 0)
      this.drop(reason, lost, { namespace: s.regarding.namespace, status: failure.status, err: failure });
  }

  private drop(reason: DropReason, count: number, fields: Record<string, unknown>): void {
    this.counters.dropped[reason] += count;
    this.dropWarning.add(count, { reason, ...fields });
  }

  /** The generated model classes, filled field by field: client-node serialises by their attribute maps. */
  private eventBody(s: DenialSeries, name: string, count: number): EventsV1Event {
    const metadata = new V1ObjectMeta();
    metadata.name = name;
    metadata.namespace = s.regarding.namespace;
    const regarding = new V1ObjectReference();
    regarding.kind = s.regarding.kind;
    regarding.apiVersion = s.regarding.apiVersion;
    regarding.namespace = s.regarding.namespace;
    regarding.name = s.regarding.name;
    regarding.uid = s.regarding.uid;
    if (s.regarding.fieldPath !== undefined) regarding.fieldPath = s.regarding.fieldPath;
    const event = new EventsV1Event();
    event.apiVersion = 'events.k8s.io/v1';
    event.kind = 'Event';
    event.metadata = metadata;
    // MicroTime: the server parses exactly six fractional digits. client-node's V1MicroTime writes them;
    // a plain Date (three digits) is refused with 400.
    event.eventTime = new V1MicroTime(s.firstObservedMs);
    // A first write of several denials (a coalesced event, or a create that waited) is a series at once.
    if (count >= 2) event.series = seriesOf(count, s.lastObservedMs);
    event.reportingController = REPORTING_CONTROLLER;
    event.reportingInstance = this.reportingInstance;
    event.action = s.action;
    event.reason = s.reason;
    event.regarding = regarding;
    event.note = s.note;
    event.type = 'Warning';
    return event;
  }
}

function seriesOf(count: number, lastObservedMs: number): EventsV1EventSeries {
  const series = new EventsV1EventSeries();
  series.count = count;
  series.lastObservedTime = new V1MicroTime(lastObservedMs);
  return series;
}
