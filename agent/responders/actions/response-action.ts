import type { ActionTarget, ActionType, Refusal } from '../action-event.js';
import type { Firing } from '../policy.js';
import type { TargetPod } from '../pod-target.js';

/** One response to one pod: the rule that fired and the pod as read just now. */
export interface ActionContext {
  firing: Firing;
  target: TargetPod;
  nowMs: number;
}

/** A guard of the action itself refused it. */
export interface ActionRefusal {
  refusal: Refusal;
  detail: string;
}

/** What the action changes (or, in dry-run, would change), in words and as data. */
export interface ActionPlan {
  target: ActionTarget;
  detail: string;
}

/**
 * An action with its rule's settings. `check` runs the action's own guards (read-only API calls at most);
 * `plan` says what `run` will do, which is all a dry-run publishes; `run` does it. `run` may still answer
 * a refusal: the pod can go between the check and the change.
 */
export interface PreparedAction {
  readonly type: ActionType;
  check(ctx: ActionContext): Promise<ActionRefusal | undefined>;
  plan(ctx: ActionContext): ActionPlan;
  run(ctx: ActionContext): Promise<ActionPlan | ActionRefusal>;
}

export function isRefusal(value: ActionPlan | ActionRefusal | undefined): value is ActionRefusal {
  return value !== undefined && 'refusal' in value;
}

/** The label a quarantined pod carries and its NetworkPolicy selects it by (the pod uid is its value). */
export const QUARANTINE_LABEL = 'kernwatch.io/quarantine';
/** On objects kernwatch creates, so that `quarantine list` and the expiry loop find them. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'kernwatch';

/** `<uid> <namespace>/<name>`, cut to what an nft element comment holds. The uid comes first: it survives the cut. */
export function quarantineComment(pod: { uid: string; namespace: string; name: string }): string {
  return `${pod.uid} ${pod.namespace}/${pod.name}`.slice(0, 128);
}

/** The parts of a quarantine comment, or undefined when it is not one of ours. */
export function parseQuarantineComment(
  comment: string | undefined,
): { uid: string; namespace: string; name: string } | undefined {
  if (comment === undefined) return undefined;
  const space = comment.indexOf(' ');
  const slash = comment.indexOf('/', space);
  if (space <= 0 || slash < 0) return undefined;
  return {
    uid: comment.slice(0, space),
    namespace: comment.slice(space + 1, slash),
    name: comment.slice(slash + 1),
  };
}
