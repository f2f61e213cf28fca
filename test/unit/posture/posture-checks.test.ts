import { describe, expect, test } from 'vitest';
import { CAPABILITY_NAMES, decodeCapabilities } from '../../../agent/posture/capabilities.js';
import {
  PROC_FIX,
  SECCOMP_LOG_FIX,
  postureChecks,
  type PostureInput,
  type RuntimeSeccompSummary,
} from '../../../agent/posture/posture-checks.js';
import type {
  CheckId,
  KernelConfinement,
  PostureCheck,
  SpecIntent,
} from '../../../agent/posture/posture-types.js';
import { CONFINED_KERNEL } from '../../helpers/posture-fixtures.js';

/** A confined container as the kernel shows it (test/helpers/posture-fixtures.ts). */
const KERNEL: KernelConfinement = CONFINED_KERNEL;

/** A restricted pod spec with an audit profile. */
const INTENT: SpecIntent = {
  seccompProfile: 'Localhost',
  seccompLocalhostProfile: 'profiles/audit.json',
  appArmorProfile: 'RuntimeDefault',
  privileged: false,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: 10001,
  dropsAllCapabilities: true,
  addedCapabilities: [],
  hostNetwork: false,
};

/**
 * The audit profile in the runtime spec: log every syscall not allowed, kill the process on the ones it
 * must never make. (Logging alone would deny nothing: see the seccomp check.)
 */
const AUDIT_PROFILE: RuntimeSeccompSummary = {
  defaultAction: 'SCMP_ACT_LOG',
  actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_KILL_PROCESS'],
  flags: [],
};

/** A profile that allows some calls and logs the rest: it audits, but denies nothing. */
const LOG_ONLY_PROFILE: RuntimeSeccompSummary = {
  defaultAction: 'SCMP_ACT_LOG',
  actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG'],
  flags: [],
};

/** What the seccomp check answers for a filter whose runtime profile denies nothing. */
const DENY_NOTHING_FIX =
  'deny what the workload must never call: SCMP_ACT_ERRNO (with the log flag) or SCMP_ACT_KILL_PROCESS rules, or start from RuntimeDefault';

/** containerd's RuntimeDefault as the runtime spec carries it: ERRNO by default, ALLOW and ERRNO rules. */
const RUNTIME_DEFAULT: RuntimeSeccompSummary = {
  defaultAction: 'SCMP_ACT_ERRNO',
  actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO'],
  flags: [],
};

/** The kernel's default actions_logged (every action but allow). */
const ALL_LOGGED = ['kill_process', 'kill_thread', 'trap', 'errno', 'user_notif', 'trace', 'log'];

const BASE: PostureInput = {
  kernel: KERNEL,
  runtime: { seccomp: AUDIT_PROFILE, noNewPrivileges: true, rootReadonly: true },
  intent: INTENT,
  coverage: { ingress: ['default-deny'], egress: ['default-deny'] },
  lsm: { active: ['lockdown', 'capability', 'yama', 'apparmor'], apparmorEnabled: true },
  actionsLogged: ALL_LOGGED,
};

function checkOf(id: CheckId, changes: Partial<PostureInput> = {}): PostureCheck {
  const found = postureChecks({ ...BASE, ...changes }).find((c) => c.id === id);
  if (found === undefined) throw new Error(`no ${id} check`);
  return found;
}

function kernel(changes: Partial<KernelConfinement>): Partial<PostureInput> {
  return { kernel: { ...KERNEL, ...changes } };
}

function intent(changes: Partial<SpecIntent>): Partial<PostureInput> {
  return { intent: { ...INTENT, ...changes } };
}

function seccomp(profile: RuntimeSeccompSummary | null, actionsLogged = ALL_LOGGED): Partial<PostureInput> {
  return { runtime: { seccomp: profile }, actionsLogged };
}

test('a confined container passes all eight checks, in contract order', () => {
  expect(postureChecks(BASE)).toEqual([
    {
      id: 'seccomp',
      section: '3.1 seccomp',
      status: 'pass',
      detail: 'kernel: seccomp filter mode (1 filter); spec: seccompProfile Localhost profiles/audit.json',
      fix: '',
    },
    {
      id: 'seccomp_logging',
      section: '3.1 seccomp',
      status: 'pass',
      detail:
        'runtime spec: SCMP_ACT_LOG, SCMP_ACT_KILL_PROCESS; all in /proc/sys/kernel/seccomp/actions_logged',
      fix: '',
    },
    {
      id: 'no_new_privs',
      section: '2.2 security context',
      status: 'pass',
      detail: 'kernel: NoNewPrivs 1; spec: allowPrivilegeEscalation false',
      fix: '',
    },
    {
      id: 'capabilities',
      section: '2.2 security context',
      status: 'pass',
      detail: 'kernel: none effective, bounding set empty; spec: drops ALL',
      fix: '',
    },
    {
      id: 'mac',
      section: '4.1 MAC',
      status: 'pass',
      detail:
        'kernel: AppArmor profile cri-containerd.apparmor.d (enforce); spec: appArmorProfile RuntimeDefault',
      fix: '',
    },
    {
      id: 'readonly_root',
      section: '2.1 read-only root',
      status: 'pass',
      detail: 'kernel: / mounted read-only; spec: readOnlyRootFilesystem true',
      fix: '',
    },
    {
      id: 'run_as_non_root',
      section: '2.2 security context',
      status: 'pass',
      detail:
        'kernel: uid 10001, euid 10001, suid 10001, fsuid 10001; spec: runAsNonRoot true, runAsUser 10001',
      fix: '',
    },
    {
      id: 'network_policy',
      section: '1.1 network',
      status: 'pass',
      detail: 'ingress: default-deny; egress: default-deny',
      fix: '',
    },
  ]);
});

test('with nothing known, every check is unknown and none passes', () => {
  const checks = postureChecks({
    kernel: undefined,
    intent: undefined,
    coverage: undefined,
    lsm: { active: undefined, apparmorEnabled: false },
    actionsLogged: undefined,
  });
  expect(checks.map((c) => [c.id, c.status])).toEqual([
    ['seccomp', 'unknown'],
    ['seccomp_logging', 'unknown'],
    ['no_new_privs', 'unknown'],
    ['capabilities', 'unknown'],
    ['mac', 'unknown'],
    ['readonly_root', 'unknown'],
    ['run_as_non_root', 'unknown'],
    ['network_policy', 'unknown'],
  ]);
  for (const c of checks) expect(c.fix).not.toBe('');
});

describe('seccomp', () => {
  test('filter mode passes with the filter count', () => {
    expect(checkOf('seccomp', kernel({ seccompFilters: 3 }))).toMatchObject({
      status: 'pass',
      detail: 'kernel: seccomp filter mode (3 filters); spec: seccompProfile Localhost profiles/audit.json',
    });
  });

  test('filter mode on a kernel without Seccomp_filters says so', () => {
    const k = { ...KERNEL };
    delete k.seccompFilters;
    expect(checkOf('seccomp', { kernel: k, ...intent({ seccompProfile: 'RuntimeDefault' }) })).toMatchObject({
      status: 'pass',
      detail:
        'kernel: seccomp filter mode (filter count not shown before kernel 5.9); spec: seccompProfile RuntimeDefault',
    });
  });

  test('a filter whose runtime profile only allows and logs denies nothing and fails', () => {
    expect(checkOf('seccomp', seccomp(LOG_ONLY_PROFILE))).toEqual({
      id: 'seccomp',
      section: '3.1 seccomp',
      status: 'fail',
      detail:
        "kernel: seccomp filter mode (1 filter), but the runtime spec's profile denies nothing (only SCMP_ACT_LOG, SCMP_ACT_ALLOW); spec: seccompProfile Localhost profiles/audit.json",
      fix: DENY_NOTHING_FIX,
    });
  });

  test('an ALLOW default with only LOG rules denies nothing either', () => {
    const profile = { defaultAction: 'SCMP_ACT_ALLOW', actions: ['SCMP_ACT_LOG'], flags: [] };
    expect(
      checkOf('seccomp', { ...seccomp(profile), ...kernel({ seccompFilters: 2 }), intent: undefined }),
    ).toMatchObject({
      status: 'fail',
      detail:
        "kernel: seccomp filter mode (2 filters), but the runtime spec's profile denies nothing (only SCMP_ACT_ALLOW, SCMP_ACT_LOG); spec: unknown",
      fix: DENY_NOTHING_FIX,
    });
  });

  test('ALLOW and LOG with a KILL_PROCESS rule denies something and passes', () => {
    const profile = {
      defaultAction: 'SCMP_ACT_ALLOW',
      actions: ['SCMP_ACT_LOG', 'SCMP_ACT_KILL_PROCESS'],
      flags: [],
    };
    expect(checkOf('seccomp', seccomp(profile))).toEqual({
      id: 'seccomp',
      section: '3.1 seccomp',
      status: 'pass',
      detail: 'kernel: seccomp filter mode (1 filter); spec: seccompProfile Localhost profiles/audit.json',
      fix: '',
    });
  });

  test.each([
    ['no runtime spec', { runtime: undefined }],
    ['a runtime spec without its seccomp known', { runtime: {} }],
  ])('with %s, filter mode still passes on the kernel', (_, changes: Partial<PostureInput>) => {
    expect(checkOf('seccomp', changes)).toEqual({
      id: 'seccomp',
      section: '3.1 seccomp',
      status: 'pass',
      detail: 'kernel: seccomp filter mode (1 filter); spec: seccompProfile Localhost profiles/audit.json',
      fix: '',
    });
  });

  test('strict mode passes', () => {
    expect(checkOf('seccomp', kernel({ seccompMode: 1 }))).toMatchObject({
      status: 'pass',
      detail:
        'kernel: seccomp strict mode (read, write, exit, sigreturn only); spec: seccompProfile Localhost profiles/audit.json',
      fix: '',
    });
  });

  test('mode 0 with nothing asked fails with the profile to set', () => {
    const i: SpecIntent = { ...INTENT, seccompProfile: 'Unset' };
    delete i.seccompLocalhostProfile;
    expect(checkOf('seccomp', { ...kernel({ seccompMode: 0 }), intent: i })).toEqual({
      id: 'seccomp',
      section: '3.1 seccomp',
      status: 'fail',
      detail: 'kernel: no seccomp filter; spec: seccompProfile unset',
      fix: 'set securityContext.seccompProfile.type: RuntimeDefault (or Localhost)',
    });
  });

  test('mode 0 for a privileged container says the runtime skips privileged containers', () => {
    expect(
      checkOf('seccomp', {
        ...kernel({ seccompMode: 0 }),
        ...intent({ seccompProfile: 'RuntimeDefault', privileged: true }),
      }),
    ).toMatchObject({
      status: 'fail',
      detail: 'kernel: no seccomp filter; spec: seccompProfile RuntimeDefault',
      fix: 'drop privileged: true (the runtime applies no seccomp profile to privileged containers), then set securityContext.seccompProfile.type: RuntimeDefault',
    });
  });

  test('mode 0 although the spec asks for a profile points at the runtime', () => {
    expect(checkOf('seccomp', kernel({ seccompMode: 0 }))).toMatchObject({
      status: 'fail',
      detail: 'kernel: no seccomp filter; spec: seccompProfile Localhost profiles/audit.json',
      fix: "the spec asks for a profile the kernel does not show: check the container runtime's seccomp support",
    });
  });

  test('an unreadable process is unknown, with the spec in the detail', () => {
    expect(checkOf('seccomp', { kernel: undefined, ...intent({ seccompProfile: 'Unconfined' }) })).toEqual({
      id: 'seccomp',
      section: '3.1 seccomp',
      status: 'unknown',
      detail: 'kernel: process not readable; spec: seccompProfile Unconfined',
      fix: PROC_FIX,
    });
  });
});

describe('seccomp_logging', () => {
  test('SCMP_ACT_KILL_PROCESS by default passes when kill_process is logged', () => {
    const profile = { defaultAction: 'SCMP_ACT_KILL_PROCESS', actions: ['SCMP_ACT_ALLOW'], flags: [] };
    expect(checkOf('seccomp_logging', seccomp(profile))).toMatchObject({
      status: 'pass',
      detail: 'runtime spec: SCMP_ACT_KILL_PROCESS; all in /proc/sys/kernel/seccomp/actions_logged',
      fix: '',
    });
  });

  test('ERRNO with SECCOMP_FILTER_FLAG_LOG passes', () => {
    const profile = { ...RUNTIME_DEFAULT, flags: ['SECCOMP_FILTER_FLAG_LOG'] };
    expect(checkOf('seccomp_logging', seccomp(profile))).toMatchObject({
      status: 'pass',
      detail:
        'runtime spec: SCMP_ACT_ERRNO with SECCOMP_FILTER_FLAG_LOG; all in /proc/sys/kernel/seccomp/actions_logged',
    });
  });

  test("containerd's RuntimeDefault in the runtime spec fails: ERRNO without the log flag is silent", () => {
    expect(checkOf('seccomp_logging', seccomp(RUNTIME_DEFAULT))).toEqual({
      id: 'seccomp_logging',
      section: '3.1 seccomp',
      status: 'fail',
      detail: 'runtime spec: SCMP_ACT_ERRNO without SECCOMP_FILTER_FLAG_LOG: those denials are silent',
      fix: SECCOMP_LOG_FIX,
    });
    expect(SECCOMP_LOG_FIX).toBe(
      'use a Localhost seccomp profile with SCMP_ACT_LOG / SCMP_ACT_KILL_PROCESS or the log flag SECCOMP_FILTER_FLAG_LOG (runc >= 1.2)',
    );
  });

  test('a logging default with a silent ERRNO rule still fails, naming the silent action', () => {
    const profile = {
      defaultAction: 'SCMP_ACT_LOG',
      actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO'],
      flags: [],
    };
    expect(checkOf('seccomp_logging', seccomp(profile))).toMatchObject({
      status: 'fail',
      detail: 'runtime spec: SCMP_ACT_ERRNO without SECCOMP_FILTER_FLAG_LOG: those denials are silent',
      fix: SECCOMP_LOG_FIX,
    });
  });

  test('TRAP without the flag is silent too', () => {
    const profile = { defaultAction: 'SCMP_ACT_TRAP', actions: [], flags: [] };
    expect(checkOf('seccomp_logging', seccomp(profile))).toMatchObject({
      status: 'fail',
      detail: 'runtime spec: SCMP_ACT_TRAP without SECCOMP_FILTER_FLAG_LOG: those denials are silent',
    });
  });

  test('silent actions and a short actions_logged are both reported, with both fixes', () => {
    const profile = { defaultAction: 'SCMP_ACT_ERRNO', actions: ['SCMP_ACT_LOG'], flags: [] };
    expect(checkOf('seccomp_logging', seccomp(profile, ['kill_process', 'kill_thread']))).toMatchObject({
      status: 'fail',
      detail:
        'runtime spec: SCMP_ACT_ERRNO without SECCOMP_FILTER_FLAG_LOG: those denials are silent; /proc/sys/kernel/seccomp/actions_logged also lacks log',
      fix: `${SECCOMP_LOG_FIX}, and add log to /proc/sys/kernel/seccomp/actions_logged`,
    });
  });

  test('a logging profile fails when actions_logged leaves its actions out', () => {
    const profile = {
      defaultAction: 'SCMP_ACT_LOG',
      actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_KILL'],
      flags: [],
    };
    expect(checkOf('seccomp_logging', seccomp(profile, ['kill_process', 'errno']))).toMatchObject({
      status: 'fail',
      detail:
        'runtime spec: SCMP_ACT_LOG, SCMP_ACT_KILL, but /proc/sys/kernel/seccomp/actions_logged lacks log kill_thread',
      fix: 'add log kill_thread to /proc/sys/kernel/seccomp/actions_logged (sysctl kernel.seccomp.actions_logged)',
    });
  });

  test('a profile that only allows denies nothing and fails', () => {
    const profile = { defaultAction: 'SCMP_ACT_ALLOW', actions: [], flags: ['SECCOMP_FILTER_FLAG_LOG'] };
    expect(checkOf('seccomp_logging', seccomp(profile))).toMatchObject({
      status: 'fail',
      detail: 'runtime spec: every seccomp action is SCMP_ACT_ALLOW, so nothing is denied or logged',
      fix: SECCOMP_LOG_FIX,
    });
  });

  test('a runtime spec without seccomp fails', () => {
    expect(checkOf('seccomp_logging', seccomp(null))).toMatchObject({
      status: 'fail',
      detail: 'runtime spec: no seccomp profile, so nothing is denied or logged',
      fix: SECCOMP_LOG_FIX,
    });
  });

  test('no seccomp in the kernel fails whatever the runtime spec says', () => {
    expect(checkOf('seccomp_logging', kernel({ seccompMode: 0 }))).toMatchObject({
      status: 'fail',
      detail: 'kernel: no seccomp filter, so nothing is denied or logged',
      fix: SECCOMP_LOG_FIX,
    });
  });

  test('an action this code does not know is unknown', () => {
    const profile = {
      defaultAction: 'SCMP_ACT_LOG',
      actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_SOMETHING'],
      flags: [],
    };
    expect(checkOf('seccomp_logging', seccomp(profile))).toMatchObject({
      status: 'unknown',
      detail: 'runtime spec: seccomp action SCMP_ACT_SOMETHING not recognised',
      fix: 'use only SCMP_ACT_LOG, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_ERRNO (with the log flag) or SCMP_ACT_ALLOW',
    });
  });

  test('a logging profile is unknown while actions_logged cannot be read', () => {
    expect(checkOf('seccomp_logging', { actionsLogged: undefined })).toMatchObject({
      status: 'unknown',
      detail:
        'runtime spec: SCMP_ACT_LOG, SCMP_ACT_KILL_PROCESS; /proc/sys/kernel/seccomp/actions_logged not readable',
      fix: "give kernwatch the host's /proc (procRoot) so /proc/sys/kernel/seccomp/actions_logged can be read",
    });
  });

  describe('without the runtime spec, from the pod spec', () => {
    test('RuntimeDefault fails: its ERRNO denials are silent', () => {
      expect(
        checkOf('seccomp_logging', { runtime: undefined, ...intent({ seccompProfile: 'RuntimeDefault' }) }),
      ).toMatchObject({
        status: 'fail',
        detail:
          'spec: seccompProfile RuntimeDefault, which returns ERRNO without SECCOMP_FILTER_FLAG_LOG: its denials are silent',
        fix: SECCOMP_LOG_FIX,
      });
    });

    test('Unconfined fails', () => {
      expect(
        checkOf('seccomp_logging', { runtime: {}, ...intent({ seccompProfile: 'Unconfined' }) }),
      ).toMatchObject({
        status: 'fail',
        detail: 'spec: seccompProfile Unconfined, so nothing is denied or logged',
        fix: SECCOMP_LOG_FIX,
      });
    });

    test('unset fails', () => {
      expect(
        checkOf('seccomp_logging', { runtime: undefined, ...intent({ seccompProfile: 'Unset' }) }),
      ).toMatchObject({
        status: 'fail',
        detail:
          'spec: seccompProfile unset (Unconfined, or RuntimeDefault with --seccomp-default): denials are absent or silent',
        fix: SECCOMP_LOG_FIX,
      });
    });

    test('Localhost is unknown: its actions cannot be read', () => {
      expect(checkOf('seccomp_logging', { runtime: undefined })).toMatchObject({
        status: 'unknown',
        detail:
          'spec: seccompProfile Localhost profiles/audit.json; its actions cannot be read without the runtime spec',
        fix: 'check that profiles/audit.json uses SCMP_ACT_LOG / SCMP_ACT_KILL_PROCESS or SECCOMP_FILTER_FLAG_LOG, or give kernwatch the CRI socket to check it',
      });
    });

    test('no pod spec either is unknown', () => {
      expect(checkOf('seccomp_logging', { runtime: undefined, intent: undefined })).toMatchObject({
        status: 'unknown',
        detail: 'runtime spec and pod spec not available',
        fix: "give kernwatch the CRI socket (cri.socket) so the container's seccomp profile can be read",
      });
    });
  });
});

describe('no_new_privs', () => {
  test('NoNewPrivs 0 fails with allowPrivilegeEscalation: false as the fix', () => {
    const i: SpecIntent = { ...INTENT };
    delete i.allowPrivilegeEscalation;
    expect(checkOf('no_new_privs', { ...kernel({ noNewPrivs: false }), intent: i })).toEqual({
      id: 'no_new_privs',
      section: '2.2 security context',
      status: 'fail',
      detail: 'kernel: NoNewPrivs 0; spec: allowPrivilegeEscalation unset (allowed)',
      fix: 'set securityContext.allowPrivilegeEscalation: false',
    });
  });

  test('a privileged container must stop being privileged first', () => {
    expect(
      checkOf('no_new_privs', {
        ...kernel({ noNewPrivs: false }),
        ...intent({ privileged: true, allowPrivilegeEscalation: true }),
      }),
    ).toMatchObject({
      status: 'fail',
      detail: 'kernel: NoNewPrivs 0; spec: privileged (privilege escalation always allowed)',
      fix: 'drop privileged: true, then set securityContext.allowPrivilegeEscalation: false',
    });
  });

  test('a container adding CAP_SYS_ADMIN must stop adding it first', () => {
    expect(
      checkOf('no_new_privs', {
        ...kernel({ noNewPrivs: false }),
        ...intent({ addedCapabilities: ['SYS_ADMIN'], allowPrivilegeEscalation: true }),
      }),
    ).toMatchObject({
      status: 'fail',
      detail: 'kernel: NoNewPrivs 0; spec: adds CAP_SYS_ADMIN (privilege escalation always allowed)',
      fix: 'stop adding CAP_SYS_ADMIN, then set securityContext.allowPrivilegeEscalation: false',
    });
  });

  test('an unreadable process falls back to the runtime spec: true passes', () => {
    expect(checkOf('no_new_privs', { kernel: undefined })).toMatchObject({
      status: 'pass',
      detail:
        'kernel: process not readable; runtime spec: noNewPrivileges true; spec: allowPrivilegeEscalation false',
      fix: '',
    });
  });

  test('an unreadable process falls back to the runtime spec: false fails', () => {
    expect(
      checkOf('no_new_privs', {
        kernel: undefined,
        runtime: { noNewPrivileges: false },
        ...intent({ allowPrivilegeEscalation: true }),
      }),
    ).toMatchObject({
      status: 'fail',
      detail:
        'kernel: process not readable; runtime spec: noNewPrivileges false; spec: allowPrivilegeEscalation true',
      fix: 'set securityContext.allowPrivilegeEscalation: false',
    });
  });

  test('neither process nor runtime spec readable is unknown', () => {
    expect(checkOf('no_new_privs', { kernel: undefined, runtime: undefined, intent: undefined })).toEqual({
      id: 'no_new_privs',
      section: '2.2 security context',
      status: 'unknown',
      detail: 'kernel: process not readable; spec: unknown',
      fix: PROC_FIX,
    });
  });
});

describe('capabilities', () => {
  test('only CAP_NET_BIND_SERVICE effective, added as the restricted standard allows, passes', () => {
    expect(
      checkOf('capabilities', {
        ...kernel({
          effectiveCapabilities: ['CAP_NET_BIND_SERVICE'],
          permittedCapabilities: ['CAP_NET_BIND_SERVICE'],
          boundingCapabilities: ['CAP_NET_BIND_SERVICE'],
        }),
        ...intent({ addedCapabilities: ['NET_BIND_SERVICE'] }),
      }),
    ).toEqual({
      id: 'capabilities',
      section: '2.2 security context',
      status: 'pass',
      detail:
        'kernel: effective CAP_NET_BIND_SERVICE only, bounding set CAP_NET_BIND_SERVICE; spec: drops ALL, adds NET_BIND_SERVICE',
      fix: '',
    });
  });

  test('a non-root process with only CAP_NET_BIND_SERVICE bounding passes (containerd16-confined.status)', () => {
    expect(
      checkOf('capabilities', {
        ...kernel({ boundingCapabilities: ['CAP_NET_BIND_SERVICE'] }),
        ...intent({ addedCapabilities: ['NET_BIND_SERVICE'] }),
      }),
    ).toMatchObject({
      status: 'pass',
      detail:
        'kernel: none effective, bounding set CAP_NET_BIND_SERVICE; spec: drops ALL, adds NET_BIND_SERVICE',
      fix: '',
    });
  });

  test('extra effective capabilities fail, listed sorted', () => {
    const i: SpecIntent = { ...INTENT, dropsAllCapabilities: false };
    expect(
      checkOf('capabilities', {
        ...kernel({
          effectiveCapabilities: [
            'CAP_CHOWN',
            'CAP_NET_BIND_SERVICE',
            'CAP_SYS_CHROOT',
            'CAP_KILL',
            'CAP_AUDIT_WRITE',
          ],
        }),
        intent: i,
      }),
    ).toEqual({
      id: 'capabilities',
      section: '2.2 security context',
      status: 'fail',
      detail:
        'kernel: effective CAP_AUDIT_WRITE, CAP_CHOWN, CAP_KILL, CAP_SYS_CHROOT; spec: does not drop ALL',
      fix: 'set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE',
    });
  });

  test("containerd's default set in effective, permitted and bounding names the first set and the others", () => {
    const i: SpecIntent = { ...INTENT, dropsAllCapabilities: false };
    // containerd16-plain.status: CapEff = CapPrm = CapBnd = 00000000a80425fb, CapAmb 0.
    const defaults = decodeCapabilities(0xa80425fbn);
    expect(
      checkOf('capabilities', {
        ...kernel({
          effectiveCapabilities: defaults,
          permittedCapabilities: defaults,
          boundingCapabilities: defaults,
        }),
        intent: i,
      }),
    ).toEqual({
      id: 'capabilities',
      section: '2.2 security context',
      status: 'fail',
      detail:
        'kernel: effective CAP_AUDIT_WRITE, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_MKNOD, CAP_NET_RAW, CAP_SETFCAP, CAP_SETGID, CAP_SETPCAP, CAP_SETUID, CAP_SYS_CHROOT (also in permitted, bounding); spec: does not drop ALL',
      fix: 'set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE',
    });
  });

  test('capabilities held permitted only fail: the process can raise them back to effective', () => {
    expect(
      checkOf('capabilities', kernel({ permittedCapabilities: ['CAP_SETUID', 'CAP_NET_BIND_SERVICE'] })),
    ).toEqual({
      id: 'capabilities',
      section: '2.2 security context',
      status: 'fail',
      detail: 'kernel: permitted CAP_SETUID; spec: drops ALL',
      fix: 'set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE',
    });
  });

  test('capabilities held ambient only fail: they survive exec', () => {
    expect(checkOf('capabilities', kernel({ ambientCapabilities: ['CAP_NET_RAW'] }))).toEqual({
      id: 'capabilities',
      section: '2.2 security context',
      status: 'fail',
      detail: 'kernel: ambient CAP_NET_RAW; spec: drops ALL',
      fix: 'set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE',
    });
  });

  test('permitted and ambient named in that order after effective', () => {
    expect(
      checkOf(
        'capabilities',
        kernel({
          ambientCapabilities: ['CAP_NET_RAW'],
          permittedCapabilities: ['CAP_NET_RAW', 'CAP_SETUID'],
          boundingCapabilities: ['CAP_NET_RAW', 'CAP_SETUID'],
        }),
      ),
    ).toMatchObject({
      status: 'fail',
      detail: 'kernel: permitted CAP_NET_RAW, CAP_SETUID (also in ambient, bounding); spec: drops ALL',
    });
  });

  test('a privileged container must stop being privileged first', () => {
    expect(
      checkOf('capabilities', {
        ...kernel({ effectiveCapabilities: ['CAP_SYS_ADMIN'] }),
        ...intent({ privileged: true, dropsAllCapabilities: false }),
      }),
    ).toMatchObject({
      status: 'fail',
      detail: 'kernel: effective CAP_SYS_ADMIN; spec: does not drop ALL',
      fix: 'drop privileged: true, then set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE',
    });
  });

  test('a privileged spec fails even when the kernel shows every set empty', () => {
    expect(checkOf('capabilities', intent({ privileged: true }))).toEqual({
      id: 'capabilities',
      section: '2.2 security context',
      status: 'fail',
      detail: 'kernel: only CAP_NET_BIND_SERVICE at most, but the spec runs it privileged; spec: drops ALL',
      fix: 'drop privileged: true, then set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE',
    });
  });

  test('none effective but the spec not dropping ALL fails', () => {
    expect(checkOf('capabilities', intent({ dropsAllCapabilities: false }))).toMatchObject({
      status: 'fail',
      detail:
        'kernel: only CAP_NET_BIND_SERVICE at most, but the spec does not drop ALL; spec: does not drop ALL',
      fix: 'set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE',
    });
  });

  test('none effective but the spec adding more than NET_BIND_SERVICE fails', () => {
    expect(checkOf('capabilities', intent({ addedCapabilities: ['NET_RAW'] }))).toMatchObject({
      status: 'fail',
      detail:
        'kernel: only CAP_NET_BIND_SERVICE at most, but the spec adds NET_RAW; spec: drops ALL, adds NET_RAW',
      fix: 'set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE',
    });
  });

  test('without the pod spec, none effective passes on the kernel alone only with an empty bounding set', () => {
    expect(checkOf('capabilities', { intent: undefined })).toEqual({
      id: 'capabilities',
      section: '2.2 security context',
      status: 'pass',
      detail: 'kernel: none effective, bounding set empty; spec: unknown',
      fix: '',
    });
  });

  test('without the pod spec, none effective with a full bounding set fails: a setuid binary regains it all', () => {
    // The false compliance an effective-only check gave: a non-root process that never dropped anything.
    expect(
      checkOf('capabilities', {
        ...kernel({ boundingCapabilities: [...CAPABILITY_NAMES] }),
        intent: undefined,
      }),
    ).toEqual({
      id: 'capabilities',
      section: '2.2 security context',
      status: 'fail',
      detail:
        'kernel: bounding CAP_AUDIT_CONTROL, CAP_AUDIT_READ, CAP_AUDIT_WRITE, CAP_BLOCK_SUSPEND, CAP_BPF, CAP_CHECKPOINT_RESTORE, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_IPC_LOCK, CAP_IPC_OWNER, CAP_KILL, CAP_LEASE, CAP_LINUX_IMMUTABLE, CAP_MAC_ADMIN, CAP_MAC_OVERRIDE, CAP_MKNOD, CAP_NET_ADMIN, CAP_NET_BROADCAST, CAP_NET_RAW, CAP_PERFMON, CAP_SETFCAP, CAP_SETGID, CAP_SETPCAP, CAP_SETUID, CAP_SYSLOG, CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_CHROOT, CAP_SYS_MODULE, CAP_SYS_NICE, CAP_SYS_PACCT, CAP_SYS_PTRACE, CAP_SYS_RAWIO, CAP_SYS_RESOURCE, CAP_SYS_TIME, CAP_SYS_TTY_CONFIG, CAP_WAKE_ALARM; spec: unknown',
      fix: 'set securityContext.capabilities.drop: [ALL] and add back only NET_BIND_SERVICE',
    });
  });

  test('an unreadable process is unknown', () => {
    expect(checkOf('capabilities', { kernel: undefined })).toMatchObject({
      status: 'unknown',
      detail: 'kernel: process not readable; spec: drops ALL',
      fix: PROC_FIX,
    });
  });
});

describe('mac', () => {
  const NO_MAC_LSM = { active: ['lockdown', 'capability', 'landlock', 'bpf'], apparmorEnabled: false };

  test('no AppArmor or SELinux on the node is unknown, never pass', () => {
    expect(checkOf('mac', { ...kernel({ mac: { kind: 'none' } }), lsm: NO_MAC_LSM })).toEqual({
      id: 'mac',
      section: '4.1 MAC',
      status: 'unknown',
      detail: 'no AppArmor or SELinux is active on this node',
      fix: 'enable AppArmor or SELinux on the node, then give the pod a profile (appArmorProfile or seLinuxOptions)',
    });
  });

  test('securityfs not readable, but the process has no MAC label: the kernel says no MAC runs (unknown)', () => {
    expect(
      checkOf('mac', {
        ...kernel({ mac: { kind: 'none' } }),
        lsm: { active: undefined, apparmorEnabled: false },
      }),
    ).toMatchObject({
      status: 'unknown',
      detail: 'no AppArmor or SELinux is active on this node',
      fix: 'enable AppArmor or SELinux on the node, then give the pod a profile (appArmorProfile or seLinuxOptions)',
    });
  });

  test('securityfs not readable and the process not readable either: unknown, mount /sys', () => {
    expect(
      checkOf('mac', {
        kernel: undefined,
        lsm: { active: undefined, apparmorEnabled: false },
      }),
    ).toMatchObject({
      status: 'unknown',
      detail: 'no AppArmor or SELinux seen on this node (/sys/kernel/security/lsm not readable)',
      fix: "mount the host's /sys into kernwatch (hostPath) so /sys/kernel/security/lsm can be read",
    });
  });

  test('AppArmor active but the process not readable is unknown', () => {
    expect(checkOf('mac', { kernel: undefined })).toMatchObject({
      status: 'unknown',
      detail: 'AppArmor is active on this node; kernel: process not readable',
      fix: PROC_FIX,
    });
  });

  test('SELinux active but no label read is unknown', () => {
    expect(
      checkOf('mac', {
        ...kernel({ mac: { kind: 'none' } }),
        lsm: { active: ['capability', 'selinux'], apparmorEnabled: false, selinuxEnforcing: true },
      }),
    ).toMatchObject({
      status: 'unknown',
      detail: "SELinux is active on this node, but the process's label could not be read",
      fix: PROC_FIX,
    });
  });

  test('AppArmor unconfined fails', () => {
    const i: SpecIntent = { ...INTENT, appArmorProfile: 'Unconfined' };
    expect(
      checkOf('mac', {
        ...kernel({ mac: { kind: 'apparmor', label: 'unconfined', mode: 'unconfined' } }),
        intent: i,
      }),
    ).toEqual({
      id: 'mac',
      section: '4.1 MAC',
      status: 'fail',
      detail: 'kernel: AppArmor unconfined; spec: appArmorProfile Unconfined',
      fix: 'set securityContext.appArmorProfile.type: RuntimeDefault (or Localhost with a profile in enforce mode)',
    });
  });

  test('a privileged container running unconfined must stop being privileged first', () => {
    const i: SpecIntent = { ...INTENT, privileged: true };
    delete i.appArmorProfile;
    expect(
      checkOf('mac', {
        ...kernel({ mac: { kind: 'apparmor', label: 'unconfined', mode: 'unconfined' } }),
        intent: i,
      }),
    ).toMatchObject({
      status: 'fail',
      detail: 'kernel: AppArmor unconfined; spec: appArmorProfile unset',
      fix: 'drop privileged: true, then set securityContext.appArmorProfile.type: RuntimeDefault (or Localhost with a profile in enforce mode)',
    });
  });

  test('an AppArmor profile in complain mode fails', () => {
    expect(
      checkOf('mac', {
        ...kernel({ mac: { kind: 'apparmor', label: 'k8s-nginx (complain)', mode: 'complain' } }),
        ...intent({ appArmorProfile: 'Localhost/k8s-nginx' }),
      }),
    ).toMatchObject({
      status: 'fail',
      detail:
        'kernel: AppArmor profile k8s-nginx (complain): denials are logged, not enforced; spec: appArmorProfile Localhost/k8s-nginx',
      fix: 'put k8s-nginx in enforce mode (aa-enforce), or set securityContext.appArmorProfile.type: RuntimeDefault (or Localhost with a profile in enforce mode)',
    });
  });

  test('an AppArmor profile in kill mode passes', () => {
    expect(
      checkOf('mac', {
        ...kernel({ mac: { kind: 'apparmor', label: 'k8s-strict (kill)', mode: 'kill' } }),
        intent: undefined,
      }),
    ).toMatchObject({ status: 'pass', detail: 'kernel: AppArmor profile k8s-strict (kill); spec: unknown' });
  });

  test('an AppArmor profile flagged unconfined fails', () => {
    expect(
      checkOf('mac', {
        ...kernel({ mac: { kind: 'apparmor', label: 'flatpak (unconfined)', mode: 'unconfined' } }),
      }),
    ).toMatchObject({
      status: 'fail',
      detail: 'kernel: AppArmor profile flatpak (unconfined mode); spec: appArmorProfile RuntimeDefault',
    });
  });

  test('an AppArmor mode this code does not know is unknown', () => {
    expect(
      checkOf('mac', { ...kernel({ mac: { kind: 'apparmor', label: 'app (prompt)', mode: 'prompt' } }) }),
    ).toMatchObject({
      status: 'unknown',
      detail:
        'kernel: AppArmor profile app in mode prompt, not recognised; spec: appArmorProfile RuntimeDefault',
      fix: 'set securityContext.appArmorProfile.type: RuntimeDefault (or Localhost with a profile in enforce mode)',
    });
  });

  const SELINUX = { active: ['capability', 'selinux'], apparmorEnabled: false, selinuxEnforcing: true };
  const CONTAINER_T = {
    mac: { kind: 'selinux', label: 'system_u:system_r:container_t:s0:c123,c456', mode: 'container_t' },
  } as const;

  test('SELinux enforcing with container_t passes', () => {
    expect(checkOf('mac', { ...kernel(CONTAINER_T), lsm: SELINUX })).toEqual({
      id: 'mac',
      section: '4.1 MAC',
      status: 'pass',
      detail: 'kernel: SELinux type container_t, enforcing',
      fix: '',
    });
  });

  test('SELinux type is read from the context when the mode is absent', () => {
    expect(
      checkOf('mac', {
        ...kernel({ mac: { kind: 'selinux', label: 'system_u:system_r:container_t:s0:c1,c2' } }),
        lsm: SELINUX,
      }),
    ).toMatchObject({ status: 'pass', detail: 'kernel: SELinux type container_t, enforcing' });
  });

  test.each([['spc_t'], ['unconfined_t']])('SELinux type %s fails', (type) => {
    expect(
      checkOf('mac', {
        ...kernel({ mac: { kind: 'selinux', label: `system_u:system_r:${type}:s0`, mode: type } }),
        lsm: SELINUX,
      }),
    ).toMatchObject({
      status: 'fail',
      detail: `kernel: SELinux type ${type}, which is unconfined`,
      fix: 'remove privileged: true and any seLinuxOptions.type so the runtime assigns container_t',
    });
  });

  test('SELinux permissive fails', () => {
    expect(
      checkOf('mac', { ...kernel(CONTAINER_T), lsm: { ...SELINUX, selinuxEnforcing: false } }),
    ).toMatchObject({
      status: 'fail',
      detail:
        'kernel: SELinux type container_t, but SELinux is permissive on this node: denials are logged, not enforced',
      fix: 'set SELinux to enforcing on the node (setenforce 1, SELINUX=enforcing in /etc/selinux/config)',
    });
  });

  test('SELinux with the enforcing mode not readable is unknown', () => {
    const lsm = { active: ['capability', 'selinux'], apparmorEnabled: false };
    expect(checkOf('mac', { ...kernel(CONTAINER_T), lsm })).toMatchObject({
      status: 'unknown',
      detail: 'kernel: SELinux type container_t; enforcing mode not readable (/sys/fs/selinux/enforce)',
      fix: "mount the host's /sys into kernwatch (hostPath) so /sys/fs/selinux/enforce can be read",
    });
  });
});

describe('readonly_root', () => {
  test('a writable root fails', () => {
    expect(
      checkOf('readonly_root', {
        ...kernel({ rootReadOnly: false }),
        ...intent({ readOnlyRootFilesystem: false }),
      }),
    ).toEqual({
      id: 'readonly_root',
      section: '2.1 read-only root',
      status: 'fail',
      detail: 'kernel: / mounted read-write; spec: readOnlyRootFilesystem false',
      fix: 'set securityContext.readOnlyRootFilesystem: true (mount an emptyDir where the app must write)',
    });
  });

  test('mountinfo not readable falls back to the runtime spec: read-only passes', () => {
    const k = { ...KERNEL };
    delete k.rootReadOnly;
    expect(checkOf('readonly_root', { kernel: k })).toMatchObject({
      status: 'pass',
      detail:
        'kernel: mountinfo not readable; runtime spec: root.readonly true; spec: readOnlyRootFilesystem true',
    });
  });

  test('an unreadable process falls back to the runtime spec: writable fails', () => {
    expect(
      checkOf('readonly_root', {
        kernel: undefined,
        runtime: { rootReadonly: false },
        ...intent({ readOnlyRootFilesystem: false }),
      }),
    ).toMatchObject({
      status: 'fail',
      detail:
        'kernel: process not readable; runtime spec: root.readonly false; spec: readOnlyRootFilesystem false',
      fix: 'set securityContext.readOnlyRootFilesystem: true (mount an emptyDir where the app must write)',
    });
  });

  test('neither readable is unknown', () => {
    expect(checkOf('readonly_root', { kernel: undefined, runtime: undefined })).toMatchObject({
      status: 'unknown',
      detail: 'kernel: process not readable; spec: readOnlyRootFilesystem true',
      fix: PROC_FIX,
    });
  });
});

describe('run_as_non_root', () => {
  test('uid 0 fails', () => {
    const i: SpecIntent = { ...INTENT };
    delete i.runAsNonRoot;
    delete i.runAsUser;
    expect(
      checkOf('run_as_non_root', {
        ...kernel({ uid: { real: 0, effective: 0, saved: 0, fs: 0 } }),
        intent: i,
      }),
    ).toEqual({
      id: 'run_as_non_root',
      section: '2.2 security context',
      status: 'fail',
      detail: 'kernel: uid 0, euid 0, suid 0, fsuid 0; spec: runAsNonRoot unset, runAsUser unset',
      fix: 'set securityContext.runAsNonRoot: true and runAsUser to a non-zero uid',
    });
  });

  test('uid 0 fails even when the spec says runAsNonRoot', () => {
    expect(
      checkOf('run_as_non_root', kernel({ uid: { real: 0, effective: 0, saved: 0, fs: 0 } })),
    ).toMatchObject({
      status: 'fail',
      detail:
        'kernel: uid 0, euid 0, suid 0, fsuid 0 although the spec sets runAsNonRoot: true; spec: runAsNonRoot true, runAsUser 10001',
    });
  });

  test('a real uid 0 behind a non-root effective uid fails: it can take root back', () => {
    expect(
      checkOf('run_as_non_root', {
        ...kernel({ uid: { real: 0, effective: 1000, saved: 1000, fs: 1000 } }),
        intent: undefined,
      }),
    ).toMatchObject({
      status: 'fail',
      detail: 'kernel: uid 0, euid 1000, suid 1000, fsuid 1000; spec: unknown',
    });
  });

  test('a saved uid 0 behind non-root real and effective uids fails: setresuid takes root back', () => {
    expect(
      checkOf('run_as_non_root', kernel({ uid: { real: 10001, effective: 10001, saved: 0, fs: 10001 } })),
    ).toEqual({
      id: 'run_as_non_root',
      section: '2.2 security context',
      status: 'fail',
      detail:
        'kernel: uid 10001, euid 10001, suid 0, fsuid 10001 although the spec sets runAsNonRoot: true; spec: runAsNonRoot true, runAsUser 10001',
      fix: 'set securityContext.runAsNonRoot: true and runAsUser to a non-zero uid',
    });
  });

  test('a filesystem uid 0 behind non-root other uids fails', () => {
    expect(
      checkOf('run_as_non_root', {
        ...kernel({ uid: { real: 1000, effective: 1000, saved: 1000, fs: 0 } }),
        intent: undefined,
      }),
    ).toMatchObject({
      status: 'fail',
      detail: 'kernel: uid 1000, euid 1000, suid 1000, fsuid 0; spec: unknown',
      fix: 'set securityContext.runAsNonRoot: true and runAsUser to a non-zero uid',
    });
  });

  test('an unreadable process is unknown', () => {
    expect(checkOf('run_as_non_root', { kernel: undefined })).toMatchObject({
      status: 'unknown',
      detail: 'kernel: process not readable; spec: runAsNonRoot true, runAsUser 10001',
      fix: PROC_FIX,
    });
  });
});

describe('network_policy', () => {
  test('a host-network pod fails whatever the policies', () => {
    expect(checkOf('network_policy', intent({ hostNetwork: true }))).toEqual({
      id: 'network_policy',
      section: '1.1 network',
      status: 'fail',
      detail: 'NetworkPolicies do not apply to host-network pods',
      fix: 'run the pod without hostNetwork: true so NetworkPolicies apply to it',
    });
  });

  test('no API server is unknown', () => {
    expect(checkOf('network_policy', { coverage: undefined })).toMatchObject({
      status: 'unknown',
      detail: 'NetworkPolicies not known (no API server)',
      fix: 'give kernwatch the API server (kubernetes.enabled: true) with list and watch on pods and networkpolicies',
    });
  });

  test('both directions covered passes, naming the policies', () => {
    expect(
      checkOf('network_policy', {
        coverage: { ingress: ['allow-frontend', 'deny-all'], egress: ['allow-dns'] },
      }),
    ).toMatchObject({
      status: 'pass',
      detail: 'ingress: allow-frontend, deny-all; egress: allow-dns',
      fix: '',
    });
  });

  test('egress not covered fails, naming what covers ingress', () => {
    expect(
      checkOf('network_policy', { coverage: { ingress: ['allow-frontend'], egress: [] } }),
    ).toMatchObject({
      status: 'fail',
      detail: 'no NetworkPolicy selects the pod for egress (ingress: allow-frontend)',
      fix: "add a NetworkPolicy in the pod's namespace that selects it with policyTypes: [Egress] (a default deny)",
    });
  });

  test('neither direction covered fails, naming both', () => {
    expect(checkOf('network_policy', { coverage: { ingress: [], egress: [] } })).toMatchObject({
      status: 'fail',
      detail: 'no NetworkPolicy selects the pod for ingress or egress',
      fix: "add a NetworkPolicy in the pod's namespace that selects it with policyTypes: [Ingress, Egress] (a default deny)",
    });
  });
});
