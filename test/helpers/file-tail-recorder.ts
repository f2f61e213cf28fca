import type { BatchWriter, RawBatch } from '../../agent/sources/raw-batch.js';

/**
 * A BatchWriter that keeps every batch, then runs `afterPut` (a test's "delivery": usually committing the
 * batch's `to`) before the source may read on, exactly where a pipeline would apply backpressure.
 */
export class RecordingBatchWriter<C> implements BatchWriter<C> {
  readonly batches: RawBatch<C>[] = [];
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(private readonly afterPut?: (batch: RawBatch<C>) => Promise<void>) {}

  get lines(): string[] {
    return this.batches.flatMap((b) => b.lines);
  }

  async put(batch: RawBatch<C>): Promise<void> {
    this.batches.push(batch);
    if (this.afterPut !== undefined) await this.afterPut(batch);
    this.notify();
  }

  offer(batch: RawBatch<C>): boolean {
    this.batches.push(batch);
    this.notify();
    return true;
  }

  /**
   * Resolves once `check` holds after some batch. The time limit only turns a hang into a failure that says
   * what never happened; no assertion depends on how fast it happens.
   */
  until(check: () => boolean, what: string, limitMs = 20_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`never happened: ${what} (${String(this.batches.length)} batches received)`));
      }, limitMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ check, resolve: done });
    });
  }

  untilLines(count: number, limitMs?: number): Promise<void> {
    let seen = 0;
    let counted = 0;
    return this.until(
      () => {
        for (; counted < this.batches.length; counted++) seen += this.batches[counted]?.lines.length ?? 0;
        return seen >= count;
      },
      `${String(count)} lines delivered`,
      limitMs,
    );
  }

  private notify(): void {
    const ready = this.waiters.filter((w) => w.check());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}
