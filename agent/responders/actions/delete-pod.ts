import type { ResponseActionConfig } from '../../config/config-schema.js';
import { ACTION_TYPE, REFUSAL } from '../action-event.js';
import { COUNTED_OWNER_KINDS, type CountedOwnerKind, type KubeResponderApi } from '../kube-responder-api.js';
import type { ActionContext, ActionPlan, ActionRefusal, PreparedAction } from './response-action.js';

type DeletePodConfig = Extract<ResponseActionConfig, { type: 'delete_pod' }>;

/**
 * Deletes the offending pod through the API with a grace period and the pod's uid as a precondition.
 * Refused for pods whose deletion would not end the threat or would cost availability: a DaemonSet's pod
 * (its controller starts it again on this node), a pod without a controller (gone for good), an owner
 * kernwatch cannot count, and an owner that would keep fewer ready replicas than the rule's minimum.
 */
export class DeletePodAction implements PreparedAction {
  readonly type = ACTION_TYPE.deletePod;

  /** `<owner key>\0<pod uid>` → when this node deleted that pod, for the last minute; bounded. */
  private readonly deletedAt = new Map<string, number>();

  constructor(
    private readonly config: DeletePodConfig,
    private readonly api: KubeResponderApi | undefined,
  ) {}

  async check(ctx: ActionContext): Promise<ActionRefusal | undefined> {
    const { target } = ctx;
    if (this.api === undefined) {
      return { refusal: REFUSAL.noApiServer, detail: 'deleting a pod needs the API server' };
    }
    if (target.deleting) return { refusal: REFUSAL.alreadyDone, detail: 'the pod is already being deleted' };
    const owner = target.owner;
    if (owner === undefined) {
      return this.config.allowStandalone
        ? undefined
        : {
            refusal: REFUSAL.standalone,
            detail: 'the pod has no controller: deleting it would not bring it back (allowStandalone)',
          };
    }
    if (owner.kind === 'DaemonSet') {
      return this.config.allowDaemonSet
        ? undefined
        : {
            refusal: REFUSAL.daemonSet,
            detail: `DaemonSet ${owner.name} would start the same pod again on this node (allowDaemonSet)`,
          };
    }
    // A Job's controller reruns a deleted pod within the Job's backoff limit: nothing to count.
    if (owner.kind === 'Job') return undefined;
    if (!isCounted(owner.kind)) {
      return this.config.allowUnknownOwner
        ? undefined
        : {
            refusal: REFUSAL.unknownOwner,
            detail: `kernwatch cannot count the replicas of a ${owner.kind} (allowUnknownOwner)`,
          };
    }
    const replicas = await this.api.ownerReplicas(owner.kind, target.namespace, owner.name);
    if (replicas === undefined) {
      return this.config.allowUnknownOwner
        ? undefined
        : { refusal: REFUSAL.unknownOwner, detail: `${owner.kind} ${owner.name} does not exist` };
    }
    // The owner's readyReplicas lags a deletion by a controller round trip: pods this node deleted from
    // the same owner moments ago may still be counted ready. Counted out here, so two replicas firing
    // seconds apart cannot both go. (Across nodes only a PodDisruptionBudget can coordinate; see docs.)
    const ownerKey = `${target.namespace}/${owner.kind}/${owner.name}`;
    const recent = this.recentDeletions(ownerKey, ctx.nowMs);
    const readyAfter = replicas.ready - recent - (target.ready ? 1 : 0);
    if (readyAfter < this.config.minHealthyReplicas) {
      return {
        refusal: REFUSAL.minHealthy,
        detail:
          `${owner.kind} ${owner.name} would keep ${String(readyAfter)} ready of ${String(replicas.desired)} ` +
          `replicas, fewer than minHealthyReplicas ${String(this.config.minHealthyReplicas)}` +
          (recent > 0 ? ` (${String(recent)} deleted here in the last minute counted out)` : ''),
      };
    }
    return undefined;
  }

  /** Pods of this owner this node deleted within the last minute (and forgets older ones). */
  private recentDeletions(ownerKey: string, nowMs: number): number {
    let count = 0;
    for (const [key, at] of this.deletedAt) {
      if (nowMs - at > RECENT_DELETION_MS || this.deletedAt.size > MAX_RECENT_DELETIONS) {
        this.deletedAt.delete(key);
      } else if (key.startsWith(`${ownerKey}\u0000`)) {
        count++;
      }
    }
    return count;
  }

  plan({ target }: ActionContext): ActionPlan {
    const grace = this.config.gracePeriodSeconds;
    return {
      target: { gracePeriodSeconds: grace },
      detail: `delete pod ${target.namespace}/${target.name} with a grace period of ${String(grace)} s`,
    };
  }

  async run({ target, nowMs }: ActionContext): Promise<ActionPlan | ActionRefusal> {
    if (this.api === undefined) return { refusal: REFUSAL.noApiServer, detail: 'no API server' };
    const deleted = await this.api.deletePod(
      target.namespace,
      target.name,
      target.uid,
      this.config.gracePeriodSeconds,
    );
    if (!deleted) return { refusal: REFUSAL.podGone, detail: 'the pod was gone before it could be deleted' };
    if (target.owner !== undefined) {
      this.deletedAt.set(
        `${target.namespace}/${target.owner.kind}/${target.owner.name}\u0000${target.uid}`,
        nowMs,
      );
    }
    const grace = this.config.gracePeriodSeconds;
    return {
      target: { gracePeriodSeconds: grace },
      detail: `deleted pod ${target.namespace}/${target.name} with a grace period of ${String(grace)} s`,
    };
  }
}

const RECENT_DELETION_MS = 60_000;
const MAX_RECENT_DELETIONS = 4096;

function isCounted(kind: string): kind is CountedOwnerKind {
  return (COUNTED_OWNER_KINDS as readonly string[]).includes(kind);
}
