import {
  ALLOWED_CAPABILITY,
  APPARMOR_FIX,
  CAPABILITIES_FIX,
  READONLY_ROOT_FIX,
  RUN_AS_NON_ROOT_FIX,
  UNCONFINED_SELINUX_TYPES,
  capabilitiesSpec,
  check,
  escalationSpec,
  fail,
  networkPolicyCheck,
  noNewPrivsFix,
  pass,
  seccompFix,
  seccompLoggingCheck,
  seccompSpec,
  userSpec,
  type Outcome,
  type PostureInput,
} from './posture-checks.js';
import {
  CHECK_ID,
  POLICY_SECTION,
  SECCOMP_PROFILE,
  type NetworkPolicyCoverage,
  type PostureCheck,
  type SpecIntent,
} from './posture-types.js';
import { specCapabilityName } from './spec-intent.js';

/**
 * The eight posture checks judged on a pod spec alone, before anything runs (`kernwatch posture
 * --manifest`): what the spec asks the runtime to enforce. The live checks (posture-checks.ts) judge what
 * the kernel enforces and use the spec only to explain; here the spec is all there is, so a pass means "the
 * spec asks for it", not "the kernel enforces it" — `kernwatch posture` on the node proves the rest.
 *
 * - seccomp: RuntimeDefault or Localhost pass; Unconfined, unset (the kubelet's default is Unconfined
 *   unless --seccomp-default) or privileged (the runtime applies no profile) fail.
 * - seccomp_logging: as the live check judges a pod spec (RuntimeDefault's ERRNO is silent, Localhost
 *   unknown: its file is on the node).
 * - no_new_privs: allowPrivilegeEscalation false pass; true, unset (allowed), privileged or an added
 *   CAP_SYS_ADMIN fail.
 * - capabilities: privileged, no `drop: [ALL]`, or anything added beyond NET_BIND_SERVICE fail.
 * - mac: privileged, an Unconfined AppArmor profile or an unconfined SELinux type fail; a named profile or
 *   type pass; unset pass for an unprivileged container, because containerd and CRI-O give it their default
 *   AppArmor profile or SELinux type container_t wherever the node runs that LSM (a node running neither is
 *   the live check's to find).
 * - readonly_root: readOnlyRootFilesystem true pass, else fail.
 * - run_as_non_root: runAsUser > 0 pass; runAsNonRoot true without runAsUser pass (the kubelet refuses to
 *   start an image whose user is root); runAsUser 0, or neither set (the image's user, often root) fail.
 * - network_policy: the policies given (those of the same manifest and namespace) as the live check.
 */
export function specChecks(intent: SpecIntent, coverage: NetworkPolicyCoverage): PostureCheck[] {
  const asLive: PostureInput = {
    kernel: undefined,
    intent,
    coverage,
    lsm: { active: undefined, apparmorEnabled: false },
    actionsLogged: undefined,
  };
  return [
    seccompFromSpec(intent),
    seccompLoggingCheck(asLive),
    noNewPrivsFromSpec(intent),
    capabilitiesFromSpec(intent),
    macFromSpec(intent),
    readonlyRootFromSpec(intent),
    runAsNonRootFromSpec(intent),
    networkPolicyCheck(asLive),
  ];
}

function seccompFromSpec(intent: SpecIntent): PostureCheck {
  const spec = seccompSpec(intent);
  const asks =
    intent.seccompProfile === SECCOMP_PROFILE.runtimeDefault ||
    intent.seccompProfile === SECCOMP_PROFILE.localhost;
  const outcome = intent.privileged
    ? fail(`${spec}, but privileged: the runtime applies no profile`, seccompFix(intent))
    : asks
      ? pass(spec)
      : fail(spec, seccompFix(intent));
  return check(CHECK_ID.seccomp, POLICY_SECTION.seccomp, outcome);
}

function noNewPrivsFromSpec(intent: SpecIntent): PostureCheck {
  const spec = escalationSpec(intent);
  const outcome = intent.allowPrivilegeEscalation === false ? pass(spec) : fail(spec, noNewPrivsFix(intent));
  return check(CHECK_ID.noNewPrivs, POLICY_SECTION.securityContext, outcome);
}

function capabilitiesFromSpec(intent: SpecIntent): PostureCheck {
  const spec = capabilitiesSpec(intent);
  const allowed = ALLOWED_CAPABILITY.slice('CAP_'.length);
  const beyond = intent.addedCapabilities.filter((c) => specCapabilityName(c) !== allowed);
  let outcome: Outcome;
  if (intent.privileged) {
    outcome = fail(
      `${spec}, but privileged: every capability`,
      `drop privileged: true, then ${CAPABILITIES_FIX}`,
    );
  } else if (!intent.dropsAllCapabilities) {
    outcome = fail(`${spec}: the runtime's default set stays`, CAPABILITIES_FIX);
  } else if (beyond.length > 0) {
    outcome = fail(`${spec}: beyond ${allowed}: ${beyond.join(', ')}`, CAPABILITIES_FIX);
  } else {
    outcome = pass(spec);
  }
  return check(CHECK_ID.capabilities, POLICY_SECTION.securityContext, outcome);
}

function macFromSpec(intent: SpecIntent): PostureCheck {
  const appArmor = intent.appArmorProfile;
  const seLinux = intent.seLinuxType;
  const spec = `spec: appArmorProfile ${appArmor ?? 'unset'}, seLinuxOptions.type ${seLinux ?? 'unset'}`;
  let outcome: Outcome;
  if (intent.privileged) {
    outcome = fail(`${spec}, but privileged: unconfined`, `drop privileged: true, then ${APPARMOR_FIX}`);
  } else if (appArmor === 'Unconfined') {
    outcome = fail(spec, APPARMOR_FIX);
  } else if (seLinux !== undefined && UNCONFINED_SELINUX_TYPES.has(seLinux)) {
    outcome = fail(spec, 'remove seLinuxOptions.type so the runtime assigns container_t');
  } else if (appArmor !== undefined || seLinux !== undefined) {
    outcome = pass(spec);
  } else {
    outcome = pass(`${spec}: the runtime's default AppArmor profile or SELinux type applies`);
  }
  return check(CHECK_ID.mac, POLICY_SECTION.mac, outcome);
}

function readonlyRootFromSpec(intent: SpecIntent): PostureCheck {
  const spec = `spec: readOnlyRootFilesystem ${String(intent.readOnlyRootFilesystem)}`;
  const outcome = intent.readOnlyRootFilesystem ? pass(spec) : fail(spec, READONLY_ROOT_FIX);
  return check(CHECK_ID.readonlyRoot, POLICY_SECTION.readonlyRoot, outcome);
}

function runAsNonRootFromSpec(intent: SpecIntent): PostureCheck {
  const spec = userSpec(intent);
  const uid = intent.runAsUser;
  let outcome: Outcome;
  if (uid !== undefined && uid > 0) outcome = pass(spec);
  else if (uid === undefined && intent.runAsNonRoot === true)
    outcome = pass(`${spec}: the kubelet refuses to start the image as root`);
  else outcome = fail(spec, RUN_AS_NON_ROOT_FIX);
  return check(CHECK_ID.runAsNonRoot, POLICY_SECTION.securityContext, outcome);
}
