import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import { createUser } from '@nats-io/nkeys';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import { NatsSink, type NatsSinkOptions } from '../../../agent/sinks/nats/nats-sink.js';
import { NatsServer, hasNatsServer } from '../../helpers/nats-server.js';
import { readStream } from '../../helpers/nats-stream.js';
import { parseText } from '../../helpers/parse-text.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';
import { hasOpenssl, makeTestCertificates } from '../../helpers/test-certificates.js';
import { waitUntil } from '../../helpers/wait.js';

// The NATS sink against Debian's nats-server 2.9: what reaches the stream, exactly once, across outages.

const skip = missingPrerequisite([hasNatsServer, hasOpenssl]);

// Real SECCOMP records (corpus: kernel618-auditd309-enriched-seccomp-all-actions.log, raw form), one per
// serial so every event has its own id.
const seccompLine = (serial: number): string =>
  `type=SECCOMP msg=audit(1795865933.120:${String(serial)}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=8639 comm=77206C6F67 exe="/usr/local/bin/seccomp-demo" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7fbf4fb4d829 code=0x7ffc0000`;

function events(from: number, count: number): KernwatchEvent[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(seccompLine(from + i));
  return parseText(`${lines.join('\n')}\n`).events;
}

/** A logger whose lines the test can read. */
function recordingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n'))
        if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, out), lines };
}

describe.skipIf(skip !== undefined)('NATS sink with a real nats-server', () => {
  let dir: string;
  const servers: NatsServer[] = [];
  const sinks: NatsSink[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kernwatch-nats-sink-'));
  });
  afterEach(async () => {
    for (const s of sinks.splice(0)) await s.close();
    for (const s of servers.splice(0)) await s.remove();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function server(options: Parameters<typeof NatsServer.start>[0] = {}): Promise<NatsServer> {
    const s = await NatsServer.start(options);
    servers.push(s);
    return s;
  }

  async function sink(
    url: string,
    overrides: Partial<NatsSinkOptions> = {},
    name = `spool-${String(sinks.length)}-${String(Date.now())}`,
  ): Promise<NatsSink> {
    const s = new NatsSink({
      connection: { url },
      stream: { name: 'KERNWATCH', duplicateWindowMs: 120_000, maxAgeMs: 0 },
      spoolDir: join(dir, name),
      spoolMaxBytes: 64 * 1024 * 1024,
      maxInFlight: 256,
      ackTimeoutMs: 2000,
      node: 'node-a',
      log: pino({ level: 'silent' }),
      ...overrides,
    });
    await s.open();
    sinks.push(s);
    return s;
  }

  test('creates the stream and stores each event once, with its id as Nats-Msg-Id, on its subject', async () => {
    const nats = await server();
    const s = await sink(nats.url);
    await waitUntil('the stream to be set up', () => s.isPublishing);
    const batch = events(1000, 50);
    await s.deliver(batch);
    await s.deliver(batch); // the same events again: JetStream's duplicate window drops them
    const stored = await readStream(nats.url);
    expect(stored.map((m) => m.msgId)).toEqual(batch.map((e) => e.id));
    expect(stored[0]?.subject).toBe('kernwatch.v1.denial.test-node.seccomp._host');
    expect(stored[0]?.json).toMatchObject({ schema: 'kernwatch.v1', id: batch[0]?.id, kind: 'seccomp' });
    expect(s.counters).toMatchObject({ published: 100, duplicates: 50, spooled: 0 });

    const nc = await connect({ servers: nats.url });
    const info = await (await jetstreamManager(nc)).streams.info('KERNWATCH');
    await nc.close();
    expect(info.config).toMatchObject({
      subjects: ['kernwatch.>'],
      storage: StorageType.File,
      duplicate_window: nanos(120_000),
    });
  });

  test('an event over the server max_payload is dropped, counted and logged, and holds nothing back', async () => {
    const nats = await server();
    const { log, lines } = recordingLogger();
    const s = await sink(nats.url, { log });
    await waitUntil('the stream to be set up', () => s.isPublishing);
    const [small1, huge, small2] = events(5000, 3);
    if (small1 === undefined || huge === undefined || small2 === undefined) throw new Error('no events');
    // nats-server's default max_payload is 1 MiB; a record's siblings can reach that (16 x 64 KiB lines).
    const oversized: KernwatchEvent = { ...huge, raw: [...huge.raw, 'x'.repeat(1_100_000)] };
    // Straight to NATS: publish() refuses it before sending anything.
    await s.deliver([small1, oversized, small2]);
    expect((await readStream(nats.url)).map((m) => m.msgId)).toEqual([small1.id, small2.id]);
    expect(s.counters).toMatchObject({ published: 2, tooLarge: 1, spooled: 0 });
    expect(lines.some((l) => String(l.msg).includes('max_payload') && l.level === 50)).toBe(true);

    // Through the spool: it must not wedge the replay behind it.
    await nats.kill();
    await waitUntil('the sink to notice', () => !s.isConnected);
    const [later1, later2] = events(6000, 2);
    if (later1 === undefined || later2 === undefined) throw new Error('no events');
    const oversized2: KernwatchEvent = { ...later1, raw: [...later1.raw, 'y'.repeat(1_100_000)] };
    await s.deliver([oversized2, later2]);
    expect(s.spoolEvents).toBe(2);
    await nats.start();
    await waitUntil('the spool to drain', () => s.spoolEvents === 0, 20_000);
    expect((await readStream(nats.url)).map((m) => m.msgId)).toEqual([small1.id, small2.id, later2.id]);
    expect(s.counters.tooLarge).toBe(2);
  });

  test('spools while NATS is down and replays in order after it comes back, each event once', async () => {
    const nats = await server();
    const s = await sink(nats.url);
    await waitUntil('the stream to be set up', () => s.isPublishing);
    const before = events(2000, 100);
    await s.deliver(before);
    await nats.kill();
    await waitUntil('the sink to notice', () => !s.isConnected);
    const during = events(3000, 300);
    for (let i = 0; i < during.length; i += 50) await s.deliver(during.slice(i, i + 50));
    expect(s.spoolEvents).toBe(300);
    expect(s.spoolBytes).toBeGreaterThan(0);
    await nats.start();
    await waitUntil('the spool to drain', () => s.spoolEvents === 0, 20_000);
    const after = events(4000, 100);
    await s.deliver(after);
    const stored = await readStream(nats.url);
    expect(stored.map((m) => m.msgId)).toEqual([...before, ...during, ...after].map((e) => e.id));
    expect(s.counters.spooled).toBe(300);
    expect(s.counters.reconnects).toBe(1);
  });

  test('a batch in flight when NATS dies goes to the spool at once, not after the ack timeout', async () => {
    const nats = await server();
    // An ack timeout longer than this test may take: only the lost connection can end the wait.
    const s = await sink(nats.url, { ackTimeoutMs: 120_000 });
    await waitUntil('the stream to be set up', () => s.isPublishing);
    // 50,000 events take the bus here most of a second (its ceiling is 60-80k/s): the kill, 20 ms in,
    // finds most of them unacknowledged.
    const batch = events(20_000, 50_000);
    const delivered = s.deliver(batch);
    await new Promise((r) => setTimeout(r, 20));
    await nats.kill();
    await delivered;
    const published = s.counters.published;
    expect(published).toBeLessThan(50_000);
    expect(s.spoolEvents).toBe(50_000 - published);
    await nats.start();
    await waitUntil('the spool to drain', () => s.spoolEvents === 0, 30_000);
    expect((await readStream(nats.url)).map((m) => m.msgId)).toEqual(batch.map((e) => e.id));
  }, 40_000);

  test('starts without NATS, spools, and delivers once the server appears', async () => {
    const nats = await server();
    await nats.kill();
    const s = await sink(nats.url);
    const batch = events(5000, 40);
    await s.deliver(batch);
    expect(s.isConnected).toBe(false);
    expect(s.spoolEvents).toBe(40);
    expect(s.healthy()).toBe(true); // spooling is accepting
    await nats.start();
    await waitUntil('the spool to drain', () => s.spoolEvents === 0, 20_000);
    expect((await readStream(nats.url)).map((m) => m.msgId)).toEqual(batch.map((e) => e.id));
  });

  test('a spool left by a previous run is published first, after a restart of the agent', async () => {
    const nats = await server();
    await nats.kill();
    const first = await sink(nats.url, {}, 'restart-spool');
    const old = events(6000, 60);
    await first.deliver(old);
    await first.close();
    sinks.splice(sinks.indexOf(first), 1);
    await nats.start();
    const second = await sink(nats.url, {}, 'restart-spool');
    expect(second.spoolCounters?.recoveredMessages).toBe(60);
    const fresh = events(7000, 20);
    await second.deliver(fresh);
    await waitUntil('the spool to drain', () => second.spoolEvents === 0, 20_000);
    expect((await readStream(nats.url)).map((m) => m.msgId)).toEqual([...old, ...fresh].map((e) => e.id));
  });

  test('a full spool drops its oldest events, counts and logs them, and keeps accepting', async () => {
    const nats = await server();
    await nats.kill();
    const { log, lines } = recordingLogger();
    const s = await sink(nats.url, {
      log,
      spoolMaxBytes: 256 * 1024,
      spoolSegmentBytes: 64 * 1024,
    });
    const all = events(8000, 1000);
    for (let i = 0; i < all.length; i += 100) await s.deliver(all.slice(i, i + 100));
    const dropped = s.spoolCounters?.droppedMessages ?? 0;
    expect(dropped).toBeGreaterThan(0);
    expect(s.spoolEvents).toBe(1000 - dropped);
    expect(s.healthy()).toBe(true);
    const errors = lines.filter((l) => l.level === 50 && String(l.msg).startsWith('The spool is full'));
    expect(errors.length).toBe(s.spoolCounters?.droppedSegments);
    await nats.start();
    await waitUntil('the spool to drain', () => s.spoolEvents === 0, 20_000);
    // What is left is exactly the newest events, in order.
    expect((await readStream(nats.url)).map((m) => m.msgId)).toEqual(all.slice(dropped).map((e) => e.id));
  });

  test('an existing stream is not changed; what differs is logged', async () => {
    const nats = await server();
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: 'KERNWATCH',
      subjects: ['kernwatch.>'],
      storage: StorageType.Memory,
      duplicate_window: nanos(30_000),
    });
    const { log, lines } = recordingLogger();
    const s = await sink(nats.url, { log });
    await waitUntil('the stream to be set up', () => s.isPublishing);
    await s.deliver(events(9000, 5));
    const info = await jsm.streams.info('KERNWATCH');
    await nc.close();
    expect(info.config.storage).toBe(StorageType.Memory);
    expect(info.config.duplicate_window).toBe(nanos(30_000));
    expect(info.state.messages).toBe(5);
    const settings = lines.filter((l) => l.stream === 'KERNWATCH' && 'setting' in l).map((l) => l.setting);
    expect(settings.sort()).toEqual(['duplicate_window', 'storage']);
  });

  describe('authentication', () => {
    test('user and password from files', async () => {
      const nats = await server({ auth: { user: 'kernwatch', password: 's3cret pass' } });
      await writeFile(join(dir, 'user'), 'kernwatch\n');
      await writeFile(join(dir, 'password'), 's3cret pass\n');
      const s = await sink(nats.url.replace('nats://', 'nats://'), {
        connection: { url: nats.url, userFile: join(dir, 'user'), passwordFile: join(dir, 'password') },
      });
      await waitUntil('the stream to be set up', () => s.isPublishing);
      await s.deliver(events(10_000, 3));
      expect(s.counters.published).toBe(3);
    });

    test('a wrong password never connects and the events stay in the spool', async () => {
      const nats = await server({ auth: { user: 'kernwatch', password: 'right' } });
      await writeFile(join(dir, 'wrong'), 'wrong\n');
      const s = await sink(nats.url, {
        connection: { url: nats.url, user: 'kernwatch', passwordFile: join(dir, 'wrong') },
      });
      await s.deliver(events(10_100, 3));
      await new Promise((r) => setTimeout(r, 500));
      expect(s.isConnected).toBe(false);
      expect(s.spoolEvents).toBe(3);
    });

    test('token from an environment variable', async () => {
      const nats = await server({ auth: { token: 't0ken-for-test' } });
      process.env.KERNWATCH_TEST_NATS_TOKEN = 't0ken-for-test';
      const s = await sink(nats.url, {
        connection: { url: nats.url, tokenEnv: 'KERNWATCH_TEST_NATS_TOKEN' },
      });
      await waitUntil('the stream to be set up', () => s.isPublishing);
      await s.deliver(events(11_000, 3));
      expect(s.counters.published).toBe(3);
      delete process.env.KERNWATCH_TEST_NATS_TOKEN;
    });

    test('nkey seed file', async () => {
      const user = createUser();
      const nats = await server({ auth: { nkey: user.getPublicKey() } });
      await writeFile(join(dir, 'user.nk'), `${new TextDecoder().decode(user.getSeed())}\n`);
      const s = await sink(nats.url, { connection: { url: nats.url, nkeySeedFile: join(dir, 'user.nk') } });
      await waitUntil('the stream to be set up', () => s.isPublishing);
      await s.deliver(events(12_000, 3));
      expect(s.counters.published).toBe(3);
    });

    test('TLS with a CA and a client certificate made by openssl', async () => {
      const certDir = join(dir, 'certs');
      await rm(certDir, { recursive: true, force: true });
      await import('node:fs/promises').then((fs) => fs.mkdir(certDir));
      const c = makeTestCertificates(certDir);
      const nats = await server({
        tls: { certFile: c.serverCertFile, keyFile: c.serverKeyFile, caFile: c.caFile, verify: true },
      });
      const s = await sink(nats.url, {
        connection: {
          url: nats.url,
          tls: { caFile: c.caFile, certFile: c.clientCertFile, keyFile: c.clientKeyFile },
        },
      });
      await waitUntil('the stream to be set up', () => s.isPublishing);
      await s.deliver(events(13_000, 3));
      expect(s.counters.published).toBe(3);
      // Without the client certificate the server refuses the connection.
      const refused = await sink(nats.url, { connection: { url: nats.url, tls: { caFile: c.caFile } } });
      await refused.deliver(events(13_100, 1));
      await new Promise((r) => setTimeout(r, 500));
      expect(refused.isConnected).toBe(false);
      expect(refused.spoolEvents).toBe(1);
    });
  });

  test('secrets never appear in the log', async () => {
    const nats = await server({ auth: { user: 'kernwatch', password: 'never-log-this' } });
    await writeFile(join(dir, 'pw2'), 'never-log-this');
    const { log, lines } = recordingLogger();
    const s = await sink(nats.url, {
      log,
      connection: { url: nats.url, user: 'kernwatch', passwordFile: join(dir, 'pw2') },
    });
    await waitUntil('the stream to be set up', () => s.isPublishing);
    await s.deliver(events(14_000, 2));
    await nats.kill();
    await waitUntil('the disconnect', () => !s.isConnected);
    await s.close();
    sinks.splice(sinks.indexOf(s), 1);
    expect(JSON.stringify(lines)).not.toContain('never-log-this');
    expect(await readdir(join(dir))).not.toContain('never-log-this');
  });
});
