import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import {
  agentReady,
  eventsInFile,
  needsBuiltCli,
  startAgent,
  waitFor,
  type AgentProcess,
} from '../../helpers/agent-process.js';
import { noAuditdRegistered } from '../../helpers/auditd.js';
import {
  BUSYBOX_IMAGE,
  CONTAINERD_PREREQUISITES,
  startPrivateContainerd,
  type PrivateContainerd,
  type TestContainer,
  type TestPod,
} from '../../helpers/containerd.js';
import { denialSchemaErrors } from '../../helpers/json-schema.js';
import { isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';
import { disablePrintkRateLimit } from '../../helpers/printk-ratelimit.js';

// Real pods: a private containerd with the CRI plugin runs busybox containers under Localhost seccomp
// profiles that log (SCMP_ACT_LOG) or kill (SCMP_ACT_KILL_PROCESS). The agent, given only the CRI socket
// (no API server), must name the pod, namespace, container and image of every violation, including a
// forked child that seccomp kills and the container's own main process.

const skip = missingPrerequisite([isRoot, needsBuiltCli, noAuditdRegistered, ...CONTAINERD_PREREQUISITES]);

describe.skipIf(skip)('kernwatch run with a real containerd', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-e2e-ctd-'));
  let containerd: PrivateContainerd | undefined;
  let agent: AgentProcess | undefined;
  let pod: TestPod;
  let logger: TestContainer;
  let killed: TestContainer;
  let events: KernwatchEvent[] = [];
  let restorePrintk: (() => void) | undefined;
  const out = join(dir, 'events.ndjson');

  beforeAll(async () => {
    restorePrintk = disablePrintkRateLimit();
    containerd = await startPrivateContainerd(join(dir, 'containerd'));
    const logProfile = join(dir, 'log-mkdir.json');
    writeFileSync(
      logProfile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_LOG' }],
      }),
    );
    const killProfile = join(dir, 'kill-uname.json');
    writeFileSync(
      killProfile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        syscalls: [{ names: ['uname'], action: 'SCMP_ACT_KILL_PROCESS' }],
      }),
    );
    agent = startAgent([
      'run',
      '--source',
      'kmsg',
      '--sink',
      `file:${out}`,
      '--state-dir',
      join(dir, 'state'),
      '--node',
      'ctd-node',
      '--cri-socket',
      containerd.socket,
    ]);
    await agentReady(agent);
    pod = await containerd.runPod({ name: 'shop-api-0', namespace: 'shop', labels: { app: 'api' } });
    logger = await containerd.createContainer(pod, {
      name: 'logger',
      command: ['/bin/sh', '-c', '(sleep 0.3; exec mkdir /tmp/made-by-child); exec sleep 3600'],
      seccompProfilePath: logProfile,
    });
    // The shell forks a child that runs `uname` and is killed by seccomp (the shell survives), then execs
    // `uname` itself: the container's main process dies of SIGSYS. The child lives 300 ms before its
    // violation: a child that violates within a few ms of its fork and is reaped at once can be gone before
    // any /proc read (see the attribution bench in docs/benchmarks.md for the rate per lifetime).
    killed = await containerd.createContainer(pod, {
      name: 'killed',
      command: ['/bin/sh', '-c', '(sleep 0.3; exec uname -a); echo survived; sleep 0.3; exec uname -a'],
      seccompProfilePath: killProfile,
    });
    const status = await containerd.cri.waitForExit(killed.id);
    expect(status.exitCode).toBe(159);
    const summary = (): string =>
      JSON.stringify(
        eventsInFile(out).map((e) => [e.process.pid, e.seccomp?.syscall, e.attribution, e.container?.name]),
      );
    events = await waitFor(
      () => `events of both containers (have ${summary()}; agent: ${agent?.stderr().slice(-1500) ?? ''})`,
      () => {
        const all = eventsInFile(out);
        const kills = all.filter((e) => e.container?.name === 'killed');
        const logs = all.filter((e) => e.container?.name === 'logger');
        return kills.length >= 2 && logs.length >= 1 ? all : undefined;
      },
    );
  });

  afterAll(async () => {
    await agent?.stop('SIGTERM');
    await containerd?.stop();
    restorePrintk?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const podRef = (): object => ({ name: 'shop-api-0', namespace: 'shop', uid: pod.uid });

  test('a logged mkdir by a forked child carries pod, namespace, container name and image', () => {
    const e = events.find((x) => x.container?.name === 'logger' && x.seccomp?.action === 'LOG');
    expect(e?.seccomp?.syscall).toMatch(/^mkdir(at)?$/);
    expect(e?.outcome).toBe('logged');
    expect(e?.attribution).toBe('pod');
    expect(e?.container).toEqual({
      id: logger.id,
      name: 'logger',
      runtime: 'containerd',
      image: BUSYBOX_IMAGE,
    });
    expect(e?.pod).toEqual(podRef());
  });

  test('the forked child and then the main process killed by seccomp are both attributed', () => {
    const kills = events.filter((x) => x.container?.name === 'killed');
    expect(kills).toHaveLength(2);
    expect(new Set(kills.map((k) => k.process.pid)).size).toBe(2);
    for (const k of kills) {
      expect(k.outcome).toBe('killed');
      expect(k.seccomp?.action).toBe('KILL_PROCESS');
      expect(k.seccomp?.syscall).toBe('uname');
      expect(k.attribution).toBe('pod');
      expect(k.container).toEqual({
        id: killed.id,
        name: 'killed',
        runtime: 'containerd',
        image: BUSYBOX_IMAGE,
      });
      expect(k.pod).toEqual(podRef());
    }
  });

  test('every event, container and pod objects included, is valid against docs/schema/kernwatch.v1.schema.json', () => {
    for (const e of events) expect(denialSchemaErrors(e), e.id).toEqual([]);
  });

  test('the container that seccomp killed left its log saying the first child died and the shell went on', async () => {
    expect(await containerd?.cri.readLog(killed)).toContain('survived');
  });
});
