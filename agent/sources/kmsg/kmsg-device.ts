import { closeSync, constants, openSync, readSync } from 'node:fs';
import { ERROR_CODES, KernwatchError } from '../../errors.js';
import { kmsgRecordLine } from './kmsg-record.js';

/**
 * The /dev/kmsg file descriptor. Each read(2) returns exactly one record. Node has no poll(2) for a
 * character device and a blocking read would pin one of libuv's four pool threads for good, so the fd is
 * non-blocking and the caller drains it with readSync until EAGAIN, then polls on a timer.
 */

/** read() found no new record (EAGAIN). */
export const KMSG_EMPTY = 0;
/**
 * read() failed with EPIPE: the ring overwrote records this reader had not read yet. The kernel returns
 * it once and moves the reader to the oldest record still there; the SEQ gap then tells how many.
 */
export const KMSG_OVERRUN = 1;
export type KmsgReadResult = string | typeof KMSG_EMPTY | typeof KMSG_OVERRUN;

/** Larger than the kernel's limit for one record with its dictionary (CONSOLE_EXT_LOG_MAX, 8 KiB). */
const RECORD_BUFFER_BYTES = 16 * 1024;

export class KmsgDevice {
  private readonly buffer = Buffer.allocUnsafe(RECORD_BUFFER_BYTES);
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Opening replays the whole ring from its oldest record: the caller decides what to skip. */
  static open(path: string): KmsgDevice {
    try {
      return new KmsgDevice(path, openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new KernwatchError(
          ERROR_CODES.permission,
          `Cannot read the kernel log ${path}: permission denied. Run as root or grant CAP_SYSLOG ` +
            '(kernel.dmesg_restrict=1 hides the kernel log from other users).',
          { cause: err },
        );
      }
      throw new KernwatchError(ERROR_CODES.source, `Cannot open the kernel log ${path} (${String(code)})`, {
        cause: err,
      });
    }
  }

  /** The next record's first line (the dictionary lines dropped), or why there is none. */
  read(): KmsgReadResult {
    if (this.fd === undefined) return KMSG_EMPTY;
    let n: number;
    try {
      n = readSync(this.fd, this.buffer, 0, this.buffer.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return KMSG_EMPTY;
      if (code === 'EPIPE') return KMSG_OVERRUN;
      throw new KernwatchError(
        ERROR_CODES.source,
        `Reading the kernel log ${this.path} failed (${String(code)})`,
        {
          cause: err,
        },
      );
    }
    if (n === 0) return KMSG_EMPTY;
    return kmsgRecordLine(this.buffer.subarray(0, n));
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}
