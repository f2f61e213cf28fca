import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { KernwatchError } from '../../../agent/errors.js';
import {
  parseNftListing,
  type JsonValue,
  type NftBatchCommand,
  type NftListedObject,
  type NftRunner,
} from '../../../agent/responders/nft/nft-command.js';
import {
  entriesOf,
  layoutDifferences,
  NftQuarantine,
  type QuarantineItem,
} from '../../../agent/responders/nft/quarantine-table.js';
import { silentLogger, type Logger } from '../../../agent/telemetry/logger.js';

/**
 * NftQuarantine's batches and its reading of listings, against a stand-in for nft that records what it is
 * asked. What the kernel does with the batches is in test/integration/responders/nft-quarantine.test.ts.
 */

/** `nft -j list table inet kernwatch` as nft 1.0.6 printed it on the test machine (one item per line). */
const LISTING =
  '{"nftables": [' +
  [
    '{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}',
    '{"table": {"family": "inet", "name": "kernwatch", "handle": 1}}',
    '{"set": {"family": "inet", "name": "quarantine4", "table": "kernwatch", "type": "ipv4_addr", "handle": 1, "flags": ["timeout"], "elem": [{"elem": {"val": "192.0.2.2", "timeout": 60, "expires": 59, "comment": "0f5f6bd2-3c4e-4b7a-9a51-7d2f1c0e9b11 shop/checkout-7d9f8"}}, "192.0.2.3"]}}',
    '{"set": {"family": "inet", "name": "quarantine6", "table": "kernwatch", "type": "ipv6_addr", "handle": 2, "flags": ["timeout"], "elem": [{"elem": {"val": "fd00:6b77::2", "timeout": 3600, "expires": 3599, "comment": "x"}}, {"elem": {"val": "fd00:6b77::3", "comment": "by hand"}}]}}',
    '{"chain": {"family": "inet", "table": "kernwatch", "name": "forward", "handle": 3, "type": "filter", "hook": "forward", "prio": -90, "policy": "accept"}}',
    '{"chain": {"family": "inet", "table": "kernwatch", "name": "input", "handle": 8, "type": "filter", "hook": "input", "prio": -90, "policy": "accept"}}',
    '{"chain": {"family": "inet", "table": "kernwatch", "name": "output", "handle": 13, "type": "filter", "hook": "output", "prio": -90, "policy": "accept"}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "forward", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@quarantine4"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "forward", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@quarantine4"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "forward", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "@quarantine6"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "forward", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "@quarantine6"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "input", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@quarantine4"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "input", "handle": 10, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@quarantine4"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "input", "handle": 11, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "@quarantine6"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "input", "handle": 12, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "@quarantine6"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "output", "handle": 14, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@quarantine4"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "output", "handle": 15, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@quarantine4"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "output", "handle": 16, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "@quarantine6"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
    '{"rule": {"family": "inet", "table": "kernwatch", "chain": "output", "handle": 17, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "@quarantine6"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}',
  ].join(', ') +
  ']}';

const COMMENT = '0f5f6bd2-3c4e-4b7a-9a51-7d2f1c0e9b11 shop/checkout-7d9f8';

/** Answers listings from `table` (undefined: no table inet kernwatch) and records every call. */
class FakeNft implements NftRunner {
  readonly batches: NftBatchCommand[][] = [];
  readonly lists: string[][] = [];
  failApply: Error | undefined;

  constructor(public table: NftListedObject[] | undefined) {}

  apply(commands: readonly NftBatchCommand[]): Promise<void> {
    this.batches.push([...commands]);
    return this.failApply === undefined ? Promise.resolve() : Promise.reject(this.failApply);
  }

  list(what: readonly string[]): Promise<NftListedObject[]> {
    this.lists.push([...what]);
    if (what.join(' ') === 'tables inet') {
      return Promise.resolve(
        this.table === undefined
          ? []
          : [{ kind: 'table', body: { family: 'inet', name: 'kernwatch', handle: 1 } }],
      );
    }
    if (what.join(' ') === 'table inet kernwatch' && this.table !== undefined)
      return Promise.resolve(this.table);
    return Promise.reject(new Error(`unexpected nft list ${what.join(' ')}`));
  }

  get calls(): number {
    return this.batches.length + this.lists.length;
  }
}

const listing = (): NftListedObject[] => parseNftListing(LISTING);
const quarantineWith = (nft: NftRunner): NftQuarantine => new NftQuarantine({ nft, log: silentLogger() });

function recordingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n'))
        if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, out), lines };
}

/** Every command names table inet kernwatch (or something inside it) and is an add, create or delete. */
function touchesOnlyOwnTable(batch: readonly NftBatchCommand[]): boolean {
  return batch.every((command) =>
    Object.entries(command).every(
      ([verb, objects]) =>
        ['add', 'create', 'delete'].includes(verb) &&
        Object.entries(objects).every(
          ([kind, body]) =>
            body.family === 'inet' &&
            (kind === 'table' ? body.name === 'kernwatch' : body.table === 'kernwatch'),
        ),
    ),
  );
}

const element = (verb: 'add' | 'delete', set: string, elem: JsonValue[]): NftBatchCommand => ({
  [verb]: { element: { family: 'inet', table: 'kernwatch', name: set, elem } },
});

describe('NftQuarantine.ensure', () => {
  it('creates a missing table in one batch that names only table inet kernwatch', async () => {
    const nft = new FakeNft(undefined);
    expect(await quarantineWith(nft).ensure()).toEqual({ created: true, rebuilt: false, entries: [] });
    expect(nft.batches).toHaveLength(1);
    const batch = nft.batches[0] ?? [];
    expect(batch[0]).toEqual({ create: { table: { family: 'inet', name: 'kernwatch' } } });
    const kinds = batch.slice(1).map((c) => Object.keys(c.add ?? {}).join());
    expect(kinds.filter((k) => k === 'set')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'chain')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'rule')).toHaveLength(12);
    expect(kinds).toHaveLength(17);
    expect(touchesOnlyOwnTable(batch)).toBe(true);
  });

  it('what it creates is, less handles and counter values, what nft lists back', async () => {
    const nft = new FakeNft(undefined);
    await quarantineWith(nft).ensure();
    const created = (nft.batches[0] ?? []).flatMap((c) =>
      Object.values(c).flatMap((objects) => Object.entries(objects).map(([kind, body]) => ({ kind, body }))),
    );
    expect(layoutDifferences(created)).toEqual([]);
  });

  it('leaves a table with the expected layout alone and reports its elements', async () => {
    const nft = new FakeNft(listing());
    expect(await quarantineWith(nft).ensure()).toEqual({
      created: false,
      rebuilt: false,
      entries: [
        { address: '192.0.2.2', family: 'ipv4', timeoutMs: 60_000, expiresInMs: 59_000, comment: COMMENT },
        { address: '192.0.2.3', family: 'ipv4', timeoutMs: null, expiresInMs: null },
        {
          address: 'fd00:6b77::2',
          family: 'ipv6',
          timeoutMs: 3_600_000,
          expiresInMs: 3_599_000,
          comment: 'x',
        },
        { address: 'fd00:6b77::3', family: 'ipv6', timeoutMs: null, expiresInMs: null, comment: 'by hand' },
      ],
    });
    expect(nft.batches).toEqual([]);
  });

  it('rebuilds a differing table in one batch: delete, re-create, elements with the time they had left', async () => {
    const changed = listing().filter((o) => !(o.kind === 'chain' && o.body.name === 'forward'));
    const nft = new FakeNft(changed);
    const { log, lines } = recordingLogger();
    const result = await new NftQuarantine({ nft, log }).ensure();
    expect(result.rebuilt).toBe(true);
    expect(result.created).toBe(false);
    expect(nft.batches).toHaveLength(1);
    const batch = nft.batches[0] ?? [];
    expect(batch.slice(0, 2)).toEqual([
      { delete: { table: { family: 'inet', name: 'kernwatch' } } },
      { add: { table: { family: 'inet', name: 'kernwatch' } } },
    ]);
    expect(batch).toHaveLength(2 + 17 + 2);
    // nft -j lists remaining time rounded down: a second is added back, never past the timeout.
    expect(batch.slice(-2)).toEqual([
      element('add', 'quarantine4', [
        { elem: { val: '192.0.2.2', timeout: 60, expires: 60, comment: COMMENT } },
        { elem: { val: '192.0.2.3' } },
      ]),
      element('add', 'quarantine6', [
        { elem: { val: 'fd00:6b77::2', timeout: 3600, expires: 3600, comment: 'x' } },
        { elem: { val: 'fd00:6b77::3', comment: 'by hand' } },
      ]),
    ]);
    expect(touchesOnlyOwnTable(batch)).toBe(true);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        differences: ['chain forward is missing'],
        kept: 4,
        dropped: 0,
      }) as unknown,
    ]);
  });

  it('wraps a refused batch in a response error that keeps the cause', async () => {
    const nft = new FakeNft(undefined);
    nft.failApply = new Error('Could not process rule: File exists');
    const failure = await quarantineWith(nft)
      .ensure()
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(KernwatchError);
    expect((failure as KernwatchError).code).toBe('response');
    expect((failure as KernwatchError).message).toBe(
      'Cannot create table inet kernwatch: Could not process rule: File exists',
    );
    expect((failure as KernwatchError).cause).toBe(nft.failApply);
  });
});

describe('layoutDifferences', () => {
  const edit = (f: (objects: NftListedObject[]) => NftListedObject[]): string[] =>
    layoutDifferences(f(listing()));
  const withBody = (o: NftListedObject, body: Record<string, JsonValue>): NftListedObject => ({
    kind: o.kind,
    body: { ...o.body, ...body },
  });

  it('is empty for the listing of a table kernwatch made, whatever its counters and elements', () => {
    expect(
      edit((objects) =>
        objects.map((o) =>
          o.kind === 'rule' && Array.isArray(o.body.expr)
            ? withBody(o, {
                expr: (o.body.expr as readonly JsonValue[]).map((s) =>
                  typeof s === 'object' && s !== null && 'counter' in s
                    ? { counter: { packets: 7, bytes: 588 } }
                    : s,
                ),
              })
            : o.kind === 'set'
              ? withBody(o, { elem: [] })
              : o,
        ),
      ),
    ).toEqual([]);
  });

  it.each([
    [
      'a chain removed',
      (os: NftListedObject[]) => os.filter((o) => !(o.kind === 'chain' && o.body.name === 'input')),
      ['chain input is missing'],
    ],
    [
      'a rule removed',
      (os: NftListedObject[]) => os.filter((o) => !(o.kind === 'rule' && o.body.handle === 9)),
      ['rules of chain input differs'],
    ],
    [
      'all rules of a chain removed',
      (os: NftListedObject[]) => os.filter((o) => !(o.kind === 'rule' && o.body.chain === 'output')),
      ['rules of chain output is missing'],
    ],
    [
      'two rules swapped',
      (os: NftListedObject[]) => {
        const out = [...os];
        const i = out.findIndex((o) => o.kind === 'rule' && o.body.handle === 4);
        const [a, b] = [out[i], out[i + 1]];
        if (a !== undefined && b !== undefined) [out[i], out[i + 1]] = [b, a];
        return out;
      },
      ['rules of chain forward differs'],
    ],
    [
      'the table dormant',
      (os: NftListedObject[]) => os.map((o) => (o.kind === 'table' ? withBody(o, { flags: 'dormant' }) : o)),
      ['table differs'],
    ],
    [
      'a chain at another priority',
      (os: NftListedObject[]) =>
        os.map((o) => (o.kind === 'chain' && o.body.name === 'input' ? withBody(o, { prio: 0 }) : o)),
      ['chain input differs'],
    ],
    [
      'a set without flags timeout',
      (os: NftListedObject[]) =>
        os.map((o) => (o.kind === 'set' && o.body.name === 'quarantine6' ? withBody(o, { flags: [] }) : o)),
      ['set quarantine6 differs'],
    ],
    [
      'a set with a default timeout',
      (os: NftListedObject[]) =>
        os.map((o) =>
          o.kind === 'set' && o.body.name === 'quarantine4' ? withBody(o, { timeout: 3600 }) : o,
        ),
      ['set quarantine4 differs'],
    ],
    [
      'a map of someone else',
      (os: NftListedObject[]) => [
        ...os,
        { kind: 'map', body: { family: 'inet', table: 'kernwatch', name: 'm' } },
      ],
      ["map m is not kernwatch's"],
    ],
  ] as const)('names %s', (_what, change, differences) => {
    expect(edit(change)).toEqual(differences);
  });
});

describe('entriesOf', () => {
  it('skips values that are not a single address', () => {
    const set: NftListedObject = {
      kind: 'set',
      body: {
        family: 'inet',
        table: 'kernwatch',
        name: 'quarantine4',
        elem: [
          '192.0.2.7',
          { prefix: { addr: '192.0.2.0', len: 24 } },
          { elem: { val: { range: ['192.0.2.1', '192.0.2.5'] }, timeout: 10, expires: 9 } },
          { elem: { val: 'not an address' } },
          { elem: { val: '192.0.2.8', timeout: 1, expires: 0 } },
        ],
      },
    };
    const other: NftListedObject = { kind: 'set', body: { name: 'allowed', elem: ['198.51.100.1'] } };
    expect(entriesOf([set, other])).toEqual({
      entries: [
        { address: '192.0.2.7', family: 'ipv4', timeoutMs: null, expiresInMs: null },
        { address: '192.0.2.8', family: 'ipv4', timeoutMs: 1000, expiresInMs: 0 },
      ],
      skipped: 3,
    });
  });
});

describe('NftQuarantine.add', () => {
  it('replaces each address in one batch: placeholder, delete, add with whole seconds and the comment', async () => {
    const nft = new FakeNft(listing());
    await quarantineWith(nft).add([
      { address: '192.0.2.2', ttlMs: 60_000, comment: 'old' },
      { address: 'FD00:6B77:0::2', ttlMs: 1500, comment: COMMENT },
      { address: '192.0.2.2', ttlMs: 600_001, comment: COMMENT },
    ]);
    expect(nft.lists).toEqual([]);
    expect(nft.batches).toEqual([
      [
        element('add', 'quarantine4', [{ elem: { val: '192.0.2.2', timeout: 1 } }]),
        element('delete', 'quarantine4', ['192.0.2.2']),
        element('add', 'quarantine6', [{ elem: { val: 'fd00:6b77::2', timeout: 1 } }]),
        element('delete', 'quarantine6', ['fd00:6b77::2']),
        element('add', 'quarantine4', [{ elem: { val: '192.0.2.2', timeout: 601, comment: COMMENT } }]),
        element('add', 'quarantine6', [{ elem: { val: 'fd00:6b77::2', timeout: 2, comment: COMMENT } }]),
      ],
    ]);
  });

  it('splits long element lists into commands of 64 elements, still one batch', async () => {
    const nft = new FakeNft(listing());
    const items = Array.from({ length: 150 }, (_, i) => ({
      address: `10.0.${String(Math.floor(i / 100))}.${String((i % 100) + 1)}`,
      ttlMs: 60_000,
      comment: COMMENT,
    }));
    await quarantineWith(nft).add(items);
    expect(nft.batches).toHaveLength(1);
    const sizes = (nft.batches[0] ?? []).map((c) => {
      const body = Object.values(c)[0]?.element;
      return `${Object.keys(c).join()} ${Array.isArray(body?.elem) ? body.elem.length : 0}`;
    });
    expect(sizes).toEqual([
      'add 64',
      'add 64',
      'add 22',
      'delete 64',
      'delete 64',
      'delete 22',
      'add 64',
      'add 64',
      'add 22',
    ]);
  });

  it('runs nothing for no items', async () => {
    const nft = new FakeNft(listing());
    await quarantineWith(nft).add([]);
    expect(nft.calls).toBe(0);
  });

  const GOOD: QuarantineItem = { address: '192.0.2.2', ttlMs: 60_000, comment: COMMENT };
  it.each([
    ['an empty address', { ...GOOD, address: '' }, /Not a single IPv4 or IPv6 address/],
    ['a CIDR', { ...GOOD, address: '192.0.2.0/24' }, /Not a single IPv4 or IPv6 address/],
    ['a zone id', { ...GOOD, address: 'fe80::1%eth0' }, /Not a single IPv4 or IPv6 address/],
    ['a hostname', { ...GOOD, address: 'pod.example' }, /Not a single IPv4 or IPv6 address/],
    ['IPv4 loopback', { ...GOOD, address: '127.0.0.1' }, /Refusing to quarantine 127.0.0.1/],
    ['IPv6 loopback', { ...GOOD, address: '::1' }, /Refusing to quarantine ::1/],
    ['0.0.0.0', { ...GOOD, address: '0.0.0.0' }, /Refusing/],
    ['::', { ...GOOD, address: '::' }, /Refusing/],
    ['multicast', { ...GOOD, address: '224.0.0.1' }, /Refusing/],
    ['IPv6 multicast', { ...GOOD, address: 'ff02::1' }, /Refusing/],
    ['the limited broadcast', { ...GOOD, address: '255.255.255.255' }, /Refusing/],
    [
      'an IPv4-mapped address',
      { ...GOOD, address: '::ffff:192.0.2.2' },
      /Refusing to quarantine ::ffff:192.0.2.2/,
    ],
    ['a ttl below a second', { ...GOOD, ttlMs: 999 }, /ttl for 192.0.2.2 must be at least 1000 ms, got 999/],
    ['a zero ttl', { ...GOOD, ttlMs: 0 }, /must be at least 1000 ms/],
    ['a negative ttl', { ...GOOD, ttlMs: -5000 }, /must be at least 1000 ms/],
    ['a NaN ttl', { ...GOOD, ttlMs: Number.NaN }, /must be at least 1000 ms, got NaN/],
    ['an infinite ttl', { ...GOOD, ttlMs: Number.POSITIVE_INFINITY }, /got Infinity/],
    ['an empty comment', { ...GOOD, comment: '' }, /comment must be 1 to 128 printable ASCII/],
    ['a comment of 129 bytes', { ...GOOD, comment: 'a'.repeat(129) }, /comment/],
    ['a double quote', { ...GOOD, comment: 'uid ns/"name"' }, /comment/],
    ['a backslash', { ...GOOD, comment: 'uid ns\\name' }, /comment/],
    ['a tab', { ...GOOD, comment: 'uid\tns/name' }, /comment/],
    ['a newline', { ...GOOD, comment: 'uid ns/name\n' }, /comment/],
    ['non-ASCII', { ...GOOD, comment: 'uid ns/naïve' }, /comment/],
  ] as const)('rejects %s before running nft, also beside good items', async (_what, bad, message) => {
    const nft = new FakeNft(listing());
    const failure = await quarantineWith(nft)
      .add([GOOD, bad])
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(KernwatchError);
    expect((failure as KernwatchError).code).toBe('response');
    expect((failure as KernwatchError).message).toMatch(message);
    expect(nft.calls).toBe(0);
  });

  it('accepts a comment of exactly 128 printable characters', async () => {
    const nft = new FakeNft(listing());
    const comment = `${'~ !#['.repeat(25)}]^_`;
    expect(comment).toHaveLength(128);
    await quarantineWith(nft).add([{ ...GOOD, comment }]);
    expect(nft.batches).toHaveLength(1);
  });
});

describe('NftQuarantine.release', () => {
  it('removes present and absent addresses alike in one batch and counts the present ones', async () => {
    const nft = new FakeNft(listing());
    const released = await quarantineWith(nft).release([
      '192.0.2.2',
      'FD00:6B77::2',
      '192.0.2.99',
      '192.0.2.2',
    ]);
    expect(released).toBe(2);
    expect(nft.batches).toEqual([
      [
        element('add', 'quarantine4', [
          { elem: { val: '192.0.2.2', timeout: 1 } },
          { elem: { val: '192.0.2.99', timeout: 1 } },
        ]),
        element('delete', 'quarantine4', ['192.0.2.2', '192.0.2.99']),
        element('add', 'quarantine6', [{ elem: { val: 'fd00:6b77::2', timeout: 1 } }]),
        element('delete', 'quarantine6', ['fd00:6b77::2']),
      ],
    ]);
  });

  it('is 0 without a table, and changes nothing', async () => {
    const nft = new FakeNft(undefined);
    expect(await quarantineWith(nft).release(['192.0.2.2'])).toBe(0);
    expect(nft.batches).toEqual([]);
  });

  it('rejects an invalid address before running nft', async () => {
    const nft = new FakeNft(listing());
    await expect(quarantineWith(nft).release(['192.0.2.2', '192.0.2.0/24'])).rejects.toThrow(
      /Not a single IPv4 or IPv6 address: "192.0.2.0\/24"/,
    );
    expect(nft.calls).toBe(0);
  });
});

describe('NftQuarantine.list and remove', () => {
  it('list() is empty without a table', async () => {
    expect(await quarantineWith(new FakeNft(undefined)).list()).toEqual([]);
  });

  it('remove() deletes table inet kernwatch and only that, when it exists', async () => {
    const present = new FakeNft(listing());
    await quarantineWith(present).remove();
    expect(present.batches).toEqual([[{ delete: { table: { family: 'inet', name: 'kernwatch' } } }]]);
    const missing = new FakeNft(undefined);
    await quarantineWith(missing).remove();
    expect(missing.batches).toEqual([]);
  });
});
