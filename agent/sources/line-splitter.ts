import { isAscii } from 'node:buffer';

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
    let from = 0;
    if (this.carry !== undefined) {
      // Only the line that straddles the chunk boundary is copied, not the whole chunk.
      const first = buf.indexOf(10);
      splitText(decode(Buffer.concat([this.carry, buf.subarray(0, first)])), onLine);
      from = first + 1;
    }
    this.carry = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : undefined;
    if (last > from) splitText(decode(buf.subarray(from, last)), onLine);
  }

  /** The last line when the input does not end with a newline. */
  end(onLine: LineHandler): void {
    if (this.carry !== undefined && this.carry.length > 0) splitText(decode(this.carry), onLine);
    this.carry = undefined;
    this.discarding = false;
  }
}

/**
 * Audit logs are ASCII (the kernel hex-encodes anything else), and V8 builds a one-byte string from ASCII
 * bytes far faster through latin1 than through the UTF-8 decoder; isAscii is a SIMD scan.
 */
function decode(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
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
