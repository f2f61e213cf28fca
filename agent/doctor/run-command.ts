import { execFile } from 'node:child_process';

/**
 * Runs a program by name (PATH lookup, never a shell) with a deadline and collects what it printed. The
 * doctor's checks take this as a parameter, so that tests can stand in recorded outputs.
 */

export type CommandResult =
  | { kind: 'exited'; code: number; stdout: string; stderr: string }
  /** The program is not on PATH (ENOENT) or cannot be executed (EACCES). */
  | { kind: 'missing'; reason: string }
  /** It ran past the deadline and was killed. */
  | { kind: 'timeout'; ms: number }
  | { kind: 'error'; message: string };

export type RunCommand = (file: string, args: readonly string[], timeoutMs: number) => Promise<CommandResult>;

const MAX_OUTPUT_BYTES = 64 * 1024;

export const runCommand: RunCommand = (file, args, timeoutMs) =>
  new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { timeout: timeoutMs, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8', windowsHide: true },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ kind: 'exited', code: 0, stdout, stderr });
          return;
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EACCES') {
          resolve({ kind: 'missing', reason: code === 'ENOENT' ? 'not found on PATH' : 'not executable' });
        } else if (err.killed) {
          resolve({ kind: 'timeout', ms: timeoutMs });
        } else if (typeof code === 'number') {
          resolve({ kind: 'exited', code, stdout, stderr });
        } else {
          resolve({ kind: 'error', message: err.message });
        }
      },
    );
  });
