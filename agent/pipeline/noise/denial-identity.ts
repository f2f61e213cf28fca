import { ATTRIBUTION, type KernwatchEvent } from '../../events.js';

/**
 * What makes two denials "identical" for coalescing, and which rate-limit bucket a denial draws from.
 * The identity has two parts, looked up in two levels of Map by the filter: who (subjectKey) and what
 * (denialKey). A container's id is used as is, so the string the attributor keeps for the container,
 * whose hash V8 caches, is the key; only the short "what" part is built per event, by concatenation, never
 * JSON.stringify. (One flat key of container id + detail cost twice as much per lookup, measured.) Parts
 * are joined by U+001F, which neither the kernel's decoded fields nor container ids contain in practice;
 * host and unresolved subjects start with it, so they never meet a container id (hex digits).
 */

const SEP = '\u001f';

/**
 * Who caused the denial, as narrowly as attribution allows:
 * - a container: its id (every replica of a process in it is the same workload);
 * - a host process (attributed, no container): its executable, else its comm. Host daemons fork workers
 *   with new pids that hit the same denial; keying them by pid would never coalesce them;
 * - unresolved (nothing known): the pid, plus exe/comm against pid reuse. Without attribution two
 *   denials from one executable may come from two different pods; merging them would hide one, so only
 *   the same process merges.
 */
export function subjectKey(e: KernwatchEvent): string {
  if (e.container !== undefined) return e.container.id;
  const p = e.process;
  if (e.attribution === ATTRIBUTION.host) return hostKey(e);
  return `${SEP}p${String(p.pid)}${SEP}${p.exe ?? p.comm ?? ''}`;
}

function hostKey(e: KernwatchEvent): string {
  const p = e.process;
  return p.exe !== undefined ? `${SEP}e${p.exe}` : `${SEP}n${p.comm ?? ''}`;
}

/**
 * The denial itself. seccomp: syscall number and arch (the number means a different call per arch) and
 * `code` (the action, and the errno where the kernel still writes it). AppArmor: operation, profile,
 * class, name, denied mask and peer: a read and a write denial of one file are two findings. SELinux:
 * the permissions in sorted order (the kernel lists them in its own bit order, which may differ between
 * kernels), tclass and both contexts; the file name is left out on purpose, since policy decides by type,
 * and a container walking a directory of one type is one finding with a count.
 */
function detailKey(e: KernwatchEvent): string {
  const s = e.seccomp;
  if (s !== undefined) return `s${String(s.syscallNr)}${SEP}${s.arch}${SEP}${s.code}`;
  const a = e.apparmor;
  if (a !== undefined) {
    return `a${a.operation}${SEP}${a.profile}${SEP}${a.class ?? ''}${SEP}${a.name ?? ''}${SEP}${a.deniedMask ?? ''}${SEP}${a.peer ?? ''}`;
  }
  const l = e.selinux;
  if (l !== undefined) {
    const perms = l.permissions.length > 1 ? [...l.permissions].sort().join(',') : (l.permissions[0] ?? '');
    return `l${perms}${SEP}${l.tclass}${SEP}${l.tcontext}${SEP}${l.scontext}`;
  }
  return e.kind;
}

/** What was denied, and how: outcome and the kind's detail (whose first letter is the kind). */
export function denialKey(e: KernwatchEvent): string {
  return `${e.outcome}${SEP}${detailKey(e)}`;
}

/** Two events with the same identity are the same denial repeated: they may be coalesced. */
export function denialIdentity(e: KernwatchEvent): string {
  return `${subjectKey(e)}${SEP}${SEP}${denialKey(e)}`;
}

/**
 * The rate-limit bucket: one per container; one per host executable (a host binary is the host's unit of
 * software, like a container; one noisy daemon must not mute another); and ONE shared bucket for all
 * unresolved denials. Unresolved floods typically come from short-lived processes (a seccomp KILL loop)
 * with a new pid each time: a bucket per pid would never trip.
 */
export function rateLimitKey(e: KernwatchEvent): string {
  if (e.container !== undefined) return e.container.id;
  if (e.attribution === ATTRIBUTION.host) return hostKey(e);
  return UNRESOLVED_BUCKET;
}

const UNRESOLVED_BUCKET = `${SEP}u`;
