import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import {
  ACTION_SCHEMA,
  actionEventToJson,
  type ActionEvent,
} from '../../../agent/responders/action-event.js';
import { NatsSink } from '../../../agent/sinks/nats/nats-sink.js';
import { actionSchemaErrors, denialSchemaErrors } from '../../helpers/json-schema.js';
import { NatsServer, hasNatsServer } from '../../helpers/nats-server.js';
import { readStream, type StoredMessage } from '../../helpers/nats-stream.js';
import { parseText } from '../../helpers/parse-text.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';
import { waitUntil } from '../../helpers/wait.js';

// Action events through the NATS sink against Debian's nats-server 2.9: their subject, their dedup id,
// and the same spool as denials across an outage, in one order with them.

const skip = missingPrerequisite([hasNatsServer]);

/** A node name that is not one subject token: its dots must not add tokens. */
const NODE = 'ip-10-0-0-7.ec2.internal';
const ACTION_SUBJECT = 'kernwatch.v1.action.ip-10-0-0-7_ec2_internal';
const DENIAL_SUBJECT = 'kernwatch.v1.denial.ip-10-0-0-7_ec2_internal.seccomp._host';

// Real SECCOMP records (corpus: kernel618-auditd309-enriched-seccomp-all-actions.log, raw form), one per
// serial so every event has its own id.
const seccompLine = (serial: number): string =>
  `type=SECCOMP msg=audit(1795865933.120:${String(serial)}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=8639 comm=77206C6F67 exe="/usr/local/bin/seccomp-demo" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7fbf4fb4d829 code=0x7ffc0000`;

/** Denials of `NODE`, audit serials from .. from + count - 1. */
function denials(from: number, count: number): KernwatchEvent[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(seccompLine(from + i));
  return parseText(`${lines.join('\n')}\n`, {}, NODE).events;
}

/** The decision of rule `quarantine-getppid` on `trigger`, as the runner builds it. */
function actionOn(trigger: KernwatchEvent, decision: 'taken' | 'refused' = 'taken'): ActionEvent {
  const e: ActionEvent = {
    schema: ACTION_SCHEMA,
    id: `${trigger.id}/quarantine-getppid/nft_quarantine/${decision === 'taken' ? 'taken' : 'refused:cooldown'}`,
    time: '2026-11-28T11:38:53.500Z',
    node: trigger.node,
    rule: 'quarantine-getppid',
    action: 'nft_quarantine',
    decision,
    detail: decision === 'taken' ? 'quarantined web-1 (10.244.1.7)' : 'web-1 is in its cooldown',
    pod: { name: 'web-1', namespace: 'prod-web', uid: '00000000-0000-4000-8000-000000000001' },
    trigger: {
      eventId: trigger.id,
      kind: trigger.kind,
      outcome: trigger.outcome,
      count: 3,
      withinMs: 10_000,
      syscall: 'getppid',
    },
  };
  if (decision === 'refused') e.reason = 'cooldown';
  else e.target = { addresses: ['10.244.1.7'], expiresAt: '2026-11-28T12:38:53.500Z' };
  return e;
}

/** What a stream message says: its subject and Nats-Msg-Id. */
function routed(stored: readonly StoredMessage[]): { subject: string; msgId: string | undefined }[] {
  return stored.map((m) => ({ subject: m.subject, msgId: m.msgId }));
}

function asDenials(events: readonly KernwatchEvent[]): { subject: string; msgId: string }[] {
  return events.map((e) => ({ subject: DENIAL_SUBJECT, msgId: e.id }));
}

function asActions(events: readonly ActionEvent[]): { subject: string; msgId: string }[] {
  return events.map((e) => ({ subject: ACTION_SUBJECT, msgId: e.id }));
}

describe.skipIf(skip !== undefined)('NATS sink: action events, with a real nats-server', () => {
  let dir: string;
  const servers: NatsServer[] = [];
  const sinks: NatsSink[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kernwatch-nats-actions-'));
  });
  afterEach(async () => {
    for (const s of sinks.splice(0)) await s.close();
    for (const s of servers.splice(0)) await s.remove();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function server(): Promise<NatsServer> {
    const s = await NatsServer.start();
    servers.push(s);
    return s;
  }

  async function sink(url: string): Promise<NatsSink> {
    const s = new NatsSink({
      connection: { url },
      stream: { name: 'KERNWATCH', duplicateWindowMs: 120_000, maxAgeMs: 0 },
      spoolDir: join(dir, `spool-${String(sinks.length)}-${String(Date.now())}`),
      spoolMaxBytes: 64 * 1024 * 1024,
      maxInFlight: 256,
      ackTimeoutMs: 2000,
      node: NODE,
      log: pino({ level: 'silent' }),
    });
    await s.open();
    sinks.push(s);
    return s;
  }

  test('each action event on kernwatch.v1.action.<node>, its id as Nats-Msg-Id, stored once', async () => {
    const nats = await server();
    const s = await sink(nats.url);
    await waitUntil('the stream to be set up', () => s.isPublishing);
    const triggers = denials(100, 3);
    const actions = triggers.map((t) => actionOn(t));
    await s.deliverActions(actions);
    // The same events again, as after a re-read of the denials: JetStream drops them by their id.
    await s.deliverActions(actions);
    // Another decision under an id already stored is dropped too: the stream keeps the first record.
    const first = actions[0];
    if (first === undefined) throw new Error('no action');
    await s.deliverActions([{ ...first, decision: 'refused', reason: 'cooldown', detail: 'changed' }]);
    await s.deliverActions([]);

    const stored = await readStream(nats.url);
    expect(routed(stored)).toEqual(asActions(actions));
    expect(stored.map((m) => m.msgId)).toEqual([
      `${NODE}:1795865933.120:100/0/quarantine-getppid/nft_quarantine/taken`,
      `${NODE}:1795865933.120:101/0/quarantine-getppid/nft_quarantine/taken`,
      `${NODE}:1795865933.120:102/0/quarantine-getppid/nft_quarantine/taken`,
    ]);
    // The message is the event's JSON, keys in the documented order.
    expect(stored.map((m) => JSON.stringify(m.json))).toEqual(actions.map(actionEventToJson));
    expect(stored[0]?.json).toMatchObject({ decision: 'taken', detail: 'quarantined web-1 (10.244.1.7)' });
    expect(s.counters).toEqual({
      published: 7,
      duplicates: 4,
      spooled: 0,
      publishFailures: 0,
      reconnects: 0,
      tooLarge: 0,
    });
  });

  test('a denial and the action it triggered are two messages, not duplicates of each other', async () => {
    const nats = await server();
    const s = await sink(nats.url);
    await waitUntil('the stream to be set up', () => s.isPublishing);
    const [trigger] = denials(200, 1);
    if (trigger === undefined) throw new Error('no denial');
    const action = actionOn(trigger);
    await s.deliver([trigger]);
    await s.deliverActions([action]);
    // Denial and action ids differ: neither is taken for a duplicate of the other.
    const stored = await readStream(nats.url);
    expect(routed(stored)).toEqual([...asDenials([trigger]), ...asActions([action])]);
    expect(denialSchemaErrors(stored[0]?.json)).toEqual([]);
    expect(actionSchemaErrors(stored[1]?.json)).toEqual([]);
    expect(s.counters).toMatchObject({ published: 2, duplicates: 0 });
  });

  test('while NATS is down action events are spooled, then replayed in order with the denials', async () => {
    const nats = await server();
    const s = await sink(nats.url);
    await waitUntil('the stream to be set up', () => s.isPublishing);
    const before = denials(1000, 10);
    const beforeActions = before.slice(0, 2).map((t) => actionOn(t));
    await s.deliver(before);
    await s.deliverActions(beforeActions);

    await nats.kill();
    await waitUntil('the sink to notice', () => !s.isConnected);
    const d1 = denials(2000, 40);
    const a1 = d1.slice(0, 5).map((t) => actionOn(t));
    const d2 = denials(3000, 30);
    const a2 = d2.slice(0, 3).map((t) => actionOn(t, 'refused'));
    const d3 = denials(4000, 20);
    const a3 = d3.slice(0, 1).map((t) => actionOn(t));
    // Awaited one by one, then started together: either way the spool keeps the order of the calls.
    await s.deliver(d1);
    await s.deliverActions(a1);
    await Promise.all([s.deliver(d2), s.deliverActions(a2), s.deliver(d3), s.deliverActions(a3)]);
    expect(s.spoolEvents).toBe(40 + 5 + 30 + 3 + 20 + 1);
    expect(s.counters.spooled).toBe(99);

    await nats.start();
    await waitUntil('the spool to drain', () => s.spoolEvents === 0, 20_000);
    const after = denials(5000, 5);
    const afterActions = after.map((t) => actionOn(t));
    await s.deliverActions(afterActions);
    await s.deliver(after);

    const stored = await readStream(nats.url);
    expect(routed(stored)).toEqual([
      ...asDenials(before),
      ...asActions(beforeActions),
      ...asDenials(d1),
      ...asActions(a1),
      ...asDenials(d2),
      ...asActions(a2),
      ...asDenials(d3),
      ...asActions(a3),
      ...asActions(afterActions),
      ...asDenials(after),
    ]);
    // The spool gives back the exact bytes: a replayed refusal is the same JSON.
    const replayedRefusal = stored.find((m) => m.msgId === a2[0]?.id);
    expect(JSON.stringify(replayedRefusal?.json)).toBe(a2[0] === undefined ? '' : actionEventToJson(a2[0]));
    expect(s.counters).toMatchObject({ published: 10 + 2 + 99 + 5 + 5, spooled: 99, reconnects: 1 });
  });
});
