/**
 * Identical refusals (and failures) within a window are published once. A pod in a violation storm sets its rule off
 * on every denial; while its cooldown runs each of those is refused the same way, and publishing ten
 * thousand identical refusals would flood the feed that must carry the first one. The first is
 * published; the rest are counted (metrics count every one) and the next published decision of that key,
 * if one comes, says how many it stands for (`repeats`). A key pushed out by `maxKeys` loses its folded
 * count from `repeats`, never from the metrics.
 */
export class DecisionFolding {
  /** Key → when it was last published and how many were folded since. Insertion order = oldest first. */
  private readonly seen = new Map<string, { publishedAt: number; folded: number }>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly maxKeys = 16_384,
  ) {}

  /** undefined: fold it (do not publish). Otherwise publish, with the number of decisions folded before it. */
  admit(key: string, nowMs: number): { repeats: number } | undefined {
    const entry = this.seen.get(key);
    if (entry !== undefined && nowMs - entry.publishedAt < this.windowMs) {
      entry.folded++;
      return undefined;
    }
    const repeats = entry?.folded ?? 0;
    this.seen.delete(key);
    if (this.seen.size >= this.maxKeys) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.seen.set(key, { publishedAt: nowMs, folded: 0 });
    return { repeats };
  }
}
