import { describe, expect, test } from 'vitest';
import type { EventSource, IdentifiedDenial, KernwatchEvent } from '../../../agent/events.js';
import { ATTRIBUTION, buildEvent } from '../../../agent/events.js';
import { BatchQueue } from '../../../agent/pipeline/batch-queue.js';
import { NoiseFilter } from '../../../agent/pipeline/noise/noise-filter.js';
import { RecentEventIds } from '../../../agent/pipeline/recent-event-ids.js';
import { SourceChain, type DenialAttributor } from '../../../agent/pipeline/source-chain.js';
import type { EventSink } from '../../../agent/sinks/event-sink.js';
import { newSourceCounters, type LiveSource, type RawBatch } from '../../../agent/sources/raw-batch.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';

// The chain's promise: a source's checkpoint moves only over lines whose events every sink has. These
// tests drive a chain with batches of real record lines and watch the positions it commits.

// A real SELinux AVC record (corpus: gh-fedora-selinux-selinux-policy-1828.log) and the SYSCALL and EOE
// records of its event, made from a real SYSCALL line (corpus: laurel-shell-proc-trace.log) with the
// AVC's stamp, as auditd writes them together.
const AVC =
  'type=AVC msg=audit(1691606009.904:685): avc:  denied  { ioctl } for  pid=7103 comm=536F636B65742050726F63657373 path="socket:[27425]" dev="sockfs" ino=27425 ioctlcmd=0x5401 scontext=unconfined_u:unconfined_r:mozilla_t:s0-s0:c0.c1023 tcontext=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 tclass=unix_stream_socket permissive=1';
const SYSCALL =
  'type=SYSCALL msg=audit(1691606009.904:685): arch=c000003e syscall=16 success=yes exit=0 a0=3 a1=5401 a2=7ffd a3=0 items=0 ppid=3505 pid=7103 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="Socket Process" exe="/usr/lib64/firefox/firefox" key=(null)';
const EOE = 'type=EOE msg=audit(1691606009.904:685): ';
const SECCOMP = (serial: number): string =>
  `type=SECCOMP msg=audit(1795865933.120:${String(serial)}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=8639 comm="w" exe="/usr/local/bin/seccomp-demo" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7fbf4fb4d829 code=0x7ffc0000`;
const NOISE =
  "type=USER_END msg=audit(1795865933.121:9): pid=1 uid=0 auid=0 ses=1 msg='op=PAM:session_close res=success'";

class RecordingSource implements LiveSource<number> {
  readonly name = 'test:positions';
  readonly kind = 'auditd' as const;
  readonly counters = newSourceCounters();
  readonly commits: number[] = [];
  failCommits = 0;
  start(): Promise<void> {
    return Promise.resolve();
  }
  commit(position: number): Promise<void> {
    if (this.failCommits > 0) {
      this.failCommits--;
      return Promise.reject(new Error('disk full'));
    }
    this.commits.push(position);
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

class RecordingSink implements EventSink {
  readonly name = 'memory';
  readonly events: KernwatchEvent[] = [];
  failNext = 0;
  deliver(events: readonly KernwatchEvent[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error('refused'));
    }
    this.events.push(...events);
    return Promise.resolve();
  }
  healthy(): boolean {
    return true;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const unresolved: DenialAttributor = {
  attribute: (denials: readonly IdentifiedDenial[], source: EventSource) =>
    Promise.resolve(
      denials.map((d) => buildEvent(d, { node: 'n', source, attribution: ATTRIBUTION.unresolved })),
    ),
};

function chainOf(
  options: { holdMs?: number; recentIds?: RecentEventIds; sink?: RecordingSink; noise?: NoiseFilter } = {},
) {
  const source = new RecordingSource();
  const queue = new BatchQueue<number>();
  const sink = options.sink ?? new RecordingSink();
  const chain = new SourceChain<number>({
    source,
    queue,
    attributor: unresolved,
    sinks: [sink],
    holdMs: options.holdMs ?? 10_000,
    log: silentLogger(),
    ...(options.recentIds === undefined ? {} : { recentIds: options.recentIds }),
    ...(options.noise === undefined ? {} : { noise: options.noise }),
  });
  const done = chain.run();
  return { source, queue, sink, chain, done };
}

const batch = (from: number, lines: string[]): RawBatch<number> => ({ lines, from, to: from + lines.length });
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

describe('the source chain', () => {
  test('an event ended by EOE is delivered with its siblings and the checkpoint moves to the batch end', async () => {
    const { source, queue, sink, done } = chainOf();
    await queue.put(batch(0, [NOISE, AVC, SYSCALL, EOE]));
    await settle();
    expect(sink.events).toHaveLength(1);
    expect(sink.events[0]?.process.ppid).toBe(3505);
    expect(source.commits).toEqual([4]);
    queue.close();
    await done;
  });

  test('while an event waits for its siblings the checkpoint stays at the start of the batch holding it', async () => {
    const { source, queue, sink, done } = chainOf();
    await queue.put(batch(0, [NOISE, NOISE]));
    await settle();
    expect(source.commits).toEqual([2]);
    await queue.put(batch(2, [NOISE, AVC]));
    await settle();
    await queue.put(batch(4, [NOISE]));
    await settle();
    // The AVC (line 4) is still open: a restart must read batch 2..4 again, so nothing moves past 2.
    expect(sink.events).toHaveLength(0);
    expect(source.commits).toEqual([2]);
    await queue.put(batch(5, [SYSCALL, EOE]));
    await settle();
    expect(sink.events).toHaveLength(1);
    expect(sink.events[0]?.raw).toHaveLength(2);
    expect(source.commits).toEqual([2, 7]);
    queue.close();
    await done;
  });

  test('a record whose siblings never come is delivered after the hold time, then the checkpoint moves', async () => {
    const { source, queue, sink, done } = chainOf({ holdMs: 20 });
    await queue.put(batch(0, [SECCOMP(1)]));
    await new Promise((r) => setTimeout(r, 120));
    expect(sink.events.map((e) => e.auditId)).toEqual(['1795865933.120:1']);
    // Held: the checkpoint stays before the record (0); delivered: it moves past it (1).
    expect(source.commits).toEqual([0, 1]);
    queue.close();
    await done;
  });

  test('a sink that refuses a batch gets it again, and the checkpoint waits for its success', async () => {
    const sink = new RecordingSink();
    sink.failNext = 1;
    const { source, queue, done } = chainOf({ sink, holdMs: 5 });
    await queue.put(batch(0, [SECCOMP(1), SECCOMP(2)]));
    await settle();
    expect(sink.events).toHaveLength(0);
    expect(source.commits).toEqual([0]);
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.events).toHaveLength(2);
    expect(source.commits).toEqual([0, 2]);
    expect(sink.events.map((e) => e.auditId)).toEqual(['1795865933.120:1', '1795865933.120:2']);
    queue.close();
    await done;
  });

  test('a checkpoint that cannot be saved costs a retry with the next batch, not the chain', async () => {
    const { source, queue, sink, chain, done } = chainOf({ holdMs: 5 });
    source.failCommits = 1;
    await queue.put(batch(0, [SECCOMP(1)]));
    await settle();
    await queue.put(batch(1, [SECCOMP(2)]));
    await settle();
    expect(sink.events).toHaveLength(2);
    // The first save failed; later ones went through, and the last names the end of the input.
    expect(chain.counters.commitFailures).toBe(1);
    expect(source.commits.at(-1)).toBe(2);
    queue.close();
    await done;
  });

  test('at the end of its input the chain emits what it held and commits the last position', async () => {
    const { source, queue, sink, done } = chainOf();
    await queue.put(batch(0, [NOISE, AVC]));
    queue.close();
    await done;
    expect(sink.events).toHaveLength(1);
    expect(source.commits.at(-1)).toBe(2);
  });

  test('chains that share recent ids deliver a record seen by both once', async () => {
    const recentIds = new RecentEventIds();
    const sink = new RecordingSink();
    const a = chainOf({ recentIds, sink, holdMs: 5 });
    const b = chainOf({ recentIds, sink, holdMs: 5 });
    await a.queue.put(batch(0, [SECCOMP(7)]));
    await settle();
    await b.queue.put(batch(0, [SECCOMP(7), SECCOMP(8)]));
    await settle();
    expect(sink.events.map((e) => e.auditId)).toEqual(['1795865933.120:7', '1795865933.120:8']);
    expect(b.chain.counters.duplicatesDropped).toBe(1);
    a.queue.close();
    b.queue.close();
    await Promise.all([a.done, b.done]);
  });

  test('with noise control: the first denial goes out at once, identical ones as one event with their count, and the checkpoint waits for it', async () => {
    const noise = new NoiseFilter({ coalesceWindowMs: 200, perContainerPerSecond: 0 });
    const { source, queue, sink, done } = chainOf({ holdMs: 5, noise });
    // Five identical denials of one process within 4 ms of audit time (serials 1..5).
    await queue.put(batch(0, [SECCOMP(1), SECCOMP(2), SECCOMP(3), SECCOMP(4), SECCOMP(5)]));
    await new Promise((r) => setTimeout(r, 60));
    expect(sink.events.map((e) => [e.auditId, e.count])).toEqual([['1795865933.120:1', 1]]);
    // The four held denials are not delivered: a restart must read them again, from the opener's line.
    expect(source.commits.every((c) => c <= 0)).toBe(true);
    // The stream is idle: the wall clock closes the window after 200 ms.
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.events.map((e) => [e.auditId, e.count, e.noise?.reason])).toEqual([
      ['1795865933.120:1', 1, undefined],
      ['1795865933.120:2', 4, 'coalesced'],
    ]);
    expect(source.commits[source.commits.length - 1]).toBe(5);
    queue.close();
    await done;
  });

  test('with noise control: what is held is delivered at shutdown', async () => {
    const noise = new NoiseFilter({ coalesceWindowMs: 60_000, perContainerPerSecond: 0 });
    const { source, queue, sink, done } = chainOf({ holdMs: 5, noise });
    await queue.put(batch(0, [SECCOMP(1), SECCOMP(2), SECCOMP(3)]));
    await new Promise((r) => setTimeout(r, 50));
    queue.close();
    await done;
    expect(sink.events.map((e) => e.count)).toEqual([1, 2]);
    expect(source.commits[source.commits.length - 1]).toBe(3);
  });
});
