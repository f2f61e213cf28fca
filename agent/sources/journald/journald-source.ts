import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { EVENT_SOURCE } from '../../events.js';
import { ERROR_CODES, KernwatchError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import { CheckpointStore } from '../checkpoint-store.js';
import { LineSplitter } from '../line-splitter.js';
import { newSourceCounters, type BatchWriter, type LiveSource, type SourceCounters } from '../raw-batch.js';
import { cursorOf } from './journal-cursor.js';
import { TransportCopies } from './transport-copies.js';
import { isJournalPosition, type JournalPosition } from './journal-position.js';
import { journalctlArgs } from './journalctl-args.js';
import { RestartBackoff } from './restart-backoff.js';

export interface JournaldSourceOptions {
  stateDir: string;
  /** Bind the source's name on it (`log.child({ source })`): the source logs facts, not its name. */
  log: Logger;
  /** A journal directory to read instead of the local system journal (`journalctl --directory=`). */
  directory?: string | undefined;
  /** Default `journalctl` (found on PATH). */
  journalctl?: string | undefined;
  /** Lines per batch. Default 512. */
  maxBatchLines?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 2000 ms. */
  stopGraceMs?: number;
  backoff?: RestartBackoff;
  /**
   * Drop the second transport's copy of a record (see TransportCopies). Default true; the source's own
   * tests switch it off to see both transports.
   */
  dropTransportCopies?: boolean;
}

const DEFAULT_MAX_BATCH_LINES = 512;
const DEFAULT_STOP_GRACE_MS = 2000;
/** A journal entry is a few KiB; anything past this is not a line journalctl meant to write. */
const MAX_LINE_BYTES = 4 << 20;
const STDERR_TAIL_CHARS = 2048;

type JournalctlChild = ChildProcessByStdio<null, Readable, Readable>;

/**
 * Reads the kernel and audit transports of the systemd journal through `journalctl -f -o json`, run as a
 * child process (the journal file format is not something to parse ourselves). Batch lines are the JSON
 * entries as journalctl writes them; positions are cursors. The child is restarted with backoff whenever
 * it exits, from the last entry handed on. Backpressure: the child's stdout is paused while a batch waits
 * in `put`, so journalctl blocks on a full pipe instead of this process buffering without bound.
 */
export class JournaldSource implements LiveSource<JournalPosition> {
  readonly name: string;
  readonly kind = EVENT_SOURCE.journald;
  readonly counters: SourceCounters = newSourceCounters();

  private readonly log: Logger;
  private readonly directory: string | undefined;
  private readonly journalctl: string;
  private readonly maxBatchLines: number;
  private readonly stopGraceMs: number;
  private readonly backoff: RestartBackoff;
  private readonly store: CheckpointStore<JournalPosition>;

  private out: BatchWriter<JournalPosition> | undefined;
  /** The checkpoint to resume from until the first entry was read. */
  private resumeAt: JournalPosition | undefined;
  /** Cursor of the last entry read from a child: where a restarted child continues. */
  private readCursor: string | undefined;
  /** Cursor of the last entry handed on in a batch. */
  private lastCursor: string | undefined;
  /** When start() was called (µs): without a cursor, the child reads the entries received since. */
  private firstStartMicros: number | undefined;
  private child: JournalctlChild | undefined;
  private childClosed: Promise<void> = Promise.resolve();
  private pending: string[] = [];
  private delivering = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly transportCopies: TransportCopies | undefined;

  constructor(options: JournaldSourceOptions) {
    this.directory = options.directory;
    this.name = options.directory === undefined ? 'journald' : `journald:${options.directory}`;
    this.log = options.log;
    this.journalctl = options.journalctl ?? 'journalctl';
    this.transportCopies = options.dropTransportCopies === false ? undefined : new TransportCopies();
    this.maxBatchLines = options.maxBatchLines ?? DEFAULT_MAX_BATCH_LINES;
    this.stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.backoff = options.backoff ?? new RestartBackoff();
    this.store = new CheckpointStore(options.stateDir, this.name, isJournalPosition);
  }

  /** The running journalctl's pid, if one runs (for diagnostics). */
  get childPid(): number | undefined {
    return this.child?.pid;
  }

  /** Lines read from journalctl but not yet handed on: bounded by the pause while a put is pending. */
  get bufferedLines(): number {
    return this.pending.length;
  }

  async start(out: BatchWriter<JournalPosition>): Promise<void> {
    if (this.out !== undefined) throw new KernwatchError(ERROR_CODES.source, 'JournaldSource started twice');
    this.out = out;
    this.resumeAt = await this.store.load();
    // `--since` rather than `--lines=0`: journalctl takes a moment to open the journal and seek to its
    // end, and an entry stored meanwhile would be skipped. Every entry received from now on is new.
    this.firstStartMicros = Date.now() * 1000;
    this.log.info(
      { directory: this.directory, cursor: this.resumeAt?.cursor },
      this.resumeAt === undefined
        ? 'No journald checkpoint: following new kernel and audit entries from now on.'
        : 'Resuming the journal from the checkpointed cursor.',
    );
    this.spawnChild();
  }

  commit(position: JournalPosition): Promise<void> {
    // Only a batch made before any entry carried a cursor has none: nothing to save then.
    if (position.cursor === '') return this.store.settled();
    return this.store.save(position);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (child !== undefined) {
      child.kill('SIGTERM');
      // A stdout paused for backpressure would hold the child's 'close' back: let it drain into nothing.
      child.stdout.resume();
      const killTimer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, this.stopGraceMs);
      await this.childClosed;
      clearTimeout(killTimer);
    }
    this.pending = [];
    await this.store.settled();
  }

  private spawnChild(): void {
    if (this.stopped) return;
    const position =
      this.readCursor !== undefined ? { cursor: this.readCursor, inclusive: false } : this.resumeAt;
    const args = journalctlArgs({
      position,
      sinceMicros: position === undefined ? this.firstStartMicros : undefined,
      directory: this.directory,
    });
    const startedAt = Date.now();
    const child = spawn(this.journalctl, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const splitter = new LineSplitter(MAX_LINE_BYTES);
    let stderrTail = '';
    let spawnError: Error | undefined;

    child.stdout.on('data', (chunk: Buffer) => {
      if (this.child !== child || this.stopped) return;
      const before = this.pending.length;
      splitter.push(chunk, (text, s, e) => {
        this.pending.push(text.slice(s, e));
      });
      if (this.pending.length === before) return;
      // Only the chunk's last line: a restarted child must continue after what was read, not only
      // after what was handed on, or the lines still pending would be read twice.
      this.readCursor = cursorOf(this.pending[this.pending.length - 1] ?? '') ?? this.readCursor;
      if (this.delivering) child.stdout.pause();
      else void this.deliver();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    child.once('error', (err) => {
      spawnError = err;
    });
    this.childClosed = new Promise((resolve) => {
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.child === child) this.child = undefined;
        if (splitter.oversizedLines > 0) this.counters.dropped += splitter.oversizedLines;
        resolve();
        if (this.stopped) return;
        this.onChildExit(code, signal, stderrTail, spawnError, Date.now() - startedAt, position);
      });
    });
  }

  private onChildExit(
    code: number | null,
    signal: NodeJS.Signals | null,
    stderrTail: string,
    spawnError: Error | undefined,
    ranForMs: number,
    position: JournalPosition | undefined,
  ): void {
    // Lines of a half-read batch stay pending; a cut last line is read again by the next child.
    this.counters.reopens++;
    if (
      position !== undefined &&
      position === this.resumeAt &&
      stderrTail.includes('Failed to seek to cursor')
    ) {
      this.log.warn(
        { cursor: position.cursor },
        'journalctl rejected the checkpointed cursor; following the journal from now on instead.',
      );
      this.resumeAt = undefined;
    }
    const delayMs = this.backoff.next(ranForMs);
    this.log.warn(
      { exitCode: code, signal, err: spawnError, stderr: stderrTail.trim(), ranForMs, restartInMs: delayMs },
      'journalctl exited; restarting it.',
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.spawnChild();
    }, delayMs);
  }

  /**
   * Hands pending lines on in batches, keeping the child's stdout paused while a put is pending (the
   * child may be replaced by a restart meanwhile: whichever runs is the one paused and resumed).
   */
  private async deliver(): Promise<void> {
    const out = this.out;
    if (out === undefined) return;
    this.delivering = true;
    try {
      while (this.pending.length > 0 && !this.stopped) {
        this.child?.stdout.pause();
        const lines = this.pending.splice(0, this.maxBatchLines);
        // Positions cover every line read, copies included, so a restart does not read a dropped copy again.
        const batch = this.batchOf(lines);
        const copies = this.transportCopies;
        if (copies !== undefined) batch.lines = lines.filter((l) => !copies.isCopy(l));
        this.counters.linesRead += lines.length;
        try {
          await out.put(batch);
          this.counters.batches++;
        } catch (err) {
          this.counters.dropped += lines.length;
          this.log.error(
            { err, lines: lines.length },
            'The pipeline refused a journal batch; its lines are lost.',
          );
        }
      }
    } finally {
      this.delivering = false;
      if (!this.stopped) this.child?.stdout.resume();
    }
  }

  private batchOf(lines: string[]): { lines: string[]; from: JournalPosition; to: JournalPosition } {
    const firstCursor = cursorOf(lines[0] ?? '');
    let lastCursor: string | undefined;
    for (let i = lines.length - 1; i >= 0 && lastCursor === undefined; i--)
      lastCursor = cursorOf(lines[i] ?? '');
    const from: JournalPosition =
      firstCursor !== undefined
        ? { cursor: firstCursor, inclusive: true }
        : this.lastCursor !== undefined
          ? { cursor: this.lastCursor, inclusive: false }
          : (this.resumeAt ?? { cursor: '', inclusive: false });
    if (lastCursor !== undefined) {
      this.lastCursor = lastCursor;
      this.resumeAt = undefined;
    }
    const to: JournalPosition = lastCursor !== undefined ? { cursor: lastCursor, inclusive: false } : from;
    return { lines, from, to };
  }
}
