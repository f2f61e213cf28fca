import { fileURLToPath } from 'node:url';
import {
  CRI_CONTAINER_STATE,
  parseContainerInfoResponse,
  parseContainerStatusResponse,
  parseListContainersResponse,
  parseListPodSandboxResponse,
  parsePodSandboxStatusResponse,
  parseVersionResponse,
  type CriContainer,
  type CriContainerInfo,
  type CriContainerState,
  type CriContainerStatus,
  type CriPodSandbox,
  type CriPodSandboxStatus,
  type CriVersion,
  type OciSeccompSummary,
  type OciSummary,
} from './cri-messages.js';
import { CriTransport } from './cri-transport.js';

export { CriCallError } from './cri-transport.js';
export { CRI_CONTAINER_STATE };
export type {
  CriContainer,
  CriContainerInfo,
  CriContainerState,
  CriContainerStatus,
  CriPodSandbox,
  CriPodSandboxStatus,
  CriVersion,
  OciSeccompSummary,
  OciSummary,
};

/** Next to this module in the source tree and in dist/ (scripts/copy-build-assets.mjs copies it). */
const CRI_PROTO_PATH = fileURLToPath(new URL('./cri-api.proto', import.meta.url));
const RUNTIME_SERVICE = 'runtime.v1.RuntimeService';

export interface CriClientOptions {
  /** The runtime's unix socket, e.g. /run/containerd/containerd.sock. */
  socketPath: string;
  /** Deadline of each call. The runtime is local: seconds mean it is stuck, not slow. Default 2000. */
  callTimeoutMs?: number;
}

export interface ListContainersFilter {
  id?: string;
  podSandboxId?: string;
  state?: CriContainerState;
}

/**
 * Read-only CRI RuntimeService client: the calls attribution, responses and posture need. Every failure
 * rejects with a CriCallError (a KernwatchError with code `attribution`, the gRPC status and the original
 * error as cause).
 */
export class CriClient {
  readonly socketPath: string;
  private readonly transport: CriTransport;
  private readonly callTimeoutMs: number;

  constructor(options: CriClientOptions) {
    this.socketPath = options.socketPath;
    this.callTimeoutMs = options.callTimeoutMs ?? 2000;
    this.transport = new CriTransport(options.socketPath, CRI_PROTO_PATH, RUNTIME_SERVICE);
  }

  async version(): Promise<CriVersion> {
    return parseVersionResponse(await this.transport.call('Version', { version: 'v1' }, this.callTimeoutMs));
  }

  /** `{ state: CRI_CONTAINER_STATE.running }`: only containers with a live main process (posture's list). */
  async listContainers(filter: ListContainersFilter = {}): Promise<CriContainer[]> {
    const request =
      filter.id === undefined && filter.podSandboxId === undefined && filter.state === undefined
        ? {}
        : {
            filter: {
              id: filter.id ?? '',
              podSandboxId: filter.podSandboxId ?? '',
              ...(filter.state === undefined ? {} : { state: { state: filter.state } }),
            },
          };
    return parseListContainersResponse(
      await this.transport.call('ListContainers', request, this.callTimeoutMs),
    );
  }

  async containerStatus(containerId: string): Promise<CriContainerStatus> {
    const raw = await this.transport.call(
      'ContainerStatus',
      { containerId, verbose: false },
      this.callTimeoutMs,
    );
    return parseContainerStatusResponse(raw);
  }

  /**
   * The runtime's verbose view of a container: its main pid and what its OCI spec tells runc to enforce
   * (seccomp, no_new_privs, read-only root, capabilities, MAC profile). Costs the runtime more than
   * containerStatus (it serialises the whole spec): call it once per container per posture run.
   */
  async containerInfo(containerId: string): Promise<CriContainerInfo> {
    const raw = await this.transport.call(
      'ContainerStatus',
      { containerId, verbose: true },
      this.callTimeoutMs,
    );
    return parseContainerInfoResponse(raw);
  }

  async podSandboxStatus(podSandboxId: string): Promise<CriPodSandboxStatus> {
    const raw = await this.transport.call(
      'PodSandboxStatus',
      { podSandboxId, verbose: false },
      this.callTimeoutMs,
    );
    return parsePodSandboxStatusResponse(raw);
  }

  /** The sandboxes the runtime holds; `readyOnly`: only those whose pod is running (its network set up). */
  async listPodSandbox(readyOnly = false): Promise<CriPodSandbox[]> {
    const request = readyOnly ? { filter: { state: { state: 'SANDBOX_READY' } } } : {};
    return parseListPodSandboxResponse(
      await this.transport.call('ListPodSandbox', request, this.callTimeoutMs),
    );
  }

  close(): void {
    this.transport.close();
  }
}
