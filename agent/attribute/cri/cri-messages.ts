import { KernwatchError, ERROR_CODES } from '../../errors.js';

/**
 * The CRI responses kernwatch reads, as typed values. proto-loader hands back plain objects (camelCase
 * fields, int64 as strings, enums by name, absent messages as null); these parsers check each field they
 * use instead of trusting a cast, so a runtime that omits one yields '' or undefined, never a crash.
 */

export const CRI_CONTAINER_STATE = {
  created: 'CONTAINER_CREATED',
  running: 'CONTAINER_RUNNING',
  exited: 'CONTAINER_EXITED',
  unknown: 'CONTAINER_UNKNOWN',
} as const;
export type CriContainerState = (typeof CRI_CONTAINER_STATE)[keyof typeof CRI_CONTAINER_STATE];

export interface CriVersion {
  /** The CRI version the runtime answered for ("0.1.0"). */
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

/** One entry of ListContainers. */
export interface CriContainer {
  id: string;
  podSandboxId: string;
  name: string;
  attempt: number;
  /**
   * What the creator asked for. The kubelet passes the image id it pulled, so on a Kubernetes node this
   * is usually `sha256:<64 hex>`, not a name (containerd 1.6 returns it unchanged).
   */
  image: string;
  imageRef: string;
  state: CriContainerState;
  /** Nanoseconds since the epoch, as a decimal string (int64). */
  createdAtNs: string;
  labels: Record<string, string>;
}

export interface CriContainerStatus {
  id: string;
  name: string;
  state: CriContainerState;
  /** containerd resolves the image to its first repo tag here (`localhost/busybox:1.35`) when it has one. */
  image: string;
  imageRef: string;
  exitCode: number;
  startedAtNs: string;
  finishedAtNs: string;
  reason: string;
  labels: Record<string, string>;
}

export interface CriPodSandboxStatus {
  id: string;
  name: string;
  uid: string;
  namespace: string;
  ready: boolean;
  /** Pod IPs, primary first; empty for host-network sandboxes. */
  ips: string[];
  /** Its network namespace is the node's (linux.namespaces.options.network = NODE). */
  hostNetwork: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** One entry of ListPodSandbox. */
export interface CriPodSandbox {
  id: string;
  name: string;
  uid: string;
  namespace: string;
  ready: boolean;
}

/** The OCI seccomp section of a container's runtime spec, reduced to what posture compares. */
export interface OciSeccompSummary {
  /** `SCMP_ACT_ERRNO` (RuntimeDefault), `SCMP_ACT_ALLOW` (a profile that only logs or kills some calls)… */
  defaultAction: string;
  /** The distinct actions of its syscall rules, in the order they first appear. */
  actions: string[];
  /** `SECCOMP_FILTER_FLAG_LOG`…; empty when none. */
  flags: string[];
}

/** What the runtime told runc to enforce: the OCI spec it wrote for the container, summarised. */
export interface OciSummary {
  /** Absent when the spec has no linux.seccomp: the container runs unconfined. */
  seccomp?: OciSeccompSummary;
  noNewPrivileges: boolean;
  rootReadonly: boolean;
  /** process.capabilities.effective as the spec lists them (`CAP_CHOWN`…). */
  effectiveCapabilities: string[];
  apparmorProfile?: string;
  selinuxLabel?: string;
}

/** ContainerStatus with verbose=true: the runtime's own view of a container. */
export interface CriContainerInfo {
  /** The main process in the runtime's pid namespace; absent when it is not running. */
  pid?: number;
  /** Absent when the runtime sent no spec (or none in a shape it could be read from). */
  runtimeSpec?: OciSummary;
}

export function parseVersionResponse(raw: unknown): CriVersion {
  const r = record(raw, 'Version');
  return {
    version: str(r, 'version'),
    runtimeName: str(r, 'runtimeName'),
    runtimeVersion: str(r, 'runtimeVersion'),
    runtimeApiVersion: str(r, 'runtimeApiVersion'),
  };
}

export function parseListContainersResponse(raw: unknown): CriContainer[] {
  const r = record(raw, 'ListContainers');
  const items = r.containers;
  if (!Array.isArray(items)) return [];
  const out: CriContainer[] = [];
  for (const item of items) {
    if (!isRecord(item) || str(item, 'id') === '') continue;
    const metadata = optionalRecord(item, 'metadata');
    const image = optionalRecord(item, 'image');
    out.push({
      id: str(item, 'id'),
      podSandboxId: str(item, 'podSandboxId'),
      name: metadata === undefined ? '' : str(metadata, 'name'),
      attempt: metadata === undefined ? 0 : num(metadata, 'attempt'),
      image: image === undefined ? '' : str(image, 'image'),
      imageRef: str(item, 'imageRef'),
      state: containerState(item.state),
      createdAtNs: int64(item, 'createdAt'),
      labels: stringMap(item, 'labels'),
    });
  }
  return out;
}

export function parseContainerStatusResponse(raw: unknown): CriContainerStatus {
  const status = optionalRecord(record(raw, 'ContainerStatus'), 'status');
  if (status === undefined) {
    throw new KernwatchError(ERROR_CODES.attribution, 'CRI ContainerStatus returned no status');
  }
  const metadata = optionalRecord(status, 'metadata');
  const image = optionalRecord(status, 'image');
  return {
    id: str(status, 'id'),
    name: metadata === undefined ? '' : str(metadata, 'name'),
    state: containerState(status.state),
    image: image === undefined ? '' : str(image, 'image'),
    imageRef: str(status, 'imageRef'),
    exitCode: num(status, 'exitCode'),
    startedAtNs: int64(status, 'startedAt'),
    finishedAtNs: int64(status, 'finishedAt'),
    reason: str(status, 'reason'),
    labels: stringMap(status, 'labels'),
  };
}

/**
 * The verbose part of ContainerStatus. containerd and CRI-O both put one JSON document under
 * `info["info"]` with the main pid under `pid` and the OCI runtime spec under `runtimeSpec`; a runtime
 * that sends no info (or was asked without verbose) yields `{}`. A document that is not JSON is an error:
 * the runtime answered, but with nothing that can be trusted.
 */
export function parseContainerInfoResponse(raw: unknown): CriContainerInfo {
  const info = optionalRecord(record(raw, 'ContainerStatus'), 'info');
  const text = info === undefined ? undefined : info.info;
  if (typeof text !== 'string' || text === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new KernwatchError(ERROR_CODES.attribution, 'CRI ContainerStatus verbose info is not JSON', {
      cause: err,
    });
  }
  if (!isRecord(doc)) return {};
  const out: CriContainerInfo = {};
  const pid = doc.pid;
  if (typeof pid === 'number' && Number.isInteger(pid) && pid > 0) out.pid = pid;
  const spec = summarizeOciSpec(doc.runtimeSpec);
  if (spec !== undefined) out.runtimeSpec = spec;
  return out;
}

/** The fields of an OCI runtime spec (config.json) posture compares; undefined when it is no object. */
export function summarizeOciSpec(spec: unknown): OciSummary | undefined {
  if (!isRecord(spec)) return undefined;
  const proc = optionalRecord(spec, 'process');
  const root = optionalRecord(spec, 'root');
  const linux = optionalRecord(spec, 'linux');
  const capabilities = proc === undefined ? undefined : optionalRecord(proc, 'capabilities');
  const out: OciSummary = {
    noNewPrivileges: proc?.noNewPrivileges === true,
    rootReadonly: root?.readonly === true,
    effectiveCapabilities: capabilities === undefined ? [] : strings(capabilities.effective),
  };
  const seccomp = linux === undefined ? undefined : optionalRecord(linux, 'seccomp');
  if (seccomp !== undefined) out.seccomp = seccompSummary(seccomp);
  const apparmor = proc === undefined ? '' : str(proc, 'apparmorProfile');
  if (apparmor !== '') out.apparmorProfile = apparmor;
  const selinux = proc === undefined ? '' : str(proc, 'selinuxLabel');
  if (selinux !== '') out.selinuxLabel = selinux;
  return out;
}

function seccompSummary(seccomp: Record<string, unknown>): OciSeccompSummary {
  const actions: string[] = [];
  const rules = seccomp.syscalls;
  if (Array.isArray(rules)) {
    for (const rule of rules) {
      if (!isRecord(rule)) continue;
      const action = str(rule, 'action');
      if (action !== '' && !actions.includes(action)) actions.push(action);
    }
  }
  return { defaultAction: str(seccomp, 'defaultAction'), actions, flags: strings(seccomp.flags) };
}

/** The strings of a JSON array (anything else in it skipped); [] for a non-array. */
function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export function parsePodSandboxStatusResponse(raw: unknown): CriPodSandboxStatus {
  const status = optionalRecord(record(raw, 'PodSandboxStatus'), 'status');
  if (status === undefined) {
    throw new KernwatchError(ERROR_CODES.attribution, 'CRI PodSandboxStatus returned no status');
  }
  const metadata = optionalRecord(status, 'metadata');
  const network = optionalRecord(status, 'network');
  const ips: string[] = [];
  if (network !== undefined) {
    const primary = str(network, 'ip');
    if (primary !== '') ips.push(primary);
    const more = network.additionalIps;
    if (Array.isArray(more)) {
      for (const entry of more) {
        if (isRecord(entry) && str(entry, 'ip') !== '') ips.push(str(entry, 'ip'));
      }
    }
  }
  return {
    id: str(status, 'id'),
    name: metadata === undefined ? '' : str(metadata, 'name'),
    uid: metadata === undefined ? '' : str(metadata, 'uid'),
    namespace: metadata === undefined ? '' : str(metadata, 'namespace'),
    ready: status.state === 'SANDBOX_READY',
    ips,
    hostNetwork: networkMode(status) === 'NODE',
    labels: stringMap(status, 'labels'),
    annotations: stringMap(status, 'annotations'),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new KernwatchError(ERROR_CODES.attribution, `CRI ${what} returned no message`);
  return value;
}

function optionalRecord(obj: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const value = obj[key];
  return isRecord(value) ? value : undefined;
}

function str(obj: Record<string, unknown>, key: string): string {
  const value = obj[key];
  return typeof value === 'string' ? value : '';
}

function num(obj: Record<string, unknown>, key: string): number {
  const value = obj[key];
  return typeof value === 'number' ? value : 0;
}

/** int64 fields arrive as strings (LOAD_OPTIONS.longs = String); a number would be a loader change. */
function int64(obj: Record<string, unknown>, key: string): string {
  const value = obj[key];
  if (typeof value === 'string') return value;
  return typeof value === 'number' ? String(value) : '0';
}

function stringMap(obj: Record<string, unknown>, key: string): Record<string, string> {
  const value = obj[key];
  const out: Record<string, string> = {};
  if (!isRecord(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

const STATES: readonly string[] = Object.values(CRI_CONTAINER_STATE);

function isContainerState(value: unknown): value is CriContainerState {
  return typeof value === 'string' && STATES.includes(value);
}

function containerState(value: unknown): CriContainerState {
  return isContainerState(value) ? value : CRI_CONTAINER_STATE.unknown;
}

export function parseListPodSandboxResponse(raw: unknown): CriPodSandbox[] {
  const items = record(raw, 'ListPodSandbox').items;
  if (!Array.isArray(items)) return [];
  const out: CriPodSandbox[] = [];
  for (const item of items) {
    if (!isRecord(item) || str(item, 'id') === '') continue;
    const metadata = optionalRecord(item, 'metadata');
    out.push({
      id: str(item, 'id'),
      name: metadata === undefined ? '' : str(metadata, 'name'),
      uid: metadata === undefined ? '' : str(metadata, 'uid'),
      namespace: metadata === undefined ? '' : str(metadata, 'namespace'),
      ready: item.state === 'SANDBOX_READY',
    });
  }
  return out;
}

function networkMode(status: Record<string, unknown>): string {
  const linux = optionalRecord(status, 'linux');
  const namespaces = linux === undefined ? undefined : optionalRecord(linux, 'namespaces');
  const options = namespaces === undefined ? undefined : optionalRecord(namespaces, 'options');
  return options === undefined ? '' : str(options, 'network');
}
