import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Cgroups shaped exactly like a Kubernetes container's, so that /proc/<pid>/cgroup of a process placed
 * in one reads like a pod's (../shared/TESTING.md: the systemd style comes from here, real containerd here
 * makes cgroupfs-style paths only).
 *
 *   systemd:  /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid with _>.slice/cri-containerd-<id>.scope
 *   cgroupfs: /kubepods/<qos>/pod<uid>/<id>
 * (guaranteed pods have no qos level: /kubepods.slice/kubepods-pod<uid>.slice/..., /kubepods/pod<uid>/...)
 *
 * The path is made in every mounted cgroup v1 hierarchy and in the cgroup2 tree, below the cgroup this
 * test process itself is in there (usually `/`). Nesting below our own cgroup keeps the test processes
 * inside whatever limits the runner put on us (e.g. a memory cgroup of the CI sandbox); the container
 * id still comes last in the path, as with nested runtimes.
 */

export const CGROUP_STYLE = { systemd: 'systemd', cgroupfs: 'cgroupfs' } as const;
export type CgroupStyle = (typeof CGROUP_STYLE)[keyof typeof CGROUP_STYLE];

export const QOS_CLASS = {
  burstable: 'burstable',
  besteffort: 'besteffort',
  guaranteed: 'guaranteed',
} as const;
export type QosClass = (typeof QOS_CLASS)[keyof typeof QOS_CLASS];

export interface K8sCgroupSpec {
  style: CgroupStyle;
  /** Default: a random uuid. */
  podUid?: string;
  /** Default: 64 random hex digits. */
  containerId?: string;
  /** Default: burstable. */
  qos?: QosClass;
}

export interface K8sCgroup extends TestCgroup {
  readonly style: CgroupStyle;
  readonly podUid: string;
  readonly containerId: string;
  readonly qos: QosClass;
}

/** A mounted cgroup hierarchy and the cgroup this process is in there. */
export interface CgroupHierarchy {
  /** `0` for cgroup2, else the v1 hierarchy id of /proc/self/cgroup. */
  readonly id: string;
  readonly mountPoint: string;
  /** Our own cgroup as a directory of that mount. */
  readonly ownDir: string;
  readonly v1Cpuset: boolean;
}

/** Every mounted cgroup hierarchy (v1 and v2), from /proc/self/mountinfo and /proc/self/cgroup. */
export function cgroupHierarchies(): CgroupHierarchy[] {
  const own = new Map<string, { id: string; path: string }>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const c1 = line.indexOf(':');
    const c2 = line.indexOf(':', c1 + 1);
    if (c1 < 0 || c2 < 0) continue;
    const id = line.slice(0, c1);
    const controllers = line.slice(c1 + 1, c2);
    own.set(id === '0' && controllers === '' ? 'cgroup2' : controllers, { id, path: line.slice(c2 + 1) });
  }
  const out: CgroupHierarchy[] = [];
  const seen = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const head = line.slice(0, dash).split(' ');
    const [fsType, , superOptions = ''] = line.slice(dash + 3).split(' ');
    const root = head[3];
    const mountPoint = head[4];
    if (root === undefined || mountPoint === undefined) continue;
    let key: string | undefined;
    if (fsType === 'cgroup2') {
      key = 'cgroup2';
    } else if (fsType === 'cgroup') {
      const opts = new Set(superOptions.split(','));
      for (const k of own.keys()) {
        if (k !== 'cgroup2' && k.split(',').every((c) => opts.has(c))) key = k;
      }
    }
    if (key === undefined || seen.has(key)) continue;
    const mine = own.get(key);
    if (mine === undefined) continue;
    // A mount of a sub-tree (root != /) shows our cgroup relative to that root.
    let rel = mine.path;
    if (root !== '/' && (rel === root || rel.startsWith(`${root}/`))) rel = rel.slice(root.length);
    else if (root !== '/') continue;
    seen.add(key);
    out.push({
      id: mine.id,
      mountPoint,
      ownDir: join(mountPoint, rel),
      v1Cpuset: fsType === 'cgroup' && key.split(',').includes('cpuset'),
    });
  }
  return out;
}

function randomContainerId(): string {
  return randomBytes(32).toString('hex');
}

/** The Kubernetes path segments of a container cgroup. */
export function k8sCgroupSegments(
  style: CgroupStyle,
  qos: QosClass,
  podUid: string,
  containerId: string,
): string[] {
  if (style === CGROUP_STYLE.systemd) {
    // The systemd driver escapes '-' in unit names: the pod uid's dashes become underscores.
    const uid = podUid.replaceAll('-', '_');
    return qos === QOS_CLASS.guaranteed
      ? ['kubepods.slice', `kubepods-pod${uid}.slice`, `cri-containerd-${containerId}.scope`]
      : [
          'kubepods.slice',
          `kubepods-${qos}.slice`,
          `kubepods-${qos}-pod${uid}.slice`,
          `cri-containerd-${containerId}.scope`,
        ];
  }
  return qos === QOS_CLASS.guaranteed
    ? ['kubepods', `pod${podUid}`, containerId]
    : ['kubepods', qos, `pod${podUid}`, containerId];
}

/** mkdir; false when another process made it first (we then do not own it). */
function makeDir(dir: string): boolean {
  try {
    mkdirSync(dir);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A cgroup made in every hierarchy by this helper. */
export interface TestCgroup {
  /** The path as /proc/<pid>/cgroup shows it below our own cgroup, e.g. `/system.slice/x.service`. */
  readonly path: string;
  /** The leaf directory in every hierarchy. */
  readonly dirs: readonly string[];
  /** Moves a process (all its threads) into the leaf of every hierarchy. */
  enter(pid: number): void;
  /** Removes the directories this helper created, deepest first. Processes must be gone (reaped) first. */
  remove(): void;
}

/** Creates `/<segments...>` below our own cgroup in every hierarchy. Needs root. */
export function createCgroup(segments: readonly string[]): TestCgroup {
  const hierarchies = cgroupHierarchies();
  const created: string[] = [];
  const dirs: string[] = [];
  const remove = (): void => {
    // Deepest first. A cgroup v2 directory can stay busy for a moment after its last process was
    // reaped (the css is released asynchronously): retry briefly on EBUSY.
    for (const dir of [...created].reverse()) {
      // Another user's cgroups may hang below a shared level we happened to create (/kubepods with a
      // real containerd's pods, say): leave it to them. (rmdir would say EBUSY, not ENOTEMPTY.)
      if (existsSync(dir) && readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory())) continue;
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || attempt >= 50) throw err;
          sleepSync(20);
        }
      }
    }
    created.length = 0;
  };
  try {
    for (const h of hierarchies) {
      let dir = h.ownDir;
      for (const seg of segments) {
        const parent = dir;
        dir = join(dir, seg);
        if (!existsSync(dir) && makeDir(dir)) {
          created.push(dir);
          if (h.v1Cpuset) {
            // cgroup v1 cpuset: a new cgroup has empty cpus/mems and refuses tasks until both are set.
            writeFileSync(join(dir, 'cpuset.cpus'), readFileSync(join(parent, 'cpuset.cpus')));
            writeFileSync(join(dir, 'cpuset.mems'), readFileSync(join(parent, 'cpuset.mems')));
          }
        }
      }
      dirs.push(dir);
    }
  } catch (err) {
    remove();
    throw err;
  }
  return {
    path: `/${segments.join('/')}`,
    dirs,
    enter(pid: number): void {
      for (const dir of dirs) writeFileSync(join(dir, 'cgroup.procs'), `${pid}\n`);
    },
    remove,
  };
}

/** A Kubernetes container's cgroup in every hierarchy. Needs root. */
export function createK8sCgroup(spec: K8sCgroupSpec): K8sCgroup {
  const podUid = spec.podUid ?? randomUUID();
  const containerId = spec.containerId ?? randomContainerId();
  const qos = spec.qos ?? QOS_CLASS.burstable;
  const cg = createCgroup(k8sCgroupSegments(spec.style, qos, podUid, containerId));
  return { ...cg, style: spec.style, podUid, containerId, qos };
}

/** A host service's cgroup (`/system.slice/<name>.service`): what a process outside any container is in. */
export function createHostServiceCgroup(name: string): TestCgroup {
  return createCgroup(['system.slice', `${name}.service`]);
}
