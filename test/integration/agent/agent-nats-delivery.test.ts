import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  agentReady,
  needsBuiltCli,
  startAgent,
  waitFor,
  type AgentProcess,
} from '../../helpers/agent-process.js';
import { startAuditLogWriter, writerRecordOf } from '../../helpers/audit-log-writer.js';
import { get, metricsPort, sample } from '../../helpers/metrics-scrape.js';
import { NatsServer, hasNatsServer } from '../../helpers/nats-server.js';
import { readStream, streamMessageCount } from '../../helpers/nats-stream.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';

// `kernwatch run --source auditd:PATH --sink nats://...` end to end against Debian's nats-server: every
// record in the stream exactly once, across a NATS outage, an agent SIGKILL and restart, and rotations.
// Noise control is off here: these tests count records, and identical denials would be coalesced.

const skip = missingPrerequisite([needsBuiltCli, hasNatsServer]);

describe.skipIf(skip)('the agent delivering to NATS JetStream', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-agent-nats-'));
  const agents: AgentProcess[] = [];
  const servers: NatsServer[] = [];
  const config = join(dir, 'no-noise-control.yaml');
  writeFileSync(config, 'noise: { coalesceWindow: 0, perContainerPerSecond: 0 }\n');

  afterAll(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    for (const s of servers) await s.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  function agentArgs(name: string, nats: NatsServer, extra: string[] = []): string[] {
    return [
      'run',
      '--config',
      config,
      '--source',
      `auditd:${join(dir, name, 'audit.log')}`,
      '--sink',
      nats.url,
      '--node',
      'node-a',
      '--state-dir',
      join(dir, name, 'state'),
      ...extra,
    ];
  }

  function start(args: string[]): AgentProcess {
    const agent = startAgent(args);
    agents.push(agent);
    return agent;
  }

  /** Each record number the stream holds, with how often: exactly once means all 1 and none missing. */
  async function recordsInStream(nats: NatsServer): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    for (const m of await readStream(nats.url)) {
      const n = writerRecordOf(m.json.auditId as string);
      counts.set(n, (counts.get(n) ?? 0) + 1);
      expect(m.msgId).toBe(m.json.id);
      expect(m.subject).toBe('kernwatch.v1.denial.node-a.seccomp._host');
    }
    return counts;
  }

  function expectExactlyOnce(counts: Map<number, number>, total: number): void {
    const missing: number[] = [];
    for (let n = 0; n < total; n++) if (counts.get(n) !== 1) missing.push(n);
    expect(missing.slice(0, 20)).toEqual([]);
    expect(counts.size).toBe(total);
  }

  test('exactly once across a NATS restart, an agent SIGKILL + restart and rename rotations', async () => {
    const TOTAL = 12_000;
    const nats = await NatsServer.start();
    servers.push(nats);
    const name = 'kill-rotate';
    rmSync(join(dir, name), { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, name)));
    const args = agentArgs(name, nats);
    const first = start(args);
    await agentReady(first);
    const writer = startAuditLogWriter(join(dir, name, 'audit.log'), TOTAL, 2_000, [3_000, 7_000, 10_000]);

    await writer.waitFor(2_000);
    await nats.kill();
    await writer.waitFor(4_000);
    await nats.start();
    await writer.waitFor(5_500);
    expect(await first.stop('SIGKILL')).toBe('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const second = start(args);
    await agentReady(second);
    await writer.done;
    let stored = 0;
    await waitFor(
      () =>
        `every record in the stream (${String(stored)} of ${String(TOTAL)}); agent log: ${second.stderr().slice(-3000)}`,
      async () => ((stored = await streamMessageCount(nats.url)) >= TOTAL ? true : undefined),
      60_000,
      250,
    );
    // Anything still in flight would show up as an extra message now.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await second.stop('SIGTERM')).toBe(0);
    expectExactlyOnce(await recordsInStream(nats), TOTAL);
    expect(second.stderr()).not.toContain('"level":50');
  }, 180_000);

  test('NATS down for 60 s while 1,000 records/s are appended: every record exactly once, spool in metrics', async () => {
    const TOTAL = 75_000;
    const nats = await NatsServer.start();
    servers.push(nats);
    const name = 'outage';
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, name), { recursive: true }));
    const agent = start(agentArgs(name, nats, ['--metrics-addr', '127.0.0.1:0']));
    await agentReady(agent);
    const port = await waitFor('the metrics port', () => metricsPort(agent));
    const writer = startAuditLogWriter(join(dir, name, 'audit.log'), TOTAL, 1_000);

    await writer.waitFor(5_000);
    await nats.kill();
    const downAt = Date.now();
    await writer.waitFor(10_000);
    // Batches in flight at the kill go to the spool once the client reports the lost connection, or at
    // the latest after the ack timeout (5 s): wait for the spool rather than sample one instant.
    const during = await waitFor(
      'the spool to fill while NATS is down',
      async () => {
        const m = await get(port, '/metrics');
        return (sample(m.body, 'kernwatch_spool_bytes') ?? 0) > 0 ? m : undefined;
      },
      20_000,
      200,
    );
    expect(sample(during.body, 'kernwatch_nats_connected')).toBe(0);
    expect((await get(port, '/readyz')).status).toBe(200); // spooling is accepting
    await new Promise((r) => setTimeout(r, Math.max(0, 60_000 - (Date.now() - downAt))));
    await nats.start();
    await writer.done;
    await waitFor(
      'every record in the stream',
      async () => ((await streamMessageCount(nats.url)) >= TOTAL ? true : undefined),
      90_000,
      500,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const after = await get(port, '/metrics');
    expect(sample(after.body, 'kernwatch_nats_connected')).toBe(1);
    expect(sample(after.body, 'kernwatch_spool_events')).toBe(0);
    expect(sample(after.body, 'kernwatch_publish_latency_seconds_count')).toBe(TOTAL);
    expect(sample(after.body, 'kernwatch_spooled_total')).toBeGreaterThanOrEqual(55_000);
    expect(sample(after.body, 'kernwatch_sink_dropped_total{sink="nats",reason="spool_full"}')).toBe(0);
    expect(await agent.stop('SIGTERM')).toBe(0);
    expectExactlyOnce(await recordsInStream(nats), TOTAL);
  }, 240_000);

  test('kernwatch watch shows, one line each, the events a running agent publishes', async () => {
    const nats = await NatsServer.start();
    servers.push(nats);
    const name = 'watched';
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, name), { recursive: true }));
    const watch = start(['watch', '--nats', nats.url, '--node', 'node-a', '--kind', 'seccomp']);
    await waitFor('watch to follow the feed', () =>
      /following|Waiting/.test(watch.stderr()) ? true : undefined,
    );
    const agent = start(agentArgs(name, nats));
    await agentReady(agent);
    const writer = startAuditLogWriter(join(dir, name, 'audit.log'), 5, 100);
    await writer.done;
    const lines = await waitFor('five lines from watch', () => {
      const out = watch
        .stdout()
        .split('\n')
        .filter((l) => l !== '');
      return out.length >= 5 ? out : undefined;
    });
    expect(lines).toHaveLength(5);
    // The writer's records are from a process that is gone (pid 8639 of the corpus): unresolved.
    expect(lines).toEqual(
      Array.from(
        { length: 5 },
        () =>
          '2026-11-28T11:38:53.120Z  node-a        unresolved                                seccomp  logged   getppid (x86_64) LOG                  w[8639]',
      ),
    );
    expect(await agent.stop('SIGTERM')).toBe(0);
    expect(await watch.stop('SIGTERM')).toBe(0);
  });
});
