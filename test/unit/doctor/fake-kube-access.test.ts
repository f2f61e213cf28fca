import {
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  V1SelfSubjectAccessReview,
} from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeKubeApi, fakePod, SELF_SUBJECT_ACCESS_REVIEW_PATH } from '../../helpers/fake-kube-api.js';

/**
 * The fake API server's authorization, held to the real server's shapes: SelfSubjectAccessReview POST
 * (201, spec echoed, status {allowed, reason?, denied?}; 422 for a spec without attributes) and the 403
 * Forbidden of a denied request (responsewriters.Forbidden's message, errors.NewForbidden's details).
 */

describe('the fake API server: SelfSubjectAccessReview and 403 Forbidden', () => {
  let api: FakeKubeApi;

  beforeAll(async () => {
    api = await FakeKubeApi.start();
  });

  afterAll(async () => {
    await api.close();
  });

  afterEach(() => {
    api.allowAll();
  });

  async function post(
    body: unknown,
    path = SELF_SUBJECT_ACCESS_REVIEW_PATH,
  ): Promise<{ code: number; body: unknown }> {
    const res = await fetch(`${api.url}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${api.token}`, 'Content-Type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { code: res.status, body: await res.json() };
  }

  const review = (resourceAttributes: Record<string, string>): Record<string, unknown> => ({
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes },
  });

  it('answers 201 with the review echoed and allowed: true by default', async () => {
    expect(await post(review({ verb: 'list', group: '', resource: 'pods' }))).toEqual({
      code: 201,
      body: {
        kind: 'SelfSubjectAccessReview',
        apiVersion: 'authorization.k8s.io/v1',
        metadata: { creationTimestamp: null },
        // Empty strings are not echoed (omitempty).
        spec: { resourceAttributes: { verb: 'list', resource: 'pods' } },
        status: {
          allowed: true,
          reason:
            'RBAC: allowed by ClusterRoleBinding "kernwatch" of ClusterRole "cluster-admin" to ServiceAccount "kernwatch/kernwatch"',
        },
      },
    });
  });

  it('answers per the rules set: allowed with the binding as reason, or allowed: false alone (RBAC has no opinion)', async () => {
    api.allowOnly([
      { verb: 'get', resource: 'pods' },
      { verb: '*', resource: 'networkpolicies', group: 'networking.k8s.io', namespace: 'prod' },
    ]);
    const status = async (attrs: Record<string, string>): Promise<unknown> =>
      ((await post(review(attrs))).body as { status: unknown }).status;
    expect(await status({ verb: 'get', resource: 'pods', namespace: 'prod' })).toEqual({
      allowed: true,
      reason:
        'RBAC: allowed by ClusterRoleBinding "kernwatch" of ClusterRole "kernwatch" to ServiceAccount "kernwatch/kernwatch"',
    });
    expect(await status({ verb: 'delete', resource: 'pods' })).toEqual({ allowed: false });
    expect(
      await status({
        verb: 'create',
        group: 'networking.k8s.io',
        resource: 'networkpolicies',
        namespace: 'prod',
      }),
    ).toEqual({
      allowed: true,
      reason:
        'RBAC: allowed by RoleBinding "kernwatch/prod" of Role "kernwatch" to ServiceAccount "kernwatch/kernwatch"',
    });
    // A RoleBinding does not grant the cluster scope.
    expect(await status({ verb: 'create', group: 'networking.k8s.io', resource: 'networkpolicies' })).toEqual(
      { allowed: false },
    );
  });

  it('reports an explicit Deny with denied: true and its reason', async () => {
    api.denyExplicitly(
      { verb: 'delete', resource: 'pods' },
      'pods in this cluster are deleted by the platform only',
    );
    expect(
      ((await post(review({ verb: 'delete', resource: 'pods' }))).body as { status: unknown }).status,
    ).toEqual({
      allowed: false,
      denied: true,
      reason: 'pods in this cluster are deleted by the platform only',
    });
  });

  it('refuses a review without attributes (422) or with both kinds, and other methods (405)', async () => {
    expect(
      await post({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: {} }),
    ).toEqual({
      code: 422,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message:
          'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
        reason: 'Invalid',
        details: {
          group: 'authorization.k8s.io',
          kind: 'SelfSubjectAccessReview',
          causes: [
            {
              reason: 'FieldValueInvalid',
              message:
                'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
              field: 'spec.resourceAttributes',
            },
          ],
        },
        code: 422,
      },
    });
    const both = await post({
      spec: {
        resourceAttributes: { verb: 'get', resource: 'pods' },
        nonResourceAttributes: { path: '/healthz', verb: 'get' },
      },
    });
    expect(both.code).toBe(422);
    expect((both.body as { message: string }).message).toBe(
      'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: authorization.NonResourceAttributes{Path:"/healthz", Verb:"get"}: cannot be specified in combination with resourceAttributes',
    );
    expect((await post('{"spec":')).code).toBe(400);
    const get = await fetch(`${api.url}${SELF_SUBJECT_ACCESS_REVIEW_PATH}`, {
      headers: { Authorization: `Bearer ${api.token}` },
    });
    expect(get.status).toBe(405);
    const anonymous = await fetch(`${api.url}${SELF_SUBJECT_ACCESS_REVIEW_PATH}`, {
      method: 'POST',
      body: '{}',
    });
    expect(anonymous.status).toBe(401);
  });

  it('is what client-node reads as V1SelfSubjectAccessReview', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(api.kubeconfig());
    api.allowOnly([{ verb: 'watch', resource: 'pods' }]);
    const client = kubeConfig.makeApiClient(AuthorizationV1Api);
    const body = Object.assign(new V1SelfSubjectAccessReview(), {
      spec: { resourceAttributes: { verb: 'watch', resource: 'pods', namespace: 'default' } },
    });
    const answer = await client.createSelfSubjectAccessReview({ body });
    expect(answer.status?.allowed).toBe(true);
    expect(answer.spec.resourceAttributes).toEqual({ verb: 'watch', resource: 'pods', namespace: 'default' });
  });

  it('answers denied requests 403 with the real message', async () => {
    api.createPod(fakePod({ name: 'web', namespace: 'default', nodeName: 'n1' }));
    api.allowOnly([{ verb: 'get', resource: 'pods' }]);
    const get = async (path: string, method = 'GET'): Promise<{ code: number; body: unknown }> => {
      const res = await fetch(`${api.url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${api.token}` },
      });
      return { code: res.status, body: await res.json() };
    };
    expect((await get('/api/v1/namespaces/default/pods/web')).code).toBe(200);
    expect(await get('/api/v1/pods')).toEqual({
      code: 403,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message:
          'pods is forbidden: User "system:serviceaccount:kernwatch:kernwatch" cannot list resource "pods" in API group "" at the cluster scope',
        reason: 'Forbidden',
        details: { kind: 'pods' },
        code: 403,
      },
    });
    expect((await get('/api/v1/namespaces/default/pods/web', 'DELETE')).body).toMatchObject({
      message:
        'pods "web" is forbidden: User "system:serviceaccount:kernwatch:kernwatch" cannot delete resource "pods" in API group "" in the namespace "default"',
      details: { name: 'web', kind: 'pods' },
    });
    expect(
      (await get('/apis/networking.k8s.io/v1/namespaces/default/networkpolicies?watch=true')).body,
    ).toMatchObject({
      message:
        'networkpolicies.networking.k8s.io is forbidden: User "system:serviceaccount:kernwatch:kernwatch" cannot watch resource "networkpolicies" in API group "networking.k8s.io" in the namespace "default"',
      details: { group: 'networking.k8s.io', kind: 'networkpolicies' },
    });
    expect(api.getPod('default', 'web')).toBeDefined();

    const core = (() => {
      const kc = new KubeConfig();
      kc.loadFromString(api.kubeconfig());
      return kc.makeApiClient(CoreV1Api);
    })();
    await expect(core.listPodForAllNamespaces()).rejects.toMatchObject({ code: 403 });
  });
});
