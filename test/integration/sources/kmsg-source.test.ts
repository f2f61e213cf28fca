import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../../agent/sources/checkpoint-store.js';
import { KMSG_EMPTY, KMSG_OVERRUN, KmsgDevice } from '../../../agent/sources/kmsg/kmsg-device.js';
import { isKmsgPosition, type KmsgPosition } from '../../../agent/sources/kmsg/kmsg-position.js';
import { kmsgSeq } from '../../../agent/sources/kmsg/kmsg-record.js';
import { KmsgSource } from '../../../agent/sources/kmsg/kmsg-source.js';
import type { BatchWriter, RawBatch } from '../../../agent/sources/raw-batch.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import { noAuditdRegistered } from '../../helpers/auditd.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';
import { buildViolator, runViolator } from '../../helpers/violator.js';
import { waitUntil } from '../../helpers/wait.js';

/**
 * The /dev/kmsg source against the real kernel: seccomp violations made by test/helpers/seccomp-violator.c
 * reach /dev/kmsg as `audit: type=1326` records when no audit daemon is registered.
 */

const why = missingPrerequisite([isRoot, hasCommand('gcc', 'gcc'), noAuditdRegistered]);

const BURST = '/proc/sys/kernel/printk_ratelimit_burst';
const INTERVAL = '/proc/sys/kernel/printk_ratelimit';
const BOOT_ID = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

/** The pipeline's side of the contract, keeping what it was handed; `accept` false refuses offers. */
class CollectingWriter implements BatchWriter<KmsgPosition> {
  readonly batches: RawBatch<KmsgPosition>[] = [];
  accept = true;

  offer(batch: RawBatch<KmsgPosition>): boolean {
    if (!this.accept) return false;
    this.batches.push(batch);
    return true;
  }

  put(batch: RawBatch<KmsgPosition>): Promise<void> {
    this.batches.push(batch);
    return Promise.resolve();
  }

  lines(): string[] {
    return this.batches.flatMap((b) => b.lines);
  }
}

const seccompOf = (pid: number) => (line: string) =>
  line.includes('type=1326') && line.includes(` pid=${pid} `);

/** Runs the violator in LOG mode `count` times and returns its pid. */
async function violate(count = 1): Promise<number> {
  const { exit, events } = await runViolator(await buildViolator(), ['log', String(count)]);
  const ready = events.find((e) => e.kind === 'ready');
  if (exit.code !== 0 || ready?.kind !== 'ready') throw new Error(`violator failed: ${JSON.stringify(exit)}`);
  return ready.pid;
}

/** Reads the ring with a reader of our own until a record matches: the kernel prints audit records late. */
async function waitForRingRecord(match: (line: string) => boolean): Promise<string> {
  const device = KmsgDevice.open('/dev/kmsg');
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = device.read();
      if (r === KMSG_EMPTY) {
        if (Date.now() > deadline) throw new Error('record never reached /dev/kmsg');
        await new Promise((res) => setTimeout(res, 20));
        continue;
      }
      if (r !== KMSG_OVERRUN && match(r)) return r;
    }
  } finally {
    device.close();
  }
}

describe.skipIf(why !== undefined)('kmsg source on the real /dev/kmsg', () => {
  let stateDir = '';
  let burstBefore = '';
  let intervalBefore = '';
  const running: KmsgSource[] = [];

  function source(pollIntervalMs = 10): KmsgSource {
    const s = new KmsgSource({ stateDir, log: silentLogger(), pollIntervalMs });
    running.push(s);
    return s;
  }

  beforeAll(async () => {
    burstBefore = readFileSync(BURST, 'utf8').trim();
    intervalBefore = readFileSync(INTERVAL, 'utf8').trim();
    // Without auditd the kernel prints audit records through printk_ratelimit() (10 per 5 s); these tests
    // need every record printed. Raising the burst is not enough: since 6.16 the kernel loads the burst
    // only when a new window opens, and the window an earlier test (or file) opened with burst 10 may
    // have a single record left. An interval of 0 switches the limit off at once, on every kernel.
    writeFileSync(INTERVAL, '0');
    await buildViolator();
  });

  afterAll(() => {
    writeFileSync(BURST, burstBefore);
    writeFileSync(INTERVAL, intervalBefore);
  });

  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'kernwatch-kmsg-'));
  });

  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('hands a seccomp violation in LOG mode on as a kmsg line with type=1326 and its position', async () => {
    const out = new CollectingWriter();
    const s = source();
    await s.start(out);
    const pid = await violate();
    await waitUntil('the seccomp record', () => out.lines().some(seccompOf(pid)));

    const batch = out.batches.find((b) => b.lines.some(seccompOf(pid)));
    const line = batch?.lines.find(seccompOf(pid)) ?? '';
    expect(line).toMatch(/^5,\d+,\d+,-;audit: type=1326 audit\(\d+\.\d{3}:\d+\): /);
    expect(line).toContain(' code=0x7ffc0000');
    expect(batch?.from).toEqual({ bootId: BOOT_ID, seq: kmsgSeq(batch?.lines[0] ?? '') - 1 });
    expect(batch?.to).toEqual({ bootId: BOOT_ID, seq: kmsgSeq(batch?.lines.at(-1) ?? '') });
    expect(s.counters.linesRead).toBe(out.lines().length);
    expect(s.counters.batches).toBe(out.batches.length);
    expect(s.counters.dropped).toBe(0);
  });

  it('skips the records already in the ring on a first start', async () => {
    const before = await violate();
    await waitForRingRecord(seccompOf(before));
    const out = new CollectingWriter();
    await source().start(out);
    const after = await violate();
    await waitUntil('the new seccomp record', () => out.lines().some(seccompOf(after)));
    expect(out.lines().filter(seccompOf(before))).toEqual([]);
  });

  it('resumes after its checkpoint: nothing delivered is replayed, a record made while stopped is read', async () => {
    const first = source();
    const out1 = new CollectingWriter();
    await first.start(out1);
    const delivered = await violate();
    await waitUntil('the first record', () => out1.lines().some(seccompOf(delivered)));
    const last = out1.batches.at(-1);
    if (last === undefined) throw new Error('no batch');
    await first.commit(last.to);
    await first.stop();

    const whileStopped = await violate();
    await waitForRingRecord(seccompOf(whileStopped));

    const out2 = new CollectingWriter();
    await source().start(out2);
    const afterRestart = await violate();
    await waitUntil('the record after the restart', () => out2.lines().some(seccompOf(afterRestart)));
    expect(out2.lines().filter(seccompOf(delivered))).toEqual([]);
    expect(out2.lines().filter(seccompOf(whileStopped))).toHaveLength(1);
    expect(kmsgSeq(out2.lines()[0] ?? '')).toBe(last.to.seq + 1);
  });

  it('reads the whole ring when its checkpoint is from another boot', async () => {
    const before = await violate();
    const beforeLine = await waitForRingRecord(seccompOf(before));
    await new CheckpointStore(stateDir, 'kmsg', isKmsgPosition).save({
      bootId: 'another-boot',
      seq: 1 << 30,
    });

    const device = KmsgDevice.open('/dev/kmsg');
    const oldest = device.read();
    device.close();
    if (typeof oldest !== 'string') throw new Error('the ring is empty');

    const out = new CollectingWriter();
    const s = source();
    await s.start(out);
    await waitUntil('the record from before the start', () => out.lines().some(seccompOf(before)));
    // The oldest record it got is the ring's oldest, unless something flooded the ring meanwhile.
    expect(kmsgSeq(out.lines()[0] ?? '')).toBeGreaterThanOrEqual(kmsgSeq(oldest));
    expect(kmsgSeq(out.lines()[0] ?? '')).toBeLessThanOrEqual(kmsgSeq(beforeLine));
    expect(out.lines().filter(seccompOf(before))).toEqual([beforeLine]);
    expect(s.counters.transportLoss).toBe(0);
  });

  it('counts the lines of refused batches as dropped and moves on', async () => {
    const out = new CollectingWriter();
    out.accept = false;
    const s = source();
    await s.start(out);
    const pid = await violate();
    await waitForRingRecord(seccompOf(pid));
    await waitUntil('the refused record to be counted', () => s.counters.dropped > 0);
    expect(s.counters.dropped).toBe(s.counters.linesRead);
    expect(s.counters.batches).toBe(0);
    expect(out.batches).toEqual([]);
  });

  it('counts the records the ring overwrote before they were read as transport loss', async () => {
    const out = new CollectingWriter();
    // A reader that looks only every 3 s: the ring (~600 audit records) overflows under 3000 at once.
    const s = source(3000);
    await s.start(out);
    const pid = await violate(3000);
    const read = (): number => out.lines().filter(seccompOf(pid)).length;
    await waitUntil(
      'every record read or counted lost',
      () => read() + s.counters.transportLoss >= 3000,
    ).catch((err: unknown) => {
      throw new Error(
        `${String(err)}: read ${String(read())}, transport ${String(s.counters.transportLoss)}, kernel ${String(s.counters.kernelLoss)}`,
      );
    });
    expect(s.counters.transportLoss).toBeGreaterThan(0);
    expect(read() + s.counters.transportLoss).toBe(3000);
    expect(s.counters.kernelLoss).toBe(0);
  });

  it('counts the records the printk rate limit suppressed as kernel-side loss', async () => {
    writeFileSync(BURST, '10');
    writeFileSync(INTERVAL, '5');
    const intervalMs = 5000;
    // The first call after the limit is switched back on only opens a window (with a burst of 10; it may
    // also find an older window still open); the first call after that window ends opens a fresh one and
    // prints the report of any suppression from before (another file's), all before the reader starts.
    // The reader's window then has 9 records left.
    await violate();
    await new Promise((r) => setTimeout(r, intervalMs + 200));
    const flush = await violate();
    await waitForRingRecord(seccompOf(flush));

    const out = new CollectingWriter();
    const s = source();
    await s.start(out);
    const burst = await violate(30);
    await new Promise((r) => setTimeout(r, intervalMs + 200));
    // The first record after the pause makes the kernel print how many calls it suppressed.
    const after = await violate();
    await waitUntil('the record after the pause', () => out.lines().some(seccompOf(after)));

    const suppressed = out
      .lines()
      .map((l) => /;kauditd_printk_skb: (\d+) callbacks suppressed$/.exec(l)?.[1])
      .filter((n) => n !== undefined)
      .map(Number);
    const printed = out.lines().filter(seccompOf(burst)).length;
    expect(suppressed.length).toBeGreaterThan(0);
    expect(printed + suppressed.reduce((a, b) => a + b, 0)).toBe(30);
    expect(s.counters.kernelLoss).toBe(30 - printed);
  });
});
