import type { AgentConfig } from '../config/config-schema.js';

/**
 * The API verbs kernwatch uses, derived from the config: what attribution, the Events reporter and each
 * configured response action call (docs/responses.md, "Permissions the responses need"). Checked as the
 * cluster-wide access a ClusterRole grants (SelfSubjectAccessReview without a namespace).
 */

export interface AccessNeed {
  verb: string;
  /** '' for the core group. */
  group: string;
  resource: string;
  /** The features that call it, e.g. ['attribution'] or ['delete_pod', 'label']. */
  usedBy: string[];
  /**
   * Called only by responses that change something, which run only with responses.enabled: denied
   * while responses are in dry-run is a warn, not a fail.
   */
  liveOnly: boolean;
}

type NeedInput = Omit<AccessNeed, 'usedBy'> & { usedBy: string };

export function accessNeeds(config: Pick<AgentConfig, 'kubernetes' | 'responses' | 'posture'>): AccessNeed[] {
  const needs: NeedInput[] = [
    // The node-scoped informer: list + watch with fieldSelector spec.nodeName (RBAC sees list/watch pods).
    { verb: 'list', group: '', resource: 'pods', usedBy: 'attribution', liveOnly: false },
    { verb: 'watch', group: '', resource: 'pods', usedBy: 'attribution', liveOnly: false },
  ];
  if (config.kubernetes.events.enabled) {
    needs.push(
      {
        verb: 'create',
        group: 'events.k8s.io',
        resource: 'events',
        usedBy: 'Kubernetes Events',
        liveOnly: false,
      },
      {
        verb: 'patch',
        group: 'events.k8s.io',
        resource: 'events',
        usedBy: 'Kubernetes Events',
        liveOnly: false,
      },
    );
  }
  if (config.posture.enabled) {
    // Posture's network_policy check lists the policies of each namespace with pods on the node.
    needs.push({
      verb: 'list',
      group: 'networking.k8s.io',
      resource: 'networkpolicies',
      usedBy: 'posture',
      liveOnly: false,
    });
  }
  const rules = config.responses.rules;
  if (rules.length > 0) {
    // Every response reads its target pod first, in dry-run too.
    needs.push({ verb: 'get', group: '', resource: 'pods', usedBy: 'responses', liveOnly: false });
  }
  const actions = new Set(rules.flatMap((r) => r.actions.map((a) => a.type)));
  if (actions.has('delete_pod')) {
    needs.push(
      { verb: 'delete', group: '', resource: 'pods', usedBy: 'delete_pod', liveOnly: true },
      // Owner replicas are counted before deciding, in dry-run too.
      { verb: 'get', group: 'apps', resource: 'replicasets', usedBy: 'delete_pod', liveOnly: false },
      { verb: 'get', group: 'apps', resource: 'statefulsets', usedBy: 'delete_pod', liveOnly: false },
      { verb: 'get', group: '', resource: 'replicationcontrollers', usedBy: 'delete_pod', liveOnly: false },
    );
  }
  if (actions.has('label')) {
    needs.push({ verb: 'patch', group: '', resource: 'pods', usedBy: 'label', liveOnly: true });
  }
  if (actions.has('netpol_quarantine')) {
    const g = 'networking.k8s.io';
    needs.push(
      { verb: 'get', group: g, resource: 'networkpolicies', usedBy: 'netpol_quarantine', liveOnly: false },
      // The reconcile loop lists (and expires) quarantine policies in dry-run too.
      { verb: 'list', group: g, resource: 'networkpolicies', usedBy: 'netpol_quarantine', liveOnly: false },
      { verb: 'create', group: g, resource: 'networkpolicies', usedBy: 'netpol_quarantine', liveOnly: true },
      { verb: 'delete', group: g, resource: 'networkpolicies', usedBy: 'netpol_quarantine', liveOnly: true },
      { verb: 'patch', group: '', resource: 'pods', usedBy: 'netpol_quarantine', liveOnly: true },
    );
  }
  if (actions.has('k8s_event')) {
    needs.push({
      verb: 'create',
      group: 'events.k8s.io',
      resource: 'events',
      usedBy: 'k8s_event',
      liveOnly: true,
    });
  }
  return merge(needs);
}

function merge(inputs: readonly NeedInput[]): AccessNeed[] {
  const out: AccessNeed[] = [];
  for (const n of inputs) {
    const same = out.find((o) => o.verb === n.verb && o.group === n.group && o.resource === n.resource);
    if (same === undefined) {
      out.push({ ...n, usedBy: [n.usedBy] });
    } else {
      if (!same.usedBy.includes(n.usedBy)) same.usedBy.push(n.usedBy);
      same.liveOnly &&= n.liveOnly;
    }
  }
  return out;
}

/** `list pods`, `create events.k8s.io/events`. */
export function describeNeed(n: Pick<AccessNeed, 'verb' | 'group' | 'resource'>): string {
  return `${n.verb} ${n.group === '' ? '' : `${n.group}/`}${n.resource}`;
}

/** The ClusterRole rules that would grant these: `pods: get, list; events.k8s.io/events: create`. */
export function describeGrant(needs: readonly Pick<AccessNeed, 'verb' | 'group' | 'resource'>[]): string {
  const byResource = new Map<string, string[]>();
  for (const n of needs) {
    const key = `${n.group === '' ? '' : `${n.group}/`}${n.resource}`;
    const verbs = byResource.get(key) ?? [];
    if (!verbs.includes(n.verb)) verbs.push(n.verb);
    byResource.set(key, verbs);
  }
  return [...byResource].map(([resource, verbs]) => `${resource}: ${verbs.join(', ')}`).join('; ');
}
