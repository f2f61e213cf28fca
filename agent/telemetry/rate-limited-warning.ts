import type { Logger } from './logger.js';

/**
 * A warning that may fire on every poll tick under load (drops, overruns, a failing device): logged at
 * most once per interval, carrying how much happened since the previous line, so the log stays readable
 * and cheap.
 */
export class RateLimitedWarning {
  private pending = 0;
  private lastLoggedAt = Number.NEGATIVE_INFINITY;
  private readonly intervalMs: number;
  private readonly level: 'warn' | 'error';
  private readonly now: () => number;

  constructor(
    private readonly log: Logger,
    private readonly message: string,
    options: { intervalMs?: number; level?: 'warn' | 'error'; now?: () => number } = {},
  ) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.level = options.level ?? 'warn';
    this.now = options.now ?? Date.now;
  }

  /** Adds `count` to what the next line reports; logs it if the interval has passed. */
  add(count: number, fields: Record<string, unknown> = {}): void {
    this.pending += count;
    const t = this.now();
    if (t - this.lastLoggedAt < this.intervalMs) return;
    this.lastLoggedAt = t;
    this.log[this.level]({ ...fields, count: this.pending }, this.message);
    this.pending = 0;
  }
}
