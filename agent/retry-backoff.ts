/**
 * Delays between retries of something that keeps failing (a read, a sink, the CRI runtime, the API
 * server): doubling from `initialMs` up to `maxMs`, back to the start after `reset()` (a success). With
 * `jitter`, each delay is drawn between half and all of its step, so agents that failed together on many
 * nodes do not retry in step.
 */
export class RetryBackoff {
  private step: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly jitter = false,
    private readonly random: () => number = Math.random,
  ) {
    this.step = initialMs;
  }

  /** The delay before the next attempt. */
  next(): number {
    const step = this.step;
    this.step = Math.min(this.maxMs, this.step * 2);
    return this.jitter ? Math.round(step / 2 + (this.random() * step) / 2) : step;
  }

  reset(): void {
    this.step = this.initialMs;
  }
}
