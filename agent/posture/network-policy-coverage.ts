import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { selectorMatches } from '../kube-label-selector.js';
import type { NetworkPolicyCoverage } from './posture-types.js';

/**
 * The NetworkPolicies of a pod's namespace that select it, per direction, names sorted. A policy covers a
 * direction when its podSelector selects the pod and its policyTypes name the direction; absent or empty
 * policyTypes are read as the API server defaults them (SetDefaults_NetworkPolicy): Ingress always, Egress
 * only when the policy has egress rules. A covered direction may still allow everything (a rule with no
 * peers): coverage says the pod is isolated in that direction, not how tightly.
 *
 * Only networking.k8s.io/v1 NetworkPolicies count, and only if the cluster's CNI enforces them: CNI-specific
 * policies (CiliumNetworkPolicy, Calico's) and AdminNetworkPolicy are not read here. The caller passes the
 * policies of the pod's namespace (a NetworkPolicy selects pods in its own namespace only).
 */
export function networkPolicyCoverage(
  podLabels: Readonly<Record<string, string>>,
  namespacePolicies: readonly V1NetworkPolicy[],
): NetworkPolicyCoverage {
  const ingress: string[] = [];
  const egress: string[] = [];
  for (const policy of namespacePolicies) {
    if (!selectorMatches(policy.spec?.podSelector ?? {}, podLabels)) continue;
    const name = policy.metadata?.name ?? '?';
    const types = policyTypesOf(policy);
    if (types.includes('Ingress')) ingress.push(name);
    if (types.includes('Egress')) egress.push(name);
  }
  return { ingress: ingress.sort(), egress: egress.sort() };
}

/** spec.policyTypes, or what the API server stores when they were left out. */
function policyTypesOf(policy: V1NetworkPolicy): readonly string[] {
  const types = policy.spec?.policyTypes ?? [];
  if (types.length > 0) return types;
  return (policy.spec?.egress?.length ?? 0) > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}
