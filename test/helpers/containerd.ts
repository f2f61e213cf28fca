import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { buildBusyboxImage, buildPauseImage, BUSYBOX, isStaticElf, type OciImage } from './oci-image.js';
import { hasCommand, isRoot } from './prerequisites.js';
import {
  CriTestRuntime,
  type CreateContainerOptions,
  type RunPodOptions,
  type TestContainer,
  type TestPod,
} from './cri-test-runtime.js';

export { POD_NETWORK, CriTestRuntime } from './cri-test-runtime.js';
export type { CreateContainerOptions, RunPodOptions, TestContainer, TestPod } from './cri-test-runtime.js';

/**
 * A private containerd 1.6 with the CRI plugin for tests: its own root, state, socket and CNI config
 * under `dir`, the cgroupfs driver (no systemd here), images built locally (no registry), and by default
 * its own network namespace so the CNI bridge and its iptables rules never touch the host's network.
 * Everything it starts or creates, `stop()` takes down by pid, path or name.
 */

const run = promisify(execFile);

export const PAUSE_IMAGE = 'localhost/pause:3.9';
export const BUSYBOX_IMAGE = 'localhost/busybox:1.35';
const CNI_BIN_DIR = '/usr/lib/cni';
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** For `describe.skipIf(missingPrerequisite(CONTAINERD_PREREQUISITES))`. */
export const CONTAINERD_PREREQUISITES: readonly (() => string | undefined)[] = [
  isRoot,
  hasCommand('containerd', 'containerd'),
  hasCommand('ctr', 'containerd'),
  hasCommand('runc', 'runc'),
  hasCommand('nsenter', 'util-linux'),
  hasCommand('ip', 'iproute2'),
  hasCommand('iptables', 'iptables'),
  hasCommand('gcc', 'gcc'),
  hasCommand('tar', 'tar'),
  () =>
    existsSync(join(CNI_BIN_DIR, 'bridge'))
      ? undefined
      : 'needs the CNI plugins (Debian package containernetworking-plugins)',
  () => (isStaticElf(BUSYBOX) ? undefined : 'needs a static /bin/busybox (Debian package busybox-static)'),
  () =>
    existsSync('/usr/lib/x86_64-linux-gnu/libc.a') || existsSync('/usr/lib/libc.a')
      ? undefined
      : 'needs a static libc to build the pause binary (Debian package libc6-dev)',
];

export interface PrivateContainerdOptions {
  /** Name of the network namespace created for containerd and its CNI bridge. Default kw-ctd-<random>. */
  netns?: string;
  /**
   * Run containerd in the host's network namespace (no CNI config): only host-network pods then. Their
   * processes share the host's network, so use it only for tests that need exactly that.
   */
  hostNetwork?: boolean;
}

export class PrivateContainerd {
  readonly dir: string;
  readonly socket: string;
  /** The netns containerd runs in, or undefined with `hostNetwork`. */
  readonly netns: string | undefined;
  readonly cri: CriTestRuntime;
  images: { pause: OciImage; busybox: OciImage } | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly cgroupRoots: string[];
  /** Per cgroup root: whether kubepods/, kubepods/burstable/, kubepods/besteffort/ existed before. */
  private readonly preexisting = new Set<string>();
  private stopped = false;

  constructor(dir: string, options: PrivateContainerdOptions) {
    this.dir = dir;
    this.socket = join(dir, 'containerd.sock');
    this.netns =
      options.hostNetwork === true
        ? undefined
        : (options.netns ?? `kw-ctd-${randomBytes(4).toString('hex')}`);
    this.cri = new CriTestRuntime(this.socket, {
      logRoot: join(dir, 'pod-logs'),
      defaultImage: BUSYBOX_IMAGE,
    });
    this.cgroupRoots = cgroupMountPoints();
    for (const root of this.cgroupRoots) {
      for (const rel of KUBEPODS_PARENTS)
        if (existsSync(join(root, rel))) this.preexisting.add(join(root, rel));
    }
  }

  /** containerd's pid (the process nsenter became: it execs without forking). */
  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error('containerd is not running');
    return pid;
  }

  get busyboxImageId(): string {
    if (this.images === undefined) throw new Error('images not imported yet');
    return this.images.busybox.imageId;
  }

  runPod(options: RunPodOptions): Promise<TestPod> {
    return this.cri.runPod(options);
  }

  createContainer(pod: TestPod, options: CreateContainerOptions): Promise<TestContainer> {
    return this.cri.createContainer(pod, options);
  }

  removeAll(): Promise<void> {
    return this.cri.removeAll();
  }

  async start(): Promise<void> {
    for (const sub of ['root', 'state', 'opt', 'pod-logs', 'images/pause', 'images/busybox', 'cni/net.d']) {
      await mkdir(join(this.dir, sub), { recursive: true });
    }
    if (this.netns !== undefined) {
      await run('ip', ['netns', 'add', this.netns]);
      await run('ip', ['-n', this.netns, 'link', 'set', 'lo', 'up']);
      await writeFile(join(this.dir, 'cni', 'net.d', '10-testbr.conflist'), cniConfig(this.dir));
    }
    const configPath = join(this.dir, 'config.toml');
    await writeFile(configPath, containerdConfig(this.dir));

    const logFd = openSync(join(this.dir, 'containerd.log'), 'a');
    const argv = ['containerd', '--config', configPath];
    // nsenter --net switches only the network namespace. `ip netns exec` would also unshare the mount
    // namespace and remount /sys, hiding the cgroup mounts from runc ("no cgroup mount found").
    const [command = '', ...args] =
      this.netns === undefined ? argv : ['nsenter', `--net=/var/run/netns/${this.netns}`, ...argv];
    const child = spawn(command, args, { stdio: ['ignore', logFd, logFd], detached: true });
    closeSync(logFd);
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        resolve();
      });
    });
    child.unref();

    const [pause, busybox] = await Promise.all([
      buildPauseImage(PAUSE_IMAGE, join(this.dir, 'images', 'pause.tar'), join(this.dir, 'images', 'pause')),
      buildBusyboxImage(
        BUSYBOX_IMAGE,
        join(this.dir, 'images', 'busybox.tar'),
        join(this.dir, 'images', 'busybox'),
      ),
      this.waitReady(),
    ]);
    for (const image of [pause, busybox]) {
      await run('ctr', ['--address', this.socket, '-n', 'k8s.io', 'images', 'import', image.tarPath]);
    }
    this.images = { pause, busybox };
  }

  /**
   * Removes every pod and container, stops containerd and its shims by pid, and undoes what containerd
   * left behind: mounts under `dir`, the pods' network namespaces, our netns, the pods' cgroups (the
   * kubelet would remove those; runc does not). `dir` itself stays: the caller removes it.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const failures: unknown[] = [];
    const attempt = async (step: () => Promise<void>): Promise<void> => {
      try {
        await step();
      } catch (err) {
        failures.push(err);
      }
    };
    if (this.running()) {
      await this.cri.removeAll().catch(async (err: unknown) => {
        // containerd died (a crash, a test killing it): its pods are cleaned up below without it. A
        // process killed a moment ago may still look alive: give it a second to be gone.
        await Promise.race([this.exited, sleep(1000)]);
        if (this.running()) failures.push(err);
      });
    }
    this.cri.close();
    await attempt(() => this.stopContainerd());
    await attempt(() => this.killLeftoverProcesses());
    await attempt(() => unmountUnder(this.dir));
    for (const path of this.cri.sandboxNetns) await attempt(() => deleteNetns(path));
    if (this.netns !== undefined) {
      const netns = this.netns;
      await attempt(() => deleteNetns(join('/var/run/netns', netns)));
    }
    await attempt(() => this.removePodCgroups());
    if (failures.length > 0)
      throw new AggregateError(
        failures,
        `stopping containerd at ${this.dir} left something behind: ${failures.map((f) => String(f)).join('; ')}`,
      );
  }

  private running(): boolean {
    const child = this.child;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
    // Killed but not yet reaped by Node: a zombie does not count as running.
    return processState(child.pid) !== undefined && processState(child.pid) !== 'Z';
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      try {
        await this.cri.version();
        return;
      } catch (err) {
        if (!this.running() || Date.now() > deadline) {
          const log = await readFile(join(this.dir, 'containerd.log'), 'utf8').catch(() => '');
          throw new Error(`containerd did not become ready:\n${log.split('\n').slice(-20).join('\n')}`, {
            cause: err,
          });
        }
        await sleep(50);
      }
    }
  }

  private async stopContainerd(): Promise<void> {
    if (!this.running()) return;
    const pid = this.pid;
    // It may have died a moment ago, before Node reaped it: then there is nobody to signal (ESRCH).
    killQuietly(pid, 'SIGTERM');
    const timedOut = await Promise.race([this.exited.then(() => false), sleep(STOP_TIMEOUT_MS, true)]);
    if (timedOut) {
      killQuietly(pid, 'SIGKILL');
      await this.exited;
    }
  }

  /** Shims of this containerd (their argv names our socket) and any process still in our pods' cgroups. */
  private async killLeftoverProcesses(): Promise<void> {
    for (const pid of this.podCgroupPids()) killQuietly(pid);
    for (const pid of pidsWithArgument(this.socket)) {
      if (pid !== this.child?.pid) killQuietly(pid);
    }
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (this.podCgroupPids().length > 0 || pidsWithArgument(this.socket).length > 0) {
      if (Date.now() > deadline) throw new Error(`processes of containerd at ${this.dir} survived SIGKILL`);
      await sleep(20);
    }
  }

  private podCgroupDirs(): string[] {
    const dirs: string[] = [];
    for (const root of this.cgroupRoots) {
      for (const uid of this.cri.podUids) {
        for (const qos of ['burstable', 'besteffort']) {
          const podDir = join(root, 'kubepods', qos, `pod${uid}`);
          if (existsSync(podDir)) dirs.push(...walkDirs(podDir));
        }
      }
    }
    return dirs;
  }

  private podCgroupPids(): number[] {
    const pids = new Set<number>();
    for (const dir of this.podCgroupDirs()) {
      let text = '';
      try {
        text = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) if (line !== '') pids.add(Number(line));
    }
    return [...pids];
  }

  private async removePodCgroups(): Promise<void> {
    // Deepest first: a cgroup directory can only be removed once its children are.
    const dirs = this.podCgroupDirs().sort((a, b) => b.length - a.length);
    for (const dir of dirs) await rmdirWhenEmpty(dir);
    for (const root of this.cgroupRoots) {
      for (const rel of [...KUBEPODS_PARENTS].reverse()) {
        const path = join(root, rel);
        if (this.preexisting.has(path) || !existsSync(path)) continue;
        // Still used by another test's cgroups: leave it (rmdir refuses a non-empty cgroup).
        await rmdir(path).catch((err: unknown) => {
          if ((err as NodeJS.ErrnoException).code !== 'EBUSY') throw err;
        });
      }
    }
  }
}

const KUBEPODS_PARENTS = ['kubepods', 'kubepods/burstable', 'kubepods/besteffort'];

/** Starts a private containerd in `dir` (created if needed) and imports the pause and busybox images. */
export async function startPrivateContainerd(
  dir: string,
  options: PrivateContainerdOptions = {},
): Promise<PrivateContainerd> {
  const containerd = new PrivateContainerd(dir, options);
  try {
    await containerd.start();
  } catch (err) {
    await containerd.stop().catch(() => undefined);
    throw err;
  }
  return containerd;
}

function containerdConfig(dir: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  disable_apparmor = true
  # Without CAP_SYS_RESOURCE (withheld on this kind of VM) runc cannot set the pause container's
  # negative oom_score_adj and sandbox creation fails; clamp it to containerd's own.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${dir}/cni/net.d"
`;
}

/** A bridge that exists only inside containerd's netns; TEST-NET-2 addresses. */
function cniConfig(dir: string): string {
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: 'testbr',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: false,
        ipam: {
          type: 'host-local',
          dataDir: join(dir, 'cni', 'ipam'),
          ranges: [[{ subnet: '198.51.100.0/24' }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'loopback' },
    ],
  });
}

/** Mount points (cgroup v1 hierarchies and the cgroup2 tree) from /proc/self/mountinfo. */
function cgroupMountPoints(): string[] {
  const roots: string[] = [];
  for (const mount of mountInfo()) {
    if (mount.fsType === 'cgroup' || mount.fsType === 'cgroup2') roots.push(mount.mountPoint);
  }
  return roots;
}

interface MountEntry {
  mountPoint: string;
  fsType: string;
}

function mountInfo(): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    const mountPoint = fields[4];
    const fsType = fields[separator + 1];
    if (separator < 0 || mountPoint === undefined || fsType === undefined) continue;
    entries.push({ mountPoint: unescapeMountPath(mountPoint), fsType });
  }
  return entries;
}

/** mountinfo writes space, tab, newline and backslash as 3-digit octal escapes. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

async function unmountUnder(dir: string): Promise<void> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const mounts = mountInfo()
    .map((m) => m.mountPoint)
    .filter((m) => m.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mounts) await run('umount', ['-l', mountPoint]);
}

async function deleteNetns(path: string): Promise<void> {
  if (!existsSync(path)) return;
  await run('ip', ['netns', 'delete', basename(path)]);
}

/** Pids whose argv contains `argument` exactly, read from /proc (a shim's `-address <socket>`). */
function pidsWithArgument(argument: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv.includes(argument)) pids.push(pid);
  }
  return pids;
}

function walkDirs(root: string): string[] {
  const out = [root];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...walkDirs(join(root, entry.name)));
  }
  return out;
}

/** The state letter of /proc/<pid>/stat (R, S, D, Z…), undefined when there is no such process. */
export function processState(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: the state follows the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** A cgroup stays busy for a moment after its last process was reaped: retry EBUSY briefly. */
async function rmdirWhenEmpty(dir: string): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  for (;;) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) throw err;
      await sleep(20);
    }
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
