/**
 * What `kernwatch doctor` reports: one result per check, each pass / warn / fail with the facts found and
 * a one-line fix. A warn means the node reports, with a gap worth knowing; a fail means something
 * kernwatch needs is broken (the command exits 1).
 */

export const CHECK_STATUS = { pass: 'pass', warn: 'warn', fail: 'fail' } as const;
export type CheckStatus = (typeof CHECK_STATUS)[keyof typeof CHECK_STATUS];

/** The checks, in the order they are reported. The ids are part of the --json output. */
export const CHECK_ID = {
  auditd: 'auditd',
  auditStatus: 'audit-status',
  seccompActionsLogged: 'seccomp-actions-logged',
  printkRatelimit: 'printk-ratelimit',
  lsm: 'lsm',
  cgroup: 'cgroup',
  runc: 'runc',
  cri: 'cri',
  nats: 'nats',
  api: 'api',
} as const;
export type CheckId = (typeof CHECK_ID)[keyof typeof CHECK_ID];

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  /** The facts found, one line. */
  detail: string;
  /** What to do about a warn or fail, one line; empty for pass. */
  fix: string;
}

export function pass(id: CheckId, detail: string): CheckResult {
  return { id, status: CHECK_STATUS.pass, detail, fix: '' };
}

export function warn(id: CheckId, detail: string, fix: string): CheckResult {
  return { id, status: CHECK_STATUS.warn, detail, fix };
}

export function fail(id: CheckId, detail: string, fix: string): CheckResult {
  return { id, status: CHECK_STATUS.fail, detail, fix };
}

/** An error's message, on one line, for a detail. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, '; ').trim();
}
