import type { Writable } from 'node:stream';

/**
 * Collects output text and writes it in large pieces: one write per ~256 KiB instead of one per event,
 * and waits for 'drain' when the destination is slow, so memory stays bounded.
 */
export class OutputBuffer {
  private parts: string[] = [];
  private size = 0;

  constructor(
    private readonly out: Writable,
    private readonly flushBytes = 256 * 1024,
  ) {}

  add(text: string): void {
    this.parts.push(text);
    this.size += text.length;
  }

  shouldFlush(): boolean {
    return this.size >= this.flushBytes;
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    if (!this.out.write(text)) await waitDrain(this.out);
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
