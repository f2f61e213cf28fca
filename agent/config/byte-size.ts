const UNIT_BYTES = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
} as const;

/**
 * Parses the config's sizes: `512KiB`, `256MiB`, `1GiB` (K, M, G are binary too, as in Kubernetes
 * quantities; KB, MB, GB are decimal), or a plain number of bytes. An index loop, like durations, so an
 * error can say what was wrong.
 */
export function parseByteSize(text: string): number | undefined {
  const s = text.trim();
  let i = 0;
  while (i < s.length && ((s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) || s[i] === '.')) i++;
  if (i === 0) return undefined;
  const value = Number(s.slice(0, i));
  if (!Number.isFinite(value)) return undefined;
  const unit = s.slice(i).trim();
  if (unit === '') return Math.floor(value);
  const factor = (UNIT_BYTES as Record<string, number | undefined>)[unit];
  return factor === undefined ? undefined : Math.floor(value * factor);
}
