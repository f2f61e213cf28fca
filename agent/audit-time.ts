/**
 * The audit time of an event in ms, from its `time` (ISO-8601 UTC as buildEvent writes it:
 * `YYYY-MM-DDTHH:MM:SS.mmmZ`). Date.parse alone cost more than all the rest of the filter's work per
 * event (0.4-0.9 µs against about 0.35 µs, Node 20); events come in runs within one second, so the
 * second is parsed once and only the milliseconds are read per event. Anything else goes to Date.parse.
 * NaN when the time is not a date.
 */
export class AuditTimeReader {
  /** `YYYY-MM-DDTHH:MM:SS` of the last second parsed (none yet: matches no time), and its ms. */
  private second = '\u0000';
  private secondMs = Number.NaN;

  ms(time: string): number {
    if (time.length !== 24 || time.charCodeAt(19) !== DOT || time.charCodeAt(23) !== ZULU) {
      return Date.parse(time);
    }
    const a = time.charCodeAt(20) - ZERO;
    const b = time.charCodeAt(21) - ZERO;
    const c = time.charCodeAt(22) - ZERO;
    if (!(isDigit(a) && isDigit(b) && isDigit(c))) return Date.parse(time);
    if (!time.startsWith(this.second)) {
      this.second = time.slice(0, 19);
      this.secondMs = Date.parse(`${this.second}Z`);
    }
    return this.secondMs + a * 100 + b * 10 + c;
  }
}

const DOT = 0x2e;
const ZULU = 0x5a;
const ZERO = 0x30;

function isDigit(d: number): boolean {
  return d >= 0 && d <= 9;
}
