import { SECCOMP_ACTION, type SeccompAction, type SeccompDetail } from '../events.js';
import { archFromAuditArch, archFromName } from './arch.js';
import { ERRNO_NAMES } from './errno-names.generated.js';
import { hex32, plain, uint, type FieldLookup } from './fields.js';
import { signalNumber } from './signals.js';
import { syscallName, X32_SYSCALL_BIT } from './syscalls/syscall-name.js';
import { SYSCALL_TABLES, type SyscallArch } from './syscalls/tables.generated.js';

/** SECCOMP_RET_ACTION_FULL: the action is the high 16 bits of `code`, the low 16 its data. */
const ACTION_MASK = 0xffff0000;
const DATA_MASK = 0x0000ffff;

const ACTION_BY_CODE: ReadonlyMap<number, SeccompAction> = new Map([
  [0x80000000, SECCOMP_ACTION.KILL_PROCESS],
  [0x00000000, SECCOMP_ACTION.KILL_THREAD],
  [0x00030000, SECCOMP_ACTION.TRAP],
  [0x00050000, SECCOMP_ACTION.ERRNO],
  [0x7fc00000, SECCOMP_ACTION.USER_NOTIF],
  [0x7ff00000, SECCOMP_ACTION.TRACE],
  [0x7ffc0000, SECCOMP_ACTION.LOG],
  [0x7fff0000, SECCOMP_ACTION.ALLOW],
]);

/** ausearch -i prints the action by name. */
const ACTION_BY_NAME: ReadonlyMap<string, SeccompAction> = new Map([
  ['kill', SECCOMP_ACTION.KILL_THREAD],
  ['kill-thread', SECCOMP_ACTION.KILL_THREAD],
  ['kill-process', SECCOMP_ACTION.KILL_PROCESS],
  ['trap', SECCOMP_ACTION.TRAP],
  ['errno', SECCOMP_ACTION.ERRNO],
  ['user-notif', SECCOMP_ACTION.USER_NOTIF],
  ['trace', SECCOMP_ACTION.TRACE],
  ['log', SECCOMP_ACTION.LOG],
  ['allow', SECCOMP_ACTION.ALLOW],
]);

const CODE_BY_ACTION: ReadonlyMap<SeccompAction, number> = new Map(
  [...ACTION_BY_CODE].map(([code, action]) => [action, code] as const),
);

/** One or more printable ASCII characters, no space: what an `arch=` value the kernel wrote can be. */
const PRINTABLE_TOKEN = /^[\x21-\x7e]+$/;

export function seccompDetail(values: FieldLookup): SeccompDetail {
  const rawCode = plain(values.get('code')) ?? '';
  const numericCode = hex32(rawCode);
  let action: SeccompAction;
  let data = 0;
  let code = rawCode;
  if (numericCode !== undefined) {
    // The kernel kills the process for an action it does not know (kernel/seccomp.c, the default case).
    action = ACTION_BY_CODE.get((numericCode & ACTION_MASK) >>> 0) ?? SECCOMP_ACTION.KILL_PROCESS;
    data = numericCode & DATA_MASK;
  } else {
    action = ACTION_BY_NAME.get(rawCode.toLowerCase()) ?? SECCOMP_ACTION.KILL_PROCESS;
    code = `0x${(CODE_BY_ACTION.get(action) ?? 0).toString(16)}`;
  }

  const rawArch = plain(values.get('arch')) ?? '';
  const auditArch = hex32(rawArch);
  let arch: SyscallArch | undefined =
    auditArch !== undefined && /^[0-9a-fA-F]+$/.test(rawArch)
      ? archFromAuditArch(auditArch)
      : archFromName(rawArch);
  const rawSyscall = plain(values.get('syscall')) ?? '';
  let syscallNr = uint(rawSyscall);
  if (arch === 'x86_64' && syscallNr !== undefined && (syscallNr & X32_SYSCALL_BIT) !== 0) arch = 'x32';
  let syscall: string | undefined;
  if (syscallNr !== undefined) {
    syscall = arch === undefined ? undefined : syscallName(arch, syscallNr);
  } else if (rawSyscall !== '') {
    syscall = rawSyscall;
    syscallNr = arch === undefined ? undefined : syscallNumber(arch, rawSyscall);
  }

  const rawSig = plain(values.get('sig'));
  const signal = uint(rawSig) ?? (rawSig === undefined ? undefined : signalNumber(rawSig)) ?? 0;

  // An architecture with no table here is kept as written (the kernel writes it as bare hex); a value
  // the kernel never writes (with spaces or control bytes) is not passed on as a name.
  const archName = arch ?? (PRINTABLE_TOKEN.test(rawArch) ? rawArch : 'unknown');
  const compat = plain(values.get('compat')) === '1';
  const nr = syscallNr ?? -1;
  // Spread in the documented field order so the JSON reads the same for every event.
  const callPart =
    syscall === undefined
      ? { syscallNr: nr, arch: archName, compat, action }
      : { syscall, syscallNr: nr, arch: archName, compat, action };
  // Kernels since 5.x mask the errno out of the record (code=0x50000 for EPERM and EACCES alike):
  // report an errno only when the record really carries one.
  const errnoName = ERRNO_NAMES.get(data);
  const errnoPart =
    action !== SECCOMP_ACTION.ERRNO || data === 0
      ? {}
      : errnoName === undefined
        ? { errno: data }
        : { errno: data, errnoName };
  return { ...callPart, ...errnoPart, signal, code };
}

let numbersByArch: Map<SyscallArch, Map<string, number>> | undefined;

/** Reverse lookup for interpreted records (`syscall=faccessat`); built on first use only. */
function syscallNumber(arch: SyscallArch, name: string): number | undefined {
  numbersByArch ??= new Map();
  let table = numbersByArch.get(arch);
  if (table === undefined) {
    table = new Map(SYSCALL_TABLES[arch].map(([nr, n]) => [n, nr] as const));
    numbersByArch.set(arch, table);
  }
  return table.get(name);
}

export function seccompOutcome(action: SeccompAction): 'killed' | 'blocked' | 'allowed' | 'logged' {
  switch (action) {
    case SECCOMP_ACTION.KILL_PROCESS:
    case SECCOMP_ACTION.KILL_THREAD:
      return 'killed';
    case SECCOMP_ACTION.LOG:
      return 'logged';
    case SECCOMP_ACTION.ALLOW:
      return 'allowed';
    default:
      return 'blocked';
  }
}
