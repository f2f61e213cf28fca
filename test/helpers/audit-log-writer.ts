import { spawn } from 'node:child_process';

/**
 * A process appending real auditd SECCOMP records (corpus: kernel618-auditd309), numbered through their
 * serial (100000 + n), each followed by an unrelated record as in a real log, at a steady rate, rotating
 * the log by rename at fixed record numbers as auditd does. Its own process, so the agent races with it
 * for real.
 */
const WRITER = `
import { closeSync, existsSync, openSync, renameSync, writeSync } from 'node:fs';
const [path, total, rate, rotateAt] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), JSON.parse(process.argv[4])];
const rec = (n) => 'type=SECCOMP msg=audit(' + (1795865933 + Math.floor(n / 1000)) + '.120:' + (100000 + n) + '): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=8639 comm="w" exe="/usr/local/bin/seccomp-demo" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7fbf4fb4d829 code=0x7ffc0000\\n' +
  'type=USER_END msg=audit(1795865933.121:' + (900000 + n) + '): pid=1 uid=0 auid=0 ses=1 msg=\\'op=PAM:session_close acct="root" exe="/usr/sbin/cron" hostname=? addr=? terminal=cron res=success\\'\\n';
let fd = openSync(path, 'a');
const t0 = Date.now();
let n = 0;
function rotate() {
  closeSync(fd);
  if (existsSync(path + '.2')) renameSync(path + '.2', path + '.3');
  if (existsSync(path + '.1')) renameSync(path + '.1', path + '.2');
  renameSync(path, path + '.1');
  fd = openSync(path, 'a');
}
function tick() {
  const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * rate));
  let chunk = '';
  while (n < due) {
    if (rotateAt.includes(n)) { if (chunk) { writeSync(fd, chunk); chunk = ''; } rotate(); }
    chunk += rec(n++);
  }
  if (chunk) writeSync(fd, chunk);
  process.stdout.write(n + '\\n');
  if (n >= total) { closeSync(fd); process.exit(0); }
  setTimeout(tick, 5);
}
tick();
`;

export interface AuditLogWriter {
  /** Records written so far. */
  readonly written: number;
  readonly done: Promise<void>;
  waitFor(records: number, timeoutMs?: number): Promise<void>;
}

export function startAuditLogWriter(
  path: string,
  total: number,
  ratePerSecond: number,
  rotateAt: readonly number[] = [],
): AuditLogWriter {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      WRITER,
      path,
      String(total),
      String(ratePerSecond),
      JSON.stringify(rotateAt),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let written = 0;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const last = d.trim().split('\n').pop();
    if (last !== undefined) written = Number(last);
  });
  const done = new Promise<void>((resolve) => {
    child.on('close', () => {
      resolve();
    });
  });
  return {
    get written() {
      return written;
    },
    done,
    async waitFor(records: number, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (written < records) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for the writer to pass ${String(records)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** The record number of a delivered event (its serial minus 100000). */
export function writerRecordOf(auditId: string | undefined): number {
  return Number(auditId?.split(':')[1]) - 100_000;
}
