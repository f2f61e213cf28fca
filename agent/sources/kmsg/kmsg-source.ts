import { readFile } from 'node:fs/promises';
import { EVENT_SOURCE } from '../../events.js';
import { ERROR_CODES, KernwatchError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import { CheckpointStore } from '../checkpoint-store.js';
import { newSourceCounters, type BatchWriter, type LiveSource, type SourceCounters } from '../raw-batch.js';
import { KernelLossCounter } from './kernel-loss.js';
import { KMSG_EMPTY, KMSG_OVERRUN, KmsgDevice } from './kmsg-device.js';
import { isKmsgPosition, KMSG_START, planKmsgStart, type KmsgPosition } from './kmsg-position.js';
import { kmsgSeq } from './kmsg-record.js';
import { KMSG_REPLAYED, KmsgSequence } from './kmsg-sequence.js';
import { RateLimitedWarning } from '../../telemetry/rate-limited-warning.js';

export interface KmsgSourceOptions {
  /** Default /dev/kmsg. */
  path?: string;
  /** Default /proc/sys/kernel/random/boot_id: SEQ numbers restart with every boot. */
  bootIdPath?: string;
  stateDir: string;
  /** Bind the source's name on it (`log.child({ source })`): the source logs facts, not its name. */
  log: Logger;
  /** Records per batch and per read burst before yielding to the event loop. Default 512. */
  maxBatchLines?: number;
  /** How often an empty device is polled again. Default 25 ms. */
  pollIntervalMs?: number;
}

const DEFAULT_MAX_BATCH_LINES = 512;
const DEFAULT_POLL_INTERVAL_MS = 25;

/**
 * Reads the kernel log live from /dev/kmsg. Batch lines are the records' first lines as the kernel writes
 * them (`PRI,SEQ,USEC,FLAGS;message`), the form the parser reads; positions are (boot id, SEQ).
 *
 * The ring cannot wait for a slow consumer, so batches are offered, never awaited: a refused batch is
 * counted in `dropped` and the reader moves on, which keeps it ahead of the kernel overwriting the ring.
 */
export class KmsgSource implements LiveSource<KmsgPosition> {
  readonly name = 'kmsg';
  readonly kind = EVENT_SOURCE.kmsg;
  readonly counters: SourceCounters = newSourceCounters();

  private readonly path: string;
  private readonly bootIdPath: string;
  private readonly log: Logger;
  private readonly maxBatchLines: number;
  private readonly pollIntervalMs: number;
  private readonly store: CheckpointStore<KmsgPosition>;
  private readonly loss = new KernelLossCounter();
  private readonly dropWarning: RateLimitedWarning;
  private readonly gapWarning: RateLimitedWarning;
  private readonly readFailure: RateLimitedWarning;
  private readonly kernelLossWarning: RateLimitedWarning;

  private device: KmsgDevice | undefined;
  private out: BatchWriter<KmsgPosition> | undefined;
  private bootId = '';
  private sequence = new KmsgSequence(-1, undefined);
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private stopped = false;

  constructor(options: KmsgSourceOptions) {
    this.path = options.path ?? '/dev/kmsg';
    this.bootIdPath = options.bootIdPath ?? '/proc/sys/kernel/random/boot_id';
    this.log = options.log;
    this.maxBatchLines = options.maxBatchLines ?? DEFAULT_MAX_BATCH_LINES;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.store = new CheckpointStore(options.stateDir, this.name, isKmsgPosition);
    this.dropWarning = new RateLimitedWarning(
      this.log,
      'Kernel log records dropped: the pipeline queue was full and /dev/kmsg cannot wait.',
    );
    this.gapWarning = new RateLimitedWarning(
      this.log,
      'Kernel log records lost: the ring buffer overwrote them before they were read.',
    );
    this.kernelLossWarning = new RateLimitedWarning(
      this.log,
      'The kernel dropped audit records before they reached the log (printk rate limit or audit backlog); ' +
        'run auditd or raise kernel.printk_ratelimit_burst to see every violation.',
      { level: 'error' },
    );
    this.readFailure = new RateLimitedWarning(
      this.log,
      'Reading the kernel log failed; retrying on the next poll.',
      { level: 'error' },
    );
  }

  async start(out: BatchWriter<KmsgPosition>): Promise<void> {
    if (this.out !== undefined) throw new KernwatchError(ERROR_CODES.source, 'KmsgSource started twice');
    this.out = out;
    this.bootId = await readBootId(this.bootIdPath);
    const checkpoint = await this.store.load();
    const plan = planKmsgStart(checkpoint, this.bootId);
    this.device = KmsgDevice.open(this.path);
    switch (plan.start) {
      case KMSG_START.fresh: {
        const { skipped, lastSeq } = this.skipReplayedRing();
        this.sequence = new KmsgSequence(lastSeq ?? -1, lastSeq);
        this.log.info(
          { path: this.path, bootId: this.bootId, skipped, lastSeq },
          'No kmsg checkpoint: starting after the records already in the kernel ring.',
        );
        break;
      }
      case KMSG_START.checkpoint:
        this.sequence = new KmsgSequence(plan.skipThroughSeq ?? -1, plan.skipThroughSeq);
        this.log.info(
          { path: this.path, bootId: this.bootId, seq: plan.skipThroughSeq },
          'Resuming the kernel log after the checkpointed record of this boot.',
        );
        break;
      case KMSG_START.newBoot:
        this.sequence = new KmsgSequence(-1, undefined);
        this.log.info(
          { path: this.path, bootId: this.bootId, checkpointBootId: checkpoint?.bootId },
          'The kmsg checkpoint is from another boot: reading the whole kernel ring, all of it is new.',
        );
        break;
    }
    this.immediate = setImmediate(this.tick);
  }

  commit(position: KmsgPosition): Promise<void> {
    return this.store.save(position);
  }

  /** Stops reading at once (reads are synchronous, so no batch is half made) and waits for pending commits. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.device?.close();
    this.device = undefined;
    await this.store.settled();
  }

  /**
   * Reads what opening replayed, up to the first EAGAIN, without handing it on. A record the kernel adds
   * during this drain is skipped too: Node cannot lseek(SEEK_END), and the drain takes microseconds.
   */
  private skipReplayedRing(): { skipped: number; lastSeq: number | undefined } {
    let skipped = 0;
    let lastSeq: number | undefined;
    for (;;) {
      const r = this.readDevice();
      if (r === KMSG_EMPTY) break;
      if (r === KMSG_OVERRUN) continue;
      const seq = kmsgSeq(r);
      if (seq < 0) continue;
      this.loss.observeBaseline(r);
      lastSeq = seq;
      skipped++;
    }
    return { skipped, lastSeq };
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    if (this.stopped || this.out === undefined) return;
    let more: boolean;
    try {
      more = this.readBurst(this.out);
    } catch (err) {
      this.readFailure.add(1, { err, path: this.path });
      more = false;
    }
    if (this.stopped) return;
    // A full burst means the ring may hold more: continue after other callbacks had their turn.
    if (more) this.immediate = setImmediate(this.tick);
    else this.timer = setTimeout(this.tick, this.pollIntervalMs);
  };

  /** Reads up to maxBatchLines records into one batch; true when the limit, not EAGAIN, ended it. */
  private readBurst(out: BatchWriter<KmsgPosition>): boolean {
    const lines: string[] = [];
    let firstSeq = -1;
    let reads = 0;
    let more = false;
    for (;;) {
      if (reads >= this.maxBatchLines) {
        more = true;
        break;
      }
      reads++;
      const r = this.readDevice();
      if (r === KMSG_EMPTY) break;
      if (r === KMSG_OVERRUN) continue; // the next record's SEQ gap counts what was lost
      const seq = kmsgSeq(r);
      if (seq < 0) continue;
      const lost = this.sequence.next(seq);
      if (lost === KMSG_REPLAYED) {
        this.loss.observeBaseline(r);
        continue;
      }
      if (lost > 0) {
        this.counters.transportLoss += lost;
        this.gapWarning.add(lost, { fromSeq: seq - lost, toSeq: seq - 1 });
      }
      const kernelLost = this.loss.lostIn(r);
      if (kernelLost > 0) {
        this.counters.kernelLoss += kernelLost;
        this.kernelLossWarning.add(kernelLost);
      }
      if (firstSeq < 0) firstSeq = seq;
      lines.push(r);
    }
    if (lines.length > 0) this.hand(out, lines, firstSeq, this.sequence.last ?? firstSeq);
    return more;
  }

  private hand(out: BatchWriter<KmsgPosition>, lines: string[], firstSeq: number, lastSeq: number): void {
    this.counters.linesRead += lines.length;
    const batch = {
      lines,
      from: { bootId: this.bootId, seq: firstSeq - 1 },
      to: { bootId: this.bootId, seq: lastSeq },
    };
    if (out.offer(batch)) {
      this.counters.batches++;
      return;
    }
    this.counters.dropped += lines.length;
    this.dropWarning.add(lines.length, { lastSeq: batch.to.seq });
  }

  private readDevice(): ReturnType<KmsgDevice['read']> {
    if (this.device === undefined) return KMSG_EMPTY;
    return this.device.read();
  }
}

async function readBootId(path: string): Promise<string> {
  try {
    const id = (await readFile(path, 'utf8')).trim();
    if (id.length === 0) throw new Error('empty');
    return id;
  } catch (err) {
    throw new KernwatchError(ERROR_CODES.source, `Cannot read the boot id from ${path}`, { cause: err });
  }
}
