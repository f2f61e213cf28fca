import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';
import { KernwatchError, ERROR_CODES } from '../../errors.js';
import { RetryBackoff } from '../../retry-backoff.js';
import type { Logger } from '../../telemetry/logger.js';
import { resourceVersionOf } from './pod-metadata.js';

/**
 * List-then-watch of one node's pods (`fieldSelector=spec.nodeName=<node>`), the reflector protocol:
 * list, watch from the list's resourceVersion, resume each ended watch from the last version seen
 * (bookmarks keep it current while the node's pods are quiet), relist when the server answers 410, and
 * back off on errors. Runs on client-node's CoreV1Api and Watch; not its ListWatch, which (2.0.1) asks
 * for no bookmarks, stops for good on the first non-410 error, can leak a watch when stopped during
 * its list or reconnect delay, and keeps a second full copy of every Pod.
 */

export interface PodListWatchHandlers {
  /** A (re)list: the complete set of the node's pods at that moment. */
  replace(pods: readonly unknown[]): void;
  upsert(pod: unknown): void;
  remove(pod: unknown): void;
}

export interface PodListWatchOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  logger: Logger;
  handlers: PodListWatchHandlers;
  /** Asked of the server per watch; client-node also ends a watch after 30 s without data. Default 300. */
  watchTimeoutSeconds?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export interface PodListWatchCounters {
  lists: number;
  watches: number;
  /** Watch events received (bookmarks included). */
  events: number;
  /** 410 Gone answers: the version was compacted away, so the next step was a relist. */
  expired: number;
  /** Failed lists and watches (each followed by a backoff). */
  errors: number;
}

type WatchEnd =
  | { kind: 'closed'; events: number; durationMs: number }
  | { kind: 'expired' }
  | { kind: 'error'; error: unknown };

/** A watch that ends this fast without a single event counts as a failure: never reconnect in a tight loop. */
const MIN_HEALTHY_WATCH_MS = 1000;
const STOP_WAIT_MS = 2000;
const HTTP_GONE = 410;

export class PodListWatch {
  readonly counters: PodListWatchCounters = { lists: 0, watches: 0, events: 0, expired: 0, errors: 0 };
  private readonly api: CoreV1Api;
  private readonly watcher: Watch;
  private readonly fieldSelector: string;
  private readonly log: Logger;
  private readonly handlers: PodListWatchHandlers;
  private readonly watchTimeoutSeconds: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly retry: RetryBackoff;
  private rv: string | undefined;
  private listedOnce = false;
  private failing = false;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private abortWatch: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private readonly syncWaiters: ((synced: boolean) => void)[] = [];

  constructor(options: PodListWatchOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.watcher = new Watch(options.kubeConfig);
    this.fieldSelector = `spec.nodeName=${options.nodeName}`;
    this.log = options.logger;
    this.handlers = options.handlers;
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.retryInitialMs = options.retryInitialMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.retry = new RetryBackoff(this.retryInitialMs, this.retryMaxMs);
  }

  /** True once a list succeeded (and stays true: the data then ages, it does not vanish). */
  get synced(): boolean {
    return this.listedOnce;
  }

  /** The version the next watch resumes from; undefined when the next step is a list. */
  get resourceVersion(): string | undefined {
    return this.rv;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves true at the first successful list, false if `timeoutMs` passes or the loop stops first. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.listedOnce) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        resolve(false);
      }, timeoutMs);
      timer.unref();
      this.syncWaiters.push((synced) => {
        clearTimeout(timer);
        resolve(synced);
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    this.abortWatch?.abort();
    this.settleWaiters(false);
    // A list cannot be aborted: do not wait for a server that does not answer. Its result is dropped.
    if (this.loop !== undefined)
      await Promise.race([this.loop, sleep(STOP_WAIT_MS, undefined, { ref: false })]);
  }

  private async run(): Promise<void> {
    // The first list may come from the API server's watch cache (resourceVersion "0": cheap when every
    // node relists at once); after a 410 the reflector lists consistently (no resourceVersion) instead.
    let consistent = false;
    while (!this.stopped) {
      try {
        if (this.rv === undefined) {
          await this.list(consistent);
          consistent = false;
          if (this.stopped) break;
        }
        const end = await this.watchOnce(this.rv ?? '');
        if (this.stopped) break;
        if (end.kind === 'expired') {
          this.counters.expired++;
          this.rv = undefined;
          consistent = true;
          this.log.info(
            { fieldSelector: this.fieldSelector },
            'Pod watch resource version expired; relisting.',
          );
          continue;
        }
        if (end.kind === 'error') throw end.error;
        if (end.events === 0 && end.durationMs < MIN_HEALTHY_WATCH_MS) {
          // Not an error (a proxy may cut idle streams), but never reconnect in a tight loop.
          this.log.debug({ durationMs: end.durationMs }, 'Pod watch ended at once without events.');
          await this.backoff();
          continue;
        }
        this.recovered();
      } catch (err) {
        if (this.stopped) break;
        if (httpStatusOf(err) === HTTP_GONE) {
          this.counters.expired++;
          this.rv = undefined;
          consistent = true;
          continue;
        }
        this.counters.errors++;
        if (!this.failing) {
          this.log.warn(
            { err, fieldSelector: this.fieldSelector },
            'Pod list/watch failed; pod labels and owners may be stale. Retrying with backoff.',
          );
        } else {
          this.log.debug({ err }, 'Pod list/watch failed again.');
        }
        this.failing = true;
        await this.backoff();
      }
    }
    this.settleWaiters(false);
  }

  private async list(consistent: boolean): Promise<void> {
    this.counters.lists++;
    const list = await this.api.listPodForAllNamespaces({
      fieldSelector: this.fieldSelector,
      ...(consistent ? {} : { resourceVersion: '0' }),
    });
    if (this.stopped) return;
    const rv = list.metadata?.resourceVersion;
    if (rv === undefined || rv === '') {
      throw new KernwatchError(ERROR_CODES.attribution, 'Pod list carried no resourceVersion');
    }
    this.handlers.replace(list.items);
    this.rv = rv;
    this.listedOnce = true;
    this.recovered();
    this.settleWaiters(true);
  }

  private watchOnce(resourceVersion: string): Promise<WatchEnd> {
    this.counters.watches++;
    const startedAt = performance.now();
    return new Promise((resolve) => {
      let events = 0;
      let expired = false;
      let errorStatus: unknown;
      let ended = false;
      const onEvent = (type: string, object: unknown): void => {
        if (ended) return;
        this.counters.events++;
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
            this.handlers.upsert(object);
            break;
          case 'DELETED':
            this.handlers.remove(object);
            break;
          case 'BOOKMARK':
            break;
          case 'ERROR':
            // A Status object; the server ends the stream after it.
            if (httpStatusOf(object) === HTTP_GONE) expired = true;
            else errorStatus = object;
            return;
          default:
            return;
        }
        events++;
        this.rv = resourceVersionOf(object) ?? this.rv;
      };
      const onDone = (err: unknown): void => {
        if (ended) return;
        ended = true;
        this.abortWatch = undefined;
        if (expired || httpStatusOf(err) === HTTP_GONE) resolve({ kind: 'expired' });
        else if (errorStatus !== undefined) {
          resolve({
            kind: 'error',
            error: new KernwatchError(
              ERROR_CODES.attribution,
              `Pod watch failed: ${statusMessage(errorStatus)}`,
              {
                cause: errorStatus,
              },
            ),
          });
        } else if (err === null || err === undefined || isTimeout(err) || this.stopped) {
          resolve({ kind: 'closed', events, durationMs: performance.now() - startedAt });
        } else resolve({ kind: 'error', error: err });
      };
      this.watcher
        .watch(
          '/api/v1/pods',
          {
            fieldSelector: this.fieldSelector,
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: this.watchTimeoutSeconds,
          },
          onEvent,
          onDone,
        )
        .then(
          (controller) => {
            if (ended) return;
            if (this.stopped) controller.abort();
            else this.abortWatch = controller;
          },
          (err: unknown) => {
            onDone(err);
          },
        );
    });
  }

  private async backoff(): Promise<void> {
    await sleep(this.retry.next(), undefined, { signal: this.stopSignal.signal }).catch(() => undefined);
  }

  private recovered(): void {
    if (this.failing) this.log.info({ fieldSelector: this.fieldSelector }, 'Pod list/watch recovered.');
    this.failing = false;
    this.retry.reset();
  }

  private settleWaiters(synced: boolean): void {
    for (const waiter of this.syncWaiters.splice(0)) waiter(synced);
  }
}

/** The HTTP status in a client-node ApiException (`code`), a Watch error (`statusCode`) or a Status object. */
function httpStatusOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { code, statusCode } = value as { code?: unknown; statusCode?: unknown };
  if (typeof statusCode === 'number') return statusCode;
  return typeof code === 'number' ? code : undefined;
}

function statusMessage(status: unknown): string {
  if (typeof status !== 'object' || status === null) return 'unknown error';
  const { message, code } = status as { message?: unknown; code?: unknown };
  return `${typeof code === 'number' ? `${code} ` : ''}${typeof message === 'string' ? message : 'unknown error'}`;
}

/** client-node aborts a watch after 30 s without data with a TimeoutError: a normal end, resume from rv. */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}
