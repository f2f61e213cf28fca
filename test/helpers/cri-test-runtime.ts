import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CriTransport } from '../../agent/attribute/cri/cri-transport.js';

/**
 * Pods and containers on a (private) containerd, through the CRI as the kubelet would create them:
 * cgroupfs-style cgroup parents `/kubepods/<qos>/pod<uid>`, per-container seccomp profiles, pod or host
 * network. Everything it creates is remembered so that `removeAll` and the containerd helper's stop can
 * take it down again.
 */

const TEST_PROTO = fileURLToPath(new URL('./cri-test-api.proto', import.meta.url));
const CALL_TIMEOUT_MS = 30_000;

export const POD_NETWORK = { pod: 'pod', host: 'host' } as const;
export type PodNetwork = (typeof POD_NETWORK)[keyof typeof POD_NETWORK];

export interface RunPodOptions {
  name: string;
  namespace?: string;
  /** Default: a random UUID, like the API server's. */
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** `pod` (default): its own netns on the CNI bridge; `host`: containerd's network namespace. */
  network?: PodNetwork;
  /** The QoS level in the cgroup parent, as the kubelet's cgroupfs driver writes it. Default burstable. */
  qos?: 'burstable' | 'besteffort';
}

export interface TestPod {
  id: string;
  uid: string;
  name: string;
  namespace: string;
  network: PodNetwork;
  cgroupParent: string;
  logDirectory: string;
  /** Pod IPs from PodSandboxStatus (empty for host network). */
  ips: string[];
  /** Its network namespace (/var/run/netns/cni-…), for commands run inside it with nsenter --net. */
  netnsPath?: string;
  /** The PodSandboxConfig it was created with; CreateContainer needs it again. */
  config: Record<string, unknown>;
}

export interface CreateContainerOptions {
  name: string;
  /** argv of the container's process, e.g. ['/bin/sh', '-c', 'sleep 3600']. */
  command: string[];
  /** Default: the busybox image of the runtime (`defaultImage`). An image id (sha256:…) works too. */
  image?: string;
  /** Absolute path of a seccomp profile (containerd JSON format): profile type Localhost. */
  seccompProfilePath?: string;
  /** Without a profile path: RuntimeDefault or Unconfined (the default, as for a pod without one). */
  seccomp?: 'RuntimeDefault' | 'Unconfined';
  /** securityContext.readOnlyRootFilesystem: runc remounts the root read-only. */
  readonlyRootfs?: boolean;
  /** allowPrivilegeEscalation: false, as the kubelet passes it. */
  noNewPrivs?: boolean;
  /** securityContext.runAsUser. */
  runAsUser?: number;
  /** securityContext.capabilities, names as in a pod spec (`NET_BIND_SERVICE`, `ALL`). */
  capabilities?: { add?: string[]; drop?: string[] };
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  env?: Record<string, string>;
  /** Start it after creating it. Default true. */
  start?: boolean;
}

export interface TestContainer {
  id: string;
  name: string;
  podId: string;
  /** The file its stdout/stderr go to (CRI log format: `<time> stdout F <line>`). */
  logPath: string;
}

export interface ContainerStatusSummary {
  state: string;
  exitCode: number;
  reason: string;
}

export class CriTestRuntime {
  /** The image CreateContainer uses when none is given. */
  defaultImage: string;
  /** Uids of every pod this runtime created (their cgroups outlive the pod: the kubelet owns them). */
  readonly podUids = new Set<string>();
  /** Network namespaces of pod sandboxes (/var/run/netns/cni-…), to delete if containerd left them. */
  readonly sandboxNetns = new Set<string>();
  readonly runtime: CriTransport;
  readonly images: CriTransport;
  private readonly logRoot: string;

  constructor(socketPath: string, options: { logRoot: string; defaultImage: string }) {
    this.runtime = new CriTransport(socketPath, TEST_PROTO, 'runtime.v1.RuntimeService');
    this.images = new CriTransport(socketPath, TEST_PROTO, 'runtime.v1.ImageService');
    this.logRoot = options.logRoot;
    this.defaultImage = options.defaultImage;
  }

  async version(): Promise<Record<string, unknown>> {
    return asRecord(await this.call('Version', { version: 'v1' }));
  }

  /** Every image as `{ id, tags }`. */
  async listImages(): Promise<{ id: string; tags: string[] }[]> {
    const images = asRecord(await this.images.call('ListImages', {}, CALL_TIMEOUT_MS)).images;
    if (!Array.isArray(images)) return [];
    return images.map((image) => {
      const entry = asRecord(image);
      const tags = Array.isArray(entry.repoTags) ? entry.repoTags.filter((t) => typeof t === 'string') : [];
      return { id: str(entry, 'id'), tags };
    });
  }

  async runPod(options: RunPodOptions): Promise<TestPod> {
    const uid = options.uid ?? randomUUID();
    const namespace = options.namespace ?? 'default';
    const network = options.network ?? POD_NETWORK.pod;
    const cgroupParent = `/kubepods/${options.qos ?? 'burstable'}/pod${uid}`;
    const logDirectory = join(this.logRoot, `${namespace}_${options.name}_${uid}`);
    await mkdir(logDirectory, { recursive: true });
    const config = {
      metadata: { name: options.name, uid, namespace, attempt: 0 },
      // A host-network sandbox shares the UTS namespace with containerd: runc refuses to set a hostname.
      hostname: network === POD_NETWORK.host ? '' : options.name,
      logDirectory,
      labels: options.labels ?? {},
      annotations: options.annotations ?? {},
      linux: {
        cgroupParent,
        securityContext: { namespaceOptions: namespaceOptions(network) },
      },
    };
    this.podUids.add(uid);
    const id = str(
      asRecord(await this.call('RunPodSandbox', { config, runtimeHandler: '' })),
      'podSandboxId',
    );
    const verbose = asRecord(await this.call('PodSandboxStatus', { podSandboxId: id, verbose: true }));
    const netnsPath = this.rememberNetns(verbose);
    const status = asRecord(verbose.status);
    const networkStatus = asRecord(status.network);
    const ips = [str(networkStatus, 'ip')].filter((ip) => ip !== '');
    const pod: TestPod = {
      id,
      uid,
      name: options.name,
      namespace,
      network,
      cgroupParent,
      logDirectory,
      ips,
      config,
    };
    if (netnsPath !== undefined) pod.netnsPath = netnsPath;
    return pod;
  }

  async createContainer(pod: TestPod, options: CreateContainerOptions): Promise<TestContainer> {
    let seccomp: Record<string, string> | undefined;
    if (options.seccompProfilePath !== undefined) {
      seccomp = { profileType: 'Localhost', localhostRef: options.seccompProfilePath };
    } else if (options.seccomp !== undefined) {
      seccomp = { profileType: options.seccomp };
    }
    const logPath = `${options.name}.log`;
    const config = {
      metadata: { name: options.name, attempt: 0 },
      image: { image: options.image ?? this.defaultImage },
      command: options.command,
      envs: Object.entries(options.env ?? {}).map(([key, value]) => ({ key, value })),
      logPath,
      labels: options.labels ?? {},
      annotations: options.annotations ?? {},
      linux: {
        securityContext: {
          namespaceOptions: namespaceOptions(pod.network),
          ...(seccomp === undefined ? {} : { seccomp }),
          ...(options.readonlyRootfs === undefined ? {} : { readonlyRootfs: options.readonlyRootfs }),
          ...(options.noNewPrivs === undefined ? {} : { noNewPrivs: options.noNewPrivs }),
          ...(options.runAsUser === undefined ? {} : { runAsUser: { value: options.runAsUser } }),
          ...(options.capabilities === undefined
            ? {}
            : {
                capabilities: {
                  addCapabilities: options.capabilities.add ?? [],
                  dropCapabilities: options.capabilities.drop ?? [],
                },
              }),
        },
      },
    };
    const created = await this.call('CreateContainer', {
      podSandboxId: pod.id,
      config,
      sandboxConfig: pod.config,
    });
    const id = str(asRecord(created), 'containerId');
    if (options.start ?? true) await this.startContainer(id);
    return { id, name: options.name, podId: pod.id, logPath: join(pod.logDirectory, logPath) };
  }

  async startContainer(containerId: string): Promise<void> {
    await this.call('StartContainer', { containerId });
  }

  /** The container's main process as containerd reports it (verbose status), undefined once it exited. */
  async containerPid(containerId: string): Promise<number | undefined> {
    const response = asRecord(await this.call('ContainerStatus', { containerId, verbose: true }));
    const info = asRecord(response.info);
    const text = info.info;
    if (typeof text !== 'string') return undefined;
    const parsed: unknown = JSON.parse(text);
    const pid = asRecord(parsed).pid;
    return typeof pid === 'number' && pid > 0 ? pid : undefined;
  }

  async containerStatus(containerId: string): Promise<ContainerStatusSummary> {
    const status = asRecord(
      asRecord(await this.call('ContainerStatus', { containerId, verbose: false })).status,
    );
    const exitCode = status.exitCode;
    return {
      state: str(status, 'state'),
      exitCode: typeof exitCode === 'number' ? exitCode : 0,
      reason: str(status, 'reason'),
    };
  }

  /** Polls until the container exited (or the time is up: then it throws). */
  async waitForExit(containerId: string, timeoutMs = 20_000): Promise<ContainerStatusSummary> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.containerStatus(containerId);
      if (status.state === 'CONTAINER_EXITED') return status;
      if (Date.now() > deadline)
        throw new Error(`container ${containerId} still ${status.state} after ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  async readLog(container: TestContainer): Promise<string> {
    return readFile(container.logPath, 'utf8');
  }

  async stopContainer(containerId: string): Promise<void> {
    await this.call('StopContainer', { containerId, timeout: 0 });
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.call('RemoveContainer', { containerId });
  }

  async removePod(podId: string): Promise<void> {
    await this.call('StopPodSandbox', { podSandboxId: podId });
    await this.call('RemovePodSandbox', { podSandboxId: podId });
  }

  async listPodIds(): Promise<string[]> {
    const items = asRecord(await this.call('ListPodSandbox', {})).items;
    return Array.isArray(items) ? items.map((item) => str(asRecord(item), 'id')) : [];
  }

  async listContainerIds(): Promise<string[]> {
    const items = asRecord(await this.call('ListContainers', {})).containers;
    return Array.isArray(items) ? items.map((item) => str(asRecord(item), 'id')) : [];
  }

  /** Stops and removes every pod and container the runtime has (RemovePodSandbox takes its containers). */
  async removeAll(): Promise<void> {
    for (const id of await this.listPodIds()) await this.removePod(id);
    for (const id of await this.listContainerIds()) {
      await this.stopContainer(id);
      await this.removeContainer(id);
    }
  }

  close(): void {
    this.runtime.close();
    this.images.close();
  }

  private call(method: string, request: object): Promise<unknown> {
    return this.runtime.call(method, request, CALL_TIMEOUT_MS);
  }

  /** Notes the sandbox's own network namespace (to clean up) and returns its path. */
  private rememberNetns(verbose: Record<string, unknown>): string | undefined {
    const text = asRecord(verbose.info).info;
    if (typeof text !== 'string') return undefined;
    const spec = asRecord(asRecord(JSON.parse(text) as unknown).runtimeSpec);
    const namespaces = asRecord(spec.linux).namespaces;
    if (!Array.isArray(namespaces)) return undefined;
    let found: string | undefined;
    for (const ns of namespaces) {
      const entry = asRecord(ns);
      const path = str(entry, 'path');
      if (str(entry, 'type') === 'network' && path !== '') {
        this.sandboxNetns.add(path);
        found = path;
      }
    }
    return found;
  }
}

function namespaceOptions(network: PodNetwork): Record<string, string> {
  return { network: network === POD_NETWORK.host ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function str(obj: Record<string, unknown>, key: string): string {
  const value = obj[key];
  return typeof value === 'string' ? value : '';
}
