import {
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  closeSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
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
import { startAuditLogWriter, writerRecordOf } from '../../helpers/audit-log-writer.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';

// The agent end to end over a file source: auditd rotating its log by rename while ~5,000 records/s are
// written, and the agent SIGKILLed mid-stream and restarted. Every record must come out, and the only
// records that may come out twice are those at or after the checkpoint the killed agent had saved.

const TOTAL = 15_000;
const RATE = 5_000;
const ROTATE_AT = [4_000, 9_000, 12_500];
const KILL_AT = 6_500;

const skip = missingPrerequisite([needsBuiltCli]);

describe.skipIf(skip)('the agent over a rotating audit.log, killed and restarted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-agent-restart-'));
  const agents: AgentProcess[] = [];
  afterAll(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('every record is delivered, and only records after the saved checkpoint twice', async () => {
    const log = join(dir, 'audit.log');
    const out = join(dir, 'events.ndjson');
    const state = join(dir, 'state');
    // Noise control off: the writer's denials are identical but for their serial, and this test counts
    // every record (coalescing has its own tests).
    const config = join(dir, 'no-noise-control.yaml');
    writeFileSync(config, 'noise: { coalesceWindow: 0, perContainerPerSecond: 0 }\n');
    const args = [
      'run',
      '--config',
      config,
      '--source',
      `auditd:${log}`,
      '--sink',
      `file:${out}`,
      '--state-dir',
      state,
      '--node',
      'n1',
      '--log-level',
      'info',
    ];
    const first = startAgent(args);
    agents.push(first);
    await agentReady(first);

    const writer = startAuditLogWriter(log, TOTAL, RATE, ROTATE_AT);
    await writer.waitFor(KILL_AT, 30_000);
    expect(await first.stop('SIGKILL')).toBe('SIGKILL');
    const checkpointFile = join(state, 'checkpoints', `auditd_${log.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
    const checkpoint = JSON.parse(readFileSync(checkpointFile, 'utf8')) as {
      path: string;
      inode: string;
      offset: number;
    };
    const deliveredBeforeKill = serialsOf(out);
    expect(deliveredBeforeKill.length).toBeGreaterThan(0);
    expect(deliveredBeforeKill.length).toBeLessThan(TOTAL);

    await new Promise((r) => setTimeout(r, 500));
    const second = startAgent(args);
    agents.push(second);
    await agentReady(second);
    await writer.done;
    await waitFor(
      'every record to be delivered',
      () => (new Set(serialsOf(out)).size >= TOTAL ? true : undefined),
      60_000,
    );
    expect(await second.stop('SIGTERM')).toBe(0);

    const serials = serialsOf(out);
    expect(new Set(serials).size).toBe(TOTAL);
    expect(Math.min(...serials)).toBe(0);
    expect(Math.max(...serials)).toBe(TOTAL - 1);
    // Duplicates: exactly the records from the checkpoint on that the killed agent had already delivered.
    const counts = new Map<number, number>();
    for (const s of serials) counts.set(s, (counts.get(s) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    const resumeSerial = serialAtCheckpoint(dir, checkpoint);
    const expectedTwice = deliveredBeforeKill.filter((s) => s >= resumeSerial);
    expect(twice.sort((a, b) => a - b)).toEqual(expectedTwice.sort((a, b) => a - b));
    expect(second.stderr()).not.toContain('"level":50');
  });
});

function serialsOf(path: string): number[] {
  return eventsInFile(path).map((e) => writerRecordOf(e.auditId));
}

/**
 * The serial of the first record at or after the checkpoint: in the generation that holds the checkpointed
 * inode, or, when the checkpoint is at that file's end, at the start of the next newer generation.
 */
function serialAtCheckpoint(dir: string, cp: { inode: string; offset: number }): number {
  const generations = ['audit.log.3', 'audit.log.2', 'audit.log.1', 'audit.log'].map((n) => join(dir, n));
  let from: number | undefined;
  for (const path of generations) {
    let inode: string;
    try {
      inode = statSync(path, { bigint: true }).ino.toString();
    } catch {
      continue;
    }
    if (from === undefined) {
      if (inode !== cp.inode) continue;
      from = cp.offset;
    }
    const fd = openSync(path, 'r');
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, from);
    closeSync(fd);
    const m = /msg=audit\(\d+\.120:(\d+)\)/.exec(buf.toString('latin1', 0, n));
    if (m?.[1] !== undefined) return Number(m[1]) - 100_000;
    from = 0;
  }
  if (from === undefined) throw new Error(`no generation holds inode ${cp.inode}`);
  return Number.POSITIVE_INFINITY;
}
