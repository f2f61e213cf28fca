import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  agentReady,
  eventsInFile,
  needsBuiltCli,
  startAgent,
  waitFor,
  type AgentProcess,
} from '../../helpers/agent-process.js';
import { fuzzLines } from '../../helpers/fuzz-lines.js';
import { denialSchemaErrors } from '../../helpers/json-schema.js';
import { get, metricsPort, sample } from '../../helpers/metrics-scrape.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';

// Issue 7 (reliability suite, fuzz) through the agent itself: the fuzz lines of test/unit/parse/fuzz.test.ts
// written to an audit.log that `kernwatch run` reads from its start, with attribution, noise control and
// the file sink as shipped. The agent must not crash, must count every line it read, and every event it
// delivers must be valid against docs/schema/kernwatch.v1.schema.json. The parser itself takes 1,100,000
// such lines in test/unit/parse/fuzz.test.ts; here a quarter of a million keeps CI's time (the mix is
// mostly denials and long lines, each event attributed and written: about 15 s).

const skip = missingPrerequisite([needsBuiltCli]);
const SEED = (Number(process.env.KERNWATCH_FUZZ_SEED ?? 20261128) ^ 0xa6e7) >>> 0;
const LINES = 250_000;

/** The sum of every sample of a metric family (all label sets). */
function total(body: string, family: string): number {
  return body
    .split('\n')
    .filter((l) => l.startsWith(`${family}{`) || l.startsWith(`${family} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function writeLines(path: string): Promise<void> {
  const out = createWriteStream(path);
  for (const line of fuzzLines(SEED, LINES)) {
    // An empty line is no record; a file of them would read as fewer lines than written.
    if (!out.write(`${line === '' ? 'x' : line}\n`))
      await new Promise<void>((resolve) =>
        out.once('drain', () => {
          resolve();
        }),
      );
  }
  await new Promise<void>((resolve, reject) => {
    out.end((err?: Error | null) => {
      if (err) reject(err);
      else resolve();
    });
  });
}

describe.skipIf(skip)(`fuzz: ${String(LINES)} mutated and random lines through kernwatch run`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-agent-fuzz-'));
  let agent: AgentProcess | undefined;

  afterAll(async () => {
    await agent?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`seed ${String(SEED)}: no crash, every line counted, every event valid`, async () => {
    const log = join(dir, 'audit.log');
    const out = join(dir, 'events.ndjson');
    await writeLines(log);
    agent = startAgent([
      'run',
      '--source',
      `auditd:${log}`,
      '--from-start',
      '--sink',
      `file:${out}`,
      '--state-dir',
      join(dir, 'state'),
      '--metrics-addr',
      '127.0.0.1:0',
      '--node',
      'fuzz-node',
    ]);
    const running = agent;
    await agentReady(running);
    const port = await waitFor('the metrics port', () => metricsPort(running));
    const series = `kernwatch_lines_read_total{source="auditd"}`;
    await waitFor(
      'every line read',
      async () => {
        if (running.child.exitCode !== null)
          throw new Error(`the agent exited: ${running.stderr().slice(-2000)}`);
        return sample((await get(port, '/metrics')).body, series) === LINES ? true : undefined;
      },
      120_000,
    );
    // Held events and coalescing windows close within seconds of the last line: wait until what the
    // agent says it delivered is what the file holds, twice in a row.
    let previous = -1;
    const delivered = await waitFor(
      'the events to settle',
      async () => {
        const body = (await get(port, '/metrics')).body;
        const counted = total(body, 'kernwatch_events_total');
        const written = eventsInFile(out).length;
        const settled = counted === written && counted === previous;
        previous = counted;
        return settled ? { body, counted } : undefined;
      },
      60_000,
      2_500,
    );
    expect(delivered.counted).toBeGreaterThan(LINES / 20);
    expect(total(delivered.body, 'kernwatch_malformed_lines_total')).toBeGreaterThan(0);
    expect((await get(port, '/healthz')).status).toBe(200);
    expect(await running.stop('SIGTERM')).toBe(0);

    const events = eventsInFile(out);
    expect(events.length).toBeGreaterThanOrEqual(delivered.counted);
    const bad = events
      .map((e) => ({ id: e.id, errors: denialSchemaErrors(JSON.parse(JSON.stringify(e)) as unknown) }))
      .filter((r) => r.errors.length > 0);
    expect(bad.slice(0, 3)).toEqual([]);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  }, 240_000);
});
