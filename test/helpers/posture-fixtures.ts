import type { KernelConfinement } from '../../agent/posture/posture-types.js';

/**
 * A confined container as the kernel shows it: what /proc/<pid> of a restricted pod reads as. Every
 * capability set is empty, the bounding set included (drop ALL), and all four uids are non-zero.
 */
export const CONFINED_KERNEL: KernelConfinement = {
  seccompMode: 2,
  seccompFilters: 1,
  noNewPrivs: true,
  effectiveCapabilities: [],
  permittedCapabilities: [],
  boundingCapabilities: [],
  ambientCapabilities: [],
  uid: { real: 10001, effective: 10001, saved: 10001, fs: 10001 },
  gid: { real: 10001, effective: 10001, saved: 10001, fs: 10001 },
  mac: { kind: 'apparmor', label: 'cri-containerd.apparmor.d (enforce)', mode: 'enforce' },
  rootReadOnly: true,
};
