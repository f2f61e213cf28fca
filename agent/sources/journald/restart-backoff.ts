import { RetryBackoff } from '../../retry-backoff.js';

/**
 * Delays between restarts of a child that keeps exiting: exponential from `baseMs` up to `maxMs`, with
 * jitter so that many agents restarted together do not hammer the journal in step. A child that ran for
 * `healthyAfterMs` resets the sequence.
 */
export class RestartBackoff {
  private readonly backoff: RetryBackoff;

  constructor(
    baseMs = 250,
    maxMs = 30_000,
    private readonly healthyAfterMs = 10_000,
    random: () => number = Math.random,
  ) {
    this.backoff = new RetryBackoff(baseMs, maxMs, true, random);
  }

  /** The delay before the next start, given how long the child that just ended ran. */
  next(ranForMs: number): number {
    if (ranForMs >= this.healthyAfterMs) this.backoff.reset();
    return this.backoff.next();
  }
}
