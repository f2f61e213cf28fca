import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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
import { agentContainer, deployJsonPatch, deployObjects, objectOf } from '../../helpers/deploy-manifest.js';
import { hasJournald, startPrivateJournald, type PrivateJournald } from '../../helpers/journald.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';
import { disablePrintkRateLimit } from '../../helpers/printk-ratelimit.js';
import { buildViolator, parseViolatorLine } from '../../helpers/violator.js';

// The agent runs with exactly the capabilities deploy/daemonset.yaml gives it, and no more: setpriv (util-
// linux) starts it as uid 0 with every other capability gone from its bounding, inheritable and ambient
// sets and no_new_privs, which is what the container runtime does for `drop: [ALL]` plus `add`. It must
// then still read a root-only audit.log written by a real auditd and other users' /proc/<pid> (the
// violator runs as uid 65534), and /dev/kmsg exactly when it holds CAP_SYSLOG; nft needs CAP_NET_ADMIN
// and nothing else.

const execFileAsync = promisify(execFile);

const skip = missingPrerequisite([
  isRoot,
  hasCommand('setpriv', 'util-linux'),
  hasCommand('gcc', 'gcc'),
  hasCommand('auditd', 'auditd'),
  hasCommand('nft', 'nftables'),
  hasCommand('ip', 'iproute2'),
  hasCommand('journalctl', 'systemd'),
  hasCommand('unshare', 'util-linux'),
  hasJournald,
  needsBuiltCli,
  noAuditdRegistered,
]);

const objects = deployObjects('daemonset.yaml');
const MANIFEST_CAPS =
  agentContainer(objectOf(objects, 'DaemonSet', 'kernwatch')).securityContext?.capabilities?.add ?? [];
const NFT_CAPS = [
  ...MANIFEST_CAPS,
  ...deployJsonPatch('nft-responses.patch.json')
    .filter((op) => op.path.endsWith('/capabilities/add'))
    .flatMap((op) => (Array.isArray(op.value) ? op.value.map(String) : [])),
];

/** Linux capability numbers (include/uapi/linux/capability.h) of the names the manifests use. */
const CAP_BITS: Readonly<Record<string, number>> = {
  NET_ADMIN: 12,
  SYS_PTRACE: 19,
  SYSLOG: 34,
  DAC_READ_SEARCH: 2,
};

/** setpriv arguments that leave a root process exactly `caps` (names as in a securityContext). */
function onlyCaps(caps: readonly string[]): string[] {
  const keep = caps.map((c) => `+${c.toLowerCase()}`);
  return [
    'setpriv',
    '--bounding-set',
    ['-all', ...keep].join(','),
    '--inh-caps',
    '-all',
    '--ambient-caps',
    '-all',
    '--no-new-privs',
    '--',
  ];
}

function capMask(caps: readonly string[]): bigint {
  return caps.reduce((m, c) => {
    const bit = CAP_BITS[c];
    if (bit === undefined) throw new Error(`unknown capability ${c}`);
    return m | (1n << BigInt(bit));
  }, 0n);
}

/** CapEff, CapPrm, CapBnd, CapAmb and NoNewPrivs of a live process. */
function capsOf(pid: number): { eff: bigint; prm: bigint; bnd: bigint; amb: bigint; nnp: string } {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const field = (name: string): string =>
    /^(\S+):\s+(\S+)$/m.exec(status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2] ?? '';
  const hex = (name: string): bigint => BigInt(`0x${field(name)}`);
  return {
    eff: hex('CapEff'),
    prm: hex('CapPrm'),
    bnd: hex('CapBnd'),
    amb: hex('CapAmb'),
    nnp: field('NoNewPrivs'),
  };
}

function expectExactly(pid: number, caps: readonly string[]): void {
  const held = capsOf(pid);
  const want = capMask(caps);
  expect({ ...held, nnp: held.nnp }).toEqual({ eff: want, prm: want, bnd: want, amb: 0n, nnp: '1' });
}

/** One LOG violation by a child of a violator running as uid 65534; resolves with the child's pid. */
async function violateAsNobody(violator: string): Promise<number> {
  // The child lives 300 ms before it violates, so the agent's process table reads its /proc first.
  const { stdout } = await execFileAsync('setpriv', [
    '--reuid',
    '65534',
    '--regid',
    '65534',
    '--clear-groups',
    '--',
    violator,
    'fork',
    '1',
    '300',
    '0',
    'log',
  ]);
  const line = stdout
    .split('\n')
    .map(parseViolatorLine)
    .find((e) => e?.kind === 'violate');
  if (line?.kind !== 'violate') throw new Error(`no violation: ${stdout}`);
  return line.pid;
}

function eventOf(path: string, pid: number): KernwatchEvent | undefined {
  return eventsInFile(path).find((e) => e.process.pid === pid);
}

describe.skipIf(skip)('the agent with exactly the DaemonSet capabilities', () => {
  let dir = '';
  let violator = '';
  let agent: AgentProcess | undefined;
  let auditd: PrivateAuditd | undefined;
  let journald: PrivateJournald | undefined;
  let restoreDmesg: (() => void) | undefined;
  let restorePrintk: (() => void) | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kw-least-privilege-'));
    violator = await buildViolator();
    // Debian's and Ubuntu's default: /dev/kmsg needs CAP_SYSLOG. Set here so the test means the same on
    // any host; restored after.
    const before = readFileSync('/proc/sys/kernel/dmesg_restrict', 'utf8').trim();
    writeFileSync('/proc/sys/kernel/dmesg_restrict', '1');
    restoreDmesg = () => {
      writeFileSync('/proc/sys/kernel/dmesg_restrict', before);
    };
    restorePrintk = disablePrintkRateLimit();
  });

  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = undefined;
    await auditd?.stop();
    auditd = undefined;
    await journald?.stop();
    journald = undefined;
  });

  afterAll(() => {
    restorePrintk?.();
    restoreDmesg?.();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `before` runs first, with every capability (e.g. to set up the pod's mounts), then `caps` only. */
  function start(
    name: string,
    caps: readonly string[],
    args: readonly string[],
    before: readonly string[] = [],
  ): { out: string } {
    const out = join(dir, `${name}.ndjson`);
    agent = startAgent(
      [
        'run',
        ...args,
        '--sink',
        `file:${out}`,
        '--state-dir',
        join(dir, `${name}-state`),
        '--node',
        'node-lp',
      ],
      { ...process.env, NODE_NAME: 'node-lp' },
      [...before, ...onlyCaps(caps)],
    );
    return { out };
  }

  it('the manifest adds no capability: everything the agent reads in the pod is readable by uid 0 alone', () => {
    expect(MANIFEST_CAPS).toEqual([]);
    expect(NFT_CAPS).toEqual(['NET_ADMIN']);
  });

  it("reads a real auditd's root-only audit.log and attributes a violation by another user's process", async () => {
    auditd = await startPrivateAuditd(join(dir, 'audit'));
    const log = statSync(auditd.logPath);
    // Only root can read it: owner root, no group or other bits, in a directory closed to others.
    expect([log.uid, log.mode & 0o077]).toEqual([0, 0]);
    expect(statSync(join(dir, 'audit')).mode & 0o007).toBe(0);

    // No --source: the agent finds the running auditd and its log itself, as it does in the pod.
    const { out } = start('auditd', MANIFEST_CAPS, []);
    const running = agent;
    if (running === undefined) throw new Error('no agent');
    await agentReady(running);
    expectExactly(running.pid, MANIFEST_CAPS);
    expect(running.stderr()).toContain(`its log ${auditd.logPath} exists`);

    const pid = await violateAsNobody(violator);
    const event = await waitFor('the violation from the audit log', () => eventOf(out, pid), 20_000);
    expect(event.source).toBe('auditd');
    expect(event.process.uid).toBe(65534);
    expect(event.seccomp?.syscall).toBe('getppid');
    // Attributed from the process's own /proc/<pid>/cgroup: another user's, read without capabilities.
    expect(event.attribution).toBe('host');
    expect(await running.stop('SIGTERM')).toBe(0);
  });

  it("without auditd, and /dev/kmsg closed to it, finds and reads journald's copy of the kernel log", async () => {
    journald = await startPrivateJournald(join(dir, 'journald'));
    // The pod's view: the host's /run/log mounted at /run/log (here: the private journald's), in a mount
    // namespace of the agent's own; then every capability the manifest does not add is dropped.
    const runLog = join(dir, 'journald', 'run-log');
    const podMounts = [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind "$1" /run/log && shift && exec "$@"',
      'sh',
      runLog,
    ];
    const { out } = start('journal', MANIFEST_CAPS, [], podMounts);
    const running = agent;
    if (running === undefined) throw new Error('no agent');
    await agentReady(running);
    expectExactly(running.pid, MANIFEST_CAPS);
    expect(running.stderr()).toContain(
      "which cannot be opened here (EPERM), so journald's copy of the kernel log in /run/log/journal is read instead.",
    );
    const pid = await violateAsNobody(violator);
    const event = await waitFor('the violation from the journal', () => eventOf(out, pid), 20_000);
    expect(event.source).toBe('journald');
    expect(event.process.uid).toBe(65534);
    expect(event.seccomp?.syscall).toBe('getppid');
    expect(event.attribution).toBe('host');
    expect(await running.stop('SIGTERM')).toBe(0);
  });

  it('cannot open /dev/kmsg without CAP_SYSLOG, and says so', async () => {
    start('kmsg-none', MANIFEST_CAPS, ['--source', 'kmsg']);
    const running = agent;
    if (running === undefined) throw new Error('no agent');
    const code = await running.exited;
    expect(code).not.toBe(0);
    expect(running.stderr()).toContain('No permission to read kmsg (EPERM)');
  });

  it('reads /dev/kmsg with CAP_SYSLOG and nothing else', async () => {
    const caps = ['SYSLOG'];
    const { out } = start('kmsg', caps, ['--source', 'kmsg']);
    const running = agent;
    if (running === undefined) throw new Error('no agent');
    await agentReady(running);
    expectExactly(running.pid, caps);
    const pid = await violateAsNobody(violator);
    const event = await waitFor('the violation from /dev/kmsg', () => eventOf(out, pid), 20_000);
    expect(event.source).toBe('kmsg');
    expect(event.process.uid).toBe(65534);
    expect(event.attribution).toBe('host');
    expect(await running.stop('SIGTERM')).toBe(0);
  });

  it('drives nft in its own network namespace with CAP_NET_ADMIN alone, and not without it', async () => {
    const netns = `kwlp${String(process.pid)}`;
    await execFileAsync('ip', ['netns', 'add', netns]);
    try {
      const inNetns = ['ip', 'netns', 'exec', netns];
      const nft = (caps: readonly string[], args: readonly string[]) =>
        execFileAsync(inNetns[0] ?? 'ip', [...inNetns.slice(1), ...onlyCaps(caps), 'nft', ...args]);
      await expect(nft([], ['add', 'table', 'inet', 'kernwatch'])).rejects.toThrow(/Operation not permitted/);
      await nft(NFT_CAPS, ['add', 'table', 'inet', 'kernwatch']);
      const { stdout } = await nft(NFT_CAPS, ['-j', 'list', 'tables']);
      expect(stdout).toContain('"name": "kernwatch"');
    } finally {
      await execFileAsync('ip', ['netns', 'delete', netns]);
    }
  });
});
