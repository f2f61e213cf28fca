import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES, KernwatchError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import { DECODE_STOP, decodeRecord, encodedSize, encodeRecords, type SpoolMessage } from './spool-record.js';

export interface DiskSpoolOptions {
  dir: string;
  /** The most the spool may hold on disk; beyond it the oldest segment is dropped. */
  maxBytes: number;
  /** Size at which the tail segment is closed and a new one started (the unit of dropping). */
  segmentBytes?: number;
  log: Logger;
}

export interface SpoolCounters {
  appendedMessages: number;
  replayedMessages: number;
  /** Messages lost because the spool was full (the oldest segment went). */
  droppedMessages: number;
  droppedSegments: number;
  /** Found in the spool at start (left by the previous run). */
  recoveredMessages: number;
  /** Bytes cut from segments at start: a write torn by a crash, or damage. */
  truncatedBytes: number;
  appendFailures: number;
}

/** A run of messages read from the head of the spool, to be consumed once NATS acknowledged them. */
export interface SpoolChunk {
  readonly messages: readonly SpoolMessage[];
  readonly segment: number;
  readonly start: number;
  /** The offset just past each message, in its segment. */
  readonly ends: readonly number[];
}

interface Segment {
  seq: number;
  bytes: number;
  messages: number;
  /** Head segment only: how far replay got. */
  readOffset: number;
  readMessages: number;
}

const SEGMENT_SUFFIX = '.seg';
const CURSOR_FILE = 'cursor.json';
const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Events NATS has not acknowledged yet, on disk in the state directory, in order. Appends go to the tail
 * segment and are fsynced before `append` resolves: the source checkpoint moves once the events are here,
 * so a node crash after that must not lose them. Replay reads from the head; consumed segments are
 * deleted, and the replay position is saved in a cursor file (without fsync: a lost cursor only means
 * re-publishing messages that JetStream then drops as duplicates by their Nats-Msg-Id).
 *
 * Bounded: when an append would pass `maxBytes`, whole segments are dropped from the head — the oldest
 * events go first, counted and logged as an error, and the agent keeps running. All operations are
 * serialised, because appends (the chain) and replay (the sink's replayer) run concurrently.
 */
export class DiskSpool {
  readonly counters: SpoolCounters = {
    appendedMessages: 0,
    replayedMessages: 0,
    droppedMessages: 0,
    droppedSegments: 0,
    recoveredMessages: 0,
    truncatedBytes: 0,
    appendFailures: 0,
  };
  private readonly segments: Segment[] = [];
  private tailHandle: FileHandle | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly segmentBytes: number;
  private lastAppendFailed = false;
  /** Segment numbers only grow, so the directory listing's order is the events' order. */
  private nextSeq = 1;

  private constructor(private readonly o: DiskSpoolOptions) {
    this.segmentBytes = Math.max(
      64 * 1024,
      Math.min(o.segmentBytes ?? DEFAULT_SEGMENT_BYTES, Math.floor(o.maxBytes / 4)),
    );
  }

  /** Opens the spool directory and recovers what a previous run left in it. */
  static async open(o: DiskSpoolOptions): Promise<DiskSpool> {
    const spool = new DiskSpool(o);
    try {
      await mkdir(o.dir, { recursive: true, mode: 0o700 });
      await spool.recover();
    } catch (err) {
      throw new KernwatchError(ERROR_CODES.state, `Cannot open the spool in ${o.dir}`, { cause: err });
    }
    return spool;
  }

  get isEmpty(): boolean {
    return this.pendingMessages === 0;
  }

  get pendingMessages(): number {
    let n = 0;
    for (const s of this.segments) n += s.messages - s.readMessages;
    return n;
  }

  get pendingBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.bytes - s.readOffset;
    return n;
  }

  /** What the spool occupies on disk, replayed parts of the head segment included. */
  get diskBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.bytes;
    return n;
  }

  /** False after an append failed (disk full, I/O error), until one succeeds. */
  get writable(): boolean {
    return !this.lastAppendFailed;
  }

  /** Appends in order and fsyncs; resolves once the messages would survive a crash of the node. */
  append(messages: readonly SpoolMessage[]): Promise<void> {
    return this.serialised(async () => {
      if (messages.length === 0) return;
      let batch = messages;
      let size = 0;
      for (const m of batch) size += encodedSize(m);
      if (size > this.o.maxBytes) batch = this.newestThatFit(batch);
      size = 0;
      for (const m of batch) size += encodedSize(m);
      await this.makeRoom(size);
      try {
        const handle = await this.tailFor(size);
        const tail = this.segments[this.segments.length - 1];
        if (tail === undefined) throw new Error('no tail segment');
        const buf = encodeRecords(batch);
        await handle.write(buf, 0, buf.length, tail.bytes);
        await handle.datasync();
        tail.bytes += buf.length;
        tail.messages += batch.length;
        this.counters.appendedMessages += batch.length;
        this.lastAppendFailed = false;
      } catch (err) {
        this.counters.appendFailures++;
        this.lastAppendFailed = true;
        // The tail may now end in a partial record; a new segment keeps later appends readable.
        await this.closeTail();
        throw new KernwatchError(ERROR_CODES.sink, `Cannot write to the spool in ${this.o.dir}`, {
          cause: err,
        });
      }
    });
  }

  /** Reads up to `maxMessages` / about `maxBytes` from the head, without consuming them. */
  read(maxMessages: number, maxBytes = 4 * 1024 * 1024): Promise<SpoolChunk | undefined> {
    return this.serialised(async () => {
      await this.dropExhaustedHeads();
      const head = this.segments[0];
      if (head === undefined || head.readOffset >= head.bytes) return undefined;
      const messages: SpoolMessage[] = [];
      const ends: number[] = [];
      const handle = await open(this.segmentPath(head.seq), 'r');
      try {
        let offset = head.readOffset;
        let buf = Buffer.alloc(0);
        let bufStart = offset;
        while (messages.length < maxMessages && offset < head.bytes && offset - head.readOffset < maxBytes) {
          const rel = offset - bufStart;
          const decoded = decodeRecord(buf, rel);
          if (decoded === DECODE_STOP.incomplete) {
            // Keep the unread rest of the buffer (a record may straddle reads) and read on from its end.
            const readAt = bufStart + buf.length;
            const want = Math.min(READ_CHUNK_BYTES, head.bytes - readAt);
            if (want <= 0) break;
            const fresh = Buffer.allocUnsafe(want);
            const { bytesRead } = await handle.read(fresh, 0, want, readAt);
            if (bytesRead === 0) break;
            buf = Buffer.concat([buf.subarray(rel), fresh.subarray(0, bytesRead)]);
            bufStart = offset;
            continue;
          }
          if (decoded === DECODE_STOP.corrupt) {
            // Only a write that failed part-way can leave this in a live segment (its tail was closed).
            this.o.log.error(
              { segment: head.seq, offset },
              'A spool segment is damaged; the rest of it is skipped and counted as dropped.',
            );
            this.counters.droppedMessages += head.messages - head.readMessages - messages.length;
            head.messages = head.readMessages + messages.length;
            head.bytes = offset;
            break;
          }
          messages.push(decoded.message);
          offset = bufStart + decoded.end;
          ends.push(offset);
        }
        return messages.length === 0
          ? undefined
          : { messages, segment: head.seq, start: head.readOffset, ends };
      } finally {
        await handle.close();
      }
    });
  }

  /** Marks the first `count` messages of `chunk` as delivered. Ignored when their segment was dropped. */
  consume(chunk: SpoolChunk, count: number): Promise<void> {
    return this.serialised(async () => {
      const head = this.segments[0];
      const end = chunk.ends[count - 1];
      if (count <= 0 || end === undefined || head?.seq !== chunk.segment || head.readOffset !== chunk.start)
        return;
      head.readOffset = end;
      head.readMessages += count;
      this.counters.replayedMessages += count;
      // A consumed tail is closed and removed too: the next append starts a fresh segment, so a spool
      // that keeps up holds no files at all.
      if (head.readOffset >= head.bytes && this.segments.length === 1) await this.closeTail();
      await this.dropExhaustedHeads();
      await this.saveCursor();
    });
  }

  async close(): Promise<void> {
    await this.serialised(async () => {
      await this.closeTail();
      await this.saveCursor();
    });
  }

  private serialised<T>(op: () => Promise<T>): Promise<T> {
    const run = this.lock.then(op, op);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private segmentPath(seq: number): string {
    return join(this.o.dir, `${String(seq).padStart(16, '0')}${SEGMENT_SUFFIX}`);
  }

  /** Removes fully replayed segments from the head (the open tail only once it is closed). */
  private async dropExhaustedHeads(): Promise<void> {
    for (;;) {
      const head = this.segments[0];
      if (head === undefined || head.readOffset < head.bytes) return;
      if (this.segments.length === 1 && this.tailHandle !== undefined) return;
      this.segments.shift();
      await rm(this.segmentPath(head.seq), { force: true });
    }
  }

  /** Drops head segments until `incoming` more bytes fit under the bound. */
  private async makeRoom(incoming: number): Promise<void> {
    while (this.segments.length > 0 && this.diskBytes + incoming > this.o.maxBytes) {
      const head = this.segments.shift();
      if (head === undefined) break;
      if (this.segments.length === 0) await this.closeTail();
      const lost = head.messages - head.readMessages;
      this.counters.droppedMessages += lost;
      this.counters.droppedSegments++;
      this.o.log.error(
        {
          segment: head.seq,
          droppedEvents: lost,
          droppedTotal: this.counters.droppedMessages,
          maxBytes: this.o.maxBytes,
        },
        'The spool is full: its oldest events were dropped. NATS has been unreachable for too long, or ' +
          'cannot keep up; raise the spool size or fix the connection.',
      );
      await rm(this.segmentPath(head.seq), { force: true });
    }
  }

  /** The newest messages of an oversized batch that fit; the rest is counted as dropped. */
  private newestThatFit(batch: readonly SpoolMessage[]): readonly SpoolMessage[] {
    let size = 0;
    let first = batch.length;
    while (first > 0) {
      const m = batch[first - 1];
      if (m === undefined) break;
      const s = encodedSize(m);
      if (size + s > this.o.maxBytes) break;
      size += s;
      first--;
    }
    this.counters.droppedMessages += first;
    return batch.slice(first);
  }

  /** The tail segment's handle, rolling to a new segment when this append would pass the segment size. */
  private async tailFor(size: number): Promise<FileHandle> {
    const tail = this.segments[this.segments.length - 1];
    if (
      tail !== undefined &&
      this.tailHandle !== undefined &&
      (tail.bytes + size <= this.segmentBytes || tail.bytes === 0)
    )
      return this.tailHandle;
    await this.closeTail();
    const seq = this.nextSeq++;
    const handle = await open(this.segmentPath(seq), 'wx', 0o600);
    this.segments.push({ seq, bytes: 0, messages: 0, readOffset: 0, readMessages: 0 });
    this.tailHandle = handle;
    await this.syncDir();
    return handle;
  }

  private async closeTail(): Promise<void> {
    const h = this.tailHandle;
    this.tailHandle = undefined;
    await h?.close().catch(() => undefined);
  }

  /** A new segment's name must survive a crash too, or its fsynced contents are unreachable. */
  private async syncDir(): Promise<void> {
    const dir = await open(this.o.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  private async saveCursor(): Promise<void> {
    const head = this.segments[0];
    const tmp = join(this.o.dir, `${CURSOR_FILE}.tmp`);
    await writeFile(tmp, JSON.stringify({ segment: head?.seq ?? 0, offset: head?.readOffset ?? 0 }));
    await rename(tmp, join(this.o.dir, CURSOR_FILE));
  }

  private async loadCursor(): Promise<{ segment: number; offset: number } | undefined> {
    try {
      const parsed: unknown = JSON.parse(await readFile(join(this.o.dir, CURSOR_FILE), 'utf8'));
      if (
        typeof parsed === 'object' &&
        parsed !== null &&
        'segment' in parsed &&
        'offset' in parsed &&
        typeof parsed.segment === 'number' &&
        typeof parsed.offset === 'number'
      )
        return { segment: parsed.segment, offset: parsed.offset };
    } catch {
      // No cursor (first start) or a damaged one: replay from the start of the head segment.
    }
    return undefined;
  }

  /**
   * Rebuilds the segment list from the directory: counts the messages of each segment and cuts a
   * segment at its first record that does not check (a torn append). Every segment left is read-only
   * from now on; appends go to a new one.
   */
  private async recover(): Promise<void> {
    const cursor = await this.loadCursor();
    const seqs = (await readdir(this.o.dir))
      .filter((n) => n.endsWith(SEGMENT_SUFFIX))
      .map((n) => Number(n.slice(0, -SEGMENT_SUFFIX.length)))
      .filter((n) => Number.isSafeInteger(n) && n > 0)
      .sort((a, b) => a - b);
    for (const seq of seqs) {
      const path = this.segmentPath(seq);
      if (cursor !== undefined && seq < cursor.segment) {
        await rm(path, { force: true });
        continue;
      }
      const size = (await stat(path)).size;
      const data = await readFile(path);
      let at = 0;
      let messages = 0;
      let readOffset = 0;
      let readMessages = 0;
      const resumeAt = cursor?.segment === seq ? cursor.offset : 0;
      for (;;) {
        if (at === resumeAt) {
          readOffset = at;
          readMessages = messages;
        }
        const decoded = decodeRecord(data, at);
        if (typeof decoded === 'string') break;
        at = decoded.end;
        messages++;
      }
      if (at < size) {
        this.counters.truncatedBytes += size - at;
        this.o.log.warn(
          { segment: seq, cutBytes: size - at },
          'A spool segment ended in an incomplete write (the agent or the node stopped mid-write); it was cut there.',
        );
        await truncate(path, at);
      }
      if (messages === 0 || readOffset >= at) {
        await rm(path, { force: true });
        continue;
      }
      this.segments.push({ seq, bytes: at, messages, readOffset, readMessages });
      this.counters.recoveredMessages += messages - readMessages;
    }
    if (this.segments.length > 0) {
      this.o.log.info(
        { events: this.counters.recoveredMessages, bytes: this.pendingBytes },
        'Found events spooled by the previous run; they are published before new ones.',
      );
    }
    // Appends start a fresh segment after recovery, numbered above every one seen, so order holds.
    this.nextSeq = (seqs[seqs.length - 1] ?? 0) + 1;
    await this.saveCursor();
  }
}
