import { describe, expect, test } from 'vitest';
import { globMatcher, ResponsePolicy } from '../../../agent/responders/policy.js';
import { configSchema } from '../../../agent/config/config-schema.js';
import { apparmorAt, inPod, podRef, rules, seccompAt, selinuxAt } from './response-test-events.js';
import { onHost } from '../pipeline/noise-test-events.js';

// The rules are pure: these tests feed parsed corpus records, attributed to pods, and check exactly which
// rules fire and with what count.

const quarantine = [{ type: 'nft_quarantine' }];

describe('rule matching', () => {
  test('kind, outcome, namespace glob and syscall must all match', () => {
    const policy = new ResponsePolicy(
      rules([
        {
          name: 'getppid-in-prod',
          match: { kind: 'seccomp', outcome: ['logged'], namespaces: ['prod-*'], syscalls: ['getppid'] },
          actions: quarantine,
        },
      ]),
    );
    // The corpus record is a seccomp LOG of getppid: outcome logged.
    expect(policy.evaluate(inPod(seccompAt(0, 1), podRef(1, 'prod-web'))).map((f) => f.rule.name)).toEqual([
      'getppid-in-prod',
    ]);
    expect(policy.evaluate(inPod(seccompAt(0, 2), podRef(1, 'staging')))).toEqual([]);
    expect(policy.evaluate(inPod(seccompAt(0, 3, 39), podRef(1, 'prod-web')))).toEqual([]); // getpid
    expect(policy.evaluate(inPod(apparmorAt(0, 4, 'environ'), podRef(1, 'prod-web')))).toEqual([]);
  });

  test('an outcome not in the list does not match', () => {
    const policy = new ResponsePolicy(
      rules([{ name: 'kills', match: { kind: 'seccomp', outcome: ['killed'] }, actions: quarantine }]),
    );
    expect(policy.evaluate(inPod(seccompAt(0, 1), podRef(1)))).toEqual([]);
  });

  test('AppArmor operations and SELinux permissions', () => {
    const policy = new ResponsePolicy(
      rules([
        { name: 'aa-open', match: { kind: 'apparmor', operations: ['open'] }, actions: quarantine },
        { name: 'se-read', match: { kind: 'selinux', permissions: ['read', 'write'] }, actions: quarantine },
        { name: 'se-exec', match: { kind: 'selinux', permissions: ['execute'] }, actions: quarantine },
      ]),
    );
    const aa = inPod(apparmorAt(0, 1, 'osrelease'), podRef(1));
    expect(aa.apparmor?.operation).toBe('open');
    expect(policy.evaluate(aa).map((f) => f.rule.name)).toEqual(['aa-open']);
    const se = inPod(selinuxAt(0, 2), podRef(1));
    expect(se.selinux?.permissions).toEqual(['read']);
    expect(policy.evaluate(se).map((f) => f.rule.name)).toEqual(['se-read']);
  });

  test('pod labels must all be present with their values; unknown labels match nothing', () => {
    const policy = new ResponsePolicy(
      rules([{ name: 'tier', match: { podLabels: { tier: 'frontend', app: 'web' } }, actions: quarantine }]),
    );
    const labelled = podRef(1, 'prod-web', { tier: 'frontend', app: 'web', extra: 'x' });
    expect(policy.evaluate(inPod(seccompAt(0, 1), labelled))).toHaveLength(1);
    expect(policy.evaluate(inPod(seccompAt(0, 2), podRef(2, 'prod-web', { tier: 'frontend' })))).toEqual([]);
    expect(policy.evaluate(inPod(seccompAt(0, 3), podRef(3)))).toEqual([]);
  });

  test('denials without a pod never fire (every action works on a pod)', () => {
    const policy = new ResponsePolicy(rules([{ name: 'all', match: {}, actions: quarantine }]));
    expect(policy.evaluate(onHost(seccompAt(0, 1)))).toEqual([]);
    expect(policy.evaluate(seccompAt(0, 2))).toEqual([]);
  });

  test('several rules fire in configuration order', () => {
    const policy = new ResponsePolicy(
      rules([
        { name: 'first', match: { kind: 'seccomp' }, actions: quarantine },
        { name: 'second', match: {}, actions: [{ type: 'k8s_event' }] },
      ]),
    );
    expect(policy.evaluate(inPod(seccompAt(0, 1), podRef(1))).map((f) => f.rule.name)).toEqual([
      'first',
      'second',
    ]);
  });
});

describe('thresholds', () => {
  const threshold = (count: number, within: string): ResponsePolicy =>
    new ResponsePolicy(
      rules([{ name: 'n-within-t', match: {}, threshold: { count, within }, actions: quarantine }]),
    );

  test('fires on the Nth denial within the window, then counts again from zero', () => {
    const policy = threshold(3, '10s');
    const pod = podRef(1);
    const fired = [0, 1000, 2000, 3000, 4000, 5000, 6000].map(
      (at, i) => policy.evaluate(inPod(seccompAt(at, i + 1), pod)).map((f) => f.count)[0],
    );
    expect(fired).toEqual([undefined, undefined, 3, undefined, undefined, 3, undefined]);
  });

  test('denials older than the window (by audit time) no longer count', () => {
    const policy = threshold(3, '2s');
    const pod = podRef(1);
    expect(policy.evaluate(inPod(seccompAt(0, 1), pod))).toEqual([]);
    expect(policy.evaluate(inPod(seccompAt(1500, 2), pod))).toEqual([]);
    // At 3000 the first (0) is out of the 2 s window: 2 in the window.
    expect(policy.evaluate(inPod(seccompAt(3000, 3), pod))).toEqual([]);
    expect(policy.evaluate(inPod(seccompAt(3400, 4), pod)).map((f) => f.count)).toEqual([3]);
  });

  test('each pod has its own window', () => {
    const policy = threshold(2, '10s');
    expect(policy.evaluate(inPod(seccompAt(0, 1), podRef(1)))).toEqual([]);
    expect(policy.evaluate(inPod(seccompAt(10, 2), podRef(2)))).toEqual([]);
    expect(policy.evaluate(inPod(seccompAt(20, 3), podRef(1))).map((f) => f.pod.uid)).toEqual([
      podRef(1).uid,
    ]);
  });

  test('a coalesced event counts as the denials it stands for', () => {
    const policy = threshold(5, '10s');
    const pod = podRef(1);
    expect(policy.evaluate({ ...inPod(seccompAt(0, 1), pod), count: 3 })).toEqual([]);
    expect(policy.evaluate({ ...inPod(seccompAt(100, 2), pod), count: 4 }).map((f) => f.count)).toEqual([7]);
  });

  test('the tracked pods are bounded: the least recently seen is forgotten', () => {
    const policy = new ResponsePolicy(
      rules([{ name: 'two', match: {}, threshold: { count: 2, within: '1h' }, actions: quarantine }]),
      { maxTrackedPods: 2 },
    );
    policy.evaluate(inPod(seccompAt(0, 1), podRef(1)));
    policy.evaluate(inPod(seccompAt(1, 2), podRef(2)));
    policy.evaluate(inPod(seccompAt(2, 3), podRef(3))); // forgets pod 1
    expect(policy.trackedWindows).toBe(2);
    expect(policy.evaluate(inPod(seccompAt(3, 4), podRef(1)))).toEqual([]);
    expect(policy.evaluate(inPod(seccompAt(4, 5), podRef(3)))).toHaveLength(1);
  });
});

describe('globs', () => {
  test.each([
    ['prod-*', 'prod-web', true],
    ['prod-*', 'prod-', true],
    ['prod-*', 'production', false],
    ['*-prod', 'eu-prod', true],
    ['team-?', 'team-a', true],
    ['team-?', 'team-ab', false],
    ['*a*b*', 'xxaxxbxx', true],
    ['*a*b*', 'xxbxxaxx', false],
    ['kube-system', 'kube-system', true],
    ['*', '', true],
  ])('%s ~ %s = %s', (pattern, text, expected) => {
    expect(globMatcher(pattern)(text)).toBe(expected);
  });

  test('a pathological pattern stays linear-ish (no exponential backtracking)', () => {
    const started = performance.now();
    expect(globMatcher('*a*a*a*a*a*a*a*a*b')('a'.repeat(5000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('config validation', () => {
  test('errors name the key path', () => {
    const result = configSchema.safeParse({
      responses: { rules: [{ name: 'x', match: { kind: 'seccomp' }, actions: [{ type: 'reboot_node' }] }] },
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['responses', 'rules', 0, 'actions', 0, 'type']);
  });

  test('defaults: dry-run, kube-system and kernwatch protected, 5 per minute, 10 min cooldown, 2 min trigger age', () => {
    const config = configSchema.parse({});
    expect(config.responses).toEqual({
      enabled: false,
      protectedNamespaces: ['kube-system', 'kernwatch'],
      budgetPerMinute: 5,
      cooldown: 600_000,
      queueSize: 1024,
      maxTriggerAge: 120_000,
      reconcileInterval: 10_000,
      rules: [],
    });
  });

  test('action defaults and refusals of duplicate names and actions', () => {
    const [rule] = rules([{ name: 'r', match: {}, actions: [{ type: 'delete_pod' }, { type: 'label' }] }]);
    expect(rule?.actions).toEqual([
      {
        type: 'delete_pod',
        gracePeriodSeconds: 30,
        allowDaemonSet: false,
        allowStandalone: false,
        allowUnknownOwner: false,
        minHealthyReplicas: 1,
      },
      { type: 'label', labels: { 'kernwatch.io/quarantined': 'true' } },
    ]);
    expect(
      configSchema.safeParse({
        responses: { rules: [{ name: 'r', match: {}, actions: [{ type: 'label' }, { type: 'label' }] }] },
      }).success,
    ).toBe(false);
    expect(
      configSchema.safeParse({
        responses: {
          rules: [
            { name: 'r', match: {}, actions: [{ type: 'label' }] },
            { name: 'r', match: {}, actions: [{ type: 'k8s_event' }] },
          ],
        },
      }).success,
    ).toBe(false);
  });
});
