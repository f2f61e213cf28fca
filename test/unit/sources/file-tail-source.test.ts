import {
  appendFileSync,
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FilePosition } from '../../../agent/sources/file/file-position.js';
import { FileTailSource, type FileTailOptions } from '../../../agent/sources/file/file-tail-source.js';
import { CheckpointStore } from '../../../agent/sources/checkpoint-store.js';
import { isFilePosition } from '../../../agent/sources/file/file-position.js';
import type { RawBatch } from '../../../agent/sources/raw-batch.js';
import type { Logger } from '../../../agent/telemetry/logger.js';
import { corpusLines } from '../../helpers/corpus-lines.js';
import { RecordingBatchWriter } from '../../helpers/file-tail-recorder.js';

const RHEL7 = corpusLines('auditd/go-libaudit-auparse-audit-rhel7.log');
const LONG = corpusLines('auditd/laurel-record-execve-long.log');
const A = RHEL7.slice(0, 10);
const B = RHEL7.slice(10, 20);
const C = RHEL7.slice(20, 30);
const D = RHEL7.slice(30, 40);
const E = RHEL7.slice(40, 50);

const text = (lines: readonly string[]): string => lines.map((l) => `${l}\n`).join('');
const bytes = (lines: readonly string[]): number => Buffer.byteLength(text(lines), 'latin1');
const inodeOf = (p: string): string => String(statSync(p, { bigint: true }).ino);

interface LogRecord {
  level: number;
  msg: string;
}

function capturingLogger(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => records.push(JSON.parse(s) as LogRecord) });
  return { log, records };
}

let dir: string;
let path: string;
let stateDir: string;
let started: FileTailSource[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kw-file-tail-'));
  path = join(dir, 'audit.log');
  stateDir = join(dir, 'state');
  started = [];
});

afterEach(async () => {
  await Promise.all(started.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a tailer on `path`; by default every batch is committed once recorded, as after delivery. */
async function tail(
  options: Partial<FileTailOptions> = {},
  commit = true,
): Promise<{ source: FileTailSource; out: RecordingBatchWriter<FilePosition> }> {
  const source = new FileTailSource({
    path,
    kind: 'auditd',
    stateDir,
    pollIntervalMs: 20,
    rotateWaitMs: 50,
    log: pino({ level: 'silent' }),
    ...options,
  });
  const out = new RecordingBatchWriter<FilePosition>(
    commit ? (batch: RawBatch<FilePosition>) => source.commit(batch.to) : undefined,
  );
  await source.start(out);
  started.push(source);
  return { source, out };
}

function savedCheckpoint(): FilePosition | undefined {
  const store = new CheckpointStore(stateDir, `auditd:${path}`, isFilePosition);
  try {
    return JSON.parse(readFileSync(store.path, 'utf8')) as FilePosition;
  } catch {
    return undefined;
  }
}

describe('FileTailSource: where it starts', () => {
  it('on a first start reads only the lines appended after it started', async () => {
    writeFileSync(path, text(A));
    const { out, source } = await tail();
    appendFileSync(path, text(B));
    await out.untilLines(B.length);
    expect(out.lines).toEqual(B);
    expect(out.batches[0]?.from).toEqual({ path, inode: inodeOf(path), offset: bytes(A) });
    expect(out.batches.at(-1)?.to).toEqual({ path, inode: inodeOf(path), offset: bytes([...A, ...B]) });
    expect(source.name).toBe(`auditd:${path}`);
    expect(source.counters.linesRead).toBe(B.length);
  });

  it('on a first start reads a line that was half written when it started, whole', async () => {
    const line = B[0] ?? '';
    writeFileSync(path, text(A) + line.slice(0, 40));
    const { out } = await tail();
    appendFileSync(path, `${line.slice(40)}\n`);
    await out.untilLines(1);
    expect(out.lines).toEqual([line]);
    expect(out.batches[0]?.from.offset).toBe(bytes(A));
  });

  it('with fromStart reads the whole file from offset 0', async () => {
    writeFileSync(path, text(RHEL7));
    const { out } = await tail({ fromStart: true });
    await out.untilLines(RHEL7.length);
    expect(out.lines).toEqual(RHEL7);
    expect(out.batches[0]?.from.offset).toBe(0);
    expect(out.batches.at(-1)?.to.offset).toBe(bytes(RHEL7));
  });

  it('waits for a missing file and reads it from the start when it appears', async () => {
    const { out, source } = await tail();
    writeFileSync(path, text(A));
    await out.untilLines(A.length);
    appendFileSync(path, text(B));
    await out.untilLines(A.length + B.length);
    expect(out.lines).toEqual([...A, ...B]);
    expect(out.batches[0]?.from).toEqual({ path, inode: inodeOf(path), offset: 0 });
    expect(source.counters.reopens).toBe(0);
  });
});

describe('FileTailSource: reading', () => {
  it('holds a partial last line back until its newline arrives', async () => {
    writeFileSync(path, '');
    const { out } = await tail();
    const second = B[0] ?? '';
    // The first read that sees A's lines also sees the start of `second`.
    appendFileSync(path, text(A) + second.slice(0, 100));
    await out.untilLines(A.length);
    appendFileSync(path, second.slice(100, 200));
    appendFileSync(path, `${second.slice(200)}\n`);
    await out.untilLines(A.length + 1);
    expect(out.lines).toEqual([...A, second]);
    expect(out.batches.at(-1)?.from.offset).toBe(bytes(A));
    expect(out.batches.at(-1)?.to.offset).toBe(bytes([...A, second]));
  });

  it('cuts batches at maxBatchLines and chains their positions', async () => {
    writeFileSync(path, text(RHEL7));
    const { out } = await tail({ fromStart: true, maxBatchLines: 7 });
    await out.untilLines(RHEL7.length);
    expect(out.batches.map((b) => b.lines.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
    expect(out.lines).toEqual(RHEL7);
    for (let i = 1; i < out.batches.length; i++) {
      expect(out.batches[i]?.from).toEqual(out.batches[i - 1]?.to);
    }
  });

  it('reads a file larger than its read chunk in chunk-sized pieces without splitting a line', async () => {
    writeFileSync(path, text(LONG) + text(RHEL7));
    const longest = Math.max(...[...LONG, ...RHEL7].map((l) => l.length));
    // The longest line fits: the chunk holds it, its newline and the newline before it.
    const { out } = await tail({ fromStart: true, readChunkBytes: longest + 2 });
    await out.untilLines(LONG.length + RHEL7.length);
    expect(out.lines).toEqual([...LONG, ...RHEL7]);
  });

  it('drops a line longer than the read chunk and reads on after it', async () => {
    const long = LONG.reduce((a, b) => (b.length > a.length ? b : a));
    writeFileSync(path, text([A[0] ?? '', long, A[1] ?? '']));
    const { out, source } = await tail({ fromStart: true, readChunkBytes: 1024 });
    await out.untilLines(2);
    expect(long.length).toBeGreaterThan(2048);
    expect(out.lines).toEqual([A[0], A[1]]);
    expect(source.counters.dropped).toBe(1);
    expect(out.batches.at(-1)?.to.offset).toBe(bytes([A[0] ?? '', long, A[1] ?? '']));
  });
  it('keeps a line of readChunkBytes - 2 characters and drops one of readChunkBytes - 1', async () => {
    const source = LONG.reduce((a, b) => (b.length > a.length ? b : a));
    const fits = source.slice(0, 998);
    const tooLong = source.slice(0, 999);
    writeFileSync(path, text([A[0] ?? '', fits, tooLong, A[1] ?? '']));
    const { out, source: tailer } = await tail({ fromStart: true, readChunkBytes: 1000 });
    await out.untilLines(3);
    expect(out.lines).toEqual([A[0], fits, A[1]]);
    expect(tailer.counters.dropped).toBe(1);
  });
});

describe('FileTailSource: checkpoints', () => {
  it('resumes after a stop at the last committed position', async () => {
    writeFileSync(path, text(A));
    const first = await tail({ fromStart: true });
    await first.out.untilLines(A.length);
    await first.source.stop();
    expect(savedCheckpoint()).toEqual({ path, inode: inodeOf(path), offset: bytes(A) });

    appendFileSync(path, text(B));
    const second = await tail();
    await second.out.untilLines(B.length);
    expect(second.out.lines).toEqual(B);
    expect(second.out.batches[0]?.from).toEqual({ path, inode: inodeOf(path), offset: bytes(A) });
  });

  it('reads again, after a restart, the batches that were read but never committed', async () => {
    writeFileSync(path, text(A));
    const first = await tail({ fromStart: true, maxBatchLines: 5 }, false);
    await first.out.untilLines(A.length);
    await first.source.commit(first.out.batches[0]?.to ?? { path, inode: '0', offset: 0 });
    await first.source.stop();

    const second = await tail({ maxBatchLines: 5 });
    await second.out.untilLines(5);
    expect(second.out.lines).toEqual(A.slice(5));
  });

  it('writes only the latest of several quick commits, and writes a commit made after stop at once', async () => {
    writeFileSync(path, text(A));
    const { source } = await tail({ commitIntervalMs: 60_000 });
    const inode = inodeOf(path);
    await source.commit({ path, inode, offset: 10 });
    await source.commit({ path, inode, offset: 20 });
    await source.commit({ path, inode, offset: 30 });
    await source.stop();
    expect(savedCheckpoint()).toEqual({ path, inode, offset: 30 });
    await source.commit({ path, inode, offset: 40 });
    expect(savedCheckpoint()).toEqual({ path, inode, offset: 40 });
  });

  it('starts the path at 0 and warns when the checkpointed inode is nowhere to be found', async () => {
    writeFileSync(path, text(A));
    const store = new CheckpointStore(stateDir, `auditd:${path}`, isFilePosition);
    const gone = String(BigInt(inodeOf(path)) + 1_000_003n);
    await store.save({ path, inode: gone, offset: 1234 });
    const { log, records } = capturingLogger();
    const { out } = await tail({ log });
    await out.untilLines(A.length);
    expect(out.lines).toEqual(A);
    expect(out.batches[0]?.from).toEqual({ path, inode: inodeOf(path), offset: 0 });
    const warnings = records.filter((r) => r.level === 40).map((r) => r.msg);
    expect(warnings).toEqual([
      'The checkpointed file is neither at its path nor among its rotated files; reading the path from the start. Lines may have been lost.',
    ]);
  });

  it('reads from 0 when, while it was stopped, the file was truncated and rewritten past the checkpoint', async () => {
    writeFileSync(path, text(A));
    const first = await tail({ fromStart: true });
    await first.out.untilLines(A.length);
    await first.source.stop();
    // Same inode, larger than the checkpoint, but the byte before the checkpoint is no newline any more.
    writeFileSync(path, text([...LONG, ...B]));
    expect(bytes([...LONG, ...B])).toBeGreaterThan(bytes(A));

    const second = await tail();
    await second.out.untilLines(LONG.length + B.length);
    expect(second.out.lines).toEqual([...LONG, ...B]);
    expect(second.source.counters.reopens).toBe(1);
  });
});

describe('FileTailSource: truncation and rotation', () => {
  it('starts again at 0 after a copytruncate', async () => {
    writeFileSync(path, text(A));
    const { out, source } = await tail({ fromStart: true });
    await out.untilLines(A.length);
    writeFileSync(`${path}.1`, readFileSync(path));
    writeFileSync(path, '');
    appendFileSync(path, text(B));
    await out.untilLines(A.length + B.length);
    expect(out.lines).toEqual([...A, ...B]);
    expect(out.batches.at(-1)?.to).toEqual({ path, inode: inodeOf(path), offset: bytes(B) });
    expect(source.counters.reopens).toBe(1);
  });

  it('reads what was appended before a copytruncate from the copy, then the truncated file from 0', async () => {
    writeFileSync(path, text(A));
    const { out, source } = await tail({ fromStart: true });
    await out.untilLines(A.length);
    // Appended, copied and truncated in one tick: the tailer never saw B in the original file.
    appendFileSync(path, text(B));
    writeFileSync(`${path}-20261128`, readFileSync(path));
    writeFileSync(path, '');
    appendFileSync(path, text(C));
    await out.untilLines(A.length + B.length + C.length);
    expect(out.lines).toEqual([...A, ...B, ...C]);
    const fromCopy = out.batches.find((b) => b.lines[0] === B[0]);
    expect(fromCopy?.from).toEqual({
      path: `${path}-20261128`,
      inode: inodeOf(`${path}-20261128`),
      offset: bytes(A),
    });
    expect(source.counters.reopens).toBe(1);
  });

  it('does not take an unrelated file next to it for the copy', async () => {
    writeFileSync(path, text(A));
    const { out } = await tail({ fromStart: true });
    await out.untilLines(A.length);
    writeFileSync(`${path}.other`, text([...C, ...D]));
    writeFileSync(path, '');
    appendFileSync(path, text(B));
    await out.untilLines(A.length + B.length);
    expect(out.lines).toEqual([...A, ...B]);
  });

  it('skips the NUL hole a writer without O_APPEND leaves after a copytruncate', async () => {
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, text(A));
      const { out, source } = await tail({ fromStart: true });
      await out.untilLines(A.length);
      // Truncate and write again at the writer's old offset before the tailer can look in between.
      ftruncateSync(fd, 0);
      writeSync(fd, text(B));
      await out.untilLines(A.length + B.length);
      expect(out.lines).toEqual([...A, ...B]);
      expect(statSync(path).size).toBe(bytes(A) + bytes(B));
      expect(source.counters.reopens).toBe(1);
    } finally {
      closeSync(fd);
    }
  });

  it('drains a renamed file, its unterminated last line included, before reading the new one', async () => {
    writeFileSync(path, text(A));
    const { out, source } = await tail({ fromStart: true });
    await out.untilLines(A.length);
    const oldInode = inodeOf(path);
    const fd = openSync(path, 'a');
    try {
      // A writer still appending to the renamed file after the new one exists (logrotate create + HUP).
      writeSync(fd, text(B));
      renameSync(path, `${path}.1`);
      writeFileSync(path, text(D));
      writeSync(fd, text(C));
      writeSync(fd, 'unterminated last line');
    } finally {
      closeSync(fd);
    }
    await out.untilLines(A.length + B.length + C.length + 1 + D.length);
    expect(out.lines).toEqual([...A, ...B, ...C, 'unterminated last line', ...D]);
    const last = out.batches.findIndex((b) => b.lines.includes('unterminated last line'));
    expect(out.batches[last]?.to).toEqual({
      path,
      inode: oldInode,
      offset: bytes([...A, ...B, ...C]) + 'unterminated last line'.length,
    });
    expect(out.batches[last + 1]?.from).toEqual({ path, inode: inodeOf(path), offset: 0 });
    expect(source.counters.reopens).toBe(1);
  });

  it('finds a file that was rotated away before it was ever seen at the path, and reads it in turn', async () => {
    writeFileSync(path, text(A));
    const { out, source } = await tail({ fromStart: true });
    await out.untilLines(A.length);
    // Two auditd rotations with no chance for the tailer to look in between.
    appendFileSync(path, text(B));
    renameSync(path, `${path}.1`);
    writeFileSync(path, text(C));
    renameSync(`${path}.1`, `${path}.2`);
    renameSync(path, `${path}.1`);
    writeFileSync(path, text(D));
    await out.untilLines(A.length + B.length + C.length + D.length);
    expect(out.lines).toEqual([...A, ...B, ...C, ...D]);
    expect(out.batches.find((b) => b.lines[0] === C[0])?.from).toEqual({
      path: `${path}.1`,
      inode: inodeOf(`${path}.1`),
      offset: 0,
    });
    expect(source.counters.reopens).toBe(2);
  });

  it('keeps reading a renamed file while its path is missing, then moves to the file that appears', async () => {
    writeFileSync(path, text(A));
    const { out, source } = await tail({ fromStart: true });
    await out.untilLines(A.length);
    renameSync(path, `${path}.1`);
    appendFileSync(`${path}.1`, text(B));
    await out.untilLines(A.length + B.length);
    writeFileSync(path, text(C));
    await out.untilLines(A.length + B.length + C.length);
    expect(out.lines).toEqual([...A, ...B, ...C]);
    expect(source.counters.reopens).toBe(1);
  });

  it('after a restart finishes the checkpointed file found at path.1 before reading the path from 0', async () => {
    writeFileSync(path, text(A));
    const first = await tail({ fromStart: true });
    await first.out.untilLines(A.length);
    await first.source.stop();
    const oldInode = inodeOf(path);
    appendFileSync(path, text(B));
    renameSync(path, `${path}.1`);
    writeFileSync(path, text(C));

    const { log, records } = capturingLogger();
    const second = await tail({ log });
    await second.out.untilLines(B.length + C.length);
    expect(second.out.lines).toEqual([...B, ...C]);
    expect(second.out.batches[0]?.from).toEqual({ path: `${path}.1`, inode: oldInode, offset: bytes(A) });
    expect(records.filter((r) => r.level >= 40)).toEqual([]);
    expect(second.source.counters.reopens).toBe(1);
  });

  it('after a restart reads the generations rotated while it was stopped oldest first: path.2, path.1, path', async () => {
    writeFileSync(path, text(A));
    const first = await tail({ fromStart: true });
    await first.out.untilLines(A.length);
    await first.source.stop();
    // Two auditd rotations while stopped: audit.log → audit.log.1 → audit.log.2.
    appendFileSync(path, text(B));
    renameSync(path, `${path}.1`);
    writeFileSync(path, text(C));
    renameSync(`${path}.1`, `${path}.2`);
    renameSync(path, `${path}.1`);
    writeFileSync(path, text(D));

    const second = await tail();
    await second.out.untilLines(B.length + C.length + D.length);
    expect(second.out.lines).toEqual([...B, ...C, ...D]);
    expect(second.source.counters.reopens).toBe(2);
  });

  it('after a restart treats a rotated file checkpointed after its unterminated last line as finished', async () => {
    writeFileSync(path, `${text(A)}unterminated`);
    const first = await tail({ fromStart: true });
    await first.out.untilLines(A.length);
    renameSync(path, `${path}.1`);
    writeFileSync(path, '');
    await first.out.untilLines(A.length + 1);
    await first.source.stop();
    expect(savedCheckpoint()?.offset).toBe(bytes(A) + 'unterminated'.length);

    appendFileSync(path, text(E));
    const second = await tail();
    await second.out.untilLines(E.length);
    expect(second.out.lines).toEqual(E);
  });
});
