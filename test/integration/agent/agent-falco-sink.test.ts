import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import {
  agentReady,
  eventsInFile,
  needsBuiltCli,
  startAgent,
  waitFor,
  type AgentProcess,
} from '../../helpers/agent-process.js';
import { FakeFalcosidekick } from '../../helpers/fake-falcosidekick.js';
import { CORPUS } from '../../helpers/fixtures.js';
import { get, metricsPort, sample } from '../../helpers/metrics-scrape.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';

// `kernwatch run --sink falco+http://...` next to a file sink: every event the file sink got reaches
// falcosidekick as a Falco alert, and a falcosidekick that is away neither holds up the other sink nor
// makes the agent unready (it is best-effort; the loss is counted).

const skip = missingPrerequisite([needsBuiltCli]);
const LOG = join(CORPUS, 'kmsg/kernel618-seccomp-all-actions.kmsg');
const LOG_LINES = readFileSync(LOG, 'utf8')
  .split('\n')
  .filter((l) => l !== '').length;

/** The agent's events once it has read the whole log and its chain has delivered what it read. */
async function allEvents(agent: AgentProcess, out: string): Promise<KernwatchEvent[]> {
  const port = await waitFor('the metrics port', () => metricsPort(agent));
  await waitFor('the whole log to be read', async () => {
    const body = (await get(port, '/metrics')).body;
    return sample(body, 'kernwatch_lines_read_total{source="syslog"}') === LOG_LINES ? true : undefined;
  });
  // Past the hold time (30 ms) and the noise filter's idle close (2 s), nothing more comes.
  await new Promise((r) => setTimeout(r, 2500));
  return eventsInFile(out);
}

describe.skipIf(skip)('the agent with a falcosidekick sink', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-e2e-falco-'));
  const agents: AgentProcess[] = [];
  afterAll(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function run(name: string, falcoUrl: string): { agent: AgentProcess; out: string } {
    const out = join(dir, `${name}.ndjson`);
    const agent = startAgent([
      'run',
      '--source',
      `syslog:${LOG}`,
      '--from-start',
      '--sink',
      `file:${out}`,
      '--sink',
      falcoUrl,
      '--state-dir',
      join(dir, name),
      '--node',
      'node-a',
      '--metrics-addr',
      '127.0.0.1:0',
    ]);
    agents.push(agent);
    return { agent, out };
  }

  test('every event is posted as a Falco alert with its id and the priority of its outcome', async () => {
    const falco = await FakeFalcosidekick.start();
    try {
      const { agent, out } = run('up', `falco+http://127.0.0.1:${String(falco.port)}/`);
      await agentReady(agent);
      const events = await allEvents(agent, out);
      expect(events.length).toBeGreaterThan(0);
      await waitFor('an alert per event', () => (falco.alerts.length >= events.length ? true : undefined));
      expect(await agent.stop('SIGTERM')).toBe(0);
      const byId = new Map(
        falco.alerts.map((a) => [(a.output_fields as Record<string, unknown>)['kernwatch.id'], a]),
      );
      expect(byId.size).toBe(events.length);
      const priority = { killed: 'Critical', blocked: 'Warning', allowed: 'Notice', logged: 'Informational' };
      for (const e of eventsInFile(out)) {
        const alert = byId.get(e.id);
        expect(alert, e.id).toBeDefined();
        expect(alert?.priority).toBe(priority[e.outcome]);
        expect(alert?.hostname).toBe('node-a');
        expect(alert?.rule).toBe(`seccomp violation (${String(e.seccomp?.action)})`);
      }
    } finally {
      await falco.stop();
    }
  });

  test('with falcosidekick away, the file sink still gets every event and the agent stays ready', async () => {
    const falco = await FakeFalcosidekick.start();
    const port = falco.port;
    await falco.stop();
    const { agent, out } = run('down', `falco+http://127.0.0.1:${String(port)}/`);
    await agentReady(agent);
    const events = await allEvents(agent, out);
    expect(events.length).toBeGreaterThan(0);
    const metrics = await waitFor('the metrics port', () => metricsPort(agent));
    expect((await get(metrics, '/readyz')).status).toBe(200);
    const body = (await get(metrics, '/metrics')).body;
    expect(sample(body, 'kernwatch_falco_sent_total')).toBe(0);
    expect(sample(body, 'kernwatch_falco_queued')).toBe(events.length);
    expect(await agent.stop('SIGTERM')).toBe(0);
    expect(eventsInFile(out)).toHaveLength(events.length);
  });
});
