import { parseQuantity } from './quantity.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses the config's durations: `250ms`, `2s`, `10m`, `1h`, `7d`, or a plain number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  return parseQuantity(text, UNIT_MS);
}
