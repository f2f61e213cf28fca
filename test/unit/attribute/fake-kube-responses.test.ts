import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  V1DeleteOptions,
  V1Preconditions,
  Watch,
  type V1NetworkPolicy,
} from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DAEMON_SETS,
  DEPLOYMENTS,
  FakeKubeApi,
  fakeDaemonSet,
  fakeDeployment,
  fakeNetworkPolicy,
  fakePod,
  fakeReplicaSet,
  fakeStatefulSet,
  NETWORK_POLICIES,
  PODS,
  REPLICA_SETS,
  STATEFUL_SETS,
  type KubeObject,
} from '../../helpers/fake-kube-api.js';
import { waitUntil } from '../../helpers/wait.js';

/**
 * What the agent's responders will ask of the Kubernetes API server, checked against the fake through
 * @kubernetes/client-node (the agent's client): pod DELETE with preconditions and graceful deletion, pod
 * PATCH with the real update validation, NetworkPolicies created, patched and deleted, apps/v1 workloads
 * read and watched. Expected answers are the real kube-apiserver's (v1.28-v1.31).
 */

/** The fake's fixed wall clock: 2026-11-28T12:00:00Z. */
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const SMP = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

const LABEL_VALUE_RULE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must " +
  "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for " +
  "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const NAME_PART_RULE =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " +
  "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is " +
  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const UPDATABLE =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,' +
  '`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),' +
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

interface SeenEvent {
  type: string;
  object: KubeObject;
}

interface OpenWatch {
  events: SeenEvent[];
  abort(): void;
}

async function apiError(call: Promise<unknown>): Promise<{ code: number; status: Record<string, unknown> }> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiException)) throw new Error(`expected an ApiException, got ${String(err)}`);
  const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : undefined;
  return { code: err.code, status: (body ?? {}) as Record<string, unknown> };
}

/** DeleteOptions built the way the agent builds request bodies: client-node's model classes. */
function deleteOptions(input: {
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  orphanDependents?: boolean;
  uid?: string;
  resourceVersion?: string;
}): V1DeleteOptions {
  const options = new V1DeleteOptions();
  if (input.gracePeriodSeconds !== undefined) options.gracePeriodSeconds = input.gracePeriodSeconds;
  if (input.propagationPolicy !== undefined) options.propagationPolicy = input.propagationPolicy;
  if (input.orphanDependents !== undefined) options.orphanDependents = input.orphanDependents;
  if (input.uid !== undefined || input.resourceVersion !== undefined) {
    const preconditions = new V1Preconditions();
    if (input.uid !== undefined) preconditions.uid = input.uid;
    if (input.resourceVersion !== undefined) preconditions.resourceVersion = input.resourceVersion;
    options.preconditions = preconditions;
  }
  return options;
}

/**
 * A NetworkPolicy body written as the JSON that goes on the wire (client-node serializes a body by its
 * declared model, so plain data and model instances send the same bytes).
 */
function policyBody(json: object): V1NetworkPolicy {
  return json;
}

function failure(code: number, reason: string, message: string, details?: Record<string, unknown>): unknown {
  return {
    code,
    status: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      ...(details === undefined ? {} : { details }),
      code,
    },
  };
}

describe('the fake Kubernetes API server answers the responders like the real one', () => {
  let dir = '';
  let api: FakeKubeApi;
  let now = T0;
  let kubeConfig: KubeConfig;
  let core: CoreV1Api;
  let networking: NetworkingV1Api;
  let apps: AppsV1Api;
  const watches: OpenWatch[] = [];

  async function openWatch(path: string): Promise<OpenWatch> {
    const events: SeenEvent[] = [];
    const controller = await new Watch(kubeConfig).watch(
      path,
      { resourceVersion: api.resourceVersion },
      (type: string, object: unknown) => {
        events.push({ type, object: object as KubeObject });
      },
      () => undefined,
    );
    const watch = {
      events,
      abort: () => {
        controller.abort();
      },
    };
    watches.push(watch);
    return watch;
  }

  /** Lets a watch catch up with everything written so far. */
  async function settled(watch: OpenWatch, count: number): Promise<string[]> {
    await waitUntil(
      () => `${count} watch events (have ${watch.events.length})`,
      () => watch.events.length >= count,
      5000,
    );
    return watch.events.map((e) => e.type);
  }

  function runningPod(name: string, extra: Parameters<typeof fakePod>[0] | object = {}): KubeObject {
    return api.createPod(fakePod({ name, namespace: 'shop', nodeName: 'node-a', ...extra }));
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-fake-kube-responses-'));
  });

  beforeEach(async () => {
    now = T0;
    api = await FakeKubeApi.start({ clock: () => now });
    const path = join(dir, `kubeconfig-${String(Date.now())}`);
    await api.writeKubeconfig(path);
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(path);
    core = kubeConfig.makeApiClient(CoreV1Api);
    networking = kubeConfig.makeApiClient(NetworkingV1Api);
    apps = kubeConfig.makeApiClient(AppsV1Api);
  });

  afterEach(async () => {
    for (const watch of watches.splice(0)) watch.abort();
    await api.close();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('pod DELETE', () => {
    it('starts a graceful deletion of a running pod: deletionTimestamp = now + terminationGracePeriodSeconds, MODIFIED, the pod stays', async () => {
      const pod = runningPod('web-1');
      const uid = pod.metadata.uid ?? '';
      const watch = await openWatch('/api/v1/namespaces/shop/pods');

      const answered = await core.deleteNamespacedPod({
        name: 'web-1',
        namespace: 'shop',
        body: deleteOptions({ uid }),
      });
      expect(answered.kind).toBe('Pod');
      expect(answered.metadata?.deletionTimestamp?.toISOString()).toBe('2026-11-28T12:00:30.000Z');
      expect(answered.metadata?.deletionGracePeriodSeconds).toBe(30);
      expect(answered.metadata?.resourceVersion).toBe(api.resourceVersion);

      expect(await settled(watch, 1)).toStrictEqual(['MODIFIED']);
      expect(watch.events[0]?.object.metadata).toMatchObject({
        name: 'web-1',
        deletionTimestamp: '2026-11-28T12:00:30Z',
        deletionGracePeriodSeconds: 30,
      });
      expect(api.getPod('shop', 'web-1')?.metadata.deletionTimestamp).toBe('2026-11-28T12:00:30Z');
      const request = api.requests.find((r) => r.verb === 'delete');
      expect(request?.path).toBe('/api/v1/namespaces/shop/pods/web-1');
      expect(JSON.parse(request?.body ?? '')).toStrictEqual({ preconditions: { uid } });
    });

    it('takes the grace period from the body, or from the query when there is no body, and never from both', async () => {
      runningPod('a', { terminationGracePeriodSeconds: 60 });
      runningPod('b');
      runningPod('c');
      const viaBody = await core.deleteNamespacedPod({
        name: 'a',
        namespace: 'shop',
        body: deleteOptions({ gracePeriodSeconds: 5 }),
      });
      expect(viaBody.metadata?.deletionGracePeriodSeconds).toBe(5);
      const viaQuery = await core.deleteNamespacedPod({
        name: 'b',
        namespace: 'shop',
        gracePeriodSeconds: 7,
      });
      expect(viaQuery.metadata?.deletionGracePeriodSeconds).toBe(7);
      expect(
        api.requests.filter((r) => r.verb === 'delete').map((r) => [r.query.gracePeriodSeconds, r.body]),
      ).toStrictEqual([
        [undefined, '{"gracePeriodSeconds":5}'],
        ['7', ''],
      ]);
      // With a body, the handler decodes the body only: the query's 1 s is not seen.
      const both = await core.deleteNamespacedPod({
        name: 'c',
        namespace: 'shop',
        gracePeriodSeconds: 1,
        body: deleteOptions({ propagationPolicy: 'Background' }),
      });
      expect(both.metadata?.deletionGracePeriodSeconds).toBe(30);
    });

    it('answers a second DELETE with the pod unchanged, unless it asks for a shorter grace period', async () => {
      runningPod('web-1');
      await core.deleteNamespacedPod({ name: 'web-1', namespace: 'shop' });
      const rv = api.resourceVersion;
      const watch = await openWatch('/api/v1/namespaces/shop/pods');

      now = T0 + 5000;
      const again = await core.deleteNamespacedPod({
        name: 'web-1',
        namespace: 'shop',
        gracePeriodSeconds: 60,
      });
      expect(again.metadata?.deletionTimestamp?.toISOString()).toBe('2026-11-28T12:00:30.000Z');
      expect(again.metadata?.resourceVersion).toBe(rv);
      expect(api.resourceVersion).toBe(rv);

      const shorter = await core.deleteNamespacedPod({
        name: 'web-1',
        namespace: 'shop',
        gracePeriodSeconds: 10,
      });
      // Moved back from the original request: 12:00:30 - 30 s + 10 s.
      expect(shorter.metadata?.deletionTimestamp?.toISOString()).toBe('2026-11-28T12:00:10.000Z');
      expect(shorter.metadata?.deletionGracePeriodSeconds).toBe(10);
      expect(await settled(watch, 1)).toStrictEqual(['MODIFIED']);
    });

    it('ends a graceful deletion with completePodDeletion as the kubelet does: MODIFIED (grace 0) then DELETED, then 404', async () => {
      runningPod('web-1');
      await core.deleteNamespacedPod({ name: 'web-1', namespace: 'shop' });
      const watch = await openWatch('/api/v1/namespaces/shop/pods');

      const last = api.completePodDeletion('shop', 'web-1');
      expect(await settled(watch, 2)).toStrictEqual(['MODIFIED', 'DELETED']);
      expect(watch.events[0]?.object.metadata).toMatchObject({
        deletionTimestamp: '2026-11-28T12:00:00Z',
        deletionGracePeriodSeconds: 0,
      });
      expect(watch.events[1]?.object.metadata.resourceVersion).toBe(api.resourceVersion);
      expect(last.metadata.resourceVersion).toBe(api.resourceVersion);
      expect(await apiError(core.readNamespacedPod({ name: 'web-1', namespace: 'shop' }))).toStrictEqual(
        failure(404, 'NotFound', 'pods "web-1" not found', { name: 'web-1', kind: 'pods' }),
      );
      expect(() => api.completePodDeletion('shop', 'web-1')).toThrow('not found');
      runningPod('idle');
      expect(() => api.completePodDeletion('shop', 'idle')).toThrow('not terminating');
    });

    it('removes at once with grace 0, an unscheduled pod and a finished pod: MODIFIED then DELETED, answered with the last state', async () => {
      runningPod('forced');
      api.createPod(fakePod({ name: 'pending', namespace: 'shop' }));
      runningPod('done', { phase: 'Succeeded' });
      const watch = await openWatch('/api/v1/namespaces/shop/pods');

      const forced = await core.deleteNamespacedPod({
        name: 'forced',
        namespace: 'shop',
        gracePeriodSeconds: 0,
      });
      expect(forced.metadata?.deletionTimestamp?.toISOString()).toBe('2026-11-28T12:00:00.000Z');
      expect(forced.metadata?.deletionGracePeriodSeconds).toBe(0);
      expect(forced.metadata?.resourceVersion).toBe(api.resourceVersion);

      const pending = await core.deleteNamespacedPod({ name: 'pending', namespace: 'shop' });
      expect(pending.metadata?.deletionGracePeriodSeconds).toBe(0);
      const done = await core.deleteNamespacedPod({
        name: 'done',
        namespace: 'shop',
        gracePeriodSeconds: 30,
      });
      expect(done.metadata?.deletionGracePeriodSeconds).toBe(0);

      expect(await settled(watch, 6)).toStrictEqual([
        'MODIFIED',
        'DELETED',
        'MODIFIED',
        'DELETED',
        'MODIFIED',
        'DELETED',
      ]);
      expect(watch.events.map((e) => e.object.metadata.name)).toStrictEqual([
        'forced',
        'forced',
        'pending',
        'pending',
        'done',
        'done',
      ]);
      expect(api.objects(PODS, 'shop')).toStrictEqual([]);
    });

    it('answers 404 for a missing pod and 409 with the real messages for a failed uid or resourceVersion precondition', async () => {
      expect(await apiError(core.deleteNamespacedPod({ name: 'ghost', namespace: 'shop' }))).toStrictEqual(
        failure(404, 'NotFound', 'pods "ghost" not found', { name: 'ghost', kind: 'pods' }),
      );
      const pod = runningPod('web-1', { uid: '11111111-1111-1111-1111-111111111111' });
      const rv = api.resourceVersion;
      expect(
        await apiError(
          core.deleteNamespacedPod({
            name: 'web-1',
            namespace: 'shop',
            body: deleteOptions({ uid: '22222222-2222-2222-2222-222222222222' }),
          }),
        ),
      ).toStrictEqual(
        failure(
          409,
          'Conflict',
          'Operation cannot be fulfilled on Pod "web-1": the UID in the precondition ' +
            '(22222222-2222-2222-2222-222222222222) does not match the UID in record ' +
            '(11111111-1111-1111-1111-111111111111). The object might have been deleted and then recreated',
          { name: 'web-1', kind: 'Pod' },
        ),
      );
      expect(
        await apiError(
          core.deleteNamespacedPod({
            name: 'web-1',
            namespace: 'shop',
            body: deleteOptions({ resourceVersion: '1' }),
          }),
        ),
      ).toStrictEqual(
        failure(
          409,
          'Conflict',
          `Operation cannot be fulfilled on Pod "web-1": the ResourceVersion in the precondition (1) does not ` +
            `match the ResourceVersion in record (${pod.metadata.resourceVersion ?? ''}). The object might have been modified`,
          { name: 'web-1', kind: 'Pod' },
        ),
      );
      expect(api.resourceVersion).toBe(rv);
      expect(api.getPod('shop', 'web-1')?.metadata.deletionTimestamp).toBeUndefined();
    });

    it('refuses an unknown propagationPolicy, or one together with orphanDependents, with 422 on DeleteOptions', async () => {
      runningPod('web-1');
      expect(
        await apiError(
          core.deleteNamespacedPod({ name: 'web-1', namespace: 'shop', propagationPolicy: 'Later' }),
        ),
      ).toStrictEqual(
        failure(
          422,
          'Invalid',
          'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Later": supported values: ' +
            '"Foreground", "Background", "Orphan", "nil"',
          {
            group: 'meta.k8s.io',
            kind: 'DeleteOptions',
            causes: [
              {
                reason: 'FieldValueNotSupported',
                message:
                  'Unsupported value: "Later": supported values: "Foreground", "Background", "Orphan", "nil"',
                field: 'propagationPolicy',
              },
            ],
          },
        ),
      );
      const both = await apiError(
        core.deleteNamespacedPod({
          name: 'web-1',
          namespace: 'shop',
          body: deleteOptions({ orphanDependents: true, propagationPolicy: 'Orphan' }),
        }),
      );
      expect([both.code, both.status.message]).toStrictEqual([
        422,
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Orphan": orphanDependents and ' +
          'deletionPropagation cannot be both set',
      ]);
    });

    it('adds the foregroundDeletion finalizer for Foreground propagation; the pod goes once the finalizer is patched away', async () => {
      runningPod('web-1');
      const watch = await openWatch('/api/v1/namespaces/shop/pods');
      const marked = await core.deleteNamespacedPod({
        name: 'web-1',
        namespace: 'shop',
        gracePeriodSeconds: 0,
        propagationPolicy: 'Foreground',
      });
      expect(marked.metadata?.finalizers).toStrictEqual(['foregroundDeletion']);
      expect(marked.metadata?.deletionGracePeriodSeconds).toBe(0);
      expect(api.getPod('shop', 'web-1')).toBeDefined();

      // What the garbage collector does once there are no dependents left.
      const patched = await core.patchNamespacedPod(
        { name: 'web-1', namespace: 'shop', body: { metadata: { finalizers: null } } },
        MERGE,
      );
      expect(patched.metadata?.finalizers).toBeUndefined();
      expect(await settled(watch, 2)).toStrictEqual(['MODIFIED', 'DELETED']);
      expect(api.getPod('shop', 'web-1')).toBeUndefined();
    });
    it('answers 202 when the pod stays and orphanDependents is false, and refuses DELETE on the collection with 405', async () => {
      runningPod('web-1');
      const headers = { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' };
      const cascading = await fetch(`${api.url}/api/v1/namespaces/shop/pods/web-1`, {
        method: 'DELETE',
        headers,
        body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', orphanDependents: false }),
      });
      expect(cascading.status).toBe(202);
      expect(((await cascading.json()) as KubeObject).metadata.deletionGracePeriodSeconds).toBe(30);
      const collection = await fetch(`${api.url}/api/v1/namespaces/shop/pods`, { method: 'DELETE', headers });
      expect([collection.status, api.count('deletecollection')]).toStrictEqual([405, 1]);
    });
  });

  describe('pod PATCH', () => {
    it('merges labels and annotations with each patch type, writing MODIFIED once per change', async () => {
      runningPod('web-1', { labels: { app: 'web' } });
      const watch = await openWatch('/api/v1/namespaces/shop/pods');
      await core.patchNamespacedPod(
        {
          name: 'web-1',
          namespace: 'shop',
          body: { metadata: { labels: { 'kernwatch.io/quarantine': 'true' } } },
        },
        SMP,
      );
      await core.patchNamespacedPod(
        {
          name: 'web-1',
          namespace: 'shop',
          body: { metadata: { annotations: { 'kernwatch.io/reason': 'seccomp' } } },
        },
        MERGE,
      );
      const last = await core.patchNamespacedPod(
        {
          name: 'web-1',
          namespace: 'shop',
          body: [{ op: 'add', path: '/metadata/labels/tier', value: 'front' }],
        },
        JSON_PATCH,
      );
      expect(last.metadata?.labels).toStrictEqual({
        app: 'web',
        'kernwatch.io/quarantine': 'true',
        tier: 'front',
      });
      expect(last.metadata?.annotations).toStrictEqual({ 'kernwatch.io/reason': 'seccomp' });
      expect(await settled(watch, 3)).toStrictEqual(['MODIFIED', 'MODIFIED', 'MODIFIED']);

      const rv = api.resourceVersion;
      await core.patchNamespacedPod(
        { name: 'web-1', namespace: 'shop', body: { metadata: { labels: { tier: 'front' } } } },
        SMP,
      );
      expect(api.resourceVersion).toBe(rv);
    });

    it('merges containers by name in a strategic merge patch and lets the image change; status in the patch is ignored', async () => {
      runningPod('web-1', { containers: ['app', 'sidecar'] });
      const patched = await core.patchNamespacedPod(
        {
          name: 'web-1',
          namespace: 'shop',
          body: {
            spec: { containers: [{ name: 'sidecar', image: 'registry.example/sidecar:2' }] },
            status: { phase: 'Failed' },
          },
        },
        SMP,
      );
      expect(patched.spec?.containers.map((c) => [c.name, c.image])).toStrictEqual([
        ['app', 'registry.example/app:1'],
        ['sidecar', 'registry.example/sidecar:2'],
      ]);
      expect(patched.status?.phase).toBe('Running');
    });

    it('prepends a finalizer a strategic merge patch adds, as the real list ordering does', async () => {
      runningPod('web-1');
      await core.patchNamespacedPod(
        { name: 'web-1', namespace: 'shop', body: { metadata: { finalizers: ['a.example/x'] } } },
        SMP,
      );
      const both = await core.patchNamespacedPod(
        { name: 'web-1', namespace: 'shop', body: { metadata: { finalizers: ['b.example/y'] } } },
        SMP,
      );
      expect(both.metadata?.finalizers).toStrictEqual(['b.example/y', 'a.example/x']);
      const one = await core.patchNamespacedPod(
        {
          name: 'web-1',
          namespace: 'shop',
          body: { metadata: { '$deleteFromPrimitiveList/finalizers': ['b.example/y'] } },
        },
        SMP,
      );
      expect(one.metadata?.finalizers).toStrictEqual(['a.example/x']);
    });

    it('refuses a label value or key and an annotation key the validation refuses, with 422 and the real causes', async () => {
      runningPod('web-1');
      const rv = api.resourceVersion;
      const bad = await apiError(
        core.patchNamespacedPod(
          { name: 'web-1', namespace: 'shop', body: { metadata: { labels: { app: 'not ok!' } } } },
          MERGE,
        ),
      );
      const labelCause = {
        reason: 'FieldValueInvalid',
        message: `Invalid value: "not ok!": ${LABEL_VALUE_RULE}`,
        field: 'metadata.labels',
      };
      expect(bad).toStrictEqual(
        failure(
          422,
          'Invalid',
          `Pod "web-1" is invalid: metadata.labels: Invalid value: "not ok!": ${LABEL_VALUE_RULE}`,
          {
            name: 'web-1',
            kind: 'Pod',
            // ValidateObjectMetaUpdate and ValidateObjectMeta both check labels.
            causes: [labelCause, labelCause],
          },
        ),
      );
      const long = 'x'.repeat(64);
      const tooLong = await apiError(
        core.patchNamespacedPod(
          { name: 'web-1', namespace: 'shop', body: { metadata: { labels: { app: long } } } },
          MERGE,
        ),
      );
      expect(tooLong.status.message).toBe(
        `Pod "web-1" is invalid: metadata.labels: Invalid value: "${long}": must be no more than 63 characters`,
      );
      const key = await apiError(
        core.patchNamespacedPod(
          { name: 'web-1', namespace: 'shop', body: { metadata: { annotations: { 'bad key': 'v' } } } },
          MERGE,
        ),
      );
      expect(key.status.message).toBe(
        `Pod "web-1" is invalid: metadata.annotations: Invalid value: "bad key": ${NAME_PART_RULE}`,
      );
      expect(api.resourceVersion).toBe(rv);
    });

    it('refuses spec changes other than the updatable fields with the Forbidden message', async () => {
      runningPod('web-1');
      const moved = await apiError(
        core.patchNamespacedPod(
          { name: 'web-1', namespace: 'shop', body: { spec: { nodeName: 'node-b' } } },
          SMP,
        ),
      );
      const detail = `${UPDATABLE}\n  core.PodSpec{\n- \tNodeName: "node-a",\n+ \tNodeName: "node-b",\n  }\n`;
      expect(moved).toStrictEqual(
        failure(422, 'Invalid', `Pod "web-1" is invalid: spec: Forbidden: ${detail}`, {
          name: 'web-1',
          kind: 'Pod',
          causes: [{ reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field: 'spec' }],
        }),
      );
      // terminationGracePeriodSeconds may only go from negative to 1.
      const grace = await apiError(
        core.patchNamespacedPod(
          { name: 'web-1', namespace: 'shop', body: { spec: { terminationGracePeriodSeconds: 5 } } },
          SMP,
        ),
      );
      expect(grace.status.message).toBe(
        `Pod "web-1" is invalid: spec: Forbidden: ${UPDATABLE}\n  core.PodSpec{\n- \tTerminationGracePeriodSeconds: 30,\n+ \tTerminationGracePeriodSeconds: 5,\n  }\n`,
      );
      const added = await apiError(
        core.patchNamespacedPod(
          {
            name: 'web-1',
            namespace: 'shop',
            body: { spec: { containers: [{ name: 'debug', image: 'busybox' }] } },
          },
          SMP,
        ),
      );
      expect(added.status.message).toBe(
        'Pod "web-1" is invalid: spec.containers: Forbidden: pod updates may not add or remove containers',
      );
    });

    it('lets activeDeadlineSeconds be set and lowered, not raised, and tolerations be added, not changed', async () => {
      runningPod('web-1');
      const toleration = {
        key: 'node.kubernetes.io/not-ready',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: 300,
      };
      const set = await core.patchNamespacedPod(
        {
          name: 'web-1',
          namespace: 'shop',
          body: { spec: { activeDeadlineSeconds: 60, tolerations: [toleration] } },
        },
        SMP,
      );
      expect(set.spec?.activeDeadlineSeconds).toBe(60);
      await core.patchNamespacedPod(
        { name: 'web-1', namespace: 'shop', body: { spec: { activeDeadlineSeconds: 30 } } },
        SMP,
      );
      const raised = await apiError(
        core.patchNamespacedPod(
          { name: 'web-1', namespace: 'shop', body: { spec: { activeDeadlineSeconds: 90 } } },
          SMP,
        ),
      );
      expect(raised.status.message).toBe(
        'Pod "web-1" is invalid: spec.activeDeadlineSeconds: Invalid value: 90: must be less than or equal to previous value',
      );
      // tolerationSeconds may change; the toleration itself may not.
      await core.patchNamespacedPod(
        {
          name: 'web-1',
          namespace: 'shop',
          body: { spec: { tolerations: [{ ...toleration, tolerationSeconds: 10 }] } },
        },
        SMP,
      );
      const changed = await apiError(
        core.patchNamespacedPod(
          {
            name: 'web-1',
            namespace: 'shop',
            body: { spec: { tolerations: [{ ...toleration, effect: 'NoSchedule' }] } },
          },
          SMP,
        ),
      );
      expect(changed.status.message).toBe(
        'Pod "web-1" is invalid: spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds',
      );
    });
  });

  describe('NetworkPolicies', () => {
    const deny = (name: string): V1NetworkPolicy =>
      policyBody({
        metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'kernwatch' } },
        spec: { podSelector: { matchLabels: { app: 'web' } } },
      });

    it('creates with the real defaulting (policyTypes from the rules, protocol TCP, generation 1) and lists by selectors', async () => {
      const created = await networking.createNamespacedNetworkPolicy({
        namespace: 'shop',
        body: deny('isolate-web'),
      });
      expect(created.metadata?.generation).toBe(1);
      expect(created.spec?.policyTypes).toStrictEqual(['Ingress']);
      expect(created.metadata?.namespace).toBe('shop');
      const egress = await networking.createNamespacedNetworkPolicy({
        namespace: 'shop',
        body: policyBody({
          metadata: { name: 'dns-only' },
          spec: { podSelector: {}, egress: [{ ports: [{ port: 53 }] }] },
        }),
      });
      expect(egress.spec?.policyTypes).toStrictEqual(['Ingress', 'Egress']);
      expect(egress.spec?.egress?.[0]?.ports?.[0]?.protocol).toBe('TCP');
      expect(api.getObject(NETWORK_POLICIES, 'shop', 'dns-only')?.spec).toStrictEqual({
        podSelector: {},
        egress: [{ ports: [{ port: 53, protocol: 'TCP' }] }],
        policyTypes: ['Ingress', 'Egress'],
      });

      const managed = await networking.listNamespacedNetworkPolicy({
        namespace: 'shop',
        labelSelector: 'app.kubernetes.io/managed-by=kernwatch',
      });
      expect(managed.items.map((p) => p.metadata?.name)).toStrictEqual(['isolate-web']);
      const byName = await networking.listNetworkPolicyForAllNamespaces({
        fieldSelector: 'metadata.name=dns-only',
      });
      expect(byName.items.map((p) => p.metadata?.name)).toStrictEqual(['dns-only']);
      expect(byName.kind).toBe('NetworkPolicyList');
      expect(
        await apiError(
          networking.createNamespacedNetworkPolicy({ namespace: 'shop', body: deny('dns-only') }),
        ),
      ).toStrictEqual(
        failure(409, 'AlreadyExists', 'networkpolicies.networking.k8s.io "dns-only" already exists', {
          name: 'dns-only',
          group: 'networking.k8s.io',
          kind: 'networkpolicies',
        }),
      );
    });

    it('refuses what the networking validation refuses, with 422 and one cause per error', async () => {
      const invalid = await apiError(
        networking.createNamespacedNetworkPolicy({
          namespace: 'shop',
          body: policyBody({
            metadata: { name: 'Bad_Name' },
            spec: {
              podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: [] }] },
              ingress: [{ _from: [{}], ports: [{ port: 70000 }] }],
              policyTypes: ['Ingress', 'Sideways'],
            },
          }),
        }),
      );
      expect(invalid.code).toBe(422);
      expect(invalid.status.details).toStrictEqual({
        name: 'Bad_Name',
        group: 'networking.k8s.io',
        kind: 'NetworkPolicy',
        causes: [
          {
            reason: 'FieldValueInvalid',
            message:
              'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric ' +
              "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', " +
              "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            field: 'metadata.name',
          },
          {
            reason: 'FieldValueRequired',
            message: "Required value: must be specified when `operator` is 'In' or 'NotIn'",
            field: 'spec.podSelector.matchExpressions[0].values',
          },
          {
            reason: 'FieldValueInvalid',
            message: 'Invalid value: 70000: must be between 1 and 65535, inclusive',
            field: 'spec.ingress[0].ports[0].port',
          },
          {
            reason: 'FieldValueRequired',
            message: 'Required value: must specify a peer',
            field: 'spec.ingress[0].from[0]',
          },
          {
            reason: 'FieldValueNotSupported',
            message: 'Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
            field: 'spec.policyTypes[1]',
          },
        ],
      });
      expect(String(invalid.status.message)).toMatch(
        /^NetworkPolicy\.networking\.k8s\.io "Bad_Name" is invalid: \[metadata\.name: /,
      );

      const peers = await apiError(
        networking.createNamespacedNetworkPolicy({
          namespace: 'shop',
          body: policyBody({
            metadata: { name: 'peers' },
            spec: {
              podSelector: { matchLabels: { 'bad key!': 'x' } },
              egress: [
                { to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['192.168.0.0/16'] }, podSelector: {} }] },
              ],
            },
          }),
        }),
      );
      expect(peers.status.message).toBe(
        'NetworkPolicy.networking.k8s.io "peers" is invalid: [spec.podSelector.matchLabels: Invalid value: "bad key!": ' +
          `${NAME_PART_RULE}, spec.egress[0].to[0].ipBlock.except[0]: Invalid value: "192.168.0.0/16": must be a strict ` +
          'subset of `cidr`, spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer]',
      );
      expect(api.objects(NETWORK_POLICIES)).toStrictEqual([]);
    });

    it('patches the spec (generation bumped) and refuses an invalid patch with each spec error reported twice', async () => {
      await networking.createNamespacedNetworkPolicy({ namespace: 'shop', body: deny('isolate-web') });
      const watch = await openWatch('/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies');
      const patched = await networking.patchNamespacedNetworkPolicy(
        { name: 'isolate-web', namespace: 'shop', body: { spec: { policyTypes: ['Ingress', 'Egress'] } } },
        MERGE,
      );
      expect(patched.metadata?.generation).toBe(2);
      expect(patched.spec?.policyTypes).toStrictEqual(['Ingress', 'Egress']);
      const labelled = await networking.patchNamespacedNetworkPolicy(
        { name: 'isolate-web', namespace: 'shop', body: { metadata: { labels: { extra: 'yes' } } } },
        SMP,
      );
      expect(labelled.metadata?.generation).toBe(2);
      expect(await settled(watch, 2)).toStrictEqual(['MODIFIED', 'MODIFIED']);

      const bad = await apiError(
        networking.patchNamespacedNetworkPolicy(
          { name: 'isolate-web', namespace: 'shop', body: { spec: { policyTypes: ['Up'] } } },
          MERGE,
        ),
      );
      const cause = {
        reason: 'FieldValueNotSupported',
        message: 'Unsupported value: "Up": supported values: "Ingress", "Egress"',
        field: 'spec.policyTypes[0]',
      };
      expect(bad).toStrictEqual(
        failure(
          422,
          'Invalid',
          'NetworkPolicy.networking.k8s.io "isolate-web" is invalid: spec.policyTypes[0]: Unsupported value: "Up": ' +
            'supported values: "Ingress", "Egress"',
          { name: 'isolate-web', group: 'networking.k8s.io', kind: 'NetworkPolicy', causes: [cause, cause] },
        ),
      );
    });

    it('answers a DELETE with a Success Status naming the resource, sends DELETED, then 404; a stale uid is 409 on the kind', async () => {
      const created = await networking.createNamespacedNetworkPolicy({
        namespace: 'shop',
        body: deny('isolate-web'),
      });
      const uid = created.metadata?.uid ?? '';
      const watch = await openWatch('/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies');
      expect(
        await apiError(
          networking.deleteNamespacedNetworkPolicy({
            name: 'isolate-web',
            namespace: 'shop',
            body: deleteOptions({ uid: 'stale' }),
          }),
        ),
      ).toStrictEqual(
        failure(
          409,
          'Conflict',
          'Operation cannot be fulfilled on NetworkPolicy.networking.k8s.io "isolate-web": the UID in the precondition ' +
            `(stale) does not match the UID in record (${uid}). The object might have been deleted and then recreated`,
          { name: 'isolate-web', group: 'networking.k8s.io', kind: 'NetworkPolicy' },
        ),
      );

      const status = await networking.deleteNamespacedNetworkPolicy({
        name: 'isolate-web',
        namespace: 'shop',
        body: deleteOptions({ uid }),
      });
      // client-node turns the body into a V1Status: compare the values.
      expect(status).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name: 'isolate-web', group: 'networking.k8s.io', kind: 'networkpolicies', uid },
      });
      expect(await settled(watch, 1)).toStrictEqual(['DELETED']);
      expect(watch.events[0]?.object.metadata.resourceVersion).toBe(api.resourceVersion);
      expect(
        await apiError(networking.readNamespacedNetworkPolicy({ name: 'isolate-web', namespace: 'shop' })),
      ).toStrictEqual(
        failure(404, 'NotFound', 'networkpolicies.networking.k8s.io "isolate-web" not found', {
          name: 'isolate-web',
          group: 'networking.k8s.io',
          kind: 'networkpolicies',
        }),
      );
    });

    it('only marks a NetworkPolicy with finalizers (answered with the object, generation bumped) until the last finalizer goes', async () => {
      const policy = fakeNetworkPolicy({ name: 'held', namespace: 'shop' });
      policy.metadata.finalizers = ['kernwatch.io/cleanup'];
      api.create(NETWORK_POLICIES, policy);
      const watch = await openWatch('/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies');

      now = T0 + 2000;
      const response = await fetch(
        `${api.url}/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/held`,
        {
          method: 'DELETE',
          headers: { authorization: `Bearer ${api.token}` },
        },
      );
      const body = (await response.json()) as KubeObject;
      expect(response.status).toBe(200);
      expect([
        body.kind,
        body.metadata.deletionTimestamp,
        body.metadata.deletionGracePeriodSeconds,
        body.metadata.generation,
      ]).toStrictEqual(['NetworkPolicy', '2026-11-28T12:00:02Z', 0, 2]);
      const rv = api.resourceVersion;
      // Deleting again changes nothing: no write.
      await networking.deleteNamespacedNetworkPolicy({ name: 'held', namespace: 'shop' });
      expect(api.resourceVersion).toBe(rv);

      api.update(NETWORK_POLICIES, 'shop', 'held', (o) => {
        delete o.metadata.finalizers;
      });
      expect(await settled(watch, 2)).toStrictEqual(['MODIFIED', 'DELETED']);
      expect(api.objects(NETWORK_POLICIES)).toStrictEqual([]);
    });
  });

  describe('apps/v1 workloads', () => {
    it('serves ReplicaSets, StatefulSets, Deployments and DaemonSets with the status fields the controllers write', async () => {
      api.create(
        DEPLOYMENTS,
        fakeDeployment({ name: 'web', namespace: 'shop', replicas: 3, availableReplicas: 2 }),
      );
      api.create(
        REPLICA_SETS,
        fakeReplicaSet({
          name: 'web-5d4f8',
          namespace: 'shop',
          replicas: 3,
          readyReplicas: 2,
          owner: { kind: 'Deployment', name: 'web' },
        }),
      );
      api.create(
        STATEFUL_SETS,
        fakeStatefulSet({ name: 'db', namespace: 'data', replicas: 2, readyReplicas: 0 }),
      );
      api.create(
        DAEMON_SETS,
        fakeDaemonSet({
          name: 'kernwatch',
          namespace: 'kube-system',
          desiredNumberScheduled: 4,
          numberReady: 3,
        }),
      );

      const rs = await apps.readNamespacedReplicaSet({ name: 'web-5d4f8', namespace: 'shop' });
      expect(rs.kind).toBe('ReplicaSet');
      expect(rs.status).toEqual({
        replicas: 3,
        fullyLabeledReplicas: 3,
        readyReplicas: 2,
        availableReplicas: 2,
        observedGeneration: 1,
      });
      expect(rs.metadata?.ownerReferences?.[0]).toMatchObject({
        kind: 'Deployment',
        name: 'web',
        controller: true,
      });
      const sts = await apps.readNamespacedStatefulSet({ name: 'db', namespace: 'data' });
      // readyReplicas 0 is omitted (omitempty); availableReplicas is not.
      expect(api.getObject(STATEFUL_SETS, 'data', 'db')?.status).toMatchObject({
        replicas: 2,
        availableReplicas: 0,
      });
      expect(api.getObject(STATEFUL_SETS, 'data', 'db')?.status).not.toHaveProperty('readyReplicas');
      expect(sts.spec?.replicas).toBe(2);
      const ds = await apps.readNamespacedDaemonSet({ name: 'kernwatch', namespace: 'kube-system' });
      expect([
        ds.status?.desiredNumberScheduled,
        ds.status?.numberReady,
        ds.status?.numberAvailable,
        ds.status?.numberUnavailable,
      ]).toStrictEqual([4, 3, 3, 1]);
      const deployment = await apps.readNamespacedDeployment({ name: 'web', namespace: 'shop' });
      expect([
        deployment.status?.replicas,
        deployment.status?.availableReplicas,
        deployment.status?.unavailableReplicas,
      ]).toStrictEqual([3, 2, 1]);
      const byReplicas = await apps.listReplicaSetForAllNamespaces({ fieldSelector: 'status.replicas=3' });
      expect(byReplicas.items.map((r) => r.metadata?.name)).toStrictEqual(['web-5d4f8']);
      expect(
        (await apiError(apps.listStatefulSetForAllNamespaces({ fieldSelector: 'status.replicas=2' }))).status
          .message,
      ).toBe('field label not supported: status.replicas');
    });

    it('watches workloads and refuses writes to them with 405 (read-only here)', async () => {
      const watch = await openWatch('/apis/apps/v1/namespaces/shop/replicasets');
      api.create(REPLICA_SETS, fakeReplicaSet({ name: 'web-1', namespace: 'shop', replicas: 1 }));
      api.update(REPLICA_SETS, 'shop', 'web-1', (o) => {
        o.status = { replicas: 0, observedGeneration: 1 };
      });
      api.delete(REPLICA_SETS, 'shop', 'web-1');
      expect(await settled(watch, 3)).toStrictEqual(['ADDED', 'MODIFIED', 'DELETED']);

      api.create(REPLICA_SETS, fakeReplicaSet({ name: 'web-2', namespace: 'shop', replicas: 1 }));
      const refused = await apiError(apps.deleteNamespacedReplicaSet({ name: 'web-2', namespace: 'shop' }));
      expect(refused).toStrictEqual(
        failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
      );
      expect(api.count('delete', 'replicasets')).toBe(1);
    });
  });
});
