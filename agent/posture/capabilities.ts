/**
 * Linux capability names by bit, and the capability sets the posture checks compare against.
 *
 * The names and bits are those of include/uapi/linux/capability.h of kernel 6.x (CAP_LAST_CAP =
 * CAP_CHECKPOINT_RESTORE = 40, unchanged from 5.9 to 6.18). /proc/PID/status prints each set as the
 * 64-bit mask the kernel holds, so a newer kernel may set a bit this table does not name yet: it is
 * reported as `CAP_<bit>` rather than dropped, because an unknown capability is still a privilege.
 */

/** Index = bit. */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** The highest bit the table names (the header's CAP_LAST_CAP). */
export const CAP_LAST_CAP = CAPABILITY_NAMES.length - 1;

/**
 * Every capability the table names: what a privileged container, or root on the host, holds. A kernel
 * with more capabilities has a wider full set (/proc/sys/kernel/cap_last_cap): see `fullCapabilitySet`.
 */
export const CAP_FULL_SET: bigint = fullCapabilitySet(CAP_LAST_CAP);

/** Bits 0..lastCap set, e.g. with the value of /proc/sys/kernel/cap_last_cap. */
export function fullCapabilitySet(lastCap: number): bigint {
  if (!Number.isInteger(lastCap) || lastCap < 0 || lastCap > 63) return 0n;
  return (1n << BigInt(lastCap + 1)) - 1n;
}

/**
 * The capabilities a container gets when its spec neither adds nor drops any: containerd's
 * defaultUnixCaps (oci/spec.go, the same 14 since 1.0, also what the CRI plugin starts from) and
 * Docker's, in containerd's order.
 */
export const DEFAULT_CONTAINER_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const BIT_OF = new Map<string, number>(CAPABILITY_NAMES.map((name, bit) => [name, bit]));

/** The name of one bit: the header's name, or `CAP_<bit>` for a bit it does not know. */
export function capabilityName(bit: number): string {
  return CAPABILITY_NAMES[bit] ?? `CAP_${bit}`;
}

/**
 * The canonical `CAP_` name of a capability as a pod spec (`NET_ADMIN`), the OCI spec (`CAP_NET_ADMIN`)
 * or a person (`cap_net_admin`) writes it.
 */
export function normalizeCapabilityName(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** The bit of a capability name (any spelling `normalizeCapabilityName` accepts, or `CAP_<bit>`). */
export function capabilityBit(name: string): number | undefined {
  const canonical = normalizeCapabilityName(name);
  const known = BIT_OF.get(canonical);
  if (known !== undefined) return known;
  const digits = canonical.slice(4);
  if (!/^\d{1,2}$/.test(digits)) return undefined;
  const bit = Number(digits);
  return bit <= 63 ? bit : undefined;
}

/** A 64-bit capability mask (CapEff, CapBnd…) as names, in bit order. */
export function decodeCapabilities(mask: bigint): string[] {
  const names: string[] = [];
  let rest = BigInt.asUintN(64, mask);
  for (let bit = 0; rest !== 0n; bit++, rest >>= 1n) {
    if ((rest & 1n) === 1n) names.push(capabilityName(bit));
  }
  return names;
}

/** Names as a mask; names it cannot place are returned apart instead of being dropped silently. */
export function encodeCapabilities(names: readonly string[]): { mask: bigint; unknown: string[] } {
  let mask = 0n;
  const unknown: string[] = [];
  for (const name of names) {
    const bit = capabilityBit(name);
    if (bit === undefined) unknown.push(name);
    else mask |= 1n << BigInt(bit);
  }
  return { mask, unknown };
}
