import { expect, test } from 'vitest';
import { postureChecks, type PostureInput } from '../../../agent/posture/posture-checks.js';
import {
  findingsOf,
  postureCounts,
  postureJson,
  postureTable,
} from '../../../agent/posture/posture-format.js';
import type {
  ContainerPosture,
  PostureCheck,
  PostureReport,
  SpecIntent,
} from '../../../agent/posture/posture-types.js';
import { CONFINED_KERNEL } from '../../helpers/posture-fixtures.js';

const ID_WEB = 'a3f1c2d4e5b6a7980123456789abcdef0123456789abcdef0123456789abcdef';
const ID_PAUSE = '5e0c9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d';

const CONFINED_INTENT: SpecIntent = {
  seccompProfile: 'Localhost',
  seccompLocalhostProfile: 'profiles/audit.json',
  privileged: false,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  dropsAllCapabilities: true,
  addedCapabilities: [],
  hostNetwork: false,
};

/** Every check passing, as postureChecks gives it for a confined container (its profile logs and kills). */
const CONFINED_INPUT: PostureInput = {
  kernel: CONFINED_KERNEL,
  runtime: {
    seccomp: {
      defaultAction: 'SCMP_ACT_LOG',
      actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_KILL_PROCESS'],
      flags: [],
    },
  },
  intent: CONFINED_INTENT,
  coverage: { ingress: ['default-deny'], egress: ['default-deny'] },
  lsm: { active: ['capability', 'apparmor'], apparmorEnabled: true },
  actionsLogged: ['kill_process', 'kill_thread', 'log'],
};

/** A RuntimeDefault pod running as root with a writable root and no egress policy. */
const LAX_INPUT: PostureInput = {
  ...CONFINED_INPUT,
  kernel: { ...CONFINED_KERNEL, uid: { real: 0, effective: 0, saved: 0, fs: 0 }, rootReadOnly: false },
  runtime: undefined,
  intent: {
    seccompProfile: 'RuntimeDefault',
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: false,
    runAsNonRoot: true,
    dropsAllCapabilities: true,
    addedCapabilities: [],
    hostNetwork: false,
  },
  coverage: { ingress: ['default-deny'], egress: [] },
};

/** A container outside any pod whose process is gone: everything the kernel would tell is unknown. */
const UNKNOWN_INPUT: PostureInput = {
  kernel: undefined,
  intent: undefined,
  coverage: undefined,
  lsm: { active: ['capability', 'apparmor'], apparmorEnabled: true },
  actionsLogged: ['kill_process', 'kill_thread', 'log'],
};

const WEB: ContainerPosture = {
  id: ID_WEB,
  name: 'web',
  pid: 4242,
  pod: { name: 'web-7d4b9c6f5-x2x8q', namespace: 'shop' },
  checks: postureChecks(CONFINED_INPUT),
};
const WORKER: ContainerPosture = {
  id: ID_WEB.replace('a3', 'b4'),
  name: 'worker',
  pid: 4343,
  pod: { name: 'jobs-0', namespace: 'batch' },
  checks: postureChecks(LAX_INPUT),
};
const STRAY: ContainerPosture = { id: ID_PAUSE, name: 'stray', checks: postureChecks(UNKNOWN_INPUT) };

const REPORT: PostureReport = { node: 'node-a', containers: [WEB, WORKER, STRAY] };

test('the table lines up one row per container with a status per check, then the counts', () => {
  const table = postureTable(REPORT);
  expect(table.split('\n').slice(0, 5).join('\n') + '\n').toBe(
    [
      'NAMESPACE/POD             CONTAINER  SECCOMP  SECCOMP_LOGGING  NO_NEW_PRIVS  CAPABILITIES  MAC   READONLY_ROOT  RUN_AS_NON_ROOT  NETWORK_POLICY',
      'shop/web-7d4b9c6f5-x2x8q  web        pass     pass             pass          pass          pass  pass           pass             pass',
      'batch/jobs-0              worker     pass     FAIL             pass          pass          pass  FAIL           FAIL             FAIL',
      '-                         stray      ?        ?                ?             ?             ?     ?              ?                ?',
      '3 containers: 12 findings (4 fail, 8 unknown), 12 pass',
      '',
    ].join('\n'),
  );
  // Then each finding with its detail and fix: 4 fails and 8 unknowns, two lines each.
  const findings = table.split('\n').slice(5, -1);
  expect(findings).toHaveLength(24);
  const worker = REPORT.containers[1];
  const failed = worker?.checks.find((c) => c.status === 'fail');
  expect(findings[0]).toBe(`batch/jobs-0 worker ${failed?.id ?? ''} fail: ${failed?.detail ?? ''}`);
  expect(findings[1]).toBe(`    fix: ${failed?.fix ?? ''}`);
});

test('an empty report is the header and a zero count', () => {
  expect(postureTable({ node: 'node-a', containers: [] })).toBe(
    'NAMESPACE/POD  CONTAINER  SECCOMP  SECCOMP_LOGGING  NO_NEW_PRIVS  CAPABILITIES  MAC  READONLY_ROOT  RUN_AS_NON_ROOT  NETWORK_POLICY\n' +
      '0 containers: 0 findings (0 fail, 0 unknown), 0 pass\n',
  );
});

test('a single finding is singular', () => {
  const checks: PostureCheck[] = postureChecks(CONFINED_INPUT).map((c) =>
    c.id === 'mac' ? { ...c, status: 'fail', fix: 'x' } : c,
  );
  const table = postureTable({ node: 'n', containers: [{ id: ID_WEB, name: 'web', checks }] });
  expect(table.split('\n')[2]).toBe('1 container: 1 finding (1 fail, 0 unknown), 7 pass');
  expect(table.split('\n').slice(3)).toEqual([
    `- web mac fail: ${checks.find((c) => c.id === 'mac')?.detail ?? ''}`,
    '    fix: x',
    '',
  ]);
});

test('control characters in a runtime-given name do not reach the terminal', () => {
  const table = postureTable({
    node: 'n',
    containers: [{ id: ID_PAUSE, name: 'evil\u001b[2Jname', checks: postureChecks(UNKNOWN_INPUT) }],
  });
  expect(table.split('\n')[1]?.startsWith('-              evil?[2Jname  ?')).toBe(true);
});

test('findings count fails and unknowns: unknown is not compliance', () => {
  expect(postureCounts(REPORT)).toEqual({ containers: 3, pass: 12, fail: 4, unknown: 8 });
  expect(findingsOf(REPORT)).toBe(12);
  expect(findingsOf({ node: 'n', containers: [WEB] })).toBe(0);
  expect(findingsOf({ node: 'n', containers: [STRAY] })).toBe(8);
});

test('the JSON has the contract keys in contract order; pid and pod left out when unknown', () => {
  const parsed = JSON.parse(postureJson(REPORT)) as {
    node: string;
    containers: Record<string, unknown>[];
  };
  expect(Object.keys(parsed)).toEqual(['node', 'containers']);
  expect(parsed.containers.map((c) => Object.keys(c))).toEqual([
    ['id', 'name', 'pid', 'pod', 'checks'],
    ['id', 'name', 'pid', 'pod', 'checks'],
    ['id', 'name', 'checks'],
  ]);
  const first = parsed.containers[0] as { pod: object; checks: object[] };
  expect(Object.keys(first.pod)).toEqual(['name', 'namespace']);
  for (const c of first.checks) expect(Object.keys(c)).toEqual(['id', 'section', 'status', 'detail', 'fix']);
});

test('the JSON of one container is exactly the contract', () => {
  const report: PostureReport = {
    node: 'node-a',
    containers: [
      {
        // Keys deliberately out of order: the output puts them in contract order.
        checks: postureChecks(LAX_INPUT).slice(6, 8),
        pod: { namespace: 'batch', name: 'jobs-0' },
        pid: 4343,
        name: 'worker',
        id: ID_WEB,
      },
    ],
  };
  expect(postureJson(report)).toBe(
    `${JSON.stringify(
      {
        node: 'node-a',
        containers: [
          {
            id: ID_WEB,
            name: 'worker',
            pid: 4343,
            pod: { name: 'jobs-0', namespace: 'batch' },
            checks: [
              {
                id: 'run_as_non_root',
                section: '2.2 security context',
                status: 'fail',
                detail:
                  'kernel: uid 0, euid 0, suid 0, fsuid 0 although the spec sets runAsNonRoot: true; spec: runAsNonRoot true, runAsUser unset',
                fix: 'set securityContext.runAsNonRoot: true and runAsUser to a non-zero uid',
              },
              {
                id: 'network_policy',
                section: '1.1 network',
                status: 'fail',
                detail: 'no NetworkPolicy selects the pod for egress (ingress: default-deny)',
                fix: "add a NetworkPolicy in the pod's namespace that selects it with policyTypes: [Egress] (a default deny)",
              },
            ],
          },
        ],
      },
      null,
      2,
    )}\n`,
  );
});

test('a report with no containers is still a report', () => {
  expect(postureJson({ node: 'node-a', containers: [] })).toBe(
    '{\n  "node": "node-a",\n  "containers": []\n}\n',
  );
});
