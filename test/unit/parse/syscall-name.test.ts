import { describe, it, expect } from 'vitest';

import { SYSCALL_ARCHES, syscallName, X32_SYSCALL_BIT } from '../../../agent/parse/syscalls/syscall-name.js';
import { SYSCALL_TABLES } from '../../../agent/parse/syscalls/tables.generated.js';

// Every expected value below was checked with `scmp_sys_resolver -a ARCH NR` (libseccomp 2.5.4-1+deb12u1).
describe('syscallName', () => {
  it('resolves x86_64 numbers', () => {
    expect(syscallName('x86_64', 0)).toBe('read');
    expect(syscallName('x86_64', 39)).toBe('getpid');
    expect(syscallName('x86_64', 105)).toBe('setuid');
    expect(syscallName('x86_64', 110)).toBe('getppid');
    expect(syscallName('x86_64', 165)).toBe('mount');
    expect(syscallName('x86_64', 314)).toBe('sched_setattr');
  });

  it('resolves x86 (i386) numbers, including the multiplexers', () => {
    expect(syscallName('x86', 102)).toBe('socketcall');
    expect(syscallName('x86', 132)).toBe('getpgid');
    expect(syscallName('x86', 243)).toBe('set_thread_area');
  });

  it('resolves the generic-table arches', () => {
    expect(syscallName('aarch64', 173)).toBe('getppid');
    expect(syscallName('riscv64', 173)).toBe('getppid');
  });

  it('resolves arm, including the private ARM syscalls at 0xf0000 + n', () => {
    expect(syscallName('arm', 64)).toBe('getppid');
    expect(syscallName('arm', 0xf0001)).toBe('breakpoint');
    expect(syscallName('arm', 983045)).toBe('set_tls');
  });

  it('resolves s390 and ppc families', () => {
    expect(syscallName('s390x', 64)).toBe('getppid');
    expect(syscallName('s390', 64)).toBe('getppid');
    expect(syscallName('ppc64le', 64)).toBe('getppid');
    expect(syscallName('ppc64', 64)).toBe('getppid');
    expect(syscallName('ppc', 64)).toBe('getppid');
  });

  it('resolves x32 numbers only with the x32 bit set, as audit reports them', () => {
    expect(syscallName('x32', X32_SYSCALL_BIT + 39)).toBe('getpid');
    expect(syscallName('x32', 1073741863)).toBe('getpid');
    expect(syscallName('x32', X32_SYSCALL_BIT + 512)).toBe('rt_sigaction');
    // x32 has no 64-bit rt_sigaction (13); it uses the x32-specific 512.
    expect(syscallName('x32', X32_SYSCALL_BIT + 13)).toBeUndefined();
    // Without the bit it is an x86_64 syscall, not an x32 one.
    expect(syscallName('x32', 39)).toBeUndefined();
    expect(syscallName('x86_64', X32_SYSCALL_BIT + 39)).toBeUndefined();
  });

  it('returns undefined for unknown, negative and non-integer numbers', () => {
    expect(syscallName('x86_64', 335)).toBeUndefined();
    expect(syscallName('x86_64', 4095)).toBeUndefined();
    expect(syscallName('x86_64', 100_000)).toBeUndefined();
    expect(syscallName('arm', 0xf0000)).toBeUndefined();
    expect(syscallName('x86_64', -1)).toBeUndefined();
    expect(syscallName('x86_64', 39.5)).toBeUndefined();
    expect(syscallName('x86_64', Number.NaN)).toBeUndefined();
    expect(syscallName('x86_64', Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('generated syscall tables', () => {
  it('has a table for every arch, sorted by number without duplicates, and it round-trips', () => {
    expect(Object.keys(SYSCALL_TABLES).sort()).toEqual([...SYSCALL_ARCHES].sort());
    for (const arch of SYSCALL_ARCHES) {
      const pairs = SYSCALL_TABLES[arch];
      expect(pairs.length).toBeGreaterThan(250);
      let prev = -1;
      for (const [nr, name] of pairs) {
        expect(nr).toBeGreaterThan(prev);
        prev = nr;
        expect(syscallName(arch, nr)).toBe(name);
      }
    }
  });

  it('stores every x32 number with the x32 bit', () => {
    for (const [nr] of SYSCALL_TABLES.x32) {
      expect(nr & X32_SYSCALL_BIT).toBe(X32_SYSCALL_BIT);
    }
  });
});
