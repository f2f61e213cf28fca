import type { V1AppArmorProfile, V1Pod, V1SeccompProfile, V1SecurityContext } from '@kubernetes/client-node';
import { SECCOMP_PROFILE, type SeccompProfileType, type SpecIntent } from './posture-types.js';

/** Legacy seccomp annotations (deprecated since 1.19; the API server copies them into the fields). */
const SECCOMP_CONTAINER_ANNOTATION = 'container.seccomp.security.alpha.kubernetes.io/';
const SECCOMP_POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
/** Legacy AppArmor annotation (deprecated since 1.30); there never was a pod-wide one. */
const APPARMOR_CONTAINER_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

interface SeccompChoice {
  type: SeccompProfileType;
  localhostProfile?: string;
}

/**
 * What the pod spec asks for one container, resolved as the kubelet resolves it; undefined when the spec
 * has no container (regular, init or ephemeral) of that name.
 *
 * - seccomp: container `securityContext.seccompProfile`, then the container annotation
 *   `container.seccomp.security.alpha.kubernetes.io/<name>`, then the pod's `seccompProfile`, then the pod
 *   annotation `seccomp.security.alpha.kubernetes.io/pod` (the kubelet's order while it still read the
 *   annotations, pkg/kubelet/kuberuntime/helpers.go; since then the API server copies each annotation into
 *   the empty field of the same level at creation, which gives the same result). A field of an unknown type,
 *   or Localhost without a profile, is what the kubelet runs as Unconfined. An annotation it does not
 *   understand is skipped, as SeccompFieldForAnnotation skips it. Nothing set: `Unset`.
 * - AppArmor: container `securityContext.appArmorProfile`, then the container annotation, then the pod's
 *   `appArmorProfile` (pkg/security/apparmor/helpers.go GetProfile).
 * - allowPrivilegeEscalation is container-only; privileged, or CAP_SYS_ADMIN (or ALL) added, make it true
 *   whatever the field says (the API documents it so: such a container can escalate anyway).
 * - seLinuxOptions.type, runAsNonRoot / runAsUser: container over pod. readOnlyRootFilesystem, privileged and capabilities are
 *   container-only fields.
 * - dropsAllCapabilities: `drop` contains exactly `ALL`, as the restricted Pod Security Standard compares
 *   it (check_capabilities_restricted.go); containerd would also take `all`, the policy does not.
 */
export function specIntentOf(pod: V1Pod, containerName: string): SpecIntent | undefined {
  const spec = pod.spec;
  if (spec === undefined) return undefined;
  const container = [
    ...(spec.containers ?? []),
    ...(spec.initContainers ?? []),
    ...(spec.ephemeralContainers ?? []),
  ].find((c) => c.name === containerName);
  if (container === undefined) return undefined;
  const annotations = pod.metadata?.annotations ?? {};
  const sc: V1SecurityContext | undefined = container.securityContext;
  const podSc = spec.securityContext;

  const seccomp = seccompOf(sc?.seccompProfile, annotations, containerName, podSc?.seccompProfile);
  const privileged = sc?.privileged === true;
  const added = sc?.capabilities?.add ?? [];

  const intent: SpecIntent = {
    seccompProfile: seccomp.type,
    privileged,
    readOnlyRootFilesystem: sc?.readOnlyRootFilesystem === true,
    dropsAllCapabilities: (sc?.capabilities?.drop ?? []).includes('ALL'),
    addedCapabilities: [...added],
    hostNetwork: spec.hostNetwork === true,
  };
  if (seccomp.localhostProfile !== undefined) intent.seccompLocalhostProfile = seccomp.localhostProfile;
  const appArmor = appArmorOf(sc?.appArmorProfile, annotations, containerName, podSc?.appArmorProfile);
  if (appArmor !== undefined) intent.appArmorProfile = appArmor;
  const seLinuxType = sc?.seLinuxOptions?.type ?? podSc?.seLinuxOptions?.type;
  if (seLinuxType !== undefined && seLinuxType !== '') intent.seLinuxType = seLinuxType;
  if (privileged || addsSysAdmin(added)) intent.allowPrivilegeEscalation = true;
  else if (sc?.allowPrivilegeEscalation !== undefined)
    intent.allowPrivilegeEscalation = sc.allowPrivilegeEscalation;
  const runAsNonRoot = sc?.runAsNonRoot ?? podSc?.runAsNonRoot;
  if (runAsNonRoot !== undefined) intent.runAsNonRoot = runAsNonRoot;
  const runAsUser = sc?.runAsUser ?? podSc?.runAsUser;
  if (runAsUser !== undefined) intent.runAsUser = runAsUser;
  return intent;
}

function seccompOf(
  field: V1SeccompProfile | undefined,
  annotations: Readonly<Record<string, string>>,
  containerName: string,
  podField: V1SeccompProfile | undefined,
): SeccompChoice {
  if (field !== undefined) return seccompField(field);
  const fromContainer = seccompAnnotation(annotations[SECCOMP_CONTAINER_ANNOTATION + containerName]);
  if (fromContainer !== undefined) return fromContainer;
  if (podField !== undefined) return seccompField(podField);
  return seccompAnnotation(annotations[SECCOMP_POD_ANNOTATION]) ?? { type: SECCOMP_PROFILE.unset };
}

/** fieldSeccompProfile in the kubelet: anything but the three known shapes runs Unconfined. */
function seccompField(profile: V1SeccompProfile): SeccompChoice {
  switch (profile.type) {
    case SECCOMP_PROFILE.runtimeDefault:
      return { type: SECCOMP_PROFILE.runtimeDefault };
    case SECCOMP_PROFILE.localhost:
      return profile.localhostProfile === undefined || profile.localhostProfile === ''
        ? { type: SECCOMP_PROFILE.unconfined }
        : { type: SECCOMP_PROFILE.localhost, localhostProfile: profile.localhostProfile };
    default:
      return { type: SECCOMP_PROFILE.unconfined };
  }
}

/** SeccompFieldForAnnotation: `runtime/default`, `docker/default`, `localhost/<path>`, `unconfined`. */
function seccompAnnotation(value: string | undefined): SeccompChoice | undefined {
  if (value === undefined) return undefined;
  if (value === 'unconfined') return { type: SECCOMP_PROFILE.unconfined };
  if (value === 'runtime/default' || value === 'docker/default')
    return { type: SECCOMP_PROFILE.runtimeDefault };
  if (value.startsWith('localhost/') && value.length > 'localhost/'.length) {
    return { type: SECCOMP_PROFILE.localhost, localhostProfile: value.slice('localhost/'.length) };
  }
  return undefined;
}

function appArmorOf(
  field: V1AppArmorProfile | undefined,
  annotations: Readonly<Record<string, string>>,
  containerName: string,
  podField: V1AppArmorProfile | undefined,
): string | undefined {
  if (field !== undefined) return appArmorField(field);
  const fromAnnotation = appArmorAnnotation(annotations[APPARMOR_CONTAINER_ANNOTATION + containerName]);
  if (fromAnnotation !== undefined) return fromAnnotation;
  return podField === undefined ? undefined : appArmorField(podField);
}

/** A type this code does not know is shown as the API gave it (the kubelet refuses to start such a container). */
function appArmorField(profile: V1AppArmorProfile): string {
  if (profile.type === 'Localhost' && profile.localhostProfile !== undefined) {
    return `Localhost/${profile.localhostProfile}`;
  }
  return profile.type;
}

/** getProfileFromPodAnnotations: `runtime/default`, `unconfined`, `localhost/<name>`; anything else is ignored. */
function appArmorAnnotation(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === 'runtime/default') return 'RuntimeDefault';
  if (value === 'unconfined') return 'Unconfined';
  if (value.startsWith('localhost/')) return `Localhost/${value.slice('localhost/'.length)}`;
  return undefined;
}

/** containerd upper-cases a capability and puts `CAP_` in front; compare without it. */
export function specCapabilityName(value: string): string {
  const upper = value.toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice('CAP_'.length) : upper;
}

/** Whether a spec's added capabilities include CAP_SYS_ADMIN (or ALL): privilege escalation then stays on. */
export function addsSysAdmin(added: readonly string[]): boolean {
  return added.some((c) => {
    const name = specCapabilityName(c);
    return name === 'SYS_ADMIN' || name === 'ALL';
  });
}
