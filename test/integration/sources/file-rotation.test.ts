import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FilePosition } from '../../../agent/sources/file/file-position.js';
import { FileTailSource } from '../../../agent/sources/file/file-tail-source.js';
import type { RawBatch } from '../../../agent/sources/raw-batch.js';
import { RecordingBatchWriter } from '../../helpers/file-tail-recorder.js';
import {
  copyForTruncate,
  numberedLine,
  seqOf,
  startNumberedLogWriter,
  truncateAfterCopy,
  type NumberedLogWriter,
} from '../../helpers/numbered-log-writer.js';

/**
 * A separate writer process appends numbered audit lines at 5,000 lines/s while the file is rotated the
 * ways auditd and logrotate rotate it, and every delivered line is checked against what was written.
 */
const RATE = 5000;
const TOTAL = 15_000;

let dir: string;
let path: string;
let stateDir: string;
let writer: NumberedLogWriter | undefined;
let sources: FileTailSource[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kw-file-rotation-'));
  path = join(dir, 'audit.log');
  stateDir = join(dir, 'state');
  writer = undefined;
  sources = [];
});

afterEach(async () => {
  await writer?.stop();
  await Promise.all(sources.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** A tailer whose consumer commits each batch's `to` once the batch is recorded ("delivered"). */
async function startTailer(
  commitWhile: () => boolean = () => true,
): Promise<{ source: FileTailSource; out: RecordingBatchWriter<FilePosition> }> {
  const source = new FileTailSource({ path, kind: 'auditd', stateDir, log: pino({ level: 'silent' }) });
  const out = new RecordingBatchWriter<FilePosition>(async (batch: RawBatch<FilePosition>) => {
    if (commitWhile()) await source.commit(batch.to);
  });
  await source.start(out);
  sources.push(source);
  return { source, out };
}

/** Numbers of the delivered lines, in delivery order; a line that is not a whole numbered line fails. */
function seqsOf(lines: readonly string[]): number[] {
  return lines.map((line) => {
    const n = seqOf(line);
    if (n === undefined) throw new Error(`delivered a line that was never written: ${line.slice(0, 120)}`);
    return n;
  });
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function seen(out: RecordingBatchWriter<FilePosition>, n: number): () => boolean {
  return () => out.batches.at(-1)?.lines.some((l) => (seqOf(l) ?? -1) >= n) ?? false;
}

/** The first whole line of the file, once the writer has put one there. */
async function firstLineOf(p: string): Promise<string> {
  for (;;) {
    const text = readFileSync(p, 'latin1');
    const nl = text.indexOf('\n');
    if (nl >= 0) return text.slice(0, nl);
    await sleep(5);
  }
}

describe('FileTailSource under rotation while a writer appends 5,000 lines/s', () => {
  it('delivers every line exactly once and in order across auditd-style and logrotate-create rotations', async () => {
    const { source, out } = await startTailer();
    writer = await startNumberedLogWriter({
      path,
      linesPerSecond: RATE,
      total: TOTAL,
      split: true,
      // Every generation is kept, so no inode is freed and reused within the run.
      keep: 10,
      rotations: [
        { atLine: 2500, style: 'auditd' },
        // logrotate `create`: the writer appends to the renamed file for 100 ms more, until it handles HUP.
        { atLine: 5000, style: 'create-then-hup', reopenAfterLines: 500 },
        { atLine: 7500, style: 'auditd' },
        // Two rotations one line apart: the middle file leaves the path before the tailer can see it there,
        // and is found among the rotated files.
        { atLine: 10_000, style: 'auditd' },
        { atLine: 10_001, style: 'auditd' },
        { atLine: 12_500, style: 'create-then-hup', reopenAfterLines: 500 },
      ],
    });
    await writer.done;
    await out.untilLines(TOTAL);

    expect(seqsOf(out.lines)).toEqual(range(0, TOTAL));
    expect(source.counters.reopens).toBe(6);
    expect(source.counters.linesRead).toBe(TOTAL);
    // Batches never span two files, and each batch starts where the previous one of its file ended.
    for (let i = 1; i < out.batches.length; i++) {
      const prev = out.batches[i - 1]?.to;
      const cur = out.batches[i]?.from;
      if (prev?.inode === cur?.inode) expect(cur?.offset).toBe(prev?.offset);
      else expect(cur?.offset).toBe(0);
    }
    expect(new Set(out.batches.map((b) => b.from.inode)).size).toBe(7);
  });

  it('after copytruncate delivers exactly once every line still in the file when the tailer read it', async () => {
    const { source, out } = await startTailer();
    // Whole-buffer writes: a write split around the truncation would leave the new file starting mid-line,
    // a fragment no reader can tell from a line (logrotate's copytruncate has the same flaw).
    writer = await startNumberedLogWriter({ path, linesPerSecond: RATE, total: TOTAL, split: false });

    /**
     * The inherent copytruncate window: lines written after the copy and before the truncation are in
     * neither file. The tailer gets those it read before the truncation; the others are lost to any reader.
     * The truncation follows the copy at once, as logrotate does: whatever the tailer had not read yet when
     * the copy was taken, it must read from the copy.
     */
    const windows: { copiedThrough: number; truncatedFrom: number }[] = [];
    for (const at of [3000, 7000, 11_000]) {
      await out.until(seen(out, at), `line ${String(at)} delivered`);
      const copiedThrough = seqOf(copyForTruncate(path, 5)) ?? -1;
      truncateAfterCopy(path);
      const truncatedFrom = seqOf(await firstLineOf(path)) ?? -1;
      windows.push({ copiedThrough, truncatedFrom });
    }
    await writer.done;
    await out.until(seen(out, TOTAL - 1), 'the last line delivered');

    const delivered = seqsOf(out.lines);
    expect(new Set(delivered).size).toBe(delivered.length);
    expect([...delivered].sort((a, b) => a - b)).toEqual(delivered);
    const inWindow = (n: number): boolean => windows.some((w) => n > w.copiedThrough && n < w.truncatedFrom);
    const got = new Set(delivered);
    expect(range(0, TOTAL).filter((n) => !got.has(n) && !inWindow(n))).toEqual([]);
    for (const w of windows) {
      expect(w.truncatedFrom).toBeGreaterThan(w.copiedThrough);
      // Within a window the tailer read a prefix, up to its last read before the truncation.
      const read = delivered.filter((n) => n > w.copiedThrough && n < w.truncatedFrom);
      expect(read).toEqual(range(w.copiedThrough + 1, w.copiedThrough + 1 + read.length));
    }
    expect(source.counters.reopens).toBe(3);
  });

  it('after a crash and restart loses nothing and repeats only the batches that were not committed', async () => {
    let committing = true;
    const first = await startTailer(() => committing);
    writer = await startNumberedLogWriter({ path, linesPerSecond: RATE, total: TOTAL, split: true });

    await first.out.untilLines(2000);
    await writer.rotateItself();
    await first.out.untilLines(4000);
    // The crash: batches keep being delivered but their commits never happen.
    committing = false;
    const committedBatches = first.out.batches.length;
    await first.out.until(
      () => first.out.batches.length >= committedBatches + 3,
      'three uncommitted batches',
    );
    await first.source.stop();
    const lastCommitted = first.out.batches[committedBatches - 1]?.to;
    const uncommitted = seqsOf(first.out.batches.slice(committedBatches).flatMap((b) => b.lines));
    expect(uncommitted.length).toBeGreaterThan(0);
    // While kernwatch is down, auditd rotates: the checkpointed file is now audit.log.1.
    await writer.rotateItself();
    expect(String(statSync(`${path}.1`, { bigint: true }).ino)).toBe(lastCommitted?.inode);

    const second = await startTailer();
    await second.out.until(seen(second.out, 9000), 'line 9000 delivered after the restart');
    await writer.rotateItself();
    await writer.done;
    await second.out.until(seen(second.out, TOTAL - 1), 'the last line delivered after the restart');

    expect(second.out.batches[0]?.from).toEqual({ ...lastCommitted, path: `${path}.1` });
    const before = seqsOf(first.out.lines);
    const after = seqsOf(second.out.lines);
    expect(before).toEqual(range(0, before.length));
    expect(after).toEqual(range(after[0] ?? -1, TOTAL));
    const repeated = after.filter((n) => before.includes(n));
    expect(repeated).toEqual(uncommitted);
    expect(numberedLine(TOTAL - 1)).toBe(second.out.lines.at(-1));
  });
});
