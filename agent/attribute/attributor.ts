import {
  ATTRIBUTION,
  buildEvent,
  type Attribution,
  type ContainerRef,
  type EventSource,
  type IdentifiedDenial,
  type KernwatchEvent,
  type PodRef,
} from '../events.js';
import type { DenialAttributor } from '../pipeline/source-chain.js';
import type {
  ContainerMetadata,
  PodMetadata,
  ProcessAttribution,
  ProcessIdentity,
} from './attribution-types.js';

const MEMO_WINDOW_MS = 1000;

/** pid → container identity: /proc now, or the pre-warmed cache for processes already gone. */
export interface ProcessLookupTable {
  lookup(pid: number, atMs: number): ProcessAttribution;
}

/** container id → CRI metadata: cache first, a bounded-rate refresh on a miss. */
export interface ContainerLookup {
  /** The runtime's name as it reports it, when known. */
  readonly runtimeName?: string | undefined;
  get(id: string): ContainerMetadata | undefined;
  resolve(id: string): Promise<ContainerMetadata | undefined>;
}

/** pod → labels and owner from the node's informer store; never an API call. */
export interface PodLookup {
  byUid(uid: string): PodMetadata | undefined;
  byName(namespace: string, name: string): PodMetadata | undefined;
}

export interface AttributorOptions {
  node: string;
  processes: ProcessLookupTable;
  containers?: ContainerLookup;
  pods?: PodLookup;
  /** Told about an unexpected lookup failure (the runtime logs it, rate-limited). */
  onFailure?: (err: unknown) => void;
}

export interface AttributionCounters {
  pod: number;
  container: number;
  host: number;
  unresolved: number;
  /** Found through the cache because the process was already gone (killed and reaped). */
  fromCache: number;
  criMisses: number;
  /** Batches whose attribution failed unexpectedly and went out unresolved. */
  failures: number;
}

/**
 * Cache-first: the /proc and informer lookups are synchronous; only a container the CRI cache does not
 * know yet waits for one shared, rate-bounded refresh. No denial is ever dropped for lack of attribution.
 */
export class Attributor implements DenialAttributor {
  readonly counters: AttributionCounters = {
    pod: 0,
    container: 0,
    host: 0,
    unresolved: 0,
    fromCache: 0,
    criMisses: 0,
    failures: 0,
  };

  constructor(private readonly o: AttributorOptions) {}

  async attribute(denials: readonly IdentifiedDenial[], source: EventSource): Promise<KernwatchEvent[]> {
    try {
      return await this.attributeAll(denials, source);
    } catch (err) {
      // A lookup bug must cost attribution, never the events: they go out as unresolved.
      this.counters.failures++;
      this.o.onFailure?.(err);
      this.counters.unresolved += denials.length;
      return denials.map((d) =>
        buildEvent(d, { node: this.o.node, source, attribution: ATTRIBUTION.unresolved }),
      );
    }
  }

  private async attributeAll(
    denials: readonly IdentifiedDenial[],
    source: EventSource,
  ): Promise<KernwatchEvent[]> {
    // A flood comes from few processes: within one batch, a pid looked up for a record less than a second
    // from an earlier one gets the same answer (a pid cannot be reused that fast without a scan noticing),
    // which saves a /proc read per record when it matters most.
    const memo = new Map<number, { atMs: number; identity: ProcessIdentity | undefined }>();
    const identities = denials.map((d) => {
      const parsed = Date.parse(d.denial.time);
      const atMs = Number.isNaN(parsed) ? Date.now() : parsed;
      const pid = d.denial.process.pid;
      const known = memo.get(pid);
      if (known !== undefined && Math.abs(known.atMs - atMs) < MEMO_WINDOW_MS) return known.identity;
      const found = this.o.processes.lookup(pid, atMs);
      if (found.lookup === 'cached') this.counters.fromCache++;
      memo.set(pid, { atMs, identity: found.identity });
      return found.identity;
    });
    const containers = await this.containerMetadata(identities);
    return denials.map((d, i) => {
      const identity = identities[i];
      const event = this.eventFor(
        d,
        source,
        identity,
        identity?.containerId === undefined ? undefined : containers.get(identity.containerId),
      );
      this.counters[event.attribution]++;
      return event;
    });
  }

  private async containerMetadata(
    identities: readonly (ProcessIdentity | undefined)[],
  ): Promise<Map<string, ContainerMetadata | undefined>> {
    const out = new Map<string, ContainerMetadata | undefined>();
    const lookup = this.o.containers;
    if (lookup === undefined) return out;
    const misses: string[] = [];
    for (const identity of identities) {
      const id = identity?.containerId;
      if (id === undefined || out.has(id)) continue;
      const meta = lookup.get(id);
      out.set(id, meta);
      if (meta === undefined) misses.push(id);
    }
    if (misses.length > 0) {
      this.counters.criMisses += misses.length;
      const resolved = await Promise.all(misses.map((id) => lookup.resolve(id)));
      misses.forEach((id, i) => out.set(id, resolved[i]));
    }
    return out;
  }

  private eventFor(
    d: IdentifiedDenial,
    source: EventSource,
    identity: ProcessIdentity | undefined,
    meta: ContainerMetadata | undefined,
  ): KernwatchEvent {
    const node = this.o.node;
    if (identity === undefined) return buildEvent(d, { node, source, attribution: ATTRIBUTION.unresolved });
    const containerId = identity.containerId;
    if (containerId === undefined) return buildEvent(d, { node, source, attribution: ATTRIBUTION.host });
    const container: ContainerRef = { id: containerId };
    if (meta?.name !== undefined) container.name = meta.name;
    const runtime = identity.runtime ?? (meta === undefined ? undefined : this.o.containers?.runtimeName);
    if (runtime !== undefined) container.runtime = runtime;
    if (meta?.image !== undefined) container.image = meta.image;
    const pod = this.podFor(identity.podUid ?? meta?.podUid, meta);
    const attribution: Attribution = pod === undefined ? ATTRIBUTION.container : ATTRIBUTION.pod;
    return pod === undefined
      ? buildEvent(d, { node, source, attribution, container })
      : buildEvent(d, { node, source, attribution, container, pod });
  }

  /** The informer's view when it has the pod (labels, owner), else what CRI's sandbox metadata says. */
  private podFor(uid: string | undefined, meta: ContainerMetadata | undefined): PodRef | undefined {
    const pods = this.o.pods;
    let stored: PodMetadata | undefined;
    if (pods !== undefined) {
      if (uid !== undefined) stored = pods.byUid(uid);
      if (stored === undefined && meta?.podNamespace !== undefined && meta.podName !== undefined) {
        const byName = pods.byName(meta.podNamespace, meta.podName);
        // With a uid known, only that pod: the name may belong to its replacement by now (StatefulSets).
        if (uid === undefined || byName?.uid === uid) stored = byName;
      }
    }
    if (stored !== undefined) {
      const pod: PodRef = { name: stored.name, namespace: stored.namespace, uid: stored.uid };
      if (stored.labels !== undefined && Object.keys(stored.labels).length > 0) pod.labels = stored.labels;
      if (stored.owner !== undefined) pod.owner = stored.owner;
      return pod;
    }
    if (meta?.podName === undefined || meta.podNamespace === undefined) return undefined;
    return { name: meta.podName, namespace: meta.podNamespace, uid: meta.podUid ?? uid ?? '' };
  }
}
