import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
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
import { missingPrerequisite } from '../../helpers/prerequisites.js';

// The agent end to end over a file source: auditd rotating its log by rename while ~5,000 records/s are
// written, and the agent SIGKILLed mid-stream and restarted. Every record must come out, and the only
// records that may come out twice are those at or after the checkpoint the killed agent had saved.

const TOTAL = 15_000;
const RATE = 5_000;
const ROTATE_AT = [4_000, 9_000, 12_500];
const KILL_AT = 6_500;

// A real auditd SECCOMP record (corpus: kernel618-auditd309), numbered through its serial, and one
// unrelated record between denials as in a real log.
const WRITER = `
import { closeSync, existsSync, openSync, renameSync, writeSync } from 'node:fs';
const [path, total, rate, rotateAt] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), JSON.parse(process.argv[4])];
const rec = (n) => 'type=SECCOMP msg=audit(1795865933.120:' + (100000 + n) + '): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=8639 comm="w" exe="/usr/local/bin/seccomp-demo" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7fbf4fb4d829 code=0x7ffc0000\\n' +
  'type=USER_END msg=audit(1795865933.121:' + (900000 + n) + '): pid=1 uid=0 auid=0 ses=1 msg=\\'op=PAM:session_close acct="root" exe="/usr/sbin/cron" hostname=? addr=? terminal=cron res=success\\'\\n';
let fd = openSync(path, 'a');
const t0 = Date.now();
let n = 0;
function rotate() {
  closeSync(fd);
  if (existsSync(path + '.2')) renameSync(path + '.2', path + '.3');
  if (existsSync(path + '.1')) renameSync(path + '.1', path + '.2');
  renameSync(path, path + '.1');
  fd = openSync(path, 'a');
}
function tick() {
  const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * rate));
  let chunk = '';
  while (n < due) {
    if (rotateAt.includes(n)) { if (chunk) { writeSync(fd, chunk); chunk = ''; } rotate(); }
    chunk += rec(n++);
  }
  if (chunk) writeSync(fd, chunk);
  process.stdout.write(n + '\\n');
  if (n >= total) { closeSync(fd); process.exit(0); }
  setTimeout(tick, 5);
}
tick();
`;

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
    const args = [
      'run',
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

    const writer = spawn(
      process.execPath,
      ['--input-type=module', '-e', WRITER, log, String(TOTAL), String(RATE), JSON.stringify(ROTATE_AT)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let written = 0;
    writer.stdout.setEncoding('utf8').on('data', (d: string) => {
      const last = d.trim().split('\n').pop();
      if (last !== undefined) written = Number(last);
    });
    const writerDone = new Promise<void>((resolve) =>
      writer.on('close', () => {
        resolve();
      }),
    );

    await waitFor('the writer to pass the kill point', () => (written >= KILL_AT ? true : undefined), 30_000);
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
    await writerDone;
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
  return eventsInFile(path).map((e) => Number(e.auditId?.split(':')[1]) - 100_000);
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
    const m = /msg=audit\(1795865933\.120:(\d+)\)/.exec(buf.toString('latin1', 0, n));
    if (m?.[1] !== undefined) return Number(m[1]) - 100_000;
    from = 0;
  }
  if (from === undefined) throw new Error(`no generation holds inode ${cp.inode}`);
  return Number.POSITIVE_INFINITY;
}
