import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { DiskSpool } from '../../../agent/sinks/nats/disk-spool.js';
import type { SpoolMessage } from '../../../agent/sinks/nats/spool-record.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';

// The spool on a real file system: order, crash recovery (torn appends, the saved replay position) and
// its bound. Messages carry real-sized event payloads (~1.3 KB, as a SECCOMP event's JSON).

const root = mkdtempSync(join(tmpdir(), 'kernwatch-spool-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});
let dirs = 0;
const newDir = (): string => join(root, String(dirs++));

function message(n: number, size = 1300): SpoolMessage {
  const body = `{"id":"node-a:1795865933.120:${String(n)}/0","pad":"${'x'.repeat(size)}"}`;
  return {
    subject: 'kernwatch.v1.denial.node-a.seccomp._host',
    id: `node-a:1795865933.120:${String(n)}/0`,
    auditMs: 1795865933120 + n,
    data: Buffer.from(body),
  };
}
const range = (from: number, count: number): SpoolMessage[] =>
  Array.from({ length: count }, (_, i) => message(from + i));

/** Reads and consumes everything, as the replayer does, returning the ids in order. */
async function drain(spool: DiskSpool, chunk = 100): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const c = await spool.read(chunk);
    if (c === undefined) return ids;
    ids.push(...c.messages.map((m) => m.id));
    await spool.consume(c, c.messages.length);
  }
}

const open = (dir: string, maxBytes = 64 * 1024 * 1024, segmentBytes?: number) =>
  DiskSpool.open({
    dir,
    maxBytes,
    log: silentLogger(),
    ...(segmentBytes === undefined ? {} : { segmentBytes }),
  });

describe('the disk spool', () => {
  test('gives back what was appended, in order, across segments and reads that split records', async () => {
    const spool = await open(newDir(), 64 * 1024 * 1024, 256 * 1024);
    const all = range(0, 3000); // ~4 MB: several segments, reads cut records at 1 MiB boundaries
    for (let i = 0; i < all.length; i += 250) await spool.append(all.slice(i, i + 250));
    expect(spool.pendingMessages).toBe(3000);
    const c = await spool.read(10);
    expect(c?.messages.map((m) => m.id)).toEqual(all.slice(0, 10).map((m) => m.id));
    expect(Buffer.from(c?.messages[3]?.data ?? []).equals(Buffer.from(all[3]?.data ?? []))).toBe(true);
    expect(c?.messages[3]?.auditMs).toBe(all[3]?.auditMs);
    expect(await drain(spool, 1000)).toEqual(all.map((m) => m.id));
    expect(spool.isEmpty).toBe(true);
    await spool.close();
  });

  test('only what was consumed is gone; a partial consume resumes at the next message', async () => {
    const spool = await open(newDir());
    await spool.append(range(0, 10));
    const c = await spool.read(10);
    if (c === undefined) throw new Error('nothing read');
    await spool.consume(c, 4);
    expect(spool.pendingMessages).toBe(6);
    expect((await spool.read(100))?.messages.map((m) => m.id)).toEqual(range(4, 6).map((m) => m.id));
  });

  test('a restart resumes at the saved replay position, and consumed segments are deleted', async () => {
    const dir = newDir();
    const first = await open(dir, 64 * 1024 * 1024, 64 * 1024);
    await first.append(range(0, 200));
    const c = await first.read(120);
    if (c === undefined) throw new Error('nothing read');
    await first.consume(c, c.messages.length);
    const consumed = c.messages.length;
    await first.close();
    const second = await open(dir, 64 * 1024 * 1024, 64 * 1024);
    expect(second.counters.recoveredMessages).toBe(200 - consumed);
    await second.append(range(200, 5));
    expect(await drain(second)).toEqual(range(consumed, 205 - consumed).map((m) => m.id));
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg'))).toEqual([]);
  });

  test('a torn append at the end of a segment (a crash mid-write) is cut off, and what came before is kept', async () => {
    const dir = newDir();
    const first = await open(dir);
    await first.append(range(0, 20));
    await first.close();
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.seg'));
    if (segment === undefined) throw new Error('no segment');
    const path = join(dir, segment);
    const size = statSync(path).size;
    appendFileSync(path, Buffer.from([0x40, 0x05, 0, 0, 1, 2, 3, 4, 5, 6, 7])); // a header and 7 bytes of body
    const second = await open(dir);
    expect(second.counters.truncatedBytes).toBe(11);
    expect(statSync(path).size).toBe(size);
    expect(await drain(second)).toEqual(range(0, 20).map((m) => m.id));
  });

  test('a damaged cursor file replays the head segment from its start rather than losing anything', async () => {
    const dir = newDir();
    const first = await open(dir);
    await first.append(range(0, 10));
    const c = await first.read(5);
    if (c === undefined) throw new Error('nothing read');
    await first.consume(c, 5);
    await first.close();
    writeFileSync(join(dir, 'cursor.json'), '{"segm');
    const second = await open(dir);
    expect(await drain(second)).toEqual(range(0, 10).map((m) => m.id));
  });

  test('when full, whole segments go from the head: the newest events stay and the loss is counted', async () => {
    const spool = await open(newDir(), 256 * 1024, 64 * 1024);
    const all = range(0, 1000); // ~1.4 MB into 256 KiB
    for (let i = 0; i < all.length; i += 20) await spool.append(all.slice(i, i + 20));
    const dropped = spool.counters.droppedMessages;
    expect(dropped).toBeGreaterThan(700);
    expect(spool.diskBytes).toBeLessThanOrEqual(256 * 1024);
    expect(spool.pendingMessages).toBe(1000 - dropped);
    expect(await drain(spool)).toEqual(all.slice(dropped).map((m) => m.id));
  });

  test('a consume for a segment dropped meanwhile is ignored', async () => {
    const spool = await open(newDir(), 256 * 1024, 64 * 1024);
    await spool.append(range(0, 40));
    const stale = await spool.read(10);
    if (stale === undefined) throw new Error('nothing read');
    for (let i = 40; i < 1000; i += 20) await spool.append(range(i, 20));
    await spool.consume(stale, 10);
    expect(spool.counters.replayedMessages).toBe(0);
    const next = await spool.read(1);
    expect(next?.messages[0]?.id).toBe(message(spool.counters.droppedMessages).id);
  });
});
