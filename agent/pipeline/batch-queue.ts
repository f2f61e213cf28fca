import type { BatchWriter, RawBatch } from '../sources/raw-batch.js';

export const TAKE_RESULT = { timeout: 'timeout', closed: 'closed' } as const;
export type TakeResult = (typeof TAKE_RESULT)[keyof typeof TAKE_RESULT];

/**
 * Between one source and its chain: bounded in batches and in lines. `put` waits for room (file and
 * journald sources stop reading meanwhile), `offer` refuses instead (kmsg, whose ring cannot wait).
 * One consumer.
 */
export class BatchQueue<C> implements BatchWriter<C> {
  private readonly items: RawBatch<C>[] = [];
  private lines = 0;
  private readonly waitingPuts: { batch: RawBatch<C>; resolve: () => void }[] = [];
  private waitingTake: ((value: RawBatch<C> | TakeResult) => void) | undefined;
  private closed = false;
  /** Batches `offer` refused. */
  refused = 0;

  constructor(
    private readonly maxBatches = 64,
    private readonly maxLines = 65_536,
  ) {}

  get depthBatches(): number {
    return this.items.length;
  }

  get depthLines(): number {
    return this.lines;
  }

  put(batch: RawBatch<C>): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.hasRoom(batch)) {
      this.push(batch);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waitingPuts.push({ batch, resolve }));
  }

  offer(batch: RawBatch<C>): boolean {
    if (this.closed || !this.hasRoom(batch) || this.waitingPuts.length > 0) {
      this.refused++;
      return false;
    }
    this.push(batch);
    return true;
  }

  /** The next batch; TAKE_RESULT.timeout after `timeoutMs` without one; TAKE_RESULT.closed when closed and empty. */
  take(timeoutMs: number): Promise<RawBatch<C> | TakeResult> {
    const next = this.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.closed) return Promise.resolve(TAKE_RESULT.closed);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waitingTake = undefined;
        resolve(TAKE_RESULT.timeout);
      }, timeoutMs);
      this.waitingTake = (value) => {
        clearTimeout(timer);
        this.waitingTake = undefined;
        resolve(value);
      };
    });
  }

  /** No more batches will be accepted; waiting producers are released (their batches are still queued). */
  close(): void {
    this.closed = true;
    for (const w of this.waitingPuts.splice(0)) {
      this.items.push(w.batch);
      this.lines += w.batch.lines.length;
      w.resolve();
    }
    if (this.items.length === 0) this.waitingTake?.(TAKE_RESULT.closed);
  }

  private hasRoom(batch: RawBatch<C>): boolean {
    // An empty queue always takes one batch, however large: a source's batch must never wait forever.
    return (
      this.items.length === 0 ||
      (this.items.length < this.maxBatches && this.lines + batch.lines.length <= this.maxLines)
    );
  }

  private push(batch: RawBatch<C>): void {
    if (this.waitingTake !== undefined && this.items.length === 0) {
      this.waitingTake(batch);
      return;
    }
    this.items.push(batch);
    this.lines += batch.lines.length;
  }

  private shift(): RawBatch<C> | undefined {
    const batch = this.items.shift();
    if (batch === undefined) return undefined;
    this.lines -= batch.lines.length;
    while (this.waitingPuts.length > 0) {
      const w = this.waitingPuts[0];
      if (w === undefined || !this.hasRoom(w.batch)) break;
      this.waitingPuts.shift();
      this.items.push(w.batch);
      this.lines += w.batch.lines.length;
      w.resolve();
    }
    return batch;
  }
}
