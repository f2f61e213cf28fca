const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parses the config's durations: `250ms`, `2s`, `10m`, `1h`, `7d`, or a plain number of milliseconds. Written
 * as an index loop (no regex) because config errors must name what was wrong, not "no match".
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  let i = 0;
  while (i < s.length && ((s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) || s[i] === '.')) i++;
  if (i === 0) return undefined;
  const value = Number(s.slice(0, i));
  if (!Number.isFinite(value)) return undefined;
  const unit = s.slice(i).trim();
  if (unit === '') return value;
  const factor = (UNIT_MS as Record<string, number | undefined>)[unit];
  return factor === undefined ? undefined : value * factor;
}
