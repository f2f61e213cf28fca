import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  NetworkingV1Api,
  type KubeConfig,
  type V1NetworkPolicy,
  type V1Pod,
} from '@kubernetes/client-node';
import { CRI_CONTAINER_STATE, type CriClient } from '../attribute/cri/cri-client.js';
import type { CriContainerInfo } from '../attribute/cri/cri-messages.js';
import { cgroupIdentity } from '../attribute/proc/cgroup-identity.js';
import { withKubeDeadline, type kubeRequestOptions } from '../kube-request-options.js';
import type { Logger } from '../telemetry/logger.js';
import { CONFINEMENT_STATUS, readKernelConfinement } from './kernel-confinement.js';
import { readNodeLsm, SELINUX_MODE, type NodeLsm } from './lsm.js';
import { networkPolicyCoverage } from './network-policy-coverage.js';
import { readActionsLogged } from './seccomp-actions-logged.js';
import { postureChecks, type LsmState, type RuntimeSpecSummary } from './posture-checks.js';
import type { ContainerPosture, KernelConfinement, PostureReport } from './posture-types.js';
import { specIntentOf } from './spec-intent.js';

/** The kubelet's labels on every CRI container of a pod. */
const POD_NAME_LABEL = 'io.kubernetes.pod.name';
const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
const POD_UID_LABEL = 'io.kubernetes.pod.uid';
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
const API_TIMEOUT_MS = 10_000;

export interface PostureScanOptions {
  node: string;
  procRoot: string;
  sysRoot?: string;
  cri: CriClient;
  kubeConfig?: KubeConfig;
  log: Logger;
}

/**
 * One posture scan: every running container the runtime lists, its main process read from /proc (the
 * kernel's truth), its OCI spec as the runtime wrote it, and — with an API server — its pod's spec and
 * the NetworkPolicies of its namespace (one pod list for the node, one policy list per namespace: never
 * a call per container). A container whose process or pod cannot be read gets `unknown` checks, never a
 * pass and never a missing row.
 */
export async function scanPosture(o: PostureScanOptions): Promise<PostureReport> {
  const lsm = readNodeLsm(o.sysRoot);
  const lsmState = lsmStateOf(lsm);
  const actionsLogged = await readActionsLogged(o.procRoot);
  const containers = await o.cri.listContainers({ state: CRI_CONTAINER_STATE.running });
  // The sandbox is where the pod's identity lives (the kubelet's labels on containers are a copy of it).
  const sandboxes = new Map((await o.cri.listPodSandbox()).map((s) => [s.id, s]));
  const api = o.kubeConfig === undefined ? undefined : new PostureApi(o.kubeConfig, o.node, o.log);
  const pods = api === undefined ? undefined : await api.podsOnNode();
  const policies = new Map<string, Promise<V1NetworkPolicy[] | undefined>>();
  const out: ContainerPosture[] = [];
  for (const c of containers) {
    let info: CriContainerInfo | undefined;
    try {
      info = await o.cri.containerInfo(c.id);
    } catch (err) {
      o.log.debug({ err, container: c.id }, 'No runtime info for a container.');
    }
    const kernel = info?.pid === undefined ? undefined : kernelOf(o, info.pid, c.id, lsm);
    const sandbox = sandboxes.get(c.podSandboxId);
    const namespace = sandbox?.namespace || c.labels[POD_NAMESPACE_LABEL];
    const podName = sandbox?.name || c.labels[POD_NAME_LABEL];
    const podUid = sandbox?.uid || c.labels[POD_UID_LABEL];
    // A static pod's sandbox carries the kubelet's hash as uid; its mirror pod in the API names it in
    // the kubernetes.io/config.mirror annotation.
    const pod = pods?.find(
      (p) =>
        p.metadata?.name === podName &&
        (p.metadata?.uid === podUid || p.metadata?.annotations?.[MIRROR_ANNOTATION] === podUid),
    );
    const intent = pod === undefined ? undefined : specIntentOf(pod, c.name);
    let coverage;
    if (api !== undefined && pod !== undefined && namespace !== undefined) {
      let list = policies.get(namespace);
      if (list === undefined) {
        list = api.policiesIn(namespace);
        policies.set(namespace, list);
      }
      const inNamespace = await list;
      if (inNamespace !== undefined)
        coverage = networkPolicyCoverage(pod.metadata?.labels ?? {}, inNamespace);
    }
    const posture: ContainerPosture = {
      id: c.id,
      name: c.name,
      checks: postureChecks({
        kernel,
        runtime: runtimeOf(info),
        intent,
        coverage,
        lsm: lsmState,
        actionsLogged,
      }),
    };
    if (info?.pid !== undefined) posture.pid = info.pid;
    if (podName !== undefined && namespace !== undefined) posture.pod = { name: podName, namespace };
    out.push(posture);
  }
  // Plain code-unit order: the output must not depend on the machine's locale.
  out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return { node: o.node, containers: out };
}

function key(c: ContainerPosture): string {
  return `${c.pod?.namespace ?? ''}/${c.pod?.name ?? ''}/${c.name}/${c.id}`;
}

/**
 * The process's confinement, if that pid under procRoot is the container's: the runtime's pid is in its
 * own pid namespace, and a procRoot from another one (no hostPID, a wrong --proc-root) or a pid reused
 * since would describe some other process. Its cgroup must name the container.
 */
function kernelOf(
  o: PostureScanOptions,
  pid: number,
  containerId: string,
  lsm: NodeLsm,
): KernelConfinement | undefined {
  try {
    const cgroup = readFileSync(join(o.procRoot, String(pid), 'cgroup'), 'utf8');
    if (cgroupIdentity(cgroup).containerId !== containerId) {
      o.log.warn(
        { pid, container: containerId, procRoot: o.procRoot },
        'The runtime’s pid for a container is another process under procRoot (is procRoot the host’s /proc?).',
      );
      return undefined;
    }
  } catch (err) {
    o.log.debug({ err, pid }, 'Cannot read a container process’s cgroup.');
    return undefined;
  }
  try {
    const read = readKernelConfinement(o.procRoot, pid, lsm);
    return read.status === CONFINEMENT_STATUS.ok ? read.confinement : undefined;
  } catch (err) {
    o.log.debug({ err, pid }, 'Cannot read a container process.');
    return undefined;
  }
}

function runtimeOf(info: CriContainerInfo | undefined): RuntimeSpecSummary | undefined {
  const spec = info?.runtimeSpec;
  if (spec === undefined) return undefined;
  return {
    seccomp: spec.seccomp ?? null,
    noNewPrivileges: spec.noNewPrivileges,
    rootReadonly: spec.rootReadonly,
  };
}

function lsmStateOf(lsm: NodeLsm): LsmState {
  const state: LsmState = { active: lsm.active, apparmorEnabled: lsm.apparmor };
  if (lsm.selinux !== undefined) state.selinuxEnforcing = lsm.selinux === SELINUX_MODE.enforcing;
  return state;
}

/** The two lists a scan needs from the API server; a failure leaves those checks unknown, with a log. */
class PostureApi {
  private readonly core: CoreV1Api;
  private readonly networking: NetworkingV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly node: string,
    private readonly log: Logger,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.networking = kubeConfig.makeApiClient(NetworkingV1Api);
  }

  async podsOnNode(): Promise<V1Pod[] | undefined> {
    return this.call('list the pods of this node', async (options) => {
      const list = await this.core.listPodForAllNamespaces(
        { fieldSelector: `spec.nodeName=${this.node}` },
        options,
      );
      return list.items;
    });
  }

  async policiesIn(namespace: string): Promise<V1NetworkPolicy[] | undefined> {
    return this.call(`list the NetworkPolicies of ${namespace}`, async (options) => {
      const list = await this.networking.listNamespacedNetworkPolicy({ namespace }, options);
      return list.items;
    });
  }

  private async call<T>(
    what: string,
    run: (options: ReturnType<typeof kubeRequestOptions>) => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await withKubeDeadline(API_TIMEOUT_MS, run);
    } catch (err) {
      this.log.warn({ err }, `Cannot ${what}; the checks that need it are unknown.`);
      return undefined;
    }
  }
}
