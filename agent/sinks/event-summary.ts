import type { KernwatchEvent } from '../events.js';

/** What was denied, in a few words: the syscall, the AppArmor operation and object, or the SELinux access. */
export function deniedWhat(e: KernwatchEvent): string {
  if (e.seccomp !== undefined) {
    const s = e.seccomp;
    return `${s.syscall ?? `syscall ${String(s.syscallNr)}`} (${s.arch}) ${s.action}`;
  }
  if (e.apparmor !== undefined) {
    const a = e.apparmor;
    const object = a.name ?? a.peer ?? a.capname ?? '';
    const mask = a.deniedMask ?? a.requestedMask;
    return [a.operation, object, mask === undefined ? '' : `[${mask}]`].filter((p) => p !== '').join(' ');
  }
  if (e.selinux !== undefined) {
    const s = e.selinux;
    const object = s.path ?? s.name;
    return `{ ${s.permissions.join(' ')} } ${s.tclass}${object === undefined ? '' : ` ${object}`}`;
  }
  return '';
}

/** The confinement that decided: seccomp has none by name, AppArmor its profile, SELinux the contexts. */
export function deciderOf(e: KernwatchEvent): string {
  if (e.apparmor !== undefined) return e.apparmor.profile;
  if (e.selinux !== undefined) return `${e.selinux.scontext} -> ${e.selinux.tcontext}`;
  return '';
}
