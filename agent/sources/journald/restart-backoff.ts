/**
 * Delays between restarts of a child that keeps exiting: exponential from `baseMs` up to `maxMs`, with
 * full jitter (a random delay between half and all of the step) so that many agents restarted together
 * do not hammer the journal in step. A child that ran for `healthyAfterMs` resets the sequence.
 */
export class RestartBackoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 250,
    private readonly maxMs = 30_000,
    private readonly healthyAfterMs = 10_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next start, given how long the child that just ended ran. */
  next(ranForMs: number): number {
    if (ranForMs >= this.healthyAfterMs) this.attempt = 0;
    const step = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(step / 2 + (this.random() * step) / 2);
  }
}
