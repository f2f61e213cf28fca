import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LOCATE_RESULT, RecordHead } from '../../../agent/parse/envelope.js';
import { locateJournalJson } from '../../../agent/parse/journal-json.js';
import { RECORD_TYPE } from '../../../agent/parse/record-types.js';
import { cursorOf } from '../../../agent/sources/journald/journal-cursor.js';
import type { JournalPosition } from '../../../agent/sources/journald/journal-position.js';
import { JournaldSource } from '../../../agent/sources/journald/journald-source.js';
import { RestartBackoff } from '../../../agent/sources/journald/restart-backoff.js';
import type { BatchWriter, RawBatch } from '../../../agent/sources/raw-batch.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import { noAuditdRegistered } from '../../helpers/auditd.js';
import { hasJournald, startPrivateJournald, type PrivateJournald } from '../../helpers/journald.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';
import { buildViolator, runViolator } from '../../helpers/violator.js';
import { disablePrintkRateLimit } from '../../helpers/printk-ratelimit.js';
import { waitUntil } from '../../helpers/wait.js';

/**
 * The journald source against a real systemd-journald (test/helpers/journald.ts) that ingests the real
 * kernel's /dev/kmsg and audit multicast; the violations come from test/helpers/seccomp-violator.c.
 */

const execFileAsync = promisify(execFile);
const why = missingPrerequisite([
  isRoot,
  hasCommand('gcc', 'gcc'),
  hasCommand('journalctl', 'systemd'),
  hasCommand('unshare', 'util-linux'),
  hasJournald,
  noAuditdRegistered,
]);

/** The pipeline's side of the contract; while `hold` is set, put() waits until release() is called. */
class CollectingWriter implements BatchWriter<JournalPosition> {
  readonly batches: RawBatch<JournalPosition>[] = [];
  hold = false;
  private waiting: (() => void)[] = [];

  offer(batch: RawBatch<JournalPosition>): boolean {
    this.batches.push(batch);
    return true;
  }

  async put(batch: RawBatch<JournalPosition>): Promise<void> {
    this.batches.push(batch);
    if (this.hold) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    this.hold = false;
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  lines(): string[] {
    return this.batches.flatMap((b) => b.lines);
  }
}

const auditEntryOf = (pid: number) => (line: string) =>
  line.includes('"_TRANSPORT":"audit"') &&
  line.includes('"_AUDIT_TYPE":"1326"') &&
  line.includes(`"_PID":"${pid}"`);
const kernelEntryOf = (pid: number) => (line: string) =>
  line.includes('"_TRANSPORT":"kernel"') && line.includes('type=1326') && line.includes(` pid=${pid} `);

async function violate(count = 1): Promise<number> {
  const { exit, events } = await runViolator(await buildViolator(), ['log', String(count)]);
  const ready = events.find((e) => e.kind === 'ready');
  if (exit.code !== 0 || ready?.kind !== 'ready') throw new Error(`violator failed: ${JSON.stringify(exit)}`);
  return ready.pid;
}

describe.skipIf(why !== undefined)('journald source on a real systemd-journald', () => {
  let dir = '';
  let stateDir = '';
  let journald: PrivateJournald | undefined;
  let restorePrintk: (() => void) | undefined;
  const running: JournaldSource[] = [];

  function source(options: { maxBatchLines?: number; dropTransportCopies?: boolean } = {}): JournaldSource {
    const s = new JournaldSource({
      stateDir,
      log: silentLogger(),
      directory: journald?.journalDir ?? '',
      backoff: new RestartBackoff(50, 500),
      dropTransportCopies: false,
      ...options,
    });
    running.push(s);
    return s;
  }

  /** Entries of the journal itself, read with journalctl: to wait until journald stored something. */
  async function journalHas(match: (line: string) => boolean, transport = 'audit'): Promise<boolean> {
    const { stdout } = await execFileAsync(
      'journalctl',
      [
        `--directory=${journald?.journalDir ?? ''}`,
        '-o',
        'json',
        '-q',
        '--no-pager',
        `_TRANSPORT=${transport}`,
      ],
      { maxBuffer: 256 << 20 },
    );
    return stdout.split('\n').some(match);
  }

  async function storedAuditEntries(pid: number): Promise<number> {
    const { stdout } = await execFileAsync(
      'journalctl',
      [
        `--directory=${journald?.journalDir ?? ''}`,
        '-o',
        'cat',
        '-q',
        '--no-pager',
        `_PID=${pid}`,
        '_TRANSPORT=audit',
      ],
      { maxBuffer: 64 << 20 },
    );
    return stdout.split('\n').filter((l) => l.startsWith('SECCOMP ')).length;
  }

  beforeAll(async () => {
    restorePrintk = disablePrintkRateLimit();
    dir = mkdtempSync(join(tmpdir(), 'kernwatch-journald-'));
    journald = await startPrivateJournald(dir);
    await buildViolator();
  });

  afterAll(async () => {
    for (const s of running.splice(0)) await s.stop();
    await journald?.stop();
    restorePrintk?.();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'kernwatch-journald-state-'));
  });

  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('hands a seccomp violation on as journal JSON lines of the audit and kernel transports', async () => {
    const out = new CollectingWriter();
    const s = source();
    await s.start(out);
    const pid = await violate();
    await waitUntil(
      'both entries',
      () => out.lines().some(auditEntryOf(pid)) && out.lines().some(kernelEntryOf(pid)),
    );

    const head = new RecordHead();
    const wantAll = (): boolean => true;
    const now = (): Date => new Date();
    for (const line of [
      out.lines().find(auditEntryOf(pid)) ?? '',
      out.lines().find(kernelEntryOf(pid)) ?? '',
    ]) {
      expect(locateJournalJson(line, head, wantAll, now)).toBe(LOCATE_RESULT.record);
      expect(head.type).toBe(RECORD_TYPE.SECCOMP);
    }
    for (const batch of out.batches) {
      expect(batch.from).toEqual({ cursor: cursorOf(batch.lines[0] ?? ''), inclusive: true });
      expect(batch.to).toEqual({ cursor: cursorOf(batch.lines.at(-1) ?? ''), inclusive: false });
    }
    expect(
      out.lines().every((l) => l.includes('"_TRANSPORT":"audit"') || l.includes('"_TRANSPORT":"kernel"')),
    ).toBe(true);
    expect(s.counters.linesRead).toBe(out.lines().length);
  });

  it('as the agent runs it, hands each record on once although journald holds it from both transports', async () => {
    const out = new CollectingWriter();
    const s = source({ dropTransportCopies: true });
    await s.start(out);
    const pid = await violate(3);
    const ours = (line: string): boolean => auditEntryOf(pid)(line) || kernelEntryOf(pid)(line);
    await waitUntil('the three records', () => out.lines().filter(ours).length >= 3);
    // Both copies of every record are in the journal by now; the second transport's copies were dropped.
    await waitUntil(
      'journald to store the audit transport',
      async () => (await storedAuditEntries(pid)) === 3,
    );
    await waitUntil('journald to store the kernel transport', () => journalHas(kernelEntryOf(pid), 'kernel'));
    await new Promise((r) => setTimeout(r, 300));
    expect(out.lines().filter(ours)).toHaveLength(3);
  });

  it('starts at the end of the journal when it has no checkpoint', async () => {
    const before = await violate();
    await waitUntil('journald to store the earlier entry', () => journalHas(auditEntryOf(before)));
    const out = new CollectingWriter();
    await source().start(out);
    const after = await violate();
    await waitUntil('the new entry', () => out.lines().some(auditEntryOf(after)));
    expect(out.lines().filter(auditEntryOf(before))).toEqual([]);
  });

  it('resumes after its checkpoint: nothing delivered is replayed, an entry made while stopped is read once', async () => {
    const first = source();
    const out1 = new CollectingWriter();
    await first.start(out1);
    const delivered = await violate();
    await waitUntil('the first entry', () => out1.lines().some(auditEntryOf(delivered)));
    const last = out1.batches.at(-1);
    if (last === undefined) throw new Error('no batch');
    await first.commit(last.to);
    await first.stop();

    const whileStopped = await violate();
    await waitUntil('journald to store the entry', () => journalHas(auditEntryOf(whileStopped)));

    const out2 = new CollectingWriter();
    await source().start(out2);
    const afterRestart = await violate();
    await waitUntil('the entry after the restart', () => out2.lines().some(auditEntryOf(afterRestart)));
    expect(out2.lines().filter(auditEntryOf(delivered))).toEqual([]);
    expect(out2.lines().filter(auditEntryOf(whileStopped))).toHaveLength(1);
  });

  it('restarts a journalctl that died and continues after the last entry it read, without duplicates', async () => {
    const out = new CollectingWriter();
    const s = source();
    await s.start(out);
    const before = await violate();
    await waitUntil('the first entry', () => out.lines().some(auditEntryOf(before)));
    const firstChild = s.childPid;
    if (firstChild === undefined) throw new Error('no journalctl child');
    process.kill(firstChild, 'SIGKILL');
    await waitUntil('a new journalctl', () => s.childPid !== undefined && s.childPid !== firstChild);

    const after = await violate();
    await waitUntil('the entry after the restart', () => out.lines().some(auditEntryOf(after)));
    expect(s.counters.reopens).toBe(1);
    const cursors = out.lines().map(cursorOf);
    expect(new Set(cursors).size).toBe(cursors.length);
    expect(out.lines().filter(auditEntryOf(before))).toHaveLength(1);
  });

  it('stops reading while a batch waits in put, then delivers every entry once in order', async () => {
    const out = new CollectingWriter();
    out.hold = true;
    const s = source({ maxBatchLines: 10 });
    await s.start(out);
    // Rounds small enough that journald's audit socket never overflows, each stored before the next.
    const pids: number[] = [];
    for (let round = 0; round < 20; round++) {
      const pid = await violate(25);
      pids.push(pid);
      await waitUntil('journald to store the round', async () => (await storedAuditEntries(pid)) === 25);
    }
    // 500 audit and 500 kernel entries are in the journal; without the pause they would all sit in memory.
    // With it, what one pipe read brought (64 KiB: at most ~130 entries of >= 500 bytes) waits behind
    // the one batch in put. journalctl may still be catching up: wait for that first batch, then give a
    // reader without backpressure time to hand on more.
    await waitUntil('the first batch to reach put', () => out.batches.length > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(out.batches).toHaveLength(1);
    expect(s.bufferedLines).toBeLessThan(250);

    out.release();
    const ours = (line: string): boolean => pids.some((pid) => auditEntryOf(pid)(line));
    await waitUntil('every entry', () => out.lines().filter(ours).length === 500);
    const cursors = out.lines().map(cursorOf);
    expect(new Set(cursors).size).toBe(cursors.length);
    const serials = out
      .lines()
      .filter(ours)
      .map((l) => Number(/"_AUDIT_ID":"(\d+)"/.exec(l)?.[1]));
    expect(serials).toEqual([...serials].sort((a, b) => a - b));
  });

  it('kills its journalctl by pid on stop', async () => {
    const s = source();
    await s.start(new CollectingWriter());
    const pid = s.childPid;
    if (pid === undefined) throw new Error('no journalctl child');
    await s.stop();
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }) as Error);
    expect(s.childPid).toBeUndefined();
  });
});
