import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import {
  ACTION_SCHEMA,
  actionEventsToNdjson,
  actionEventToJson,
  type ActionEvent,
} from '../../../agent/responders/action-event.js';
import { eventsToNdjson } from '../../../agent/sinks/event-json.js';
import { FileSink } from '../../../agent/sinks/file/file-sink.js';
import { StdoutSink } from '../../../agent/sinks/stdout/stdout-sink.js';
import { inPod, podRef, seccompAt } from './response-test-events.js';

// The action record's bytes are a public contract: every sink must write the same line for an event,
// keys in the documented order, absent optional fields left out.

/** A seccomp LOG of getppid by container 1 of pod web-1 in prod-web (a parsed corpus record). */
const denial = inPod(seccompAt(0, 1), podRef(1));
const POD_UID = '00000000-0000-4000-8000-000000000001';
const CONTAINER_ID = 'ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc1';

/** A dry-run decision with none of the optional fields. */
function dryRun(trigger: KernwatchEvent = denial): ActionEvent {
  return {
    schema: ACTION_SCHEMA,
    id: `${trigger.id}/getppid-in-prod/nft_quarantine`,
    time: '2026-11-28T11:38:47.250Z',
    node: 'test-node',
    rule: 'getppid-in-prod',
    action: 'nft_quarantine',
    decision: 'dry_run',
    detail: 'dry-run: would quarantine web-1',
    pod: { name: 'web-1', namespace: 'prod-web', uid: POD_UID },
    trigger: {
      eventId: trigger.id,
      kind: 'seccomp',
      outcome: 'logged',
      count: 5,
      withinMs: 10_000,
      syscall: 'getppid',
    },
  };
}

/** Every field set, reason and error together: not one real decision, but the whole key order at once. */
function everyField(): ActionEvent {
  return {
    error: 'nft exited with 1',
    target: { addresses: ['10.244.1.7'], expiresAt: '2026-11-28T12:38:47.250Z' },
    trigger: dryRun().trigger,
    container: { id: CONTAINER_ID, name: 'main', runtime: 'containerd' },
    pod: { name: 'web-1', namespace: 'prod-web', uid: POD_UID },
    repeats: 7,
    detail: 'everything',
    reason: 'cooldown',
    decision: 'failed',
    action: 'nft_quarantine',
    rule: 'getppid-in-prod',
    node: 'test-node',
    time: '2026-11-28T11:38:47.250Z',
    id: `${denial.id}/getppid-in-prod/nft_quarantine`,
    schema: ACTION_SCHEMA,
  };
}

/** A refused decision for `trigger`, standing for `repeats` folded ones. */
function refused(trigger: KernwatchEvent, repeats: number): ActionEvent {
  const e: ActionEvent = {
    ...dryRun(trigger),
    action: 'delete_pod',
    id: `${trigger.id}/getppid-in-prod/delete_pod`,
    decision: 'refused',
    reason: 'cooldown',
    detail: `web-1 is in its cooldown after a response; refused ${String(repeats)} times`,
  };
  if (repeats > 0) e.repeats = repeats;
  return e;
}

describe('actionEventToJson', () => {
  test('a decision without optional fields: exactly these bytes', () => {
    expect(actionEventToJson(dryRun())).toBe(
      '{"schema":"kernwatch.v1.action",' +
        '"id":"test-node:1795865927.000:1/0/getppid-in-prod/nft_quarantine",' +
        '"time":"2026-11-28T11:38:47.250Z","node":"test-node","rule":"getppid-in-prod",' +
        '"action":"nft_quarantine","decision":"dry_run","detail":"dry-run: would quarantine web-1",' +
        '"pod":{"name":"web-1","namespace":"prod-web","uid":"00000000-0000-4000-8000-000000000001"},' +
        '"trigger":{"eventId":"test-node:1795865927.000:1/0","kind":"seccomp","outcome":"logged",' +
        '"count":5,"withinMs":10000,"syscall":"getppid"}}',
    );
  });

  test('keys in the documented order, whatever the order of the object', () => {
    const json = JSON.parse(actionEventToJson(everyField())) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual([
      'schema',
      'id',
      'time',
      'node',
      'rule',
      'action',
      'decision',
      'reason',
      'detail',
      'repeats',
      'pod',
      'container',
      'trigger',
      'target',
      'error',
    ]);
    expect(json).toEqual(everyField());
  });

  test('every field set: exactly these bytes', () => {
    expect(actionEventToJson(everyField())).toBe(
      '{"schema":"kernwatch.v1.action",' +
        '"id":"test-node:1795865927.000:1/0/getppid-in-prod/nft_quarantine",' +
        '"time":"2026-11-28T11:38:47.250Z","node":"test-node","rule":"getppid-in-prod",' +
        '"action":"nft_quarantine","decision":"failed","reason":"cooldown","detail":"everything",' +
        '"repeats":7,' +
        '"pod":{"name":"web-1","namespace":"prod-web","uid":"00000000-0000-4000-8000-000000000001"},' +
        `"container":{"id":"${CONTAINER_ID}","name":"main","runtime":"containerd"},` +
        '"trigger":{"eventId":"test-node:1795865927.000:1/0","kind":"seccomp","outcome":"logged",' +
        '"count":5,"withinMs":10000,"syscall":"getppid"},' +
        '"target":{"addresses":["10.244.1.7"],"expiresAt":"2026-11-28T12:38:47.250Z"},' +
        '"error":"nft exited with 1"}',
    );
  });

  test('absent optional fields are omitted, never null', () => {
    const text = actionEventToJson(dryRun());
    expect(text).not.toContain('null');
    const json = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual([
      'schema',
      'id',
      'time',
      'node',
      'rule',
      'action',
      'decision',
      'detail',
      'pod',
      'trigger',
    ]);
  });

  test('a refusal: reason after decision, repeats after detail', () => {
    const json = JSON.parse(actionEventToJson(refused(denial, 3))) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual([
      'schema',
      'id',
      'time',
      'node',
      'rule',
      'action',
      'decision',
      'reason',
      'detail',
      'repeats',
      'pod',
      'trigger',
    ]);
    expect(json.reason).toBe('cooldown');
    expect(json.repeats).toBe(3);
  });

  test('repeats 0 is written when set (the runner leaves it out instead)', () => {
    const e: ActionEvent = { ...dryRun(), repeats: 0 };
    expect(actionEventToJson(e)).toContain('"detail":"dry-run: would quarantine web-1","repeats":0,"pod":');
  });
});

describe('actionEventsToNdjson', () => {
  test('one line per event, each ending in a newline', () => {
    const a = dryRun();
    const b = refused(denial, 2);
    const text = actionEventsToNdjson([a, b]);
    expect(text).toBe(`${actionEventToJson(a)}\n${actionEventToJson(b)}\n`);
    expect(text.split('\n')).toHaveLength(3);
    expect(text.endsWith('\n')).toBe(true);
  });

  test('no events: no bytes', () => {
    expect(actionEventsToNdjson([])).toBe('');
  });
});

describe('StdoutSink.deliverActions', () => {
  function recording(): { out: PassThrough; chunks: Buffer[]; text: () => string } {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
    });
    return { out, chunks, text: () => Buffer.concat(chunks).toString('utf8') };
  }

  test('writes exactly the NDJSON of the batch, in one write', async () => {
    const { out, chunks, text } = recording();
    const sink = new StdoutSink(out);
    const batch = [dryRun(), refused(denial, 0), refused(denial, 4)];
    await sink.deliverActions(batch);
    expect(text()).toBe(actionEventsToNdjson(batch));
    expect(chunks).toHaveLength(1);
    expect(sink.healthy()).toBe(true);
  });

  test('an empty batch writes nothing', async () => {
    const { out, chunks } = recording();
    await new StdoutSink(out).deliverActions([]);
    expect(chunks).toHaveLength(0);
  });

  test('beside denials, in the order delivered', async () => {
    const { out, text } = recording();
    const sink = new StdoutSink(out);
    const second = inPod(seccompAt(5, 2), podRef(1));
    await Promise.all([
      sink.deliver([denial]),
      sink.deliverActions([dryRun(denial)]),
      sink.deliver([second]),
      sink.deliverActions([refused(second, 1)]),
    ]);
    expect(text()).toBe(
      eventsToNdjson([denial]) +
        actionEventsToNdjson([dryRun(denial)]) +
        eventsToNdjson([second]) +
        actionEventsToNdjson([refused(second, 1)]),
    );
  });
});

describe('FileSink.deliverActions', () => {
  let dir: string;
  let path: string;
  let sink: FileSink;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kernwatch-action-file-'));
    await mkdir(join(dir, 'out'));
    path = join(dir, 'out', 'events.ndjson');
    sink = new FileSink(path);
  });
  afterEach(async () => {
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('appends the NDJSON of the batch to what the file held', async () => {
    await writeFile(path, '{"earlier":"line"}\n');
    await sink.open();
    const batch = [dryRun(), refused(denial, 2)];
    await sink.deliverActions(batch);
    await sink.deliverActions([]);
    expect(await readFile(path, 'utf8')).toBe(`{"earlier":"line"}\n${actionEventsToNdjson(batch)}`);
    expect(sink.healthy()).toBe(true);
  });

  test('opens the file itself when not opened first', async () => {
    await sink.deliverActions([dryRun()]);
    expect(await readFile(path, 'utf8')).toBe(actionEventsToNdjson([dryRun()]));
  });

  test('appends started together land whole and in call order, denials and actions interleaved', async () => {
    // Batches above 512 KiB: Node appends them in several writes, which unserialised appends would
    // interleave.
    const denials = Array.from({ length: 1500 }, (_, i) => inPod(seccompAt(i, 1000 + i), podRef(1)));
    const moreDenials = denials.slice(0, 700).map((e) => inPod(e, podRef(2, 'prod-api')));
    const actions = denials.slice(0, 1200).map((e, i) => refused(e, i));
    const fewActions = [dryRun(denials[0] ?? denial), refused(denials[1] ?? denial, 9)];
    expect(eventsToNdjson(denials).length).toBeGreaterThan(1024 * 1024);
    expect(actionEventsToNdjson(actions).length).toBeGreaterThan(512 * 1024);
    await sink.open();
    await Promise.all([
      sink.deliver(denials),
      sink.deliverActions(actions),
      sink.deliver(moreDenials),
      sink.deliverActions(fewActions),
      sink.deliver([denial]),
    ]);
    const expected =
      eventsToNdjson(denials) +
      actionEventsToNdjson(actions) +
      eventsToNdjson(moreDenials) +
      actionEventsToNdjson(fewActions) +
      eventsToNdjson([denial]);
    const written = await readFile(path, 'utf8');
    const ids = (text: string): string[] =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids(written)).toEqual(ids(expected));
    expect(written.length).toBe(expected.length);
    expect(written === expected).toBe(true); // the bytes (a diff of 2 MB would be no help)
  });
});
