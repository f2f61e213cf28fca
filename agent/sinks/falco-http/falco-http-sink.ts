import type { KernwatchEvent } from '../../events.js';
import { ConfigError, ERROR_CODES, KernwatchError } from '../../errors.js';
import { RetryBackoff } from '../../retry-backoff.js';
import type { Logger } from '../../telemetry/logger.js';
import { RateLimitedWarning } from '../../telemetry/rate-limited-warning.js';
import type { EventSink } from '../event-sink.js';
import { toFalcoAlert } from '../falco-format.js';
import { DropOldestQueue } from './drop-oldest-queue.js';
import { falcoHttpUrl } from './falco-http-url.js';
import { POST_OUTCOME, postAlert, type PostResult } from './post-alert.js';

/** Why an alert was never delivered; the `reason` label of the drop metric (bounded). */
export const FALCO_HTTP_DROP_REASON = {
  /** The queue was full: the oldest queued alert made room for a new one. */
  queueFull: 'queue_full',
  /** falcosidekick (or a proxy in front of it) refused the alert with a 4xx: sending it again cannot help. */
  rejected: 'rejected',
  /** The alert failed `maxAttempts` times in a row. */
  retriesExhausted: 'retries_exhausted',
  /** Still queued or in flight when `close()` gave up waiting. */
  abandonedAtClose: 'abandoned_at_close',
} as const;
export type FalcoHttpDropReason = (typeof FALCO_HTTP_DROP_REASON)[keyof typeof FALCO_HTTP_DROP_REASON];
/** Drops while running; those at close are logged once by close(). */
type LoggedDropReason = Exclude<FalcoHttpDropReason, typeof FALCO_HTTP_DROP_REASON.abandonedAtClose>;

/** Plain numbers the metrics read at scrape time. */
export interface FalcoHttpSinkCounters {
  /** Alerts falcosidekick accepted (2xx). */
  sent: number;
  /** Failed attempts (no connection, timeout, 5xx, 408, 429) after which the alert was queued again. */
  retries: number;
  dropped: Record<FalcoHttpDropReason, number>;
  /** Alerts waiting to be sent, not counting those in flight. */
  queued: number;
  /** Requests under way. */
  inFlight: number;
}

export interface FalcoHttpSinkOptions {
  /** `falco+http://HOST:PORT/PATH`, `falco+https://...`, or the same without `falco+`. */
  url: string;
  log: Logger;
  /** Alerts held while falcosidekick is slow or away; beyond it the oldest are dropped. */
  maxQueuedEvents?: number;
  /** Requests at once while falcosidekick answers (one while it does not). */
  concurrency?: number;
  /** One request, connect to end of response. */
  requestTimeoutMs?: number;
  /** How long `close()` waits for the queue to drain. */
  closeTimeoutMs?: number;
  /** Attempts per alert before it is dropped as `retries_exhausted`. */
  maxAttempts?: number;
  /** First delay after a failure; it doubles per failure (jittered) up to `retryMaxMs`. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** For tests: the jitter's random source (1 makes every pause its full step). */
  random?: () => number;
}

const DEFAULTS = {
  maxQueuedEvents: 10_000,
  // falcosidekick takes one alert per request and fans it out in goroutines, so a few parallel requests
  // keep up with any realistic denial rate without opening a connection per alert.
  concurrency: 4,
  requestTimeoutMs: 5_000,
  closeTimeoutMs: 2_000,
  maxAttempts: 10,
  // A falcosidekick pod restart takes seconds: retry soon, then back off so a long outage costs one
  // request per 30 s per node.
  retryInitialMs: 250,
  retryMaxMs: 30_000,
} as const;

interface PendingAlert {
  readonly event: KernwatchEvent;
  /** Serialised on first send (not in `deliver`, on the chain's time) and kept for retries. */
  body: string | undefined;
  attempts: number;
}

/**
 * Falco-format alerts POSTed one per request to falcosidekick's HTTP input (`/`, JSON), so that every
 * falcosidekick output (Slack, Loki, Elasticsearch, ...) receives kernel denials next to Falco's own.
 *
 * Best effort, on purpose: `deliver` only queues and resolves at once, and never fails. falcosidekick
 * itself keeps nothing (it forwards each alert in memory and acknowledges before its outputs do), so
 * holding the source checkpoint for it would buy no durability while letting a falcosidekick outage stop
 * every other sink, the responders and the NATS feed, which is the durable record. Instead the alerts
 * wait in a bounded queue in memory, and when it is full the OLDEST are dropped: after a long outage the
 * recent denials are the ones still worth an alert, and memory stays bounded whatever the denial rate.
 * Every drop is counted by reason and logged as a rate-limited error (it is data loss).
 *
 * Sending: up to `concurrency` requests at once, each with a timeout. A failure that may pass (no
 * connection, timeout, 5xx, 408, 429) puts the alert back at the front of the queue and pauses sending
 * for a jittered, doubling delay; while falcosidekick is unreachable, one request at a time probes it,
 * so a down receiver is not hit by every worker of every node at once. Any 2xx clears the pause.
 * A 4xx (or a redirect) means the alert is refused as it is: it is dropped and counted as `rejected`.
 * An alert is also dropped after `maxAttempts` failures, so that one alert the receiver can never take
 * (its handler crashing on it drops the connection) cannot hold back all the others.
 */
export class FalcoHttpSink implements EventSink {
  readonly bestEffort = true;
  readonly name: string;
  readonly url: string;
  private readonly log: Logger;
  private readonly queue: DropOldestQueue<PendingAlert>;
  private readonly concurrency: number;
  private readonly requestTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoff: RetryBackoff;
  private readonly stats: FalcoHttpSinkCounters = {
    sent: 0,
    retries: 0,
    dropped: { queue_full: 0, rejected: 0, retries_exhausted: 0, abandoned_at_close: 0 },
    queued: 0,
    inFlight: 0,
  };
  /** Drops are data loss (ERROR), but may happen per alert: one line per interval with the count. */
  private readonly dropWarnings: Record<LoggedDropReason, RateLimitedWarning>;
  /** Aborts the requests still under way when `close()` stops waiting. */
  private readonly stopper = new AbortController();
  private reachable = true;
  private lastFailure: KernwatchError | undefined;
  private failuresSinceReachable = 0;
  private unreachableSince = 0;
  /** No request starts before this time (the backoff pause after a failure). */
  private resumeAt = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private readonly requests = new Set<Promise<void>>();

  constructor(options: FalcoHttpSinkOptions) {
    this.url = falcoHttpUrl(options.url);
    this.name = `falco-http:${this.url}`;
    this.log = options.log;
    const maxQueued = positiveInteger('maxQueuedEvents', options.maxQueuedEvents, DEFAULTS.maxQueuedEvents);
    this.queue = new DropOldestQueue(maxQueued);
    this.concurrency = positiveInteger('concurrency', options.concurrency, DEFAULTS.concurrency);
    this.requestTimeoutMs = positiveInteger(
      'requestTimeoutMs',
      options.requestTimeoutMs,
      DEFAULTS.requestTimeoutMs,
    );
    this.closeTimeoutMs = positiveInteger('closeTimeoutMs', options.closeTimeoutMs, DEFAULTS.closeTimeoutMs);
    this.maxAttempts = positiveInteger('maxAttempts', options.maxAttempts, DEFAULTS.maxAttempts);
    const initialMs = positiveInteger('retryInitialMs', options.retryInitialMs, DEFAULTS.retryInitialMs);
    const maxMs = positiveInteger('retryMaxMs', options.retryMaxMs, Math.max(initialMs, DEFAULTS.retryMaxMs));
    if (maxMs < initialMs) {
      throw new ConfigError(
        `falco-http retryMaxMs (${String(maxMs)}) is below retryInitialMs (${String(initialMs)}).`,
      );
    }
    this.backoff = new RetryBackoff(initialMs, maxMs, true, options.random);
    const warn = (message: string): RateLimitedWarning =>
      new RateLimitedWarning(this.log, message, { level: 'error' });
    this.dropWarnings = {
      queue_full: warn('The falcosidekick alert queue is full; dropped the oldest alerts.'),
      rejected: warn('falcosidekick refused alerts; dropped them.'),
      retries_exhausted: warn('Alerts failed every attempt to reach falcosidekick; dropped them.'),
    };
  }

  /** Counters for the metrics; live, read them at scrape time. */
  get counters(): Readonly<FalcoHttpSinkCounters> {
    return this.stats;
  }

  /** The failure that made falcosidekick count as unreachable, until the next success. */
  get lastError(): KernwatchError | undefined {
    return this.reachable ? undefined : this.lastFailure;
  }

  /** Queues the alerts and returns at once: nothing here waits for the network (see the class comment). */
  deliver(events: readonly KernwatchEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    if (this.closing !== undefined) {
      // The chain delivers nothing after close; should it race, the loss is counted, not thrown.
      this.stats.dropped.abandoned_at_close += events.length;
      return Promise.resolve();
    }
    let evicted = 0;
    for (const event of events) {
      if (this.queue.push({ event, body: undefined, attempts: 0 }) !== undefined) evicted++;
    }
    if (evicted > 0) {
      this.drop(FALCO_HTTP_DROP_REASON.queueFull, evicted, { maxQueuedEvents: this.queue.capacity });
    }
    this.pump();
    return Promise.resolve();
  }

  /** False from a failed attempt (falcosidekick unreachable or failing) until the next success. */
  healthy(): boolean {
    return this.reachable && !this.stopped;
  }

  /** Waits up to `closeTimeoutMs` for the queue to drain, then aborts what is left and counts it. */
  close(): Promise<void> {
    this.closing ??= this.drainThenStop();
    return this.closing;
  }

  private async drainThenStop(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.idle(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.closeTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.stopped = true;
    clearTimeout(this.resumeTimer);
    const abandoned = this.queue.clear() + this.stats.inFlight;
    this.stopper.abort();
    // Aborted requests settle at once; waiting for them leaves no request running after close().
    await Promise.allSettled(this.requests);
    this.stats.queued = 0;
    if (abandoned > 0) {
      this.stats.dropped.abandoned_at_close += abandoned;
      this.log.error(
        { sink: this.name, count: abandoned, closeTimeoutMs: this.closeTimeoutMs, err: this.lastError },
        'falcosidekick alerts were still queued at shutdown; dropped them.',
      );
    }
  }

  private idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.stats.inFlight === 0;
  }

  /** Starts as many requests as the limit and the backoff pause allow. */
  private pump(): void {
    if (this.stopped) return;
    const limit = this.reachable ? this.concurrency : 1;
    while (this.stats.inFlight < limit && this.queue.length > 0) {
      const wait = this.resumeAt - Date.now();
      if (wait > 0) {
        this.wakeIn(wait);
        break;
      }
      const alert = this.queue.shift();
      if (alert === undefined) break;
      this.stats.inFlight++;
      const request = this.send(alert).finally(() => this.requests.delete(request));
      this.requests.add(request);
    }
    this.stats.queued = this.queue.length;
  }

  private wakeIn(ms: number): void {
    if (this.resumeTimer !== undefined) return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      this.pump();
    }, ms);
    // A pending retry must not keep a finished process alive; close() decides how long to wait.
    this.resumeTimer.unref();
  }

  private async send(alert: PendingAlert): Promise<void> {
    alert.attempts++;
    let result: PostResult | KernwatchError;
    try {
      alert.body ??= JSON.stringify(toFalcoAlert(alert.event));
      const signal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(this.requestTimeoutMs)]);
      result = await postAlert(this.url, alert.body, signal);
    } catch (err) {
      // postAlert never throws, and a parsed event always converts; should that ever break, the counters
      // must still balance, or close() would wait for a request that never ends.
      result = new KernwatchError(ERROR_CODES.sink, `Cannot build the alert of event ${alert.event.id}`, {
        cause: err,
      });
    }
    this.stats.inFlight--;
    // After close() gave up, this alert was already counted as abandoned.
    if (this.stopped) return;
    if (result instanceof KernwatchError) this.drop(FALCO_HTTP_DROP_REASON.rejected, 1, { err: result });
    else this.settle(alert, result);
    this.pump();
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private settle(alert: PendingAlert, result: PostResult): void {
    switch (result.outcome) {
      case POST_OUTCOME.sent:
        this.stats.sent++;
        this.markReachable();
        return;
      case POST_OUTCOME.rejected:
        // An answer, even a refusal, proves falcosidekick is up.
        this.markReachable();
        this.drop(FALCO_HTTP_DROP_REASON.rejected, 1, { status: result.status, err: result.error });
        return;
      case POST_OUTCOME.retry:
        this.markUnreachable(result.error);
        if (alert.attempts >= this.maxAttempts) {
          this.drop(FALCO_HTTP_DROP_REASON.retriesExhausted, 1, {
            attempts: alert.attempts,
            err: result.error,
          });
          return;
        }
        this.stats.retries++;
        if (!this.queue.unshift(alert)) {
          this.drop(FALCO_HTTP_DROP_REASON.queueFull, 1, { maxQueuedEvents: this.queue.capacity });
        }
        return;
    }
  }

  private markReachable(): void {
    this.backoff.reset();
    this.resumeAt = 0;
    if (this.reachable) return;
    this.reachable = true;
    this.log.info(
      {
        sink: this.name,
        failedAttempts: this.failuresSinceReachable,
        unreachableMs: Date.now() - this.unreachableSince,
      },
      'falcosidekick is reachable again; sending the queued alerts.',
    );
    this.failuresSinceReachable = 0;
  }

  private markUnreachable(error: KernwatchError): void {
    this.lastFailure = error;
    this.failuresSinceReachable++;
    const now = Date.now();
    // Requests that were in flight together fail together: only the first of them extends the pause,
    // or `concurrency` failures would multiply the backoff step at once.
    if (this.resumeAt <= now) this.resumeAt = now + this.backoff.next();
    if (!this.reachable) return;
    this.reachable = false;
    this.unreachableSince = now;
    this.log.warn(
      { sink: this.name, err: error, retryInMs: this.resumeAt - now },
      'Cannot deliver alerts to falcosidekick; keeping them queued and retrying with backoff.',
    );
  }

  private drop(reason: LoggedDropReason, count: number, fields: Record<string, unknown> = {}): void {
    this.stats.dropped[reason] += count;
    this.dropWarnings[reason].add(count, { sink: this.name, ...fields });
  }
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(`falco-http ${name} must be a positive integer, not ${String(value)}.`);
  }
  return value;
}
