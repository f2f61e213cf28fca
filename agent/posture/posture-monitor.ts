import { deliverToEach, type EventSink } from '../sinks/event-sink.js';
import type { Logger } from '../telemetry/logger.js';
import { postureEventOf, postureSignature, type PostureEvent } from './posture-event.js';
import {
  type CheckId,
  type CheckStatus,
  type ContainerPosture,
  type PostureReport,
} from './posture-types.js';

export interface PostureMonitorOptions {
  node: string;
  intervalMs: number;
  scan: () => Promise<PostureReport>;
  /** Where posture events go (read when publishing: sinks open after the monitor is built). */
  sinks: () => readonly EventSink[];
  log: Logger;
  clock?: () => number;
}

/** Containers of one namespace with one check in one status: the posture gauge's samples. */
export interface PostureCount {
  namespace: string;
  check: CheckId;
  status: CheckStatus;
  containers: number;
}

/** Namespaces named in the gauge; the rest are summed as `_other` (labels must stay bounded). */
const MAX_NAMESPACES = 256;
/** Containers whose last posture is remembered for change detection (a node runs far fewer). */
const MAX_REMEMBERED = 16_384;

/**
 * `kernwatch run`'s periodic posture: every interval it scans every running container, publishes a
 * posture event for each container that is new or whose checks changed status, and keeps the counts the
 * gauges read. Changes only: a node with 100 containers must not send 100 events every five minutes.
 */
export class PostureMonitor {
  readonly counters = { scans: 0, failedScans: 0, published: 0 };
  /** When the last scan ended (ms), 0 before the first. */
  lastScanMs = 0;
  private counts: PostureCount[] = [];
  private readonly last = new Map<string, { signature: string; statuses: Map<CheckId, CheckStatus> }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly clock: () => number;

  constructor(private readonly o: PostureMonitorOptions) {
    this.clock = o.clock ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => {
      void this.scanOnce();
    }, this.o.intervalMs);
    this.timer.unref();
    void this.scanOnce();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  postureCounts(): readonly PostureCount[] {
    return this.counts;
  }

  /** One scan now; overlapping calls share the scan in progress. */
  scanOnce(): Promise<void> {
    this.running ??= this.scanAndPublish().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async scanAndPublish(): Promise<void> {
    const { log } = this.o;
    let report: PostureReport;
    try {
      report = await this.o.scan();
    } catch (err) {
      this.counters.failedScans++;
      log.warn({ err }, 'The posture scan failed; trying again at the next interval.');
      return;
    }
    this.counters.scans++;
    this.lastScanMs = this.clock();
    this.counts = countsOf(report.containers);
    const { events, remember } = this.changes(report);
    if (events.length === 0) return;
    const failures = await deliverToEach(this.o.sinks(), (sink) => sink.deliverPosture?.(events));
    for (const f of failures) {
      log.warn({ err: f.err, sink: f.sink }, 'Posture events could not be delivered.');
    }
    // Remembered only once delivered: a change a sink refused is published again at the next scan.
    if (failures.length > 0) return;
    remember();
    this.counters.published += events.length;
    const findings = events.reduce((n, e) => n + e.findings, 0);
    log.info({ containers: events.length, findings }, 'Container posture changed.');
  }

  private changes(report: PostureReport): { events: PostureEvent[]; remember: () => void } {
    const time = new Date(this.clock()).toISOString();
    const seen = new Set<string>();
    const events: PostureEvent[] = [];
    const changed: [ContainerPosture, string][] = [];
    for (const c of report.containers) {
      seen.add(c.id);
      const signature = postureSignature(c);
      const before = this.last.get(c.id);
      if (before?.signature === signature) continue;
      const ids = c.checks.filter((k) => before?.statuses.get(k.id) !== k.status).map((k) => k.id);
      changed.push([c, signature]);
      events.push(postureEventOf(report.node, c, ids, time));
    }
    // A container that stopped is forgotten: if it comes back, it is new again.
    for (const id of [...this.last.keys()]) if (!seen.has(id)) this.last.delete(id);
    return {
      events,
      remember: () => {
        for (const [c, signature] of changed) this.remember(c, signature);
      },
    };
  }

  private remember(c: ContainerPosture, signature: string): void {
    this.last.delete(c.id);
    if (this.last.size >= MAX_REMEMBERED) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
    this.last.set(c.id, { signature, statuses: new Map(c.checks.map((k) => [k.id, k.status])) });
  }
}

function countsOf(containers: readonly ContainerPosture[]): PostureCount[] {
  const namespaces = new Map<string, number>();
  for (const c of containers) {
    const ns = c.pod?.namespace ?? '_host';
    namespaces.set(ns, (namespaces.get(ns) ?? 0) + 1);
  }
  // The namespaces with the most containers keep their name.
  const named = new Set(
    [...namespaces.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, MAX_NAMESPACES)
      .map(([ns]) => ns),
  );
  const counts = new Map<string, PostureCount>();
  for (const c of containers) {
    const raw = c.pod?.namespace ?? '_host';
    const namespace = named.has(raw) ? raw : '_other';
    for (const k of c.checks) {
      const key = `${namespace}\u0000${k.id}\u0000${k.status}`;
      const entry = counts.get(key);
      if (entry === undefined) counts.set(key, { namespace, check: k.id, status: k.status, containers: 1 });
      else entry.containers++;
    }
  }
  return [...counts.values()];
}
