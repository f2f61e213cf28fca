import type { V1Pod } from '@kubernetes/client-node';
import type { CriClient } from '../attribute/cri/cri-client.js';
import type { KernwatchEvent, PodRef } from '../events.js';
import type { KubeResponderApi } from './kube-responder-api.js';

/** The pod a response acts on, read fresh when the response is decided (never from the event alone). */
export interface TargetPod {
  uid: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The managing controller (the owner reference with controller=true). */
  owner?: { kind: string; name: string };
  /** Pod addresses, v4 and v6, primary first. Empty for a host-network pod. */
  ips: string[];
  hostNetwork: boolean;
  /** The API server has a deletionTimestamp on it: it is already going. */
  deleting: boolean;
  /** Its Ready condition is True (it counts among its owner's ready replicas). */
  ready: boolean;
  /** Where it was read: the API server knows owners and readiness, the runtime only identity and addresses. */
  from: TargetSource;
}

export const TARGET_SOURCE = { api: 'api', cri: 'cri' } as const;
export type TargetSource = (typeof TARGET_SOURCE)[keyof typeof TARGET_SOURCE];

export const TARGET_LOOKUP = {
  found: 'found',
  /** No pod with the event's uid exists any more (deleted, or its name now belongs to a new pod). */
  gone: 'gone',
  /** Neither the API server nor the runtime can tell what the pod is now. */
  unreadable: 'unreadable',
} as const;

export type TargetLookup =
  | { result: typeof TARGET_LOOKUP.found; pod: TargetPod }
  | { result: typeof TARGET_LOOKUP.gone | typeof TARGET_LOOKUP.unreadable; detail: string };

export interface PodTargetsOptions {
  api?: KubeResponderApi;
  cri?: CriClient;
  /** The sandbox a container runs in, from the attribution's CRI directory. */
  sandboxOf?: (containerId: string) => Promise<string | undefined>;
}

/**
 * Reads the target pod: from the API server when there is one (annotations, owner, readiness, addresses),
 * else from the runtime's PodSandboxStatus (identity, annotations and addresses; the kubelet copies the
 * pod's annotations onto the sandbox). The event's pod uid must match: a name alone may already belong
 * to a replacement pod.
 */
export class PodTargets {
  constructor(private readonly o: PodTargetsOptions) {}

  get hasApi(): boolean {
    return this.o.api !== undefined;
  }

  /**
   * The pod as it is now. An API server that does not answer falls back to the runtime: the node-local
   * action (nft) can still act on what the runtime knows, while API actions then fail on their own calls.
   */
  async lookup(pod: PodRef, event: KernwatchEvent): Promise<TargetLookup> {
    if (this.o.api !== undefined) {
      let found: V1Pod | undefined;
      try {
        found = await this.o.api.getPod(pod.namespace, pod.name);
      } catch (err) {
        if (this.o.cri === undefined) throw err;
        return this.fromRuntime(pod, event);
      }
      if (found === undefined) return gone(`pod ${pod.namespace}/${pod.name} no longer exists`);
      if (found.metadata?.uid !== pod.uid) {
        return gone(
          `pod ${pod.namespace}/${pod.name} is now another pod (uid ${found.metadata?.uid ?? '?'}, not ${pod.uid})`,
        );
      }
      return { result: TARGET_LOOKUP.found, pod: fromApi(found, pod) };
    }
    return this.fromRuntime(pod, event);
  }

  private async fromRuntime(pod: PodRef, event: KernwatchEvent): Promise<TargetLookup> {
    const containerId = event.container?.id;
    const sandboxId = containerId === undefined ? undefined : await this.o.sandboxOf?.(containerId);
    if (this.o.cri === undefined || sandboxId === undefined) {
      return {
        result: TARGET_LOOKUP.unreadable,
        detail: `neither the API server nor the runtime can tell what pod ${pod.namespace}/${pod.name} is now`,
      };
    }
    const sandbox = await this.o.cri.podSandboxStatus(sandboxId);
    if (sandbox.uid !== pod.uid) return gone(`sandbox ${sandboxId} belongs to another pod`);
    return {
      result: TARGET_LOOKUP.found,
      pod: {
        uid: pod.uid,
        name: pod.name,
        namespace: pod.namespace,
        labels: sandbox.labels,
        annotations: sandbox.annotations,
        ips: sandbox.ips,
        hostNetwork: sandbox.hostNetwork,
        deleting: !sandbox.ready,
        ready: sandbox.ready,
        from: TARGET_SOURCE.cri,
      },
    };
  }
}

function gone(detail: string): TargetLookup {
  return { result: TARGET_LOOKUP.gone, detail };
}

function fromApi(pod: V1Pod, ref: PodRef): TargetPod {
  const controller = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
  const ips: string[] = [];
  for (const entry of pod.status?.podIPs ?? [])
    if (entry.ip !== '' && !ips.includes(entry.ip)) ips.push(entry.ip);
  const primary = pod.status?.podIP;
  if (primary !== undefined && primary !== '' && !ips.includes(primary)) ips.unshift(primary);
  const target: TargetPod = {
    uid: ref.uid,
    name: ref.name,
    namespace: ref.namespace,
    labels: pod.metadata?.labels ?? {},
    annotations: pod.metadata?.annotations ?? {},
    ips,
    hostNetwork: pod.spec?.hostNetwork === true,
    deleting: pod.metadata?.deletionTimestamp !== undefined,
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
    from: TARGET_SOURCE.api,
  };
  if (controller !== undefined) target.owner = { kind: controller.kind, name: controller.name };
  return target;
}
