/**
 * Splits a byte stream into lines without copying lines one by one: each chunk is decoded once, up to its
 * last newline, and lines are handed over as offsets into that text. A line longer than `maxLineBytes`
 * (no newline in sight) is dropped and counted instead of growing the carry-over without bound.
 */
export type LineHandler = (text: string, start: number, end: number) => void;

export class LineSplitter {
  private carry: Buffer | undefined;
  private discarding = false;
  /** Lines dropped for being longer than maxLineBytes. */
  oversizedLines = 0;

  constructor(private readonly maxLineBytes = 1 << 20) {}

  push(chunk: Buffer, onLine: LineHandler): void {
    let buf = chunk;
    if (this.discarding) {
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      this.discarding = false;
      buf = buf.subarray(nl + 1);
    }
    const last = buf.lastIndexOf(10);
    if (last < 0) {
      this.carry = this.carry === undefined ? Buffer.from(buf) : Buffer.concat([this.carry, buf]);
      if (this.carry.length > this.maxLineBytes) {
        this.carry = undefined;
        this.discarding = true;
        this.oversizedLines++;
      }
      return;
    }
    const head =
      this.carry === undefined ? buf.subarray(0, last) : Buffer.concat([this.carry, buf.subarray(0, last)]);
    this.carry = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : undefined;
    splitText(head.toString('utf8'), onLine);
  }

  /** The last line when the input does not end with a newline. */
  end(onLine: LineHandler): void {
    if (this.carry !== undefined && this.carry.length > 0) splitText(this.carry.toString('utf8'), onLine);
    this.carry = undefined;
    this.discarding = false;
  }
}

/** Hands each line of `text` (the last one need not end in a newline) to onLine. */
export function splitText(text: string, onLine: LineHandler): void {
  let i = 0;
  const n = text.length;
  while (i <= n) {
    let j = text.indexOf('\n', i);
    if (j < 0) j = n;
    if (j > i) onLine(text, i, j);
    i = j + 1;
  }
}
