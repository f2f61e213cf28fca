import { V1LabelSelector, V1NetworkPolicy, V1NetworkPolicySpec, V1ObjectMeta } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import type { ResponseActionConfig } from '../../config/config-schema.js';
import { selectorMatches } from '../../kube-label-selector.js';
import { ACTION_TYPE, REFUSAL } from '../action-event.js';
import { KubeResponseError, type KubeResponderApi } from '../kube-responder-api.js';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  QUARANTINE_LABEL,
  type ActionContext,
  type ActionPlan,
  type ActionRefusal,
  type PreparedAction,
} from './response-action.js';

type NetpolQuarantineConfig = Extract<ResponseActionConfig, { type: 'netpol_quarantine' }>;

/** Annotations on kernwatch's NetworkPolicies (annotations: a node name can be longer than a label value). */
export const NETPOL_ANNOTATION = {
  pod: 'kernwatch.io/pod',
  podUid: 'kernwatch.io/pod-uid',
  rule: 'kernwatch.io/rule',
  node: 'kernwatch.io/node',
  expiresAt: 'kernwatch.io/expires-at',
} as const;

/** One policy per pod, named after its uid: the name tells which pod it isolates, and never collides. */
export function quarantinePolicyName(podUid: string): string {
  return `kernwatch-quarantine-${podUid}`;
}

/** Label of kernwatch's policies naming the node that made them, so each agent lists only its own. */
export const NODE_LABEL = 'kernwatch.io/node';

/**
 * The node name as a label value: itself when it is one (at most 63 characters, alphanumerics with
 * `-_.` inside), else a digest of it (node names may be 253-character DNS names).
 */
export function nodeLabelValue(node: string): string {
  if (/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(node)) return node;
  return `sha256-${createHash('sha256').update(node).digest('hex').slice(0, 40)}`;
}

/**
 * Isolates exactly the offending pod with a deny-all NetworkPolicy (Ingress and Egress, no rules) that
 * selects it by a label only this action sets (`kernwatch.io/quarantine=<pod uid>`): other replicas of
 * the workload keep serving. The policy is created before the label, so the pod is isolated the moment
 * it matches. Enforcement is the CNI's; a host-network pod is outside every NetworkPolicy and refused.
 */
export class NetpolQuarantineAction implements PreparedAction {
  readonly type = ACTION_TYPE.netpolQuarantine;

  constructor(
    private readonly config: NetpolQuarantineConfig,
    private readonly api: KubeResponderApi | undefined,
    private readonly node: string,
  ) {}

  async check({ target }: ActionContext): Promise<ActionRefusal | undefined> {
    if (this.api === undefined) {
      return { refusal: REFUSAL.noApiServer, detail: 'a NetworkPolicy needs the API server' };
    }
    if (target.hostNetwork) {
      return { refusal: REFUSAL.hostNetwork, detail: 'NetworkPolicies do not apply to host-network pods' };
    }
    if (target.labels[QUARANTINE_LABEL] === target.uid) {
      const existing = await this.api.getNetworkPolicy(target.namespace, quarantinePolicyName(target.uid));
      if (existing !== undefined) {
        return { refusal: REFUSAL.alreadyDone, detail: 'the pod is already isolated by its NetworkPolicy' };
      }
    }
    return undefined;
  }

  plan({ target, nowMs }: ActionContext): ActionPlan {
    const name = quarantinePolicyName(target.uid);
    const ttl = this.config.ttl;
    return {
      target: {
        networkPolicy: name,
        labels: { [QUARANTINE_LABEL]: target.uid },
        ...(ttl === undefined ? {} : { expiresAt: new Date(nowMs + ttl).toISOString() }),
      },
      detail: `isolate pod ${target.namespace}/${target.name} with NetworkPolicy ${name}${ttl === undefined ? '' : ` for ${String(Math.ceil(ttl / 1000))} s`}`,
    };
  }

  async run(ctx: ActionContext): Promise<ActionPlan | ActionRefusal> {
    const api = this.api;
    if (api === undefined) return { refusal: REFUSAL.noApiServer, detail: 'no API server' };
    const { target, firing } = ctx;
    const plan = this.plan(ctx);
    const name = plan.target.networkPolicy ?? quarantinePolicyName(target.uid);
    const annotations: Record<string, string> = {
      [NETPOL_ANNOTATION.pod]: `${target.namespace}/${target.name}`,
      [NETPOL_ANNOTATION.podUid]: target.uid,
      [NETPOL_ANNOTATION.rule]: firing.rule.name,
      [NETPOL_ANNOTATION.node]: this.node,
    };
    if (plan.target.expiresAt !== undefined) annotations[NETPOL_ANNOTATION.expiresAt] = plan.target.expiresAt;
    const policy = Object.assign(new V1NetworkPolicy(), {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: Object.assign(new V1ObjectMeta(), {
        name,
        namespace: target.namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [NODE_LABEL]: nodeLabelValue(this.node) },
        annotations,
      }),
      spec: Object.assign(new V1NetworkPolicySpec(), {
        podSelector: Object.assign(new V1LabelSelector(), {
          matchLabels: { [QUARANTINE_LABEL]: target.uid },
        }),
        policyTypes: ['Ingress', 'Egress'],
      }),
    });
    try {
      await api.createNetworkPolicy(target.namespace, policy);
    } catch (err) {
      // Left by an earlier attempt whose label patch failed: the policy is what we want, go on to the label.
      if (!(err instanceof KubeResponseError && err.status === 409)) throw err;
    }
    const labelled = await api.patchPodLabels(target.namespace, target.name, target.uid, {
      [QUARANTINE_LABEL]: target.uid,
    });
    if (labelled === undefined) {
      await api.deleteNetworkPolicy(target.namespace, name).catch(() => undefined);
      return { refusal: REFUSAL.podGone, detail: 'the pod was gone before it could be labelled' };
    }
    const others = await this.allowingPolicies(target.namespace, name, {
      ...target.labels,
      [QUARANTINE_LABEL]: target.uid,
    });
    // NetworkPolicies only ever add allowed traffic: another policy selecting the pod keeps its traffic.
    const partial =
      others.length === 0
        ? ''
        : `; NetworkPolicies ${others.join(', ')} also select the pod and allow some traffic, which stays allowed`;
    return { target: plan.target, detail: `isolated${plan.detail.slice('isolate'.length)}${partial}` };
  }

  /** Other policies of the namespace that select these labels and allow anything (rules in a direction). */
  private async allowingPolicies(
    namespace: string,
    own: string,
    labels: Record<string, string>,
  ): Promise<string[]> {
    const api = this.api;
    if (api === undefined) return [];
    const policies = await api.listNamespaceNetworkPolicies(namespace).catch(() => []);
    return policies
      .filter((p) => p.metadata?.name !== own)
      .filter((p) => selectorMatches(p.spec?.podSelector ?? {}, labels))
      .filter((p) => (p.spec?.ingress?.length ?? 0) > 0 || (p.spec?.egress?.length ?? 0) > 0)
      .map((p) => p.metadata?.name ?? '?');
  }
}
