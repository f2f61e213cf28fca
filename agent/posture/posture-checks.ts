import {
  CHECK_ID,
  CHECK_STATUS,
  MAC_KIND,
  POLICY_SECTION,
  SECCOMP_PROFILE,
  type KernelConfinement,
  type NetworkPolicyCoverage,
  type PostureCheck,
  type SpecIntent,
} from './posture-types.js';
import { addsSysAdmin } from './spec-intent.js';

/** The seccomp part of the OCI runtime spec, as the CRI reports it. */
export interface RuntimeSeccompSummary {
  /** `SCMP_ACT_ERRNO`… */
  defaultAction: string;
  /** The actions of the syscall rules. */
  actions: string[];
  /** `SECCOMP_FILTER_FLAG_LOG`… */
  flags: string[];
}

/** What the container's OCI runtime spec says, when the CRI gives it. */
export interface RuntimeSpecSummary {
  /** null: the runtime spec has no seccomp (unconfined); undefined: not known. */
  seccomp?: RuntimeSeccompSummary | null;
  /** process.noNewPrivileges */
  noNewPrivileges?: boolean;
  /** root.readonly */
  rootReadonly?: boolean;
}

/** The node's LSMs. */
export interface LsmState {
  /** /sys/kernel/security/lsm split at commas; undefined when securityfs is not readable. */
  active: string[] | undefined;
  /** /sys/module/apparmor/parameters/enabled is `Y`. */
  apparmorEnabled: boolean;
  /** /sys/fs/selinux/enforce is 1; undefined when not readable (or no SELinux). */
  selinuxEnforcing?: boolean;
}

export interface PostureInput {
  /** undefined: the container's process could not be read. */
  kernel: KernelConfinement | undefined;
  /** undefined: no runtime spec available. */
  runtime?: RuntimeSpecSummary | undefined;
  /** undefined: no API server, or the pod is not known. */
  intent: SpecIntent | undefined;
  /** undefined: NetworkPolicies not known. */
  coverage: NetworkPolicyCoverage | undefined;
  lsm: LsmState;
  /** /proc/sys/kernel/seccomp/actions_logged split at spaces; undefined when not readable. */
  actionsLogged: string[] | undefined;
}

/** The fix for every check that needs the container's /proc/<pid> and could not read it. */
export const PROC_FIX =
  "give kernwatch the host's /proc as procRoot (hostPath /proc at /host/proc, as deploy/daemonset.yaml does) so the container's /proc/<pid> can be read";
/** The fix for denials that cannot reach the log. */
export const SECCOMP_LOG_FIX =
  'use a Localhost seccomp profile with SCMP_ACT_LOG / SCMP_ACT_KILL_PROCESS or the log flag SECCOMP_FILTER_FLAG_LOG (runc >= 1.2)';
const SECCOMP_FIX = 'set securityContext.seccompProfile.type: RuntimeDefault (or Localhost)';
const NO_NEW_PRIVS_FIX = 'set securityContext.allowPrivilegeEscalation: false';
export const CAPABILITIES_FIX =
  'set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE';
export const READONLY_ROOT_FIX =
  'set securityContext.readOnlyRootFilesystem: true (mount an emptyDir where the app must write)';
export const RUN_AS_NON_ROOT_FIX = 'set securityContext.runAsNonRoot: true and runAsUser to a non-zero uid';
export const APPARMOR_FIX =
  'set securityContext.appArmorProfile.type: RuntimeDefault (or Localhost with a profile in enforce mode)';
const NO_MAC_FIX =
  'enable AppArmor or SELinux on the node, then give the pod a profile (appArmorProfile or seLinuxOptions)';
const NETWORK_POLICY_UNKNOWN_FIX =
  'give kernwatch the API server (kubernetes.enabled: true) with list and watch on pods and networkpolicies';
const ACTIONS_LOGGED_PATH = '/proc/sys/kernel/seccomp/actions_logged';
const SECCOMP_FLAG_LOG = 'SECCOMP_FILTER_FLAG_LOG';

/** SELinux domains that confine nothing a container could be held to. */
export const UNCONFINED_SELINUX_TYPES: ReadonlySet<string> = new Set([
  'spc_t',
  'unconfined_t',
  'unconfined_service_t',
  'container_runtime_t',
  'kernel_t',
  'init_t',
]);

/**
 * The OCI seccomp actions, the name /proc/sys/kernel/seccomp/actions_logged gives each, and whether the
 * kernel logs it without SECCOMP_FILTER_FLAG_LOG (kernel/seccomp.c seccomp_log: KILL_* and LOG always, the
 * others only when the filter asked for it). libseccomp's SCMP_ACT_KILL is KILL_THREAD.
 */
const SECCOMP_ACTIONS: Readonly<Record<string, { kernelName: string; loggedWithoutFlag: boolean }>> = {
  SCMP_ACT_KILL: { kernelName: 'kill_thread', loggedWithoutFlag: true },
  SCMP_ACT_KILL_THREAD: { kernelName: 'kill_thread', loggedWithoutFlag: true },
  SCMP_ACT_KILL_PROCESS: { kernelName: 'kill_process', loggedWithoutFlag: true },
  SCMP_ACT_LOG: { kernelName: 'log', loggedWithoutFlag: true },
  SCMP_ACT_ERRNO: { kernelName: 'errno', loggedWithoutFlag: false },
  SCMP_ACT_TRAP: { kernelName: 'trap', loggedWithoutFlag: false },
  SCMP_ACT_TRACE: { kernelName: 'trace', loggedWithoutFlag: false },
  SCMP_ACT_NOTIFY: { kernelName: 'user_notif', loggedWithoutFlag: false },
};
const SCMP_ACT_ALLOW = 'SCMP_ACT_ALLOW';

/**
 * The eight checks of the posture contract, in contract order, for one container. Pure: everything it
 * knows comes in `input`. What cannot be known is `unknown`, never `pass`. Every fail and unknown carries
 * a one-line fix; a pass has fix "".
 *
 * seccomp (3.1 seccomp) — the kernel's `Seccomp:` mode.
 *   2 (filter) pass, with the filter count — unless the runtime spec is known and its profile denies
 *   nothing (every action ALLOW or LOG: it audits but confines nothing), then fail; 1 (strict) pass;
 *   0 fail (fix: a privileged container gets no profile from the runtime; a spec that already asks for one
 *   means the runtime did not apply it; else set RuntimeDefault); process not readable: unknown.
 *   The detail names the spec's profile (RuntimeDefault, Localhost <path>, Unconfined, unset).
 * seccomp_logging (3.1 seccomp) — can this container's denials reach the log?
 *   kernel mode 0, or a runtime spec without seccomp: fail (nothing is denied). Runtime spec known: every
 *   action but SCMP_ACT_ALLOW (default and rules) is a denial; KILL / KILL_THREAD / KILL_PROCESS / LOG are
 *   logged, ERRNO / TRAP / TRACE / NOTIFY only with SECCOMP_FILTER_FLAG_LOG, and each only if its name is in
 *   actions_logged. Any silent denial action: fail (fix: a Localhost profile with LOG / KILL_PROCESS or the
 *   log flag); none silent but names missing from actions_logged: fail (fix: the sysctl); no denial action
 *   at all: fail; an action this code does not know: unknown; actions_logged not readable: unknown.
 *   Without the runtime spec, from the pod spec: RuntimeDefault fail (containerd's returns ERRNO without the
 *   log flag), Unconfined and unset fail, Localhost unknown (its actions cannot be read), no spec unknown.
 *   Node-wide conditions on the way to the log (audit enabled, auditd or kmsg, printk rate limits) are
 *   `kernwatch doctor`'s, not this check's.
 * no_new_privs (2.2 security context) — kernel `NoNewPrivs:` 1 pass, 0 fail (fix: allowPrivilegeEscalation:
 *   false, after dropping privileged / CAP_SYS_ADMIN when the spec has them). Process not readable: the
 *   runtime spec's process.noNewPrivileges (runc sets it before exec and it cannot be unset), else unknown.
 * capabilities (2.2) — fail when the effective, permitted, ambient or bounding set holds anything but
 *   CAP_NET_BIND_SERVICE (the first such set named, its capabilities sorted): an empty CapEff alone says
 *   nothing of what a process can raise, keep across exec, or regain through a setuid binary, and the
 *   bounding set is the kernel's own record of "drop ALL". Also fail when the spec is known and is
 *   privileged, does not drop exactly `ALL`, or adds anything but exactly `NET_BIND_SERVICE` (the restricted
 *   Pod Security Standard). Pass otherwise (spec unknown: on the kernel alone). Process not readable: unknown.
 * mac (4.1 MAC) — the process's label decides when the kernel gave one: AppArmor `unconfined` fail,
 *   mode enforce or kill pass, complain or unconfined fail, another mode unknown; SELinux type spc_t,
 *   unconfined_t, unconfined_service_t, container_runtime_t, kernel_t or init_t fail, node permissive fail,
 *   enforcing pass, enforcing not readable unknown. No label: no MAC LSM active on the node (lsm list,
 *   AppArmor's enabled flag, SELinux's enforce file) unknown "no AppArmor or SELinux is active on this
 *   node" — never pass —, else unknown (process not readable).
 * readonly_root (2.1 read-only root) — the kernel's mount at `/` ro pass, rw fail (fix:
 *   readOnlyRootFilesystem: true); mountinfo not readable: the runtime spec's root.readonly; else unknown.
 * run_as_non_root (2.2) — kernel real, effective, saved and filesystem uid (as the host sees them) all
 *   non-zero pass; any 0 fail, even when the spec says runAsNonRoot (the kernel is the truth; a real or
 *   saved uid 0 takes root back by setresuid, no capability needed); process not readable unknown.
 * network_policy (1.1 network) — spec hostNetwork: fail (NetworkPolicies do not apply to host-network pods);
 *   coverage unknown: unknown; policies for both Ingress and Egress pass, naming them; else fail naming the
 *   missing direction(s).
 */
export function postureChecks(input: PostureInput): PostureCheck[] {
  return [
    seccompCheck(input),
    seccompLoggingCheck(input),
    noNewPrivsCheck(input),
    capabilitiesCheck(input),
    macCheck(input),
    readonlyRootCheck(input),
    runAsNonRootCheck(input),
    networkPolicyCheck(input),
  ];
}

/** A check's result before its id and section are attached; shared with spec-checks.ts. */
export type Outcome = Pick<PostureCheck, 'status' | 'detail' | 'fix'>;

export function pass(detail: string): Outcome {
  return { status: CHECK_STATUS.pass, detail, fix: '' };
}

export function fail(detail: string, fix: string): Outcome {
  return { status: CHECK_STATUS.fail, detail, fix };
}

function unknown(detail: string, fix: string): Outcome {
  return { status: CHECK_STATUS.unknown, detail, fix };
}

export function check(
  id: PostureCheck['id'],
  section: PostureCheck['section'],
  outcome: Outcome,
): PostureCheck {
  return { id, section, status: outcome.status, detail: outcome.detail, fix: outcome.fix };
}

// ---- seccomp ---------------------------------------------------------------------------------------

function seccompCheck({ kernel, intent, runtime }: PostureInput): PostureCheck {
  const spec = seccompSpec(intent);
  let outcome: Outcome;
  const seccomp = runtime?.seccomp;
  if (kernel === undefined) outcome = unknown(`kernel: process not readable; ${spec}`, PROC_FIX);
  else if (kernel.seccompMode === 2 && seccomp !== undefined && seccomp !== null && !deniesAnything(seccomp))
    // A filter whose every action is ALLOW or LOG audits but confines nothing.
    outcome = fail(
      `kernel: seccomp filter mode (${filterCount(kernel)}), but the runtime spec's profile denies nothing (only ${[...new Set([seccomp.defaultAction, ...seccomp.actions])].join(', ')}); ${spec}`,
      'deny what the workload must never call: SCMP_ACT_ERRNO (with the log flag) or SCMP_ACT_KILL_PROCESS rules, or start from RuntimeDefault',
    );
  else if (kernel.seccompMode === 2)
    outcome = pass(`kernel: seccomp filter mode (${filterCount(kernel)}); ${spec}`);
  else if (kernel.seccompMode === 1)
    outcome = pass(`kernel: seccomp strict mode (read, write, exit, sigreturn only); ${spec}`);
  else outcome = fail(`kernel: no seccomp filter; ${spec}`, seccompFix(intent));
  return check(CHECK_ID.seccomp, POLICY_SECTION.seccomp, outcome);
}

/** Whether any action of the profile refuses a call (everything but ALLOW and LOG does). */
function deniesAnything(seccomp: RuntimeSeccompSummary): boolean {
  return [seccomp.defaultAction, ...seccomp.actions].some(
    (a) => a !== 'SCMP_ACT_ALLOW' && a !== 'SCMP_ACT_LOG',
  );
}

function filterCount(kernel: KernelConfinement): string {
  const n = kernel.seccompFilters;
  if (n === undefined) return 'filter count not shown before kernel 5.9';
  return n === 1 ? '1 filter' : `${String(n)} filters`;
}

export function seccompSpec(intent: SpecIntent | undefined): string {
  if (intent === undefined) return 'spec: unknown';
  switch (intent.seccompProfile) {
    case SECCOMP_PROFILE.unset:
      return 'spec: seccompProfile unset';
    case SECCOMP_PROFILE.localhost:
      return `spec: seccompProfile Localhost ${intent.seccompLocalhostProfile ?? '?'}`;
    default:
      return `spec: seccompProfile ${intent.seccompProfile}`;
  }
}

export function seccompFix(intent: SpecIntent | undefined): string {
  if (intent?.privileged === true) {
    return 'drop privileged: true (the runtime applies no seccomp profile to privileged containers), then set securityContext.seccompProfile.type: RuntimeDefault';
  }
  if (
    intent?.seccompProfile === SECCOMP_PROFILE.runtimeDefault ||
    intent?.seccompProfile === SECCOMP_PROFILE.localhost
  ) {
    return "the spec asks for a profile the kernel does not show: check the container runtime's seccomp support";
  }
  return SECCOMP_FIX;
}

// ---- seccomp_logging -------------------------------------------------------------------------------

export function seccompLoggingCheck({ kernel, runtime, intent, actionsLogged }: PostureInput): PostureCheck {
  let outcome: Outcome;
  const seccomp = runtime?.seccomp;
  if (kernel?.seccompMode === 0) {
    outcome = fail('kernel: no seccomp filter, so nothing is denied or logged', SECCOMP_LOG_FIX);
  } else if (seccomp === null) {
    outcome = fail('runtime spec: no seccomp profile, so nothing is denied or logged', SECCOMP_LOG_FIX);
  } else if (seccomp !== undefined) {
    outcome = runtimeSeccompLogging(seccomp, actionsLogged);
  } else {
    outcome = intentSeccompLogging(intent);
  }
  return check(CHECK_ID.seccompLogging, POLICY_SECTION.seccomp, outcome);
}

function runtimeSeccompLogging(seccomp: RuntimeSeccompSummary, actionsLogged: string[] | undefined): Outcome {
  const denials = [...new Set([seccomp.defaultAction, ...seccomp.actions])].filter(
    (a) => a !== SCMP_ACT_ALLOW,
  );
  if (denials.length === 0) {
    return fail(
      'runtime spec: every seccomp action is SCMP_ACT_ALLOW, so nothing is denied or logged',
      SECCOMP_LOG_FIX,
    );
  }
  const flagged = seccomp.flags.includes(SECCOMP_FLAG_LOG);
  const silent: string[] = [];
  const unrecognised: string[] = [];
  const notListed = new Set<string>();
  for (const action of denials) {
    const known = SECCOMP_ACTIONS[action];
    if (known === undefined) unrecognised.push(action);
    else if (!known.loggedWithoutFlag && !flagged) silent.push(action);
    else if (actionsLogged !== undefined && !actionsLogged.includes(known.kernelName))
      notListed.add(known.kernelName);
  }
  const withFlag = flagged ? ` with ${SECCOMP_FLAG_LOG}` : '';
  const missing = [...notListed].join(' ');
  if (silent.length > 0) {
    const alsoMissing = missing === '' ? '' : `; ${ACTIONS_LOGGED_PATH} also lacks ${missing}`;
    return fail(
      `runtime spec: ${silent.join(', ')} without ${SECCOMP_FLAG_LOG}: those denials are silent${alsoMissing}`,
      missing === '' ? SECCOMP_LOG_FIX : `${SECCOMP_LOG_FIX}, and add ${missing} to ${ACTIONS_LOGGED_PATH}`,
    );
  }
  if (missing !== '') {
    return fail(
      `runtime spec: ${denials.join(', ')}${withFlag}, but ${ACTIONS_LOGGED_PATH} lacks ${missing}`,
      `add ${missing} to ${ACTIONS_LOGGED_PATH} (sysctl kernel.seccomp.actions_logged)`,
    );
  }
  if (unrecognised.length > 0) {
    return unknown(
      `runtime spec: seccomp action ${unrecognised.join(', ')} not recognised`,
      'use only SCMP_ACT_LOG, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_ERRNO (with the log flag) or SCMP_ACT_ALLOW',
    );
  }
  if (actionsLogged === undefined) {
    return unknown(
      `runtime spec: ${denials.join(', ')}${withFlag}; ${ACTIONS_LOGGED_PATH} not readable`,
      `give kernwatch the host's /proc (procRoot) so ${ACTIONS_LOGGED_PATH} can be read`,
    );
  }
  return pass(`runtime spec: ${denials.join(', ')}${withFlag}; all in ${ACTIONS_LOGGED_PATH}`);
}

function intentSeccompLogging(intent: SpecIntent | undefined): Outcome {
  if (intent === undefined) {
    return unknown(
      'runtime spec and pod spec not available',
      "give kernwatch the CRI socket (cri.socket) so the container's seccomp profile can be read",
    );
  }
  switch (intent.seccompProfile) {
    case SECCOMP_PROFILE.runtimeDefault:
      return fail(
        `spec: seccompProfile RuntimeDefault, which returns ERRNO without ${SECCOMP_FLAG_LOG}: its denials are silent`,
        SECCOMP_LOG_FIX,
      );
    case SECCOMP_PROFILE.unconfined:
      return fail('spec: seccompProfile Unconfined, so nothing is denied or logged', SECCOMP_LOG_FIX);
    case SECCOMP_PROFILE.unset:
      return fail(
        'spec: seccompProfile unset (Unconfined, or RuntimeDefault with --seccomp-default): denials are absent or silent',
        SECCOMP_LOG_FIX,
      );
    case SECCOMP_PROFILE.localhost: {
      const profile = intent.seccompLocalhostProfile ?? '?';
      return unknown(
        `spec: seccompProfile Localhost ${profile}; its actions cannot be read without the runtime spec`,
        `check that ${profile} uses SCMP_ACT_LOG / SCMP_ACT_KILL_PROCESS or ${SECCOMP_FLAG_LOG}, or give kernwatch the CRI socket to check it`,
      );
    }
  }
}

// ---- no_new_privs ----------------------------------------------------------------------------------

function noNewPrivsCheck({ kernel, runtime, intent }: PostureInput): PostureCheck {
  const spec = escalationSpec(intent);
  let outcome: Outcome;
  if (kernel !== undefined) {
    outcome = kernel.noNewPrivs
      ? pass(`kernel: NoNewPrivs 1; ${spec}`)
      : fail(`kernel: NoNewPrivs 0; ${spec}`, noNewPrivsFix(intent));
  } else if (runtime?.noNewPrivileges === true) {
    outcome = pass(`kernel: process not readable; runtime spec: noNewPrivileges true; ${spec}`);
  } else if (runtime?.noNewPrivileges === false) {
    outcome = fail(
      `kernel: process not readable; runtime spec: noNewPrivileges false; ${spec}`,
      noNewPrivsFix(intent),
    );
  } else {
    outcome = unknown(`kernel: process not readable; ${spec}`, PROC_FIX);
  }
  return check(CHECK_ID.noNewPrivs, POLICY_SECTION.securityContext, outcome);
}

export function escalationSpec(intent: SpecIntent | undefined): string {
  if (intent === undefined) return 'spec: unknown';
  if (intent.privileged) return 'spec: privileged (privilege escalation always allowed)';
  if (addsSysAdmin(intent.addedCapabilities))
    return 'spec: adds CAP_SYS_ADMIN (privilege escalation always allowed)';
  if (intent.allowPrivilegeEscalation === undefined) return 'spec: allowPrivilegeEscalation unset (allowed)';
  return `spec: allowPrivilegeEscalation ${String(intent.allowPrivilegeEscalation)}`;
}

export function noNewPrivsFix(intent: SpecIntent | undefined): string {
  if (intent?.privileged === true) return `drop privileged: true, then ${NO_NEW_PRIVS_FIX}`;
  if (intent !== undefined && addsSysAdmin(intent.addedCapabilities))
    return `stop adding CAP_SYS_ADMIN, then ${NO_NEW_PRIVS_FIX}`;
  return NO_NEW_PRIVS_FIX;
}

// ---- capabilities ----------------------------------------------------------------------------------

export const ALLOWED_CAPABILITY = 'CAP_NET_BIND_SERVICE';

function capabilitiesCheck({ kernel, intent }: PostureInput): PostureCheck {
  const spec = capabilitiesSpec(intent);
  let outcome: Outcome;
  if (kernel === undefined) {
    outcome = unknown(`kernel: process not readable; ${spec}`, PROC_FIX);
  } else {
    const beyond = (set: readonly string[]): string[] => set.filter((c) => c !== ALLOWED_CAPABILITY).sort();
    // Effective alone proves little: permitted can be raised back to effective, ambient survives exec,
    // and the bounding set is what a setuid binary would get (it is the kernel's own "drop ALL").
    const sets: [string, string[]][] = [
      ['effective', beyond(kernel.effectiveCapabilities)],
      ['permitted', beyond(kernel.permittedCapabilities)],
      ['ambient', beyond(kernel.ambientCapabilities)],
      ['bounding', beyond(kernel.boundingCapabilities)],
    ];
    const held = sets.filter(([, caps]) => caps.length > 0);
    const specProblem =
      intent !== undefined &&
      (intent.privileged ||
        !intent.dropsAllCapabilities ||
        intent.addedCapabilities.some((c) => c !== 'NET_BIND_SERVICE'));
    const fix =
      intent?.privileged === true ? `drop privileged: true, then ${CAPABILITIES_FIX}` : CAPABILITIES_FIX;
    if (held.length > 0) {
      const [name, caps] = held[0] ?? ['effective', []];
      const more =
        held.length > 1
          ? ` (also in ${held
              .slice(1)
              .map(([n]) => n)
              .join(', ')})`
          : '';
      outcome = fail(`kernel: ${name} ${caps.join(', ')}${more}; ${spec}`, fix);
    } else if (specProblem) {
      const why = intent?.privileged
        ? 'the spec runs it privileged'
        : intent?.dropsAllCapabilities
          ? `the spec adds ${intent.addedCapabilities.filter((c) => c !== 'NET_BIND_SERVICE').join(', ')}`
          : 'the spec does not drop ALL';
      outcome = fail(`kernel: only ${ALLOWED_CAPABILITY} at most, but ${why}; ${spec}`, fix);
    } else {
      const effective =
        kernel.effectiveCapabilities.length === 0 ? 'none effective' : `effective ${ALLOWED_CAPABILITY} only`;
      outcome = pass(
        `kernel: ${effective}, bounding set ${kernel.boundingCapabilities.length === 0 ? 'empty' : ALLOWED_CAPABILITY}; ${spec}`,
      );
    }
  }
  return check(CHECK_ID.capabilities, POLICY_SECTION.securityContext, outcome);
}

export function capabilitiesSpec(intent: SpecIntent | undefined): string {
  if (intent === undefined) return 'spec: unknown';
  const drop = intent.dropsAllCapabilities ? 'spec: drops ALL' : 'spec: does not drop ALL';
  return intent.addedCapabilities.length === 0
    ? drop
    : `${drop}, adds ${intent.addedCapabilities.join(', ')}`;
}

// ---- mac -------------------------------------------------------------------------------------------

function macCheck({ kernel, intent, lsm }: PostureInput): PostureCheck {
  let outcome: Outcome;
  if (kernel !== undefined && kernel.mac.kind === MAC_KIND.apparmor) {
    outcome = appArmorOutcome(kernel.mac.label, kernel.mac.mode, intent);
  } else if (kernel !== undefined && kernel.mac.kind === MAC_KIND.selinux) {
    outcome = selinuxOutcome(kernel.mac.label, kernel.mac.mode, lsm.selinuxEnforcing);
  } else {
    const apparmor = lsm.apparmorEnabled && (lsm.active === undefined || lsm.active.includes('apparmor'));
    const selinux =
      lsm.active === undefined ? lsm.selinuxEnforcing !== undefined : lsm.active.includes('selinux');
    if (!apparmor && !selinux) {
      // securityfs unmounted, but the process's own attr/current answered that no LSM labels it (EINVAL):
      // the kernel itself says no MAC runs.
      const kernelSaysNone = kernel !== undefined && kernel.mac.kind === MAC_KIND.none;
      outcome =
        lsm.active === undefined && !kernelSaysNone
          ? unknown(
              'no AppArmor or SELinux seen on this node (/sys/kernel/security/lsm not readable)',
              "mount the host's /sys into kernwatch (hostPath) so /sys/kernel/security/lsm can be read",
            )
          : unknown('no AppArmor or SELinux is active on this node', NO_MAC_FIX);
    } else {
      const which = apparmor ? 'AppArmor' : 'SELinux';
      outcome = unknown(
        kernel === undefined
          ? `${which} is active on this node; kernel: process not readable`
          : `${which} is active on this node, but the process's label could not be read`,
        PROC_FIX,
      );
    }
  }
  return check(CHECK_ID.mac, POLICY_SECTION.mac, outcome);
}

function appArmorOutcome(
  label: string | undefined,
  mode: string | undefined,
  intent: SpecIntent | undefined,
): Outcome {
  const spec =
    intent === undefined ? 'spec: unknown' : `spec: appArmorProfile ${intent.appArmorProfile ?? 'unset'}`;
  const fix = intent?.privileged === true ? `drop privileged: true, then ${APPARMOR_FIX}` : APPARMOR_FIX;
  if (label === undefined) return unknown(`kernel: AppArmor label not read; ${spec}`, PROC_FIX);
  if (label === 'unconfined') return fail(`kernel: AppArmor unconfined; ${spec}`, fix);
  const profile =
    label.endsWith(')') && label.includes(' (') ? label.slice(0, label.lastIndexOf(' (')) : label;
  switch (mode) {
    case 'enforce':
    case 'kill':
      return pass(`kernel: AppArmor profile ${profile} (${mode}); ${spec}`);
    case 'complain':
      return fail(
        `kernel: AppArmor profile ${profile} (complain): denials are logged, not enforced; ${spec}`,
        `put ${profile} in enforce mode (aa-enforce), or ${APPARMOR_FIX}`,
      );
    case 'unconfined':
      return fail(`kernel: AppArmor profile ${profile} (unconfined mode); ${spec}`, fix);
    default:
      return unknown(
        `kernel: AppArmor profile ${profile} in mode ${mode ?? '?'}, not recognised; ${spec}`,
        fix,
      );
  }
}

function selinuxOutcome(
  label: string | undefined,
  mode: string | undefined,
  enforcing: boolean | undefined,
): Outcome {
  const type = mode ?? label?.split(':')[2];
  if (type === undefined || type === '') {
    return unknown(`kernel: SELinux context ${label ?? '?'} without a type`, PROC_FIX);
  }
  if (UNCONFINED_SELINUX_TYPES.has(type)) {
    return fail(
      `kernel: SELinux type ${type}, which is unconfined`,
      'remove privileged: true and any seLinuxOptions.type so the runtime assigns container_t',
    );
  }
  if (enforcing === false) {
    return fail(
      `kernel: SELinux type ${type}, but SELinux is permissive on this node: denials are logged, not enforced`,
      'set SELinux to enforcing on the node (setenforce 1, SELINUX=enforcing in /etc/selinux/config)',
    );
  }
  if (enforcing === undefined) {
    return unknown(
      `kernel: SELinux type ${type}; enforcing mode not readable (/sys/fs/selinux/enforce)`,
      "mount the host's /sys into kernwatch (hostPath) so /sys/fs/selinux/enforce can be read",
    );
  }
  return pass(`kernel: SELinux type ${type}, enforcing`);
}

// ---- readonly_root ---------------------------------------------------------------------------------

function readonlyRootCheck({ kernel, runtime, intent }: PostureInput): PostureCheck {
  const spec =
    intent === undefined
      ? 'spec: unknown'
      : `spec: readOnlyRootFilesystem ${String(intent.readOnlyRootFilesystem)}`;
  const root = kernel?.rootReadOnly;
  const notRead = kernel === undefined ? 'kernel: process not readable' : 'kernel: mountinfo not readable';
  let outcome: Outcome;
  if (root === true) outcome = pass(`kernel: / mounted read-only; ${spec}`);
  else if (root === false) outcome = fail(`kernel: / mounted read-write; ${spec}`, READONLY_ROOT_FIX);
  else if (runtime?.rootReadonly === true)
    outcome = pass(`${notRead}; runtime spec: root.readonly true; ${spec}`);
  else if (runtime?.rootReadonly === false)
    outcome = fail(`${notRead}; runtime spec: root.readonly false; ${spec}`, READONLY_ROOT_FIX);
  else outcome = unknown(`${notRead}; ${spec}`, PROC_FIX);
  return check(CHECK_ID.readonlyRoot, POLICY_SECTION.readonlyRoot, outcome);
}

// ---- run_as_non_root -------------------------------------------------------------------------------

function runAsNonRootCheck({ kernel, intent }: PostureInput): PostureCheck {
  const spec = userSpec(intent);
  let outcome: Outcome;
  if (kernel === undefined) {
    outcome = unknown(`kernel: process not readable; ${spec}`, PROC_FIX);
  } else {
    const { real, effective, saved, fs } = kernel.uid;
    const uids = `kernel: uid ${String(real)}, euid ${String(effective)}, suid ${String(saved)}, fsuid ${String(fs)}`;
    // A saved or filesystem uid 0 is root within reach: setresuid(0, 0, 0) needs no capability.
    const root = real === 0 || effective === 0 || saved === 0 || fs === 0;
    if (!root) outcome = pass(`${uids}; ${spec}`);
    else if (intent?.runAsNonRoot === true)
      outcome = fail(`${uids} although the spec sets runAsNonRoot: true; ${spec}`, RUN_AS_NON_ROOT_FIX);
    else outcome = fail(`${uids}; ${spec}`, RUN_AS_NON_ROOT_FIX);
  }
  return check(CHECK_ID.runAsNonRoot, POLICY_SECTION.securityContext, outcome);
}

export function userSpec(intent: SpecIntent | undefined): string {
  if (intent === undefined) return 'spec: unknown';
  const nonRoot = `runAsNonRoot ${intent.runAsNonRoot === undefined ? 'unset' : String(intent.runAsNonRoot)}`;
  const user = intent.runAsUser === undefined ? 'runAsUser unset' : `runAsUser ${String(intent.runAsUser)}`;
  return `spec: ${nonRoot}, ${user}`;
}

// ---- network_policy --------------------------------------------------------------------------------

export function networkPolicyCheck({ intent, coverage }: PostureInput): PostureCheck {
  let outcome: Outcome;
  if (intent?.hostNetwork === true) {
    outcome = fail(
      'NetworkPolicies do not apply to host-network pods',
      'run the pod without hostNetwork: true so NetworkPolicies apply to it',
    );
  } else if (coverage === undefined) {
    outcome = unknown('NetworkPolicies not known (no API server)', NETWORK_POLICY_UNKNOWN_FIX);
  } else {
    const missing = [
      ...(coverage.ingress.length === 0 ? ['Ingress'] : []),
      ...(coverage.egress.length === 0 ? ['Egress'] : []),
    ];
    const found = [
      ...(coverage.ingress.length === 0 ? [] : [`ingress: ${coverage.ingress.join(', ')}`]),
      ...(coverage.egress.length === 0 ? [] : [`egress: ${coverage.egress.join(', ')}`]),
    ].join('; ');
    if (missing.length === 0) {
      outcome = pass(found);
    } else {
      const directions = missing.map((d) => d.toLowerCase()).join(' or ');
      outcome = fail(
        `no NetworkPolicy selects the pod for ${directions}${found === '' ? '' : ` (${found})`}`,
        `add a NetworkPolicy in the pod's namespace that selects it with policyTypes: [${missing.join(', ')}] (a default deny)`,
      );
    }
  }
  return check(CHECK_ID.networkPolicy, POLICY_SECTION.network, outcome);
}
