/**
 * Posture: what the kernel enforces on each container (its truth, read from /proc) against what its pod
 * spec asks for (the intent, from the API server). The JSON shape of `kernwatch posture --json` is a public
 * contract like the event schema: field names and check ids are never renamed.
 */

/** Check ids of the contract. */
export const CHECK_ID = {
  seccomp: 'seccomp',
  seccompLogging: 'seccomp_logging',
  noNewPrivs: 'no_new_privs',
  capabilities: 'capabilities',
  mac: 'mac',
  readonlyRoot: 'readonly_root',
  runAsNonRoot: 'run_as_non_root',
  networkPolicy: 'network_policy',
} as const;
export type CheckId = (typeof CHECK_ID)[keyof typeof CHECK_ID];

/** The container security policy section each check enforces. */
export const POLICY_SECTION = {
  network: '1.1 network',
  readonlyRoot: '2.1 read-only root',
  securityContext: '2.2 security context',
  seccomp: '3.1 seccomp',
  mac: '4.1 MAC',
} as const;
export type PolicySection = (typeof POLICY_SECTION)[keyof typeof POLICY_SECTION];

export const CHECK_STATUS = { pass: 'pass', fail: 'fail', unknown: 'unknown' } as const;
export type CheckStatus = (typeof CHECK_STATUS)[keyof typeof CHECK_STATUS];

export interface PostureCheck {
  id: CheckId;
  section: PolicySection;
  status: CheckStatus;
  /** One line: what was found (kernel and spec). */
  detail: string;
  /** One line: how to fix it (present for fail and unknown). */
  fix: string;
}

export interface ContainerPosture {
  /** The runtime's container id (64 hex). */
  id: string;
  name: string;
  /** The container's main process in the procRoot's pid namespace; absent when it could not be found. */
  pid?: number;
  pod?: { name: string; namespace: string };
  checks: PostureCheck[];
}

export interface PostureReport {
  node: string;
  containers: ContainerPosture[];
}

/** What /proc says the kernel enforces on a process. */
export interface KernelConfinement {
  /** /proc/PID/status `Seccomp:` 0 disabled, 1 strict, 2 filter. */
  seccompMode: 0 | 1 | 2;
  /** `Seccomp_filters:` (kernel >= 5.9); undefined on older kernels. */
  seccompFilters?: number;
  /** `NoNewPrivs:` */
  noNewPrivs: boolean;
  /** `CapEff:` decoded to names (`CAP_NET_ADMIN`…), in bit order; unknown bits as `CAP_<bit>`. */
  effectiveCapabilities: string[];
  /**
   * `CapPrm:`, `CapBnd:`, `CapAmb:`, decoded likewise. An empty effective set proves little: a process
   * can raise what it holds permitted, regain what is ambient across exec, and a setuid binary gets the
   * whole bounding set back. The bounding set is the kernel's own record of "drop ALL".
   */
  permittedCapabilities: string[];
  boundingCapabilities: string[];
  ambientCapabilities: string[];
  /** `Uid:` and `Gid:`: real, effective, saved and filesystem (a saved 0 takes root back by setresuid). */
  uid: { real: number; effective: number; saved: number; fs: number };
  gid: { real: number; effective: number; saved: number; fs: number };
  /** The LSM label: AppArmor profile (`cri-containerd.apparmor.d (enforce)`, `unconfined`) or SELinux context. */
  mac: MacLabel;
  /** The mount at `/` in /proc/PID/mountinfo is read-only; undefined when it could not be read. */
  rootReadOnly?: boolean;
}

export const MAC_KIND = { apparmor: 'apparmor', selinux: 'selinux', none: 'none' } as const;
export type MacKind = (typeof MAC_KIND)[keyof typeof MAC_KIND];

export interface MacLabel {
  /** Which LSM labelled it; `none` when no MAC LSM is active on the node. */
  kind: MacKind;
  /** The label as the kernel reports it; absent with `none`. */
  label?: string;
  /** AppArmor: `enforce`, `complain`, `kill`, `unconfined`…; SELinux: the type (`container_t`, `spc_t`, `unconfined_t`). */
  mode?: string;
}

/** The seccomp profile the spec asks for (container securityContext, else pod's, else legacy annotations). */
export const SECCOMP_PROFILE = {
  runtimeDefault: 'RuntimeDefault',
  localhost: 'Localhost',
  unconfined: 'Unconfined',
  /** Nothing set: the kubelet's default, Unconfined unless --seccomp-default. */
  unset: 'Unset',
} as const;
export type SeccompProfileType = (typeof SECCOMP_PROFILE)[keyof typeof SECCOMP_PROFILE];

/** What the pod spec asks for one container. */
export interface SpecIntent {
  seccompProfile: SeccompProfileType;
  /** Localhost: the profile path relative to the kubelet's seccomp root. */
  seccompLocalhostProfile?: string;
  /** AppArmor profile asked for: `RuntimeDefault`, `Localhost/<name>`, `Unconfined`, or undefined when unset. */
  appArmorProfile?: string;
  /** seLinuxOptions.type asked for (container over pod); undefined: the runtime assigns its default. */
  seLinuxType?: string;
  privileged: boolean;
  /** undefined: not set (the runtime's default is to allow unless NoNewPrivs is otherwise implied). */
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  /** securityContext.capabilities.drop contains ALL. */
  dropsAllCapabilities: boolean;
  addedCapabilities: string[];
  hostNetwork: boolean;
}

/** NetworkPolicies of the pod's namespace that select it, per direction. */
export interface NetworkPolicyCoverage {
  ingress: string[];
  egress: string[];
}
