import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { MANAGED_BY, MANAGED_BY_LABEL, QUARANTINE_LABEL } from './actions/response-action.js';
import { NETPOL_ANNOTATION, NODE_LABEL, nodeLabelValue } from './actions/netpol-quarantine.js';
import type { KubeResponderApi } from './kube-responder-api.js';

/** A pod isolated by a kernwatch NetworkPolicy, as read back from the API server. */
export interface NetpolQuarantine {
  namespace: string;
  policy: string;
  pod: { name: string; uid: string };
  rule?: string;
  node?: string;
  /** ms since the epoch; absent: until released by hand. */
  expiresAtMs?: number;
}

/**
 * The NetworkPolicy quarantines kernwatch created: found by their managed-by label, described by their
 * annotations. Release deletes the policy and takes the quarantine label off the pod (a pod that is gone
 * needs nothing). Each agent expires only the quarantines its node created; `kernwatch quarantine
 * release` may release any.
 */
export class NetpolQuarantines {
  constructor(private readonly api: KubeResponderApi) {}

  /** Every kernwatch quarantine policy, or only those one node made (filtered by the API server). */
  async list(node?: string): Promise<NetpolQuarantine[]> {
    const selector =
      `${MANAGED_BY_LABEL}=${MANAGED_BY}` +
      (node === undefined ? '' : `,${NODE_LABEL}=${nodeLabelValue(node)}`);
    const policies = await this.api.listNetworkPolicies(selector);
    const out: NetpolQuarantine[] = [];
    for (const p of policies) {
      const q = quarantineOf(p);
      if (q !== undefined) out.push(q);
    }
    return out;
  }

  async release(q: NetpolQuarantine): Promise<void> {
    await this.api.deleteNetworkPolicy(q.namespace, q.policy);
    await this.api.patchPodLabels(q.namespace, q.pod.name, q.pod.uid, { [QUARANTINE_LABEL]: null });
  }

  /** Releases this node's quarantines whose time is up; those released. */
  async expire(node: string, nowMs: number): Promise<NetpolQuarantine[]> {
    const due = (await this.list(node)).filter(
      (q) => q.node === node && q.expiresAtMs !== undefined && q.expiresAtMs <= nowMs,
    );
    for (const q of due) await this.release(q);
    return due;
  }
}

function quarantineOf(p: V1NetworkPolicy): NetpolQuarantine | undefined {
  const namespace = p.metadata?.namespace;
  const policy = p.metadata?.name;
  const annotations = p.metadata?.annotations ?? {};
  const podRef = annotations[NETPOL_ANNOTATION.pod];
  const uid = annotations[NETPOL_ANNOTATION.podUid];
  if (namespace === undefined || policy === undefined || podRef === undefined || uid === undefined)
    return undefined;
  const slash = podRef.indexOf('/');
  const q: NetpolQuarantine = { namespace, policy, pod: { name: podRef.slice(slash + 1), uid } };
  const rule = annotations[NETPOL_ANNOTATION.rule];
  if (rule !== undefined) q.rule = rule;
  const node = annotations[NETPOL_ANNOTATION.node];
  if (node !== undefined) q.node = node;
  const expires = annotations[NETPOL_ANNOTATION.expiresAt];
  if (expires !== undefined) {
    const ms = Date.parse(expires);
    if (!Number.isNaN(ms)) q.expiresAtMs = ms;
  }
  return q;
}
