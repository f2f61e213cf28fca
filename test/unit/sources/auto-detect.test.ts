import { appendFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectSource } from '../../../agent/sources/auto-detect.js';

/**
 * detectSource over a procRoot laid out on disk as /proc is (`<pid>/comm`, `<pid>/cmdline`,
 * `<pid>/root/...`): the same files, written by the test.
 */

let dir = '';
let procRoot = '';

function addProcess(pid: number, comm: string, cmdline: readonly string[] = [comm]): void {
  mkdirSync(join(procRoot, String(pid)), { recursive: true });
  writeFileSync(join(procRoot, String(pid), 'comm'), `${comm}\n`);
  writeFileSync(join(procRoot, String(pid), 'cmdline'), `${cmdline.join('\0')}\0`);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kernwatch-detect-'));
  procRoot = join(dir, 'proc');
  mkdirSync(procRoot);
  addProcess(1, 'init');
  addProcess(30, 'kauditd');
  addProcess(812, 'containerd');
  mkdirSync(join(procRoot, 'sys'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('source auto-detection', () => {
  it('chooses the audit log when auditd runs and its log exists, naming the pid and the path', async () => {
    addProcess(4321, 'auditd', ['/sbin/auditd']);
    const log = join(dir, 'audit.log');
    writeFileSync(log, 'type=DAEMON_START msg=audit(1795870054.371:6565): op=start ver=3.0.9\n');
    expect(await detectSource({ procRoot, auditLogPath: log, growthWindowMs: 0 })).toEqual({
      spec: { type: 'auditd', path: log },
      reason: `auditd is running (pid 4321) and its log ${log} exists, so audit records go there and not to /dev/kmsg.`,
    });
  });

  it('finds the log auditd was configured to write through its -c directory', async () => {
    const confDir = join(dir, 'auditd-conf');
    const log = join(dir, 'private', 'audit.log');
    mkdirSync(join(dir, 'private'));
    writeFileSync(log, '');
    addProcess(4321, 'auditd', ['/sbin/auditd', '-n', '-c', confDir]);
    // auditd's view of the file system, as <pid>/root shows it.
    mkdirSync(join(procRoot, '4321', 'root', confDir), { recursive: true });
    writeFileSync(
      join(procRoot, '4321', 'root', confDir, 'auditd.conf'),
      `write_logs = yes\nlog_file = ${log}\n`,
    );
    const detected = await detectSource({ procRoot, growthWindowMs: 0 });
    expect(detected.spec).toEqual({ type: 'auditd', path: log });
  });

  it('reads /dev/kmsg when no auditd process runs and no audit log exists', async () => {
    const log = join(dir, 'missing.log');
    expect(await detectSource({ procRoot, auditLogPath: log, growthWindowMs: 0 })).toEqual({
      spec: { type: 'kmsg' },
      reason: `No auditd process in ${procRoot} and ${log} does not exist, so the kernel writes audit records to /dev/kmsg.`,
    });
  });

  it('reads /dev/kmsg when the audit log is left over from an auditd that no longer runs', async () => {
    const log = join(dir, 'audit.log');
    writeFileSync(log, 'type=DAEMON_END msg=audit(1795870054.371:6566): op=terminate\n');
    const detected = await detectSource({ procRoot, auditLogPath: log, growthWindowMs: 30 });
    expect(detected).toEqual({
      spec: { type: 'kmsg' },
      reason: `No auditd process in ${procRoot} and ${log} did not grow within 30 ms, so the kernel writes audit records to /dev/kmsg.`,
    });
  });

  it('chooses the audit log when no auditd process is visible but the log grows', async () => {
    const log = join(dir, 'audit.log');
    writeFileSync(log, 'type=DAEMON_START msg=audit(1795870054.371:6565): op=start\n');
    // A daemon that keeps writing: appends all through the window, so one lands between the two looks.
    const writer = setInterval(() => {
      appendFileSync(log, 'type=SECCOMP msg=audit(1795870054.400:6567): pid=1 code=0x7ffc0000\n');
    }, 10);
    const detected = await detectSource({ procRoot, auditLogPath: log, growthWindowMs: 200 }).finally(() => {
      clearInterval(writer);
    });
    expect(detected).toEqual({
      spec: { type: 'auditd', path: log },
      reason: `No auditd process in ${procRoot}, but ${log} grew within 200 ms, so an audit daemon writes it.`,
    });
  });

  it('says that /dev/kmsg stays silent when auditd runs without a log it can find', async () => {
    addProcess(4321, 'auditd');
    const log = join(dir, 'missing.log');
    expect(
      await detectSource({ procRoot, auditLogPath: log, kmsgPath: '/dev/kmsg', growthWindowMs: 0 }),
    ).toEqual({
      spec: { type: 'kmsg' },
      reason: `auditd is running (pid 4321) but none of its possible logs (${log}) exists; reading /dev/kmsg, which receives no audit records while auditd runs.`,
    });
  });

  it('names an unreadable procRoot in its reason', async () => {
    const missing = join(dir, 'no-proc');
    const log = join(dir, 'missing.log');
    const detected = await detectSource({ procRoot: missing, auditLogPath: log, growthWindowMs: 0 });
    expect(detected).toEqual({
      spec: { type: 'kmsg' },
      reason: `${missing} is unreadable (ENOENT) and ${log} does not exist, so the kernel writes audit records to /dev/kmsg.`,
    });
  });
});

describe('source auto-detection where /dev/kmsg cannot be opened (an unprivileged pod)', () => {
  /** A journal directory laid out as journald keeps it: <dir>/<machine-id>/system.journal. */
  function addJournal(journalDir: string, mtimeSec: number): void {
    const machine = join(journalDir, '0f3c8d0a6e0b4f5c9e1c2b7a8d9e0f11');
    mkdirSync(machine, { recursive: true });
    const file = join(machine, 'system.journal');
    writeFileSync(file, 'LPKSHHRH');
    utimesSync(file, mtimeSec, mtimeSec);
  }

  const missingKmsg = (): string => join(dir, 'no-kmsg');
  const detect = (journalDirectories: string[], journalctl = process.execPath) =>
    detectSource({
      procRoot,
      auditLogPath: join(dir, 'no-audit.log'),
      kmsgPath: missingKmsg(),
      growthWindowMs: 0,
      journalDirectories,
      journalctl,
    });

  it("reads journald's copy from the first journal directory that holds a journal", async () => {
    const persistent = join(dir, 'var-log-journal');
    const volatile = join(dir, 'run-log-journal');
    mkdirSync(persistent);
    addJournal(volatile, 1_700_000_000);
    expect((await detect([persistent, volatile])).spec).toEqual({ type: 'journald', directory: volatile });
    // Once the persistent journal exists it is preferred, however old its files: the choice names the
    // checkpoint and must not flip with write times.
    addJournal(persistent, 1_600_000_000);
    const detected = await detect([persistent, volatile]);
    expect(detected.spec).toEqual({ type: 'journald', directory: persistent });
    expect(detected.reason).toBe(
      `No auditd process in ${procRoot} and ${join(dir, 'no-audit.log')} does not exist, so the kernel writes audit records to ${missingKmsg()}, which cannot be opened here (ENOENT), so journald's copy of the kernel log in ${persistent} is read instead.`,
    );
  });

  it('stays with /dev/kmsg, saying why, when there is no journal or no journalctl', async () => {
    const empty = join(dir, 'empty-journal');
    mkdirSync(empty);
    const none = await detect([empty, join(dir, 'absent')]);
    expect(none.spec).toEqual({ type: 'kmsg' });
    expect(none.reason).toContain(`and no journal was found in ${empty} or ${join(dir, 'absent')}`);

    const journal = join(dir, 'journal');
    addJournal(journal, 1_800_000_000);
    const noTool = await detect([journal], join(dir, 'no-journalctl'));
    expect(noTool.spec).toEqual({ type: 'kmsg' });
    expect(noTool.reason).toContain(
      `journald's copy is in ${journal}, but ${join(dir, 'no-journalctl')} is not there`,
    );
  });

  it('keeps /dev/kmsg when it opens, journal or not', async () => {
    const journal = join(dir, 'journal');
    addJournal(journal, 1_800_000_000);
    const kmsg = join(dir, 'kmsg');
    writeFileSync(kmsg, '');
    const detected = await detectSource({
      procRoot,
      auditLogPath: join(dir, 'no-audit.log'),
      kmsgPath: kmsg,
      growthWindowMs: 0,
      journalDirectories: [journal],
      journalctl: process.execPath,
    });
    expect(detected.spec).toEqual({ type: 'kmsg' });
  });
});
