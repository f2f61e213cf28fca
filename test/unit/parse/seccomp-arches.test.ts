import { describe, expect, it } from 'vitest';
import { corpusLine, derive } from '../../helpers/corpus-lines.js';
import { onlyEvent } from '../../helpers/parse-text.js';

/**
 * arch= (AUDIT_ARCH_*, include/uapi/linux/audit.h) → libseccomp's arch name, and syscall= → the syscall
 * name in that arch's table. Syscall numbers below are the kernel's (arch/x86/entry/syscalls/*.tbl,
 * include/uapi/asm-generic/unistd.h for aarch64/riscv64, arch/arm/tools/syscall.tbl,
 * arch/s390/kernel/syscalls/syscall.tbl, arch/powerpc/kernel/syscalls/syscall.tbl).
 */

const KMSG = 'kmsg/kernel618-seccomp-all-actions.kmsg';
/** Real: the LOG record of pid 8577 (`arch=c000003e syscall=110 compat=0`, getppid on x86_64). */
const LOG_LINE = (): string => corpusLine(KMSG, 2);

describe('seccomp arch and syscall of real records', () => {
  // [corpus file, line, arch=, syscall=, arch name, syscall name, compat]
  const real = [
    ['syslog/gh-netblue30-firejail-5207.log', 1, 'c000003e', 41, 'x86_64', 'socket', false],
    ['journald/gh-containers-crun-683.log', 2, 'c000003e', 165, 'x86_64', 'mount', false],
    ['dmesg/gh-codepayne-pop-os-linux-5.log', 1, 'c000003e', 314, 'x86_64', 'sched_setattr', false],
    ['auditd/go-libaudit-auparse-test3.log', 17, '40000003', 132, 'x86', 'getpgid', false],
    // A 32-bit process on a 64-bit kernel: the i386 AUDIT_ARCH and compat=1.
    ['journald/gh-nestybox-sysbox-350.log', 1, '40000003', 243, 'x86', 'set_thread_area', true],
  ] as const;

  it.each(real)('%s:%i (arch=%s syscall=%i) is %s %s', (file, lineNo, arch, nr, archName, name, compat) => {
    const line = corpusLine(file, lineNo);
    expect(line).toContain(`arch=${arch} syscall=${String(nr)} compat=${compat ? '1' : '0'}`);
    const s = onlyEvent(line).seccomp;
    expect(s?.arch).toBe(archName);
    expect(s?.syscall).toBe(name);
    expect(s?.syscallNr).toBe(nr);
    expect(s?.compat).toBe(compat);
  });

  it('resolves the i386 compat record of sysbox issue 350 completely', () => {
    // Real: journald/gh-nestybox-sysbox-350.log line 1 (a KILL_THREAD of a 32-bit binary).
    expect(onlyEvent(corpusLine('journald/gh-nestybox-sysbox-350.log', 1)).seccomp).toStrictEqual({
      syscall: 'set_thread_area',
      syscallNr: 243,
      arch: 'x86',
      compat: true,
      action: 'KILL_THREAD',
      signal: 31,
      code: '0x0',
    });
  });

  it('maps an interpreted aarch64 record with a syscall name back to its number', () => {
    // Real: ausearch -i output, `arch=aarch64 syscall=faccessat`; faccessat is 48 in the generic table.
    const s = onlyEvent(corpusLine('auditd-interpreted/gh-libreswan-libreswan-2068.log', 1)).seccomp;
    expect(s?.arch).toBe('aarch64');
    expect(s?.syscall).toBe('faccessat');
    expect(s?.syscallNr).toBe(48);
  });
});

describe('seccomp arch and syscall of other architectures', () => {
  // CONSTRUCTED: the corpus has seccomp records of x86_64 and i386 only. Each line below is kmsg line 2 of
  // kernel618-seccomp-all-actions.kmsg with only `arch=c000003e syscall=110` changed to the values shown.
  // [arch=, syscall=, arch name, syscall name]
  const constructed = [
    ['c00000b7', 173, 'aarch64', 'getppid'],
    ['c00000b7', 56, 'aarch64', 'openat'],
    ['c00000b7', 221, 'aarch64', 'execve'],
    ['40000028', 64, 'arm', 'getppid'],
    ['40000028', 322, 'arm', 'openat'],
    ['40000028', 26, 'arm', 'ptrace'],
    // ARM private syscalls are numbered from 0xf0000 (__ARM_NR_BASE); 0xf0005 is set_tls.
    ['40000028', 0xf0005, 'arm', 'set_tls'],
    ['c00000f3', 173, 'riscv64', 'getppid'],
    ['c00000f3', 56, 'riscv64', 'openat'],
    ['80000016', 64, 's390x', 'getppid'],
    ['80000016', 288, 's390x', 'openat'],
    ['80000016', 359, 's390x', 'socket'],
    ['00000016', 64, 's390', 'getppid'],
    ['c0000015', 64, 'ppc64le', 'getppid'],
    ['c0000015', 286, 'ppc64le', 'openat'],
    ['c0000015', 326, 'ppc64le', 'socket'],
    ['80000015', 286, 'ppc64', 'openat'],
    ['00000014', 286, 'ppc', 'openat'],
    ['c000003e', 257, 'x86_64', 'openat'],
    ['40000003', 295, 'x86', 'openat'],
    ['40000003', 102, 'x86', 'socketcall'],
  ] as const;

  it.each(constructed)('arch=%s syscall=%i is %s %s', (arch, nr, archName, name) => {
    const line = derive(LOG_LINE(), 'arch=c000003e syscall=110', `arch=${arch} syscall=${String(nr)}`);
    expect(onlyEvent(line).seccomp).toStrictEqual({
      syscall: name,
      syscallNr: nr,
      arch: archName,
      compat: false,
      action: 'LOG',
      signal: 0,
      code: '0x7ffc0000',
    });
  });
});

describe('x32 seccomp records', () => {
  // CONSTRUCTED from kmsg line 2: an x32 process reports AUDIT_ARCH_X86_64 (c000003e) with
  // __X32_SYSCALL_BIT (0x40000000) set in the syscall number. Besides syscall=, compat=0 is changed to
  // compat=1: the kernel writes in_compat_syscall(), which is true for x32 syscalls.
  const x32 = [
    [0x40000000 + 0, 'read'],
    [0x40000000 + 110, 'getppid'],
    [0x40000000 + 257, 'openat'],
    // x32-specific entries (512 and up) replace the 64-bit ones that take pointers to structures.
    [0x40000000 + 512, 'rt_sigaction'],
    [0x40000000 + 520, 'execve'],
  ] as const;

  it.each(x32)('arch=c000003e syscall=%i is x32 %s', (nr, name) => {
    const line = derive(LOG_LINE(), 'syscall=110 compat=0', `syscall=${String(nr)} compat=1`);
    expect(onlyEvent(line).seccomp).toStrictEqual({
      syscall: name,
      syscallNr: nr,
      arch: 'x32',
      compat: true,
      action: 'LOG',
      signal: 0,
      code: '0x7ffc0000',
    });
  });

  it('omits the syscall of an x32 number that x32 does not have, and keeps the arch x32', () => {
    // x32 has no 64-bit rt_sigaction (13): it uses 512. CONSTRUCTED like the table above.
    const nr = 0x40000000 + 13;
    const line = derive(LOG_LINE(), 'syscall=110 compat=0', `syscall=${String(nr)} compat=1`);
    expect(onlyEvent(line).seccomp).toStrictEqual({
      syscallNr: nr,
      arch: 'x32',
      compat: true,
      action: 'LOG',
      signal: 0,
      code: '0x7ffc0000',
    });
  });
});

describe('seccomp records of an architecture kernwatch has no table for', () => {
  it('omits the syscall name and keeps arch as written (loongarch64, AUDIT_ARCH c0000102)', () => {
    // CONSTRUCTED from kmsg line 2: arch=c000003e → arch=c0000102 (LoongArch64; getppid is 173 there, but
    // libseccomp 2.5.4, whose tables kernwatch uses, does not know the arch).
    const line = derive(LOG_LINE(), 'arch=c000003e syscall=110', 'arch=c0000102 syscall=173');
    const s = onlyEvent(line).seccomp;
    expect(s).toStrictEqual({
      syscallNr: 173,
      arch: 'c0000102',
      compat: false,
      action: 'LOG',
      signal: 0,
      code: '0x7ffc0000',
    });
    expect(s !== undefined && 'syscall' in s).toBe(false);
  });

  it('omits the syscall name of a number unknown for a known arch', () => {
    // CONSTRUCTED from kmsg line 2: syscall=110 → syscall=4000 (no x86_64 syscall has that number).
    const line = derive(LOG_LINE(), 'syscall=110', 'syscall=4000');
    const s = onlyEvent(line).seccomp;
    expect(s?.arch).toBe('x86_64');
    expect(s?.syscallNr).toBe(4000);
    expect(s !== undefined && 'syscall' in s).toBe(false);
  });
});
