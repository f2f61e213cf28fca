import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi, fakePod } from '../../helpers/fake-kube-api.js';
import { waitUntil } from '../../helpers/wait.js';

/**
 * The fake API server is the one fake the suite allows, so it is held to the real server's behaviour,
 * checked here through the client the agent uses (@kubernetes/client-node): lists, selectors, paging,
 * watches with resourceVersion, bookmarks, 410 Expired, Status errors, request counts.
 */

interface SeenEvent {
  type: string;
  name: string;
  rv: string;
}

interface OpenWatch {
  events: SeenEvent[];
  raw: { type: string; object: unknown }[];
  ended: Promise<unknown>;
  abort(): void;
}

function metaOf(object: unknown): { name: string; resourceVersion: string } {
  const metadata = (object as { metadata?: { name?: string; resourceVersion?: string } }).metadata;
  return { name: metadata?.name ?? '', resourceVersion: metadata?.resourceVersion ?? '' };
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

describe('the fake Kubernetes API server, driven by @kubernetes/client-node', () => {
  let dir = '';
  let api: FakeKubeApi;
  let kubeConfig: KubeConfig;
  let core: CoreV1Api;
  const watches: OpenWatch[] = [];

  async function openWatch(
    path: string,
    params: Record<string, string | number | boolean>,
  ): Promise<OpenWatch> {
    const events: SeenEvent[] = [];
    const raw: { type: string; object: unknown }[] = [];
    let endWith: (err: unknown) => void = () => undefined;
    const ended = new Promise<unknown>((resolve) => {
      endWith = resolve;
    });
    const controller = await new Watch(kubeConfig).watch(
      path,
      params,
      (type: string, object: unknown) => {
        raw.push({ type, object });
        const meta = metaOf(object);
        events.push({ type, name: meta.name, rv: meta.resourceVersion });
      },
      (err: unknown) => {
        endWith(err);
      },
    );
    const watch = {
      events,
      raw,
      ended,
      abort: () => {
        controller.abort();
      },
    };
    watches.push(watch);
    return watch;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-fake-kube-'));
  });

  beforeEach(async () => {
    api = await FakeKubeApi.start();
    const path = join(dir, `kubeconfig-${String(Date.now())}`);
    await api.writeKubeconfig(path);
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(path);
    core = kubeConfig.makeApiClient(CoreV1Api);
  });

  afterEach(async () => {
    for (const watch of watches.splice(0)) watch.abort();
    await api.close();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the pods of one node with fieldSelector=spec.nodeName, at the current resourceVersion', async () => {
    api.createPod(fakePod({ name: 'web-1', namespace: 'shop', nodeName: 'node-a' }));
    api.createPod(fakePod({ name: 'db-0', namespace: 'data', nodeName: 'node-b' }));
    api.createPod(fakePod({ name: 'api-7', namespace: 'default', nodeName: 'node-a' }));

    const list = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-a' });
    expect(list.items.map((p) => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`)).toStrictEqual([
      'default/api-7',
      'shop/web-1',
    ]);
    expect(list.kind).toBe('PodList');
    expect(list.metadata?.resourceVersion).toBe(api.resourceVersion);
    expect(list.items[0]?.spec?.nodeName).toBe('node-a');
  });

  it('rejects a field selector pods do not support with 400 BadRequest, as the real server does', async () => {
    const failure = await apiError(core.listPodForAllNamespaces({ fieldSelector: 'spec.priority=5' }));
    expect(failure).toStrictEqual({
      code: 400,
      status: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'field label not supported: spec.priority',
        reason: 'BadRequest',
        code: 400,
      },
    });
  });

  it('combines field selectors (=, !=, the spec.host alias) and label selectors (=, !=, exists, in)', async () => {
    api.createPod(fakePod({ name: 'a', nodeName: 'n1', labels: { app: 'web', tier: 'front' } }));
    api.createPod(fakePod({ name: 'b', nodeName: 'n1', labels: { app: 'web' }, phase: 'Pending' }));
    api.createPod(fakePod({ name: 'c', nodeName: 'n2', labels: { app: 'db' } }));
    const names = async (fieldSelector?: string, labelSelector?: string): Promise<string[]> =>
      (
        await core.listNamespacedPod({
          namespace: 'default',
          ...(fieldSelector === undefined ? {} : { fieldSelector }),
          ...(labelSelector === undefined ? {} : { labelSelector }),
        })
      ).items.map((p) => p.metadata?.name ?? '');

    expect(await names('spec.host=n1,status.phase!=Pending')).toStrictEqual(['a']);
    expect(await names(undefined, 'app=web,tier')).toStrictEqual(['a']);
    expect(await names(undefined, 'app!=web')).toStrictEqual(['c']);
    expect(await names(undefined, '!tier')).toStrictEqual(['b', 'c']);
    expect(await names('spec.nodeName==n1', 'app in (db, web)')).toStrictEqual(['a', 'b']);
    expect(
      (await apiError(core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=(x' }))).code,
    ).toBe(400);
  });

  it('answers a missing pod with 404 NotFound and a request without the token with 401', async () => {
    const missing = await apiError(core.readNamespacedPod({ name: 'ghost', namespace: 'shop' }));
    expect(missing.code).toBe(404);
    expect(missing.status).toMatchObject({
      reason: 'NotFound',
      message: 'pods "ghost" not found',
      details: { name: 'ghost', kind: 'pods' },
      code: 404,
    });

    const anonymous = new KubeConfig();
    anonymous.loadFromOptions({
      clusters: [{ name: 'c', server: api.url, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const unauthorized = await apiError(anonymous.makeApiClient(CoreV1Api).listPodForAllNamespaces());
    expect(unauthorized.code).toBe(401);
  });

  it('reads one pod with its kind, apiVersion, uid and resourceVersion', async () => {
    const created = api.createPod(fakePod({ name: 'web-1', namespace: 'shop', labels: { app: 'web' } }));
    const pod = await core.readNamespacedPod({ name: 'web-1', namespace: 'shop' });
    expect([pod.kind, pod.apiVersion, pod.metadata?.uid, pod.metadata?.resourceVersion]).toStrictEqual([
      'Pod',
      'v1',
      created.metadata.uid,
      created.metadata.resourceVersion,
    ]);
    expect(pod.metadata?.labels).toStrictEqual({ app: 'web' });
  });

  it('pages a list with limit and continue, all pages at the resourceVersion of the first', async () => {
    for (const name of ['p1', 'p2', 'p3', 'p4', 'p5']) api.createPod(fakePod({ name }));
    const first = await core.listNamespacedPod({ namespace: 'default', limit: 2 });
    expect(first.items.map((p) => p.metadata?.name)).toStrictEqual(['p1', 'p2']);
    expect(first.metadata?.remainingItemCount).toBe(3);
    const token = first.metadata?._continue ?? '';
    expect(token).not.toBe('');

    api.createPod(fakePod({ name: 'p0' }));
    api.deletePod('default', 'p4');
    const rest = await core.listNamespacedPod({ namespace: 'default', limit: 10, _continue: token });
    // Consistent with the first page: p0 did not exist yet, p4 not yet deleted.
    expect(rest.items.map((p) => p.metadata?.name)).toStrictEqual(['p3', 'p4', 'p5']);
    expect(rest.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    expect(rest.metadata?._continue).toBeUndefined();
  });

  it('expires a continue token whose resourceVersion was compacted with 410 Expired', async () => {
    for (const name of ['p1', 'p2', 'p3']) api.createPod(fakePod({ name }));
    const first = await core.listNamespacedPod({ namespace: 'default', limit: 1 });
    api.createPod(fakePod({ name: 'p4' }));
    api.compactHistory();
    const failure = await apiError(
      core.listNamespacedPod({ namespace: 'default', limit: 1, _continue: first.metadata?._continue ?? '' }),
    );
    expect([failure.code, failure.status.reason]).toStrictEqual([410, 'Expired']);
  });

  it('lists at an exact past resourceVersion, and answers one it has not reached with 504', async () => {
    api.createPod(fakePod({ name: 'early' }));
    const then = api.resourceVersion;
    api.createPod(fakePod({ name: 'late' }));
    const exact = await core.listNamespacedPod({
      namespace: 'default',
      resourceVersion: then,
      resourceVersionMatch: 'Exact',
    });
    expect(exact.items.map((p) => p.metadata?.name)).toStrictEqual(['early']);
    expect(exact.metadata?.resourceVersion).toBe(then);

    const future = String(Number(api.resourceVersion) + 10);
    const failure = await apiError(core.listPodForAllNamespaces({ resourceVersion: future }));
    expect([failure.code, failure.status.reason, failure.status.message]).toStrictEqual([
      504,
      'Timeout',
      `Too large resource version: ${future}, current: ${api.resourceVersion}`,
    ]);
  });

  it('replays and streams changes after a resourceVersion, as its field selector sees them', async () => {
    api.createPod(fakePod({ name: 'before', nodeName: 'node-a' }));
    const from = api.resourceVersion;
    api.createPod(fakePod({ name: 'a1', nodeName: 'node-a' }));
    api.createPod(fakePod({ name: 'b1', nodeName: 'node-b' }));
    api.updatePod('default', 'a1', (pod) => {
      pod.metadata.labels = { version: '2' };
    });

    const watch = await openWatch('/api/v1/pods', {
      fieldSelector: 'spec.nodeName=node-a',
      resourceVersion: from,
    });
    await waitUntil('the replayed events', () => watch.events.length === 2, 10_000, 5);
    api.deletePod('default', 'a1');
    api.deletePod('default', 'b1');
    await waitUntil('the live deletion', () => watch.events.length === 3, 10_000, 5);

    expect(watch.events.map((e) => `${e.type} ${e.name}`)).toStrictEqual([
      'ADDED a1',
      'MODIFIED a1',
      'DELETED a1',
    ]);
    const rvs = watch.events.map((e) => Number(e.rv));
    expect(rvs).toStrictEqual([...rvs].sort((x, y) => x - y));
    expect(watch.events[2]?.rv).toBe(String(Number(api.resourceVersion) - 1));
    expect((watch.raw[0]?.object as { kind?: string }).kind).toBe('Pod');
  });

  it('turns an object leaving or entering a watch selector into DELETED and ADDED', async () => {
    api.createPod(fakePod({ name: 'web', labels: { app: 'web' } }));
    const watch = await openWatch('/api/v1/namespaces/default/pods', {
      labelSelector: 'app=web',
      resourceVersion: api.resourceVersion,
    });
    api.updatePod('default', 'web', (pod) => {
      pod.metadata.labels = { app: 'other' };
    });
    api.updatePod('default', 'web', (pod) => {
      pod.metadata.labels = { app: 'web' };
    });
    await waitUntil('two events', () => watch.events.length === 2, 10_000, 5);
    expect(watch.events.map((e) => e.type)).toStrictEqual(['DELETED', 'ADDED']);
  });

  it('starts a watch without resourceVersion with the current pods as ADDED events', async () => {
    api.createPod(fakePod({ name: 'x', nodeName: 'node-a' }));
    api.createPod(fakePod({ name: 'y', nodeName: 'node-b' }));
    const watch = await openWatch('/api/v1/pods', { fieldSelector: 'spec.nodeName=node-a' });
    await waitUntil('the synthetic ADDED', () => watch.events.length === 1, 10_000, 5);
    expect(watch.events.map((e) => `${e.type} ${e.name}`)).toStrictEqual(['ADDED x']);
  });

  it('sends bookmarks at the current resourceVersion only to watches that allowed them', async () => {
    const rv = api.resourceVersion;
    const withBookmarks = await openWatch('/api/v1/pods', { resourceVersion: rv, allowWatchBookmarks: true });
    const without = await openWatch('/api/v1/pods', { resourceVersion: rv });
    api.createPod(fakePod({ name: 'elsewhere', nodeName: 'node-b' }));
    api.sendBookmarks();
    await waitUntil(
      'the events',
      () => withBookmarks.events.length === 2 && without.events.length === 1,
      10_000,
      5,
    );
    expect(withBookmarks.events.map((e) => e.type)).toStrictEqual(['ADDED', 'BOOKMARK']);
    expect(withBookmarks.events[1]?.rv).toBe(api.resourceVersion);
    expect(withBookmarks.raw[1]?.object).toStrictEqual({
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { resourceVersion: api.resourceVersion },
    });
    expect(without.events.map((e) => e.type)).toStrictEqual(['ADDED']);
  });

  it('ends a watch from a compacted resourceVersion with an ERROR event carrying 410 Expired', async () => {
    api.createPod(fakePod({ name: 'old' }));
    const stale = api.resourceVersion;
    api.createPod(fakePod({ name: 'new' }));
    api.compactHistory();
    const watch = await openWatch('/api/v1/pods', { resourceVersion: stale });
    expect(await watch.ended).toBeNull();
    expect(watch.raw).toStrictEqual([
      {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${stale} (${api.resourceVersion})`,
          reason: 'Expired',
          code: 410,
        },
      },
    ]);
  });

  it('ends a watch cleanly after timeoutSeconds', async () => {
    const watch = await openWatch('/api/v1/pods', {
      resourceVersion: api.resourceVersion,
      timeoutSeconds: 1,
    });
    expect(await watch.ended).toBeNull();
    expect(api.watchCount).toBe(0);
  });

  it('ends open watches on closeWatches, as an API server restart does', async () => {
    const watch = await openWatch('/api/v1/pods', { resourceVersion: api.resourceVersion });
    expect(api.watchCount).toBe(1);
    api.closeWatches();
    expect(await watch.ended).toBeNull();
  });

  it('takes watch=1 for a watch (Go ParseBool) and refuses verbs it does not serve with 405', async () => {
    const headers = { authorization: `Bearer ${api.token}` };
    const response = await fetch(`${api.url}/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1`, {
      headers,
    });
    api.createPod(fakePod({ name: 'streamed' }));
    const lines = (await response.text()).split('\n').filter((l) => l !== '');
    expect(lines.map((l) => (JSON.parse(l) as { type: string }).type)).toStrictEqual(['ADDED']);
    expect(api.count('watch')).toBe(1);

    // Pods take DELETE on one pod; DELETE on the collection (deletecollection) is not served.
    const refused = await fetch(`${api.url}/api/v1/namespaces/default/pods`, {
      method: 'DELETE',
      headers,
    });
    expect(refused.status).toBe(405);
    expect(await refused.json()).toMatchObject({ kind: 'Status', reason: 'MethodNotAllowed', code: 405 });
    expect(api.count('deletecollection')).toBe(1);
  });

  it('counts requests per verb and fails the next one of a verb on request', async () => {
    api.failNext('list', 500, 'InternalError', 'etcdserver: request timed out');
    const failure = await apiError(core.listPodForAllNamespaces());
    expect([failure.code, failure.status.message]).toStrictEqual([500, 'etcdserver: request timed out']);
    await core.listPodForAllNamespaces();
    await apiError(core.readNamespacedPod({ name: 'none', namespace: 'default' }));
    const watch = await openWatch('/api/v1/pods', { resourceVersion: api.resourceVersion });
    watch.abort();
    expect([api.count('list'), api.count('get'), api.count('watch')]).toStrictEqual([2, 1, 1]);
  });
});
