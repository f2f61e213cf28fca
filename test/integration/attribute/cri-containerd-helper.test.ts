import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CONTAINERD_PREREQUISITES,
  processState,
  startPrivateContainerd,
  type PrivateContainerd,
} from '../../helpers/containerd.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';

/**
 * The private containerd helper must leave the machine as it found it, also when containerd died
 * first: end-to-end tests reuse it, and a leftover shim, mount, netns or cgroup would leak into
 * every later test on this kernel.
 */

const why = missingPrerequisite(CONTAINERD_PREREQUISITES);

interface Footprint {
  pids: number[];
  netns: string[];
  cgroupDirs: string[];
  mounts: string[];
}

function pidsMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(text)) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(`${dir}/`));
}

function netnsNames(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

function footprint(containerd: PrivateContainerd, podUid: string, containerPid: number): Footprint {
  const cgroupDirs = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids']
    .map((root) => join(root, 'kubepods', 'burstable', `pod${podUid}`))
    .filter((dir) => existsSync(dir));
  return {
    pids: [containerd.pid, containerPid, ...pidsMentioning(containerd.socket)],
    netns: [...containerd.cri.sandboxNetns, `/var/run/netns/${containerd.netns ?? ''}`],
    cgroupDirs,
    mounts: mountsUnder(containerd.dir),
  };
}

/** A killed process stays a zombie until init reaps it: that is gone for our purpose. */
function alive(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== 'Z';
}

describe.skipIf(why)('stopping a private containerd', () => {
  let dir = '';
  let started: PrivateContainerd | undefined;

  afterEach(async () => {
    // stop() is idempotent: this only acts when a test failed before its own stop. Never remove the
    // directory while containerd's rootfs mounts are still under it.
    await started?.stop();
    started = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function startWithPod(): Promise<{ containerd: PrivateContainerd; before: Footprint }> {
    dir = await mkdtemp(join(tmpdir(), 'kw-ctd-helper-'));
    const containerd = await startPrivateContainerd(dir);
    started = containerd;
    const pod = await containerd.runPod({ name: 'p', network: 'pod' });
    const container = await containerd.createContainer(pod, {
      name: 'c',
      command: ['/bin/sh', '-c', 'sleep 3600'],
    });
    const pid = (await containerd.cri.containerPid(container.id)) ?? 0;
    const before = footprint(containerd, pod.uid, pid);
    // What there is to clean up: containerd, a shim, the container, netns, cgroups, rootfs mounts.
    expect(before.pids.length).toBeGreaterThanOrEqual(3);
    expect(before.pids.every(alive)).toBe(true);
    expect(before.netns.every((path) => existsSync(path))).toBe(true);
    expect(before.cgroupDirs).toHaveLength(3);
    expect(before.mounts.length).toBeGreaterThan(0);
    return { containerd, before };
  }

  function expectNothingLeft(containerd: PrivateContainerd, before: Footprint): void {
    expect(before.pids.filter(alive)).toStrictEqual([]);
    expect(before.netns.filter((path) => existsSync(path))).toStrictEqual([]);
    expect(netnsNames()).not.toContain(containerd.netns);
    expect(before.cgroupDirs.filter((path) => existsSync(path))).toStrictEqual([]);
    expect(mountsUnder(containerd.dir)).toStrictEqual([]);
  }

  it('removes its pods and leaves no process, netns, cgroup or mount behind', async () => {
    const { containerd, before } = await startWithPod();
    await containerd.stop();
    expectNothingLeft(containerd, before);
  });

  it('cleans up the same way after containerd itself was killed', async () => {
    const { containerd, before } = await startWithPod();
    process.kill(containerd.pid, 'SIGKILL');
    await containerd.stop();
    expectNothingLeft(containerd, before);
  });
});
