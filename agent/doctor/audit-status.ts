import type { RunCommand } from './run-command.js';

/**
 * The kernel's audit status as `auditctl -s` prints it. auditd 2.4 and later (3.0.9 on Debian 12) print
 * one `key value` pair per line:
 *
 *   enabled 0
 *   failure 1
 *   pid 0
 *   rate_limit 0
 *   backlog_limit 64
 *   lost 75
 *   backlog 0
 *   backlog_wait_time 15000
 *   backlog_wait_time_actual 66
 *   loginuid_immutable 0 unlocked
 *
 * older ones (RHEL 6, Ubuntu 14.04) one line: `AUDIT_STATUS: enabled=1 flag=1 pid=1483 rate_limit=0
 * backlog_limit=8192 lost=3 backlog=0`, where `flag` is the failure mode. Both are read.
 */
export interface AuditStatus {
  /** 0 off, 1 on, 2 on and locked until reboot. */
  enabled: number;
  /** What the kernel does when it loses records: 0 silent, 1 printk, 2 panic. */
  failure: number | undefined;
  /** The registered audit daemon (init pid namespace), 0 for none. */
  pid: number;
  /** Records per second the kernel lets through, 0 for no limit. */
  rateLimit: number;
  backlogLimit: number;
  /** Records lost since boot (the counter is only reset by `auditctl --reset-lost`). */
  lost: number;
  /** Records waiting in the kernel's queue now. */
  backlog: number;
}

const REQUIRED = ['enabled', 'pid', 'rate_limit', 'backlog_limit', 'lost', 'backlog'] as const;

/** The status from `auditctl -s` output, or undefined when a required field is missing. */
export function parseAuditctlStatus(text: string): AuditStatus | undefined {
  const fields = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('AUDIT_STATUS:')) {
      for (const token of line.slice('AUDIT_STATUS:'.length).trim().split(/\s+/)) {
        const eq = token.indexOf('=');
        if (eq > 0) setNumber(fields, token.slice(0, eq), token.slice(eq + 1));
      }
      continue;
    }
    const [key, value] = line.split(/\s+/, 2);
    if (key !== undefined && value !== undefined) setNumber(fields, key, value);
  }
  if (!fields.has('failure') && fields.has('flag')) fields.set('failure', fields.get('flag') ?? 0);
  for (const key of REQUIRED) if (!fields.has(key)) return undefined;
  const get = (key: (typeof REQUIRED)[number]): number => fields.get(key) ?? 0;
  return {
    enabled: get('enabled'),
    failure: fields.get('failure'),
    pid: get('pid'),
    rateLimit: get('rate_limit'),
    backlogLimit: get('backlog_limit'),
    lost: get('lost'),
    backlog: get('backlog'),
  };
}

function setNumber(fields: Map<string, number>, key: string, value: string): void {
  if (/^\d{1,15}$/.test(value)) fields.set(key, Number(value));
}

export type AuditStatusReading =
  { kind: 'status'; status: AuditStatus } | { kind: 'unknown'; reason: string; fix: string };

const AUDITCTL_TIMEOUT_MS = 3000;

/** `auditctl -s`, run without a shell; why the status is unknown when it cannot be had. */
export async function readAuditStatus(
  run: RunCommand,
  timeoutMs = AUDITCTL_TIMEOUT_MS,
): Promise<AuditStatusReading> {
  const result = await run('auditctl', ['-s'], timeoutMs);
  switch (result.kind) {
    case 'missing':
      return {
        kind: 'unknown',
        reason: `auditctl is ${result.reason}`,
        fix: 'run `auditctl -s` on the host (Debian/Ubuntu package auditd, RHEL audit) to see lost records and limits',
      };
    case 'timeout':
      return {
        kind: 'unknown',
        reason: `auditctl -s gave no answer within ${result.ms} ms`,
        fix: 'run `auditctl -s` on the host; a stuck audit netlink socket also stalls auditd',
      };
    case 'error':
      return {
        kind: 'unknown',
        reason: `auditctl -s failed: ${result.message}`,
        fix: 'run `auditctl -s` on the host',
      };
    case 'exited': {
      if (result.code !== 0) {
        const said = firstLine(result.stderr) || firstLine(result.stdout);
        return {
          kind: 'unknown',
          reason: `auditctl -s exited ${result.code}${said === '' ? '' : `: ${said}`}`,
          fix: 'run kernwatch doctor as root (auditctl needs CAP_AUDIT_CONTROL), or `auditctl -s` on the host',
        };
      }
      const status = parseAuditctlStatus(result.stdout);
      if (status === undefined) {
        return {
          kind: 'unknown',
          reason: `auditctl -s printed no status kernwatch can read: ${firstLine(result.stdout) || '(nothing)'}`,
          fix: 'run `auditctl -s` on the host',
        };
      }
      return { kind: 'status', status };
    }
  }
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').trim();
}
