import { RetryBackoff } from '../../retry-backoff.js';
import type { Logger } from '../../telemetry/logger.js';
import type { ContainerMetadata } from '../attribution-types.js';
import { CriCallError, CriClient, type CriContainer, type CriVersion } from './cri-client.js';

export interface ContainerDirectoryOptions {
  socketPath: string;
  logger: Logger;
  /** Deadline of each CRI call. Default 2000. */
  callTimeoutMs?: number;
  /** At most one ListContainers per this interval, whatever the number of misses. Default 1000. */
  minRefreshIntervalMs?: number;
  /** How long `resolve` waits for a refresh before answering undefined. Default 5000. */
  resolveTimeoutMs?: number;
  /**
   * How long a container stays resolvable after it left the runtime's list. A container killed by seccomp
   * is often removed (restart, Job cleanup) before its record is read. Default 5 minutes.
   */
  retentionMs?: number;
  /** Bound of the cache; removed containers are evicted first. Default 4096. */
  maxContainers?: number;
  /** Refresh in the background this often while the runtime answers; 0 turns it off. Default 30000. */
  periodicRefreshMs?: number;
  /** Retry delays while the runtime does not answer: doubled from the first up to the cap. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** How long an id that a refresh did not find answers undefined without another refresh. Default 60000. */
  notFoundTtlMs?: number;
  /** Monotonic milliseconds; tests pass a clock they move. */
  now?: () => number;
}

export interface ContainerDirectoryCounters {
  /** Lookups (`get` and `resolve`) answered from the cache. */
  hits: number;
  /** Lookups the cache could not answer at once. */
  misses: number;
  /** ListContainers calls made (failed ones included). */
  refreshes: number;
  /** CRI calls that failed. */
  errors: number;
  /** Entries dropped: retention over, or the size bound reached. */
  evictions: number;
}

interface Entry {
  meta: ContainerMetadata;
  /** `now()` when a refresh first missed the container. */
  removedAt?: number;
  /** PodSandboxStatus failed (not: the sandbox is gone), pod fields came from labels: describe again next refresh. */
  incomplete?: boolean;
}

interface SandboxIdentity {
  name: string;
  namespace: string;
  uid: string;
}

const SANDBOX_GONE = 'gone';
type SandboxLookup = SandboxIdentity | typeof SANDBOX_GONE | undefined;

interface Deferred {
  promise: Promise<boolean>;
  resolve: (ok: boolean) => void;
}

/** Labels the kubelet puts on every container it creates: the fallback when the sandbox is gone. */
const KUBELET_LABEL = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUid: 'io.kubernetes.pod.uid',
} as const;

/** Enough parallel describe calls to fill a node quickly without queueing hundreds at the runtime. */
const DESCRIBE_CONCURRENCY = 8;
const MAX_NOT_FOUND = 1024;

/**
 * Container id → name, image and pod, from the CRI runtime. `get` answers from memory only; `resolve`
 * falls back to a refresh (ListContainers) on a miss. Refreshes are shared and rate-limited: a miss
 * waits for the next refresh that starts after it asked (one that started earlier may predate the
 * container), all misses waiting at that moment share it, and refreshes start at most once per
 * `minRefreshIntervalMs`. A runtime that is down is retried in the background; lookups then answer
 * undefined instead of failing.
 */
export class ContainerDirectory {
  readonly counters: ContainerDirectoryCounters = {
    hits: 0,
    misses: 0,
    refreshes: 0,
    errors: 0,
    evictions: 0,
  };
  private readonly client: CriClient;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly minRefreshIntervalMs: number;
  private readonly resolveTimeoutMs: number;
  private readonly retentionMs: number;
  private readonly maxContainers: number;
  private readonly periodicRefreshMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly notFoundTtlMs: number;

  private readonly entries = new Map<string, Entry>();
  private readonly sandboxes = new Map<string, SandboxIdentity>();
  private readonly sandboxLookups = new Map<string, Promise<SandboxLookup>>();
  /** Ids a refresh that started after their lookup did not find → when that answer expires. */
  private readonly notFound = new Map<string, number>();

  private lastRefreshStartedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<boolean> | undefined;
  private pending: Deferred | undefined;
  private pendingTimer: NodeJS.Timeout | undefined;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private readonly retry: RetryBackoff;
  private reachable: boolean | undefined;
  private stopped = false;
  private runtime: string | undefined;

  constructor(options: ContainerDirectoryOptions) {
    this.client = new CriClient({
      socketPath: options.socketPath,
      ...(options.callTimeoutMs === undefined ? {} : { callTimeoutMs: options.callTimeoutMs }),
    });
    this.log = options.logger;
    this.now = options.now ?? (() => performance.now());
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 1000;
    this.resolveTimeoutMs = options.resolveTimeoutMs ?? 5000;
    this.retentionMs = options.retentionMs ?? 5 * 60_000;
    this.maxContainers = options.maxContainers ?? 4096;
    this.periodicRefreshMs = options.periodicRefreshMs ?? 30_000;
    this.retryInitialMs = options.retryInitialMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.notFoundTtlMs = options.notFoundTtlMs ?? 60_000;
    this.retry = new RetryBackoff(this.retryInitialMs, this.retryMaxMs);
  }

  get socketPath(): string {
    return this.client.socketPath;
  }

  /** Whether the last refresh reached the runtime (undefined before the first one ended). */
  get connected(): boolean | undefined {
    return this.reachable;
  }

  /**
   * The runtime's own name from Version ("containerd", "cri-o"), once it answered: the cgroupfs driver's
   * paths carry a bare container id, so only the runtime can say whose container it is.
   */
  get runtimeName(): string | undefined {
    return this.runtime;
  }

  private async learnRuntimeName(): Promise<void> {
    try {
      this.runtime = (await this.client.version()).runtimeName || undefined;
    } catch (err) {
      this.log.debug({ err }, 'CRI Version failed; the runtime name stays unknown for now.');
    }
  }

  /** Containers held, removed ones in their retention included. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Loads the runtime's containers. Never fails: without a runtime it logs once and keeps retrying in
   * the background (then `connected` is false and lookups answer undefined).
   */
  async start(): Promise<void> {
    await this.refresh();
  }

  /** From memory only: the attributor's fast path. */
  get(containerId: string): ContainerMetadata | undefined {
    const meta = this.lookup(containerId);
    if (meta === undefined) this.counters.misses++;
    else this.counters.hits++;
    return meta;
  }

  /** From memory, else after a refresh that started after this call; undefined if still unknown or on timeout. */
  async resolve(containerId: string): Promise<ContainerMetadata | undefined> {
    const cached = this.lookup(containerId);
    if (cached !== undefined) {
      this.counters.hits++;
      return cached;
    }
    this.counters.misses++;
    // While the runtime is unreachable the background retry owns reconnecting; a lookup must not hold
    // the chain for a refresh that will fail (a containerd without its CRI plugin, say).
    if (this.stopped || this.reachable === false) return undefined;
    const notFoundUntil = this.notFound.get(containerId);
    if (notFoundUntil !== undefined) {
      if (this.now() < notFoundUntil) return undefined;
      this.notFound.delete(containerId);
    }
    const refreshed = await this.withTimeout(this.refresh());
    const found = this.lookup(containerId);
    // A successful refresh that began after this lookup and did not list the id is authoritative: a
    // process can only run in a container that already exists, so the id is not (or no longer) a CRI one.
    if (found === undefined && refreshed) this.rememberNotFound(containerId);
    return found;
  }

  /**
   * Asks for a refresh that starts after this call, shared with every caller until it starts, and no
   * sooner than `minRefreshIntervalMs` after the previous one. Resolves whether it reached the runtime.
   */
  refresh(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (this.pending === undefined) {
      let resolve: (ok: boolean) => void = () => undefined;
      const promise = new Promise<boolean>((r) => {
        resolve = r;
      });
      this.pending = { promise, resolve };
      this.schedulePending();
    }
    return this.pending.promise;
  }

  /** The runtime's name and versions, for `kernwatch doctor`. Rejects with a CriCallError. */
  version(): Promise<CriVersion> {
    return this.client.version();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pendingTimer);
    clearTimeout(this.maintenanceTimer);
    this.pendingTimer = undefined;
    this.maintenanceTimer = undefined;
    this.pending?.resolve(false);
    this.pending = undefined;
    await this.inFlight;
    this.client.close();
  }

  private lookup(containerId: string): ContainerMetadata | undefined {
    const entry = this.entries.get(containerId);
    if (entry === undefined) return undefined;
    if (entry.removedAt !== undefined && this.now() - entry.removedAt >= this.retentionMs) {
      this.entries.delete(containerId);
      this.counters.evictions++;
      return undefined;
    }
    return entry.meta;
  }

  private schedulePending(): void {
    if (this.pending === undefined || this.inFlight !== undefined || this.pendingTimer !== undefined) return;
    const delay = Math.max(0, this.lastRefreshStartedAt + this.minRefreshIntervalMs - this.now());
    this.pendingTimer = setTimeout(() => {
      this.pendingTimer = undefined;
      this.runPending();
    }, delay);
    this.pendingTimer.unref();
  }

  private runPending(): void {
    const waiting = this.pending;
    if (waiting === undefined || this.stopped) return;
    this.pending = undefined;
    const run = this.refreshNow();
    this.inFlight = run;
    void run.then((ok) => {
      this.inFlight = undefined;
      waiting.resolve(ok);
      this.scheduleMaintenance(ok);
      this.schedulePending();
    });
  }

  /** One timer: the periodic refresh while the runtime answers, a backed-off retry while it does not. */
  private scheduleMaintenance(ok: boolean): void {
    clearTimeout(this.maintenanceTimer);
    this.maintenanceTimer = undefined;
    if (this.stopped) return;
    let delay: number;
    if (ok) {
      this.retry.reset();
      if (this.periodicRefreshMs <= 0) return;
      delay = this.periodicRefreshMs;
    } else {
      delay = this.retry.next();
    }
    this.maintenanceTimer = setTimeout(() => {
      this.maintenanceTimer = undefined;
      void this.refresh();
    }, delay);
    this.maintenanceTimer.unref();
  }

  /** Never rejects: failures are counted and logged once per outage. */
  private async refreshNow(): Promise<boolean> {
    this.lastRefreshStartedAt = this.now();
    this.counters.refreshes++;
    let listed: CriContainer[];
    try {
      listed = await this.client.listContainers();
    } catch (err) {
      this.counters.errors++;
      if (this.reachable !== false) {
        this.log.warn(
          { socket: this.client.socketPath, err },
          'CRI runtime not reachable; container names and pods unavailable until it is. Retrying in the background.',
        );
      } else {
        this.log.debug({ socket: this.client.socketPath, err }, 'CRI runtime still not reachable.');
      }
      this.reachable = false;
      return false;
    }
    if (this.reachable === false) {
      this.log.info({ socket: this.client.socketPath }, 'CRI runtime reachable again.');
    }
    this.reachable = true;
    if (this.runtime === undefined) void this.learnRuntimeName();

    const now = this.now();
    const listedIds = new Set<string>();
    const toDescribe: CriContainer[] = [];
    for (const container of listed) {
      listedIds.add(container.id);
      const entry = this.entries.get(container.id);
      if (entry === undefined || entry.incomplete === true) toDescribe.push(container);
      else if (entry.removedAt !== undefined) delete entry.removedAt;
    }
    for (let i = 0; i < toDescribe.length; i += DESCRIBE_CONCURRENCY) {
      const chunk = toDescribe.slice(i, i + DESCRIBE_CONCURRENCY);
      const described = await Promise.all(chunk.map((c) => this.describe(c)));
      for (const entry of described) this.insert(entry);
    }
    for (const [id, entry] of this.entries) {
      if (!listedIds.has(id) && entry.removedAt === undefined) entry.removedAt = now;
    }
    this.evictExpired(now);
    return true;
  }

  private async describe(container: CriContainer): Promise<Entry> {
    const [lookup, image] = await Promise.all([
      this.sandboxIdentity(container.podSandboxId),
      this.readableImage(container),
    ]);
    const sandbox = typeof lookup === 'object' ? lookup : undefined;
    const meta: ContainerMetadata = {
      id: container.id,
      name: container.name,
      podSandboxId: container.podSandboxId,
    };
    if (image !== '') meta.image = image;
    const podName = sandbox?.name ?? container.labels[KUBELET_LABEL.podName] ?? '';
    const podNamespace = sandbox?.namespace ?? container.labels[KUBELET_LABEL.podNamespace] ?? '';
    const podUid = sandbox?.uid ?? container.labels[KUBELET_LABEL.podUid] ?? '';
    if (podName !== '') meta.podName = podName;
    if (podNamespace !== '') meta.podNamespace = podNamespace;
    if (podUid !== '') meta.podUid = podUid;
    Object.freeze(meta);
    return lookup === undefined ? { meta, incomplete: true } : { meta };
  }

  /**
   * Cached per sandbox, and one call in flight per sandbox: the containers of a pod are described in
   * parallel and share it. Undefined when the call failed (retried on the next refresh).
   */
  private sandboxIdentity(podSandboxId: string): Promise<SandboxLookup> {
    const cached = this.sandboxes.get(podSandboxId);
    if (cached !== undefined) return Promise.resolve(cached);
    let pending = this.sandboxLookups.get(podSandboxId);
    if (pending === undefined) {
      pending = this.fetchSandboxIdentity(podSandboxId).finally(() => {
        this.sandboxLookups.delete(podSandboxId);
      });
      this.sandboxLookups.set(podSandboxId, pending);
    }
    return pending;
  }

  private async fetchSandboxIdentity(podSandboxId: string): Promise<SandboxLookup> {
    try {
      const status = await this.client.podSandboxStatus(podSandboxId);
      const identity = { name: status.name, namespace: status.namespace, uid: status.uid };
      this.sandboxes.set(podSandboxId, identity);
      return identity;
    } catch (err) {
      // Removed already: the kubelet's container labels are all there is, and asking again will not help.
      if (err instanceof CriCallError && err.notFound) return SANDBOX_GONE;
      this.counters.errors++;
      this.log.debug({ podSandboxId, err }, 'PodSandboxStatus failed; pod fields from container labels.');
      return undefined;
    }
  }

  /**
   * ListContainers repeats what the creator asked for, and the kubelet asks by image id (`sha256:…`).
   * containerd's ContainerStatus resolves the id to the image's first repo tag, so ask it only then.
   */
  private async readableImage(container: CriContainer): Promise<string> {
    if (container.image !== '' && !isImageId(container.image)) return container.image;
    try {
      const status = await this.client.containerStatus(container.id);
      if (status.image !== '' && !isImageId(status.image)) return status.image;
      return status.imageRef !== '' ? status.imageRef : container.image;
    } catch (err) {
      if (!(err instanceof CriCallError && err.notFound)) this.counters.errors++;
      return container.image !== '' ? container.image : container.imageRef;
    }
  }

  private insert(entry: Entry): void {
    if (!this.entries.has(entry.meta.id) && this.entries.size >= this.maxContainers) this.makeRoom();
    this.entries.set(entry.meta.id, entry);
  }

  private makeRoom(): void {
    this.evictExpired(this.now());
    if (this.entries.size < this.maxContainers) return;
    let victim: string | undefined;
    let oldestRemoval = Number.POSITIVE_INFINITY;
    for (const [id, entry] of this.entries) {
      if (entry.removedAt !== undefined && entry.removedAt < oldestRemoval) {
        oldestRemoval = entry.removedAt;
        victim = id;
      }
    }
    // No removed container to drop: the oldest insertion goes (Map keeps insertion order).
    victim ??= this.entries.keys().next().value;
    if (victim !== undefined) {
      this.entries.delete(victim);
      this.counters.evictions++;
    }
  }

  private evictExpired(now: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.removedAt !== undefined && now - entry.removedAt >= this.retentionMs) {
        this.entries.delete(id);
        this.counters.evictions++;
      }
    }
    const used = new Set<string>();
    for (const entry of this.entries.values()) used.add(entry.meta.podSandboxId);
    for (const id of this.sandboxes.keys()) if (!used.has(id)) this.sandboxes.delete(id);
  }

  private rememberNotFound(containerId: string): void {
    if (this.notFound.size >= MAX_NOT_FOUND) {
      const oldest = this.notFound.keys().next().value;
      if (oldest !== undefined) this.notFound.delete(oldest);
    }
    this.notFound.set(containerId, this.now() + this.notFoundTtlMs);
  }

  private withTimeout(refresh: Promise<boolean>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, this.resolveTimeoutMs);
      timer.unref();
    });
    return Promise.race([refresh, timeout]).finally(() => {
      clearTimeout(timer);
    });
  }
}

/** `sha256:<64 hex>` or a bare 64-hex id: what the kubelet passes and ListContainers repeats. */
export function isImageId(image: string): boolean {
  const hex = image.startsWith('sha256:') ? image.slice(7) : image;
  if (hex.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = hex.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
