import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  EventsV1Api,
  NetworkingV1Api,
  PatchStrategy,
  type EventsV1Event,
  type KubeConfig,
  V1DeleteOptions,
  V1Preconditions,
  type V1NetworkPolicy,
  type V1Pod,
} from '@kubernetes/client-node';
import { ERROR_CODES, KernwatchError } from '../errors.js';
import { withKubeDeadline, type kubeRequestOptions } from '../kube-request-options.js';

/** An API call of a response that did not succeed, with the HTTP status when the server answered. */
export class KubeResponseError extends KernwatchError {
  readonly status: number | undefined;

  constructor(message: string, status: number | undefined, options?: { cause?: unknown }) {
    super(ERROR_CODES.response, message, options);
    this.status = status;
  }
}

/** What an owner's status says about its replicas. */
export interface OwnerReplicas {
  desired: number;
  ready: number;
}

/** Owner kinds whose status counts ready replicas, by the API group/version they are read from. */
export const COUNTED_OWNER_KINDS = ['ReplicaSet', 'StatefulSet', 'ReplicationController'] as const;
export type CountedOwnerKind = (typeof COUNTED_OWNER_KINDS)[number];

const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/**
 * The API calls responses make, through client-node, each with a deadline. A response is rare (the
 * node budget allows a few per minute), so there is no batching here: one call per step, and every
 * failure is a KubeResponseError naming the call and the server's message.
 */
export class KubeResponderApi {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly networking: NetworkingV1Api;
  private readonly events: EventsV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.networking = kubeConfig.makeApiClient(NetworkingV1Api);
    this.events = kubeConfig.makeApiClient(EventsV1Api);
  }

  /** The pod as the API server has it now, or undefined when it does not exist. */
  async getPod(namespace: string, name: string): Promise<V1Pod | undefined> {
    return this.call(`get pod ${namespace}/${name}`, true, (options) =>
      this.core.readNamespacedPod({ name, namespace }, options),
    );
  }

  /**
   * Deletes exactly the pod with this uid (a precondition: a pod recreated under the same name, as a
   * StatefulSet does, is not touched). False when that pod no longer exists.
   */
  async deletePod(
    namespace: string,
    name: string,
    uid: string,
    gracePeriodSeconds: number,
  ): Promise<boolean> {
    try {
      const deleted = await this.call(`delete pod ${namespace}/${name}`, true, (options) =>
        this.core.deleteNamespacedPod(
          {
            name,
            namespace,
            body: Object.assign(new V1DeleteOptions(), {
              gracePeriodSeconds,
              preconditions: Object.assign(new V1Preconditions(), { uid }),
            }),
          },
          options,
        ),
      );
      return deleted !== undefined;
    } catch (err) {
      if (err instanceof KubeResponseError && err.status === 409) return false;
      throw err;
    }
  }

  /**
   * Merge-patches the pod's labels (null removes one); the uid in the patch is a precondition. Undefined
   * when that pod no longer exists.
   */
  async patchPodLabels(
    namespace: string,
    name: string,
    uid: string,
    labels: Record<string, string | null>,
  ): Promise<V1Pod | undefined> {
    try {
      return await this.call(
        `label pod ${namespace}/${name}`,
        true,
        (options) =>
          this.core.patchNamespacedPod({ name, namespace, body: { metadata: { uid, labels } } }, options),
        PatchStrategy.MergePatch,
      );
    } catch (err) {
      // 409: the uid precondition failed, the name belongs to another pod now.
      if (err instanceof KubeResponseError && err.status === 409) return undefined;
      throw err;
    }
  }

  /** An owner's desired and ready replicas, or undefined when the owner does not exist. */
  async ownerReplicas(
    kind: CountedOwnerKind,
    namespace: string,
    name: string,
  ): Promise<OwnerReplicas | undefined> {
    const what = `get ${kind} ${namespace}/${name}`;
    switch (kind) {
      case 'ReplicaSet': {
        const rs = await this.call(what, true, (o) =>
          this.apps.readNamespacedReplicaSet({ name, namespace }, o),
        );
        return rs === undefined
          ? undefined
          : { desired: rs.spec?.replicas ?? 1, ready: rs.status?.readyReplicas ?? 0 };
      }
      case 'StatefulSet': {
        const sts = await this.call(what, true, (o) =>
          this.apps.readNamespacedStatefulSet({ name, namespace }, o),
        );
        return sts === undefined
          ? undefined
          : { desired: sts.spec?.replicas ?? 1, ready: sts.status?.readyReplicas ?? 0 };
      }
      case 'ReplicationController': {
        const rc = await this.call(what, true, (o) =>
          this.core.readNamespacedReplicationController({ name, namespace }, o),
        );
        return rc === undefined
          ? undefined
          : { desired: rc.spec?.replicas ?? 1, ready: rc.status?.readyReplicas ?? 0 };
      }
    }
  }

  async getNetworkPolicy(namespace: string, name: string): Promise<V1NetworkPolicy | undefined> {
    return this.call(`get NetworkPolicy ${namespace}/${name}`, true, (options) =>
      this.networking.readNamespacedNetworkPolicy({ name, namespace }, options),
    );
  }

  async createNetworkPolicy(namespace: string, body: V1NetworkPolicy): Promise<void> {
    await this.call(`create NetworkPolicy ${namespace}/${body.metadata?.name ?? ''}`, false, (options) =>
      this.networking.createNamespacedNetworkPolicy({ namespace, body }, options),
    );
  }

  /** False when it did not exist. */
  async deleteNetworkPolicy(namespace: string, name: string): Promise<boolean> {
    const deleted = await this.call(`delete NetworkPolicy ${namespace}/${name}`, true, (options) =>
      this.networking.deleteNamespacedNetworkPolicy({ name, namespace }, options),
    );
    return deleted !== undefined;
  }

  async listNamespaceNetworkPolicies(namespace: string): Promise<V1NetworkPolicy[]> {
    const list = await this.call(`list NetworkPolicies in ${namespace}`, false, (options) =>
      this.networking.listNamespacedNetworkPolicy({ namespace }, options),
    );
    return list?.items ?? [];
  }

  async listNetworkPolicies(labelSelector: string): Promise<V1NetworkPolicy[]> {
    const list = await this.call('list NetworkPolicies', false, (options) =>
      this.networking.listNetworkPolicyForAllNamespaces({ labelSelector }, options),
    );
    return list?.items ?? [];
  }

  async createEvent(namespace: string, body: EventsV1Event): Promise<void> {
    await this.call(`create Event in ${namespace}`, false, (options) =>
      this.events.createNamespacedEvent({ namespace, body }, options),
    );
  }

  /**
   * Runs one call under the deadline. With `notFoundIsUndefined`, a 404 answers undefined (the object is
   * gone, which callers treat as a fact, not a failure).
   */
  private async call<T>(
    what: string,
    notFoundIsUndefined: boolean,
    run: (options: ReturnType<typeof kubeRequestOptions>) => Promise<T>,
    contentType?: string,
  ): Promise<T | undefined> {
    try {
      return await withKubeDeadline(this.callTimeoutMs, run, contentType);
    } catch (err) {
      if (err instanceof ApiException) {
        const status: number = err.code;
        if (status === 404 && notFoundIsUndefined) return undefined;
        throw new KubeResponseError(`Cannot ${what}: ${status} ${statusMessage(err.body)}`, status, {
          cause: err,
        });
      }
      const reason = err instanceof Error ? err.message : String(err);
      throw new KubeResponseError(`Cannot ${what}: ${reason}`, undefined, { cause: err });
    }
  }
}

/** The message of a Status body (client-node hands it over as text or parsed). */
function statusMessage(body: unknown): string {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return body.slice(0, 200);
    }
  }
  if (typeof value === 'object' && value !== null && 'message' in value) {
    const message = value.message;
    if (typeof message === 'string') return message;
  }
  return '';
}
