import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CriCallError, CriClient } from '../../../agent/attribute/cri/cri-client.js';
import { ContainerDirectory } from '../../../agent/attribute/cri/container-directory.js';
import { ERROR_CODES } from '../../../agent/errors.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import {
  BUSYBOX_IMAGE,
  CONTAINERD_PREREQUISITES,
  startPrivateContainerd,
  type PrivateContainerd,
  type TestPod,
} from '../../helpers/containerd.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';
import { waitUntil } from '../../helpers/wait.js';

/**
 * The CRI side of attribution against a real containerd 1.6 (private instance, local images): a
 * container id read from a container process's /proc/<pid>/cgroup resolves to its container and pod.
 */

const why = missingPrerequisite(CONTAINERD_PREREQUISITES);

/** The container id is the last path segment of the cgroup v2 (`0::`) line: cgroupfs driver layout. */
async function containerIdOfPid(pid: number): Promise<string> {
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('0::')) ?? '';
  return line.slice(line.lastIndexOf('/') + 1);
}

describe.skipIf(why)('container metadata from a real containerd', () => {
  let dir = '';
  let containerd: PrivateContainerd | undefined;
  let pod: TestPod;
  const directories: ContainerDirectory[] = [];

  function ctd(): PrivateContainerd {
    if (containerd === undefined) throw new Error('containerd did not start');
    return containerd;
  }

  async function newDirectory(options: Partial<ConstructorParameters<typeof ContainerDirectory>[0]> = {}) {
    const directory = new ContainerDirectory({
      socketPath: ctd().socket,
      logger: silentLogger(),
      periodicRefreshMs: 0,
      ...options,
    });
    directories.push(directory);
    await directory.start();
    return directory;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-cri-'));
    containerd = await startPrivateContainerd(dir);
    pod = await containerd.runPod({ name: 'web-0', namespace: 'shop', labels: { app: 'web' } });
  });

  afterAll(async () => {
    for (const directory of directories) await directory.stop();
    await containerd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves the container id of a container process to its container, image and pod', async () => {
    const container = await ctd().createContainer(pod, {
      name: 'app',
      command: ['/bin/sh', '-c', 'sleep 3600'],
    });
    const pid = await ctd().cri.containerPid(container.id);
    expect(pid).toBeGreaterThan(0);
    const containerId = await containerIdOfPid(pid ?? 0);
    expect(containerId).toBe(container.id);

    const directory = await newDirectory();
    expect(await directory.resolve(containerId)).toStrictEqual({
      id: container.id,
      name: 'app',
      image: BUSYBOX_IMAGE,
      podSandboxId: pod.id,
      podName: 'web-0',
      podNamespace: 'shop',
      podUid: pod.uid,
    });
    expect(directory.connected).toBe(true);
  });

  it('reports the image by name when the container was created by image id, as the kubelet does', async () => {
    const container = await ctd().createContainer(pod, {
      name: 'by-id',
      image: ctd().busyboxImageId,
      command: ['/bin/sh', '-c', 'sleep 3600'],
    });
    const listed = (
      await new CriClient({ socketPath: ctd().socket }).listContainers({ id: container.id })
    )[0];
    // What ListContainers says on a Kubernetes node: the id the kubelet passed, not a name.
    expect(listed?.image).toBe(ctd().busyboxImageId);

    const directory = await newDirectory();
    expect((await directory.resolve(container.id))?.image).toBe(BUSYBOX_IMAGE);
  });

  it('finds a container created after start with one refresh shared by all concurrent misses', async () => {
    const directory = await newDirectory({ minRefreshIntervalMs: 200 });
    expect(directory.counters.refreshes).toBe(1);
    const container = await ctd().createContainer(pod, {
      name: 'late',
      command: ['/bin/sh', '-c', 'sleep 3600'],
    });
    expect(directory.get(container.id)).toBeUndefined();

    const answers = await Promise.all(Array.from({ length: 10 }, () => directory.resolve(container.id)));
    for (const answer of answers) expect(answer?.name).toBe('late');
    expect(directory.counters.refreshes).toBe(2);
    expect(directory.counters.misses).toBe(11);
    expect(directory.get(container.id)?.podUid).toBe(pod.uid);
    expect(directory.counters.hits).toBe(1);
  });

  it('answers undefined for an id that is no container, then without another refresh', async () => {
    const directory = await newDirectory({ minRefreshIntervalMs: 0 });
    const stranger = 'f'.repeat(64);
    expect(await directory.resolve(stranger)).toBeUndefined();
    expect(directory.counters.refreshes).toBe(2);
    expect(await directory.resolve(stranger)).toBeUndefined();
    expect(directory.counters.refreshes).toBe(2);
  });

  it('keeps a removed container resolvable for the retention time, then evicts it', async () => {
    let now = 0;
    const directory = await newDirectory({ minRefreshIntervalMs: 0, retentionMs: 60_000, now: () => now });
    const container = await ctd().createContainer(pod, {
      name: 'short',
      command: ['/bin/sh', '-c', 'sleep 3600'],
    });
    const before = await directory.resolve(container.id);
    expect(before?.name).toBe('short');

    await ctd().cri.stopContainer(container.id);
    await ctd().cri.removeContainer(container.id);
    expect(await directory.refresh()).toBe(true);
    now += 59_999;
    expect(directory.get(container.id)).toBe(before);
    now += 1;
    expect(directory.get(container.id)).toBeUndefined();
    expect(directory.counters.evictions).toBe(1);
  });

  it('still resolves a container whose process seccomp killed', async () => {
    const profile = join(dir, 'kill-uname.json');
    await writeFile(
      profile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        syscalls: [{ names: ['uname'], action: 'SCMP_ACT_KILL_PROCESS' }],
      }),
    );
    const container = await ctd().createContainer(pod, {
      name: 'killed',
      command: ['/bin/sh', '-c', 'exec uname -a'],
      seccompProfilePath: profile,
    });
    const exited = await ctd().cri.waitForExit(container.id);
    // 128 + SIGSYS (31): the kernel ended the process for the forbidden syscall.
    expect(exited.exitCode).toBe(159);

    const directory = await newDirectory();
    expect(await directory.resolve(container.id)).toStrictEqual({
      id: container.id,
      name: 'killed',
      image: BUSYBOX_IMAGE,
      podSandboxId: pod.id,
      podName: 'web-0',
      podNamespace: 'shop',
      podUid: pod.uid,
    });
  });

  it('resolves a host-network pod and gives a pod-network pod an address on the test bridge', async () => {
    const hostPod = await ctd().runPod({ name: 'node-agent', namespace: 'kube-system', network: 'host' });
    const container = await ctd().createContainer(hostPod, {
      name: 'agent',
      command: ['/bin/sh', '-c', 'sleep 3600'],
    });
    const directory = await newDirectory();
    const meta = await directory.resolve(container.id);
    expect([meta?.podName, meta?.podNamespace, meta?.podUid]).toStrictEqual([
      'node-agent',
      'kube-system',
      hostPod.uid,
    ]);
    expect(hostPod.ips).toStrictEqual([]);
    expect(pod.ips).toHaveLength(1);
    expect(pod.ips[0]?.startsWith('198.51.100.')).toBe(true);
  });

  it("reports containerd's name and CRI API version", async () => {
    const directory = await newDirectory();
    const version = await directory.version();
    expect([version.runtimeName, version.runtimeApiVersion]).toStrictEqual(['containerd', 'v1']);
  });

  it('fails a call for an unknown container with a KernwatchError carrying gRPC NOT_FOUND', async () => {
    const client = new CriClient({ socketPath: ctd().socket });
    const failure = await client.containerStatus('nope').catch((err: unknown) => err);
    client.close();
    expect(failure).toBeInstanceOf(CriCallError);
    expect(failure).toMatchObject({ code: ERROR_CODES.attribution, method: 'ContainerStatus', grpcCode: 5 });
    expect((failure as CriCallError).notFound).toBe(true);
    expect((failure as CriCallError).cause).toBeInstanceOf(Error);
  });
});

describe.skipIf(why)('a container directory started before its runtime', () => {
  let dir = '';
  let containerd: PrivateContainerd | undefined;
  let directory: ContainerDirectory | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-cri-late-'));
  });

  afterAll(async () => {
    await directory?.stop();
    await containerd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts without failing, logs the outage once, and resolves once containerd is up', async () => {
    const logs: { level: number; msg: string }[] = [];
    const logger = pino(
      { level: 'debug' },
      {
        write: (line: string) => {
          logs.push(JSON.parse(line) as { level: number; msg: string });
        },
      },
    );
    directory = new ContainerDirectory({
      socketPath: join(dir, 'containerd.sock'),
      logger,
      minRefreshIntervalMs: 0,
      retryInitialMs: 20,
      retryMaxMs: 100,
    });
    await directory.start();
    expect(directory.connected).toBe(false);
    expect(directory.counters.errors).toBe(1);
    expect(await directory.resolve('a'.repeat(64))).toBeUndefined();
    await waitUntil('background retries', () => (directory?.counters.errors ?? 0) >= 3);

    containerd = await startPrivateContainerd(dir);
    await waitUntil('the directory to reach containerd', () => directory?.connected === true);
    const pod = await containerd.runPod({ name: 'late-pod' });
    const container = await containerd.createContainer(pod, {
      name: 'c',
      command: ['/bin/sh', '-c', 'sleep 3600'],
    });
    expect((await directory.resolve(container.id))?.podName).toBe('late-pod');

    const WARN = 40;
    const INFO = 30;
    expect(logs.filter((l) => l.level === WARN).map((l) => l.msg)).toStrictEqual([
      'CRI runtime not reachable; container names and pods unavailable until it is. Retrying in the background.',
    ]);
    expect(logs.filter((l) => l.level === INFO).map((l) => l.msg)).toStrictEqual([
      'CRI runtime reachable again.',
    ]);
  });
});
