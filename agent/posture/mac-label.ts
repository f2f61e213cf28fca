import { join } from 'node:path';
import { readSmallFile, type NodeLsm } from './lsm.js';
import { MAC_KIND, type MacLabel } from './posture-types.js';

/**
 * A process's MAC label, as the kernel reports it in /proc/PID/attr:
 *
 *   attr/apparmor/current   AppArmor's own file (kernel >= 5.1): `cri-containerd.apparmor.d (enforce)`,
 *                           `unconfined`; before 5.1 AppArmor answered in attr/current only
 *   attr/current            the first active LSM that implements process attributes: SELinux's context
 *                           `system_u:system_r:container_t:s0:c1,c2` (NUL-terminated), AppArmor's
 *                           label, Smack's; with none of them active the read fails with EINVAL (kernel
 *                           6.18 with lockdown,capability,landlock,bpf: landlock and bpf implement no
 *                           process attributes)
 *
 * Reading another process's attr needs ptrace-read access to it (root with CAP_SYS_PTRACE).
 */

export const MAC_READ_STATUS = { ok: 'ok', gone: 'gone', error: 'error' } as const;

export type MacLabelRead =
  | { status: typeof MAC_READ_STATUS.ok; label: MacLabel }
  | { status: typeof MAC_READ_STATUS.gone }
  | { status: typeof MAC_READ_STATUS.error; path: string; error: NodeJS.ErrnoException };

const GONE = new Set(['ENOENT', 'ESRCH']);
/** No active LSM implements process attributes: the node runs no MAC LSM. */
const NO_PROCATTR = 'EINVAL';

const NONE: MacLabel = { kind: MAC_KIND.none };

export function readMacLabel(procRoot: string, pid: number, lsm: NodeLsm): MacLabelRead {
  const attr = join(procRoot, String(pid), 'attr');
  const current = join(attr, 'current');
  switch (lsm.mac) {
    case MAC_KIND.apparmor: {
      const own = join(attr, 'apparmor', 'current');
      const first = readSmallFile(own);
      if (first.text !== undefined) return ok(parseAppArmorLabel(first.text));
      // ENOENT: a kernel before 5.1 without attr/apparmor/, or the process is gone; attr/current tells.
      if (first.error.code !== 'ENOENT') return failure(own, first.error);
      const second = readSmallFile(current);
      if (second.text !== undefined) return ok(parseAppArmorLabel(second.text));
      return failure(current, second.error);
    }
    case MAC_KIND.selinux: {
      const read = readSmallFile(current);
      if (read.text !== undefined) return ok(parseSelinuxLabel(read.text));
      return failure(current, read.error);
    }
    case MAC_KIND.none: {
      // With the LSM list known, `none` is certain: another LSM's attr/current (Smack) is no MAC label
      // this contract names. Without it (securityfs not mounted) the kernel itself is asked.
      if (lsm.active !== undefined) return ok(NONE);
      const read = readSmallFile(current);
      if (read.text !== undefined) return ok(classifyLabel(read.text));
      if (read.error.code === NO_PROCATTR) return ok(NONE);
      return failure(current, read.error);
    }
  }
}

/** `profile (mode)` or `unconfined`; the mode is the last parenthesised word. */
export function parseAppArmorLabel(text: string): MacLabel {
  const label = clean(text);
  if (label === 'unconfined') return { kind: MAC_KIND.apparmor, label, mode: 'unconfined' };
  const m = / \(([a-z_]+)\)$/.exec(label);
  const out: MacLabel = { kind: MAC_KIND.apparmor, label };
  if (m?.[1] !== undefined) out.mode = m[1];
  return out;
}

/** `user:role:type:level[:categories]`; the mode is the type (`container_t`, `spc_t`, `unconfined_t`). */
export function parseSelinuxLabel(text: string): MacLabel {
  const label = clean(text);
  const type = label.split(':')[2];
  const out: MacLabel = { kind: MAC_KIND.selinux, label };
  if (type !== undefined && type !== '') out.mode = type;
  return out;
}

/** A label of unknown origin by its shape; neither shape (Smack's `_`): no MAC label of this contract. */
export function classifyLabel(text: string): MacLabel {
  const label = clean(text);
  if (/^[^:\s]+:[^:\s]+:[^:\s]+(:.+)?$/.test(label)) return parseSelinuxLabel(label);
  if (label === 'unconfined' || / \([a-z_]+\)$/.test(label)) return parseAppArmorLabel(label);
  return NONE;
}

/** SELinux ends the value with NUL, AppArmor with a newline. */
function clean(text: string): string {
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === 0 || text.charCodeAt(end - 1) === 0x0a)) end--;
  return text.slice(0, end).trim();
}

function ok(label: MacLabel): MacLabelRead {
  return { status: MAC_READ_STATUS.ok, label };
}

function failure(path: string, error: NodeJS.ErrnoException): MacLabelRead {
  if (error.code !== undefined && GONE.has(error.code)) return { status: MAC_READ_STATUS.gone };
  return { status: MAC_READ_STATUS.error, path, error };
}
