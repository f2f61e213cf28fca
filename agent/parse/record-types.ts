/**
 * Audit record types kernwatch reads. auditd writes names (`type=SECCOMP`), or `UNKNOWN[1326]` for numbers
 * it does not know; kernel logs write numbers (`type=1326`); journald's audit transport writes the name as
 * the first word of the message.
 */
export const RECORD_TYPE = {
  other: 0,
  SECCOMP: 1326,
  AVC: 1400,
  USER_AVC: 1107,
  SYSCALL: 1300,
  PATH: 1302,
  SOCKADDR: 1306,
  CWD: 1307,
  EXECVE: 1309,
  EOE: 1320,
  PROCTITLE: 1327,
  ANOM_ABEND: 1701,
  APPARMOR_AUDIT: 1501,
  APPARMOR_ALLOWED: 1502,
  APPARMOR_DENIED: 1503,
  APPARMOR_HINT: 1504,
  APPARMOR_STATUS: 1505,
  APPARMOR_ERROR: 1506,
  APPARMOR_KILL: 1507,
} as const;

export type RecordType = (typeof RECORD_TYPE)[keyof typeof RECORD_TYPE];

const BY_NAME: ReadonlyMap<string, RecordType> = new Map(
  Object.entries(RECORD_TYPE).filter(([name]) => name !== 'other') as [string, RecordType][],
);
const KNOWN_NUMBERS: ReadonlySet<number> = new Set(BY_NAME.values());

/** What a record can be for the parser. */
export const RECORD_ROLE = {
  /** May carry a denial (SECCOMP, AVC, APPARMOR_*). */
  denial: 1,
  /** Belongs to a denial's audit event and enriches it (SYSCALL, CWD, PATH, ...). */
  sibling: 2,
  /** Ends an audit event. */
  end: 3,
  /** Anything else: counted, not parsed. */
  other: 0,
} as const;
export type RecordRole = (typeof RECORD_ROLE)[keyof typeof RECORD_ROLE];

export function recordTypeFromName(name: string): RecordType {
  return BY_NAME.get(name) ?? RECORD_TYPE.other;
}

export function recordTypeFromNumber(n: number): RecordType {
  return KNOWN_NUMBERS.has(n) ? (n as RecordType) : RECORD_TYPE.other;
}

export function roleOf(type: RecordType): RecordRole {
  switch (type) {
    case RECORD_TYPE.SECCOMP:
    case RECORD_TYPE.AVC:
    case RECORD_TYPE.APPARMOR_AUDIT:
    case RECORD_TYPE.APPARMOR_ALLOWED:
    case RECORD_TYPE.APPARMOR_DENIED:
    case RECORD_TYPE.APPARMOR_KILL:
      return RECORD_ROLE.denial;
    case RECORD_TYPE.SYSCALL:
    case RECORD_TYPE.PATH:
    case RECORD_TYPE.SOCKADDR:
    case RECORD_TYPE.CWD:
    case RECORD_TYPE.EXECVE:
    case RECORD_TYPE.PROCTITLE:
    case RECORD_TYPE.ANOM_ABEND:
      return RECORD_ROLE.sibling;
    case RECORD_TYPE.EOE:
      return RECORD_ROLE.end;
    default:
      return RECORD_ROLE.other;
  }
}

/**
 * Reads a record type token starting at `pos` and ending at `end` (exclusive): a name, a number, or
 * auditd's `UNKNOWN[NNNN]`. Compares characters instead of slicing so the 90% of lines that are not
 * interesting cost no allocation.
 */
export function recordTypeAt(text: string, pos: number, end: number): RecordType {
  const c = text.charCodeAt(pos);
  if (c >= 48 && c <= 57) return recordTypeFromNumber(readUint(text, pos, end));
  switch (c) {
    case 83: // S
      if (matchToken(text, pos, end, 'SECCOMP')) return RECORD_TYPE.SECCOMP;
      if (matchToken(text, pos, end, 'SYSCALL')) return RECORD_TYPE.SYSCALL;
      if (matchToken(text, pos, end, 'SOCKADDR')) return RECORD_TYPE.SOCKADDR;
      return RECORD_TYPE.other;
    case 65: // A
      if (matchToken(text, pos, end, 'AVC')) return RECORD_TYPE.AVC;
      if (matchToken(text, pos, end, 'ANOM_ABEND')) return RECORD_TYPE.ANOM_ABEND;
      if (text.startsWith('APPARMOR_', pos)) return recordTypeFromName(text.slice(pos, end));
      return RECORD_TYPE.other;
    case 80: // P
      if (matchToken(text, pos, end, 'PROCTITLE')) return RECORD_TYPE.PROCTITLE;
      if (matchToken(text, pos, end, 'PATH')) return RECORD_TYPE.PATH;
      return RECORD_TYPE.other;
    case 67: // C
      return matchToken(text, pos, end, 'CWD') ? RECORD_TYPE.CWD : RECORD_TYPE.other;
    case 69: // E
      if (matchToken(text, pos, end, 'EOE')) return RECORD_TYPE.EOE;
      if (matchToken(text, pos, end, 'EXECVE')) return RECORD_TYPE.EXECVE;
      return RECORD_TYPE.other;
    case 85: // U
      if (text.startsWith('UNKNOWN[', pos)) return recordTypeFromNumber(readUint(text, pos + 8, end));
      if (matchToken(text, pos, end, 'USER_AVC')) return RECORD_TYPE.USER_AVC;
      return RECORD_TYPE.other;
    default:
      return RECORD_TYPE.other;
  }
}

function matchToken(text: string, pos: number, end: number, name: string): boolean {
  return end - pos === name.length && text.startsWith(name, pos);
}

/** Digits at pos (at most 9); -1 when there are none. */
export function readUint(text: string, pos: number, end: number): number {
  let n = 0;
  let i = pos;
  const stop = Math.min(end, pos + 9);
  for (; i < stop; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return i === pos ? -1 : n;
}
