import { ATTRIBUTION, type KernwatchEvent } from '../../../agent/events.js';
import type { HeldInput } from '../../../agent/pipeline/noise/noise-filter.js';
import { corpusLine, derive } from '../../helpers/corpus-lines.js';
import { parseText } from '../../helpers/parse-text.js';

// Events for the noise filter tests, parsed from real corpus records whose audit stamp (and for seccomp
// the syscall number) is rewritten, so that id, auditId and time agree as the parser makes them.

/** A seccomp LOG of getppid (110) on x86_64 by /usr/local/bin/seccomp-demo, read from /dev/kmsg. */
const SECCOMP = corpusLine('kmsg/kernel618-seccomp-all-actions.kmsg', 2);
const SECCOMP_STAMP = '1795865927.052:334420';
/** AppArmor DENIED open of /proc/sys/kernel/osrelease by dnsmasq (auditd). */
const APPARMOR_OSRELEASE = corpusLine('auditd/apparmor.d-testdata-audit.log', 14);
/** The same profile denied opening /proc/1/environ. */
const APPARMOR_ENVIRON = corpusLine('auditd/apparmor.d-testdata-audit.log', 15);
const APPARMOR_STAMP = '1111111111.111:1111';
/** SELinux denied { read } of a lnk_file by container_t (permissive=0). */
const SELINUX_READ = corpusLine('auditd/security-profiles-operator-audit_test.log', 3);
const SELINUX_STAMP = '1613173578.156:2945';

/** Audit time 0 of the tests: the seccomp record's own second. */
export const T0 = 1795865927_000;

function stamp(ms: number, serial: number): string {
  const sec = Math.floor(ms / 1000);
  return `${String(sec)}.${String(ms - sec * 1000).padStart(3, '0')}:${String(serial)}`;
}

function parsedOne(line: string): KernwatchEvent {
  const { events } = parseText(line);
  const [e] = events;
  if (e === undefined || events.length !== 1) throw new Error(`expected one event from: ${line}`);
  return e;
}

const cache = new Map<string, KernwatchEvent>();

/** The seccomp record at audit time T0 + `at` ms with audit serial `serial`, for syscall `nr`. */
export function seccompAt(at: number, serial: number, nr = 110): KernwatchEvent {
  const cacheKey = `${String(at)}/${String(serial)}/${String(nr)}`;
  let e = cache.get(cacheKey);
  if (e === undefined) {
    let line = derive(SECCOMP, SECCOMP_STAMP, stamp(T0 + at, serial));
    if (nr !== 110) line = derive(line, 'syscall=110', `syscall=${String(nr)}`);
    e = parsedOne(line);
    cache.set(cacheKey, e);
  }
  return e;
}

export function apparmorAt(at: number, serial: number, file: 'osrelease' | 'environ'): KernwatchEvent {
  const line = file === 'osrelease' ? APPARMOR_OSRELEASE : APPARMOR_ENVIRON;
  return parsedOne(derive(line, APPARMOR_STAMP, stamp(T0 + at, serial)));
}

export function selinuxAt(at: number, serial: number): KernwatchEvent {
  return parsedOne(derive(SELINUX_READ, SELINUX_STAMP, stamp(T0 + at, serial)));
}

/** 64 hex digits, as in a cgroup path. */
export function containerId(n: number): string {
  return n.toString(16).padStart(64, 'c');
}

/** The event as the attributor builds it for a process in container `n` (no pod). */
export function inContainer(e: KernwatchEvent, n: number): KernwatchEvent {
  return {
    ...e,
    attribution: ATTRIBUTION.container,
    container: { id: containerId(n), runtime: 'containerd' },
  };
}

/** The event as attributed to a host process (no container). */
export function onHost(e: KernwatchEvent): KernwatchEvent {
  return { ...e, attribution: ATTRIBUTION.host };
}

/** The event with another pid, as another process of the same program would make it. */
export function withPid(e: KernwatchEvent, pid: number): KernwatchEvent {
  return { ...e, process: { ...e.process, pid } };
}

/** Batch inputs numbered as the chain numbers lines: `firstLine`, `firstLine + 1`, ... */
export function lines(events: readonly KernwatchEvent[], firstLine = 1): HeldInput[] {
  return events.map((event, i) => ({ event, line: firstLine + i }));
}

/** What a test compares of an emitted event. */
export function summary(e: KernwatchEvent): { id: string; count: number; noise?: KernwatchEvent['noise'] } {
  return e.noise === undefined ? { id: e.id, count: e.count } : { id: e.id, count: e.count, noise: e.noise };
}
