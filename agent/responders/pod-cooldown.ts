/**
 * After a response to a pod, further responses to the same pod are refused for the cooldown: one
 * violation storm is one incident, not one response per denial. Bounded: the oldest entries go first,
 * and an entry is useless once its cooldown ended.
 */
export class PodCooldown {
  /** Pod uid → end of its cooldown (ms), in insertion order. */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly cooldownMs: number,
    private readonly maxPods = 16_384,
  ) {}

  /** When the pod's cooldown ends, or undefined when it has none now. */
  activeUntil(podUid: string, nowMs: number): number | undefined {
    const end = this.until.get(podUid);
    if (end === undefined) return undefined;
    if (end > nowMs) return end;
    this.until.delete(podUid);
    return undefined;
  }

  start(podUid: string, nowMs: number): void {
    if (this.cooldownMs <= 0) return;
    this.until.delete(podUid);
    if (this.until.size >= this.maxPods) {
      const oldest = this.until.keys().next().value;
      if (oldest !== undefined) this.until.delete(oldest);
    }
    this.until.set(podUid, nowMs + this.cooldownMs);
  }
}
