import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditStatusCheck, MIN_BACKLOG_LIMIT } from '../../../agent/doctor/audit-checks.js';
import {
  parseAuditctlStatus,
  readAuditStatus,
  type AuditStatus,
} from '../../../agent/doctor/audit-status.js';
import type { CommandResult, RunCommand } from '../../../agent/doctor/run-command.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/** `auditctl -s` as auditd 3.0.9 prints it on this machine (test/fixtures/doctor/README.md), and what it means. */

const fixture = (name: string): string => readFileSync(join(FIXTURES, 'doctor', name), 'utf8');
const NO_AUDITD = fixture('auditctl-s-kernel618-no-auditd.txt');
const AUDITD_RUNNING = fixture('auditctl-s-kernel618-auditd-running.txt');
const NONROOT_STDERR = fixture('auditctl-s-nonroot.stderr');

/** A RunCommand that answers every call with `result` and records the calls. */
function recorded(result: CommandResult): { run: RunCommand; calls: [string, readonly string[]][] } {
  const calls: [string, readonly string[]][] = [];
  return {
    calls,
    run: (file, args) => {
      calls.push([file, args]);
      return Promise.resolve(result);
    },
  };
}

function status(overrides: Partial<AuditStatus> = {}): AuditStatus {
  return {
    enabled: 1,
    failure: 1,
    pid: 812,
    rateLimit: 0,
    backlogLimit: 8192,
    lost: 0,
    backlog: 0,
    ...overrides,
  };
}

describe('parseAuditctlStatus', () => {
  it('reads auditd 3.0.9 without a daemon: one `key value` per line, loginuid_immutable with two words', () => {
    expect(parseAuditctlStatus(NO_AUDITD)).toEqual({
      enabled: 0,
      failure: 1,
      pid: 0,
      rateLimit: 0,
      backlogLimit: 64,
      lost: 75,
      backlog: 0,
    });
  });

  it('reads auditd 3.0.9 with a daemon registered', () => {
    expect(parseAuditctlStatus(AUDITD_RUNNING)).toEqual({
      enabled: 1,
      failure: 1,
      pid: 23565,
      rateLimit: 0,
      backlogLimit: 8192,
      lost: 75,
      backlog: 0,
    });
  });

  it('reads the one-line form of auditctl 2.x (RHEL 6), where the failure mode is `flag`', () => {
    // insights-core's parser test for RHEL 6 (insights/parsers/tests/test_auditctl.py).
    expect(
      parseAuditctlStatus(
        'AUDIT_STATUS: enabled=1 flag=1 pid=1483 rate_limit=0 backlog_limit=8192 lost=3 backlog=0\n',
      ),
    ).toEqual({ enabled: 1, failure: 1, pid: 1483, rateLimit: 0, backlogLimit: 8192, lost: 3, backlog: 0 });
  });

  it('refuses output without the fields it needs', () => {
    expect(parseAuditctlStatus('')).toBeUndefined();
    expect(parseAuditctlStatus(NONROOT_STDERR)).toBeUndefined();
    expect(parseAuditctlStatus(NO_AUDITD.replace('lost 75\n', ''))).toBeUndefined();
    expect(parseAuditctlStatus(NO_AUDITD.replace('pid 0', 'pid zero'))).toBeUndefined();
  });
});

describe('readAuditStatus', () => {
  it('runs `auditctl -s` (no shell) and parses its stdout', async () => {
    const { run, calls } = recorded({ kind: 'exited', code: 0, stdout: AUDITD_RUNNING, stderr: '' });
    const reading = await readAuditStatus(run);
    expect(calls).toEqual([['auditctl', ['-s']]]);
    expect(reading).toMatchObject({ kind: 'status', status: { pid: 23565, lost: 75 } });
  });

  it('is unknown when auditctl is missing', async () => {
    const { run } = recorded({ kind: 'missing', reason: 'not found on PATH' });
    expect(await readAuditStatus(run)).toEqual({
      kind: 'unknown',
      reason: 'auditctl is not found on PATH',
      fix: 'run `auditctl -s` on the host (Debian/Ubuntu package auditd, RHEL audit) to see lost records and limits',
    });
  });

  it('is unknown, with what auditctl said, when it refuses a user without CAP_AUDIT_CONTROL (exit 4)', async () => {
    const { run } = recorded({ kind: 'exited', code: 4, stdout: '', stderr: NONROOT_STDERR });
    expect(await readAuditStatus(run)).toMatchObject({
      kind: 'unknown',
      reason: 'auditctl -s exited 4: You must be root to run this program.',
    });
  });

  it('is unknown when auditctl hangs or prints something else', async () => {
    expect(await readAuditStatus(recorded({ kind: 'timeout', ms: 2400 }).run)).toMatchObject({
      reason: 'auditctl -s gave no answer within 2400 ms',
    });
    const odd = recorded({ kind: 'exited', code: 0, stdout: 'Usage: auditctl [options]\n', stderr: '' });
    expect(await readAuditStatus(odd.run)).toMatchObject({
      reason: 'auditctl -s printed no status kernwatch can read: Usage: auditctl [options]',
    });
  });
});

describe('auditStatusCheck', () => {
  it('passes a healthy status and says where records go', () => {
    expect(auditStatusCheck({ kind: 'status', status: status() }, true)).toEqual({
      id: 'audit-status',
      status: 'pass',
      detail: 'enabled 1, daemon pid 812, backlog_limit 8192, rate_limit 0, lost 0, backlog 0',
      fix: '',
    });
  });

  it('warns about the records lost on this machine (no daemon: the small backlog does not matter)', () => {
    const s = parseAuditctlStatus(NO_AUDITD);
    if (s === undefined) throw new Error('fixture unreadable');
    expect(auditStatusCheck({ kind: 'status', status: s }, false)).toEqual({
      id: 'audit-status',
      status: 'warn',
      detail:
        'enabled 0, no daemon (pid 0): records go to /dev/kmsg, backlog_limit 64, rate_limit 0, lost 75, backlog 0; ' +
        'the kernel lost 75 audit records since boot (or the last reset)',
      fix:
        'find what lost them (a low backlog_limit or rate_limit, auditd stopped or stalled); ' +
        '`auditctl --reset-lost` after fixing the limits, so that new losses show',
    });
  });

  it('warns about a small rate_limit, and a small backlog_limit only while a daemon is registered', () => {
    const limited = auditStatusCheck({ kind: 'status', status: status({ rateLimit: 2 }) }, true);
    expect(limited.status).toBe('warn');
    expect(limited.detail).toContain('rate_limit 2/s drops records beyond it');
    expect(limited.fix).toBe('`auditctl -r 0` (and -r 0 in audit.rules)');
    expect(auditStatusCheck({ kind: 'status', status: status({ rateLimit: 1000 }) }, true).status).toBe(
      'pass',
    );

    const small = status({ backlogLimit: MIN_BACKLOG_LIMIT - 1 });
    const withDaemon = auditStatusCheck({ kind: 'status', status: small }, true);
    expect(withDaemon.status).toBe('warn');
    expect(withDaemon.detail).toContain('backlog_limit 1023 overflows in a burst of violations');
    expect(withDaemon.fix).toBe('`auditctl -b 8192` (and -b 8192 in audit.rules)');
    expect(auditStatusCheck({ kind: 'status', status: { ...small, pid: 0 } }, false).status).toBe('pass');
    expect(
      auditStatusCheck({ kind: 'status', status: status({ backlogLimit: MIN_BACKLOG_LIMIT }) }, true).status,
    ).toBe('pass');
  });

  it('names a locked configuration and a panic on loss', () => {
    const locked = auditStatusCheck({ kind: 'status', status: status({ enabled: 2 }) }, true);
    expect(locked).toMatchObject({ status: 'pass' });
    expect(locked.detail.startsWith('enabled 2 (locked until reboot), daemon pid 812')).toBe(true);
    const panic = auditStatusCheck({ kind: 'status', status: status({ failure: 2 }) }, true);
    expect(panic).toMatchObject({
      status: 'warn',
      fix: '`auditctl -f 1` unless a panic on a lost record is the policy',
    });
  });

  it('warns "unknown" when auditctl gave no status', () => {
    expect(
      auditStatusCheck({ kind: 'unknown', reason: 'auditctl is not found on PATH', fix: 'F' }, false),
    ).toEqual({
      id: 'audit-status',
      status: 'warn',
      detail: 'unknown: auditctl is not found on PATH',
      fix: 'F',
    });
  });
});
