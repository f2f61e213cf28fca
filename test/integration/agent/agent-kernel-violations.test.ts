import { mkdtempSync, rmSync } from 'node:fs';
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
import { noAuditdRegistered, startPrivateAuditd, type PrivateAuditd } from '../../helpers/auditd.js';
import { FakeKubeApi, fakePod } from '../../helpers/fake-kube-api.js';
import { EVENTS } from '../../helpers/fake-kube-events.js';
import { CGROUP_STYLE, createK8sCgroup, type K8sCgroup } from '../../helpers/k8s-cgroup.js';
import { denialSchemaErrors } from '../../helpers/json-schema.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';
import { disablePrintkRateLimit } from '../../helpers/printk-ratelimit.js';
import { buildViolator, startViolatorIn, type ViolatorProcess } from '../../helpers/violator.js';

// The whole agent against the real kernel: seccomp violations (LOG, ERRNO with FLAG_LOG, KILL_PROCESS of a
// process and of a short-lived forked child) from processes in Kubernetes-shaped cgroups of both cgroup
// drivers, read once from /dev/kmsg and once from a private auditd's audit.log, attributed to container and
// pod, with labels and owner from the (fake) API server through the node-scoped informer.

const skip = missingPrerequisite([
  isRoot,
  hasCommand('gcc', 'gcc'),
  hasCommand('auditd', 'auditd'),
  needsBuiltCli,
  noAuditdRegistered,
]);

const NODE = 'node-e2e';

interface Scenario {
  cgroup: K8sCgroup;
  pod: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    owner: { kind: string; name: string };
  };
}

interface Expected {
  pid: number;
  action: string;
  outcome: string;
  scenario: Scenario;
}

describe.skipIf(skip)('kernwatch run against real seccomp violations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-e2e-kernel-'));
  let violator = '';
  let api: FakeKubeApi;
  let kubeconfig = '';
  const scenarios: Scenario[] = [];
  let restorePrintk: (() => void) | undefined;

  beforeAll(async () => {
    violator = await buildViolator();
    api = await FakeKubeApi.start();
    kubeconfig = join(dir, 'kubeconfig');
    await api.writeKubeconfig(kubeconfig);
    scenarios.push(
      {
        cgroup: createK8sCgroup({ style: CGROUP_STYLE.systemd }),
        pod: {
          name: 'web-7d9f-x2x',
          namespace: 'prod',
          labels: { app: 'web' },
          owner: { kind: 'ReplicaSet', name: 'web-7d9f' },
        },
      },
      {
        cgroup: createK8sCgroup({ style: CGROUP_STYLE.cgroupfs }),
        pod: {
          name: 'report-29',
          namespace: 'jobs',
          labels: { job: 'report' },
          owner: { kind: 'Job', name: 'report' },
        },
      },
    );
    for (const s of scenarios) {
      api.createPod(
        fakePod({
          ...s.pod,
          uid: s.cgroup.podUid,
          nodeName: NODE,
          owner: { ...s.pod.owner, apiVersion: s.pod.owner.kind === 'Job' ? 'batch/v1' : 'apps/v1' },
        }),
      );
    }
    // Without auditd the kernel lets 10 audit lines per 5 s through to kmsg; this test makes a handful,
    // but earlier tests may have used the burst up.
    restorePrintk = disablePrintkRateLimit();
  });

  afterAll(async () => {
    restorePrintk?.();
    await api.close();
    for (const s of scenarios) s.cgroup.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  // Each violation comes from a child forked inside the container's cgroup (born there, as a container's
  // processes are), which lives 100 ms, violates once and is reaped by its parent at once: by the time the
  // record is read /proc/<pid> may be gone, and the agent must know the child from its pre-warm scan.
  async function violateAll(): Promise<Expected[]> {
    const [a, b] = scenarios;
    if (a === undefined || b === undefined) throw new Error('scenarios missing');
    const expected: Expected[] = [];
    const runs: [Scenario, string, string, string][] = [
      [a, 'log', 'LOG', 'logged'],
      [a, 'errno', 'ERRNO', 'blocked'],
      [b, 'kill', 'KILL_PROCESS', 'killed'],
      [b, 'log', 'LOG', 'logged'],
    ];
    for (const [scenario, mode, action, outcome] of runs) {
      const parent: ViolatorProcess = await startViolatorIn(scenario.cgroup, violator, [
        'fork',
        '1',
        '100',
        '0',
        mode,
      ]);
      const reaped = await parent.waitFor('reaped');
      await parent.exited;
      expect(reaped.signal).toBe(mode === 'kill' ? 31 : 0);
      expected.push({ pid: reaped.pid, action, outcome, scenario });
    }
    return expected;
  }

  function checkEvents(events: KernwatchEvent[], expected: Expected[], source: string): void {
    for (const x of expected) {
      const mine = events.filter((e) => e.process.pid === x.pid);
      expect(mine, `events of pid ${String(x.pid)}`).toHaveLength(1);
      const e = mine[0];
      if (e === undefined) continue;
      expect(e.source).toBe(source);
      expect(e.node).toBe(NODE);
      expect(e.kind).toBe('seccomp');
      expect(e.outcome).toBe(x.outcome);
      expect(e.seccomp?.action).toBe(x.action);
      expect(e.seccomp?.syscall).toBe('getppid');
      expect(e.raw[0]).toMatch(
        source === 'auditd' ? /^type=SECCOMP msg=audit\(/ : /;audit: type=1326 audit\(/,
      );
      expect(e.attribution).toBe('pod');
      // The systemd driver's scope names the runtime (cri-containerd-<id>.scope); the cgroupfs driver's bare
      // id does not, and without a CRI socket nothing else can.
      expect(e.container).toEqual(
        x.scenario.cgroup.style === CGROUP_STYLE.systemd
          ? { id: x.scenario.cgroup.containerId, runtime: 'containerd' }
          : { id: x.scenario.cgroup.containerId },
      );
      expect(e.pod).toEqual({ ...x.scenario.pod, uid: x.scenario.cgroup.podUid });
      expect(denialSchemaErrors(e)).toEqual([]);
    }
  }

  /**
   * Each violation is also a Kubernetes Event on its pod (written before the agent's clean stop ended):
   * one per pod and kind of denial, with the action of its outcome, among those of earlier runs.
   */
  function checkKubernetesEvents(expected: Expected[]): void {
    const stored = api.objects(EVENTS);
    for (const x of expected) {
      const mine = stored.filter((o) => {
        const regarding = (o as unknown as { regarding?: { uid?: string } }).regarding;
        const action = (o as unknown as { action?: string }).action;
        return regarding?.uid === x.scenario.cgroup.podUid && action?.toLowerCase() === x.outcome;
      });
      expect(mine.length, `Kubernetes Events of ${x.scenario.pod.name} (${x.outcome})`).toBeGreaterThan(0);
      for (const o of mine) {
        expect(o).toMatchObject({
          reason: 'SeccompViolation',
          type: 'Warning',
          reportingController: 'kernwatch.io/agent',
          reportingInstance: `kernwatch-${NODE}`,
          regarding: { kind: 'Pod', name: x.scenario.pod.name, namespace: x.scenario.pod.namespace },
        });
      }
    }
  }

  async function runAgentAndViolate(
    source: string[],
    expectedSource: string,
  ): Promise<{ agent: AgentProcess; events: KernwatchEvent[]; expected: Expected[] }> {
    const out = join(dir, `${expectedSource}.ndjson`);
    const agent = startAgent([
      'run',
      ...source,
      '--sink',
      `file:${out}`,
      '--state-dir',
      join(dir, `state-${expectedSource}`),
      '--node',
      NODE,
      '--kubeconfig',
      kubeconfig,
    ]);
    try {
      await agentReady(agent);
      await waitFor('the pod informer to list', () =>
        api.count('list') > 0 && api.count('watch') > 0 ? true : undefined,
      );
      const expected = await violateAll();
      const events = await waitFor('an event for every violation', () => {
        const all = eventsInFile(out);
        return expected.every((x) => all.some((e) => e.process.pid === x.pid)) ? all : undefined;
      });
      expect(await agent.stop('SIGTERM')).toBe(0);
      // After a clean stop nothing more may appear: the first sighting was all there is.
      expect(eventsInFile(out)).toHaveLength(events.length);
      checkKubernetesEvents(expected);
      return { agent, events, expected };
    } finally {
      await agent.stop('SIGKILL');
    }
  }

  test('from /dev/kmsg: every violation is one event, attributed to its container and pod', async () => {
    const { agent, events, expected } = await runAgentAndViolate(['--source', 'kmsg'], 'kmsg');
    checkEvents(events, expected, 'kmsg');
    expect(agent.stderr()).not.toMatch(/"level":(50|60)/);
  });

  test("from a private auditd's audit.log: the same, with auditd's sibling records joined", async () => {
    let auditd: PrivateAuditd | undefined;
    try {
      auditd = await startPrivateAuditd(join(dir, 'auditd'));
      const { agent, events, expected } = await runAgentAndViolate(
        ['--source', `auditd:${auditd.logPath}`],
        'auditd',
      );
      checkEvents(events, expected, 'auditd');
      expect(agent.stderr()).not.toMatch(/"level":(50|60)/);
    } finally {
      await auditd?.stop();
    }
  });

  test('no API call is made per event: one list per agent start, then watches only', () => {
    expect(api.count('list')).toBe(2);
    expect(api.count('get')).toBe(0);
  });
});
