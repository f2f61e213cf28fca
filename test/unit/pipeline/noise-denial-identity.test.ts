import { describe, expect, test } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import { denialIdentity, rateLimitKey } from '../../../agent/pipeline/noise/denial-identity.js';
import { apparmorAt, inContainer, onHost, seccompAt, selinuxAt, withPid } from './noise-test-events.js';

// Identical denials are what may be coalesced: same origin, same kind, same denial, same outcome.

describe('the identity of a denial', () => {
  test('two records of one denial in one container at different times and pids are identical', () => {
    const a = inContainer(seccompAt(0, 1), 1);
    const b = inContainer(withPid(seccompAt(900, 2), 4242), 1);
    expect(denialIdentity(b)).toBe(denialIdentity(a));
  });

  test('another syscall, another arch or another action is another denial', () => {
    const a = inContainer(seccompAt(0, 1), 1);
    const otherSyscall = inContainer(seccompAt(0, 2, 39), 1);
    const seccomp = a.seccomp as NonNullable<KernwatchEvent['seccomp']>;
    const otherArch: KernwatchEvent = { ...a, seccomp: { ...seccomp, arch: 'x86', syscallNr: 110 } };
    const otherAction: KernwatchEvent = { ...a, seccomp: { ...seccomp, action: 'ERRNO', code: '0x50000' } };
    const keys = [a, otherSyscall, otherArch, otherAction].map(denialIdentity);
    expect(new Set(keys).size).toBe(4);
  });

  test('the same denial in another container or with another outcome is not identical', () => {
    const a = inContainer(seccompAt(0, 1), 1);
    expect(denialIdentity(inContainer(seccompAt(0, 1), 2))).not.toBe(denialIdentity(a));
    expect(denialIdentity({ ...a, outcome: 'killed' })).not.toBe(denialIdentity(a));
  });

  test('AppArmor denials of two different files are two identities, of one file one', () => {
    const osrelease = apparmorAt(0, 1, 'osrelease');
    expect(denialIdentity(apparmorAt(500, 2, 'osrelease'))).toBe(denialIdentity(osrelease));
    expect(denialIdentity(apparmorAt(0, 1, 'environ'))).not.toBe(denialIdentity(osrelease));
  });

  test('SELinux permissions are compared as a set, whatever the order the kernel listed them in', () => {
    const avc = selinuxAt(0, 1);
    const selinux = avc.selinux as NonNullable<KernwatchEvent['selinux']>;
    const readOpen: KernwatchEvent = { ...avc, selinux: { ...selinux, permissions: ['read', 'open'] } };
    const openRead: KernwatchEvent = { ...avc, selinux: { ...selinux, permissions: ['open', 'read'] } };
    expect(denialIdentity(openRead)).toBe(denialIdentity(readOpen));
    expect(denialIdentity(readOpen)).not.toBe(denialIdentity(avc));
    expect(selinux.permissions).toEqual(['read']);
    expect(openRead.selinux?.permissions).toEqual(['open', 'read']);
  });

  test('host processes are keyed by executable, so the workers of one daemon coalesce', () => {
    const a = onHost(seccompAt(0, 1));
    expect(denialIdentity(onHost(withPid(seccompAt(10, 2), 9999)))).toBe(denialIdentity(a));
  });

  test('unresolved denials are keyed by pid: two processes of unknown origin never coalesce', () => {
    const a = seccompAt(0, 1);
    expect(a.attribution).toBe('unresolved');
    expect(denialIdentity(seccompAt(10, 2))).toBe(denialIdentity(a));
    expect(denialIdentity(withPid(seccompAt(10, 2), 9999))).not.toBe(denialIdentity(a));
  });
});

describe('the rate-limit bucket of a denial', () => {
  test('is the container for container denials, whatever the process', () => {
    expect(rateLimitKey(inContainer(withPid(seccompAt(0, 2, 39), 7), 1))).toBe(
      rateLimitKey(inContainer(seccompAt(0, 1), 1)),
    );
    expect(rateLimitKey(inContainer(seccompAt(0, 1), 2))).not.toBe(
      rateLimitKey(inContainer(seccompAt(0, 1), 1)),
    );
  });

  test('is the executable for host denials (AppArmor records without exe: the comm)', () => {
    expect(rateLimitKey(onHost(seccompAt(0, 1)))).not.toBe(rateLimitKey(onHost(apparmorAt(0, 2, 'environ'))));
    expect(rateLimitKey(onHost(apparmorAt(0, 2, 'environ')))).toBe(
      rateLimitKey(onHost(withPid(apparmorAt(0, 3, 'osrelease'), 1))),
    );
  });

  test('is one shared bucket for all unresolved denials, so a kill loop with new pids still trips it', () => {
    expect(rateLimitKey(withPid(seccompAt(0, 1), 100))).toBe(rateLimitKey(selinuxAt(0, 2)));
    expect(rateLimitKey(seccompAt(0, 1))).not.toBe(rateLimitKey(onHost(seccompAt(0, 1))));
  });
});
