/**
 * What each attribution stage knows. Kept apart from the public event types: these are lookups, the
 * event's `container` and `pod` are built from them by the attributor.
 */

export const CONTAINER_RUNTIME = {
  containerd: 'containerd',
  crio: 'cri-o',
  docker: 'docker',
  podman: 'podman',
} as const;
export type ContainerRuntime = (typeof CONTAINER_RUNTIME)[keyof typeof CONTAINER_RUNTIME];

/** What /proc/<pid>/cgroup says about a process. */
export interface CgroupIdentity {
  /** 64 hex; absent for a host process. */
  containerId?: string;
  runtime?: ContainerRuntime;
  /** Kubernetes pod uid with dashes (the systemd driver writes underscores; they are turned back). */
  podUid?: string;
}

/** A process as seen by a /proc read or the pre-warm scan. */
export interface ProcessIdentity extends CgroupIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot. With the pid it names one process. */
  startTicks: number;
  /** Wall-clock start in ms since the epoch (boot time + startTicks / USER_HZ). */
  startedAtMs: number;
  ppid?: number;
}

export const PROCESS_LOOKUP = {
  /** /proc/<pid> read now, and the process started before the record's time. */
  live: 'live',
  /** From the cache: the process is gone (or its pid was reused after the record). */
  cached: 'cached',
  /** Gone and never seen. */
  unknown: 'unknown',
} as const;
export type ProcessLookup = (typeof PROCESS_LOOKUP)[keyof typeof PROCESS_LOOKUP];

export interface ProcessAttribution {
  lookup: ProcessLookup;
  identity?: ProcessIdentity;
}

/** Container metadata from the CRI runtime. */
export interface ContainerMetadata {
  id: string;
  name: string;
  image?: string;
  podSandboxId: string;
  podName?: string;
  podNamespace?: string;
  podUid?: string;
}

/** Pod metadata from the node-scoped informer. */
export interface PodMetadata {
  uid: string;
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  owner?: { kind: string; name: string };
  /** Pod IPs (v4 and v6) for responders. */
  ips?: string[];
  nodeName?: string;
  /** Set when the pod was deleted: kept until then + retention. */
  deletedAtMs?: number;
}
