import type { Writable } from 'node:stream';

/**
 * Collects output text in a byte buffer and writes it in large pieces: one write per ~1 MiB instead of
 * one per event. Encoding each piece straight into the buffer saves joining a large string and encoding
 * it again; waiting for 'drain' keeps memory bounded when the destination is slow.
 */
export class OutputBuffer {
  private buf: Buffer;
  private used = 0;

  constructor(
    private readonly out: Writable,
    private readonly flushBytes = 1 << 20,
  ) {
    this.buf = Buffer.allocUnsafe(flushBytes * 2);
  }

  add(text: string): void {
    // UTF-16 code units encode to at most 3 UTF-8 bytes each.
    const worst = text.length * 3;
    if (this.used + worst > this.buf.length) {
      this.spill();
      if (worst > this.buf.length) {
        this.pending.push(Buffer.from(text, 'utf8'));
        return;
      }
    }
    this.used += this.buf.write(text, this.used, 'utf8');
  }

  shouldFlush(): boolean {
    return this.used >= this.flushBytes || this.pending.length > 0;
  }

  async flush(): Promise<void> {
    this.spill();
    const chunks = this.pending;
    this.pending = [];
    for (const chunk of chunks) {
      if (!this.out.write(chunk)) await waitDrain(this.out);
    }
  }

  /** Filled pieces waiting to be written; the buffer they came from is replaced, never reused. */
  private pending: Buffer[] = [];

  private spill(): void {
    if (this.used === 0) return;
    this.pending.push(this.buf.subarray(0, this.used));
    this.buf = Buffer.allocUnsafe(this.buf.length);
    this.used = 0;
  }
}

function waitDrain(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      out.off('error', onError);
      resolve();
    };
    const onError = (err: Error): void => {
      out.off('drain', onDrain);
      reject(err);
    };
    out.once('drain', onDrain);
    out.once('error', onError);
  });
}
