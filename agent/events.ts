/**
 * The `kernwatch.v1` event: one JSON object per kernel denial. Field names are a public contract
 * (docs/events.md); optional fields are omitted when absent, never null.
 */

export const EVENT_SCHEMA = 'kernwatch.v1' as const;

export const DENIAL_KIND = { seccomp: 'seccomp', apparmor: 'apparmor', selinux: 'selinux' } as const;
export type DenialKind = (typeof DENIAL_KIND)[keyof typeof DENIAL_KIND];

export const OUTCOME = {
  killed: 'killed',
  blocked: 'blocked',
  allowed: 'allowed',
  logged: 'logged',
} as const;
export type Outcome = (typeof OUTCOME)[keyof typeof OUTCOME];

export const EVENT_SOURCE = {
  auditd: 'auditd',
  kmsg: 'kmsg',
  journald: 'journald',
  syslog: 'syslog',
  file: 'file',
} as const;
export type EventSource = (typeof EVENT_SOURCE)[keyof typeof EVENT_SOURCE];

export const ATTRIBUTION = {
  pod: 'pod',
  container: 'container',
  host: 'host',
  unresolved: 'unresolved',
} as const;
export type Attribution = (typeof ATTRIBUTION)[keyof typeof ATTRIBUTION];

export const SECCOMP_ACTION = {
  KILL_PROCESS: 'KILL_PROCESS',
  KILL_THREAD: 'KILL_THREAD',
  TRAP: 'TRAP',
  ERRNO: 'ERRNO',
  USER_NOTIF: 'USER_NOTIF',
  TRACE: 'TRACE',
  LOG: 'LOG',
  ALLOW: 'ALLOW',
} as const;
export type SeccompAction = (typeof SECCOMP_ACTION)[keyof typeof SECCOMP_ACTION];

export const APPARMOR_MODE = { DENIED: 'DENIED', ALLOWED: 'ALLOWED', AUDIT: 'AUDIT', KILL: 'KILL' } as const;
export type AppArmorMode = (typeof APPARMOR_MODE)[keyof typeof APPARMOR_MODE];

export interface ProcessInfo {
  pid: number;
  ppid?: number;
  comm?: string;
  exe?: string;
  uid?: number;
  gid?: number;
  auid?: number;
  ses?: number;
  subj?: string;
  /** Decoded PROCTITLE: argv joined by spaces. */
  cmdline?: string;
  cwd?: string;
}

export interface SeccompDetail {
  /** Absent when the number is unknown for the arch. */
  syscall?: string;
  syscallNr: number;
  arch: string;
  compat: boolean;
  action: SeccompAction;
  errno?: number;
  errnoName?: string;
  signal: number;
  code: string;
}

export interface AppArmorDetail {
  mode: AppArmorMode;
  operation: string;
  profile: string;
  class?: string;
  name?: string;
  name2?: string;
  requestedMask?: string;
  deniedMask?: string;
  capability?: number;
  capname?: string;
  signal?: string;
  peer?: string;
  info?: string;
  error?: number;
}

export interface SelinuxDetail {
  permissions: string[];
  scontext: string;
  tcontext: string;
  tclass: string;
  permissive: boolean;
  name?: string;
  path?: string;
}

export interface ContainerRef {
  id: string;
  name?: string;
  runtime?: string;
  image?: string;
}

export interface PodRef {
  name: string;
  namespace: string;
  uid: string;
  labels?: Record<string, string>;
  owner?: { kind: string; name: string };
}

interface DenialBase {
  /** As in msg=audit(...); absent only for records that were logged without one (journald short text). */
  auditId?: string;
  /** ISO-8601 UTC. */
  time: string;
  outcome: Outcome;
  process: ProcessInfo;
  /** The original lines of this record's audit event (denial record first, then its siblings). */
  raw: string[];
}

export interface SeccompDenial extends DenialBase {
  kind: typeof DENIAL_KIND.seccomp;
  seccomp: SeccompDetail;
}
export interface AppArmorDenial extends DenialBase {
  kind: typeof DENIAL_KIND.apparmor;
  apparmor: AppArmorDetail;
}
export interface SelinuxDenial extends DenialBase {
  kind: typeof DENIAL_KIND.selinux;
  selinux: SelinuxDetail;
}

/** The parser's output: one per kernel denial record, before attribution. */
export type Denial = SeccompDenial | AppArmorDenial | SelinuxDenial;

/** A parsed denial with its stable identity inside its audit event. */
export interface IdentifiedDenial {
  denial: Denial;
  /** The part of `id` after the node: `<auditId>/<i>`, or a synthetic key for records without an audit id. */
  key: string;
  /** The parser's line number of the event's first record (live chains hold checkpoints by it). */
  line?: number;
}

/** Why one event stands for several denials (agent/pipeline/noise/). */
export const NOISE_REASON = { coalesced: 'coalesced', rateLimited: 'rate_limited' } as const;
export type NoiseReason = (typeof NOISE_REASON)[keyof typeof NOISE_REASON];

/**
 * Present only on an event the noise filter emitted for denials it held back: `coalesced` (identical
 * denials within the coalescing window) or `rate_limited` (a container's denials beyond its rate limit,
 * of any identity). The event's own fields are those of the first held denial; `count` says how many it
 * stands for.
 */
export interface NoiseInfo {
  reason: NoiseReason;
  /** ISO-8601 UTC audit time of the earliest denial this event stands for. */
  firstTime: string;
  /** ISO-8601 UTC audit time of the latest. */
  lastTime: string;
}

export interface KernwatchEvent {
  schema: typeof EVENT_SCHEMA;
  id: string;
  auditId?: string;
  time: string;
  node: string;
  source: EventSource;
  kind: DenialKind;
  outcome: Outcome;
  count: number;
  noise?: NoiseInfo;
  process: ProcessInfo;
  seccomp?: SeccompDetail;
  apparmor?: AppArmorDetail;
  selinux?: SelinuxDetail;
  container?: ContainerRef;
  pod?: PodRef;
  attribution: Attribution;
  raw: string[];
}

export interface EventContext {
  node: string;
  source: EventSource;
  attribution: Attribution;
  container?: ContainerRef;
  pod?: PodRef;
}

/** Builds the public event. Key order does not matter here: sinks serialise in the documented order. */
export function buildEvent(identified: IdentifiedDenial, ctx: EventContext, count = 1): KernwatchEvent {
  const d = identified.denial;
  const event: KernwatchEvent = {
    schema: EVENT_SCHEMA,
    id: `${ctx.node}:${identified.key}`,
    time: d.time,
    node: ctx.node,
    source: ctx.source,
    kind: d.kind,
    outcome: d.outcome,
    count,
    process: d.process,
    attribution: ctx.attribution,
    raw: d.raw,
  };
  if (d.auditId !== undefined) event.auditId = d.auditId;
  if (d.kind === DENIAL_KIND.seccomp) event.seccomp = d.seccomp;
  else if (d.kind === DENIAL_KIND.apparmor) event.apparmor = d.apparmor;
  else event.selinux = d.selinux;
  if (ctx.container !== undefined) event.container = ctx.container;
  if (ctx.pod !== undefined) event.pod = ctx.pod;
  return event;
}
