import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDoctor } from '../../../agent/cli/doctor.js';
import { parseDoctorArgs } from '../../../agent/cli/doctor-args.js';
import type { RunCommand } from '../../../agent/doctor/run-command.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/**
 * `runDoctor` end to end on a fixture node shaped like this machine (kernel 6.18, no auditd, runc 1.1.5,
 * no MAC LSM, hybrid cgroups, no CRI, NATS or API server), from the real outputs in test/fixtures/doctor.
 */

const fixture = (name: string): string => readFileSync(join(FIXTURES, 'doctor', name), 'utf8');

/** auditctl and runc as they answered on this machine. */
const recordedCommands: RunCommand = (file) => {
  if (file === 'auditctl')
    return Promise.resolve({
      kind: 'exited',
      code: 0,
      stdout: fixture('auditctl-s-kernel618-no-auditd.txt'),
      stderr: '',
    });
  if (file === 'runc')
    return Promise.resolve({
      kind: 'exited',
      code: 0,
      stdout: fixture('runc-version-debian12-1.1.5.txt'),
      stderr: '',
    });
  return Promise.resolve({ kind: 'missing', reason: 'not found on PATH' });
};

let dir: string;
let proc: string;
let sys: string;

function put(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kernwatch-doctor-run-'));
  proc = join(dir, 'proc');
  sys = join(dir, 'sys');
  put(join(proc, '1/comm'), 'systemd\n');
  put(
    join(proc, 'sys/kernel/seccomp/actions_logged'),
    'kill_process kill_thread trap errno user_notif trace log\n',
  );
  put(join(proc, 'sys/kernel/printk_ratelimit'), '5\n');
  put(join(proc, 'sys/kernel/printk_ratelimit_burst'), '10\n');
  mkdirSync(join(sys, 'kernel/security'), { recursive: true });
  put(join(sys, 'fs/cgroup/memory/cgroup.procs'), '1\n');
  put(join(sys, 'fs/cgroup/unified/cgroup.controllers'), 'hugetlb\n');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function doctor(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let outText = '';
  let errText = '';
  out.on('data', (d: Buffer) => (outText += d.toString()));
  err.on('data', (d: Buffer) => (errText += d.toString()));
  const code = await runDoctor(
    parseDoctorArgs(['--proc-root', proc, '--node', 'test-node', ...argv]),
    out,
    err,
    {
      sysRoot: sys,
      run: recordedCommands,
      env: {},
      tokenMounted: () => false,
      criSockets: [join(dir, 'containerd.sock')],
      auditLogGrowthWindowMs: 0,
    },
  );
  return { code, out: outText, err: errText };
}

describe('runDoctor', () => {
  it('reports every check of this machine in --json: warnings only, exit 0', async () => {
    const { code, out, err } = await doctor(['--json']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(out) as { node: string; checks: { id: string; status: string }[] };
    expect(report.node).toBe('test-node');
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['auditd', 'warn'],
      ['audit-status', 'warn'],
      ['seccomp-actions-logged', 'pass'],
      ['printk-ratelimit', 'warn'],
      ['lsm', 'warn'],
      ['cgroup', 'pass'],
      ['runc', 'warn'],
      ['cri', 'warn'],
      ['nats', 'warn'],
      ['api', 'warn'],
    ]);
  });

  it('prints the table, and exits 1 once a check fails', async () => {
    const ok = await doctor([]);
    expect(ok.out.split('\n').slice(0, 2)).toEqual([
      'node test-node',
      'STATUS  CHECK                   DETAIL',
    ]);
    expect(ok.out).toContain('\npass    cgroup                  v1 (hybrid: cgroup2 also mounted at ');
    expect(ok.out.trimEnd().split('\n').at(-1)).toBe('0 fail, 8 warn, 2 pass');

    writeFileSync(join(proc, 'sys/kernel/seccomp/actions_logged'), 'kill_process kill_thread errno\n');
    const failed = await doctor([]);
    expect(failed.code).toBe(1);
    expect(failed.out).toContain(
      '\nfail    seccomp-actions-logged  actions_logged: kill_process kill_thread errno;',
    );
    expect(failed.out.trimEnd().split('\n').at(-1)).toBe('1 fail, 8 warn, 1 pass');
  });

  it('exits 2 with the message for a config it cannot use', async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'sinks: [{ type: kafka }]\n');
    const { code, out, err } = await doctor(['--config', config]);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err.startsWith(`kernwatch: Invalid configuration (${config}):`)).toBe(true);
  });
});
