import type { KernwatchEvent } from '../../events.js';
import {
  containerFieldPath,
  eventAction,
  eventNote,
  eventReason,
  type K8sEventAction,
  type K8sEventReason,
} from './denial-event-content.js';
import { seriesKeyOf } from './denial-series-key.js';

/** Where a series stands with the API server. */
export const SERIES_PHASE = {
  /** No Event yet (or the server lost it): the next write is a create. */
  create: 'create',
  /** The Event exists under `name`: later writes patch its series. */
  created: 'created',
} as const;
export type SeriesPhase = (typeof SERIES_PHASE)[keyof typeof SERIES_PHASE];

/** The Pod an Event is about (`regarding`). */
export interface PodReference {
  kind: 'Pod';
  apiVersion: 'v1';
  namespace: string;
  name: string;
  uid: string;
  fieldPath?: string;
}

/** One series: the first denial's content (immutable on the server) and the count since. */
export interface DenialSeries {
  readonly key: string;
  /** Creation order: creates are written oldest first. */
  readonly seq: number;
  readonly regarding: PodReference;
  readonly reason: K8sEventReason;
  readonly action: K8sEventAction;
  readonly note: string;
  /** When the first denial happened (its audit time), ms since the epoch. */
  readonly firstObservedMs: number;
  /** Denials folded in, the first included (coalesced events count as many). */
  count: number;
  /** The newest denial's audit time. */
  lastObservedMs: number;
  /** Local clock at the newest fold: idle series are forgotten, the least recent is evicted. */
  lastFoldedAt: number;
  /** How many denials the Event on the server shows. */
  written: number;
  phase: SeriesPhase;
  name: string | undefined;
  /** Local clock at the last successful write (the heartbeat counts from there). */
  lastWriteAt: number;
  /** Failed attempts since the last success. */
  attempts: number;
  /** The count the first failed create of `name` carried: if it landed after all, the server shows at least this. */
  unconfirmedCreateCount: number | undefined;
  /** The Event was lost on the server (PATCH 404) and is being created again. */
  recreating: boolean;
}

export interface FoldResult {
  series: DenialSeries;
  /** A new series (its create is due now). */
  created: boolean;
  /** It had nothing left to write before this fold. */
  becameDirty: boolean;
  /** The series pushed out to make room, if any. */
  evicted: DenialSeries | undefined;
}

/**
 * The series of this node's pods, bounded: a fold touches one map entry (no I/O, no scan), and a new
 * series beyond `maxSeries` evicts the one folded least recently (Map order, refreshed on each fold).
 */
export class SeriesTable {
  private readonly series = new Map<string, DenialSeries>();
  private nextSeq = 0;

  constructor(private readonly maxSeries: number) {}

  get size(): number {
    return this.series.size;
  }

  values(): IterableIterator<DenialSeries> {
    return this.series.values();
  }

  /** Undefined for an event without a pod. */
  fold(e: KernwatchEvent, now: number): FoldResult | undefined {
    const key = seriesKeyOf(e);
    if (key === undefined || e.pod === undefined) return undefined;
    const firstMs = auditTimeMs(e.noise?.firstTime ?? e.time, now);
    const lastMs = e.noise === undefined ? firstMs : auditTimeMs(e.noise.lastTime, firstMs);
    const existing = this.series.get(key);
    if (existing !== undefined) {
      const becameDirty = existing.written >= existing.count;
      existing.count += e.count;
      existing.lastObservedMs = Math.max(existing.lastObservedMs, lastMs);
      existing.lastFoldedAt = now;
      this.series.delete(key);
      this.series.set(key, existing);
      return { series: existing, created: false, becameDirty, evicted: undefined };
    }
    let evicted: DenialSeries | undefined;
    if (this.series.size >= this.maxSeries) {
      evicted = this.series.values().next().value;
      if (evicted !== undefined) this.series.delete(evicted.key);
    }
    const fieldPath = containerFieldPath(e);
    const series: DenialSeries = {
      key,
      seq: this.nextSeq++,
      regarding: {
        kind: 'Pod',
        apiVersion: 'v1',
        namespace: e.pod.namespace,
        name: e.pod.name,
        uid: e.pod.uid,
        ...(fieldPath === undefined ? {} : { fieldPath }),
      },
      reason: eventReason(e),
      action: eventAction(e),
      note: eventNote(e),
      firstObservedMs: firstMs,
      count: e.count,
      lastObservedMs: lastMs,
      lastFoldedAt: now,
      written: 0,
      phase: SERIES_PHASE.create,
      name: undefined,
      lastWriteAt: now,
      attempts: 0,
      unconfirmedCreateCount: undefined,
      recreating: false,
    };
    this.series.set(key, series);
    return { series, created: true, becameDirty: true, evicted };
  }

  delete(series: DenialSeries): void {
    // Only this object: the key may meanwhile belong to a newer series (after an eviction).
    if (this.series.get(series.key) === series) this.series.delete(series.key);
  }
}

export interface WritePlan {
  /** The write to make now, if any. */
  next: DenialSeries | undefined;
  /** When something next falls due (ms from now); undefined when nothing will without a new fold. */
  wakeInMs: number | undefined;
  /** Series written up to date and idle for `idleMs`: to forget. */
  idle: DenialSeries[];
}

export interface PlanOptions {
  heartbeatMs: number;
  idleMs: number;
  /** Shutting down: every unwritten count is due now, heartbeat or not. */
  flushAll: boolean;
}

/**
 * What to write next: a create before any patch (a new kind of denial is news; a count is not), oldest
 * first; a series' count is patched at most once per heartbeat, so a storm of identical denials costs one
 * create and a patch per heartbeat, however many denials it holds. O(series) per call, and called at most
 * once per API call.
 */
export function planWrites(all: Iterable<DenialSeries>, now: number, options: PlanOptions): WritePlan {
  let create: DenialSeries | undefined;
  let patch: DenialSeries | undefined;
  let patchDue = Number.POSITIVE_INFINITY;
  let wakeAt = Number.POSITIVE_INFINITY;
  const idle: DenialSeries[] = [];
  for (const s of all) {
    if (s.phase === SERIES_PHASE.create) {
      if (create === undefined || s.seq < create.seq) create = s;
      continue;
    }
    if (s.count > s.written) {
      const due = options.flushAll ? now : s.lastWriteAt + options.heartbeatMs;
      if (due <= now) {
        if (due < patchDue) {
          patch = s;
          patchDue = due;
        }
      } else wakeAt = Math.min(wakeAt, due);
      continue;
    }
    const idleAt = s.lastFoldedAt + options.idleMs;
    if (idleAt <= now) idle.push(s);
    else wakeAt = Math.min(wakeAt, idleAt);
  }
  const next = create ?? patch;
  return {
    next,
    wakeInMs: next !== undefined ? 0 : Number.isFinite(wakeAt) ? Math.max(0, wakeAt - now) : undefined,
    idle,
  };
}

/**
 * An audit time in ms; `fallback` when unreadable. A coalesced event (`noise`) spans its first to its
 * last denial; a rate-limited one also counts denials of other identities, which land in the series of
 * the first held denial: the noise filter kept no finer account of them.
 */
function auditTimeMs(iso: string, fallback: number): number {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : fallback;
}
