import { CONTAINER_RUNTIME, type CgroupIdentity, type ContainerRuntime } from '../attribution-types.js';

/**
 * Container id, runtime and pod uid from the text of /proc/<pid>/cgroup.
 *
 * Every line is `hierarchy-id:controllers:path`: cgroup v1 lines (`4:memory:/kubepods/...`), the cgroup v2
 * line (`0::/kubepods.slice/...`), or both on a hybrid host. The path may itself contain ':' (containerd's
 * `<slice>:cri-containerd:<id>` form), so only the first two colons split a line.
 *
 * Container segments recognised in a path (id = 64 lowercase hex):
 *   cri-containerd-<id>.scope        containerd, systemd cgroup driver
 *   <slice>:cri-containerd:<id>      containerd with SystemdCgroup=false under a kubelet using the systemd driver
 *   <id> below a pod<uid> segment    cgroupfs driver (/kubepods/<qos>/pod<uid>/<id>): containerd or docker,
 *                                    the runtime is left unset (the CRI stage knows it)
 *   crio-<id>[.scope]                CRI-O (systemd and cgroupfs); crio-conmon-<id> is its monitor, not the container
 *   docker-<id>.scope, /docker/<id>  docker (systemd, cgroupfs)
 *   libpod-<id>[.scope]              podman; libpod-conmon-<id> is its monitor; libpod-payload-<id> (cgroups=split)
 * and pod segments: kubepods[-<qos>]-pod<uid with _>.slice (also kind's kubelet-kubepods-...), pod<uid>.
 * A `.scope/container` (crun) or `.scope/init.scope` (systemd inside the container) tail below the
 * container segment changes nothing.
 *
 * Nested runtimes (kind, minikube, docker-in-docker: `/docker/<node id>/kubepods/.../pod<uid>/<id>`): the
 * innermost level wins. A container segment after a pod segment is that pod's container; a pod segment
 * after a container segment (the node container of kind) starts over, so the node's id is not reported
 * for a pod's process.
 *
 * Which line: a process killed by seccomp stays a zombie until its parent reaps it, and for that moment
 * its v1 lines already read `/` while the `0::` line still names its container (proc_cgroup_show in
 * kernel/cgroup/cgroup.c prints `/` for an exiting task on legacy hierarchies, and on cgroup2 the cgroup
 * it had, with ` (deleted)` appended once that cgroup was removed). So the `0::` line is preferred whenever it carries a container id; if it disagrees with a v1 line, it is
 * still the one taken: it is the only membership that is right during the zombie window that matters
 * most here, and a v1-only disagreement comes from a tool that moved the process in one legacy hierarchy
 * (a cpuset manager, say), which does not make it another container's process. Without an id on the
 * `0::` line (a pure v1 host, or a hybrid host whose runtime does not join the unified tree: docker
 * there shows `0::/system.slice/containerd.service`), the first v1 line carrying an id is taken.
 * A pod uid without a container id (a pod-level cgroup, CRI-O's conmon) is reported alone.
 *
 * Pure and allocation-light: index loops, no regular expressions, substrings only for the values returned.
 */
export function cgroupIdentity(text: string): CgroupIdentity {
  let unified: PathIdentity | undefined;
  let v1WithId: PathIdentity | undefined;
  let v1PodOnly: PathIdentity | undefined;
  let start = 0;
  const end = text.length;
  while (start < end) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = end;
    const c1 = text.indexOf(':', start);
    if (c1 >= 0 && c1 < nl) {
      const c2 = text.indexOf(':', c1 + 1);
      if (c2 >= 0 && c2 < nl) {
        const isUnified = c1 === start + 1 && text.charCodeAt(start) === CH_0 && c2 === c1 + 1;
        if (isUnified || v1WithId === undefined) {
          let pathEnd = nl;
          if (text.endsWith(DELETED, pathEnd)) pathEnd -= DELETED.length;
          const id = pathIdentity(text, c2 + 1, pathEnd);
          if (id !== undefined) {
            if (isUnified) unified = id;
            else if (id.containerId !== undefined) v1WithId = id;
            else v1PodOnly ??= id;
          }
        }
      }
    }
    start = nl + 1;
  }
  const chosen =
    unified?.containerId !== undefined
      ? unified
      : (v1WithId ?? (unified?.podUid !== undefined ? unified : v1PodOnly));
  return chosen === undefined ? {} : toIdentity(chosen);
}

interface PathIdentity {
  containerId: string | undefined;
  runtime: ContainerRuntime | undefined;
  podUid: string | undefined;
}

function toIdentity(p: PathIdentity): CgroupIdentity {
  const out: CgroupIdentity = {};
  if (p.containerId !== undefined) out.containerId = p.containerId;
  if (p.runtime !== undefined) out.runtime = p.runtime;
  if (p.podUid !== undefined) out.podUid = p.podUid;
  return out;
}

const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_A = 0x61;
const CH_F = 0x66;
const CH_DASH = 0x2d;
const CH_UNDERSCORE = 0x5f;
const CH_COLON = 0x3a;
const ID_LEN = 64;
const SCOPE = '.scope';
/** Appended by the kernel to the cgroup2 path of a zombie whose cgroup was removed. */
const DELETED = ' (deleted)';
const SLICE = '.slice';

/** The identity a cgroup path names, or undefined when it names no pod and no container. */
function pathIdentity(text: string, from: number, to: number): PathIdentity | undefined {
  let containerId: string | undefined;
  let runtime: ContainerRuntime | undefined;
  let podUid: string | undefined;
  let prevStart = -1;
  let prevEnd = -1;
  let s = from;
  while (s < to) {
    let e = text.indexOf('/', s);
    if (e < 0 || e > to) e = to;
    if (e > s) {
      const pod = podUidOfSegment(text, s, e);
      if (pod !== undefined) {
        podUid = pod;
        // A pod inside an outer container (kind's node): the outer id is not this process's container.
        containerId = undefined;
        runtime = undefined;
      } else {
        const found = containerOfSegment(text, s, e, prevStart, prevEnd);
        if (found !== undefined) {
          containerId = found.id;
          runtime = found.runtime;
          if (found.podUid !== undefined) podUid = found.podUid;
        }
      }
      prevStart = s;
      prevEnd = e;
    }
    s = e + 1;
  }
  if (containerId === undefined && podUid === undefined) return undefined;
  return { containerId, runtime, podUid };
}

interface SegmentContainer {
  id: string;
  runtime: ContainerRuntime | undefined;
  podUid?: string;
}

/** Prefixes of a container's own cgroup: `<prefix><64 hex>` with `.scope` required or optional. */
const PREFIXED: readonly { prefix: string; runtime: ContainerRuntime; scope: 'required' | 'optional' }[] = [
  { prefix: 'cri-containerd-', runtime: CONTAINER_RUNTIME.containerd, scope: 'required' },
  { prefix: 'crio-', runtime: CONTAINER_RUNTIME.crio, scope: 'optional' },
  { prefix: 'docker-', runtime: CONTAINER_RUNTIME.docker, scope: 'required' },
  { prefix: 'libpod-payload-', runtime: CONTAINER_RUNTIME.podman, scope: 'optional' },
  { prefix: 'libpod-', runtime: CONTAINER_RUNTIME.podman, scope: 'optional' },
];

function containerOfSegment(
  text: string,
  s: number,
  e: number,
  prevStart: number,
  prevEnd: number,
): SegmentContainer | undefined {
  const len = e - s;
  // Bare id: cgroupfs drivers. The runtime follows from where it hangs.
  if (len === ID_LEN && isHex(text, s, e)) {
    const id = text.slice(s, e);
    if (prevEnd - prevStart === 6 && text.startsWith('docker', prevStart)) {
      return { id, runtime: CONTAINER_RUNTIME.docker };
    }
    // Below a pod it is the cgroupfs layout of containerd AND of docker (dockershim, cri-dockerd): the
    // path cannot tell them apart, so the runtime is left to the CRI, whose Version call names it.
    return { id, runtime: undefined };
  }
  const hasScope = len > SCOPE.length && text.startsWith(SCOPE, e - SCOPE.length);
  const idEnd = hasScope ? e - SCOPE.length : e;
  for (const p of PREFIXED) {
    if (!text.startsWith(p.prefix, s)) continue;
    const idStart = s + p.prefix.length;
    if (idEnd - idStart === ID_LEN && isHex(text, idStart, idEnd) && (hasScope || p.scope === 'optional')) {
      return { id: text.slice(idStart, idEnd), runtime: p.runtime };
    }
    // crio-conmon-<id>, libpod-conmon-<id>: the runtime's monitor process, not the container.
    return undefined;
  }
  // `<pod slice>:cri-containerd:<id>`: containerd turns a systemd-style cgroupsPath into a cgroupfs
  // directory name when its own SystemdCgroup is off.
  if (len > ID_LEN + 1 && text.charCodeAt(e - ID_LEN - 1) === CH_COLON && isHex(text, e - ID_LEN, e)) {
    const c = text.indexOf(':', s);
    const tag = text.slice(c + 1, e - ID_LEN - 1);
    const runtime =
      tag === 'cri-containerd'
        ? CONTAINER_RUNTIME.containerd
        : tag === 'crio'
          ? CONTAINER_RUNTIME.crio
          : undefined;
    if (runtime === undefined) return undefined;
    const out: SegmentContainer = { id: text.slice(e - ID_LEN, e), runtime };
    const pod = podUidOfSegment(text, s, c);
    if (pod !== undefined) out.podUid = pod;
    return out;
  }
  return undefined;
}

/**
 * `pod<uid>` (cgroupfs) or `...kubepods...-pod<uid with _>.slice` (systemd). A uid is 36 characters with
 * '-' (or '_') at 8, 13, 18 and 23, or 32 hex (a static pod's uid is its manifest hash). Underscores
 * become dashes again.
 */
function podUidOfSegment(text: string, s: number, e: number): string | undefined {
  if (text.startsWith('pod', s)) return uidAt(text, s + 3, e);
  if (e - s > SLICE.length && text.startsWith(SLICE, e - SLICE.length)) {
    const body = e - SLICE.length;
    const at = text.lastIndexOf('-pod', body);
    if (at < s) return undefined;
    const k = text.indexOf('kubepods', s);
    if (k < 0 || k >= at) return undefined;
    return uidAt(text, at + 4, body);
  }
  return undefined;
}

function uidAt(text: string, s: number, e: number): string | undefined {
  const len = e - s;
  if (len === 32) return isHex(text, s, e) ? text.slice(s, e) : undefined;
  if (len !== 36) return undefined;
  let underscores = false;
  for (let i = 0; i < 36; i++) {
    const c = text.charCodeAt(s + i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c === CH_UNDERSCORE) underscores = true;
      else if (c !== CH_DASH) return undefined;
    } else if (!isHexChar(c)) {
      return undefined;
    }
  }
  const uid = text.slice(s, e);
  return underscores ? uid.replaceAll('_', '-') : uid;
}

function isHexChar(c: number): boolean {
  return (c >= CH_0 && c <= CH_9) || (c >= CH_A && c <= CH_F);
}

function isHex(text: string, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (!isHexChar(text.charCodeAt(i))) return false;
  return true;
}
