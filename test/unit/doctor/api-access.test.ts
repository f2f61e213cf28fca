import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiAccessCheck } from '../../../agent/doctor/api-access-check.js';
import { accessNeeds, describeGrant, describeNeed } from '../../../agent/doctor/api-access.js';
import { loadConfig } from '../../../agent/config/config-loader.js';
import { validateConfig } from '../../../agent/config/config-loader.js';
import type { AgentConfig } from '../../../agent/config/config-schema.js';
import { FakeKubeApi, type AccessRule } from '../../helpers/fake-kube-api.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { freePort } from '../../helpers/nats-server.js';

/**
 * The verbs kernwatch needs, derived from the config, and the api check against the fake API server's
 * SelfSubjectAccessReviews (allowed per the rules a test sets, as RBAC would).
 */

const config = (input: Record<string, unknown> = {}): AgentConfig => validateConfig(input, 'test');

const rule = (name: string, actions: Record<string, unknown>[]): Record<string, unknown> => ({
  name,
  match: { kind: 'seccomp' },
  actions,
});

/** What a ClusterRole for attribution, Events and posture alone grants. */
const BASE_RULES: AccessRule[] = [
  { verb: 'list', resource: 'pods' },
  { verb: 'watch', resource: 'pods' },
  { verb: 'create', resource: 'events', group: 'events.k8s.io' },
  { verb: 'patch', resource: 'events', group: 'events.k8s.io' },
  { verb: 'list', resource: 'networkpolicies', group: 'networking.k8s.io' },
];

describe('accessNeeds', () => {
  it('needs list/watch pods, Events and posture’s NetworkPolicy list by default', () => {
    expect(accessNeeds(config()).map((n) => [describeNeed(n), n.usedBy.join('+'), n.liveOnly])).toEqual([
      ['list pods', 'attribution', false],
      ['watch pods', 'attribution', false],
      ['create events.k8s.io/events', 'Kubernetes Events', false],
      ['patch events.k8s.io/events', 'Kubernetes Events', false],
      ['list networking.k8s.io/networkpolicies', 'posture', false],
    ]);
    expect(
      accessNeeds(config({ kubernetes: { events: { enabled: false } }, posture: { enabled: false } })).map(
        describeNeed,
      ),
    ).toEqual(['list pods', 'watch pods']);
  });

  it('adds what each configured response action calls (docs/responses.md, permissions)', () => {
    const needs = accessNeeds(
      config({
        responses: {
          rules: [
            rule('kill', [{ type: 'delete_pod' }, { type: 'label' }]),
            rule('isolate', [
              { type: 'netpol_quarantine' },
              { type: 'k8s_event' },
              { type: 'nft_quarantine' },
            ]),
          ],
        },
      }),
    );
    expect(needs.map((n) => [describeNeed(n), n.usedBy.join('+'), n.liveOnly])).toEqual([
      ['list pods', 'attribution', false],
      ['watch pods', 'attribution', false],
      // The reporter's create is needed in dry-run too; k8s_event's only live: needed always.
      ['create events.k8s.io/events', 'Kubernetes Events+k8s_event', false],
      ['patch events.k8s.io/events', 'Kubernetes Events', false],
      ['list networking.k8s.io/networkpolicies', 'posture+netpol_quarantine', false],
      ['get pods', 'responses', false],
      ['delete pods', 'delete_pod', true],
      ['get apps/replicasets', 'delete_pod', false],
      ['get apps/statefulsets', 'delete_pod', false],
      ['get replicationcontrollers', 'delete_pod', false],
      ['patch pods', 'label+netpol_quarantine', true],
      ['get networking.k8s.io/networkpolicies', 'netpol_quarantine', false],
      ['create networking.k8s.io/networkpolicies', 'netpol_quarantine', true],
      ['delete networking.k8s.io/networkpolicies', 'netpol_quarantine', true],
    ]);
  });

  it("reads DESIGN.md's example config: nft_quarantine and delete_pod", async () => {
    const design = await loadConfig(join(FIXTURES, 'config/design-example.yaml'), {}, { NODE_NAME: 'n1' });
    expect(accessNeeds(design).map(describeNeed)).toEqual([
      'list pods',
      'watch pods',
      'create events.k8s.io/events',
      'patch events.k8s.io/events',
      'list networking.k8s.io/networkpolicies',
      'get pods',
      'delete pods',
      'get apps/replicasets',
      'get apps/statefulsets',
      'get replicationcontrollers',
    ]);
  });

  it('describes a grant per resource', () => {
    expect(
      describeGrant([
        { verb: 'delete', group: '', resource: 'pods' },
        { verb: 'patch', group: '', resource: 'pods' },
        { verb: 'create', group: 'networking.k8s.io', resource: 'networkpolicies' },
      ]),
    ).toBe('pods: delete, patch; networking.k8s.io/networkpolicies: create');
  });
});

describe('apiAccessCheck', () => {
  let api: FakeKubeApi;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    api = await FakeKubeApi.start();
    dir = mkdtempSync(join(tmpdir(), 'kernwatch-doctor-api-'));
    kubeconfig = join(dir, 'kubeconfig');
    await api.writeKubeconfig(kubeconfig);
  });

  afterAll(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    api.allowAll();
    api.clearInjected();
  });

  const check = (input: Record<string, unknown> = {}): ReturnType<typeof apiAccessCheck> =>
    apiAccessCheck({
      config: config({ ...input, kubernetes: { kubeconfig, ...(input.kubernetes as object | undefined) } }),
      timeoutMs: 3000,
    });

  it('passes when every needed verb is allowed, asking one review per verb', async () => {
    const before = api.count('create', 'selfsubjectaccessreviews');
    expect(await check()).toEqual({
      id: 'api',
      status: 'pass',
      detail: `${api.url}: allowed list pods, watch pods, create events.k8s.io/events, patch events.k8s.io/events, list networking.k8s.io/networkpolicies`,
      fix: '',
    });
    expect(api.count('create', 'selfsubjectaccessreviews') - before).toBe(5);
    const bodies = api.requests
      .filter((r) => r.resource === 'selfsubjectaccessreviews')
      .slice(-5)
      .map((r) => JSON.parse(r.body ?? '{}') as { spec: { resourceAttributes: Record<string, string> } })
      .map((b) => b.spec.resourceAttributes)
      .sort((a, b) =>
        `${a.verb ?? ''}${a.resource ?? ''}`.localeCompare(`${b.verb ?? ''}${b.resource ?? ''}`),
      );
    // Cluster-wide (no namespace): what a ClusterRole bound by a ClusterRoleBinding grants.
    expect(bodies).toEqual([
      { verb: 'create', group: 'events.k8s.io', resource: 'events' },
      { verb: 'list', group: 'networking.k8s.io', resource: 'networkpolicies' },
      { verb: 'list', group: '', resource: 'pods' },
      { verb: 'patch', group: 'events.k8s.io', resource: 'events' },
      { verb: 'watch', group: '', resource: 'pods' },
    ]);
  });

  it('fails when attribution may not watch pods', async () => {
    api.allowOnly(BASE_RULES.filter((r) => r.verb !== 'watch'));
    expect(await check()).toEqual({
      id: 'api',
      status: 'fail',
      detail: `${api.url}: denied watch pods (attribution)`,
      fix: "grant in kernwatch's ClusterRole: pods: watch",
    });
  });

  it('counts a RoleBinding in one namespace as not enough for cluster-wide use', async () => {
    api.allowOnly([
      ...BASE_RULES.filter((r) => r.resource !== 'events'),
      { verb: '*', resource: 'events', group: 'events.k8s.io', namespace: 'default' },
    ]);
    const result = await check();
    expect(result.status).toBe('fail');
    expect(result.detail).toBe(
      `${api.url}: denied create events.k8s.io/events (Kubernetes Events), patch events.k8s.io/events (Kubernetes Events)`,
    );
  });

  it('warns in dry-run about verbs only live responses use, fails once responses are enabled', async () => {
    api.allowOnly([
      ...BASE_RULES,
      { verb: 'get', resource: 'pods' },
      { verb: 'get', resource: '*', group: 'apps' },
      { verb: 'get', resource: 'replicationcontrollers' },
    ]);
    const responses = { rules: [rule('kill', [{ type: 'delete_pod' }])] };
    expect(await check({ responses })).toEqual({
      id: 'api',
      status: 'warn',
      detail: `${api.url}: allowed what attribution, Events and dry-run responses use; denied delete pods (delete_pod), which responses need once responses.enabled is true`,
      fix: "grant in kernwatch's ClusterRole before enabling responses: pods: delete",
    });
    expect(await check({ responses: { ...responses, enabled: true } })).toEqual({
      id: 'api',
      status: 'fail',
      detail: `${api.url}: denied delete pods (delete_pod)`,
      fix: "grant in kernwatch's ClusterRole: pods: delete",
    });
  });

  it('fails on a read a dry-run response needs, naming the later ones too', async () => {
    api.allowOnly(BASE_RULES);
    const result = await check({ responses: { rules: [rule('kill', [{ type: 'label' }])] } });
    expect(result).toEqual({
      id: 'api',
      status: 'fail',
      detail: `${api.url}: denied get pods (responses); also denied, needed once responses are enabled: patch pods (label)`,
      fix: "grant in kernwatch's ClusterRole: pods: get, patch",
    });
  });

  it('treats an explicit Deny like any denial', async () => {
    api.denyExplicitly({ verb: 'list', resource: 'pods' }, 'denied by the node-restriction webhook');
    expect((await check()).detail).toBe(`${api.url}: denied list pods (attribution)`);
  });

  it('fails when the API server errs, refuses the token, or is not there', async () => {
    api.failRequests({ verb: 'create', resource: 'selfsubjectaccessreviews', code: 500, times: 4 });
    expect(await check()).toEqual({
      id: 'api',
      status: 'fail',
      detail: `cannot ask ${api.url} (SelfSubjectAccessReview): HTTP 500 Internal error occurred: etcdserver: request timed out`,
      fix: 'check that the API server is reachable from the node and that the credentials are valid',
    });
    api.clearInjected();

    const badToken = join(dir, 'bad-token');
    writeFileSync(badToken, api.kubeconfig().replace(api.token, 'not-the-token'));
    const refused = await apiAccessCheck({
      config: config({ kubernetes: { kubeconfig: badToken } }),
      timeoutMs: 3000,
    });
    expect(refused.detail).toBe(
      `cannot ask ${api.url} (SelfSubjectAccessReview): HTTP 401 Unauthorized (the credentials were refused)`,
    );

    const nowhere = join(dir, 'nowhere');
    const port = await freePort();
    writeFileSync(nowhere, api.kubeconfig().replace(api.url, `http://127.0.0.1:${port}`));
    const down = await apiAccessCheck({
      config: config({ kubernetes: { kubeconfig: nowhere } }),
      timeoutMs: 3000,
    });
    expect(down.status).toBe('fail');
    expect(down.detail).toContain(`cannot ask http://127.0.0.1:${port} (SelfSubjectAccessReview): `);
    expect(down.detail).toContain('ECONNREFUSED');
  });

  it('fails when the server does not answer in time', async () => {
    api.delayRequests({ verb: 'create', resource: 'selfsubjectaccessreviews', ms: 2000, times: 4 });
    const slow = await apiAccessCheck({ config: config({ kubernetes: { kubeconfig } }), timeoutMs: 300 });
    expect(slow.detail).toBe(`cannot ask ${api.url} (SelfSubjectAccessReview): no answer within 300 ms`);
  });

  it('warns when no API server is configured or kubernetes is off; fails on a broken kubeconfig', async () => {
    const none = await apiAccessCheck({
      config: config(),
      timeoutMs: 1000,
      env: {},
      tokenMounted: () => false,
    });
    expect(none).toEqual({
      id: 'api',
      status: 'warn',
      detail:
        'no API server configured: no kubeconfig given and not in a cluster (no KUBERNETES_SERVICE_HOST or service account token): ' +
        'pods have no labels or owners, no Kubernetes Events are written, and responses cannot use the API',
      fix: 'run kernwatch in its DaemonSet (in-cluster config), or give --kubeconfig FILE',
    });
    const off = await apiAccessCheck({
      config: config({ kubernetes: { enabled: false, kubeconfig } }),
      timeoutMs: 1000,
    });
    expect(off.status).toBe('warn');
    expect(off.detail.startsWith('kubernetes.enabled is false: ')).toBe(true);

    const garbage = join(dir, 'garbage');
    writeFileSync(garbage, 'clusters: [');
    const broken = await apiAccessCheck({
      config: config({ kubernetes: { kubeconfig: garbage } }),
      timeoutMs: 1000,
    });
    expect(broken.status).toBe('fail');
    expect(broken.detail.startsWith(`Cannot load kubeconfig ${garbage}: `)).toBe(true);
  });
});
