import type { KernwatchEvent } from '../../events.js';

/**
 * Which denials share one Kubernetes Event (a series, counted like kubelet's repeated events): the same
 * pod (by uid, so a new pod of the same name starts afresh), container (by name, so a restarted
 * container continues its series), kind, outcome and what was denied:
 *
 * - seccomp: syscall (or its number) on its arch, and the action (KILL_THREAD and KILL_PROCESS are both
 *   "killed" but are different events);
 * - AppArmor: operation, profile and mode, plus the capability for `capable` (one operation, many
 *   capabilities); not the path, or a scan of a thousand files would make a thousand Events;
 * - SELinux: the permissions and the target class, for the same reason.
 *
 * Everything that differs inside a series (paths, pids) shows only in the note of its first denial. The
 * key is compared, never shown. Undefined for a denial without a pod: it gets no Kubernetes Event.
 */
export function seriesKeyOf(e: KernwatchEvent): string | undefined {
  if (e.pod === undefined) return undefined;
  const container = e.container?.name ?? e.container?.id ?? '';
  return [e.pod.uid, container, e.kind, e.outcome, deniedKey(e)].join('\u0000');
}

function deniedKey(e: KernwatchEvent): string {
  if (e.seccomp !== undefined) {
    const s = e.seccomp;
    return `${s.syscall ?? `#${s.syscallNr}`}\u0000${s.arch}\u0000${s.action}`;
  }
  if (e.apparmor !== undefined) {
    const a = e.apparmor;
    return `${a.operation}\u0000${a.profile}\u0000${a.mode}\u0000${a.capname ?? ''}`;
  }
  if (e.selinux !== undefined) {
    // The kernel lists permissions in its own order; sorting keeps `{ read write }` one series.
    return `${[...e.selinux.permissions].sort().join(' ')}\u0000${e.selinux.tclass}`;
  }
  return '';
}
