import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KernwatchError } from '../../../agent/errors.js';
import {
  NftCommand,
  NftCommandError,
  type NftListedObject,
} from '../../../agent/responders/nft/nft-command.js';
import {
  layoutDifferences,
  NftQuarantine,
  type QuarantineEntry,
} from '../../../agent/responders/nft/quarantine-table.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';
import { waitUntil } from '../../helpers/wait.js';

/**
 * NftQuarantine against real nftables, confined to two network namespaces made here and joined by a veth
 * pair: A (192.0.2.1, fd00:6b77::1) holds the table, B (192.0.2.2, fd00:6b77::2) is the quarantined peer.
 * The code runs nft through `nsenter --net=` into A; in the host namespace only `nft list ruleset` runs, to
 * show it is untouched.
 */

const why = missingPrerequisite([
  isRoot,
  hasCommand('nft', 'nftables'),
  hasCommand('ip', 'iproute2'),
  hasCommand('nsenter', 'util-linux'),
  hasCommand('ping', 'iputils-ping'),
]);

const run = promisify(execFile);

const suffix = randomBytes(3).toString('hex');
const A = `kw-nft-${suffix}a`;
const B = `kw-nft-${suffix}b`;
const ADDRESSES = {
  [A]: { ipv4: '192.0.2.1', ipv6: 'fd00:6b77::1' },
  [B]: { ipv4: '192.0.2.2', ipv6: 'fd00:6b77::2' },
};
const B4 = '192.0.2.2';
const B6 = 'fd00:6b77::2';
const COMMENT_B = '0f5f6bd2-3c4e-4b7a-9a51-7d2f1c0e9b11 shop/checkout-7d9f8';

/** Someone else's table in A: must stay byte-for-byte what it was. */
const FOREIGN_TABLE = `table inet other {
  set allowed { type ipv4_addr; elements = { 198.51.100.1 } }
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 198.51.100.7 counter drop
  }
}
`;

/** What ensure() creates, as `nft list table` prints it before any packet was counted. */
const CREATED_TABLE = `table inet kernwatch {
\tset quarantine4 {
\t\ttype ipv4_addr
\t\tflags timeout
\t}

\tset quarantine6 {
\t\ttype ipv6_addr
\t\tflags timeout
\t}

\tchain forward {
\t\ttype filter hook forward priority -90; policy accept;
\t\tip saddr @quarantine4 counter packets 0 bytes 0 drop
\t\tip daddr @quarantine4 counter packets 0 bytes 0 drop
\t\tip6 saddr @quarantine6 counter packets 0 bytes 0 drop
\t\tip6 daddr @quarantine6 counter packets 0 bytes 0 drop
\t}

\tchain input {
\t\ttype filter hook input priority -90; policy accept;
\t\tip saddr @quarantine4 counter packets 0 bytes 0 drop
\t\tip daddr @quarantine4 counter packets 0 bytes 0 drop
\t\tip6 saddr @quarantine6 counter packets 0 bytes 0 drop
\t\tip6 daddr @quarantine6 counter packets 0 bytes 0 drop
\t}

\tchain output {
\t\ttype filter hook output priority -90; policy accept;
\t\tip saddr @quarantine4 counter packets 0 bytes 0 drop
\t\tip daddr @quarantine4 counter packets 0 bytes 0 drop
\t\tip6 saddr @quarantine6 counter packets 0 bytes 0 drop
\t\tip6 daddr @quarantine6 counter packets 0 bytes 0 drop
\t}
}
`;

const inNetns = (ns: string, argv: readonly string[]): string[] => [
  'nsenter',
  `--net=/var/run/netns/${ns}`,
  ...argv,
];

async function sh(argv: readonly string[]): Promise<string> {
  const [file = '', ...args] = argv;
  return (await run(file, args, { encoding: 'utf8' })).stdout;
}

/** nft in namespace A, for the test's own setup and checks. */
const nftA = (args: readonly string[]): Promise<string> => sh(inNetns(A, ['nft', ...args]));

const nftIn = (ns: string): NftCommand => new NftCommand({ prefix: inNetns(ns, []) });
const newQuarantine = (): NftQuarantine => new NftQuarantine({ nft: nftIn(A), log: silentLogger() });

/** One echo request, one second to answer: true when it was answered. */
async function pings(from: string, to: string, family: 'ipv4' | 'ipv6'): Promise<boolean> {
  try {
    await sh(inNetns(from, ['ping', '-c', '1', '-W', '1', '-n', '-q', ADDRESSES[to]?.[family] ?? '']));
    return true;
  } catch {
    return false;
  }
}

/** A↔B both ways over IPv4 and IPv6, e.g. `{ 'A>B ipv4': true, ... }`. */
async function reachability(): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  for (const family of ['ipv4', 'ipv6'] as const) {
    out[`A>B ${family}`] = await pings(A, B, family);
    out[`B>A ${family}`] = await pings(B, A, family);
  }
  return out;
}

const ALL_OPEN = { 'A>B ipv4': true, 'B>A ipv4': true, 'A>B ipv6': true, 'B>A ipv6': true };
const ALL_DROPPED = { 'A>B ipv4': false, 'B>A ipv4': false, 'A>B ipv6': false, 'B>A ipv6': false };

/** After a release or an expiry, neighbour discovery may need a moment before the next answer. */
async function waitUntilOpen(): Promise<void> {
  await waitUntil(
    'A and B to reach each other again',
    async () => isDeepEqual(await reachability(), ALL_OPEN),
    20_000,
  );
}

function isDeepEqual(a: Record<string, boolean>, b: Record<string, boolean>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const byAddress = (entries: readonly QuarantineEntry[]): QuarantineEntry[] =>
  [...entries].sort((x, y) => x.address.localeCompare(y.address));

/** The table's listing without what time changes (expiry countdowns, counters). */
async function stableListing(): Promise<string> {
  return (await nftA(['-j', 'list', 'table', 'inet', 'kernwatch']))
    .replace(/"expires": \d+/g, '"expires": N')
    .replace(/"packets": \d+, "bytes": \d+/g, '"packets": N, "bytes": N');
}

describe.skipIf(why !== undefined)('NftQuarantine on real nftables in a network namespace', () => {
  let hostRulesetBefore = '';
  let foreignBefore = '';
  let quarantine: NftQuarantine;

  beforeAll(async () => {
    hostRulesetBefore = await sh(['nft', 'list', 'ruleset']);
    await sh(['ip', 'netns', 'add', A]);
    await sh(['ip', 'netns', 'add', B]);
    // The veth pair is made inside A with its peer moved straight to B: the host namespace never sees it.
    await sh(['ip', '-n', A, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth0', 'netns', B]);
    for (const ns of [A, B]) {
      const own = ADDRESSES[ns];
      if (own === undefined) throw new Error(`no addresses for ${ns}`);
      await sh(['ip', '-n', ns, 'addr', 'add', `${own.ipv4}/24`, 'dev', 'veth0']);
      // nodad: the address is usable at once instead of after duplicate address detection.
      await sh(['ip', '-n', ns, 'addr', 'add', `${own.ipv6}/64`, 'dev', 'veth0', 'nodad']);
      await sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      await sh(['ip', '-n', ns, 'link', 'set', 'veth0', 'up']);
    }
    // On the command line: nft opens `-f -` as /dev/stdin, which fails on the socket Node gives as stdin.
    await nftA([FOREIGN_TABLE]);
    foreignBefore = await nftA(['list', 'table', 'inet', 'other']);
    quarantine = newQuarantine();
    await waitUntilOpen();
  });

  afterAll(async () => {
    for (const ns of [A, B]) {
      try {
        await sh(['ip', 'netns', 'del', ns]);
      } catch {
        // never created: beforeAll failed before it
      }
    }
  });

  beforeEach(async () => {
    await quarantine.remove();
  });

  it('ensure() creates table inet kernwatch in one go and then leaves it as it is', async () => {
    expect(await quarantine.ensure()).toEqual({ created: true, rebuilt: false, entries: [] });
    expect(await nftA(['list', 'table', 'inet', 'kernwatch'])).toBe(CREATED_TABLE);
    const handles = await stableListing();
    expect(await quarantine.ensure()).toEqual({ created: false, rebuilt: false, entries: [] });
    expect(await stableListing()).toBe(handles);
    expect(await nftA(['list', 'table', 'inet', 'other'])).toBe(foreignBefore);
  });

  it('quarantined IPv4 and IPv6 addresses lose traffic both ways until released', async () => {
    await quarantine.ensure();
    expect(await reachability()).toEqual(ALL_OPEN);

    await quarantine.add([
      { address: B4, ttlMs: 60_000, comment: COMMENT_B },
      { address: 'FD00:6B77:0:0::2', ttlMs: 60_000, comment: COMMENT_B },
    ]);
    const entries = byAddress(await quarantine.list());
    expect(entries).toEqual([
      {
        address: B4,
        family: 'ipv4',
        timeoutMs: 60_000,
        expiresInMs: expect.any(Number) as number,
        comment: COMMENT_B,
      },
      {
        address: B6,
        family: 'ipv6',
        timeoutMs: 60_000,
        expiresInMs: expect.any(Number) as number,
        comment: COMMENT_B,
      },
    ]);
    for (const e of entries) expect(e.expiresInMs).toBeLessThanOrEqual(60_000);
    expect(await reachability()).toEqual(ALL_DROPPED);
    expect(await droppedPackets()).toBeGreaterThan(0);

    expect(await quarantine.release([B4, 'fd00:6b77:0::2', '192.0.2.99'])).toBe(2);
    expect(await quarantine.list()).toEqual([]);
    await waitUntilOpen();
    expect(await quarantine.release([B4, B6])).toBe(0);
  });

  it('an element expires after its ttl and traffic comes back', async () => {
    await quarantine.ensure();
    await quarantine.add([
      { address: B4, ttlMs: 2000, comment: COMMENT_B },
      { address: B6, ttlMs: 2000, comment: COMMENT_B },
    ]);
    expect(byAddress(await quarantine.list()).map((e) => [e.address, e.timeoutMs])).toEqual([
      [B4, 2000],
      [B6, 2000],
    ]);
    expect(await pings(A, B, 'ipv4')).toBe(false);
    await waitUntil(
      'the elements to expire',
      async () => (await quarantine.list()).length === 0,
      20_000,
      200,
    );
    await waitUntilOpen();
  });

  it('a restarted agent finds its table untouched, elements and their remaining timeouts included', async () => {
    await quarantine.ensure();
    await quarantine.add([
      { address: B4, ttlMs: 30_000, comment: COMMENT_B },
      { address: B6, ttlMs: 30_000, comment: COMMENT_B },
    ]);
    const before = await stableListing();
    // Let the countdown move a whole second so "remaining" is measurably below the original timeout.
    await waitUntil(
      'a second of the timeout to pass',
      async () => (await quarantine.list()).every((e) => (e.expiresInMs ?? 0) <= 28_000),
      20_000,
      100,
    );

    const restarted = await newQuarantine().ensure();
    expect(restarted.created).toBe(false);
    expect(restarted.rebuilt).toBe(false);
    expect(byAddress(restarted.entries)).toEqual([
      {
        address: B4,
        family: 'ipv4',
        timeoutMs: 30_000,
        expiresInMs: expect.any(Number) as number,
        comment: COMMENT_B,
      },
      {
        address: B6,
        family: 'ipv6',
        timeoutMs: 30_000,
        expiresInMs: expect.any(Number) as number,
        comment: COMMENT_B,
      },
    ]);
    for (const e of restarted.entries) expect(e.expiresInMs).toBeLessThanOrEqual(28_000);
    // Same handles, same elements: nothing was deleted and re-added.
    expect(await stableListing()).toBe(before);
    expect(await reachability()).toEqual(ALL_DROPPED);
  });

  const EDITS: { what: string; edit: () => Promise<unknown> }[] = [
    { what: 'a chain deleted', edit: () => nftA(['delete', 'chain', 'inet', 'kernwatch', 'forward']) },
    {
      what: 'an accept rule inserted before the drops',
      edit: () => nftA(['insert', 'rule', 'inet', 'kernwatch', 'input', 'ip', 'saddr', B4, 'accept']),
    },
    {
      what: 'the table made dormant',
      edit: () => nftA(['add', 'table', 'inet', 'kernwatch', '{ flags dormant; }']),
    },
    {
      what: 'a default timeout on a set',
      edit: async () => {
        // A set's settings cannot change in place: re-create it as an older layout might have had it.
        for (const chain of ['forward', 'input', 'output'])
          await nftA(['flush', 'chain', 'inet', 'kernwatch', chain]);
        await nftA(['delete', 'set', 'inet', 'kernwatch', 'quarantine4']);
        await nftA([
          'add',
          'set',
          'inet',
          'kernwatch',
          'quarantine4',
          '{ type ipv4_addr; flags timeout; timeout 1h; }',
        ]);
        await nftA([
          'add',
          'element',
          'inet',
          'kernwatch',
          'quarantine4',
          `{ ${B4} timeout 30s comment "${COMMENT_B}" }`,
        ]);
        await nftA(['add', 'rule', 'inet', 'kernwatch', 'input', 'ip', 'saddr', '@quarantine4', 'drop']);
      },
    },
  ];

  it.each(EDITS)(
    'a table changed by hand ($what) is rebuilt in one transaction, elements kept',
    async ({ edit }) => {
      await quarantine.ensure();
      await quarantine.add([
        { address: B4, ttlMs: 30_000, comment: COMMENT_B },
        { address: B6, ttlMs: 30_000, comment: COMMENT_B },
      ]);
      await edit();

      const restarted = newQuarantine();
      const result = await restarted.ensure();
      expect(result.created).toBe(false);
      expect(result.rebuilt).toBe(true);
      expect(byAddress(result.entries).map((e) => [e.address, e.family, e.timeoutMs, e.comment])).toEqual([
        [B4, 'ipv4', 30_000, COMMENT_B],
        [B6, 'ipv6', 30_000, COMMENT_B],
      ]);
      for (const e of result.entries) expect(e.expiresInMs).toBeLessThanOrEqual(30_000);
      expect(layoutDifferences(await listA())).toEqual([]);
      expect(await restarted.ensure()).toMatchObject({ created: false, rebuilt: false });
      expect(await reachability()).toEqual(ALL_DROPPED);
      expect(await nftA(['list', 'table', 'inet', 'other'])).toBe(foreignBefore);
    },
  );

  it('add() on a quarantined address replaces its timeout and comment', async () => {
    await quarantine.ensure();
    await quarantine.add([{ address: B4, ttlMs: 5000, comment: 'first' }]);
    await quarantine.add([{ address: B4, ttlMs: 300_000, comment: 'second' }]);
    expect((await quarantine.list()).map((e) => [e.address, e.timeoutMs, e.comment])).toEqual([
      [B4, 300_000, 'second'],
    ]);
    // Shorter works too, rounded up to whole seconds; within one call the last item for an address wins.
    await quarantine.add([
      { address: B4, ttlMs: 60_000, comment: 'third' },
      { address: B4, ttlMs: 1500, comment: 'fourth' },
    ]);
    expect((await quarantine.list()).map((e) => [e.address, e.timeoutMs, e.comment])).toEqual([
      [B4, 2000, 'fourth'],
    ]);
  });

  it('rejects bad input before running nft, and reports nft failures with its message', async () => {
    await quarantine.ensure();
    const before = await stableListing();
    await expect(quarantine.add([{ address: '192.0.2.0/24', ttlMs: 60_000, comment: 'x' }])).rejects.toThrow(
      /Not a single IPv4 or IPv6 address/,
    );
    await expect(
      quarantine.add([
        { address: B4, ttlMs: 60_000, comment: 'fine' },
        { address: B6, ttlMs: 60_000, comment: 'has "quotes"' },
      ]),
    ).rejects.toThrow(/comment/);
    expect(await stableListing()).toBe(before);

    await quarantine.remove();
    const failure = await quarantine
      .add([{ address: B4, ttlMs: 60_000, comment: 'x' }])
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(KernwatchError);
    expect((failure as KernwatchError).code).toBe('response');
    expect((failure as KernwatchError).cause).toBeInstanceOf(NftCommandError);
    const listFailure = await nftIn(A)
      .list(['table', 'inet', 'kernwatch'])
      .catch((e: unknown) => e);
    expect(listFailure).toBeInstanceOf(NftCommandError);
    expect((listFailure as NftCommandError).exitCode).toBe(1);
    expect((listFailure as NftCommandError).stderr).toContain('No such file or directory');
  });

  it('remove() deletes table inet kernwatch and nothing else', async () => {
    await quarantine.ensure();
    await quarantine.add([{ address: B4, ttlMs: 60_000, comment: COMMENT_B }]);
    await quarantine.remove();
    expect(await nftA(['list', 'tables'])).toBe('table inet other\n');
    await quarantine.remove();
    expect(await quarantine.list()).toEqual([]);
    expect(await quarantine.release([B4])).toBe(0);
    await waitUntilOpen();
  });

  it('leaves the host ruleset and the other table in A byte-identical', async () => {
    expect(await nftA(['list', 'table', 'inet', 'other'])).toBe(foreignBefore);
    expect(await sh(['nft', 'list', 'ruleset'])).toBe(hostRulesetBefore);
  });
});

async function listA(): Promise<NftListedObject[]> {
  return nftIn(A).list(['table', 'inet', 'kernwatch']);
}

/** Packets the drop rules of the input and output chains counted. */
async function droppedPackets(): Promise<number> {
  let total = 0;
  for (const chain of ['input', 'output']) {
    for (const { kind, body } of await nftIn(A).list(['chain', 'inet', 'kernwatch', chain])) {
      if (kind !== 'rule' || !Array.isArray(body.expr)) continue;
      for (const statement of body.expr as readonly unknown[]) {
        const counter = (statement as { counter?: { packets?: unknown } }).counter;
        if (typeof counter?.packets === 'number') total += counter.packets;
      }
    }
  }
  return total;
}
