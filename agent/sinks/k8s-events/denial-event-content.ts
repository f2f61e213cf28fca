import { DENIAL_KIND, OUTCOME, SECCOMP_ACTION, type KernwatchEvent, type Outcome } from '../../events.js';
import { deniedWhat } from '../event-summary.js';

/** `reason` of the Kubernetes Event per denial kind: CamelCase, as kubelet reasons are. */
export const K8S_EVENT_REASON = {
  seccomp: 'SeccompViolation',
  apparmor: 'AppArmorDenial',
  selinux: 'SELinuxDenial',
} as const;
export type K8sEventReason = (typeof K8S_EVENT_REASON)[keyof typeof K8S_EVENT_REASON];

/** `action` (what happened to the process or call), from the event's outcome. */
export const K8S_EVENT_ACTION = {
  killed: 'Killed',
  blocked: 'Blocked',
  allowed: 'Allowed',
  logged: 'Logged',
} as const satisfies Record<Outcome, string>;
export type K8sEventAction = (typeof K8S_EVENT_ACTION)[keyof typeof K8S_EVENT_ACTION];

/** The API server refuses a longer note (it counts bytes: Go's len). */
export const NOTE_MAX_BYTES = 1024;

const ELLIPSIS = '…';

export function eventReason(e: KernwatchEvent): K8sEventReason {
  return K8S_EVENT_REASON[e.kind];
}

export function eventAction(e: KernwatchEvent): K8sEventAction {
  return K8S_EVENT_ACTION[e.outcome];
}

/** `spec.containers{NAME}`, how kubelet points an Event at one container; undefined without a name. */
export function containerFieldPath(e: KernwatchEvent): string | undefined {
  const name = e.container?.name;
  // Init and ephemeral containers live under other fields; the denial does not say which list the
  // container came from, and regular containers are by far the common case.
  return name === undefined || name === '' ? undefined : `spec.containers{${name}}`;
}

/**
 * One readable sentence for `note`: what was denied, by which confinement, to which process in which
 * container, and what became of it. It describes the first denial of a series; the series' count says
 * how often it repeated. Untrusted strings (comm, exe, paths) are JSON-quoted, so a control character or
 * a quote in them cannot break the line.
 */
export function eventNote(e: KernwatchEvent): string {
  const logged = e.outcome === OUTCOME.logged;
  const sentence =
    `${subjectOf(e)} ${logged ? 'logged' : 'denied'} ${deniedWhat(e)} ${logged ? 'for' : 'to'} ` +
    `${processOf(e)}${containerOf(e)}${contextOf(e)}; ${consequenceOf(e)}.`;
  return truncateUtf8(sentence, NOTE_MAX_BYTES);
}

/** At most `maxBytes` of UTF-8, cut at a character boundary, marked with an ellipsis when cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const budget = maxBytes - Buffer.byteLength(ELLIPSIS, 'utf8');
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > budget) break;
    bytes += size;
    end += char.length;
  }
  return `${text.slice(0, end)}${ELLIPSIS}`;
}

function subjectOf(e: KernwatchEvent): string {
  if (e.kind === DENIAL_KIND.apparmor && e.apparmor !== undefined) {
    return `AppArmor profile ${JSON.stringify(e.apparmor.profile)}`;
  }
  return e.kind === DENIAL_KIND.selinux ? 'SELinux' : 'Seccomp';
}

function processOf(e: KernwatchEvent): string {
  const p = e.process;
  const exe = p.exe === undefined ? '' : `, ${JSON.stringify(p.exe)}`;
  return p.comm === undefined
    ? `process ${p.pid}${exe === '' ? '' : ` (${exe.slice(2)})`}`
    : `process ${JSON.stringify(p.comm)} (pid ${p.pid}${exe})`;
}

function containerOf(e: KernwatchEvent): string {
  const c = e.container;
  if (c === undefined) return '';
  if (c.name !== undefined && c.name !== '') return ` in container ${JSON.stringify(c.name)}`;
  return c.id === '' ? '' : ` in container ${c.id.slice(0, 12)}`;
}

/** SELinux decides by context pair: both belong to the sentence. */
function contextOf(e: KernwatchEvent): string {
  return e.selinux === undefined ? '' : ` (${e.selinux.scontext} -> ${e.selinux.tcontext})`;
}

function consequenceOf(e: KernwatchEvent): string {
  const what = e.kind === DENIAL_KIND.seccomp ? 'call' : 'access';
  switch (e.outcome) {
    case OUTCOME.killed:
      return e.seccomp?.action === SECCOMP_ACTION.KILL_THREAD
        ? 'the thread was killed'
        : 'the process was killed';
    case OUTCOME.blocked:
      return `the ${what} was blocked`;
    case OUTCOME.allowed:
      return `the ${what} was allowed (${e.kind === DENIAL_KIND.selinux ? 'permissive' : 'complain'} mode)`;
    case OUTCOME.logged:
      return `the ${what} was allowed and logged`;
  }
}
