import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../telemetry/logger.js';
import type { PodMetadata } from '../attribution-types.js';
import { podMetadataFromObject } from './pod-metadata.js';
import { PodListWatch, type PodListWatchCounters } from './pod-list-watch.js';

export interface PodStoreOptions {
  nodeName: string;
  logger: Logger;
  /** The API server; undefined turns the store off (lookups answer undefined: CRI-only attribution). */
  kubeConfig: KubeConfig | undefined;
  /**
   * How long a deleted pod stays answerable: its denials are often read after it is gone (a pod killed
   * by seccomp and deleted by its Job). Default 5 minutes.
   */
  retentionMs?: number;
  /** Bound on pods held, deleted ones in retention included. A node runs at most a few hundred. Default 1000. */
  maxPods?: number;
  watchTimeoutSeconds?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Wall clock in ms since the epoch (`deletedAtMs`); tests pass one they move. */
  now?: () => number;
}

export interface PodStoreCounters extends PodListWatchCounters {
  /** Pods dropped: retention over, or the size bound reached. */
  evictions: number;
  /** Objects from the API without uid, name or namespace. */
  malformed: number;
}

/**
 * The pods of this node, from a list+watch (never one API call per lookup): uid → labels, controller
 * owner, IPs. Deleted pods stay `retentionMs`. Lookups are synchronous map reads, so they never hold up
 * the chain, and answer undefined while the store is off, not yet synced, or the pod is unknown.
 */
export class PodStore {
  private readonly listWatch: PodListWatch | undefined;
  private readonly log: Logger;
  private readonly nodeName: string;
  private readonly retentionMs: number;
  private readonly maxPods: number;
  private readonly now: () => number;
  private readonly pods = new Map<string, PodMetadata>();
  /** `namespace/name` → uid of the newest pod with that name. */
  private readonly uidByName = new Map<string, string>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private evictions = 0;
  private malformed = 0;

  constructor(options: PodStoreOptions) {
    this.log = options.logger;
    this.nodeName = options.nodeName;
    this.retentionMs = options.retentionMs ?? 5 * 60_000;
    this.maxPods = options.maxPods ?? 1000;
    this.now = options.now ?? Date.now;
    if (options.kubeConfig !== undefined) {
      this.listWatch = new PodListWatch({
        kubeConfig: options.kubeConfig,
        nodeName: options.nodeName,
        logger: options.logger,
        handlers: {
          replace: (pods) => {
            this.replace(pods);
          },
          upsert: (pod) => {
            this.upsert(pod);
          },
          remove: (pod) => {
            this.remove(pod);
          },
        },
        ...(options.watchTimeoutSeconds === undefined
          ? {}
          : { watchTimeoutSeconds: options.watchTimeoutSeconds }),
        ...(options.retryInitialMs === undefined ? {} : { retryInitialMs: options.retryInitialMs }),
        ...(options.retryMaxMs === undefined ? {} : { retryMaxMs: options.retryMaxMs }),
      });
    }
  }

  get enabled(): boolean {
    return this.listWatch !== undefined;
  }

  /** True once the first list of the node's pods arrived. */
  get synced(): boolean {
    return this.listWatch?.synced ?? false;
  }

  /** The resourceVersion the informer resumes from (for diagnostics). */
  get resourceVersion(): string | undefined {
    return this.listWatch?.resourceVersion;
  }

  /** Pods held, deleted ones in retention included. */
  get size(): number {
    return this.pods.size;
  }

  get counters(): PodStoreCounters {
    const base = this.listWatch?.counters ?? { lists: 0, watches: 0, events: 0, expired: 0, errors: 0 };
    return { ...base, evictions: this.evictions, malformed: this.malformed };
  }

  /** Starts the informer in the background; returns at once (see `waitForSync`). */
  start(): void {
    if (this.listWatch === undefined) {
      this.log.info('No Kubernetes API server configured; pods get no labels or owners (CRI metadata only).');
      return;
    }
    this.log.info({ node: this.nodeName }, 'Watching the pods of this node.');
    this.listWatch.start();
    const period = Math.max(1000, Math.min(this.retentionMs, 60_000));
    this.sweepTimer = setInterval(() => {
      this.sweep();
    }, period);
    this.sweepTimer.unref();
  }

  /** Resolves true once synced (at once if it already was), false on timeout or when the store is off or stopped first. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    return this.listWatch?.waitForSync(timeoutMs) ?? Promise.resolve(false);
  }

  byUid(uid: string): PodMetadata | undefined {
    const pod = this.pods.get(uid);
    if (pod === undefined) return undefined;
    if (this.expired(pod)) {
      this.evict(pod);
      return undefined;
    }
    return pod;
  }

  byName(namespace: string, name: string): PodMetadata | undefined {
    const uid = this.uidByName.get(nameKey(namespace, name));
    return uid === undefined ? undefined : this.byUid(uid);
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.listWatch?.stop();
  }

  private replace(objects: readonly unknown[]): void {
    const listed = new Set<string>();
    for (const object of objects) {
      const pod = this.upsert(object);
      if (pod !== undefined) listed.add(pod.uid);
    }
    // Deleted while the watch was down: the relist is the only sign.
    const now = this.now();
    for (const pod of [...this.pods.values()]) {
      if (pod.deletedAtMs === undefined && !listed.has(pod.uid)) this.store({ ...pod, deletedAtMs: now });
    }
  }

  private upsert(object: unknown): PodMetadata | undefined {
    const pod = podMetadataFromObject(object);
    if (pod === undefined) {
      this.malformed++;
      return undefined;
    }
    const key = nameKey(pod.namespace, pod.name);
    const previousUid = this.uidByName.get(key);
    if (previousUid !== undefined && previousUid !== pod.uid) {
      // Same name, new pod (a StatefulSet replica): the old one is gone even if its DELETED was missed.
      const old = this.pods.get(previousUid);
      if (old !== undefined && old.deletedAtMs === undefined) this.store({ ...old, deletedAtMs: this.now() });
    }
    this.store(pod);
    this.uidByName.set(key, pod.uid);
    return pod;
  }

  private remove(object: unknown): void {
    const pod = podMetadataFromObject(object);
    if (pod === undefined) {
      this.malformed++;
      return;
    }
    const known = this.pods.get(pod.uid);
    this.store({ ...pod, deletedAtMs: known?.deletedAtMs ?? this.now() });
    // byName keeps answering with the deleted pod until a new one takes the name.
    if (!this.uidByName.has(nameKey(pod.namespace, pod.name)))
      this.uidByName.set(nameKey(pod.namespace, pod.name), pod.uid);
  }

  private store(pod: PodMetadata): void {
    if (!this.pods.has(pod.uid) && this.pods.size >= this.maxPods) this.makeRoom();
    this.pods.set(pod.uid, Object.freeze(pod));
  }

  private makeRoom(): void {
    this.sweep();
    if (this.pods.size < this.maxPods) return;
    let victim: PodMetadata | undefined;
    for (const pod of this.pods.values()) {
      if (
        pod.deletedAtMs !== undefined &&
        (victim === undefined || pod.deletedAtMs < (victim.deletedAtMs ?? 0))
      ) {
        victim = pod;
      }
    }
    if (victim === undefined) {
      // Only live pods: the oldest insertion goes (Map keeps insertion order).
      victim = this.pods.values().next().value;
      this.log.warn(
        { maxPods: this.maxPods },
        'Pod store full of live pods; dropping the oldest. Raise maxPods.',
      );
    }
    if (victim !== undefined) this.evict(victim);
  }

  private sweep(): void {
    for (const pod of [...this.pods.values()]) if (this.expired(pod)) this.evict(pod);
  }

  private expired(pod: PodMetadata): boolean {
    return pod.deletedAtMs !== undefined && this.now() - pod.deletedAtMs >= this.retentionMs;
  }

  private evict(pod: PodMetadata): void {
    this.pods.delete(pod.uid);
    const key = nameKey(pod.namespace, pod.name);
    if (this.uidByName.get(key) === pod.uid) this.uidByName.delete(key);
    this.evictions++;
  }
}

function nameKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
