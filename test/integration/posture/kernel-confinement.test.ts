import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRI_CONTAINER_STATE, CriClient } from '../../../agent/attribute/cri/cri-client.js';
import { DEFAULT_CONTAINER_CAPABILITIES, encodeCapabilities } from '../../../agent/posture/capabilities.js';
import {
  readKernelConfinement,
  type KernelConfinementRead,
} from '../../../agent/posture/kernel-confinement.js';
import { readNodeLsm, type NodeLsm } from '../../../agent/posture/lsm.js';
import type { KernelConfinement } from '../../../agent/posture/posture-types.js';
import {
  CONTAINERD_PREREQUISITES,
  startPrivateContainerd,
  type PrivateContainerd,
  type TestPod,
} from '../../helpers/containerd.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';
import { buildViolator, startViolator, type ViolatorProcess } from '../../helpers/violator.js';
import { waitFor, waitUntil } from '../../helpers/wait.js';

/**
 * What /proc says the kernel enforces, read from real processes: this test's own process, a child
 * made by setpriv (util-linux) without privileges, one under a seccomp filter, and containers a real
 * containerd 1.6 started with and without a security context. For the containers the runtime's own
 * view (CRI ContainerStatus verbose: the OCI spec it handed runc) is read next to the kernel's.
 *
 * No filter here ever fires: the seccomp child is killed before it makes the call its filter matches,
 * so no audit record reaches the kernel log other tests read.
 */

const run = promisify(execFile);
const PROC = '/proc';

const whyProcesses = missingPrerequisite([
  isRoot,
  hasCommand('setpriv', 'util-linux'),
  hasCommand('capsh', 'libcap2-bin'),
  hasCommand('gcc', 'gcc'),
]);
const whyContainerd = missingPrerequisite(CONTAINERD_PREREQUISITES);

/** EINVAL from /proc/self/attr/current: no active LSM answers for process attributes (no MAC LSM). */
function kernelHasNoMacLsm(): boolean {
  try {
    readFileSync('/proc/self/attr/current');
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EINVAL';
  }
}

function confinementOf(read: KernelConfinementRead): KernelConfinement {
  if (read.status !== 'ok') throw new Error(`pid ${read.pid} is ${read.status}`);
  return read.confinement;
}

/** capsh's own decoding of a mask (libcap): `0x…=cap_chown,cap_dac_override,…` → upper-case names. */
async function capshDecode(names: readonly string[]): Promise<string[]> {
  const { mask, unknown } = encodeCapabilities(names);
  expect(unknown).toStrictEqual([]);
  const { stdout } = await run('capsh', [`--decode=0x${mask.toString(16)}`]);
  const list = stdout.trim().split('=')[1] ?? '';
  return list === '' ? [] : list.split(',').map((n) => n.toUpperCase());
}

/** Spawns argv and waits until its process has exec'd `comm` (so /proc shows the final credentials). */
async function spawnAndWait(argv: string[], comm: string): Promise<ChildProcess & { pid: number }> {
  const [command = '', ...args] = argv;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${command}`);
  await waitUntil(`${command} to exec ${comm}`, () => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'latin1').trim() === comm;
    } catch {
      return false;
    }
  });
  return Object.assign(child, { pid });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await closed;
}

describe.skipIf(whyProcesses)('the kernel confinement of host processes', () => {
  let lsm: NodeLsm;
  const children: ChildProcess[] = [];
  let violator: ViolatorProcess | undefined;

  beforeAll(() => {
    lsm = readNodeLsm();
  });

  afterAll(async () => {
    for (const child of children) await stopChild(child);
    await violator?.stop();
  });

  it('reads the test process itself: no seccomp, no no_new_privs, root, a writable root', async () => {
    const c = confinementOf(readKernelConfinement(PROC, process.pid, lsm));
    expect(c.seccompMode).toBe(0);
    expect(c.seccompFilters).toBe(0);
    expect(c.noNewPrivs).toBe(false);
    const uid = process.getuid?.();
    const gid = process.getgid?.();
    expect(c.uid).toStrictEqual({ real: uid, effective: process.geteuid?.(), saved: uid, fs: uid });
    expect(c.gid).toStrictEqual({ real: gid, effective: process.getegid?.(), saved: gid, fs: gid });
    expect(c.rootReadOnly).toBe(false);
    expect(c.effectiveCapabilities).toContain('CAP_SYS_ADMIN');
    expect(c.effectiveCapabilities).toStrictEqual(await capshDecode(c.effectiveCapabilities));
  });

  it.skipIf(!kernelHasNoMacLsm())('says the node runs no MAC LSM instead of inventing a label', () => {
    expect(lsm.mac).toBe('none');
    expect(confinementOf(readKernelConfinement(PROC, process.pid, lsm)).mac).toStrictEqual({ kind: 'none' });
    // Even when securityfs is mounted on no /sys the agent sees, the kernel's EINVAL settles it.
    const unknownList: NodeLsm = { apparmor: false, mac: 'none' };
    expect(confinementOf(readKernelConfinement(PROC, process.pid, unknownList)).mac).toStrictEqual({
      kind: 'none',
    });
  });

  it('reads a setpriv child: no_new_privs, no capabilities left, nobody', async () => {
    const child = await spawnAndWait(
      [
        'setpriv',
        '--no-new-privs',
        '--inh-caps=-all',
        '--bounding-set=-all',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'sleep',
        '600',
      ],
      'sleep',
    );
    children.push(child);
    expect(confinementOf(readKernelConfinement(PROC, child.pid, lsm))).toMatchObject({
      seccompMode: 0,
      seccompFilters: 0,
      noNewPrivs: true,
      effectiveCapabilities: [],
      permittedCapabilities: [],
      ambientCapabilities: [],
      // --bounding-set=-all: nothing a setuid binary could get back.
      boundingCapabilities: [],
      uid: { real: 65534, effective: 65534, saved: 65534, fs: 65534 },
      gid: { real: 65534, effective: 65534, saved: 65534, fs: 65534 },
      rootReadOnly: false,
    });
  });

  it('reads a process under a seccomp filter: mode 2, one filter, no_new_privs set by the loader', async () => {
    // fork mode: the child loads a LOG filter on getppid, then sleeps LIFE_MS before calling it.
    violator = startViolator(await buildViolator(), ['fork', '1', '600000', '0', 'log']);
    const forked = await violator.waitFor('forked');
    const c = await waitFor('the filter to be loaded', () => {
      const read = readKernelConfinement(PROC, forked.pid, lsm);
      return read.status === 'ok' && read.confinement.seccompMode === 2 ? read.confinement : undefined;
    });
    expect(c).toMatchObject({
      seccompMode: 2,
      seccompFilters: 1,
      noNewPrivs: true,
      uid: { real: 0, effective: 0 },
    });
    // The child's capabilities are its parent's: a filter takes none away.
    expect(c.effectiveCapabilities).toStrictEqual(
      confinementOf(readKernelConfinement(PROC, process.pid, lsm)).effectiveCapabilities,
    );

    process.kill(forked.pid, 'SIGKILL');
    await violator.waitFor('reaped', (e) => e.pid === forked.pid);
    expect(readKernelConfinement(PROC, forked.pid, lsm)).toStrictEqual({ status: 'gone', pid: forked.pid });
  });

  it('answers gone for a zombie (exited, not yet reaped)', async () => {
    // `sleep 600` inherits the shell's child and never waits for it.
    const child = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 600'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const zombie = await new Promise<number>((resolve) => {
      child.stdout.once('data', (chunk: Buffer) => {
        resolve(Number(chunk.toString('latin1').trim()));
      });
    });
    await waitUntil('the zombie', () => {
      try {
        return /^State:\tZ/m.test(readFileSync(`/proc/${zombie}/status`, 'latin1'));
      } catch {
        return false;
      }
    });
    expect(readKernelConfinement(PROC, zombie, lsm)).toStrictEqual({ status: 'gone', pid: zombie });
  });
});

describe.skipIf(whyContainerd)('kernel confinement and runtime spec of containerd containers', () => {
  let dir = '';
  let containerd: PrivateContainerd | undefined;
  let client: CriClient | undefined;
  let pod: TestPod;
  let lsm: NodeLsm;
  let profilePath = '';

  function ctd(): PrivateContainerd {
    if (containerd === undefined) throw new Error('containerd did not start');
    return containerd;
  }

  function cri(): CriClient {
    client ??= new CriClient({ socketPath: ctd().socket });
    return client;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-posture-'));
    lsm = readNodeLsm();
    containerd = await startPrivateContainerd(dir);
    pod = await containerd.runPod({ name: 'posture-0', namespace: 'audit' });
    profilePath = join(dir, 'deny-uname.json');
    // An allow-list would need every call busybox makes; deny rules are enough to load a filter. No
    // `flags`: runc 1.1.5 refuses any ("seccomp flags are not yet supported by runc").
    await writeFile(
      profilePath,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        syscalls: [
          { names: ['uname'], action: 'SCMP_ACT_ERRNO' },
          { names: ['ptrace'], action: 'SCMP_ACT_KILL_PROCESS' },
          { names: ['personality'], action: 'SCMP_ACT_ERRNO' },
        ],
      }),
    );
  });

  afterAll(async () => {
    client?.close();
    await containerd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a confined container: seccomp filter, no_new_privs, read-only root, non-root without capabilities', async () => {
    const container = await ctd().createContainer(pod, {
      name: 'confined',
      command: ['/bin/sh', '-c', 'exec sleep 3600'],
      seccompProfilePath: profilePath,
      readonlyRootfs: true,
      noNewPrivs: true,
      runAsUser: 1000,
      capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
    });
    const info = await cri().containerInfo(container.id);
    expect(info.pid).toBe(await ctd().cri.containerPid(container.id));
    expect(info.runtimeSpec).toStrictEqual({
      seccomp: {
        defaultAction: 'SCMP_ACT_ALLOW',
        actions: ['SCMP_ACT_ERRNO', 'SCMP_ACT_KILL_PROCESS'],
        flags: [],
      },
      noNewPrivileges: true,
      rootReadonly: true,
      effectiveCapabilities: ['CAP_NET_BIND_SERVICE'],
    });

    const kernel = confinementOf(readKernelConfinement(PROC, info.pid ?? 0, lsm));
    expect(kernel).toStrictEqual({
      seccompMode: 2,
      seccompFilters: 1,
      noNewPrivs: true,
      // The spec grants NET_BIND_SERVICE, but a non-root process keeps no effective capability across
      // execve without ambient capabilities (containerd 1.6 sets none): the kernel's truth is stricter.
      effectiveCapabilities: [],
      permittedCapabilities: [],
      ambientCapabilities: [],
      // drop ALL, add NET_BIND_SERVICE: that is all the bounding set holds.
      boundingCapabilities: ['CAP_NET_BIND_SERVICE'],
      uid: { real: 1000, effective: 1000, saved: 1000, fs: 1000 },
      gid: { real: 0, effective: 0, saved: 0, fs: 0 },
      mac: { kind: 'none' },
      rootReadOnly: true,
    });
  });

  it('a container without a security context: unconfined, root with the 14 default capabilities', async () => {
    const container = await ctd().createContainer(pod, {
      name: 'plain',
      command: ['/bin/sh', '-c', 'exec sleep 3600'],
    });
    const info = await cri().containerInfo(container.id);
    expect(info.pid).toBe(await ctd().cri.containerPid(container.id));
    expect(info.runtimeSpec).toStrictEqual({
      noNewPrivileges: false,
      rootReadonly: false,
      effectiveCapabilities: [...DEFAULT_CONTAINER_CAPABILITIES],
    });

    const kernel = confinementOf(readKernelConfinement(PROC, info.pid ?? 0, lsm));
    expect(kernel).toMatchObject({
      seccompMode: 0,
      seccompFilters: 0,
      noNewPrivs: false,
      uid: { real: 0, effective: 0 },
      rootReadOnly: false,
    });
    expect([...kernel.effectiveCapabilities].sort()).toStrictEqual(
      [...DEFAULT_CONTAINER_CAPABILITIES].sort(),
    );
  });

  it("RuntimeDefault: containerd's built-in profile, a deny-by-default filter", async () => {
    const container = await ctd().createContainer(pod, {
      name: 'runtime-default',
      command: ['/bin/sh', '-c', 'exec sleep 3600'],
      seccomp: 'RuntimeDefault',
    });
    const info = await cri().containerInfo(container.id);
    expect(info.runtimeSpec?.seccomp).toStrictEqual({
      defaultAction: 'SCMP_ACT_ERRNO',
      actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO'],
      flags: [],
    });
    const kernel = confinementOf(readKernelConfinement(PROC, info.pid ?? 0, lsm));
    expect([kernel.seccompMode, kernel.seccompFilters, kernel.noNewPrivs]).toStrictEqual([2, 1, false]);
  });

  it('lists only running containers with the RUNNING filter; an exited one has no pid', async () => {
    const exited = await ctd().createContainer(pod, { name: 'done', command: ['/bin/true'] });
    await ctd().cri.waitForExit(exited.id);
    const all = await cri().listContainers();
    const running = await cri().listContainers({ state: CRI_CONTAINER_STATE.running });
    expect(all.map((c) => c.id)).toContain(exited.id);
    expect(running.map((c) => c.id)).not.toContain(exited.id);
    expect(running.map((c) => c.name).sort()).toStrictEqual(['confined', 'plain', 'runtime-default']);
    expect(running.every((c) => c.state === CRI_CONTAINER_STATE.running)).toBe(true);
    const info = await cri().containerInfo(exited.id);
    expect(info.pid).toBeUndefined();
    expect(info.runtimeSpec?.rootReadonly).toBe(false);
  });
});
