/**
 * A number followed by an optional unit (`250ms`, `1.5s`, `256MiB`), scaled by the unit's factor; a bare
 * number is taken as is. Written as an index loop (no regex) because config errors must name what was
 * wrong, not "no match". Undefined when the text is not such a quantity.
 */
export function parseQuantity(text: string, units: Readonly<Record<string, number>>): number | undefined {
  const s = text.trim();
  let i = 0;
  while (i < s.length && ((s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) || s[i] === '.')) i++;
  if (i === 0) return undefined;
  const value = Number(s.slice(0, i));
  if (!Number.isFinite(value)) return undefined;
  const unit = s.slice(i).trim();
  if (unit === '') return value;
  return Object.hasOwn(units, unit) ? value * (units[unit] ?? Number.NaN) : undefined;
}
