import { describe, expect, it } from 'vitest';
import { guarded, natsTarget } from '../../../agent/doctor/doctor.js';
import { formatDoctorJson, formatDoctorTable, summary } from '../../../agent/doctor/doctor-report.js';
import { fail, pass, warn, type CheckResult } from '../../../agent/doctor/doctor-types.js';
import { natsCheck } from '../../../agent/doctor/nats-check.js';
import { validateConfig } from '../../../agent/config/config-loader.js';
import { freePort } from '../../helpers/nats-server.js';

/** The doctor's outputs, its per-check deadline, and the NATS check where no server is needed. */

const CHECKS: CheckResult[] = [
  pass('cgroup', 'v1 (hybrid: cgroup2 also mounted at /sys/fs/cgroup/unified)'),
  warn('runc', 'runc 1.1.5+ds1 refuses seccomp profile flags', 'upgrade runc to 1.2 or later'),
  fail(
    'api',
    'https://10.0.0.1:6443: denied watch pods (attribution)',
    "grant in kernwatch's ClusterRole: pods: watch",
  ),
];

describe('formatDoctorTable', () => {
  it('aligns STATUS CHECK DETAIL and puts the fix of a warn or fail under the detail', () => {
    expect(formatDoctorTable({ node: 'worker-3', checks: CHECKS })).toBe(
      [
        'node worker-3',
        'STATUS  CHECK   DETAIL',
        'pass    cgroup  v1 (hybrid: cgroup2 also mounted at /sys/fs/cgroup/unified)',
        'warn    runc    runc 1.1.5+ds1 refuses seccomp profile flags',
        '                fix: upgrade runc to 1.2 or later',
        'fail    api     https://10.0.0.1:6443: denied watch pods (attribution)',
        "                fix: grant in kernwatch's ClusterRole: pods: watch",
        '1 fail, 1 warn, 1 pass',
        '',
      ].join('\n'),
    );
  });

  it('keeps control characters from files out of the terminal', () => {
    const table = formatDoctorTable({
      node: 'n',
      checks: [warn('lsm', 'active LSMs: \u001b[31mred\n', 'x\ty')],
    });
    expect(table).toContain('active LSMs:  [31mred ');
    expect(table).toContain('fix: x y');
  });
});

describe('formatDoctorJson', () => {
  it('is one object per line: node and the checks with id, status, detail, fix', () => {
    const text = formatDoctorJson({ node: 'worker-3', checks: CHECKS });
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n')).toHaveLength(2);
    expect(JSON.parse(text)).toEqual({
      node: 'worker-3',
      checks: [
        {
          id: 'cgroup',
          status: 'pass',
          detail: 'v1 (hybrid: cgroup2 also mounted at /sys/fs/cgroup/unified)',
          fix: '',
        },
        {
          id: 'runc',
          status: 'warn',
          detail: 'runc 1.1.5+ds1 refuses seccomp profile flags',
          fix: 'upgrade runc to 1.2 or later',
        },
        {
          id: 'api',
          status: 'fail',
          detail: 'https://10.0.0.1:6443: denied watch pods (attribution)',
          fix: "grant in kernwatch's ClusterRole: pods: watch",
        },
      ],
    });
    expect(summary([])).toBe('0 fail, 0 warn, 0 pass');
  });
});

describe('guarded', () => {
  it('turns a check past its deadline into a result of its own', async () => {
    const never = (): Promise<CheckResult> => new Promise(() => undefined);
    expect(await guarded('nats', 50, 'fail', never)).toEqual({
      id: 'nats',
      status: 'fail',
      detail: 'no result within 50 ms',
      fix: 'run kernwatch doctor again; if it keeps timing out, that part of the node is stuck',
    });
  });

  it('turns a throw into a result, and passes a result through', async () => {
    const thrown = await guarded('lsm', 1000, 'warn', () =>
      Promise.reject(new Error('EACCES: permission denied\n, open')),
    );
    expect(thrown).toMatchObject({
      id: 'lsm',
      status: 'warn',
      detail: 'the check failed: EACCES: permission denied; , open',
    });
    const ok = pass('cgroup', 'v2');
    expect(await guarded('cgroup', 1000, 'warn', () => Promise.resolve(ok))).toBe(ok);
  });
});

describe('natsTarget', () => {
  const sinks = (input: unknown[]): ReturnType<typeof validateConfig>['sinks'] =>
    validateConfig({ sinks: input }, 't').sinks;

  it('is the first nats sink, with its authentication; --nats replaces its url only', () => {
    const configured = sinks([
      { type: 'stdout' },
      {
        type: 'nats',
        url: 'tls://nats.kernwatch:4222',
        stream: 'SECURITY',
        credsFile: '/etc/kernwatch/nats.creds',
        duplicateWindow: '5m',
      },
    ]);
    expect(natsTarget(configured, undefined)).toMatchObject({
      settings: { url: 'tls://nats.kernwatch:4222', credsFile: '/etc/kernwatch/nats.creds' },
      stream: 'SECURITY',
      duplicateWindowMs: 300_000,
      maxAgeMs: 7 * 86_400_000,
    });
    expect(natsTarget(configured, 'nats://127.0.0.1:4222')?.settings).toMatchObject({
      url: 'nats://127.0.0.1:4222',
      credsFile: '/etc/kernwatch/nats.creds',
    });
  });

  it('is --nats alone with the defaults, or nothing', () => {
    expect(natsTarget(sinks([{ type: 'stdout' }]), 'nats://127.0.0.1:4222')).toEqual({
      settings: { url: 'nats://127.0.0.1:4222' },
      stream: 'KERNWATCH',
      duplicateWindowMs: 120_000,
      maxAgeMs: 7 * 86_400_000,
    });
    expect(natsTarget(sinks([{ type: 'stdout' }]), undefined)).toBeUndefined();
  });
});

describe('natsCheck without a server', () => {
  it('warns when no NATS is configured, naming the sinks events go to', async () => {
    expect(
      await natsCheck({
        target: undefined,
        otherSinks: ['stdout', 'file:/var/log/kernwatch.ndjson'],
        timeoutMs: 1000,
      }),
    ).toEqual({
      id: 'nats',
      status: 'warn',
      detail:
        'no NATS configured (sinks: stdout, file:/var/log/kernwatch.ndjson): events only go to stdout/file, nobody is told at once',
      fix: 'give the agent a nats sink (kernwatch run --sink nats://HOST:PORT, or a sink of type nats in the config); check it with --nats URL',
    });
  });

  it('fails when nothing listens at the URL', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const result = await natsCheck({
      target: { settings: { url }, stream: 'KERNWATCH', duplicateWindowMs: 120_000, maxAgeMs: 0 },
      otherSinks: [],
      timeoutMs: 1000,
    });
    expect(result.status).toBe('fail');
    expect(result.detail.startsWith(`cannot connect to ${url}: `)).toBe(true);
  });

  it('fails when the credentials file cannot be read', async () => {
    const result = await natsCheck({
      target: {
        settings: { url: 'nats://127.0.0.1:4222', credsFile: '/nonexistent/nats.creds' },
        stream: 'KERNWATCH',
        duplicateWindowMs: 120_000,
        maxAgeMs: 0,
      },
      otherSinks: [],
      timeoutMs: 1000,
    });
    expect(result).toMatchObject({
      status: 'fail',
      detail:
        'cannot connect to nats://127.0.0.1:4222: Cannot read the NATS credsFile /nonexistent/nats.creds (ENOENT).',
    });
  });
});
