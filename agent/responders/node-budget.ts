/**
 * The node-wide budget of actions per minute: a circuit breaker, not a queue. An action that does not
 * fit is refused, never kept for later (a response that comes minutes late acts on a pod that may be
 * long gone or innocent by then). A sliding minute: each action taken frees its slot 60 s after it.
 */
export class NodeBudget {
  /** When each action still inside the minute was taken, oldest first; never longer than the budget. */
  private readonly takenAt: number[] = [];

  constructor(
    private readonly perMinute: number,
    private readonly windowMs = 60_000,
  ) {}

  /** Actions that fit now. */
  room(nowMs: number): number {
    this.expire(nowMs);
    return this.perMinute - this.takenAt.length;
  }

  /** Takes `n` slots if all fit, else none. */
  take(n: number, nowMs: number): boolean {
    if (this.room(nowMs) < n) return false;
    for (let i = 0; i < n; i++) this.takenAt.push(nowMs);
    return true;
  }

  /** When the next slot frees; undefined when one is free now, or when none ever frees (a budget of 0). */
  nextSlotAt(nowMs: number): number | undefined {
    if (this.room(nowMs) > 0) return undefined;
    const oldest = this.takenAt[0];
    return oldest === undefined ? undefined : oldest + this.windowMs;
  }

  private expire(nowMs: number): void {
    let drop = 0;
    while (drop < this.takenAt.length && (this.takenAt[drop] ?? 0) + this.windowMs <= nowMs) drop++;
    if (drop > 0) this.takenAt.splice(0, drop);
  }
}
