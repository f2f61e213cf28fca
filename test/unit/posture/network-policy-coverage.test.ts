import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { expect, test } from 'vitest';
import { networkPolicyCoverage } from '../../../agent/posture/network-policy-coverage.js';
import { fakeNetworkPolicy, type PolicyType } from '../../helpers/fake-kube-api.js';

const LABELS = { app: 'web', tier: 'frontend' };

/** A policy as the API server stores it (policyTypes defaulted), see fake-kube-network-policies.ts. */
function stored(input: Parameters<typeof fakeNetworkPolicy>[0]): V1NetworkPolicy {
  return fakeNetworkPolicy({ namespace: 'shop', ...input }) as unknown as V1NetworkPolicy;
}

/** A policy without policyTypes, as a client may hold it before the server defaulted it. */
function raw(name: string, spec: Record<string, unknown>): V1NetworkPolicy {
  const policy: unknown = { metadata: { name, namespace: 'shop' }, spec };
  return policy as V1NetworkPolicy;
}

const ALLOW_DNS = [{ ports: [{ port: 53, protocol: 'UDP' }] }];

test('no policies: nothing covers the pod', () => {
  expect(networkPolicyCoverage(LABELS, [])).toEqual({ ingress: [], egress: [] });
});

test('a default deny for both directions selecting every pod covers both', () => {
  const policies = [stored({ name: 'default-deny', policyTypes: ['Ingress', 'Egress'] })];
  expect(networkPolicyCoverage(LABELS, policies)).toEqual({
    ingress: ['default-deny'],
    egress: ['default-deny'],
  });
});

test('a policy whose selector does not match the pod covers nothing', () => {
  const policies = [
    stored({
      name: 'db-only',
      podSelector: { matchLabels: { app: 'db' } },
      policyTypes: ['Ingress', 'Egress'],
    }),
  ];
  expect(networkPolicyCoverage(LABELS, policies)).toEqual({ ingress: [], egress: [] });
});

test('matchExpressions select as the API server evaluates them', () => {
  const policies = [
    stored({
      name: 'frontends',
      podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['frontend', 'edge'] }] },
      policyTypes: ['Egress'],
      egress: ALLOW_DNS,
    }),
  ];
  expect(networkPolicyCoverage(LABELS, policies)).toEqual({ ingress: [], egress: ['frontends'] });
});

test('the server defaults a policy with egress rules and no policyTypes to both directions', () => {
  const policy = stored({
    name: 'web-egress',
    podSelector: { matchLabels: { app: 'web' } },
    egress: ALLOW_DNS,
  });
  expect(policy.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
  expect(networkPolicyCoverage(LABELS, [policy])).toEqual({
    ingress: ['web-egress'],
    egress: ['web-egress'],
  });
});

test('without policyTypes, a policy covers Ingress always', () => {
  const policy = raw('ingress-only', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] });
  expect(networkPolicyCoverage(LABELS, [policy])).toEqual({ ingress: ['ingress-only'], egress: [] });
});

test('without policyTypes, a policy covers Egress only if it has egress rules', () => {
  const withEgress = raw('egress-rules', { podSelector: {}, egress: ALLOW_DNS });
  const emptyEgress = raw('empty-egress', { podSelector: {}, egress: [] });
  expect(networkPolicyCoverage(LABELS, [withEgress, emptyEgress])).toEqual({
    ingress: ['egress-rules', 'empty-egress'],
    egress: ['egress-rules'],
  });
});

test('an empty policyTypes list is defaulted like an absent one', () => {
  const policy = raw('empty-types', { podSelector: {}, policyTypes: [] });
  expect(networkPolicyCoverage(LABELS, [policy])).toEqual({ ingress: ['empty-types'], egress: [] });
});

test('explicit policyTypes are taken as written, rules or not', () => {
  const policies: V1NetworkPolicy[] = (
    [
      ['deny-egress', ['Egress']],
      ['deny-ingress', ['Ingress']],
    ] as const
  ).map(([name, types]) => stored({ name, policyTypes: [...types] as PolicyType[] }));
  expect(networkPolicyCoverage(LABELS, policies)).toEqual({
    ingress: ['deny-ingress'],
    egress: ['deny-egress'],
  });
});

test('names are sorted per direction', () => {
  const policies = ['zeta', 'alpha', 'mid'].map((name) =>
    stored({ name, policyTypes: ['Ingress', 'Egress'] }),
  );
  expect(networkPolicyCoverage(LABELS, policies)).toEqual({
    ingress: ['alpha', 'mid', 'zeta'],
    egress: ['alpha', 'mid', 'zeta'],
  });
});

test('a policy without a podSelector selects every pod, as the server stores it as {}', () => {
  const policy = raw('no-selector', { policyTypes: ['Ingress', 'Egress'] });
  expect(networkPolicyCoverage(LABELS, [policy])).toEqual({
    ingress: ['no-selector'],
    egress: ['no-selector'],
  });
});
