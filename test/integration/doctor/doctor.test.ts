import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WELL_KNOWN_CRI_SOCKETS } from '../../../agent/attribute/cri/cri-sockets.js';
import {
  auditStatus,
  noAuditdRegistered,
  startPrivateAuditd,
  type PrivateAuditd,
} from '../../helpers/auditd.js';
import { needsBuiltCli, startAgent } from '../../helpers/agent-process.js';
import {
  CONTAINERD_PREREQUISITES,
  startPrivateContainerd,
  type PrivateContainerd,
} from '../../helpers/containerd.js';
import { FakeKubeApi, type AccessRule } from '../../helpers/fake-kube-api.js';
import { freePort, hasNatsServer, NatsServer } from '../../helpers/nats-server.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';

/**
 * `kernwatch doctor` as users run it (the built CLI) on this machine: Debian 12, kernel 6.18 with
 * the default seccomp actions_logged and printk limits, no MAC LSM, hybrid cgroups, runc 1.1.5, no
 * system auditd — with and without a private auditd, a private nats-server, the fake API server allowing
 * and denying verbs, and a private containerd for the CRI check. Statuses are asserted exactly; where a
 * status follows from a counter of the kernel (records lost since boot), the test reads it itself.
 */

const why = missingPrerequisite([
  isRoot,
  needsBuiltCli,
  hasCommand('auditd', 'auditd'),
  hasCommand('auditctl', 'auditd'),
  hasCommand('runc', 'runc'),
  hasNatsServer,
  noAuditdRegistered,
]);

interface Check {
  id: string;
  status: string;
  detail: string;
  fix: string;
}

interface DoctorRun {
  code: number | string;
  stdout: string;
  stderr: string;
  checks: Map<string, Check>;
}

/** The environment of a process on a node outside a cluster: no in-cluster config, no NODE_NAME. */
function plainEnv(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...overrides };
  delete env.KUBERNETES_SERVICE_HOST;
  delete env.KUBERNETES_SERVICE_PORT;
  delete env.NODE_NAME;
  delete env.KERNWATCH_NATS_URL;
  return env;
}

async function doctor(args: readonly string[], env: NodeJS.ProcessEnv = plainEnv()): Promise<DoctorRun> {
  const child = startAgent(['doctor', '--json', '--node', 'doctor-test', ...args], env);
  const code = await child.exited;
  const stdout = child.stdout();
  const checks = new Map<string, Check>();
  if (stdout.startsWith('{')) {
    const report = JSON.parse(stdout) as { node: string; checks: Check[] };
    expect(report.node).toBe('doctor-test');
    for (const c of report.checks) checks.set(c.id, c);
  }
  return { code, stdout, stderr: child.stderr(), checks };
}

function statuses(run: DoctorRun): Record<string, string> {
  return Object.fromEntries([...run.checks].map(([id, c]) => [id, c.status]));
}

function check(run: DoctorRun, id: string): Check {
  const c = run.checks.get(id);
  if (c === undefined) throw new Error(`no ${id} check in: ${run.stdout}${run.stderr}`);
  return c;
}

/** audit-status: warn while the kernel's lost counter is above 0 (it is never reset by itself). */
async function expectedAuditStatus(): Promise<string> {
  return (await auditStatus()).lost > 0 ? 'warn' : 'pass';
}

/** What this machine answers whatever runs on it (see the file comment). */
const MACHINE = {
  'seccomp-actions-logged': 'pass',
  lsm: 'warn',
  cgroup: 'pass',
  runc: 'warn',
} as const;

/** cri without --cri-socket: a warn when none of the usual sockets exists here. */
const noUsualCriSocket = (): boolean => WELL_KNOWN_CRI_SOCKETS.every((p) => !existsSync(p));

describe.skipIf(why !== undefined)('kernwatch doctor on this machine', () => {
  let dir = '';
  let api: FakeKubeApi;
  let nats: NatsServer | undefined;
  let auditd: PrivateAuditd | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kernwatch-doctor-'));
    api = await FakeKubeApi.start();
    await api.writeKubeconfig(join(dir, 'kubeconfig'));
  });

  afterEach(async () => {
    await auditd?.stop();
    auditd = undefined;
    await nats?.remove();
    nats = undefined;
    api.allowAll();
  });

  afterAll(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without auditd, NATS or an API server, and a configured CRI socket that is missing', async () => {
    const run = await doctor(['--cri-socket', join(dir, 'no-runtime.sock')]);
    expect(run.stderr).toBe('');
    expect(statuses(run)).toEqual({
      auditd: 'warn',
      'audit-status': await expectedAuditStatus(),
      'seccomp-actions-logged': MACHINE['seccomp-actions-logged'],
      'printk-ratelimit': 'warn',
      lsm: MACHINE.lsm,
      cgroup: MACHINE.cgroup,
      runc: MACHINE.runc,
      cri: 'fail',
      nats: 'warn',
      api: 'warn',
    });
    // The configured socket is missing: that alone fails the run.
    expect(run.code).toBe(1);
    expect(check(run, 'cri').detail).toBe(
      `the configured CRI socket ${join(dir, 'no-runtime.sock')} does not exist`,
    );

    const interval = readFileSync('/proc/sys/kernel/printk_ratelimit', 'utf8').trim();
    const burst = readFileSync('/proc/sys/kernel/printk_ratelimit_burst', 'utf8').trim();
    expect(check(run, 'printk-ratelimit').detail).toBe(
      `printk_ratelimit ${interval} s, printk_ratelimit_burst ${burst}: without auditd at most ${burst} audit records per ${interval} s reach /dev/kmsg, the rest are lost`,
    );
    const runcVersion = execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
    expect(check(run, 'runc').detail.startsWith(`runc ${runcVersion.slice('runc version '.length)} `)).toBe(
      true,
    );
    expect(check(run, 'audit-status').detail).toMatch(
      /^enabled \d, no daemon \(pid 0\): records go to \/dev\/kmsg, /,
    );
    expect(check(run, 'cgroup').detail).toBe('v1 (hybrid: cgroup2 also mounted at /sys/fs/cgroup/unified)');
  });

  it.skipIf(!noUsualCriSocket())('exits 0 when nothing fails: no CRI socket at all is a warn', async () => {
    const run = await doctor([]);
    expect(check(run, 'cri').status).toBe('warn');
    expect(run.code).toBe(0);
  });

  it('prints the table without --json', async () => {
    const child = startAgent(['doctor', '--node', 'doctor-test'], plainEnv());
    await child.exited;
    const lines = child.stdout().trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'node doctor-test',
      'STATUS  CHECK                   DETAIL',
      expect.stringMatching(/^warn {4}auditd {18}auditd is not running\. /) as unknown as string,
    ]);
    expect(lines[3]).toBe(
      '                                fix: run auditd on the node (Debian/Ubuntu: apt-get install auditd), or raise kernel.printk_ratelimit_burst (see printk-ratelimit)',
    );
    expect(lines.at(-1)).toMatch(/^\d+ fail, \d+ warn, \d+ pass$/);
  });

  it('with a private auditd: auditd and printk pass, its log named', async () => {
    auditd = await startPrivateAuditd(join(dir, 'auditd'));
    const run = await doctor([]);
    expect(statuses(run)).toMatchObject({
      auditd: 'pass',
      'audit-status': await expectedAuditStatus(),
      'printk-ratelimit': 'pass',
      ...MACHINE,
    });
    expect(check(run, 'auditd').detail).toBe(
      `auditd is running (pid ${auditd.pid}) and its log ${auditd.logPath} exists, so audit records go there and not to /dev/kmsg. The kernel hands records to pid ${auditd.pid}.`,
    );
    expect(check(run, 'audit-status').detail).toMatch(
      new RegExp(
        `^enabled 1, daemon pid ${auditd.pid}, backlog_limit 8192, rate_limit 0, lost \\d+, backlog \\d+`,
      ),
    );
    expect(check(run, 'printk-ratelimit').detail).toMatch(
      /; not used while an audit daemon receives the records$/,
    );
  });

  it('with a private auditd and a config that reads only /dev/kmsg: auditd fails', async () => {
    auditd = await startPrivateAuditd(join(dir, 'auditd'));
    const config = join(dir, 'kmsg-only.yaml');
    writeFileSync(config, 'sources: [{ type: kmsg }]\n');
    const run = await doctor(['--config', config]);
    expect(check(run, 'auditd')).toMatchObject({
      status: 'fail',
      detail: `The config reads only kmsg:/dev/kmsg, but an audit daemon (pid ${auditd.pid}) is registered with the kernel: no audit record reaches /dev/kmsg while it runs.`,
    });
    expect(run.code).toBe(1);
  });

  it('without auditctl and runc on PATH (as inside a pod): both unknown, warned', async () => {
    const run = await doctor([], plainEnv({ PATH: join(dir, 'empty-path') }));
    expect(check(run, 'audit-status')).toMatchObject({
      status: 'warn',
      detail: 'unknown: auditctl is not found on PATH',
    });
    expect(check(run, 'runc')).toMatchObject({
      status: 'warn',
      detail: 'unknown: runc is not found on PATH',
    });
    expect(check(run, 'auditd').status).toBe('warn');
  });

  it('with a private nats-server: the stream missing is a warn, present a pass, not capturing kernwatch.> a fail', async () => {
    nats = await NatsServer.start();
    const url = nats.url;
    const missing = await doctor(['--nats', url]);
    expect(check(missing, 'nats')).toEqual({
      id: 'nats',
      status: 'warn',
      detail: `${url}: JetStream answers, but there is no stream KERNWATCH yet`,
      fix: 'none needed: the agent creates KERNWATCH (subjects kernwatch.>) when it starts, if its NATS user may',
    });

    const nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.add({
        name: 'KERNWATCH',
        subjects: ['kernwatch.>'],
        duplicate_window: 120_000_000_000,
      });
      const present = await doctor(['--nats', url]);
      expect(check(present, 'nats')).toEqual({
        id: 'nats',
        status: 'pass',
        detail: `${url}: JetStream stream KERNWATCH (subjects kernwatch.>, 0 messages, file storage)`,
        fix: '',
      });
      // Streams may not overlap: the narrow one replaces it.
      await jsm.streams.delete('KERNWATCH');
      await jsm.streams.add({ name: 'NARROW', subjects: ['kernwatch.v1.denial.>'] });
    } finally {
      await nc.close();
    }

    // The stream name comes from the config's nats sink, --nats replaces only its url.
    const config = join(dir, 'narrow.yaml');
    writeFileSync(config, `sinks: [{ type: nats, url: "nats://127.0.0.1:1", stream: NARROW }]\n`);
    const narrow = await doctor(['--config', config, '--nats', url]);
    expect(check(narrow, 'nats')).toMatchObject({
      status: 'fail',
      detail:
        `${url}: JetStream stream NARROW (subjects kernwatch.v1.denial.>, 0 messages, file storage); ` +
        'subjects kernwatch.v1.denial.>, kernwatch wants kernwatch.>: events on uncaptured subjects are never stored',
      fix: "add kernwatch.> to the stream's subjects (nats stream edit NARROW); kernwatch never changes an existing stream",
    });
    expect(narrow.code).toBe(1);
  });

  it('with NATS requiring a token: the sink token file logs in, a wrong one fails', async () => {
    nats = await NatsServer.start({ auth: { token: 'doctor-s3cret' } });
    const good = join(dir, 'token');
    const bad = join(dir, 'bad-token');
    writeFileSync(good, 'doctor-s3cret\n', { mode: 0o600 });
    writeFileSync(bad, 'wrong\n', { mode: 0o600 });
    const config = (tokenFile: string): string => {
      const path = join(dir, `nats-${tokenFile.endsWith('bad-token') ? 'bad' : 'good'}.yaml`);
      writeFileSync(path, `sinks: [{ type: nats, url: "${nats?.url ?? ''}", tokenFile: "${tokenFile}" }]\n`);
      return path;
    };
    expect(check(await doctor(['--config', config(good)]), 'nats').status).toBe('warn');
    const refused = await doctor(['--config', config(bad)]);
    expect(check(refused, 'nats').status).toBe('fail');
    expect(check(refused, 'nats').detail).toMatch(
      new RegExp(`^cannot connect to ${nats.url}: .*Authorization Violation`, 'i'),
    );
  });

  it('fails NATS that does not answer', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const run = await doctor(['--nats', url]);
    expect(check(run, 'nats').status).toBe('fail');
    expect(check(run, 'nats').detail.startsWith(`cannot connect to ${url}: `)).toBe(true);
    expect(run.code).toBe(1);
  });

  it('with the API server allowing every verb kernwatch uses: pass', async () => {
    const run = await doctor(['--kubeconfig', join(dir, 'kubeconfig')]);
    expect(check(run, 'api')).toEqual({
      id: 'api',
      status: 'pass',
      detail: `${api.url}: allowed list pods, watch pods, create events.k8s.io/events, patch events.k8s.io/events, list networking.k8s.io/networkpolicies`,
      fix: '',
    });
  });

  it('with the API server denying watch on pods: fail, exit 1', async () => {
    const rules: AccessRule[] = [
      { verb: 'list', resource: 'pods' },
      { verb: 'create', resource: 'events', group: 'events.k8s.io' },
      { verb: 'patch', resource: 'events', group: 'events.k8s.io' },
      { verb: 'list', resource: 'networkpolicies', group: 'networking.k8s.io' },
    ];
    api.allowOnly(rules);
    const run = await doctor(['--kubeconfig', join(dir, 'kubeconfig')]);
    expect(check(run, 'api')).toEqual({
      id: 'api',
      status: 'fail',
      detail: `${api.url}: denied watch pods (attribution)`,
      fix: "grant in kernwatch's ClusterRole: pods: watch",
    });
    expect(run.code).toBe(1);
  });

  it("with DESIGN.md's responses in dry-run and delete denied: warn; enabled: fail", async () => {
    api.allowOnly([
      { verb: 'list', resource: 'pods' },
      { verb: 'watch', resource: 'pods' },
      { verb: 'get', resource: 'pods' },
      { verb: 'get', resource: 'replicasets', group: 'apps' },
      { verb: 'get', resource: 'statefulsets', group: 'apps' },
      { verb: 'get', resource: 'replicationcontrollers' },
      { verb: '*', resource: 'events', group: 'events.k8s.io' },
      { verb: 'list', resource: 'networkpolicies', group: 'networking.k8s.io' },
    ]);
    const responses = (enabled: boolean): string => {
      const path = join(dir, `responses-${String(enabled)}.yaml`);
      writeFileSync(
        path,
        [
          'responses:',
          `  enabled: ${String(enabled)}`,
          '  rules:',
          '    - name: kill-on-seccomp-kill',
          '      match: { kind: seccomp, outcome: [killed], namespaces: ["prod-*"] }',
          '      actions: [ { type: nft_quarantine, ttl: 1h }, { type: delete_pod, gracePeriodSeconds: 0 } ]',
          '',
        ].join('\n'),
      );
      return path;
    };
    const dryRun = await doctor(['--config', responses(false), '--kubeconfig', join(dir, 'kubeconfig')]);
    expect(check(dryRun, 'api')).toMatchObject({
      status: 'warn',
      detail: `${api.url}: allowed what attribution, Events and dry-run responses use; denied delete pods (delete_pod), which responses need once responses.enabled is true`,
    });
    const live = await doctor(['--config', responses(true), '--kubeconfig', join(dir, 'kubeconfig')]);
    expect(check(live, 'api')).toMatchObject({
      status: 'fail',
      detail: `${api.url}: denied delete pods (delete_pod)`,
    });
    expect(live.code).toBe(1);
  });

  it('fails an API server that is not there', async () => {
    const kubeconfig = join(dir, 'kubeconfig-down');
    const port = await freePort();
    writeFileSync(kubeconfig, api.kubeconfig().replace(api.url, `http://127.0.0.1:${port}`));
    const run = await doctor(['--kubeconfig', kubeconfig]);
    expect(check(run, 'api').status).toBe('fail');
    expect(check(run, 'api').detail).toContain(
      `cannot ask http://127.0.0.1:${port} (SelfSubjectAccessReview): `,
    );
  });

  it('exits 2 for a config it cannot read', async () => {
    const run = await doctor(['--config', join(dir, 'missing.yaml')]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`kernwatch: Cannot read config file ${join(dir, 'missing.yaml')}`);
  });
});

const whyContainerd = why ?? missingPrerequisite(CONTAINERD_PREREQUISITES);

describe.skipIf(whyContainerd !== undefined)('kernwatch doctor with a private containerd', () => {
  let dir = '';
  let containerd: PrivateContainerd | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kernwatch-doctor-ctd-'));
    containerd = await startPrivateContainerd(dir);
  }, 120_000);

  afterAll(async () => {
    await containerd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes the CRI check with the runtime and its version', async () => {
    const socket = containerd?.socket ?? '';
    const run = await doctor(['--cri-socket', socket]);
    const version =
      execFileSync('containerd', ['--version'], { encoding: 'utf8' }).trim().split(' ')[2] ?? '';
    expect(check(run, 'cri')).toEqual({
      id: 'cri',
      status: 'pass',
      detail: `containerd ${version}, CRI v1 at ${socket}`,
      fix: '',
    });
  });
});
