import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditdCheck, auditDaemonRegistered } from '../../../agent/doctor/audit-checks.js';
import type { AuditStatusReading } from '../../../agent/doctor/audit-status.js';
import { DEFAULT_AUDIT_LOG, detectSource } from '../../../agent/sources/auto-detect.js';

/**
 * The auditd check on fixture /proc trees: the same auto-detection `run` uses (sources/auto-detect.ts)
 * combined with the kernel's word from `auditctl -s` (the registered daemon's pid).
 */

let dir: string;
let proc: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kernwatch-doctor-auditd-'));
  proc = join(dir, 'proc');
  mkdirSync(proc);
  // init and a kernel thread, as every /proc has.
  addProcess(1, 'systemd', ['/sbin/init']);
  addProcess(30, 'kauditd', []);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function addProcess(pid: number, comm: string, argv: readonly string[]): string {
  const p = join(proc, String(pid));
  mkdirSync(join(p, 'root'), { recursive: true });
  writeFileSync(join(p, 'comm'), `${comm}\n`);
  writeFileSync(join(p, 'cmdline'), argv.length === 0 ? '' : `${argv.join('\0')}\0`);
  return p;
}

/** auditd started as test/helpers/auditd.ts does (`auditd -n -c DIR`), its config seen through /proc/PID/root. */
function addAuditd(pid: number, logExists: boolean): string {
  const confDir = join(dir, 'auditd-conf');
  const logPath = join(dir, 'log', 'audit.log');
  const p = addProcess(pid, 'auditd', ['/sbin/auditd', '-n', '-c', confDir]);
  mkdirSync(join(p, 'root', confDir), { recursive: true });
  writeFileSync(
    join(p, 'root', confDir, 'auditd.conf'),
    `local_events = yes\nlog_file = ${logPath}\nlog_format = ENRICHED\n`,
  );
  if (logExists) {
    mkdirSync(join(dir, 'log'));
    writeFileSync(logPath, 'type=DAEMON_START msg=audit(1795864600.000:1): op=start ver=3.0.9\n');
  }
  return logPath;
}

const kernel = (pid: number): AuditStatusReading => ({
  kind: 'status',
  status: { enabled: 1, failure: 1, pid, rateLimit: 0, backlogLimit: 8192, lost: 0, backlog: 0 },
});
const unknown: AuditStatusReading = { kind: 'unknown', reason: 'auditctl is not found on PATH', fix: '' };
const detect = (): ReturnType<typeof detectSource> => detectSource({ procRoot: proc, growthWindowMs: 0 });

describe('auditdCheck', () => {
  it('passes when auditd runs, its log_file exists and the kernel hands records to it', async () => {
    const logPath = addAuditd(4242, true);
    const detected = await detect();
    expect(auditdCheck({ detected, reading: kernel(4242), sources: [] })).toEqual({
      id: 'auditd',
      status: 'pass',
      detail: `auditd is running (pid 4242) and its log ${logPath} exists, so audit records go there and not to /dev/kmsg. The kernel hands records to pid 4242.`,
      fix: '',
    });
    expect(auditDaemonRegistered(detected, kernel(4242))).toBe(true);
  });

  it('passes on the detection alone when auditctl cannot be asked', async () => {
    addAuditd(4242, true);
    const result = auditdCheck({ detected: await detect(), reading: unknown, sources: [] });
    expect(result.status).toBe('pass');
    expect(result.detail.endsWith('not to /dev/kmsg.')).toBe(true);
  });

  it('warns when auditd is not running: records go to /dev/kmsg, rate-limited', async () => {
    const missingLog = join(dir, 'no-audit.log');
    const detected = await detectSource({ procRoot: proc, auditLogPath: missingLog, growthWindowMs: 0 });
    const result = auditdCheck({ detected, reading: kernel(0), sources: [] });
    expect(result).toEqual({
      id: 'auditd',
      status: 'warn',
      detail:
        `auditd is not running. No auditd process in ${proc} and ${missingLog} does not exist, so the kernel writes audit records to /dev/kmsg. ` +
        '/dev/kmsg is printk-rate-limited: 10 records per 5 s by default, the rest are lost.',
      fix: 'run auditd on the node (Debian/Ubuntu: apt-get install auditd), or raise kernel.printk_ratelimit_burst (see printk-ratelimit)',
    });
    expect(auditDaemonRegistered(detected, kernel(0))).toBe(false);
  });

  it('fails when another daemon (auditbeat, go-audit, auditd elsewhere) takes the records and no log is found', async () => {
    const result = auditdCheck({ detected: await detect(), reading: kernel(777), sources: [] });
    expect(result.status).toBe('fail');
    expect(result.detail).toContain(
      'An audit daemon (pid 777) is registered with the kernel, so no audit record reaches /dev/kmsg',
    );
  });

  it('fails when auditd runs but is not registered with the kernel (records go to kmsg, not its log)', async () => {
    const logPath = addAuditd(4242, true);
    const result = auditdCheck({ detected: await detect(), reading: kernel(0), sources: [] });
    expect(result.status).toBe('fail');
    expect(result.detail).toContain(`records go to /dev/kmsg, not to ${logPath}.`);
  });

  it.skipIf(existsSync(DEFAULT_AUDIT_LOG))(
    'fails when auditd runs without a readable log: the agent would read an empty /dev/kmsg',
    async () => {
      addAuditd(4242, false);
      const result = auditdCheck({ detected: await detect(), reading: kernel(4242), sources: [] });
      expect(result.status).toBe('fail');
      expect(result.detail).toContain(
        'kernwatch finds no log it writes: auditd is running (pid 4242) but none of its possible logs',
      );
    },
  );

  it('judges configured sources against where records go', async () => {
    addAuditd(4242, true);
    const detected = await detect();
    const kmsgOnly = auditdCheck({
      detected,
      reading: kernel(4242),
      sources: [{ type: 'kmsg', path: '/dev/kmsg' }],
    });
    expect(kmsgOnly).toMatchObject({
      status: 'fail',
      detail:
        'The config reads only kmsg:/dev/kmsg, but an audit daemon (pid 4242) is registered with the kernel: no audit record reaches /dev/kmsg while it runs.',
    });
    const auditdOnly = auditdCheck({
      detected: await detectSource({ procRoot: join(dir, 'empty'), growthWindowMs: 0 }),
      reading: kernel(0),
      sources: [{ type: 'auditd', path: '/var/log/audit/audit.log' }],
    });
    expect(auditdOnly).toMatchObject({
      status: 'fail',
      detail:
        'The config reads only auditd:/var/log/audit/audit.log, but no audit daemon is registered with the kernel (auditctl -s: pid 0): records go to /dev/kmsg.',
    });
    const both = auditdCheck({
      detected,
      reading: kernel(4242),
      sources: [
        { type: 'kmsg', path: '/dev/kmsg' },
        { type: 'auditd', path: '/var/log/audit/audit.log' },
      ],
    });
    expect(both.status).toBe('pass');
  });
});
