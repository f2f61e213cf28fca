import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NodeLsm } from '../../../agent/posture/lsm.js';
import {
  classifyLabel,
  parseAppArmorLabel,
  parseSelinuxLabel,
  readMacLabel,
} from '../../../agent/posture/mac-label.js';

/**
 * attr files in a scratch proc root. No MAC LSM runs on the development machine, so the label TEXTS
 * here are constructed from the formats the LSMs print (apparmor_getprocattr: `<label> (<mode>)\n` or
 * `unconfined\n`; selinux_getprocattr: the context and a NUL), one taken from a public thread (the LXD
 * label of canonical/snapd#15363). The real kernel's answer without an LSM (EINVAL) is checked in
 * test/integration/posture/kernel-confinement.test.ts.
 */

const root = mkdtempSync(join(tmpdir(), 'kw-mac-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function put(path: string, text: string): void {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text, 'latin1');
}

const APPARMOR: NodeLsm = {
  active: ['lockdown', 'capability', 'landlock', 'yama', 'apparmor'],
  apparmor: true,
  mac: 'apparmor',
};
const SELINUX: NodeLsm = {
  active: ['lockdown', 'capability', 'yama', 'selinux', 'bpf', 'landlock'],
  apparmor: false,
  selinux: 'enforcing',
  mac: 'selinux',
};
const NONE_KNOWN: NodeLsm = {
  active: ['lockdown', 'capability', 'landlock', 'bpf'],
  apparmor: false,
  mac: 'none',
};
const NONE_UNKNOWN: NodeLsm = { apparmor: false, mac: 'none' };

describe('parsing labels', () => {
  it('splits an AppArmor label from its mode', () => {
    expect(parseAppArmorLabel('cri-containerd.apparmor.d (enforce)\n')).toStrictEqual({
      kind: 'apparmor',
      label: 'cri-containerd.apparmor.d (enforce)',
      mode: 'enforce',
    });
    expect(parseAppArmorLabel('lxd-nestedc1_</var/snap/lxd/common/lxd> (enforce)\n').mode).toBe('enforce');
    expect(parseAppArmorLabel('my-profile (complain)\n').mode).toBe('complain');
    expect(parseAppArmorLabel('unconfined\n')).toStrictEqual({
      kind: 'apparmor',
      label: 'unconfined',
      mode: 'unconfined',
    });
    expect(parseAppArmorLabel('odd')).toStrictEqual({ kind: 'apparmor', label: 'odd' });
  });

  it('takes the SELinux type as the mode and drops the NUL', () => {
    expect(parseSelinuxLabel('system_u:system_r:container_t:s0:c1,c2\0')).toStrictEqual({
      kind: 'selinux',
      label: 'system_u:system_r:container_t:s0:c1,c2',
      mode: 'container_t',
    });
    expect(parseSelinuxLabel('system_u:system_r:spc_t:s0\0').mode).toBe('spc_t');
  });

  it('classifies a label of unknown origin by shape; Smack-like labels are no MAC label here', () => {
    expect(classifyLabel('unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023\0').mode).toBe(
      'unconfined_t',
    );
    expect(classifyLabel('docker-default (enforce)\n').kind).toBe('apparmor');
    expect(classifyLabel('_\n')).toStrictEqual({ kind: 'none' });
  });
});

describe('readMacLabel', () => {
  it("reads AppArmor's own file first", () => {
    put('100/attr/apparmor/current', 'cri-containerd.apparmor.d (enforce)\n');
    put('100/attr/current', 'something else\n');
    expect(readMacLabel(root, 100, APPARMOR)).toStrictEqual({
      status: 'ok',
      label: { kind: 'apparmor', label: 'cri-containerd.apparmor.d (enforce)', mode: 'enforce' },
    });
  });

  it('falls back to attr/current on a kernel without attr/apparmor/ (before 5.1)', () => {
    put('101/attr/current', 'docker-default (enforce)\n');
    expect(readMacLabel(root, 101, APPARMOR)).toStrictEqual({
      status: 'ok',
      label: { kind: 'apparmor', label: 'docker-default (enforce)', mode: 'enforce' },
    });
  });

  it('reads SELinux from attr/current', () => {
    put('102/attr/current', 'system_u:system_r:container_t:s0:c1,c2\0');
    expect(readMacLabel(root, 102, SELINUX)).toStrictEqual({
      status: 'ok',
      label: { kind: 'selinux', label: 'system_u:system_r:container_t:s0:c1,c2', mode: 'container_t' },
    });
  });

  it('says none without reading when the LSM list is known to hold no MAC LSM', () => {
    expect(readMacLabel(root, 999, NONE_KNOWN)).toStrictEqual({ status: 'ok', label: { kind: 'none' } });
  });

  it('asks attr/current when the list is unknown, and believes what it finds', () => {
    put('103/attr/current', 'system_u:system_r:spc_t:s0\0');
    expect(readMacLabel(root, 103, NONE_UNKNOWN)).toStrictEqual({
      status: 'ok',
      label: { kind: 'selinux', label: 'system_u:system_r:spc_t:s0', mode: 'spc_t' },
    });
  });

  it('reports a process that is gone as gone, whichever LSM', () => {
    for (const lsm of [APPARMOR, SELINUX, NONE_UNKNOWN]) {
      expect(readMacLabel(root, 4_000_000, lsm)).toStrictEqual({ status: 'gone' });
    }
  });

  it('reports another failure with its path and errno', () => {
    mkdirSync(join(root, '104', 'attr', 'current'), { recursive: true });
    const read = readMacLabel(root, 104, SELINUX);
    expect(read.status).toBe('error');
    if (read.status !== 'error') return;
    expect([read.path, read.error.code]).toStrictEqual([join(root, '104', 'attr', 'current'), 'EISDIR']);
  });
});
