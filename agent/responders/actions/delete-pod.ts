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

  constructor(
    private readonly config: DeletePodConfig,
    private readonly api: KubeResponderApi | undefined,
  ) {}

  async check({ target }: ActionContext): Promise<ActionRefusal | undefined> {
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
    const readyAfter = replicas.ready - (target.ready ? 1 : 0);
    if (readyAfter < this.config.minHealthyReplicas) {
      return {
        refusal: REFUSAL.minHealthy,
        detail:
          `${owner.kind} ${owner.name} would keep ${String(readyAfter)} ready of ${String(replicas.desired)} ` +
          `replicas, fewer than minHealthyReplicas ${String(this.config.minHealthyReplicas)}`,
      };
    }
    return undefined;
  }

  plan({ target }: ActionContext): ActionPlan {
    const grace = this.config.gracePeriodSeconds;
    return {
      target: { gracePeriodSeconds: grace },
      detail: `delete pod ${target.namespace}/${target.name} with a grace period of ${String(grace)} s`,
    };
  }

  async run({ target }: ActionContext): Promise<ActionPlan | ActionRefusal> {
    if (this.api === undefined) return { refusal: REFUSAL.noApiServer, detail: 'no API server' };
    const deleted = await this.api.deletePod(
      target.namespace,
      target.name,
      target.uid,
      this.config.gracePeriodSeconds,
    );
    if (!deleted) return { refusal: REFUSAL.podGone, detail: 'the pod was gone before it could be deleted' };
    const grace = this.config.gracePeriodSeconds;
    return {
      target: { gracePeriodSeconds: grace },
      detail: `deleted pod ${target.namespace}/${target.name} with a grace period of ${String(grace)} s`,
    };
  }
}

function isCounted(kind: string): kind is CountedOwnerKind {
  return (COUNTED_OWNER_KINDS as readonly string[]).includes(kind);
}
