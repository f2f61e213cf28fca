import type { SourceConfig } from '../config/config-schema.js';
import type { DetectedSource } from '../sources/auto-detect.js';
import type { AuditStatus, AuditStatusReading } from './audit-status.js';
import { CHECK_ID, fail, pass, warn, type CheckResult } from './doctor-types.js';

/**
 * Where the kernel's audit records go, and whether kernwatch reads that place. With an audit daemon
 * registered (auditctl -s: pid), every record goes to it and none to /dev/kmsg; without one, they go to
 * /dev/kmsg, printk-rate-limited. The auto-detection (sources/auto-detect.ts) is the same one `run` uses,
 * so the detail says what the agent would read.
 */

/** Below this, a burst of violations overflows the kernel's queue to auditd (the kernel default is 64). */
export const MIN_BACKLOG_LIMIT = 1024;
/** A rate_limit below this many records per second drops records in a burst ("audit: rate limit exceeded"). */
const MIN_RATE_LIMIT = 1000;

export interface AuditdCheckInput {
  detected: DetectedSource;
  reading: AuditStatusReading;
  /** The config's sources; empty: the agent auto-detects, as `detected` did. */
  sources: readonly SourceConfig[];
}

/** Whether a daemon receives the records: the kernel's word when auditctl answered, else the detection's. */
export function auditDaemonRegistered(detected: DetectedSource, reading: AuditStatusReading): boolean {
  return reading.kind === 'status' ? reading.status.pid !== 0 : detected.spec.type === 'auditd';
}

export function auditdCheck({ detected, reading, sources }: AuditdCheckInput): CheckResult {
  const id = CHECK_ID.auditd;
  const kernelPid = reading.kind === 'status' ? reading.status.pid : undefined;
  const registered = auditDaemonRegistered(detected, reading);
  const configured = configuredSourcesProblem(sources, registered, kernelPid);
  if (configured !== undefined) return configured;

  if (detected.spec.type === 'auditd') {
    if (kernelPid === 0) {
      return fail(
        id,
        `${detected.reason} But no audit daemon is registered with the kernel (auditctl -s: pid 0): records go to /dev/kmsg, not to ${detected.spec.path}.`,
        'restart auditd so that it registers (systemctl restart auditd), or stop it and let kernwatch read /dev/kmsg',
      );
    }
    const kernel = kernelPid === undefined ? '' : ` The kernel hands records to pid ${kernelPid}.`;
    return pass(id, `${detected.reason}${kernel}`);
  }
  if (kernelPid !== undefined && kernelPid !== 0) {
    return fail(
      id,
      `An audit daemon (pid ${kernelPid}) is registered with the kernel, so no audit record reaches /dev/kmsg, but kernwatch finds no log it writes: ${detected.reason}`,
      "give kernwatch that daemon's log (source auditd:PATH, or journald/syslog if it forwards there), or stop the daemon",
    );
  }
  return warn(
    id,
    `auditd is not running. ${detected.reason} /dev/kmsg is printk-rate-limited: 10 records per 5 s by default, the rest are lost.`,
    'run auditd on the node (Debian/Ubuntu: apt-get install auditd), or raise kernel.printk_ratelimit_burst (see printk-ratelimit)',
  );
}

/** Configured sources that cannot see the records where the kernel sends them. */
function configuredSourcesProblem(
  sources: readonly SourceConfig[],
  registered: boolean,
  kernelPid: number | undefined,
): CheckResult | undefined {
  if (sources.length === 0) return undefined;
  const types = new Set(sources.map((s) => s.type));
  const list = sources.map((s) => ('path' in s ? `${s.type}:${s.path}` : s.type)).join(', ');
  if (registered && types.size === 1 && types.has('kmsg')) {
    const who = kernelPid === undefined ? 'an audit daemon' : `an audit daemon (pid ${kernelPid})`;
    return fail(
      CHECK_ID.auditd,
      `The config reads only ${list}, but ${who} is registered with the kernel: no audit record reaches /dev/kmsg while it runs.`,
      "add the daemon's log as a source (auditd:/var/log/audit/audit.log), or leave sources empty to auto-detect",
    );
  }
  if (!registered && kernelPid === 0 && types.size === 1 && types.has('auditd')) {
    return fail(
      CHECK_ID.auditd,
      `The config reads only ${list}, but no audit daemon is registered with the kernel (auditctl -s: pid 0): records go to /dev/kmsg.`,
      'start auditd, or add the kmsg source (or leave sources empty to auto-detect)',
    );
  }
  return undefined;
}

export function auditStatusCheck(reading: AuditStatusReading, registered: boolean): CheckResult {
  const id = CHECK_ID.auditStatus;
  if (reading.kind === 'unknown') return warn(id, `unknown: ${reading.reason}`, reading.fix);
  const s = reading.status;
  const facts = describeStatus(s);
  const problems: string[] = [];
  const fixes: string[] = [];
  if (s.lost > 0) {
    problems.push(`the kernel lost ${s.lost} audit records since boot (or the last reset)`);
    fixes.push('`auditctl --reset-lost` after fixing the limits, so that new losses show');
  }
  if (s.rateLimit > 0 && s.rateLimit < MIN_RATE_LIMIT) {
    problems.push(`rate_limit ${s.rateLimit}/s drops records beyond it`);
    fixes.push('`auditctl -r 0` (and -r 0 in audit.rules)');
  }
  if (registered && s.backlogLimit < MIN_BACKLOG_LIMIT) {
    problems.push(`backlog_limit ${s.backlogLimit} overflows in a burst of violations`);
    fixes.push('`auditctl -b 8192` (and -b 8192 in audit.rules)');
  }
  if (s.failure === 2) {
    problems.push('failure 2: the kernel panics when it loses a record');
    fixes.push('`auditctl -f 1` unless a panic on a lost record is the policy');
  }
  if (problems.length === 0) return pass(id, facts);
  if (s.lost > 0 && fixes.length === 1) {
    fixes.unshift('find what lost them (a low backlog_limit or rate_limit, auditd stopped or stalled)');
  }
  return warn(id, `${facts}; ${problems.join('; ')}`, fixes.join('; '));
}

function describeStatus(s: AuditStatus): string {
  const enabled = s.enabled === 2 ? 'enabled 2 (locked until reboot)' : `enabled ${s.enabled}`;
  const daemon = s.pid === 0 ? 'no daemon (pid 0): records go to /dev/kmsg' : `daemon pid ${s.pid}`;
  return `${enabled}, ${daemon}, backlog_limit ${s.backlogLimit}, rate_limit ${s.rateLimit}, lost ${s.lost}, backlog ${s.backlog}`;
}
