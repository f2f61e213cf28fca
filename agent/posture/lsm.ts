import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { MAC_KIND, type MacKind } from './posture-types.js';

/**
 * Which Linux security modules the node's kernel runs, from sysfs and securityfs:
 *
 *   <sys>/kernel/security/lsm                  comma list of the active LSMs in call order (kernel >= 4.15);
 *                                              only there when securityfs is mounted on it
 *   <sys>/module/apparmor/parameters/enabled   Y/N; the LSM framework writes N when AppArmor is built in but
 *                                              left out of lsm= (set_enabled on its `enabled` pointer)
 *   <sys>/fs/selinux/enforce                   1 enforcing, 0 permissive; selinuxfs is only registered when
 *                                              SELinux is active
 *
 * A DaemonSet's own /sys is a fresh sysfs without securityfs or selinuxfs below it: mount the host's
 * /sys (hostPath) and pass its path as `sysRoot`, or `active` stays unknown.
 */

export const SELINUX_MODE = { enforcing: 'enforcing', permissive: 'permissive' } as const;
export type SelinuxMode = (typeof SELINUX_MODE)[keyof typeof SELINUX_MODE];

export interface NodeLsm {
  /** The active LSMs in the kernel's order; undefined when securityfs is not mounted (then unknown). */
  active?: string[];
  /** AppArmor is enabled (module parameter Y, and named by `active` when that is known). */
  apparmor: boolean;
  /** SELinux's mode; undefined when SELinux is not active. */
  selinux?: SelinuxMode;
  /**
   * The MAC LSM that labels processes, `none` when neither AppArmor nor SELinux runs. With `active`
   * unknown, `none` only means that neither left its mark in sysfs: readMacLabel then asks the kernel
   * through /proc/PID/attr.
   */
  mac: MacKind;
}

/** These files are one line; a page is the most any LSM returns for a process label. */
const MAX_BYTES = 4096;

export function readNodeLsm(sysRoot = '/sys'): NodeLsm {
  const listText = readSmall(join(sysRoot, 'kernel', 'security', 'lsm'));
  const active = listText === undefined ? undefined : parseLsmList(listText);
  const apparmorParam = readSmall(join(sysRoot, 'module', 'apparmor', 'parameters', 'enabled'))?.trim();
  const enforce = readSmall(join(sysRoot, 'fs', 'selinux', 'enforce'))?.trim();

  const listed = (name: string): boolean => active === undefined || active.includes(name);
  const apparmor = apparmorParam === 'Y' && listed('apparmor');
  let selinux: SelinuxMode | undefined;
  if (listed('selinux')) {
    if (enforce === '1') selinux = SELINUX_MODE.enforcing;
    else if (enforce === '0') selinux = SELINUX_MODE.permissive;
  }

  const out: NodeLsm = { apparmor, mac: macOf(active, apparmor, selinux) };
  if (active !== undefined) out.active = active;
  if (selinux !== undefined) out.selinux = selinux;
  return out;
}

/** `lockdown,capability,landlock,bpf` (no newline at its end; tolerated). */
export function parseLsmList(text: string): string[] {
  return text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

/** Only one of the two runs at a time (both claim the exclusive slot); the first listed wins if not. */
function macOf(active: string[] | undefined, apparmor: boolean, selinux: SelinuxMode | undefined): MacKind {
  if (apparmor && selinux !== undefined && active !== undefined) {
    return active.indexOf('selinux') < active.indexOf('apparmor') ? MAC_KIND.selinux : MAC_KIND.apparmor;
  }
  if (selinux !== undefined) return MAC_KIND.selinux;
  if (apparmor) return MAC_KIND.apparmor;
  return MAC_KIND.none;
}

/**
 * A small sysfs, securityfs or procfs attr file (its first 4 KiB) as latin1 text, or the errno error that
 * kept it from being read. Also mac-label.ts's reader of /proc/PID/attr.
 */
export function readSmallFile(
  path: string,
): { text: string; error?: never } | { text?: never; error: NodeJS.ErrnoException } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    return { error: err as NodeJS.ErrnoException };
  }
  try {
    const buf = Buffer.allocUnsafe(MAX_BYTES);
    const n = readSync(fd, buf, 0, MAX_BYTES, 0);
    return { text: buf.toString('latin1', 0, n) };
  } catch (err) {
    return { error: err as NodeJS.ErrnoException };
  } finally {
    closeSync(fd);
  }
}

/** A small sysfs/securityfs file, or undefined when it is not there or cannot be read. */
function readSmall(path: string): string | undefined {
  return readSmallFile(path).text;
}
