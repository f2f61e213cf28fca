import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cgroupCheck,
  lsmCheck,
  printkRatelimitCheck,
  seccompActionsLoggedCheck,
} from '../../../agent/doctor/kernel-checks.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/**
 * The kernel checks on fixture /proc and /sys trees. This machine's values (kernel 6.18, Debian 12) come
 * from test/fixtures/doctor/kernel618-sysctls.txt; the LSM trees of AppArmor and SELinux hosts are built
 * from the files' documented formats (securityfs `lsm`: comma-separated; apparmor `enabled`: Y or N;
 * selinuxfs `enforce`: 1 or 0).
 */

/** `path: content` lines as captured on this machine. */
const SYSCTLS = new Map(
  readFileSync(join(FIXTURES, 'doctor', 'kernel618-sysctls.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const at = line.indexOf(': ');
      return [line.slice(0, at), line.slice(at + 2)] as const;
    }),
);
const captured = (path: string): string => {
  const value = SYSCTLS.get(path);
  if (value === undefined) throw new Error(`${path} not captured`);
  return value;
};

let root: string;
let proc: string;
let sys: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kernwatch-doctor-kernel-'));
  proc = join(root, 'proc');
  sys = join(root, 'sys');
  mkdirSync(proc);
  mkdirSync(sys);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function put(base: string, path: string, content: string): void {
  mkdirSync(dirname(join(base, path)), { recursive: true });
  writeFileSync(join(base, path), content);
}

describe('seccompActionsLoggedCheck', () => {
  it("passes this machine's default: every action logged", async () => {
    put(
      proc,
      'sys/kernel/seccomp/actions_logged',
      `${captured('/proc/sys/kernel/seccomp/actions_logged')}\n`,
    );
    expect(await seccompActionsLoggedCheck(proc)).toEqual({
      id: 'seccomp-actions-logged',
      status: 'pass',
      detail: 'actions_logged: kill_process kill_thread trap errno user_notif trace log',
      fix: '',
    });
  });

  it('fails without log: SCMP_ACT_LOG denials leave no trace', async () => {
    put(proc, 'sys/kernel/seccomp/actions_logged', 'kill_process kill_thread\n');
    expect(await seccompActionsLoggedCheck(proc)).toEqual({
      id: 'seccomp-actions-logged',
      status: 'fail',
      detail:
        'actions_logged: kill_process kill_thread; not logged even with SECCOMP_FILTER_FLAG_LOG: errno trap user_notif trace; ' +
        'missing log: SCMP_ACT_LOG denials are not recorded at all',
      fix: 'sysctl -w kernel.seccomp.actions_logged="kill_process kill_thread log" (and persist it in /etc/sysctl.d/)',
    });
  });

  it('warns, listing them, when only kill actions are missing', async () => {
    put(proc, 'sys/kernel/seccomp/actions_logged', 'trap errno user_notif trace log\n');
    const result = await seccompActionsLoggedCheck(proc);
    expect(result).toMatchObject({
      status: 'warn',
      detail:
        'actions_logged: trap errno user_notif trace log; missing kill_process, kill_thread: seccomp kills are not recorded',
      fix: 'sysctl -w kernel.seccomp.actions_logged="trap errno user_notif trace log kill_process kill_thread" (and persist it in /etc/sysctl.d/)',
    });
  });

  it('fails on an empty list, and on a kernel without the sysctl', async () => {
    put(proc, 'sys/kernel/seccomp/actions_logged', '\n');
    expect((await seccompActionsLoggedCheck(proc)).status).toBe('fail');
    rmSync(join(proc, 'sys'), { recursive: true });
    const missing = await seccompActionsLoggedCheck(proc);
    expect(missing.status).toBe('fail');
    expect(missing.detail).toBe(
      `${proc}/sys/kernel/seccomp/actions_logged does not exist: this kernel does not log seccomp actions (Linux 4.14 or later with CONFIG_SECCOMP_FILTER does)`,
    );
  });
});

describe('printkRatelimitCheck', () => {
  function limits(interval: string, burst: string): void {
    put(proc, 'sys/kernel/printk_ratelimit', `${interval}\n`);
    put(proc, 'sys/kernel/printk_ratelimit_burst', `${burst}\n`);
  }

  it("warns about this machine's defaults (10 per 5 s) when no audit daemon takes the records", async () => {
    limits(
      captured('/proc/sys/kernel/printk_ratelimit'),
      captured('/proc/sys/kernel/printk_ratelimit_burst'),
    );
    expect(await printkRatelimitCheck(proc, false)).toEqual({
      id: 'printk-ratelimit',
      status: 'warn',
      detail:
        'printk_ratelimit 5 s, printk_ratelimit_burst 10: without auditd at most 10 audit records per 5 s reach /dev/kmsg, the rest are lost',
      fix: 'run auditd, or raise the limit: sysctl -w kernel.printk_ratelimit_burst=1000 (persist in /etc/sysctl.d/)',
    });
  });

  it('passes the defaults while an audit daemon receives the records', async () => {
    limits('5', '10');
    expect(await printkRatelimitCheck(proc, true)).toMatchObject({
      status: 'pass',
      detail:
        'printk_ratelimit 5 s, printk_ratelimit_burst 10; not used while an audit daemon receives the records',
    });
  });

  it('passes a raised burst, a shorter interval and no limit; warns about a stricter one', async () => {
    limits('5', '1000');
    expect((await printkRatelimitCheck(proc, false)).status).toBe('pass');
    limits('1', '10');
    expect((await printkRatelimitCheck(proc, false)).status).toBe('pass');
    limits('0', '10');
    expect(await printkRatelimitCheck(proc, false)).toMatchObject({
      status: 'pass',
      detail: 'printk_ratelimit 0 s, printk_ratelimit_burst 10: no limit on audit records in /dev/kmsg',
    });
    limits('10', '10');
    expect((await printkRatelimitCheck(proc, false)).status).toBe('warn');
    limits('5', '5');
    expect((await printkRatelimitCheck(proc, false)).status).toBe('warn');
  });

  it('warns when the sysctls cannot be read', async () => {
    const result = await printkRatelimitCheck(proc, false);
    expect(result.status).toBe('warn');
    expect(result.detail).toBe(
      `cannot read ${proc}/sys/kernel/printk_ratelimit (ENOENT); cannot read ${proc}/sys/kernel/printk_ratelimit_burst (ENOENT)`,
    );
  });
});

describe('lsmCheck', () => {
  it('warns on this machine: securityfs not mounted, no AppArmor, no SELinux', async () => {
    mkdirSync(join(sys, 'kernel/security'), { recursive: true });
    expect(await lsmCheck(sys)).toEqual({
      id: 'lsm',
      status: 'warn',
      detail:
        `active LSMs unknown (${sys}/kernel/security/lsm not readable: securityfs not mounted?); AppArmor not present; SELinux not present: ` +
        'containers cannot have AppArmor/SELinux profiles, so MAC denials cannot happen',
      fix: 'enable AppArmor (Debian/Ubuntu: on by default; boot with apparmor=1 security=apparmor) or SELinux for MAC confinement; seccomp is still reported',
    });
  });

  it('passes AppArmor (Debian/Ubuntu)', async () => {
    put(sys, 'kernel/security/lsm', 'lockdown,capability,landlock,yama,apparmor');
    put(sys, 'module/apparmor/parameters/enabled', 'Y\n');
    expect(await lsmCheck(sys)).toEqual({
      id: 'lsm',
      status: 'pass',
      detail:
        'active LSMs: lockdown,capability,landlock,yama,apparmor; AppArmor enabled; SELinux not present',
      fix: '',
    });
  });

  it('passes SELinux enforcing, warns when permissive', async () => {
    put(sys, 'kernel/security/lsm', 'lockdown,capability,yama,selinux,bpf,landlock');
    put(sys, 'fs/selinux/enforce', '1');
    expect(await lsmCheck(sys)).toMatchObject({
      status: 'pass',
      detail:
        'active LSMs: lockdown,capability,yama,selinux,bpf,landlock; AppArmor not present; SELinux enforcing',
    });
    put(sys, 'fs/selinux/enforce', '0');
    expect(await lsmCheck(sys)).toMatchObject({
      status: 'warn',
      detail:
        'active LSMs: lockdown,capability,yama,selinux,bpf,landlock; AppArmor not present; SELinux permissive: ' +
        'SELinux denials are logged with permissive=1 (outcome allowed) but nothing is blocked',
      fix: 'setenforce 1 (and SELINUX=enforcing in /etc/selinux/config)',
    });
  });

  it('warns when AppArmor is built in but disabled, and names a MAC LSM kernwatch does not read', async () => {
    put(sys, 'kernel/security/lsm', 'capability,smack');
    put(sys, 'module/apparmor/parameters/enabled', 'N\n');
    const result = await lsmCheck(sys);
    expect(result.status).toBe('warn');
    expect(result.detail).toBe(
      'active LSMs: capability,smack; AppArmor disabled; SELinux not present (smack active: kernwatch does not read its denials): ' +
        'containers cannot have AppArmor/SELinux profiles, so MAC denials cannot happen',
    );
  });

  it('takes the LSM list as the word when the module parameter is not visible', async () => {
    put(sys, 'kernel/security/lsm', 'capability,apparmor');
    expect((await lsmCheck(sys)).detail).toBe(
      'active LSMs: capability,apparmor; AppArmor enabled; SELinux not present',
    );
  });
});

describe('cgroupCheck', () => {
  it('says v1 hybrid on this machine (cgroup2 at unified/)', async () => {
    put(sys, 'fs/cgroup/memory/cgroup.procs', '1\n');
    put(sys, 'fs/cgroup/unified/cgroup.controllers', 'hugetlb\n');
    expect(await cgroupCheck(sys)).toEqual({
      id: 'cgroup',
      status: 'pass',
      detail: `v1 (hybrid: cgroup2 also mounted at ${sys}/fs/cgroup/unified)`,
      fix: '',
    });
  });

  it('says v2 with its controllers, and plain v1', async () => {
    put(sys, 'fs/cgroup/cgroup.controllers', 'cpuset cpu io memory hugetlb pids rdma misc\n');
    expect((await cgroupCheck(sys)).detail).toBe(
      `v2 (unified) at ${sys}/fs/cgroup; controllers: cpuset cpu io memory hugetlb pids rdma misc`,
    );
    rmSync(join(sys, 'fs/cgroup/cgroup.controllers'));
    put(sys, 'fs/cgroup/memory/cgroup.procs', '1\n');
    expect(await cgroupCheck(sys)).toMatchObject({ status: 'pass', detail: `v1 at ${sys}/fs/cgroup` });
  });

  it('passes without a cgroup mount: attribution reads /proc/<pid>/cgroup', async () => {
    expect(await cgroupCheck(sys)).toMatchObject({
      status: 'pass',
      detail: `unknown: ${sys}/fs/cgroup is not there (attribution reads /proc/<pid>/cgroup, which does not need it)`,
    });
  });
});
