import type { ContainerRef, DenialKind, Outcome } from '../events.js';

/**
 * The record of one response decision, published on `kernwatch.v1.action.<node>` and to the stdout and
 * file sinks beside the denials. Like the denial schema, its field names are a public contract: security
 * teams audit from it why kernwatch acted, or why it did not.
 */
export const ACTION_SCHEMA = 'kernwatch.v1.action' as const;

export const ACTION_TYPE = {
  deletePod: 'delete_pod',
  nftQuarantine: 'nft_quarantine',
  netpolQuarantine: 'netpol_quarantine',
  label: 'label',
  k8sEvent: 'k8s_event',
} as const;
export type ActionType = (typeof ACTION_TYPE)[keyof typeof ACTION_TYPE];

export const DECISION = {
  /** The action was carried out. */
  taken: 'taken',
  /** Every guard let it through, but responses are not switched on: nothing was changed. */
  dryRun: 'dry_run',
  /** A guard stopped it; `reason` names the guard. */
  refused: 'refused',
  /** It was attempted and did not complete; `error` says why. */
  failed: 'failed',
} as const;
export type Decision = (typeof DECISION)[keyof typeof DECISION];

/** The guard that refused an action. Bounded: it is a metric label. */
export const REFUSAL = {
  protectedNamespace: 'protected_namespace',
  optedOut: 'opted_out',
  ownPod: 'own_pod',
  cooldown: 'cooldown',
  budget: 'budget',
  queueFull: 'queue_full',
  alreadyDone: 'already_done',
  podGone: 'pod_gone',
  /** Neither the API server nor the runtime could say what the pod is now. */
  podUnreadable: 'pod_unreadable',
  /** The denial was older than maxTriggerAge when its response came to be decided. */
  stale: 'stale',
  /** The agent stopped before the response was decided. */
  shutdown: 'shutdown',
  daemonSet: 'daemonset',
  standalone: 'standalone',
  unknownOwner: 'unknown_owner',
  minHealthy: 'min_healthy',
  hostNetwork: 'host_network',
  noPodIp: 'no_pod_ip',
  noApiServer: 'no_api_server',
  noNftables: 'no_nftables',
} as const;
export type Refusal = (typeof REFUSAL)[keyof typeof REFUSAL];

export interface ActionTrigger {
  /** The id of the denial event that crossed the rule's threshold. */
  eventId: string;
  kind: DenialKind;
  outcome: Outcome;
  /** Denials of this pod the rule counted within `withinMs` (the threshold that was reached). */
  count: number;
  withinMs: number;
  syscall?: string;
  operation?: string;
  permissions?: string[];
}

/** What the action changed, or would have changed. */
export interface ActionTarget {
  /** nft_quarantine: the pod's addresses put into kernwatch's sets. */
  addresses?: string[];
  /** nft_quarantine, netpol_quarantine: when the quarantine ends by itself (ISO-8601 UTC). */
  expiresAt?: string;
  /** netpol_quarantine: the NetworkPolicy's name in the pod's namespace. */
  networkPolicy?: string;
  /** label, netpol_quarantine: the labels set on the pod. */
  labels?: Record<string, string>;
  /** delete_pod. */
  gracePeriodSeconds?: number;
}

export interface ActionEvent {
  schema: typeof ACTION_SCHEMA;
  /**
   * `<trigger event id>/<rule>/<action>/<decision>[:<reason>]`: a re-read of the same denial decided the
   * same way gives the same id (NATS drops the copy); decided differently after a restart, it is kept.
   */
  id: string;
  /** ISO-8601 UTC of the decision. */
  time: string;
  node: string;
  rule: string;
  action: ActionType;
  decision: Decision;
  /** Set when `decision` is `refused`. */
  reason?: Refusal;
  /** One sentence for people: what was done or why not. */
  detail: string;
  /** Identical decisions (same pod, rule, action, decision and reason) folded into this one since the last published. */
  repeats?: number;
  pod: { name: string; namespace: string; uid: string };
  container?: ContainerRef;
  trigger: ActionTrigger;
  target?: ActionTarget;
  /** Set when `decision` is `failed`. */
  error?: string;
}

/** Field order of the serialised event, so that every sink writes the same bytes for it. */
export function actionEventToJson(event: ActionEvent): string {
  const ordered: Record<string, unknown> = {
    schema: event.schema,
    id: event.id,
    time: event.time,
    node: event.node,
    rule: event.rule,
    action: event.action,
    decision: event.decision,
  };
  if (event.reason !== undefined) ordered.reason = event.reason;
  ordered.detail = event.detail;
  if (event.repeats !== undefined) ordered.repeats = event.repeats;
  ordered.pod = event.pod;
  if (event.container !== undefined) ordered.container = event.container;
  ordered.trigger = event.trigger;
  if (event.target !== undefined) ordered.target = event.target;
  if (event.error !== undefined) ordered.error = event.error;
  return JSON.stringify(ordered);
}

export function actionEventsToNdjson(events: readonly ActionEvent[]): string {
  let text = '';
  for (const event of events) text += `${actionEventToJson(event)}\n`;
  return text;
}
