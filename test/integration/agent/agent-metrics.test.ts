import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  agentReady,
  eventsInFile,
  needsBuiltCli,
  startAgent,
  waitFor,
  type AgentProcess,
} from '../../helpers/agent-process.js';
import { CORPUS } from '../../helpers/fixtures.js';
import { get, metricsPort, sample } from '../../helpers/metrics-scrape.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';

// /metrics, /healthz and /readyz of a running agent, scraped over loopback: the figures must be the
// agent's own counts of what it read and delivered.

const skip = missingPrerequisite([needsBuiltCli]);
const LOG = join(CORPUS, 'kmsg/kernel618-seccomp-all-actions.kmsg');

describe.skipIf(skip)("the agent's metrics and health endpoints", () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-e2e-metrics-'));
  const agents: AgentProcess[] = [];
  afterAll(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('/metrics counts exactly the lines read and the events delivered; /healthz and /readyz answer 200', async () => {
    const out = join(dir, 'events.ndjson');
    const agent = startAgent([
      'run',
      '--source',
      `syslog:${LOG}`,
      '--from-start',
      '--sink',
      `file:${out}`,
      '--state-dir',
      join(dir, 's1'),
      '--metrics-addr',
      '127.0.0.1:0',
    ]);
    agents.push(agent);
    await agentReady(agent);
    const port = await waitFor('the metrics port', () => metricsPort(agent));
    const lines = readFileSync(LOG, 'utf8')
      .split('\n')
      .filter((l) => l !== '').length;
    const expected = 10; // kernwatch parse of the same file: one event per type=1326 record
    await waitFor('the events', () => (eventsInFile(out).length >= expected ? true : undefined));
    const events = eventsInFile(out);
    expect(events).toHaveLength(expected);

    const metrics = await get(port, '/metrics');
    expect(metrics.status).toBe(200);
    expect(sample(metrics.body, 'kernwatch_lines_read_total{source="syslog"}')).toBe(lines);
    const byOutcome = new Map<string, number>();
    for (const e of events) byOutcome.set(e.outcome, (byOutcome.get(e.outcome) ?? 0) + 1);
    for (const [outcome, n] of byOutcome) {
      expect(
        sample(
          metrics.body,
          `kernwatch_events_total{source="syslog",kind="seccomp",outcome="${outcome}",namespace="_host"}`,
        ),
      ).toBe(n);
    }
    expect(sample(metrics.body, 'kernwatch_attribution_total{result="unresolved"}')).toBe(
      events.filter((e) => e.attribution === 'unresolved').length,
    );
    expect(sample(metrics.body, 'kernwatch_queue_lines{source="syslog"}')).toBe(0);
    expect(metrics.body).toContain('process_resident_memory_bytes');
    expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get(port, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
    expect((await get(port, '/nope')).status).toBe(404);
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  test('/readyz answers 503 and names the sink while a sink refuses events', async () => {
    const agent = startAgent([
      'run',
      '--source',
      `syslog:${LOG}`,
      '--from-start',
      '--sink',
      'file:/dev/full',
      '--state-dir',
      join(dir, 's2'),
      '--metrics-addr',
      '127.0.0.1:0',
    ]);
    agents.push(agent);
    await agentReady(agent);
    const port = await waitFor('the metrics port', () => metricsPort(agent));
    const ready = await waitFor('not ready', async () => {
      const r = await get(port, '/readyz');
      return r.status === 503 ? r : undefined;
    });
    expect(ready.body).toBe('sinks refusing events: file:/dev/full\n');
    const metrics = await get(port, '/metrics');
    expect(sample(metrics.body, 'kernwatch_delivery_retries_total{source="syslog"}')).toBeGreaterThan(0);
    expect(await agent.stop('SIGTERM', 30_000)).toBe(0);
  });
});
