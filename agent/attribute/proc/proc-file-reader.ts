import { closeSync, openSync, readSync } from 'node:fs';

/** Errors that only say the process (or its /proc entry) is gone. */
const GONE_CODES = new Set(['ENOENT', 'ESRCH', 'ENOTDIR']);
const MAX_BYTES = 1 << 20;

/**
 * Reads small /proc files synchronously into one reused buffer. Synchronous on purpose: a /proc read is
 * served from kernel memory in microseconds, while an async read would cost a thread-pool round trip
 * per file and let the process die between the scan's readdir and the read.
 */
export class ProcFileReader {
  private buf = Buffer.allocUnsafe(16 * 1024);
  /** Failures other than "gone" (EACCES without the rights, EMFILE...). */
  unexpectedErrors = 0;
  lastError: NodeJS.ErrnoException | undefined;

  /** The whole file as latin1 text (one char per byte), or undefined when it is gone or unreadable. */
  read(path: string): string | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      this.note(err);
      return undefined;
    }
    try {
      let len = 0;
      for (;;) {
        if (len === this.buf.length) {
          if (len >= MAX_BYTES) break;
          const bigger = Buffer.allocUnsafe(len * 2);
          this.buf.copy(bigger, 0, 0, len);
          this.buf = bigger;
        }
        // procfs files are generated on read and may come in several pieces: read until EOF.
        const n = readSync(fd, this.buf, len, this.buf.length - len, null);
        if (n === 0) break;
        len += n;
      }
      return this.buf.toString('latin1', 0, len);
    } catch (err) {
      this.note(err);
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Reads an already open procfs file again from its start (pread at 0 makes the kernel generate it
   * anew): one syscall instead of three for a file read on every tick.
   */
  readOpen(fd: number): string | undefined {
    try {
      const n = readSync(fd, this.buf, 0, this.buf.length, 0);
      return this.buf.toString('latin1', 0, n);
    } catch (err) {
      this.note(err);
      return undefined;
    }
  }

  private note(err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== undefined && GONE_CODES.has(e.code)) return;
    this.unexpectedErrors++;
    this.lastError = e;
  }
}
