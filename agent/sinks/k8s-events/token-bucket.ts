/**
 * The API server's share of this agent: at most `burst` calls at once, refilled at `ratePerSecond`
 * (client-go's flowcontrol token bucket, without its blocking wait: the caller sleeps `msUntilToken()`).
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst;
    this.refilledAt = now();
  }

  /** Takes a token if one is there. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** How long until `tryTake` can succeed (0 when it can now). */
  msUntilToken(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond);
  }

  private refill(): void {
    const t = this.now();
    // A clock that stepped back adds nothing rather than going negative.
    const elapsedMs = Math.max(0, t - this.refilledAt);
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
    this.refilledAt = t;
  }
}
