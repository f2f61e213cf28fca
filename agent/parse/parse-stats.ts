import { LINE_FORM, MALFORMED_REASON, type LineForm, type MalformedReason } from './envelope.js';

/** Records that are read but are not denials, by what they are. */
export const NOT_DENIAL = {
  apparmorStatus: 'apparmor_status',
  apparmorOther: 'apparmor_other',
  selinuxGranted: 'selinux_granted',
  userAvc: 'user_avc',
} as const;
export type NotDenialReason = (typeof NOT_DENIAL)[keyof typeof NOT_DENIAL];

/** Counters of one parser; plain numbers bumped on the hot path, read by metrics and the CLI summary. */
export class ParseStats {
  lines = 0;
  /** Lines that are not audit records of interest: other programs' logs, other record types. */
  notRelevant = 0;
  readonly byForm: Record<LineForm, number> = zeroed(Object.values(LINE_FORM));
  readonly malformed: Record<MalformedReason, number> = zeroed(Object.values(MALFORMED_REASON));
  readonly notDenial: Record<NotDenialReason, number> = zeroed(Object.values(NOT_DENIAL));
  readonly denials = { seccomp: 0, apparmor: 0, selinux: 0 };
  /** Sibling records (SYSCALL, CWD, PATH, PROCTITLE...) added to a denial's event. */
  siblingsJoined = 0;
  /** Siblings beyond the per-event bound, or of events too large to hold. */
  siblingsDropped = 0;
  /** EOE records that closed a denial's event (it is emitted at once instead of after the hold time). */
  eventEnds = 0;
  /** Events flushed early because too many were waiting for their siblings. */
  pendingEvicted = 0;

  malformedTotal(): number {
    let n = 0;
    for (const v of Object.values(this.malformed)) n += v;
    return n;
  }

  denialTotal(): number {
    return this.denials.seccomp + this.denials.apparmor + this.denials.selinux;
  }
}

function zeroed<K extends string>(keys: readonly K[]): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of keys) out[k] = 0;
  return out;
}
