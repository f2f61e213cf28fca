import type { SyscallArch } from './syscalls/tables.generated.js';

/**
 * AUDIT_ARCH values (`arch=` in SECCOMP and SYSCALL records) to libseccomp's architecture names, which
 * are also the names of our syscall tables. A 32-bit process on a 64-bit kernel reports its own 32-bit
 * AUDIT_ARCH (and `compat=1`), so the arch alone selects the right table.
 */
const AUDIT_ARCH: ReadonlyMap<number, SyscallArch> = new Map<number, SyscallArch>([
  [0xc000003e, 'x86_64'],
  [0x40000003, 'x86'],
  [0xc00000b7, 'aarch64'],
  [0x40000028, 'arm'],
  [0xc00000f3, 'riscv64'],
  [0x80000016, 's390x'],
  [0x00000016, 's390'],
  [0xc0000015, 'ppc64le'],
  [0x80000015, 'ppc64'],
  [0x00000014, 'ppc'],
]);

/** Names printed by ausearch -i and auditd's ENRICHED format, to libseccomp's. */
const INTERPRETED_ARCH: ReadonlyMap<string, SyscallArch> = new Map<string, SyscallArch>([
  ['x86_64', 'x86_64'],
  ['i386', 'x86'],
  ['i686', 'x86'],
  ['x86', 'x86'],
  ['aarch64', 'aarch64'],
  ['arm', 'arm'],
  ['armeb', 'arm'],
  ['riscv64', 'riscv64'],
  ['s390x', 's390x'],
  ['s390', 's390'],
  ['ppc64le', 'ppc64le'],
  ['ppc64', 'ppc64'],
  ['ppc', 'ppc'],
]);

export function archFromAuditArch(auditArch: number): SyscallArch | undefined {
  return AUDIT_ARCH.get(auditArch);
}

export function archFromName(name: string): SyscallArch | undefined {
  return INTERPRETED_ARCH.get(name);
}
