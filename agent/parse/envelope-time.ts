/**
 * Timestamps of the transports that wrap audit records (syslog, journald text, logcat). They matter only
 * for records logged without an audit id; records with one take their time from it.
 */

// English first, then the abbreviations journalctl and syslog daemons print under common locales
// (French "oct.", German "Okt", Spanish "ago"); a trailing dot is dropped before the lookup.
const MONTH_INDEX: ReadonlyMap<string, number> = new Map(
  [
    ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
    ['janv', 'févr', 'mars', 'avr', 'mai', 'juin', 'juil', 'août', 'sept', 'oct', 'nov', 'déc'],
    ['jan', 'feb', 'mär', 'apr', 'mai', 'jun', 'jul', 'aug', 'sep', 'okt', 'nov', 'dez'],
    ['ene', 'feb', 'mar', 'abr', 'may', 'jun', 'jul', 'ago', 'sep', 'oct', 'nov', 'dic'],
  ].flatMap((names) => names.map((name, month) => [name, month] as const)),
);

export interface ParsedTime {
  /** Epoch milliseconds, or undefined when the text was recognised but not a valid date. */
  ms: number | undefined;
  /** Index just past the timestamp. */
  next: number;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function digits(text: string, pos: number, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) {
    const d = text.charCodeAt(pos + i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * `Mmm dd HH:MM:SS` (RFC 3164 and journalctl `short`); the year is not written, so it is the current
 * year unless that would put the line more than a day in the future (a log read just after New Year).
 */
export function parseMonthDayTime(text: string, pos: number, end: number, now: Date): ParsedTime | undefined {
  let i = pos;
  while (i < end && i - pos < 6) {
    const c = text.charCodeAt(i);
    if (c === 32) break;
    i++;
  }
  if (i === pos || i >= end) return undefined;
  let word = text.slice(pos, i).toLowerCase();
  if (word.endsWith('.')) word = word.slice(0, -1);
  const month = MONTH_INDEX.get(word);
  if (month === undefined) return undefined;
  while (i < end && text.charCodeAt(i) === 32) i++;
  const dayStart = i;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  const day = Number(text.slice(dayStart, i));
  if (i === dayStart || i - dayStart > 2 || text.charCodeAt(i) !== 32) return undefined;
  i++;
  if (i + 8 > end || text.charCodeAt(i + 2) !== 58 || text.charCodeAt(i + 5) !== 58) return undefined;
  const h = digits(text, i, 2);
  const m = digits(text, i + 3, 2);
  const s = digits(text, i + 6, 2);
  if (h < 0 || m < 0 || s < 0) return undefined;
  i += 8;
  let frac = 0;
  if (text.charCodeAt(i) === 46) {
    const fs = ++i;
    while (i < end && isDigit(text.charCodeAt(i))) i++;
    frac = Number(`0.${text.slice(fs, i)}`) * 1000;
  }
  let year = now.getUTCFullYear();
  let ms = Date.UTC(year, month, day, h, m, s, Math.floor(frac));
  if (ms > now.getTime() + 86_400_000) {
    year--;
    ms = Date.UTC(year, month, day, h, m, s, Math.floor(frac));
  }
  return { ms, next: i };
}

/** `2024-05-09T19:06:13.269+02:00`, `2024-05-09T19:06:13+0200`, or logcat's `2019-05-09 19:06:13.269`. */
export function parseIsoTime(text: string, pos: number, end: number): ParsedTime | undefined {
  if (pos + 19 > end) return undefined;
  if (text.charCodeAt(pos + 4) !== 45 || text.charCodeAt(pos + 7) !== 45) return undefined;
  const sep = text.charCodeAt(pos + 10);
  if (sep !== 84 && sep !== 32) return undefined;
  let i = pos + 19;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 32) break;
    i++;
  }
  let stamp = text.slice(pos, i);
  if (sep === 32) stamp = `${stamp.slice(0, 10)}T${stamp.slice(11)}`;
  const tz = /[+-]\d{4}$/.exec(stamp);
  if (tz !== null) stamp = `${stamp.slice(0, -2)}:${stamp.slice(-2)}`;
  else if (!stamp.endsWith('Z') && !/[+-]\d\d:\d\d$/.test(stamp)) stamp += 'Z';
  const ms = Date.parse(stamp);
  return { ms: Number.isNaN(ms) ? undefined : ms, next: i };
}

/** journalctl `short-unix`: `1622229872.180000`. */
export function parseUnixTime(text: string, pos: number, end: number): ParsedTime | undefined {
  let i = pos;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  if (i - pos < 9 || i - pos > 11 || text.charCodeAt(i) !== 46) return undefined;
  const secEnd = i++;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  if (i < end && text.charCodeAt(i) !== 32) return undefined;
  const sec = Number(text.slice(pos, secEnd));
  const frac = Number(`0${text.slice(secEnd, i)}`);
  return { ms: Math.floor(sec * 1000 + frac * 1000), next: i };
}
