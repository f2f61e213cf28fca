import { describe, expect, test } from 'vitest';
import { BatchQueue, TAKE_RESULT } from '../../../agent/pipeline/batch-queue.js';
import type { RawBatch } from '../../../agent/sources/raw-batch.js';

const batch = (n: number, lines = 1): RawBatch<number> => ({
  lines: Array.from({ length: lines }, (_, i) => `line ${String(n)}.${String(i)}`),
  from: n,
  to: n + 1,
});

describe('the batch queue between a source and its chain', () => {
  test('batches come out in the order they went in', async () => {
    const q = new BatchQueue<number>(4, 100);
    await q.put(batch(1));
    await q.put(batch(2));
    expect(((await q.take(10)) as RawBatch<number>).from).toBe(1);
    expect(((await q.take(10)) as RawBatch<number>).from).toBe(2);
  });

  test('put waits while the queue is full and goes on once a batch was taken', async () => {
    const q = new BatchQueue<number>(1, 100);
    await q.put(batch(1));
    let released = false;
    const waiting = q.put(batch(2)).then(() => {
      released = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(released).toBe(false);
    await q.take(10);
    await waiting;
    expect(released).toBe(true);
    expect(q.depthBatches).toBe(1);
  });

  test('the line bound counts as well as the batch bound', () => {
    const q = new BatchQueue<number>(10, 5);
    expect(q.offer(batch(1, 4))).toBe(true);
    expect(q.offer(batch(2, 2))).toBe(false);
    expect(q.offer(batch(3, 1))).toBe(true);
    expect(q.depthLines).toBe(5);
  });

  test('offer refuses when full and counts what it refused', () => {
    const q = new BatchQueue<number>(1, 100);
    expect(q.offer(batch(1))).toBe(true);
    expect(q.offer(batch(2))).toBe(false);
    expect(q.refused).toBe(1);
  });

  test('an empty queue takes one batch larger than the line bound rather than block forever', () => {
    const q = new BatchQueue<number>(2, 3);
    expect(q.offer(batch(1, 10))).toBe(true);
  });

  test('take times out when no batch comes', async () => {
    const q = new BatchQueue<number>();
    expect(await q.take(5)).toBe(TAKE_RESULT.timeout);
  });

  test('a waiting take gets the next batch put', async () => {
    const q = new BatchQueue<number>();
    const taken = q.take(1000);
    await q.put(batch(7));
    expect(((await taken) as RawBatch<number>).from).toBe(7);
  });

  test('after close the queued batches drain, then take says closed', async () => {
    const q = new BatchQueue<number>(1, 100);
    await q.put(batch(1));
    const blocked = q.put(batch(2));
    q.close();
    await blocked;
    expect(((await q.take(10)) as RawBatch<number>).from).toBe(1);
    expect(((await q.take(10)) as RawBatch<number>).from).toBe(2);
    expect(await q.take(10)).toBe(TAKE_RESULT.closed);
  });

  test('close wakes a take that is waiting on an empty queue', async () => {
    const q = new BatchQueue<number>();
    const taken = q.take(10_000);
    q.close();
    expect(await taken).toBe(TAKE_RESULT.closed);
  });
});
