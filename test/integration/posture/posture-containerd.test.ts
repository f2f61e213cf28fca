import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PostureEvent } from '../../../agent/posture/posture-event.js';
import type { CheckStatus, PostureReport } from '../../../agent/posture/posture-types.js';
import {
  agentReady,
  CLI,
  needsBuiltCli,
  startAgent,
  waitFor,
  type AgentProcess,
} from '../../helpers/agent-process.js';
import {
  CONTAINERD_PREREQUISITES,
  startPrivateContainerd,
  type PrivateContainerd,
  type TestPod,
} from '../../helpers/containerd.js';
import {
  FakeKubeApi,
  fakeNetworkPolicy,
  fakePod,
  NETWORK_POLICIES,
  type KubeObject,
} from '../../helpers/fake-kube-api.js';
import { postureSchemaErrors } from '../../helpers/json-schema.js';
import { get, metricsPort, sample } from '../../helpers/metrics-scrape.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';

const run = promisify(execFile);

// Real containers under a private containerd, each confined differently; their pod specs and the
// namespace's NetworkPolicies come from the fake API server. `kernwatch posture` must report what the
// kernel enforces on each (from /proc), what the spec asks, and, on this machine where no AppArmor or
// SELinux is active, say the MAC check is unknown rather than pass it.

const skip = missingPrerequisite([needsBuiltCli, ...CONTAINERD_PREREQUISITES]);
const NODE = 'posture-node';
const NAMESPACE = 'shop';

describe.skipIf(skip)('kernwatch posture with real containers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-posture-'));
  const kubeconfig = join(dir, 'kubeconfig');
  let containerd: PrivateContainerd | undefined;
  let api: FakeKubeApi | undefined;
  let agent: AgentProcess | undefined;
  let confined: TestPod;
  let plain: TestPod;
  let runtimeDefault: TestPod;

  /** The API server's copy of a CRI pod, with the container's securityContext as the kubelet got it. */
  const apiPod = (
    pod: TestPod,
    securityContext: Record<string, unknown>,
    labels: Record<string, string>,
  ): KubeObject => {
    const object = fakePod({ name: pod.name, namespace: NAMESPACE, uid: pod.uid, nodeName: NODE, labels });
    (object.spec as { containers: unknown[] }).containers = [
      { name: 'app', image: 'localhost/busybox:1.35', securityContext },
    ];
    return object;
  };

  const posture = async (): Promise<{ code: number; report: PostureReport; table: string }> => {
    const flags = ['--cri-socket', containerd?.socket ?? '', '--kubeconfig', kubeconfig, '--node', NODE];
    const result = async (args: string[]): Promise<{ code: number; stdout: string }> => {
      try {
        const { stdout } = await run(process.execPath, [CLI, 'posture', ...args, ...flags]);
        return { code: 0, stdout };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? -1, stdout: e.stdout ?? '' };
      }
    };
    const json = await result(['--json']);
    const table = await result([]);
    return { code: json.code, report: JSON.parse(json.stdout) as PostureReport, table: table.stdout };
  };

  const statuses = (report: PostureReport, podName: string): Record<string, CheckStatus> => {
    const c = report.containers.find((x) => x.pod?.name === podName && x.name === 'app');
    if (c === undefined) throw new Error(`no container app of ${podName} in ${JSON.stringify(report)}`);
    return Object.fromEntries(c.checks.map((k) => [k.id, k.status]));
  };

  beforeAll(async () => {
    containerd = await startPrivateContainerd(join(dir, 'containerd'));
    api = await FakeKubeApi.start();
    await api.writeKubeconfig(kubeconfig);
    const profile = join(dir, 'log-mkdir.json');
    writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        // Denies (and logs, by killing) what the workload never calls; logs what should be watched.
        syscalls: [
          { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_LOG' },
          { names: ['ptrace', 'unshare', 'mount'], action: 'SCMP_ACT_KILL_PROCESS' },
        ],
      }),
    );
    confined = await containerd.runPod({
      name: 'confined',
      namespace: NAMESPACE,
      labels: { app: 'confined' },
    });
    await containerd.createContainer(confined, {
      name: 'app',
      command: ['/bin/sleep', '3600'],
      seccompProfilePath: profile,
      readonlyRootfs: true,
      noNewPrivs: true,
      runAsUser: 1000,
      capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
    });
    plain = await containerd.runPod({ name: 'plain', namespace: NAMESPACE, labels: { app: 'plain' } });
    await containerd.createContainer(plain, { name: 'app', command: ['/bin/sleep', '3600'] });
    runtimeDefault = await containerd.runPod({
      name: 'runtime-default',
      namespace: NAMESPACE,
      labels: { app: 'rd' },
    });
    await containerd.createContainer(runtimeDefault, {
      name: 'app',
      command: ['/bin/sleep', '3600'],
      seccomp: 'RuntimeDefault',
      noNewPrivs: true,
    });
    api.createPod(
      apiPod(
        confined,
        {
          seccompProfile: { type: 'Localhost', localhostProfile: 'log-mkdir.json' },
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          runAsNonRoot: true,
          runAsUser: 1000,
          capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
        },
        { app: 'confined' },
      ),
    );
    api.createPod(apiPod(plain, {}, { app: 'plain' }));
    api.createPod(
      apiPod(
        runtimeDefault,
        { seccompProfile: { type: 'RuntimeDefault' }, allowPrivilegeEscalation: false },
        { app: 'rd' },
      ),
    );
    api.create(
      NETWORK_POLICIES,
      fakeNetworkPolicy({
        name: 'confined-both-ways',
        namespace: NAMESPACE,
        podSelector: { matchLabels: { app: 'confined' } },
        policyTypes: ['Ingress', 'Egress'],
      }),
    );
    api.create(
      NETWORK_POLICIES,
      fakeNetworkPolicy({
        name: 'rd-ingress-only',
        namespace: NAMESPACE,
        podSelector: { matchLabels: { app: 'rd' } },
        policyTypes: ['Ingress'],
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await agent?.stop('SIGTERM');
    await containerd?.stop();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('each container is reported as the kernel confines it, against its spec', async () => {
    const { code, report } = await posture();
    expect(report.node).toBe(NODE);
    expect(statuses(report, 'confined')).toEqual({
      seccomp: 'pass',
      seccomp_logging: 'pass',
      no_new_privs: 'pass',
      capabilities: 'pass',
      mac: 'unknown',
      readonly_root: 'pass',
      run_as_non_root: 'pass',
      network_policy: 'pass',
    });
    expect(statuses(report, 'plain')).toEqual({
      seccomp: 'fail',
      seccomp_logging: 'fail',
      no_new_privs: 'fail',
      capabilities: 'fail',
      mac: 'unknown',
      readonly_root: 'fail',
      run_as_non_root: 'fail',
      network_policy: 'fail',
    });
    // RuntimeDefault filters, but returns EPERM without logging: its denials are invisible.
    expect(statuses(report, 'runtime-default')).toMatchObject({
      seccomp: 'pass',
      seccomp_logging: 'fail',
      no_new_privs: 'pass',
      network_policy: 'fail',
    });
    // Unknown is never compliance: any finding (or unknown) makes the exit code 1.
    expect(code).toBe(1);
    const confinedPosture = report.containers.find((c) => c.pod?.name === 'confined');
    expect(confinedPosture?.pid).toBeGreaterThan(1);
    expect(confinedPosture?.pod).toEqual({ name: 'confined', namespace: NAMESPACE });
    const mac = confinedPosture?.checks.find((k) => k.id === 'mac');
    expect(mac?.section).toBe('4.1 MAC');
    // securityfs is not mounted here and /proc/PID/attr/current answers EINVAL: no MAC LSM runs.
    expect(mac?.detail).toContain('no AppArmor or SELinux');
    const network = report.containers
      .find((c) => c.pod?.name === 'runtime-default')
      ?.checks.find((k) => k.id === 'network_policy');
    expect(network?.detail).toBe('no NetworkPolicy selects the pod for egress (ingress: rd-ingress-only)');
    expect(network?.fix).not.toBe('');
  });

  test('the table names every container with its checks', async () => {
    const { table } = await posture();
    for (const name of ['confined', 'plain', 'runtime-default'])
      expect(table).toContain(`${NAMESPACE}/${name}`);
    expect(table).toContain('SECCOMP_LOGGING');
    expect(table).toContain(`${NAMESPACE}/plain app seccomp fail: kernel: no seccomp filter`);
    expect(table).toContain(
      '    fix: set securityContext.seccompProfile.type: RuntimeDefault (or Localhost)',
    );
  });

  test('without an API server, spec and network checks are unknown, kernel checks still known', async () => {
    let stdout = '';
    try {
      ({ stdout } = await run(process.execPath, [
        CLI,
        'posture',
        '--json',
        '--cri-socket',
        containerd?.socket ?? '',
        '--node',
        NODE,
      ]));
    } catch (err) {
      stdout = (err as { stdout?: string }).stdout ?? '';
    }
    const report = JSON.parse(stdout) as PostureReport;
    expect(statuses(report, 'confined')).toEqual({
      seccomp: 'pass',
      seccomp_logging: 'pass',
      no_new_privs: 'pass',
      // The bounding set holds only NET_BIND_SERVICE: the kernel's own record of drop ALL.
      capabilities: 'pass',
      mac: 'unknown',
      readonly_root: 'pass',
      run_as_non_root: 'pass',
      network_policy: 'unknown',
    });
    expect(statuses(report, 'plain')).toMatchObject({ capabilities: 'fail', run_as_non_root: 'fail' });
  });

  test('kernwatch run publishes posture on change, with gauges by namespace, check and status', async () => {
    const out = join(dir, 'run.ndjson');
    const config = join(dir, 'run.yaml');
    writeFileSync(config, JSON.stringify({ posture: { interval: '1s' } }));
    agent = startAgent([
      'run',
      '--config',
      config,
      '--source',
      `syslog:${join(dir, 'empty.log')}`,
      '--sink',
      `file:${out}`,
      '--state-dir',
      join(dir, 'state'),
      '--node',
      NODE,
      '--cri-socket',
      containerd?.socket ?? '',
      '--kubeconfig',
      kubeconfig,
      '--metrics-addr',
      '127.0.0.1:0',
    ]);
    writeFileSync(join(dir, 'empty.log'), '');
    await agentReady(agent);
    const postureEvents = (): PostureEvent[] =>
      readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"schema":"kernwatch.v1.posture"'))
        .map((l) => JSON.parse(l) as PostureEvent);
    const first = await waitFor('the first posture events', () => {
      const events = postureEvents();
      return events.filter((e) => e.pod?.namespace === NAMESPACE).length >= 3 ? events : undefined;
    });
    const plainEvent = first.find((e) => e.pod?.name === 'plain');
    expect(plainEvent?.changed).toHaveLength(8);
    // 7 fails and the unknown MAC check: unknown is not compliance.
    expect(plainEvent?.findings).toBe(8);
    // Scans every second publish nothing while nothing changes…
    await new Promise((r) => setTimeout(r, 2500));
    expect(postureEvents().filter((e) => e.pod?.name === 'plain')).toHaveLength(1);
    // …until a NetworkPolicy starts covering the plain pod both ways.
    api?.create(
      NETWORK_POLICIES,
      fakeNetworkPolicy({
        name: 'plain-both-ways',
        namespace: NAMESPACE,
        podSelector: { matchLabels: { app: 'plain' } },
        policyTypes: ['Ingress', 'Egress'],
      }),
    );
    const changed = await waitFor(
      'the plain pod’s posture change',
      () => postureEvents().filter((e) => e.pod?.name === 'plain')[1],
    );
    expect(changed.changed).toEqual(['network_policy']);
    expect(changed.findings).toBe(7);
    const port = metricsPort(agent);
    if (port === undefined) throw new Error('no metrics port');
    const { body } = await get(port, '/metrics');
    expect(
      sample(
        body,
        `kernwatch_posture_containers{namespace="${NAMESPACE}",check="network_policy",status="pass"}`,
      ),
    ).toBe(2);
    expect(
      sample(body, `kernwatch_posture_containers{namespace="${NAMESPACE}",check="seccomp",status="fail"}`),
    ).toBe(1);
    expect(sample(body, 'kernwatch_posture_scans_total{result="ok"}')).toBeGreaterThanOrEqual(2);
    for (const e of postureEvents()) expect(postureSchemaErrors(e), e.id).toEqual([]);
  });
});
