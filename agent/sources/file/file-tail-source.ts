import { watch, type BigIntStats, type FSWatcher } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ERROR_CODES, KernwatchError } from '../../errors.js';
import type { EVENT_SOURCE } from '../../events.js';
import type { Logger } from '../../telemetry/logger.js';
import { RetryBackoff } from '../../retry-backoff.js';
import { CheckpointStore } from '../checkpoint-store.js';
import { LineSplitter } from '../line-splitter.js';
import { newSourceCounters, type BatchWriter, type LiveSource, type SourceCounters } from '../raw-batch.js';
import { isFilePosition, type FilePosition } from './file-position.js';
import { findRotatedFile } from './rotated-file-finder.js';

export type FileSourceKind = typeof EVENT_SOURCE.auditd | typeof EVENT_SOURCE.syslog;

export interface FileTailOptions {
  path: string;
  kind: FileSourceKind;
  /** The checkpoint lives in `<stateDir>/checkpoints/`. */
  stateDir: string;
  /** Without a checkpoint, read the whole file instead of only what is appended from now on. */
  fromStart?: boolean;
  /** How often the file is looked at when nothing woke the reader; polling is the truth, inotify a hint. */
  pollIntervalMs?: number;
  /**
   * One pread's size and the memory the tailer holds. A line must fit in it with its newline and the byte
   * before it (see readStep): longer than readChunkBytes - 2 characters, it is dropped and counted.
   */
  readChunkBytes?: number;
  maxBatchLines?: number;
  /**
   * How long a rotated file must stay unchanged before the tailer moves on to its successor. A writer that
   * reopens on a signal (logrotate `create` + HUP) keeps appending to the renamed file until it handles
   * the signal; lines it writes there after this long are not read.
   */
  rotateWaitMs?: number;
  /** Checkpoint writes are at most this frequent; the latest position is always the one written. */
  commitIntervalMs?: number;
  /** Use inotify on the directory to wake up early. */
  watch?: boolean;
  log: Logger;
}

export const FILE_TAIL_DEFAULTS = {
  pollIntervalMs: 100,
  readChunkBytes: 1 << 20,
  maxBatchLines: 2048,
  rotateWaitMs: 1000,
  commitIntervalMs: 0,
  /** Successors opened while an older file is still being read: one per rotation during the wait. */
  maxPendingFiles: 16,
} as const;

/** One open generation of the file. Holding the descriptor keeps a renamed or deleted file readable. */
interface OpenFile {
  fh: FileHandle;
  /** Where it was opened; after a rotation only a hint, the inode is its identity. */
  path: string;
  inode: string;
  /** The next unread byte: a line start, except while a too long line is being skipped. */
  offset: number;
  /** The file's end as the last read saw it. */
  readEnd: number;
  discarding: boolean;
  /** Its final unterminated line was emitted: nothing more is read from it. */
  complete: boolean;
  lastGrowthAt: number;
  /** When a newer file appeared at the path; undefined while this one is (or may again be) the current file. */
  supersededAt: number | undefined;
  /** Its first bytes (up to HEAD_BYTES), to recognise a copy of it after a copytruncate. */
  head: Buffer;
}

const HEAD_BYTES = 256;

const NEWLINE = 10;

/**
 * Tails an append-only log file (auditd's audit.log, a syslog file) across rotation, truncation and
 * restarts, reading with pread at explicit offsets so a position is always exact. Batches hold whole lines
 * of one file; the checkpoint (inode, offset) moves only when the pipeline commits a batch's position.
 */
export class FileTailSource implements LiveSource<FilePosition> {
  readonly name: string;
  readonly kind: FileSourceKind;
  readonly counters: SourceCounters = newSourceCounters();

  private readonly path: string;
  private readonly base: string;
  private readonly log: Logger;
  private readonly fromStart: boolean;
  private readonly pollIntervalMs: number;
  private readonly maxBatchLines: number;
  private readonly rotateWaitMs: number;
  private readonly commitIntervalMs: number;
  private readonly watchEnabled: boolean;
  private readonly store: CheckpointStore<FilePosition>;
  private readonly buf: Buffer;
  private readonly splitter: LineSplitter;
  private collected: string[] = [];
  private readonly collect = (text: string, start: number, end: number): void => {
    let s = start;
    // A writer without O_APPEND keeps its offset across a copytruncate, so the file restarts with a hole
    // that reads as NUL bytes before its next line.
    while (s < end && text.charCodeAt(s) === 0) s++;
    if (s < end) this.collected.push(text.slice(s, end));
  };

  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private out: BatchWriter<FilePosition> | undefined;
  private cur: OpenFile | undefined;
  private readonly next: OpenFile[] = [];
  private loop: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private watcher: FSWatcher | undefined;
  private woken = false;
  private wakeSleep: (() => void) | undefined;
  private endSleep: (() => void) | undefined;
  private warnedPendingFull = false;

  private pendingCommit: FilePosition | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private lastSaveAt = 0;

  constructor(options: FileTailOptions) {
    this.path = options.path;
    this.base = basename(options.path);
    this.kind = options.kind;
    this.name = `${options.kind}:${options.path}`;
    this.log = options.log.child({ source: this.name });
    this.fromStart = options.fromStart ?? false;
    this.pollIntervalMs = options.pollIntervalMs ?? FILE_TAIL_DEFAULTS.pollIntervalMs;
    this.maxBatchLines = Math.max(1, options.maxBatchLines ?? FILE_TAIL_DEFAULTS.maxBatchLines);
    this.rotateWaitMs = options.rotateWaitMs ?? FILE_TAIL_DEFAULTS.rotateWaitMs;
    this.commitIntervalMs = options.commitIntervalMs ?? FILE_TAIL_DEFAULTS.commitIntervalMs;
    this.watchEnabled = options.watch ?? true;
    const chunk = Math.max(64, options.readChunkBytes ?? FILE_TAIL_DEFAULTS.readChunkBytes);
    this.buf = Buffer.allocUnsafe(chunk);
    this.splitter = new LineSplitter(chunk + 1);
    this.store = new CheckpointStore(options.stateDir, this.name, isFilePosition);
  }

  async start(out: BatchWriter<FilePosition>): Promise<void> {
    if (this.state !== 'new')
      throw new KernwatchError(ERROR_CODES.source, `${this.name} was already started`);
    this.out = out;
    this.state = 'running';
    try {
      await this.openInitial();
    } catch (err) {
      this.state = 'stopped';
      await this.closeFiles();
      throw err;
    }
    this.startWatcher();
    this.loop = this.run();
  }

  commit(position: FilePosition): Promise<void> {
    this.pendingCommit = position;
    // After stop the pipeline still commits what it drained; nothing would flush a throttled write then.
    if (this.state === 'stopped' || this.commitIntervalMs === 0) return this.flushCommit();
    if (this.commitTimer === undefined) {
      const wait = Math.max(0, this.lastSaveAt + this.commitIntervalMs - Date.now());
      this.commitTimer = setTimeout(() => {
        this.commitTimer = undefined;
        this.flushCommit().catch((err: unknown) => {
          this.log.error(
            { err },
            'Saving the checkpoint failed; after a restart some lines may be read again.',
          );
        });
      }, wait);
    }
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    if (this.state === 'running') {
      this.state = 'stopping';
      this.endSleep?.();
      await this.loop;
    }
    this.state = 'stopped';
    this.watcher?.close();
    this.watcher = undefined;
    await this.closeFiles();
    if (this.commitTimer !== undefined) clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    try {
      await this.flushCommit();
    } catch (err) {
      this.log.error(
        { err },
        'Saving the last checkpoint failed; after a restart some lines may be read again.',
      );
    }
  }

  /** Saves the latest position asked for; the store keeps saves in order. */
  private async flushCommit(): Promise<void> {
    const position = this.pendingCommit;
    if (position === undefined) return this.store.settled();
    this.pendingCommit = undefined;
    this.lastSaveAt = Date.now();
    try {
      await this.store.save(position);
    } catch (err) {
      this.pendingCommit ??= position;
      throw err;
    }
  }

  private async openInitial(): Promise<void> {
    const checkpoint = await this.store.load();
    if (checkpoint !== undefined) {
      await this.resume(checkpoint);
      return;
    }
    const f = await this.openFile(this.path);
    if (f === undefined) {
      this.log.info({ path: this.path }, 'The file does not exist yet; waiting for it.');
      return;
    }
    this.cur = f;
    if (this.fromStart) {
      this.log.info({ path: this.path, inode: f.inode }, 'No checkpoint; reading the file from the start.');
    } else {
      await this.seekToLastLineEnd(f);
      this.log.info(
        { path: this.path, inode: f.inode, offset: f.offset },
        'No checkpoint; reading the lines appended from now on.',
      );
    }
  }

  private async resume(checkpoint: FilePosition): Promise<void> {
    const here = await this.openFile(this.path);
    if (here?.inode === checkpoint.inode) {
      here.offset = checkpoint.offset;
      this.cur = here;
      this.log.info({ ...checkpoint }, 'Resuming at the checkpoint.');
      return;
    }
    const match = await findRotatedFile(this.path, checkpoint.inode);
    const rotated = match === undefined ? undefined : await this.openFile(match.path);
    if (match === undefined || rotated === undefined || rotated.inode !== checkpoint.inode) {
      if (rotated !== undefined) await rotated.fh.close();
      this.log.warn(
        { ...checkpoint },
        'The checkpointed file is neither at its path nor among its rotated files; reading the path from the start. Lines may have been lost.',
      );
      this.cur = here;
      return;
    }
    rotated.offset = checkpoint.offset;
    rotated.complete = await this.endsUnterminatedAt(rotated, checkpoint.offset);
    this.cur = rotated;
    await this.queueSuccessors(here);
    this.log.info(
      { ...checkpoint, rotatedPath: match.path, newerFiles: this.next.length },
      'The checkpointed file was rotated while kernwatch was stopped; finishing it before the newer files.',
    );
  }

  /**
   * A rotated file's unterminated last line is emitted whole, so its checkpoint can sit at its end right
   * after a byte that is no newline; that file is finished, not rewritten.
   */
  private async endsUnterminatedAt(f: OpenFile, offset: number): Promise<boolean> {
    if (offset === 0) return false;
    const { bytesRead } = await f.fh.read(this.buf, 0, 2, offset - 1);
    return bytesRead === 1 && this.buf[0] !== NEWLINE;
  }

  /** Start at the end of the last complete line, so a line being written now is read whole. */
  private async seekToLastLineEnd(f: OpenFile): Promise<void> {
    const size = Number((await f.fh.stat({ bigint: true })).size);
    f.readEnd = size;
    if (size === 0) return;
    const len = Math.min(this.buf.length, size);
    const { bytesRead } = await f.fh.read(this.buf, 0, len, size - len);
    const nl = this.buf.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (nl >= 0) {
      f.offset = size - len + nl + 1;
    } else if (size > len) {
      f.offset = size;
      f.discarding = true;
    }
  }

  private async run(): Promise<void> {
    const retry = new RetryBackoff(500, 30_000);
    while (this.state === 'running') {
      try {
        await this.step();
        retry.reset();
      } catch (err) {
        const delayMs = retry.next();
        this.log.error({ err, path: this.path, delayMs }, 'Reading the file failed; retrying.');
        await this.sleep(delayMs, false);
      }
    }
  }

  private async step(): Promise<void> {
    const f = this.cur;
    if (f === undefined) {
      const appeared = await this.openFile(this.path);
      if (appeared === undefined) {
        await this.sleep(this.pollIntervalMs, true);
        return;
      }
      this.cur = appeared;
      this.log.info(
        { path: this.path, inode: appeared.inode },
        'The file appeared; reading it from the start.',
      );
      return;
    }
    if (await this.readStep(f, false)) return;
    if (this.state !== 'running') return;

    // At the end of the file: has it been truncated, rotated, or is there just nothing new?
    const st = await statIfExists(this.path);
    if (st !== undefined && String(st.ino) === f.inode) {
      if (Number(st.size) < Math.max(f.offset, f.readEnd)) {
        await this.rewind(f, 'truncated');
        return;
      }
      if (Number(st.size) > f.readEnd) return;
      await this.sleep(this.pollIntervalMs, true);
      return;
    }
    if (st?.isFile() === true && !this.holds(String(st.ino))) {
      const successor = await this.openFile(this.path);
      if (successor !== undefined) await this.queueSuccessors(successor);
    }
    if (
      f.supersededAt !== undefined &&
      Date.now() - Math.max(f.supersededAt, f.lastGrowthAt) >= this.rotateWaitMs
    ) {
      await this.finishRotated(f);
      return;
    }
    await this.sleep(this.pollIntervalMs, true);
  }

  /** Reads the rest of a rotated file, its unterminated last line included, and moves on to its successor. */
  private async finishRotated(f: OpenFile): Promise<void> {
    while (this.state === 'running' && (await this.readStep(f, true)));
    if (this.state !== 'running') return;
    const successor = this.next.shift();
    if (successor === undefined) return;
    await f.fh.close().catch(() => undefined);
    this.cur = successor;
    this.counters.reopens++;
    this.log.info(
      { path: this.path, oldInode: f.inode, oldPath: f.path, inode: successor.inode, oldSize: f.offset },
      'The file was rotated; finished the old one, now reading the new one from the start.',
    );
  }

  /**
   * One pread at the current offset; emits the complete lines it holds. Returns whether the position
   * moved. The read starts one byte early: that byte must still be the newline ending the previous line,
   * which catches a file truncated and rewritten past our offset between two looks (copytruncate).
   */
  private async readStep(f: OpenFile, final: boolean): Promise<boolean> {
    if (f.complete) return false;
    const buf = this.buf;
    const lookback = f.offset > 0 && !f.discarding ? 1 : 0;
    const start = f.offset - lookback;
    const { bytesRead: n } = await f.fh.read(buf, 0, buf.length, start);
    if (start === 0 && n > f.head.length) f.head = Buffer.from(buf.subarray(0, Math.min(n, HEAD_BYTES)));
    if (start + n > f.readEnd) f.lastGrowthAt = Date.now();
    f.readEnd = start + n;
    if (lookback === 1) {
      if (n === 0) return false;
      if (buf[0] !== NEWLINE) {
        await this.rewind(f, 'rewritten');
        return true;
      }
    }
    let p = lookback;
    if (f.discarding) {
      const nl = buf.subarray(0, n).indexOf(NEWLINE);
      if (nl < 0) {
        f.offset = start + n;
        return n > 0;
      }
      f.offset = start + nl + 1;
      f.discarding = false;
      p = nl + 1;
    }
    const last = buf.subarray(p, n).lastIndexOf(NEWLINE);
    if (last < 0) {
      if (p === lookback && n === buf.length) {
        f.offset = start + n;
        f.discarding = true;
        this.counters.dropped++;
        this.log.warn(
          { path: f.path, offset: start + p, maxLineBytes: buf.length - 2 },
          'Dropped a line longer than the read chunk.',
        );
        return true;
      }
      if (final && n > p) {
        await this.emitLastLine(f, start, p, n);
        return true;
      }
      return p > lookback;
    }
    await this.emitLines(f, start, p, p + last + 1);
    return true;
  }

  /** Emits the lines in buf[from, end) (end just after a newline), at most maxBatchLines per batch. */
  private async emitLines(f: OpenFile, start: number, from: number, end: number): Promise<void> {
    const view = this.buf.subarray(0, end);
    let a = from;
    while (a < end) {
      let b = end;
      // Each line takes at least one byte, so a short span cannot exceed the limit and is not scanned.
      if (end - a > this.maxBatchLines) {
        let lines = 0;
        let i = a;
        while (i < end && lines < this.maxBatchLines) {
          i = view.indexOf(NEWLINE, i) + 1;
          lines++;
        }
        b = i;
      }
      this.collected = [];
      this.splitter.push(view.subarray(a, b), this.collect);
      await this.hand(f, this.collected, start + a, start + b);
      a = b;
      if (this.state !== 'running') return;
    }
  }

  private async emitLastLine(f: OpenFile, start: number, from: number, end: number): Promise<void> {
    this.collected = [];
    this.splitter.push(this.buf.subarray(from, end), this.collect);
    this.splitter.end(this.collect);
    await this.hand(f, this.collected, start + from, start + end);
    f.complete = true;
  }

  /** Backpressure: the next read waits until the pipeline took this batch. */
  private async hand(f: OpenFile, lines: string[], from: number, to: number): Promise<void> {
    if (lines.length > 0 && this.out !== undefined) {
      // Counted before the put so a consumer that looks at the counters once it has the batch sees it.
      this.counters.linesRead += lines.length;
      this.counters.batches++;
      try {
        await this.out.put({
          lines,
          from: { path: f.path, inode: f.inode, offset: from },
          to: { path: f.path, inode: f.inode, offset: to },
        });
      } catch (err) {
        // Not taken: the same lines are read again after the retry delay.
        this.counters.linesRead -= lines.length;
        this.counters.batches--;
        throw err;
      }
    }
    f.offset = to;
  }

  private async rewind(f: OpenFile, how: 'truncated' | 'rewritten'): Promise<void> {
    // copytruncate copied the file before truncating it: what was appended after our last read is in
    // the copy. Read that first, or those lines would be lost although they are on disk.
    if (f.offset > 0 && f.head.length > 0) await this.drainCopy(f);
    this.log.info(
      { path: f.path, inode: f.inode, offset: f.offset, how },
      'The file was truncated (copytruncate); reading it again from the start.',
    );
    f.offset = 0;
    f.readEnd = 0;
    f.discarding = false;
    f.head = Buffer.alloc(0);
    f.lastGrowthAt = Date.now();
    this.counters.reopens++;
  }

  /**
   * Finds the copy a copytruncate made of `f` (a file next to it, named after it, at least as long as what
   * we read, starting with the same bytes; the newest if several) and reads it from our offset to its end.
   */
  private async drainCopy(f: OpenFile): Promise<void> {
    const dir = dirname(this.path);
    const base = basename(this.path);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    let best: { path: string; mtimeMs: number } | undefined;
    for (const name of names) {
      if (name === base || !name.startsWith(base)) continue;
      const candidate = join(dir, name);
      const st = await statIfExists(candidate).catch(() => undefined);
      if (st?.isFile() !== true || String(st.ino) === f.inode || Number(st.size) < f.offset) continue;
      if (!(await startsWith(candidate, f.head))) continue;
      const mtimeMs = Number(st.mtimeMs);
      if (best === undefined || mtimeMs > best.mtimeMs) best = { path: candidate, mtimeMs };
    }
    if (best === undefined) return;
    const copy = await this.openFile(best.path);
    if (copy === undefined) return;
    try {
      copy.offset = f.offset;
      copy.readEnd = f.offset;
      const from = copy.offset;
      while (this.state === 'running' && (await this.readStep(copy, true)));
      this.log.info(
        { path: f.path, copy: best.path, from, to: copy.offset },
        'Read the end of the file from its copytruncate copy before reading the truncated file again.',
      );
    } finally {
      await copy.fh.close().catch(() => undefined);
    }
  }

  private holds(inode: string): boolean {
    return this.cur?.inode === inode || this.next.some((f) => f.inode === inode);
  }

  /**
   * Queues the generations rotated since the newest file held, oldest first, then `atPath` (the file now at
   * the path, if any): while the tailer was behind, a file can have come and gone from the path (rotated to
   * path.1) without ever being seen there. If a rotation races the directory listing, a file opened is not
   * the one listed; everything opened is then closed and the next look at the path tries again.
   */
  private async queueSuccessors(atPath: OpenFile | undefined): Promise<void> {
    const newest = this.next.at(-1) ?? this.cur;
    const match = newest === undefined ? undefined : await findRotatedFile(this.path, newest.inode);
    const found: OpenFile[] = [];
    for (const g of match?.newer ?? []) {
      if (this.holds(g.inode) || g.inode === atPath?.inode) continue;
      const f = await this.openFile(g.path);
      if (f !== undefined) found.push(f);
      if (f?.inode !== g.inode) {
        const opened = atPath === undefined ? found : [...found, atPath];
        await Promise.allSettled(opened.map((o) => o.fh.close()));
        return;
      }
    }
    for (const f of found) await this.queueNext(f);
    if (atPath !== undefined) await this.queueNext(atPath);
  }

  private async queueNext(f: OpenFile): Promise<void> {
    if (this.holds(f.inode)) {
      await f.fh.close();
      return;
    }
    if (this.next.length >= FILE_TAIL_DEFAULTS.maxPendingFiles) {
      await f.fh.close();
      if (!this.warnedPendingFull) {
        this.warnedPendingFull = true;
        this.log.warn(
          { path: this.path, pending: this.next.length },
          'The file rotates faster than its old generations are read; a generation may be skipped.',
        );
      }
      return;
    }
    this.warnedPendingFull = false;
    const newest = this.next.at(-1) ?? this.cur;
    if (newest !== undefined) newest.supersededAt ??= Date.now();
    this.next.push(f);
  }

  /** Opens a path; its inode comes from fstat, so it is the inode of what was opened even if a rename raced. */
  private async openFile(path: string): Promise<OpenFile | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new KernwatchError(ERROR_CODES.source, `Cannot open ${path}`, { cause: err });
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) throw new KernwatchError(ERROR_CODES.source, `${path} is not a regular file`);
      const head = Buffer.alloc(HEAD_BYTES);
      const { bytesRead } = await fh.read(head, 0, HEAD_BYTES, 0);
      return {
        fh,
        path,
        inode: String(st.ino),
        offset: 0,
        readEnd: 0,
        discarding: false,
        complete: false,
        lastGrowthAt: Date.now(),
        supersededAt: undefined,
        head: head.subarray(0, bytesRead),
      };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  private async closeFiles(): Promise<void> {
    const files = this.cur === undefined ? this.next.splice(0) : [this.cur, ...this.next.splice(0)];
    this.cur = undefined;
    await Promise.allSettled(files.map((f) => f.fh.close()));
  }

  private startWatcher(): void {
    if (!this.watchEnabled) return;
    try {
      const w = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename.startsWith(this.base)) this.wake();
      });
      w.on('error', (err) => {
        this.log.debug({ err }, 'Watching the directory failed; polling only.');
        w.close();
        if (this.watcher === w) this.watcher = undefined;
      });
      this.watcher = w;
    } catch (err) {
      // A missing directory or exhausted inotify watches: polling alone still finds everything.
      this.log.debug({ err }, 'Cannot watch the directory; polling only.');
    }
  }

  private wake(): void {
    if (this.wakeSleep !== undefined) this.wakeSleep();
    else this.woken = true;
  }

  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    if (wakeable && this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeSleep = undefined;
        this.endSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endSleep = done;
      if (wakeable) this.wakeSleep = done;
    });
  }
}

async function statIfExists(path: string): Promise<BigIntStats | undefined> {
  try {
    return await stat(path, { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KernwatchError(ERROR_CODES.source, `Cannot stat ${path}`, { cause: err });
  }
}

/** Whether the file at `path` begins with `prefix`. */
async function startsWith(path: string, prefix: Buffer): Promise<boolean> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    const buf = Buffer.alloc(prefix.length);
    const { bytesRead } = await fh.read(buf, 0, prefix.length, 0);
    return bytesRead === prefix.length && buf.equals(prefix);
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}
