import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  EventsV1Api,
  EventsV1Event,
  EventsV1EventSeries,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  V1ObjectMeta,
  V1ObjectReference,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ATTRIBUTION, type KernwatchEvent } from '../../../agent/events.js';
import {
  PodEventReporter,
  type PodEventReporterOptions,
} from '../../../agent/sinks/k8s-events/pod-event-reporter.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import { corpusLine } from '../../helpers/corpus-lines.js';
import { EVENTS, FakeKubeApi, fakePod, type KubeObject } from '../../helpers/fake-kube-api.js';
import { onlyEvent } from '../../helpers/parse-text.js';
import { waitUntil } from '../../helpers/wait.js';

/**
 * Kubernetes Events for denials, checked through the fake API server with @kubernetes/client-node as
 * the client (the agent's own): what one denial creates, how repeats become a series count at a bounded
 * cost, and how the reporter rides out a failing, throttling or hanging API server without ever holding
 * up the chain. The second part holds the fake's events.k8s.io/v1 to the real server's behaviour.
 */

const KMSG = 'kmsg/kernel618-seccomp-all-actions.kmsg';
/** seccomp KILL_PROCESS of getppid by "w kill-process" (pid 8591), 2026-11-28T11:38:47.092Z. */
const SECCOMP_KILL = (): string => corpusLine(KMSG, 9);
/** seccomp LOG of getppid by "w log" (pid 8577). */
const SECCOMP_LOG = (): string => corpusLine(KMSG, 2);
/** seccomp ERRNO of mount by "mount" (pid 7645). */
const SECCOMP_ERRNO_MOUNT = (): string => corpusLine('journald/gh-containers-crun-683.log', 2);
/** AppArmor DENIED ptrace by "ps" under cri-containerd.apparmor.d. */
const APPARMOR_PTRACE = (): string => corpusLine('dmesg/gh-containerd-containerd-2679.log', 1);
/** SELinux denied { read write } on /dev/null (chr_file) for "date", permissive=0. */
const SELINUX_DEV_NULL = (): string => corpusLine('auditd/gh-containers-container-selinux-169.log', 1);

const NODE = 'node-a';
const CONTAINER_ID = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';
/** A fixed wall clock for the reporter: names and heartbeats become exact. */
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

interface PodRef {
  name: string;
  namespace: string;
  uid: string;
}

describe('Kubernetes Events for denials, through the fake API server', () => {
  let dir = '';
  let api: FakeKubeApi;
  let kubeConfig: KubeConfig;
  let pod: PodRef;
  let now = T0;
  const reporters: PodEventReporter[] = [];

  function newReporter(options: Partial<PodEventReporterOptions> = {}): PodEventReporter {
    const reporter = new PodEventReporter({
      kubeConfig,
      node: NODE,
      log: silentLogger(),
      clock: () => now,
      seriesHeartbeatMs: 50,
      retryInitialMs: 10,
      retryMaxMs: 20,
      closeTimeoutMs: 2000,
      ...options,
    });
    reporters.push(reporter);
    return reporter;
  }

  /** The denial of a real line, attributed to the test's pod and its container `app`. */
  function podEvent(line: string, extra: Partial<KernwatchEvent> = {}): KernwatchEvent {
    return {
      ...onlyEvent(line),
      pod: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
      container: { id: CONTAINER_ID, name: 'app' },
      attribution: ATTRIBUTION.pod,
      ...extra,
    };
  }

  function storedEvents(): KubeObject[] {
    return api.objects(EVENTS, pod.namespace);
  }

  function seriesCount(event: KubeObject | undefined): number | undefined {
    const series = event?.series as { count?: number } | undefined;
    return series?.count;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-k8s-events-'));
  });

  beforeEach(async () => {
    now = T0;
    api = await FakeKubeApi.start();
    const path = join(dir, `kubeconfig-${String(Date.now())}`);
    await api.writeKubeconfig(path);
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(path);
    const created = api.createPod(fakePod({ name: 'web-7d9f5b-x2x7k', namespace: 'shop', nodeName: NODE }));
    pod = { name: created.metadata.name, namespace: 'shop', uid: created.metadata.uid ?? '' };
  });

  afterEach(async () => {
    for (const reporter of reporters.splice(0)) await reporter.close();
    await api.close();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates one Warning Event on the pod for the first denial, with every field as kubelet would set it', async () => {
    const reporter = newReporter();
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    await waitUntil('the Event', () => reporter.counters.created === 1, 10_000, 5);

    expect(storedEvents()).toStrictEqual([
      {
        kind: 'Event',
        apiVersion: 'events.k8s.io/v1',
        metadata: {
          // <pod name>.<UnixNano of the clock in hex>, as client-go names Events.
          name: `web-7d9f5b-x2x7k.${(BigInt(T0) * 1_000_000n).toString(16)}`,
          namespace: 'shop',
          uid: expect.any(String) as string,
          creationTimestamp: expect.any(String) as string,
          resourceVersion: api.resourceVersion,
        },
        eventTime: '2026-11-28T11:38:47.092000Z',
        reportingController: 'kernwatch.io/agent',
        reportingInstance: 'kernwatch-node-a',
        action: 'Killed',
        reason: 'SeccompViolation',
        regarding: {
          kind: 'Pod',
          apiVersion: 'v1',
          namespace: 'shop',
          name: 'web-7d9f5b-x2x7k',
          uid: pod.uid,
          fieldPath: 'spec.containers{app}',
        },
        note:
          'Seccomp denied getppid (x86_64) KILL_PROCESS to process "w kill-process" (pid 8591, ' +
          '"/usr/local/bin/seccomp-demo") in container "app"; the process was killed.',
        type: 'Warning',
      },
    ]);
    expect(
      api.requests.filter((r) => r.resource === 'events').map((r) => [r.method, r.path, r.status]),
    ).toStrictEqual([['POST', '/apis/events.k8s.io/v1/namespaces/shop/events', 201]]);
    expect(reporter.counters).toStrictEqual({
      folded: 1,
      skippedNoPod: 0,
      created: 1,
      patched: 0,
      recreated: 0,
      failed: 0,
      evictions: 0,
      dropped: { evicted: 0, retries_exhausted: 0, rejected: 0, shutdown: 0 },
    });
    expect(reporter.seriesHeld).toBe(1);
  });

  it('turns 1,000 identical denials into one Event whose series.count is 1000, in two API calls', async () => {
    const reporter = newReporter();
    const denial = podEvent(SECCOMP_KILL());
    await reporter.deliver([denial]);
    await waitUntil('the Event', () => reporter.counters.created === 1, 10_000, 5);

    // 999 more, one millisecond apart, in batches of 9 as a source chain would hand them over.
    for (let batch = 0; batch < 111; batch++) {
      await reporter.deliver(
        Array.from({ length: 9 }, (_, i) => ({
          ...denial,
          id: `${denial.id}-${batch}-${i}`,
          time: new Date(Date.parse(denial.time) + batch * 9 + i + 1).toISOString(),
        })),
      );
    }
    // Within the heartbeat nothing more is written, however many denials arrive.
    await sleep(150);
    expect([api.count('create', 'events'), api.count('patch', 'events')]).toStrictEqual([1, 0]);

    now += 50;
    await waitUntil('the series count', () => reporter.counters.patched === 1, 10_000, 5);
    expect(storedEvents()[0]?.series).toStrictEqual({
      count: 1000,
      // The newest denial: 999 ms after the first.
      lastObservedTime: '2026-11-28T11:38:48.091000Z',
    });
    expect([api.count('create', 'events'), api.count('patch', 'events')]).toStrictEqual([1, 1]);
    const patch = api.requests.find((r) => r.verb === 'patch');
    expect(patch?.contentType).toBe('application/strategic-merge-patch+json');
    expect(JSON.parse(patch?.body ?? '')).toStrictEqual({
      series: { count: 1000, lastObservedTime: '2026-11-28T11:38:48.091000Z' },
    });
    expect([reporter.counters.folded, reporter.counters.created, reporter.counters.patched]).toStrictEqual([
      1000, 1, 1,
    ]);
  });

  it('counts a coalesced event as its count, and creates it as a series at once', async () => {
    const reporter = newReporter();
    await reporter.deliver([podEvent(SECCOMP_KILL(), { count: 7 })]);
    await waitUntil('the Event', () => reporter.counters.created === 1, 10_000, 5);
    expect(storedEvents()[0]?.series).toStrictEqual({
      count: 7,
      lastObservedTime: '2026-11-28T11:38:47.092000Z',
    });
    expect(reporter.counters.folded).toBe(7);
  });

  it('starts a second series for another syscall or another outcome, and gives each its own Event', async () => {
    const reporter = newReporter();
    await reporter.deliver([
      podEvent(SECCOMP_KILL()),
      podEvent(SECCOMP_ERRNO_MOUNT()),
      podEvent(SECCOMP_LOG()),
    ]);
    await waitUntil('three Events', () => reporter.counters.created === 3, 10_000, 5);
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    now += 50;
    await waitUntil('the repeat counted', () => reporter.counters.patched === 1, 10_000, 5);

    const byAction = storedEvents()
      .map((e) => [e.reason, e.action, seriesCount(e) ?? 1, e.metadata.name])
      .sort((a, b) => (String(a[1]) < String(b[1]) ? -1 : 1));
    const suffix = (n: bigint): string => `web-7d9f5b-x2x7k.${(BigInt(T0) * 1_000_000n + n).toString(16)}`;
    // Names are unique even though the clock did not move between the three creates.
    expect(byAction).toStrictEqual([
      ['SeccompViolation', 'Blocked', 1, suffix(1n)],
      ['SeccompViolation', 'Killed', 2, suffix(0n)],
      ['SeccompViolation', 'Logged', 1, suffix(2n)],
    ]);
    expect(reporter.seriesHeld).toBe(3);
  });

  it('sets the reason per kind: SeccompViolation, AppArmorDenial, SELinuxDenial', async () => {
    const reporter = newReporter();
    await reporter.deliver([
      podEvent(SECCOMP_ERRNO_MOUNT()),
      podEvent(APPARMOR_PTRACE()),
      podEvent(SELINUX_DEV_NULL()),
    ]);
    await waitUntil('three Events', () => reporter.counters.created === 3, 10_000, 5);
    const seen = storedEvents()
      .map((e) => ({ reason: e.reason, action: e.action, note: e.note, eventTime: e.eventTime }))
      .sort((a, b) => (String(a.reason) < String(b.reason) ? -1 : 1));
    expect(seen).toStrictEqual([
      {
        reason: 'AppArmorDenial',
        action: 'Blocked',
        note:
          'AppArmor profile "cri-containerd.apparmor.d" denied ptrace unconfined [trace] to process "ps" ' +
          '(pid 2741) in container "app"; the access was blocked.',
        eventTime: '2018-09-24T19:27:08.528000Z',
      },
      {
        reason: 'SELinuxDenial',
        action: 'Blocked',
        note:
          'SELinux denied { read write } chr_file /dev/null to process "date" (pid 3831) in container "app" ' +
          '(system_u:system_r:container_t:s0:c196,c287 -> system_u:object_r:container_file_t:s0:c196,c287); ' +
          'the access was blocked.',
        eventTime: '2022-02-07T13:54:38.472000Z',
      },
      {
        reason: 'SeccompViolation',
        action: 'Blocked',
        note:
          'Seccomp denied mount (x86_64) ERRNO to process "mount" (pid 7645, "/repro/mount") in container ' +
          '"app"; the call was blocked.',
        eventTime: '2021-05-28T19:24:32.180000Z',
      },
    ]);
  });

  it('makes no Kubernetes Event for a denial without a pod, and counts it as skipped', async () => {
    const reporter = newReporter();
    const hostDenial = onlyEvent(SECCOMP_KILL());
    await reporter.deliver([hostDenial, hostDenial]);
    await reporter.close();
    expect(api.requests.filter((r) => r.resource === 'events')).toStrictEqual([]);
    expect([reporter.counters.skippedNoPod, reporter.counters.folded, reporter.seriesHeld]).toStrictEqual([
      2, 0, 0,
    ]);
  });

  it('leaves fieldPath out when the container name is unknown', async () => {
    const reporter = newReporter();
    await reporter.deliver([podEvent(SECCOMP_KILL(), { container: { id: CONTAINER_ID } })]);
    await waitUntil('the Event', () => reporter.counters.created === 1, 10_000, 5);
    expect(storedEvents()[0]?.regarding).toStrictEqual({
      kind: 'Pod',
      apiVersion: 'v1',
      namespace: 'shop',
      name: 'web-7d9f5b-x2x7k',
      uid: pod.uid,
    });
    expect(storedEvents()[0]?.note).toContain('in container c0ffee00c0ff;');
  });

  it('retries through a spell of 500s and then creates the Event once', async () => {
    api.failRequests({ verb: 'create', resource: 'events', code: 500, times: 3 });
    const reporter = newReporter({ clock: Date.now });
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    await waitUntil('the Event', () => reporter.counters.created === 1, 10_000, 5);
    expect(storedEvents()).toHaveLength(1);
    expect(api.requests.filter((r) => r.verb === 'create').map((r) => r.status)).toStrictEqual([
      500, 500, 500, 201,
    ]);
    expect([reporter.counters.failed, reporter.counters.created, reporter.apiFailing]).toStrictEqual([
      3,
      1,
      false,
    ]);
    expect(reporter.counters.dropped).toStrictEqual({
      evicted: 0,
      retries_exhausted: 0,
      rejected: 0,
      shutdown: 0,
    });
  });

  it('waits out a 429 and writes afterwards', async () => {
    api.failRequests({ verb: 'create', resource: 'events', code: 429, retryAfterSeconds: 1 });
    const reporter = newReporter({ clock: Date.now });
    const started = Date.now();
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    await waitUntil('the Event', () => reporter.counters.created === 1, 10_000, 5);
    // The server's Retry-After outweighs the 10 ms backoff: the retry cannot have come sooner.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(api.requests.filter((r) => r.verb === 'create').map((r) => r.status)).toStrictEqual([429, 201]);
  });

  it('gives a series up after maxAttempts failures and counts its denials as dropped', async () => {
    api.failRequests({ verb: 'create', resource: 'events', code: 503, times: 100 });
    const reporter = newReporter({ clock: Date.now, maxAttempts: 3 });
    await reporter.deliver([podEvent(SECCOMP_KILL(), { count: 4 })]);
    await waitUntil('the series dropped', () => reporter.seriesHeld === 0, 10_000, 5);
    expect(api.count('create', 'events')).toBe(3);
    expect(reporter.counters.dropped).toStrictEqual({
      evicted: 0,
      retries_exhausted: 4,
      rejected: 0,
      shutdown: 0,
    });
    expect(reporter.apiFailing).toBe(true);
  });

  it('does not retry a refusal (403 Forbidden): the series is dropped at once', async () => {
    api.failRequests({
      verb: 'create',
      resource: 'events',
      code: 403,
      reason: 'Forbidden',
      message:
        'events.events.k8s.io is forbidden: User "system:serviceaccount:kernwatch:kernwatch" cannot create ' +
        'resource "events" in API group "events.k8s.io" in the namespace "shop"',
    });
    const reporter = newReporter();
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    await waitUntil('the series dropped', () => reporter.seriesHeld === 0, 10_000, 5);
    await sleep(100);
    expect(api.count('create', 'events')).toBe(1);
    expect(reporter.counters.dropped.rejected).toBe(1);
    expect(storedEvents()).toStrictEqual([]);
  });

  it('returns from deliver at once while the API server hangs, then recovers by retrying', async () => {
    api.delayRequests({ verb: 'create', resource: 'events', ms: 60_000 });
    const reporter = newReporter({
      clock: Date.now,
      requestTimeoutMs: 300,
      retryInitialMs: 50,
      retryMaxMs: 50,
    });
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    await waitUntil('the create held by the server', () => api.count('create', 'events') === 1, 10_000, 5);

    const outcome = await Promise.race([
      reporter.deliver([podEvent(SECCOMP_ERRNO_MOUNT()), podEvent(APPARMOR_PTRACE())]).then(() => 'returned'),
      sleep(250).then(() => 'blocked'),
    ]);
    expect(outcome).toBe('returned');
    expect(storedEvents()).toStrictEqual([]);
    expect(reporter.counters.folded).toBe(3);

    await waitUntil('all three Events', () => reporter.counters.created === 3, 10_000, 5);
    expect(storedEvents()).toHaveLength(3);
    expect(reporter.counters.failed).toBe(1);
  });

  it('takes a 409 for a create whose earlier, timed-out attempt did land as created, and patches the count', async () => {
    // The server holds the first create past the client's timeout and then carries it out anyway.
    api.delayRequests({ verb: 'create', resource: 'events', ms: 200 });
    const reporter = newReporter({
      clock: Date.now,
      requestTimeoutMs: 100,
      retryInitialMs: 1000,
      retryMaxMs: 1000,
      seriesHeartbeatMs: 10,
    });
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    await waitUntil('the retry', () => api.count('create', 'events') === 2, 10_000, 5);
    await reporter.deliver([podEvent(SECCOMP_KILL()), podEvent(SECCOMP_KILL())]);
    await waitUntil('the count', () => reporter.counters.patched === 1, 10_000, 5);

    expect(api.requests.filter((r) => r.verb === 'create').map((r) => r.status)).toStrictEqual([201, 409]);
    expect(storedEvents()).toHaveLength(1);
    expect([reporter.counters.created, reporter.counters.failed, reporter.counters.patched]).toStrictEqual([
      1, 2, 1,
    ]);
  });

  it('creates the Event again with the whole count when the server lost it (PATCH 404)', async () => {
    const reporter = newReporter();
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    await waitUntil('the Event', () => reporter.counters.created === 1, 10_000, 5);
    const first = storedEvents()[0]?.metadata.name ?? '';
    // The API server's event TTL ran out.
    api.delete(EVENTS, 'shop', first);

    await reporter.deliver([podEvent(SECCOMP_KILL()), podEvent(SECCOMP_KILL())]);
    now += 50;
    await waitUntil('the Event again', () => reporter.counters.recreated === 1, 10_000, 5);

    const again = storedEvents()[0];
    expect(again?.metadata.name).not.toBe(first);
    expect(seriesCount(again)).toBe(3);
    expect(api.requests.filter((r) => r.resource === 'events').map((r) => [r.verb, r.status])).toStrictEqual([
      ['create', 201],
      ['patch', 404],
      ['create', 201],
    ]);
    expect([reporter.counters.created, reporter.counters.recreated]).toStrictEqual([1, 1]);
  });

  it('writes every pending count on close without waiting for the heartbeat', async () => {
    const reporter = newReporter({ seriesHeartbeatMs: 3_600_000 });
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    await waitUntil('the Event', () => reporter.counters.created === 1, 10_000, 5);
    await reporter.deliver(Array.from({ length: 4 }, () => podEvent(SECCOMP_KILL())));
    await reporter.close();
    expect(seriesCount(storedEvents()[0])).toBe(5);
    expect(reporter.counters.dropped.shutdown).toBe(0);
  });

  it('gives up on close after closeTimeoutMs when the API server hangs, and counts the loss', async () => {
    api.delayRequests({ verb: 'create', resource: 'events', ms: 60_000 });
    const reporter = newReporter({ closeTimeoutMs: 200, requestTimeoutMs: 30_000 });
    await reporter.deliver([podEvent(SECCOMP_KILL(), { count: 2 })]);
    await waitUntil('the create held by the server', () => api.count('create', 'events') === 1, 10_000, 5);
    const started = Date.now();
    await reporter.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(reporter.counters.dropped.shutdown).toBe(2);
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    expect(reporter.counters.dropped.shutdown).toBe(3);
  });

  it('evicts the least recently seen series when the table is full', async () => {
    api.delayRequests({ verb: 'create', resource: 'events', ms: 60_000, times: 10 });
    const reporter = newReporter({ maxSeries: 2, requestTimeoutMs: 30_000 });
    await reporter.deliver([podEvent(SECCOMP_KILL()), podEvent(SECCOMP_ERRNO_MOUNT())]);
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    await reporter.deliver([podEvent(APPARMOR_PTRACE())]);
    expect([
      reporter.seriesHeld,
      reporter.counters.evictions,
      reporter.counters.dropped.evicted,
    ]).toStrictEqual([2, 1, 1]);
  });

  it('reports itself healthy even while the API server fails (Events are best effort; /readyz must not flap)', async () => {
    api.failRequests({ verb: 'create', resource: 'events', code: 500, times: 100 });
    const reporter = newReporter({ clock: Date.now });
    await reporter.deliver([podEvent(SECCOMP_KILL())]);
    await waitUntil('a failure', () => reporter.counters.failed > 0, 10_000, 5);
    expect([reporter.healthy(), reporter.apiFailing]).toStrictEqual([true, true]);
  });
});

describe("the fake API server's events.k8s.io/v1, driven by @kubernetes/client-node", () => {
  let dir = '';
  let api: FakeKubeApi;
  let events: EventsV1Api;
  let kubeConfig: KubeConfig;

  function validEvent(name: string): EventsV1Event {
    const event = new EventsV1Event();
    const metadata = new V1ObjectMeta();
    metadata.name = name;
    event.metadata = metadata;
    event.eventTime = new V1MicroTime(T0);
    event.reportingController = 'kernwatch.io/agent';
    event.reportingInstance = 'kernwatch-node-a';
    event.action = 'Killed';
    event.reason = 'SeccompViolation';
    const regarding = new V1ObjectReference();
    regarding.kind = 'Pod';
    regarding.namespace = 'shop';
    regarding.name = 'web';
    event.regarding = regarding;
    event.note = 'a note';
    event.type = 'Warning';
    return event;
  }

  async function apiError(
    call: Promise<unknown>,
  ): Promise<{ code: number; status: Record<string, unknown> }> {
    const err = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof ApiException)) throw new Error(`expected an ApiException, got ${String(err)}`);
    const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : undefined;
    return { code: err.code, status: (body ?? {}) as Record<string, unknown> };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-fake-events-'));
  });

  beforeEach(async () => {
    api = await FakeKubeApi.start();
    const path = join(dir, `kubeconfig-${String(Date.now())}`);
    await api.writeKubeconfig(path);
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(path);
    events = kubeConfig.makeApiClient(EventsV1Api);
  });

  afterEach(async () => {
    await api.close();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates an Event (201) and answers a second create of the name with 409 AlreadyExists', async () => {
    const created = await events.createNamespacedEvent({ namespace: 'shop', body: validEvent('web.1') });
    expect([
      created.metadata?.name,
      created.metadata?.namespace,
      created.metadata?.resourceVersion,
    ]).toStrictEqual(['web.1', 'shop', api.resourceVersion]);
    expect(api.requests.map((r) => r.status)).toStrictEqual([201]);
    expect(
      await apiError(events.createNamespacedEvent({ namespace: 'shop', body: validEvent('web.1') })),
    ).toStrictEqual({
      code: 409,
      status: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'events.events.k8s.io "web.1" already exists',
        reason: 'AlreadyExists',
        details: { name: 'web.1', group: 'events.k8s.io', kind: 'events' },
        code: 409,
      },
    });
  });

  it('refuses an Event without the fields events.k8s.io/v1 requires with 422 Invalid and one cause each', async () => {
    const event = validEvent('web.2');
    event.reportingController = '';
    event.action = '';
    event.type = 'Info';
    const failure = await apiError(events.createNamespacedEvent({ namespace: 'shop', body: event }));
    expect(failure.code).toBe(422);
    expect(failure.status.reason).toBe('Invalid');
    expect(failure.status.message).toBe(
      'Event.events.k8s.io "web.2" is invalid: [reportingController: Required value, reportingController: ' +
        'Invalid value: "": name part must be non-empty, reportingController: Invalid value: "": name part must ' +
        "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric " +
        "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is " +
        '\'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\'), action: Required value, type: Invalid value: "": has ' +
        'invalid value: Info]',
    );
    expect(
      (failure.status.details as { causes: { field: string }[] }).causes.map((c) => c.field),
    ).toStrictEqual(['reportingController', 'reportingController', 'reportingController', 'action', 'type']);
  });

  it('checks only the old-style fields of an Event without eventTime, then requires eventTime', async () => {
    const event = validEvent('web.3');
    event.reportingController = '';
    // Without the field, client-node leaves it out of the body.
    Reflect.deleteProperty(event, 'eventTime');
    const failure = await apiError(events.createNamespacedEvent({ namespace: 'shop', body: event }));
    expect([failure.code, failure.status.message]).toStrictEqual([
      422,
      'Event.events.k8s.io "web.3" is invalid: eventTime: Required value',
    ]);
  });

  it('refuses a plain Date as eventTime (three fractional digits) with 400, as the MicroTime decoder does', async () => {
    const event = validEvent('web.4');
    // The mistake under test: TypeScript takes a Date where client-node wants its V1MicroTime.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    event.eventTime = new Date(T0);
    const failure = await apiError(events.createNamespacedEvent({ namespace: 'shop', body: event }));
    expect([failure.code, failure.status.reason, failure.status.message]).toStrictEqual([
      400,
      'BadRequest',
      'Event in version "v1" cannot be handled as a Event: parsing time "2026-11-28T12:00:00.000Z" as ' +
        '"2006-01-02T15:04:05.000000Z07:00"',
    ]);
  });

  it("refuses client-node's default patch type (JSON patch) for a map body with 400", async () => {
    await events.createNamespacedEvent({ namespace: 'shop', body: validEvent('web.5') });
    const failure = await apiError(
      events.patchNamespacedEvent({ name: 'web.5', namespace: 'shop', body: { note: 'x' } }),
    );
    expect(api.requests.at(-1)?.contentType).toBe('application/json-patch+json');
    expect([failure.code, failure.status.message]).toStrictEqual([
      400,
      'json: cannot unmarshal object into Go value of type jsonpatch.Patch',
    ]);
  });

  it('patches the series with a strategic merge patch or a merge patch, and keeps the version on a no-op', async () => {
    await events.createNamespacedEvent({ namespace: 'shop', body: validEvent('web.6') });
    const series = new EventsV1EventSeries();
    series.count = 2;
    series.lastObservedTime = new V1MicroTime(T0 + 1);
    const patched = await events.patchNamespacedEvent(
      { name: 'web.6', namespace: 'shop', body: { series } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const rv = api.resourceVersion;
    expect(patched.metadata?.resourceVersion).toBe(rv);
    expect(api.getObject(EVENTS, 'shop', 'web.6')?.series).toStrictEqual({
      count: 2,
      lastObservedTime: '2026-11-28T12:00:00.001000Z',
    });
    await events.patchNamespacedEvent(
      { name: 'web.6', namespace: 'shop', body: { series } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(api.resourceVersion).toBe(rv);
  });

  it('refuses a series below 2 and changes to immutable fields with 422, and a patch of a missing Event with 404', async () => {
    await events.createNamespacedEvent({ namespace: 'shop', body: validEvent('web.7') });
    const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const low = await apiError(
      events.patchNamespacedEvent(
        {
          name: 'web.7',
          namespace: 'shop',
          body: { series: { count: 1, lastObservedTime: '2026-11-28T12:00:00.000000Z' } },
        },
        options,
      ),
    );
    expect([low.code, low.status.message]).toStrictEqual([
      422,
      'Event.events.k8s.io "web.7" is invalid: series.count: Invalid value: "": should be at least 2',
    ]);
    const immutable = await apiError(
      events.patchNamespacedEvent({ name: 'web.7', namespace: 'shop', body: { reason: 'Other' } }, options),
    );
    expect([immutable.code, immutable.status.message]).toStrictEqual([
      422,
      'Event.events.k8s.io "web.7" is invalid: reason: Invalid value: "Other": field is immutable',
    ]);
    const missing = await apiError(
      events.patchNamespacedEvent({ name: 'gone', namespace: 'shop', body: { note: 'x' } }, options),
    );
    expect([missing.code, missing.status.message, missing.status.details]).toStrictEqual([
      404,
      'events.events.k8s.io "gone" not found',
      { name: 'gone', group: 'events.k8s.io', kind: 'events' },
    ]);
  });

  it('lists and watches Events with the events.k8s.io field selectors, and refuses the core spellings', async () => {
    await events.createNamespacedEvent({ namespace: 'shop', body: validEvent('web.8') });
    const other = validEvent('db.1');
    other.reason = 'AppArmorDenial';
    await events.createNamespacedEvent({ namespace: 'shop', body: other });
    const list = await events.listNamespacedEvent({
      namespace: 'shop',
      fieldSelector: 'reason=SeccompViolation,regarding.kind=Pod,reportingController=kernwatch.io/agent',
    });
    expect(list.items.map((e) => e.metadata?.name)).toStrictEqual(['web.8']);
    expect(list.metadata?.resourceVersion).toBe(api.resourceVersion);
    const refused = await apiError(
      events.listNamespacedEvent({ namespace: 'shop', fieldSelector: 'involvedObject.name=web' }),
    );
    expect([refused.code, refused.status.message]).toStrictEqual([
      400,
      'field label not supported: involvedObject.name',
    ]);

    const seen: string[] = [];
    const controller = await new Watch(kubeConfig).watch(
      '/apis/events.k8s.io/v1/namespaces/shop/events',
      { resourceVersion: api.resourceVersion, fieldSelector: 'reason=SeccompViolation' },
      (type: string, object: { metadata?: { name?: string } }) => {
        seen.push(`${type} ${object.metadata?.name ?? ''}`);
      },
      () => undefined,
    );
    await waitUntil('the watch', () => api.watchCount === 1, 10_000, 5);
    await events.createNamespacedEvent({ namespace: 'shop', body: validEvent('web.9') });
    await waitUntil('the watch event', () => seen.length === 1, 10_000, 5);
    controller.abort();
    expect(seen).toStrictEqual(['ADDED web.9']);
  });

  it('fails the next N requests of a verb on request, with Retry-After on a 429', async () => {
    api.failRequests({ verb: 'create', resource: 'events', code: 429, times: 2, retryAfterSeconds: 3 });
    const first = await apiError(
      events.createNamespacedEvent({ namespace: 'shop', body: validEvent('a.1') }),
    );
    const second = await apiError(
      events.createNamespacedEvent({ namespace: 'shop', body: validEvent('a.1') }),
    );
    await events.createNamespacedEvent({ namespace: 'shop', body: validEvent('a.1') });
    expect(first).toStrictEqual({
      code: 429,
      status: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Too many requests, please try again later.',
        reason: 'TooManyRequests',
        details: { retryAfterSeconds: 3 },
        code: 429,
      },
    });
    expect(second.code).toBe(429);
    const response = await fetch(`${api.url}/apis/events.k8s.io/v1/namespaces/shop/events/a.1`, {
      headers: { authorization: `Bearer ${api.token}` },
    });
    expect(response.status).toBe(200);
    api.failRequests({ verb: 'get', resource: 'events', code: 429 });
    const throttled = await fetch(`${api.url}/apis/events.k8s.io/v1/namespaces/shop/events/a.1`, {
      headers: { authorization: `Bearer ${api.token}` },
    });
    expect([throttled.status, throttled.headers.get('retry-after')]).toStrictEqual([429, '1']);
    expect([api.count('create', 'events'), api.count('get', 'events')]).toStrictEqual([3, 2]);
  });

  it('still refuses writes to pods (405): only Events take POST and PATCH', async () => {
    const response = await fetch(`${api.url}/api/v1/namespaces/default/pods`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(fakePod({ name: 'x' })),
    });
    expect(response.status).toBe(405);
  });
});
