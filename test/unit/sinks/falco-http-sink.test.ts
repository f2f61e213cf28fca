import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ERROR_CODES, KernwatchError } from '../../../agent/errors.js';
import type { KernwatchEvent } from '../../../agent/events.js';
import { DropOldestQueue } from '../../../agent/sinks/falco-http/drop-oldest-queue.js';
import { FalcoHttpSink, type FalcoHttpSinkOptions } from '../../../agent/sinks/falco-http/falco-http-sink.js';
import { falcoHttpUrl } from '../../../agent/sinks/falco-http/falco-http-url.js';
import { toFalcoAlert } from '../../../agent/sinks/falco-format.js';
import { FakeFalcosidekick } from '../../helpers/fake-falcosidekick.js';
import { CORPUS, corpusLogFiles } from '../../helpers/fixtures.js';
import { parseFile } from '../../helpers/parse-text.js';
import { waitUntil } from '../../helpers/wait.js';

// Real denials: every seccomp action from a 6.18 kernel's kmsg (killed, blocked, logged) and permissive
// SELinux AVCs from a containerd host (allowed).
const KMSG = parseFile(join(CORPUS, 'kmsg', 'kernel618-seccomp-all-actions.kmsg')).events;
const PERMISSIVE = parseFile(join(CORPUS, 'auditd', 'gh-confidential-containers-operator-115.log')).events;

function event(list: readonly KernwatchEvent[], i: number): KernwatchEvent {
  const e = list[i];
  if (e === undefined) throw new Error(`no event ${String(i)}`);
  return e;
}

/** The kernwatch ids of alerts as falcosidekick received them. */
function ids(alerts: readonly Record<string, unknown>[]): unknown[] {
  return alerts.map((a) => (a.output_fields as Record<string, unknown>)['kernwatch.id']);
}

interface LogLine {
  level: number;
  msg: string;
  count?: number;
  status?: number;
  [key: string]: unknown;
}

function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write: (s: string) => {
        lines.push(JSON.parse(s) as LogLine);
      },
    },
  );
  return { log, lines };
}

const PINO_ERROR = 50;
const PINO_WARN = 40;

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(port = 0): Promise<FakeFalcosidekick> {
  const fake = await FakeFalcosidekick.start(port);
  cleanups.push(() => fake.stop());
  return fake;
}

function sinkFor(url: string, options: Partial<FalcoHttpSinkOptions> = {}): FalcoHttpSink {
  const sink = new FalcoHttpSink({
    url,
    log: options.log ?? pino({ level: 'silent' }),
    retryInitialMs: 20,
    retryMaxMs: 80,
    ...options,
  });
  cleanups.push(() => sink.close());
  return sink;
}

describe('falcoHttpUrl', () => {
  it.each([
    ['falco+http://falcosidekick:2801/', 'http://falcosidekick:2801/'],
    ['falco+https://sidekick.example:443/', 'https://sidekick.example/'],
    ['falco+http://10.0.0.7:2801', 'http://10.0.0.7:2801/'],
    ['falco+http://[fd00::7]:2801/falco?x=1', 'http://[fd00::7]:2801/falco?x=1'],
    ['FALCO+HTTP://Sidekick:2801/', 'http://sidekick:2801/'],
    // --sink specs reach the config with falco+ already removed (config-loader).
    ['http://falcosidekick:2801/', 'http://falcosidekick:2801/'],
  ])('turns %s into %s', (spec, url) => {
    expect(falcoHttpUrl(spec)).toBe(url);
  });

  it.each([
    ['falco+ftp://falcosidekick:2801/', 'Unsupported scheme'],
    ['falco+nats://falcosidekick:4222', 'Unsupported scheme'],
    ['falco+http://', 'Invalid falco-http sink URL'],
    ['falcosidekick:2801', 'Unsupported scheme'],
    ['', 'Invalid falco-http sink URL'],
    ['falco+http://falcosidekick:99999/', 'Invalid falco-http sink URL'],
    ['falco+http://falcosidekick:0/', 'port 0'],
    ['falco+http://admin:s3cret@falcosidekick:2801/', 'must not carry credentials'],
    ['falco+http://falcosidekick:2801/#frag', 'fragment'],
  ])('refuses %s as a config error', (spec, message) => {
    let thrown: unknown;
    try {
      falcoHttpUrl(spec);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(KernwatchError);
    expect((thrown as KernwatchError).code).toBe(ERROR_CODES.config);
    expect((thrown as KernwatchError).message).toContain(message);
    expect((thrown as KernwatchError).message).not.toContain('s3cret');
  });

  it('refuses a bad URL when the sink is built, not at the first alert', () => {
    expect(() => new FalcoHttpSink({ url: 'falco+gopher://x/', log: pino({ level: 'silent' }) })).toThrow(
      KernwatchError,
    );
  });
});

describe('DropOldestQueue', () => {
  it('evicts and returns the oldest item when full, and keeps FIFO order across the wrap', () => {
    const q = new DropOldestQueue<number>(3);
    expect([q.push(1), q.push(2), q.push(3)]).toEqual([undefined, undefined, undefined]);
    expect(q.push(4)).toBe(1);
    expect(q.shift()).toBe(2);
    expect(q.unshift(2)).toBe(true);
    expect(q.unshift(0)).toBe(false);
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([2, 3, 4, undefined]);
    expect(q.length).toBe(0);
  });
});

describe('FalcoHttpSink', () => {
  it('POSTs each event to falcosidekick as its Falco alert JSON, one per request, as application/json', async () => {
    const fake = await receiver();
    const sink = sinkFor(`falco+${fake.url}`, { concurrency: 1 });
    const events = [...KMSG, event(PERMISSIVE, 0)];
    await sink.deliver(events);
    await waitUntil('all alerts sent', () => sink.counters.sent === events.length);

    expect(fake.requests.map((r) => [r.method, r.path, r.contentType, r.answer])).toEqual(
      events.map(() => ['POST', '/', 'application/json', 200]),
    );
    // One request at a time: falcosidekick receives them in the order they were delivered.
    expect(fake.alerts).toEqual(events.map((e) => toFalcoAlert(e)));
    expect(fake.alerts.map((a) => [a.rule, a.priority])).toEqual([
      ['seccomp violation (LOG)', 'Informational'],
      ['seccomp violation (ERRNO)', 'Warning'],
      ['seccomp violation (ERRNO)', 'Warning'],
      ['seccomp violation (TRAP)', 'Warning'],
      ['seccomp violation (TRACE)', 'Warning'],
      ['seccomp violation (USER_NOTIF)', 'Warning'],
      ['seccomp violation (KILL_THREAD)', 'Critical'],
      ['seccomp violation (KILL_PROCESS)', 'Critical'],
      ['seccomp violation (LOG)', 'Informational'],
      ['seccomp violation (KILL_PROCESS)', 'Critical'],
      ['SELinux violation (permissive)', 'Notice'],
    ]);
    expect(fake.alerts[7]).toStrictEqual({
      time: '2026-11-28T11:38:47.092Z',
      rule: 'seccomp violation (KILL_PROCESS)',
      priority: 'Critical',
      source: 'kernwatch',
      hostname: 'test-node',
      output:
        '11:38:47.092: Critical seccomp violation (KILL_PROCESS): getppid (x86_64) KILL_PROCESS ' +
        '(pid=8591 comm=w kill-process exe=/usr/local/bin/seccomp-demo node=test-node)',
      output_fields: {
        'kernwatch.id': 'test-node:1795865927.092:334427/0',
        'kernwatch.kind': 'seccomp',
        'kernwatch.outcome': 'killed',
        'kernwatch.count': 1,
        'kernwatch.attribution': 'unresolved',
        'proc.pid': 8591,
        'proc.ppid': null,
        'proc.name': 'w kill-process',
        'proc.exepath': '/usr/local/bin/seccomp-demo',
        'proc.cmdline': null,
        'proc.cwd': null,
        'user.uid': 0,
        'user.loginuid': 4294967295,
        'container.id': null,
        'container.name': null,
        'container.image.repository': null,
        'k8s.ns.name': null,
        'k8s.pod.name': null,
        'k8s.pod.uid': null,
        'kernwatch.audit_id': '1795865927.092:334427',
        'seccomp.syscall': 'getppid',
        'seccomp.syscall_nr': 110,
        'seccomp.arch': 'x86_64',
        'seccomp.action': 'KILL_PROCESS',
        'seccomp.code': '0x80000000',
      },
      tags: ['kernwatch', 'seccomp', 'killed'],
    });
    expect(sink.counters).toStrictEqual({
      sent: 11,
      retries: 0,
      dropped: { queue_full: 0, rejected: 0, retries_exhausted: 0, abandoned_at_close: 0 },
      queued: 0,
      inFlight: 0,
    });
    expect(sink.healthy()).toBe(true);
  });

  it('has the alert of every corpus event accepted by falcosidekick', async () => {
    const all = corpusLogFiles().flatMap((f) => parseFile(join(CORPUS, f)).events);
    const fake = await receiver();
    const sink = sinkFor(fake.url);
    await sink.deliver(all);
    await waitUntil(
      () => `${String(all.length)} alerts sent (${JSON.stringify(sink.counters)})`,
      () => sink.counters.sent + sink.counters.dropped.rejected === all.length,
    );
    expect(sink.counters.dropped.rejected).toBe(0);
    expect(fake.alerts).toHaveLength(all.length);
    expect(new Set(ids(fake.alerts))).toEqual(new Set(all.map((e) => e.id)));
  });

  it('sends the pod and container of an attributed event as the k8s.* and container.* fields', async () => {
    const fake = await receiver();
    const sink = sinkFor(fake.url);
    const attributed: KernwatchEvent = {
      ...event(KMSG, 7),
      attribution: 'pod',
      container: { id: 'c'.repeat(64), name: 'web', runtime: 'containerd', image: 'nginx:1.27' },
      pod: { name: 'web-7d9f8', namespace: 'prod-shop', uid: '0b6f3c1e-4d8a-4f5e-9b2a-7c1d2e3f4a5b' },
    };
    await sink.deliver([attributed]);
    await waitUntil('alert sent', () => sink.counters.sent === 1);
    const fields = fake.alerts[0]?.output_fields as Record<string, unknown>;
    expect([
      fields['k8s.ns.name'],
      fields['k8s.pod.name'],
      fields['k8s.pod.uid'],
      fields['container.id'],
      fields['container.name'],
      fields['container.image.repository'],
      fields['kernwatch.attribution'],
    ]).toEqual([
      'prod-shop',
      'web-7d9f8',
      '0b6f3c1e-4d8a-4f5e-9b2a-7c1d2e3f4a5b',
      'c'.repeat(64),
      'web',
      'nginx:1.27',
      'pod',
    ]);
    expect(fake.alerts[0]?.output).toContain(' k8s.ns=prod-shop k8s.pod=web-7d9f8 ');
  });

  it('drops and counts as rejected an alert falcosidekick answers 400, and keeps sending the others', async () => {
    const fake = await receiver();
    const { log, lines } = capturingLogger();
    const sink = sinkFor(fake.url, { log, concurrency: 1 });
    // A time falcosidekick cannot parse as RFC 3339 fails its decode: 400 "Please send a valid request body".
    const broken: KernwatchEvent = { ...event(KMSG, 1), time: '2026-11-28 11:38:47' };
    await sink.deliver([event(KMSG, 0), broken, event(KMSG, 2)]);
    await waitUntil('all three answered', () => fake.requests.length === 3 && sink.counters.inFlight === 0);

    expect(fake.requests.map((r) => r.answer)).toEqual([200, 400, 200]);
    expect(ids(fake.alerts)).toEqual([event(KMSG, 0).id, event(KMSG, 2).id]);
    expect(sink.counters.sent).toBe(2);
    expect(sink.counters.retries).toBe(0);
    expect(sink.counters.dropped.rejected).toBe(1);
    // A refusal is an answer: falcosidekick is up.
    expect(sink.healthy()).toBe(true);
    const refused = lines.filter((l) => l.msg === 'falcosidekick refused alerts; dropped them.');
    expect(refused).toHaveLength(1);
    expect(refused[0]?.level).toBe(PINO_ERROR);
    expect(refused[0]?.count).toBe(1);
    expect(refused[0]?.status).toBe(400);
    expect((refused[0]?.err as { message: string }).message).toBe(
      `${fake.url} answered 400: Please send a valid request body`,
    );
  });

  it('does not follow a redirect (a POST would turn into a GET): it is refused with its location', async () => {
    const fake = await receiver();
    const { log, lines } = capturingLogger();
    // Go's ServeMux answers 301 to an unclean path before falcosidekick's handler runs.
    const sink = sinkFor(`falco+${fake.url}/`, { log });
    await sink.deliver([event(KMSG, 0)]);
    await waitUntil('answered', () => sink.counters.dropped.rejected === 1);
    expect(fake.requests.map((r) => [r.method, r.path, r.answer])).toEqual([['POST', '//', 301]]);
    const err = lines.find((l) => l.msg === 'falcosidekick refused alerts; dropped them.')?.err as {
      message: string;
    };
    expect(err.message).toContain('answered 301');
    expect(err.message).toContain('(redirected to /)');
  });

  it('keeps alerts while falcosidekick is down, retries with backoff, and delivers them once it listens', async () => {
    const port = await freePort();
    const { log, lines } = capturingLogger();
    const sink = sinkFor(`falco+http://127.0.0.1:${String(port)}/`, { log });
    const events = KMSG.slice(0, 3);
    await sink.deliver(events);
    await waitUntil('two failed attempts', () => sink.counters.retries >= 2);
    expect(sink.healthy()).toBe(false);
    expect(sink.lastError?.message).toContain('ECONNREFUSED');
    expect(sink.counters.sent).toBe(0);
    // While unreachable, one probe at a time: the other alerts wait in the queue.
    expect(sink.counters.queued + sink.counters.inFlight).toBe(3);

    const fake = await receiver(port);
    await waitUntil('delivered after the receiver came up', () => sink.counters.sent === 3);
    expect(sink.healthy()).toBe(true);
    expect(sink.lastError).toBeUndefined();
    expect(ids(fake.alerts).sort()).toEqual(events.map((e) => e.id).sort());
    expect(sink.counters.dropped).toStrictEqual({
      queue_full: 0,
      rejected: 0,
      retries_exhausted: 0,
      abandoned_at_close: 0,
    });
    const down = lines.filter((l) => l.msg.startsWith('Cannot deliver alerts to falcosidekick'));
    expect(down).toHaveLength(1);
    expect(down[0]?.level).toBe(PINO_WARN);
    expect(lines.filter((l) => l.msg.startsWith('falcosidekick is reachable again'))).toHaveLength(1);
  });

  it('retries an alert answered 502, 503 or 429 by a proxy in front, and counts each retry', async () => {
    const fake = await receiver();
    fake.frontAnswers = [502, 503, 429];
    const sink = sinkFor(fake.url);
    await sink.deliver([event(KMSG, 6)]);
    await waitUntil('sent', () => sink.counters.sent === 1);
    expect(fake.requests.map((r) => r.answer)).toEqual([502, 503, 429, 200]);
    expect(sink.counters.retries).toBe(3);
    expect(ids(fake.alerts)).toEqual([event(KMSG, 6).id]);
  });

  it('pauses one backoff step after requests fail together, then probes one request at a time', async () => {
    const fake = await receiver();
    fake.frontAnswers = [503, 503, 503, 503, 503];
    // random() = 1: each pause is its full step (100 ms, then 200 ms).
    const sink = sinkFor(fake.url, { retryInitialMs: 100, retryMaxMs: 10_000, random: () => 1 });
    await sink.deliver(KMSG.slice(0, 4));
    await waitUntil('all sent', () => sink.counters.sent === 4);
    const r = fake.requests;
    expect(r.map((x) => x.answer)).toEqual([503, 503, 503, 503, 503, 200, 200, 200, 200]);
    expect(sink.counters.retries).toBe(5);
    const at = (i: number): number => r[i]?.receivedAt ?? Number.NaN;
    // The four failures of one moment pause for one step (100 ms), not the fourth doubled step (800 ms).
    const firstFailure = Math.min(at(0), at(1), at(2), at(3));
    expect(at(4) - firstFailure).toBeGreaterThanOrEqual(95);
    expect(at(4) - at(3)).toBeLessThan(500);
    // While unreachable, the probe is alone: the next request waits for its failure and the next step.
    expect(at(5) - at(4)).toBeGreaterThanOrEqual(195);
  });

  it('drops an alert after maxAttempts failures, so that it cannot hold back the ones behind it', async () => {
    const fake = await receiver();
    fake.frontAnswers = [500, 500, 500];
    const { log, lines } = capturingLogger();
    const sink = sinkFor(fake.url, { log, maxAttempts: 3, concurrency: 1 });
    await sink.deliver([event(KMSG, 0), event(KMSG, 1)]);
    await waitUntil('second alert sent', () => sink.counters.sent === 1);
    expect(fake.requests.map((r) => r.answer)).toEqual([500, 500, 500, 200]);
    expect(ids(fake.alerts)).toEqual([event(KMSG, 1).id]);
    expect(sink.counters.retries).toBe(2);
    expect(sink.counters.dropped.retries_exhausted).toBe(1);
    const exhausted = lines.find((l) => l.msg.startsWith('Alerts failed every attempt'));
    expect([exhausted?.level, exhausted?.count, exhausted?.attempts]).toEqual([PINO_ERROR, 1, 3]);
  });

  it('resolves deliver at once while falcosidekick does not answer', async () => {
    const fake = await receiver();
    fake.hold = true;
    const sink = sinkFor(fake.url, { concurrency: 2 });
    let resolved = false;
    const delivered = sink.deliver(KMSG.slice(0, 5)).then(() => {
      resolved = true;
    });
    await waitUntil('two requests held', () => fake.heldCount === 2);
    // Resolved while both requests still wait for an answer.
    expect(resolved).toBe(true);
    await delivered;
    expect(sink.counters).toMatchObject({ sent: 0, queued: 3, inFlight: 2 });
    fake.release();
    await waitUntil('all sent', () => sink.counters.sent === 5);
  });

  it('counts a request that outlives requestTimeoutMs as failed and sends the alert again', async () => {
    const fake = await receiver();
    fake.hold = true;
    const sink = sinkFor(fake.url, { requestTimeoutMs: 100 });
    await sink.deliver([event(KMSG, 0)]);
    await waitUntil('timed out once', () => sink.counters.retries >= 1);
    expect(sink.healthy()).toBe(false);
    // Released only once the receiver saw the client go: else it would take that request too (a duplicate
    // a real falcosidekick can also receive; kernwatch.id in output_fields lets a consumer drop it).
    await waitUntil('the receiver saw the abort', () => fake.requests[0]?.answer === 'dropped');
    expect(sink.lastError?.message).toContain('no answer before the request timeout');
    fake.release();
    await waitUntil('sent', () => sink.counters.sent === 1);
    expect(sink.healthy()).toBe(true);
    expect(ids(fake.alerts)).toEqual([event(KMSG, 0).id]);
  });

  it('drops the oldest queued alerts when the queue is full, counts them and logs one error', async () => {
    const fake = await receiver();
    fake.hold = true;
    const { log, lines } = capturingLogger();
    const sink = sinkFor(fake.url, { log, maxQueuedEvents: 3, concurrency: 1 });
    await sink.deliver([event(KMSG, 0)]);
    await waitUntil('first alert in flight', () => fake.heldCount === 1);
    await sink.deliver(KMSG.slice(1, 6));
    expect(sink.counters).toStrictEqual({
      sent: 0,
      retries: 0,
      dropped: { queue_full: 2, rejected: 0, retries_exhausted: 0, abandoned_at_close: 0 },
      queued: 3,
      inFlight: 1,
    });
    const full = lines.filter(
      (l) => l.msg === 'The falcosidekick alert queue is full; dropped the oldest alerts.',
    );
    expect(full.map((l) => [l.level, l.count, l.maxQueuedEvents])).toEqual([[PINO_ERROR, 2, 3]]);

    fake.release();
    await waitUntil('the rest sent', () => sink.counters.sent === 4);
    // The one in flight, then the three newest; KMSG[1] and KMSG[2] were the oldest queued.
    expect(ids(fake.alerts)).toEqual([0, 3, 4, 5].map((i) => event(KMSG, i).id));
  });

  it('close waits for the queue to drain before it returns', async () => {
    const fake = await receiver();
    const sink = sinkFor(fake.url);
    const events = [...KMSG, ...PERMISSIVE];
    await sink.deliver(events);
    await sink.close();
    expect(sink.counters.sent).toBe(events.length);
    expect(sink.counters.dropped.abandoned_at_close).toBe(0);
    expect(new Set(ids(fake.alerts))).toEqual(new Set(events.map((e) => e.id)));
  });

  it('close gives up after closeTimeoutMs and counts the alerts it abandons', async () => {
    const fake = await receiver();
    fake.hold = true;
    const { log, lines } = capturingLogger();
    const sink = sinkFor(fake.url, { log, concurrency: 2, closeTimeoutMs: 200 });
    await sink.deliver(KMSG.slice(0, 5));
    await waitUntil('two requests held', () => fake.heldCount === 2);
    const started = Date.now();
    await sink.close();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1_000);
    expect(sink.counters).toStrictEqual({
      sent: 0,
      retries: 0,
      dropped: { queue_full: 0, rejected: 0, retries_exhausted: 0, abandoned_at_close: 5 },
      queued: 0,
      inFlight: 0,
    });
    expect(sink.healthy()).toBe(false);
    const abandoned = lines.filter((l) => l.msg.startsWith('falcosidekick alerts were still queued'));
    expect(abandoned.map((l) => [l.level, l.count])).toEqual([[PINO_ERROR, 5]]);
    // Alerts delivered after close are counted as abandoned too, never thrown at the chain.
    await sink.deliver([event(KMSG, 5)]);
    expect(sink.counters.dropped.abandoned_at_close).toBe(6);
  });
});
