import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLsmList, readNodeLsm } from '../../../agent/posture/lsm.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/** sysfs trees under test/fixtures/proc/sys/ (README.md there says which are captured, which constructed). */
const sys = (name: string): string => join(FIXTURES, 'proc', 'sys', name);

describe('readNodeLsm', () => {
  it('reads the LSM list of kernel 6.18 here (securityfs mounted): no MAC LSM', () => {
    expect(readNodeLsm(sys('kernel618-securityfs'))).toStrictEqual({
      active: ['lockdown', 'capability', 'landlock', 'bpf'],
      apparmor: false,
      mac: 'none',
    });
  });

  it('knows nothing of the list without securityfs, and then finds no MAC LSM in sysfs either', () => {
    expect(readNodeLsm(sys('no-such-sysfs'))).toStrictEqual({ apparmor: false, mac: 'none' });
  });

  it('finds AppArmor on an Ubuntu 24.04 node', () => {
    expect(readNodeLsm(sys('ubuntu2404-apparmor'))).toStrictEqual({
      active: ['lockdown', 'capability', 'landlock', 'yama', 'apparmor'],
      apparmor: true,
      mac: 'apparmor',
    });
  });

  it('takes the module parameter alone when securityfs is not mounted', () => {
    expect(readNodeLsm(sys('apparmor-no-securityfs'))).toStrictEqual({ apparmor: true, mac: 'apparmor' });
  });

  it('does not count AppArmor built in but left out of lsm=', () => {
    expect(readNodeLsm(sys('apparmor-built-in-not-selected'))).toStrictEqual({
      active: ['lockdown', 'capability', 'landlock', 'yama', 'bpf'],
      apparmor: false,
      mac: 'none',
    });
  });

  it('finds SELinux enforcing, and permissive from selinuxfs alone', () => {
    expect(readNodeLsm(sys('selinux-enforcing'))).toStrictEqual({
      active: ['lockdown', 'capability', 'yama', 'selinux', 'bpf', 'landlock'],
      apparmor: false,
      selinux: 'enforcing',
      mac: 'selinux',
    });
    expect(readNodeLsm(sys('selinux-permissive-no-securityfs'))).toStrictEqual({
      apparmor: false,
      selinux: 'permissive',
      mac: 'selinux',
    });
  });

  it('parses a list with or without a trailing newline', () => {
    expect(parseLsmList('capability,selinux\n')).toStrictEqual(['capability', 'selinux']);
    expect(parseLsmList('')).toStrictEqual([]);
  });
});
