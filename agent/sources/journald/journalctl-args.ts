import type { JournalPosition } from './journal-position.js';

/** The journal fields that speak for the kernel: its own log (`kernel`) and the audit netlink (`audit`). */
export const KERNEL_TRANSPORTS = ['audit', 'kernel'] as const;

export interface JournalctlStart {
  /** Resume here; without it, start at `sinceMicros` or, failing that, at the end of the journal. */
  position?: JournalPosition | undefined;
  /** Wall-clock µs since 1970: where to start without a position (the source's start time). */
  sinceMicros?: number | undefined;
  /** `--directory=DIR`: a journal directory (e.g. the host's /var/log/journal mounted into a pod). */
  directory?: string | undefined;
}

/**
 * Arguments for `journalctl -f -o json`. Matches on the same field are ORed by journalctl, so the two
 * `_TRANSPORT=` matches select both transports. `--no-tail` matters: `-f` otherwise starts at most ten
 * entries back even after `--after-cursor`, silently skipping the rest.
 */
export function journalctlArgs(start: JournalctlStart): string[] {
  const args = ['--follow', '--output=json', '--no-pager', '--quiet', '--all'];
  if (start.directory !== undefined) args.push(`--directory=${start.directory}`);
  if (start.position !== undefined) {
    args.push(
      '--no-tail',
      start.position.inclusive
        ? `--cursor=${start.position.cursor}`
        : `--after-cursor=${start.position.cursor}`,
    );
  } else if (start.sinceMicros !== undefined) {
    const seconds = Math.floor(start.sinceMicros / 1e6);
    const micros = String(start.sinceMicros % 1e6).padStart(6, '0');
    args.push('--no-tail', `--since=@${String(seconds)}.${micros}`);
  } else {
    args.push('--lines=0');
  }
  for (const transport of KERNEL_TRANSPORTS) args.push(`_TRANSPORT=${transport}`);
  return args;
}
