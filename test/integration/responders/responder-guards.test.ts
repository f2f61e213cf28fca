import { KubeConfig } from '@kubernetes/client-node';
import { Histogram } from 'prom-client';
import { ProcessTable } from '../../../agent/attribute/proc/process-table.js';
import { agentMetrics } from '../../../agent/telemetry/agent-metrics.js';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import type { ActionEvent } from '../../../agent/responders/action-event.js';
import { NetpolQuarantines } from '../../../agent/responders/netpol-quarantines.js';
import { KubeResponderApi } from '../../../agent/responders/kube-responder-api.js';
import { Responder } from '../../../agent/responders/responder.js';
import type { EventSink } from '../../../agent/sinks/event-sink.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import {
  EVENTS,
  FakeKubeApi,
  fakeDaemonSet,
  fakeNetworkPolicy,
  fakePod,
  fakeReplicaSet,
  NETWORK_POLICIES,
  REPLICA_SETS,
  DAEMON_SETS,
  type KubeObject,
} from '../../helpers/fake-kube-api.js';
import { actionSchemaErrors } from '../../helpers/json-schema.js';
import { isRoot } from '../../helpers/prerequisites.js';
import { waitFor } from '../../helpers/wait.js';
import { inPod, responsesConfig, seccompAt } from '../../unit/responders/response-test-events.js';

// Every guard of the response runner, one test each, through the real Responder (runner, actions,
// client-node) against the fake API server: what it decided, the action event it published, and what it
// did or did not ask the API server to do.

let api: FakeKubeApi;
let kubeConfig: KubeConfig;
const running: Responder[] = [];
let serial = 0;

beforeAll(async () => {
  api = await FakeKubeApi.start();
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(api.kubeconfig());
});

afterAll(async () => {
  await api.close();
});

/** What the published action events got wrong against docs/schema/kernwatch.v1.action.schema.json. */
const schemaViolations: string[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
  api.clearInjected();
  expect(schemaViolations.splice(0)).toEqual([]);
});

/** A sink that keeps the action events, as stdout and NATS would receive them. */
class ActionCapture implements EventSink {
  readonly name = 'capture';
  readonly actions: ActionEvent[] = [];
  deliver(): Promise<void> {
    return Promise.resolve();
  }
  deliverActions(events: readonly ActionEvent[]): Promise<void> {
    // Recorded, not asserted: the runner catches what a sink throws.
    for (const e of events) schemaViolations.push(...actionSchemaErrors(e).map((p) => `${e.id}: ${p}`));
    this.actions.push(...events);
    return Promise.resolve();
  }
  healthy(): boolean {
    return true;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface Harness {
  responder: Responder;
  capture: ActionCapture;
  /** `n` seccomp denials of the pod's container, one batch; resolves when every response is decided. */
  violate(pod: KubeObject, n?: number): Promise<ActionEvent[]>;
}

async function harness(
  responses: Record<string, unknown>,
  withApi = true,
  extra: { nftPrefix?: string[] } = {},
): Promise<Harness> {
  const capture = new ActionCapture();
  const responder = await Responder.start({
    // The corpus records these events are made from carry audit times of their own day: no age limit
    // unless a test sets one.
    config: responsesConfig({ maxTriggerAge: 0, reconcileInterval: '200ms', ...responses }),
    node: 'node-1',
    log: silentLogger(),
    sinks: () => [capture],
    ...(withApi ? { kubeConfig } : {}),
    ...extra,
  });
  if (responder === undefined) throw new Error('no responder for a config with rules');
  running.push(responder);
  return {
    responder,
    capture,
    async violate(pod, n = 1) {
      const before = capture.actions.length;
      const events: KernwatchEvent[] = [];
      for (let i = 0; i < n; i++) events.push(inPod(seccompAt(i, ++serial), podRefOf(pod)));
      await responder.runner.deliver(events);
      await responder.runner.idle();
      // Publishing is asynchronous too (the sinks' own promise).
      await new Promise((r) => setTimeout(r, 10));
      return capture.actions.slice(before);
    },
  };
}

function podRefOf(pod: KubeObject): { name: string; namespace: string; uid: string } {
  return { name: pod.metadata.name, namespace: pod.metadata.namespace ?? '', uid: pod.metadata.uid ?? '' };
}

let podNumber = 0;
/** A running, Ready pod on node-1 owned by a ReplicaSet with enough ready replicas, unless told otherwise. */
function createPod(
  options: {
    namespace?: string;
    annotations?: Record<string, string>;
    owner?: { kind: string; name: string } | null;
    ready?: boolean;
    hostNetwork?: boolean;
    labels?: Record<string, string>;
  } = {},
): KubeObject {
  podNumber++;
  const namespace = options.namespace ?? 'prod-web';
  const ownerName = `web-rs-${String(podNumber)}`;
  if (options.owner === undefined) {
    api.create(REPLICA_SETS, fakeReplicaSet({ name: ownerName, namespace, replicas: 3, readyReplicas: 3 }));
  }
  const owner =
    options.owner === null ? undefined : (options.owner ?? { kind: 'ReplicaSet', name: ownerName });
  const pod = fakePod({
    name: `web-${String(podNumber)}`,
    namespace,
    nodeName: 'node-1',
    ips: options.hostNetwork === true ? ['10.0.0.5'] : [`10.244.1.${String(podNumber % 250)}`],
    ...(owner === undefined ? {} : { owner }),
    ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
    ...(options.labels === undefined ? {} : { labels: options.labels }),
    ...(options.hostNetwork === undefined ? {} : { hostNetwork: options.hostNetwork }),
  });
  if (options.ready !== false) {
    (pod.status as Record<string, unknown>).conditions = [{ type: 'Ready', status: 'True' }];
  }
  return api.createPod(pod);
}

const deleteRule = (action: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'delete-on-seccomp',
  match: { kind: 'seccomp', namespaces: ['prod-*', 'kube-system'] },
  actions: [{ type: 'delete_pod', gracePeriodSeconds: 5, ...action }],
});

const only = (events: ActionEvent[]): ActionEvent => {
  expect(events).toHaveLength(1);
  const [e] = events;
  if (e === undefined) throw new Error('no action event');
  return e;
};

describe('dry-run', () => {
  test('is the default: the decision is published as dry_run and the API server is asked nothing but reads', async () => {
    const h = await harness({ rules: [deleteRule()] });
    const pod = createPod();
    const e = only(await h.violate(pod));
    expect(e).toMatchObject({
      schema: 'kernwatch.v1.action',
      node: 'node-1',
      rule: 'delete-on-seccomp',
      action: 'delete_pod',
      decision: 'dry_run',
      pod: podRefOf(pod),
      target: { gracePeriodSeconds: 5 },
      trigger: { kind: 'seccomp', outcome: 'logged', count: 1, syscall: 'getppid' },
    });
    expect(e.detail).toBe(
      `dry-run: would delete pod prod-web/${pod.metadata.name} with a grace period of 5 s`,
    );
    expect(e.id).toBe(`${e.trigger.eventId}/delete-on-seccomp/delete_pod/dry_run`);
    expect(api.getPod('prod-web', pod.metadata.name)?.metadata.deletionTimestamp).toBeUndefined();
    expect(h.responder.runner.dryRun).toBe(true);
  });

  // nft reads in a network namespace of its own (unshare --net, root only), empty and thrown away after.
  test.skipIf(isRoot() !== undefined)(
    'every action in dry-run: nothing but reads reaches the API server, nft is only read',
    async () => {
      const h = await harness(
        {
          cooldown: 0,
          rules: [
            {
              name: 'everything',
              match: {},
              actions: [
                { type: 'nft_quarantine' },
                { type: 'netpol_quarantine' },
                { type: 'label' },
                { type: 'k8s_event' },
                { type: 'delete_pod' },
              ],
            },
          ],
        },
        true,
        { nftPrefix: ['unshare', '--net'] },
      );
      const before = api.requests.length;
      const events = await h.violate(createPod());
      expect(events.map((e) => [e.action, e.decision])).toEqual([
        ['nft_quarantine', 'dry_run'],
        ['netpol_quarantine', 'dry_run'],
        ['label', 'dry_run'],
        ['k8s_event', 'dry_run'],
        ['delete_pod', 'dry_run'],
      ]);
      const writes = api.requests.slice(before).filter((r) => r.method !== 'GET');
      expect(writes).toEqual([]);
    },
  );
});

describe('delete_pod', () => {
  test('deletes exactly that pod: uid precondition and the rule’s grace period', async () => {
    const h = await harness({ enabled: true, cooldown: 0, rules: [deleteRule()] });
    const pod = createPod();
    const deletesBefore = api.count('delete');
    const e = only(await h.violate(pod));
    expect(e).toMatchObject({ decision: 'taken', action: 'delete_pod', target: { gracePeriodSeconds: 5 } });
    expect(e.detail).toBe(`deleted pod prod-web/${pod.metadata.name} with a grace period of 5 s`);
    expect(api.count('delete')).toBe(deletesBefore + 1);
    const request = api.requests.filter((r) => r.verb === 'delete').at(-1);
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({
      gracePeriodSeconds: 5,
      preconditions: { uid: pod.metadata.uid },
    });
    expect(api.getPod('prod-web', pod.metadata.name)?.metadata.deletionTimestamp).toBeDefined();
  });

  test('idempotent: a pod already being deleted is not deleted again', async () => {
    const h = await harness({ enabled: true, cooldown: 0, rules: [deleteRule()] });
    const pod = createPod();
    expect(only(await h.violate(pod)).decision).toBe('taken');
    const deletes = api.count('delete');
    const again = only(await h.violate(pod));
    expect(again).toMatchObject({ decision: 'refused', reason: 'already_done' });
    expect(api.count('delete')).toBe(deletes);
  });

  test('a DaemonSet’s pod is refused unless the rule allows it', async () => {
    api.create(
      DAEMON_SETS,
      fakeDaemonSet({ name: 'agent-ds', namespace: 'prod-web', desiredNumberScheduled: 3 }),
    );
    const refused = await harness({ enabled: true, cooldown: 0, rules: [deleteRule()] });
    const pod = createPod({ owner: { kind: 'DaemonSet', name: 'agent-ds' } });
    expect(only(await refused.violate(pod))).toMatchObject({ decision: 'refused', reason: 'daemonset' });
    const allowed = await harness({
      enabled: true,
      cooldown: 0,
      rules: [deleteRule({ allowDaemonSet: true })],
    });
    expect(only(await allowed.violate(pod)).decision).toBe('taken');
  });

  test('a standalone pod is refused unless the rule allows it', async () => {
    const refused = await harness({ enabled: true, cooldown: 0, rules: [deleteRule()] });
    const pod = createPod({ owner: null });
    expect(only(await refused.violate(pod))).toMatchObject({ decision: 'refused', reason: 'standalone' });
    const allowed = await harness({
      enabled: true,
      cooldown: 0,
      rules: [deleteRule({ allowStandalone: true })],
    });
    expect(only(await allowed.violate(pod)).decision).toBe('taken');
  });

  test('an owner kernwatch cannot count is refused unless the rule allows it', async () => {
    const h = await harness({ enabled: true, cooldown: 0, rules: [deleteRule()] });
    const pod = createPod({ owner: { kind: 'Rollout', name: 'canary' } });
    const e = only(await h.violate(pod));
    expect(e).toMatchObject({ decision: 'refused', reason: 'unknown_owner' });
    expect(e.detail).toBe('kernwatch cannot count the replicas of a Rollout (allowUnknownOwner)');
  });

  test('min healthy: refused when the owner would keep fewer ready replicas than the minimum', async () => {
    api.create(
      REPLICA_SETS,
      fakeReplicaSet({ name: 'lonely', namespace: 'prod-web', replicas: 1, readyReplicas: 1 }),
    );
    const h = await harness({ enabled: true, cooldown: 0, rules: [deleteRule()] });
    const pod = createPod({ owner: { kind: 'ReplicaSet', name: 'lonely' } });
    const e = only(await h.violate(pod));
    expect(e).toMatchObject({ decision: 'refused', reason: 'min_healthy' });
    expect(e.detail).toBe(
      'ReplicaSet lonely would keep 0 ready of 1 replicas, fewer than minHealthyReplicas 1',
    );
    const zero = await harness({
      enabled: true,
      cooldown: 0,
      rules: [deleteRule({ minHealthyReplicas: 0 })],
    });
    expect(only(await zero.violate(pod)).decision).toBe('taken');
  });

  test('min healthy counts out the replicas this node deleted moments ago (the owner’s status lags)', async () => {
    api.create(
      REPLICA_SETS,
      fakeReplicaSet({ name: 'pair', namespace: 'prod-web', replicas: 2, readyReplicas: 2 }),
    );
    const h = await harness({ enabled: true, cooldown: 0, rules: [deleteRule()] });
    const first = createPod({ owner: { kind: 'ReplicaSet', name: 'pair' } });
    const second = createPod({ owner: { kind: 'ReplicaSet', name: 'pair' } });
    expect(only(await h.violate(first)).decision).toBe('taken');
    // The ReplicaSet still says 2 ready: without counting the first deletion, the second would go too.
    const e = only(await h.violate(second));
    expect(e).toMatchObject({ decision: 'refused', reason: 'min_healthy' });
    expect(e.detail).toBe(
      'ReplicaSet pair would keep 0 ready of 2 replicas, fewer than minHealthyReplicas 1 (1 deleted here in the last minute counted out)',
    );
  });

  test('a pod that is not Ready does not count against its owner’s ready replicas', async () => {
    api.create(
      REPLICA_SETS,
      fakeReplicaSet({ name: 'one-ready', namespace: 'prod-web', replicas: 2, readyReplicas: 1 }),
    );
    const h = await harness({ enabled: true, cooldown: 0, rules: [deleteRule()] });
    const pod = createPod({ owner: { kind: 'ReplicaSet', name: 'one-ready' }, ready: false });
    expect(only(await h.violate(pod)).decision).toBe('taken');
  });
});

describe('guards before any action', () => {
  test('protected namespace: refused without a single API request', async () => {
    const h = await harness({ enabled: true, rules: [deleteRule()] });
    const pod = createPod({ namespace: 'kube-system' });
    const requests = api.requests.length;
    const e = only(await h.violate(pod));
    expect(e).toMatchObject({ decision: 'refused', reason: 'protected_namespace' });
    expect(e.detail).toBe('namespace kube-system is protected');
    expect(api.requests.length).toBe(requests);
  });

  test('opt-out annotation kernwatch.io/respond: "false"', async () => {
    const h = await harness({ enabled: true, rules: [deleteRule()] });
    const pod = createPod({ annotations: { 'kernwatch.io/respond': 'false' } });
    const deletes = api.count('delete');
    expect(only(await h.violate(pod))).toMatchObject({ decision: 'refused', reason: 'opted_out' });
    expect(api.count('delete')).toBe(deletes);
  });

  test('never the agent’s own pod (POD_UID from the downward API)', async () => {
    const pod = createPod();
    const saved = process.env.POD_UID;
    process.env.POD_UID = pod.metadata.uid;
    try {
      const h = await harness({ enabled: true, rules: [deleteRule()] });
      expect(only(await h.violate(pod))).toMatchObject({ decision: 'refused', reason: 'own_pod' });
    } finally {
      if (saved === undefined) delete process.env.POD_UID;
      else process.env.POD_UID = saved;
    }
  });

  test('per-pod cooldown: the second response to the same pod is refused', async () => {
    const h = await harness({
      enabled: true,
      cooldown: '10m',
      rules: [{ name: 'mark', match: {}, actions: [{ type: 'label', labels: { suspicious: 'yes' } }] }],
    });
    const pod = createPod();
    expect(only(await h.violate(pod)).decision).toBe('taken');
    const again = only(await h.violate(pod));
    expect(again).toMatchObject({ decision: 'refused', reason: 'cooldown' });
    expect(again.detail).toMatch(/^the pod was responded to recently; cooldown until \d{4}-/);
    // Another pod is not affected.
    expect(only(await h.violate(createPod())).decision).toBe('taken');
  });

  test('node budget: beyond budgetPerMinute actions are refused, not queued', async () => {
    const h = await harness({
      enabled: true,
      budgetPerMinute: 2,
      rules: [{ name: 'mark', match: {}, actions: [{ type: 'label' }] }],
    });
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(only(await h.violate(createPod())));
    expect(decisions.map((d) => [d.decision, d.reason])).toEqual([
      ['taken', undefined],
      ['taken', undefined],
      ['refused', 'budget'],
    ]);
    expect(decisions[2]?.detail).toMatch(
      /^the node's budget of 2 actions per minute is spent; the next frees at /,
    );
    expect(h.responder.runner.budgetLeft).toBe(0);
  });

  test('a response that does not fit the budget whole is refused whole', async () => {
    const h = await harness({
      enabled: true,
      budgetPerMinute: 1,
      rules: [{ name: 'two', match: {}, actions: [{ type: 'label' }, { type: 'k8s_event' }] }],
    });
    const events = await h.violate(createPod());
    expect(events.map((e) => [e.action, e.decision, e.reason])).toEqual([
      ['label', 'refused', 'budget'],
      ['k8s_event', 'refused', 'budget'],
    ]);
  });

  test('a pod replaced under the same name (another uid) is not acted on', async () => {
    const h = await harness({ enabled: true, rules: [deleteRule()] });
    const pod = createPod();
    const stale = { ...pod, metadata: { ...pod.metadata, uid: '11111111-2222-4333-8444-555555555555' } };
    const e = only(await h.violate(stale));
    expect(e).toMatchObject({ decision: 'refused', reason: 'pod_gone' });
    expect(e.detail).toContain('is now another pod');
  });

  test('an API server that fails: the decision is failed, with the server’s message', async () => {
    const h = await harness({ enabled: true, rules: [deleteRule()] });
    const pod = createPod();
    api.failRequests({ verb: 'get', code: 500 });
    const e = only(await h.violate(pod));
    expect(e.decision).toBe('failed');
    expect(e.error).toBe(
      `cannot read the pod: Cannot get pod prod-web/${pod.metadata.name}: 500 Internal error occurred: etcdserver: request timed out`,
    );
  });

  test('without an API server or a runtime the pod cannot be read: refused as unreadable', async () => {
    const h = await harness({ enabled: true, rules: [deleteRule()] }, false);
    const e = only(await h.violate(createPod()));
    expect(e).toMatchObject({ decision: 'refused', reason: 'pod_unreadable' });
  });

  test('a denial older than maxTriggerAge sets nothing off', async () => {
    const h = await harness({ enabled: true, maxTriggerAge: '2m', rules: [deleteRule()] });
    const deletes = api.count('delete');
    const e = only(await h.violate(createPod()));
    expect(e).toMatchObject({ decision: 'refused', reason: 'stale' });
    expect(e.detail).toBe(
      'the newest denial counted is from 2026-11-28T11:38:47.000Z, older than maxTriggerAge 120 s',
    );
    expect(api.count('delete')).toBe(deletes);
  });

  test('a response that failed starts no cooldown: the next denial tries again', async () => {
    const h = await harness({
      enabled: true,
      cooldown: '10m',
      rules: [{ name: 'mark', match: {}, actions: [{ type: 'label' }] }],
    });
    const pod = createPod();
    api.failRequests({ verb: 'patch', code: 500 });
    expect(only(await h.violate(pod)).decision).toBe('failed');
    expect(only(await h.violate(pod)).decision).toBe('taken');
    expect(only(await h.violate(pod))).toMatchObject({ decision: 'refused', reason: 'cooldown' });
  });

  test('nft that cannot run: nft_quarantine is refused as no_nftables, before any budget is spent', async () => {
    const h = await harness(
      { enabled: true, rules: [{ name: 'cut', match: {}, actions: [{ type: 'nft_quarantine' }] }] },
      true,
      { nftPrefix: ['/nonexistent/kernwatch-test-nsenter'] },
    );
    const e = only(await h.violate(createPod()));
    expect(e).toMatchObject({ decision: 'refused', reason: 'no_nftables' });
    expect(h.responder.runner.budgetLeft).toBe(5);
  });

  test('identical refusals are folded: published once, every one counted', async () => {
    const h = await harness({ enabled: true, rules: [deleteRule()] });
    const pod = createPod({ namespace: 'kube-system' });
    const first = await h.violate(pod);
    const more = await h.violate(pod, 99);
    expect(first).toHaveLength(1);
    expect(more).toHaveLength(0);
    const counted = h.responder.runner
      .decisionCounts()
      .find((d) => d.action === 'delete_pod' && d.reason === 'protected_namespace');
    // The 99 of one batch wait as one response of that pod and rule.
    expect(counted?.count).toBe(2);
    expect(h.responder.runner.counters).toMatchObject({ firings: 100, merged: 98, folded: 1 });
  });
});

describe('label, netpol_quarantine and k8s_event', () => {
  test('label sets the rule’s labels; a second time it is already done', async () => {
    const h = await harness({
      enabled: true,
      cooldown: 0,
      rules: [{ name: 'mark', match: {}, actions: [{ type: 'label' }] }],
    });
    const pod = createPod({ labels: { app: 'web' } });
    expect(only(await h.violate(pod))).toMatchObject({
      decision: 'taken',
      target: { labels: { 'kernwatch.io/quarantined': 'true' } },
    });
    expect(api.getPod('prod-web', pod.metadata.name)?.metadata.labels).toEqual({
      app: 'web',
      'kernwatch.io/quarantined': 'true',
    });
    expect(only(await h.violate(pod))).toMatchObject({ decision: 'refused', reason: 'already_done' });
  });

  test('netpol_quarantine isolates exactly that pod, and release undoes it', async () => {
    const h = await harness({
      enabled: true,
      cooldown: 0,
      rules: [{ name: 'isolate', match: {}, actions: [{ type: 'netpol_quarantine' }] }],
    });
    const pod = createPod({ labels: { app: 'web' } });
    const uid = pod.metadata.uid ?? '';
    const e = only(await h.violate(pod));
    expect(e).toMatchObject({
      decision: 'taken',
      target: { networkPolicy: `kernwatch-quarantine-${uid}`, labels: { 'kernwatch.io/quarantine': uid } },
    });
    const policy = api.getObject(NETWORK_POLICIES, 'prod-web', `kernwatch-quarantine-${uid}`);
    expect(policy?.spec).toEqual({
      podSelector: { matchLabels: { 'kernwatch.io/quarantine': uid } },
      policyTypes: ['Ingress', 'Egress'],
    });
    expect(policy?.metadata.annotations).toMatchObject({
      'kernwatch.io/pod': `prod-web/${pod.metadata.name}`,
      'kernwatch.io/pod-uid': uid,
      'kernwatch.io/rule': 'isolate',
      'kernwatch.io/node': 'node-1',
    });
    expect(api.getPod('prod-web', pod.metadata.name)?.metadata.labels).toEqual({
      app: 'web',
      'kernwatch.io/quarantine': uid,
    });
    expect(only(await h.violate(pod))).toMatchObject({ decision: 'refused', reason: 'already_done' });
    expect(policy?.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'kernwatch',
      'kernwatch.io/node': 'node-1',
    });

    const quarantines = new NetpolQuarantines(new KubeResponderApi(kubeConfig));
    const [listed] = (await quarantines.list()).filter((q) => q.pod.uid === uid);
    expect(listed).toEqual({
      namespace: 'prod-web',
      policy: `kernwatch-quarantine-${uid}`,
      pod: { name: pod.metadata.name, uid },
      rule: 'isolate',
      node: 'node-1',
    });
    if (listed === undefined) throw new Error('not listed');
    await quarantines.release(listed);
    expect(api.getObject(NETWORK_POLICIES, 'prod-web', `kernwatch-quarantine-${uid}`)).toBeUndefined();
    expect(api.getPod('prod-web', pod.metadata.name)?.metadata.labels).toEqual({ app: 'web' });
  });

  test('a NetworkPolicy quarantine with a ttl is released by the agent when it ends', async () => {
    const h = await harness({
      enabled: true,
      rules: [{ name: 'isolate-briefly', match: {}, actions: [{ type: 'netpol_quarantine', ttl: '1s' }] }],
    });
    const pod = createPod();
    const name = `kernwatch-quarantine-${pod.metadata.uid ?? ''}`;
    expect(only(await h.violate(pod)).target?.expiresAt).toBeDefined();
    expect(api.getObject(NETWORK_POLICIES, 'prod-web', name)).toBeDefined();
    await waitFor('the expired quarantine to be released, policy and label', () =>
      api.getObject(NETWORK_POLICIES, 'prod-web', name) === undefined &&
      api.getPod('prod-web', pod.metadata.name)?.metadata.labels?.['kernwatch.io/quarantine'] === undefined
        ? true
        : undefined,
    );
  });

  test('another policy that selects the pod and allows traffic is named: isolation is partial', async () => {
    api.create(
      NETWORK_POLICIES,
      fakeNetworkPolicy({
        name: 'allow-web-ingress',
        namespace: 'prod-web',
        podSelector: { matchLabels: { app: 'shop' } },
        ingress: [{}],
      }),
    );
    const h = await harness({
      enabled: true,
      rules: [{ name: 'isolate', match: {}, actions: [{ type: 'netpol_quarantine' }] }],
    });
    const pod = createPod({ labels: { app: 'shop' } });
    const e = only(await h.violate(pod));
    expect(e.decision).toBe('taken');
    expect(e.detail).toBe(
      `isolated pod prod-web/${pod.metadata.name} with NetworkPolicy kernwatch-quarantine-${pod.metadata.uid ?? ''}; NetworkPolicies allow-web-ingress also select the pod and allow some traffic, which stays allowed`,
    );
  });

  test('NetworkPolicy quarantines past their ttl are released in dry-run too', async () => {
    const live = await harness({
      enabled: true,
      rules: [{ name: 'isolate-briefly', match: {}, actions: [{ type: 'netpol_quarantine', ttl: '1s' }] }],
    });
    const pod = createPod();
    const name = `kernwatch-quarantine-${pod.metadata.uid ?? ''}`;
    expect(only(await live.violate(pod)).decision).toBe('taken');
    await live.responder.stop();
    running.splice(running.indexOf(live.responder), 1);
    await harness({
      rules: [{ name: 'isolate-briefly', match: {}, actions: [{ type: 'netpol_quarantine', ttl: '1s' }] }],
    });
    await waitFor('the dry-run agent to release the expired quarantine', () =>
      api.getObject(NETWORK_POLICIES, 'prod-web', name) === undefined ? true : undefined,
    );
  });

  test('NetworkPolicies do not apply to host-network pods: refused', async () => {
    const h = await harness({
      enabled: true,
      rules: [{ name: 'isolate', match: {}, actions: [{ type: 'netpol_quarantine' }] }],
    });
    expect(only(await h.violate(createPod({ hostNetwork: true })))).toMatchObject({
      decision: 'refused',
      reason: 'host_network',
    });
  });

  test('k8s_event writes a KernwatchResponse Event on the pod', async () => {
    const h = await harness({
      enabled: true,
      rules: [{ name: 'tell', match: {}, actions: [{ type: 'k8s_event' }] }],
    });
    const pod = createPod();
    expect(only(await h.violate(pod)).decision).toBe('taken');
    const events = api.objects(EVENTS, 'prod-web').filter((e) => e.reason === 'KernwatchResponse');
    expect(events.map((e) => [e.regarding, e.note, e.type])).toEqual([
      [
        {
          kind: 'Pod',
          apiVersion: 'v1',
          namespace: 'prod-web',
          name: pod.metadata.name,
          uid: pod.metadata.uid,
        },
        'kernwatch rule tell: 1 seccomp denial(s) within 60 s; responses: k8s_event',
        'Warning',
      ],
    ]);
  });
});

describe('storm', () => {
  test('10,000 violations in 10 s across 50 pods: no more actions than the budget allows', async () => {
    const h = await harness({
      enabled: true,
      budgetPerMinute: 5,
      rules: [deleteRule()],
    });
    const pods = Array.from({ length: 50 }, () => createPod());
    const deletesBefore = api.count('delete');
    const started = Date.now();
    // 20 batches of 500 denials, one every 500 ms, each spread over all 50 pods, as a chain delivers them.
    for (let batch = 0; batch < 20; batch++) {
      const events: KernwatchEvent[] = [];
      for (let i = 0; i < 500; i++) {
        const pod = pods[(batch * 500 + i) % pods.length];
        if (pod !== undefined) events.push(inPod(seccompAt(batch * 500 + i, ++serial), podRefOf(pod)));
      }
      await h.responder.runner.deliver(events);
      expect(h.responder.runner.queued).toBeLessThanOrEqual(50);
      await new Promise((r) => setTimeout(r, Math.max(0, started + (batch + 1) * 500 - Date.now())));
    }
    await h.responder.runner.idle();
    await new Promise((r) => setTimeout(r, 20));
    const taken = h.capture.actions.filter((e) => e.decision === 'taken');
    expect(taken).toHaveLength(5);
    expect(api.count('delete') - deletesBefore).toBe(5);
    const counts = h.responder.runner.decisionCounts();
    const total = counts.reduce((n, d) => n + d.count, 0);
    expect(h.responder.runner.counters.firings).toBe(10_000);
    expect(total + h.responder.runner.counters.merged).toBe(10_000);
    // Every refusal is counted, but each pod's identical refusals are published once a minute.
    expect(h.capture.actions.length).toBeLessThanOrEqual(5 + 50 * 2);
    expect(new Set(h.capture.actions.filter((e) => e.decision === 'refused').map((e) => e.reason))).toEqual(
      new Set(['budget', 'cooldown']),
    );
  }, 30_000);
});

describe('metrics', () => {
  test('decisions by action, decision and guard; budget, queue and dry-run state', async () => {
    const h = await harness({
      enabled: true,
      budgetPerMinute: 1,
      rules: [{ name: 'mark', match: {}, actions: [{ type: 'label' }] }],
    });
    await h.violate(createPod());
    await h.violate(createPod());
    await h.violate(createPod({ namespace: 'kube-system' }));
    const registry = agentMetrics({
      sources: [],
      chains: [],
      queues: [],
      attributor: {
        counters: { pod: 0, container: 0, host: 0, unresolved: 0, fromCache: 0, criMisses: 0, failures: 0 },
      },
      processes: { counters: () => new ProcessTable({ procRoot: '/proc' }).counters(), size: 0 },
      sinks: [],
      publishLatency: new Histogram({ name: 'unused_seconds', help: 'unused', registers: [] }),
      responder: h.responder,
    });
    const text = await registry.metrics();
    const lines = text
      .split('\n')
      .filter((l) => l.startsWith('kernwatch_respons') || l.startsWith('kernwatch_quarantined'));
    expect(lines).toEqual([
      'kernwatch_response_decisions_total{action="label",decision="taken",reason=""} 1',
      'kernwatch_response_decisions_total{action="label",decision="refused",reason="budget"} 1',
      'kernwatch_response_decisions_total{action="label",decision="refused",reason="protected_namespace"} 1',
      'kernwatch_response_firings_total 3',
      'kernwatch_responses_enabled 1',
      'kernwatch_response_queue_depth 0',
      'kernwatch_response_budget_remaining 0',
      'kernwatch_quarantined_addresses 0',
    ]);
  });
});
