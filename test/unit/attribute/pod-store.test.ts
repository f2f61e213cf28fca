import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../../agent/attribute/pods/kube-config.js';
import { PodStore, type PodStoreOptions } from '../../../agent/attribute/pods/pod-store.js';
import { ERROR_CODES, KernwatchError } from '../../../agent/errors.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import { FakeKubeApi, fakePod } from '../../helpers/fake-kube-api.js';
import { waitUntil } from '../../helpers/wait.js';

/**
 * The node-scoped pod informer against the fake API server, through @kubernetes/client-node: what it
 * holds, how it follows the watch, and how it survives the API server's failure modes (410, errors,
 * restarts) without one request per lookup.
 */

const NODE = 'node-a';

describe('the pod store of one node', () => {
  let dir = '';
  let kubeconfigPath = '';
  let api: FakeKubeApi;
  const stores: PodStore[] = [];

  function newStore(options: Partial<PodStoreOptions> = {}): PodStore {
    const store = new PodStore({
      nodeName: NODE,
      logger: silentLogger(),
      kubeConfig: loadKubeConfig({ kubeconfigPath }),
      retryInitialMs: 10,
      retryMaxMs: 50,
      ...options,
    });
    stores.push(store);
    return store;
  }

  async function syncedStore(options: Partial<PodStoreOptions> = {}): Promise<PodStore> {
    const store = newStore(options);
    store.start();
    expect(await store.waitForSync(10_000)).toBe(true);
    await waitUntil('the watch', () => api.watchCount === 1, 10_000, 5);
    return store;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-pod-store-'));
  });

  beforeEach(async () => {
    api = await FakeKubeApi.start();
    kubeconfigPath = join(dir, `kubeconfig-${String(Date.now())}`);
    await api.writeKubeconfig(kubeconfigPath);
  });

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.stop();
    await api.close();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("holds labels, controller owner, IPs and node of this node's pods, and nothing of other nodes", async () => {
    const web = api.createPod(
      fakePod({
        name: 'web-5d4f9c-x2x7k',
        namespace: 'shop',
        nodeName: NODE,
        labels: { app: 'web', 'pod-template-hash': '5d4f9c' },
        owner: { kind: 'ReplicaSet', name: 'web-5d4f9c' },
        ips: ['10.244.1.7', 'fd00:10:244:1::7'],
      }),
    );
    const other = api.createPod(fakePod({ name: 'db-0', namespace: 'data', nodeName: 'node-b' }));
    const store = await syncedStore();

    expect(store.byUid(web.metadata.uid ?? '')).toStrictEqual({
      uid: web.metadata.uid,
      name: 'web-5d4f9c-x2x7k',
      namespace: 'shop',
      labels: { app: 'web', 'pod-template-hash': '5d4f9c' },
      owner: { kind: 'ReplicaSet', name: 'web-5d4f9c' },
      ips: ['10.244.1.7', 'fd00:10:244:1::7'],
      nodeName: NODE,
    });
    expect(store.byName('shop', 'web-5d4f9c-x2x7k')?.uid).toBe(web.metadata.uid);
    expect(store.byUid(other.metadata.uid ?? '')).toBeUndefined();
    expect(store.size).toBe(1);
    // The list asked only for this node, from the watch cache.
    expect(api.requests.find((r) => r.verb === 'list')?.query).toStrictEqual({
      fieldSelector: `spec.nodeName=${NODE}`,
      resourceVersion: '0',
    });
  });

  it('follows creations, label changes and deletions from the watch, with no further list', async () => {
    let now = 1_000_000;
    const store = await syncedStore({ now: () => now });
    const pod = api.createPod(fakePod({ name: 'job-x', nodeName: NODE, labels: { run: '1' } }));
    const uid = pod.metadata.uid ?? '';
    await waitUntil('the new pod', () => store.byUid(uid) !== undefined, 10_000, 5);

    api.updatePod('default', 'job-x', (p) => {
      p.metadata.labels = { run: '2' };
    });
    await waitUntil('the label change', () => store.byUid(uid)?.labels?.run === '2', 10_000, 5);

    now += 42;
    api.deletePod('default', 'job-x');
    await waitUntil('the deletion', () => store.byUid(uid)?.deletedAtMs !== undefined, 10_000, 5);
    expect(store.byUid(uid)?.deletedAtMs).toBe(1_000_042);
    expect(store.byName('default', 'job-x')?.uid).toBe(uid);
    expect(api.count('list')).toBe(1);
    expect(store.resourceVersion).toBe(api.resourceVersion);
  });

  it('answers lookups from memory: a thousand of them make no request', async () => {
    const pod = api.createPod(fakePod({ name: 'web', nodeName: NODE }));
    const store = await syncedStore();
    const before = api.requests.length;
    for (let i = 0; i < 1000; i++) {
      expect(store.byUid(pod.metadata.uid ?? '')?.name).toBe('web');
      expect(store.byName('default', 'web')?.name).toBe('web');
      expect(store.byUid(`missing-${String(i)}`)).toBeUndefined();
    }
    expect(api.requests.length).toBe(before);
  });

  it('keeps a deleted pod for the retention time, then evicts it', async () => {
    let now = 0;
    const pod = api.createPod(fakePod({ name: 'gone', nodeName: NODE }));
    const uid = pod.metadata.uid ?? '';
    const store = await syncedStore({ now: () => now, retentionMs: 60_000 });
    api.deletePod('default', 'gone');
    await waitUntil('the deletion', () => store.byUid(uid)?.deletedAtMs === 0, 10_000, 5);

    now = 59_999;
    expect(store.byUid(uid)?.name).toBe('gone');
    now = 60_000;
    expect(store.byUid(uid)).toBeUndefined();
    expect(store.byName('default', 'gone')).toBeUndefined();
    expect(store.counters.evictions).toBe(1);
    expect(store.size).toBe(0);
  });

  it('relists consistently after a 410 and marks the pods deleted while it was not watching', async () => {
    const kept = api.createPod(fakePod({ name: 'kept', nodeName: NODE }));
    const missed = api.createPod(fakePod({ name: 'missed', nodeName: NODE }));
    const store = await syncedStore();

    // All in one tick: the watch ends, a pod goes, history is compacted before the store can resume.
    api.closeWatches();
    api.deletePod('default', 'missed');
    api.compactHistory();
    await waitUntil(
      'the relist',
      () => store.byUid(missed.metadata.uid ?? '')?.deletedAtMs !== undefined,
      10_000,
      5,
    );

    expect(store.byUid(kept.metadata.uid ?? '')?.deletedAtMs).toBeUndefined();
    expect(store.counters.expired).toBe(1);
    const lists = api.requests.filter((r) => r.verb === 'list').map((r) => r.query.resourceVersion);
    // First from the watch cache ("0"), then consistent (no resourceVersion) as a reflector does after 410.
    expect(lists).toStrictEqual(['0', undefined]);
  });

  it('resumes from a bookmark after the watch ends instead of relisting', async () => {
    api.createPod(fakePod({ name: 'local', nodeName: NODE }));
    const store = await syncedStore();
    // Changes on other nodes move the resourceVersion without an event for this node's watch.
    for (let i = 0; i < 5; i++) api.createPod(fakePod({ name: `remote-${String(i)}`, nodeName: 'node-b' }));
    api.sendBookmarks();
    await waitUntil('the bookmark', () => store.resourceVersion === api.resourceVersion, 10_000, 5);

    api.compactHistory();
    api.closeWatches();
    await waitUntil('the resumed watch', () => api.count('watch') === 2 && api.watchCount === 1, 10_000, 5);
    expect(api.requests.filter((r) => r.verb === 'watch').map((r) => r.query.resourceVersion)).toStrictEqual([
      api.requests.find((r) => r.verb === 'watch')?.query.resourceVersion,
      api.resourceVersion,
    ]);
    expect(api.requests.find((r) => r.verb === 'watch')?.query.allowWatchBookmarks).toBe('true');
    expect([store.counters.expired, api.count('list')]).toStrictEqual([0, 1]);
  });

  it('retries a failed list with backoff and syncs once the server answers', async () => {
    api.failNext('list', 500, 'InternalError', 'etcdserver: request timed out');
    api.createPod(fakePod({ name: 'web', nodeName: NODE }));
    const store = await syncedStore();
    expect(store.byName('default', 'web')?.name).toBe('web');
    expect([store.counters.errors, store.counters.lists]).toStrictEqual([1, 2]);
  });

  it('re-watches from its resourceVersion after a failed watch, without relisting', async () => {
    api.failNext('watch', 503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
    const store = newStore();
    store.start();
    await waitUntil('a healthy watch', () => api.watchCount === 1, 10_000, 5);
    const pod = api.createPod(fakePod({ name: 'after', nodeName: NODE }));
    await waitUntil('the new pod', () => store.byUid(pod.metadata.uid ?? '') !== undefined, 10_000, 5);
    expect([store.counters.errors, api.count('list'), api.count('watch')]).toStrictEqual([1, 1, 2]);
  });

  it('answers a name with the newest pod that holds it, keeping the replaced one as deleted', async () => {
    const first = api.createPod(fakePod({ name: 'db-0', namespace: 'data', nodeName: NODE }));
    const store = await syncedStore();
    api.deletePod('data', 'db-0');
    const second = api.createPod(fakePod({ name: 'db-0', namespace: 'data', nodeName: NODE }));
    await waitUntil(
      'the replacement',
      () => store.byName('data', 'db-0')?.uid === second.metadata.uid,
      10_000,
      5,
    );
    expect(store.byUid(first.metadata.uid ?? '')?.deletedAtMs).toBeDefined();
    expect(store.byUid(second.metadata.uid ?? '')?.deletedAtMs).toBeUndefined();
  });

  it('stays within maxPods by evicting the deleted pod first', async () => {
    const store = await syncedStore({ maxPods: 2 });
    const a = api.createPod(fakePod({ name: 'a', nodeName: NODE }));
    const b = api.createPod(fakePod({ name: 'b', nodeName: NODE }));
    api.deletePod('default', 'a');
    const c = api.createPod(fakePod({ name: 'c', nodeName: NODE }));
    await waitUntil('the third pod', () => store.byUid(c.metadata.uid ?? '') !== undefined, 10_000, 5);
    expect(store.size).toBe(2);
    expect(store.byUid(a.metadata.uid ?? '')).toBeUndefined();
    expect(store.byUid(b.metadata.uid ?? '')?.name).toBe('b');
    expect(store.counters.evictions).toBe(1);
  });

  it('stops its watch on stop, leaving no request open', async () => {
    const store = await syncedStore();
    await store.stop();
    await waitUntil('the watch to close', () => api.watchCount === 0, 10_000, 5);
    expect(api.count('watch')).toBe(1);
  });
});

describe('the pod store without an API server', () => {
  it('is off: start does nothing and every lookup answers undefined', async () => {
    const store = new PodStore({ nodeName: NODE, logger: silentLogger(), kubeConfig: undefined });
    store.start();
    expect([store.enabled, store.synced, store.byUid('x'), store.byName('default', 'web')]).toStrictEqual([
      false,
      false,
      undefined,
      undefined,
    ]);
    expect(await store.waitForSync(10)).toBe(false);
    await store.stop();
  });
});

describe('the API server a pod store watches', () => {
  it('is none on a plain host: no kubeconfig, no in-cluster environment', () => {
    expect(loadKubeConfig({ env: {} })).toBeUndefined();
  });

  it('is none when the in-cluster environment is set but no service account token is mounted', () => {
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(loadKubeConfig({ env, tokenMounted: () => false })).toBeUndefined();
  });

  it('is the in-cluster API server when the environment and the token are there', () => {
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    // client-node's loadFromCluster reads process.env itself.
    Object.assign(process.env, env);
    try {
      expect(loadKubeConfig({ env, tokenMounted: () => true })?.getCurrentCluster()?.server).toBe(
        'https://10.96.0.1:443',
      );
    } finally {
      for (const [key, value] of [
        ['KUBERNETES_SERVICE_HOST', saved.host],
        ['KUBERNETES_SERVICE_PORT', saved.port],
      ] as const) {
        if (value === undefined) Reflect.deleteProperty(process.env, key);
        else process.env[key] = value;
      }
    }
  });

  it('fails with a config error naming an unreadable kubeconfig', () => {
    let failure: unknown;
    try {
      loadKubeConfig({ kubeconfigPath: '/nonexistent/kubeconfig' });
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(KernwatchError);
    expect(failure).toMatchObject({
      code: ERROR_CODES.config,
      message: 'Cannot load kubeconfig /nonexistent/kubeconfig',
    });
  });
});
