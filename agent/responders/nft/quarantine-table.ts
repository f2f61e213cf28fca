import { BlockList } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { ERROR_CODES, KernwatchError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import {
  IP_FAMILIES,
  parseIpAddress,
  requireIpAddress,
  type IpAddress,
  type IpFamily,
} from './ip-address.js';
import {
  isJsonObject,
  type JsonObject,
  type JsonValue,
  type NftBatchCommand,
  type NftListedObject,
  type NftRunner,
} from './nft-command.js';

/**
 * kernwatch's own nftables table, `table inet kernwatch`: two timeout sets of quarantined addresses and
 * three base chains dropping traffic from and to them. Nothing here names another table or the ruleset
 * (no `flush ruleset`): other tables belong to the CNI, kube-proxy or the node's administrator. Every change
 * is one batch, which the kernel applies as one transaction, so the drop rules never disappear midway.
 */

export const QUARANTINE_TABLE = { family: 'inet', name: 'kernwatch' } as const;
export const QUARANTINE_SETS = { ipv4: 'quarantine4', ipv6: 'quarantine6' } as const satisfies Record<
  IpFamily,
  string
>;
/** nft's limit on a comment. Its text parser enforces it; its JSON parser does not, so checked here. */
export const MAX_COMMENT_BYTES = 128;
export const MIN_TTL_MS = 1000;

export interface QuarantineEntry {
  address: string;
  family: IpFamily;
  /**
   * The timeout the element was added with; null for an element without one (added by hand: it never
   * expires). nft -j lists whole seconds.
   */
  timeoutMs: number | null;
  /** Time left, rounded down to whole seconds by nft -j; null when the element never expires. */
  expiresInMs: number | null;
  comment?: string;
}

export interface QuarantineItem {
  address: string;
  /** At least 1 s; rounded up to whole seconds (the JSON timeout is an integer of seconds). */
  ttlMs: number;
  /** Printable ASCII without `"` and `\`, 1 to 128 bytes. The responder writes `<pod uid> <namespace>/<name>`. */
  comment: string;
}

export interface EnsureResult {
  created: boolean;
  rebuilt: boolean;
  /** The elements in the table once ensure() is done. */
  entries: QuarantineEntry[];
}

export interface NftQuarantineOptions {
  nft: NftRunner;
  log: Logger;
}

const SET_TYPES = { ipv4: 'ipv4_addr', ipv6: 'ipv6_addr' } as const satisfies Record<IpFamily, string>;
const PAYLOAD_PROTOCOLS = { ipv4: 'ip', ipv6: 'ip6' } as const satisfies Record<IpFamily, string>;
/** Each base chain is named after its hook. */
const HOOKS = ['forward', 'input', 'output'] as const;
const DIRECTIONS = ['saddr', 'daddr'] as const;
/**
 * After conntrack (-200) and destination NAT (-100), so on the output hook a Service address has already
 * become the pod's address the set holds; before the filter-priority chains (0, and kube-proxy's -10) where
 * CNIs and kube-proxy accept traffic, which would otherwise get the first word.
 */
const CHAIN_PRIORITY = -90;

/** Keys of a listed object that change without the layout changing. */
const VOLATILE_KEYS: ReadonlySet<string> = new Set(['handle', 'elem']);

/**
 * Addresses whose drop rules would turn the input and output hooks against the node itself, or that no
 * pod has: unspecified, loopback (kubelet probes, the agent's own sinks), multicast, limited broadcast,
 * and IPv4-mapped IPv6 (that traffic travels as IPv4, the ip6 rules never see it).
 */
const NEVER_QUARANTINED = new BlockList();
NEVER_QUARANTINED.addSubnet('0.0.0.0', 8, 'ipv4');
NEVER_QUARANTINED.addSubnet('127.0.0.0', 8, 'ipv4');
NEVER_QUARANTINED.addSubnet('224.0.0.0', 4, 'ipv4');
NEVER_QUARANTINED.addAddress('255.255.255.255', 'ipv4');
NEVER_QUARANTINED.addAddress('::', 'ipv6');
NEVER_QUARANTINED.addAddress('::1', 'ipv6');
NEVER_QUARANTINED.addSubnet('ff00::', 8, 'ipv6');
// Link-local: the cloud metadata service, node-local DNS (169.254.20.10), IPv6 neighbour discovery.
NEVER_QUARANTINED.addSubnet('169.254.0.0', 16, 'ipv4');
NEVER_QUARANTINED.addSubnet('fe80::', 10, 'ipv6');

/** The table manager: ensure() once at agent start, then add/list/release. */
export class NftQuarantine {
  private readonly nft: NftRunner;
  private readonly log: Logger;

  constructor(options: NftQuarantineOptions) {
    this.nft = options.nft;
    this.log = options.log;
  }

  /**
   * Creates the table when it is missing. A table with exactly the expected layout is left alone, so its
   * elements keep their remaining timeouts across agent restarts. A table that differs (an older layout,
   * an edit by hand) is replaced in one transaction that carries its elements over.
   */
  async ensure(): Promise<EnsureResult> {
    const listed = await this.readTable();
    if (listed === undefined) {
      await this.apply('Cannot create table inet kernwatch', [
        // `create`, not `add`: should another agent create it meanwhile, the batch fails instead of adding
        // a second copy of every rule.
        { create: { table: tableHandle() } },
        ...expectedObjects().map((o) => ({ add: { [o.kind]: o.body } })),
      ]);
      this.log.info({ table: 'inet kernwatch' }, 'Created the nftables quarantine table.');
      return { created: true, rebuilt: false, entries: [] };
    }
    const differences = layoutDifferences(listed);
    const { entries, skipped } = entriesOf(listed);
    if (differences.length === 0) return { created: false, rebuilt: false, entries };
    this.log.warn(
      { table: 'inet kernwatch', differences, kept: entries.length, dropped: skipped },
      'Rebuilding the nftables quarantine table: its layout is not the one kernwatch installs (an older ' +
        'version, or an edit by hand). Quarantined addresses are kept with their remaining timeouts.',
    );
    await this.apply('Cannot rebuild table inet kernwatch', [
      { delete: { table: tableHandle() } },
      { add: { table: tableHandle() } },
      ...expectedObjects().map((o) => ({ add: { [o.kind]: o.body } })),
      ...IP_FAMILY_LIST.flatMap((family) => {
        const elem = entries.filter((e) => e.family === family).map(carriedOverElement);
        return elementCommands('add', family, elem);
      }),
    ]);
    return { created: false, rebuilt: true, entries: await this.list() };
  }

  /**
   * Quarantines the addresses, all or none. An address already present gets the new timeout and comment:
   * a plain `add element` leaves an existing element's comment as it was (and its timeout too on kernels
   * older than the 6.18 this was checked on, which updates the timeout), and `delete element` of an absent one fails the whole batch. So each address is first added with
   * a placeholder (a no-op when present), then deleted, then added as wanted, all in the same transaction.
   */
  async add(items: readonly QuarantineItem[]): Promise<void> {
    const wanted = new Map<string, { ip: IpAddress; seconds: number; comment: string }>();
    for (const item of items) {
      const checked = checkItem(item);
      // The same address twice in one batch would be deleted twice, which fails: the last one wins.
      wanted.set(checked.ip.address, checked);
    }
    if (wanted.size === 0) return;
    const all = [...wanted.values()];
    await this.apply('Cannot add to the nftables quarantine', [
      ...replaceCommands(all.map((w) => w.ip)),
      ...IP_FAMILY_LIST.flatMap((family) => {
        const elem = all
          .filter((w) => w.ip.family === family)
          // An integer: nft 1.0.6 silently ignores a string ("2500ms") or fractional timeout and adds the
          // element without one, i.e. for ever.
          .map((w) => ({ elem: { val: w.ip.address, timeout: w.seconds, comment: w.comment } }));
        return elementCommands('add', family, elem);
      }),
    ]);
  }

  /** The quarantined addresses; empty when the table does not exist. */
  async list(): Promise<QuarantineEntry[]> {
    const listed = await this.readTable();
    return listed === undefined ? [] : entriesOf(listed).entries;
  }

  /** Removes those of the addresses that are quarantined; absent ones are fine. Returns how many were. */
  async release(addresses: readonly string[]): Promise<number> {
    const ips = new Map(addresses.map((a) => requireIpAddress(a)).map((ip) => [ip.address, ip]));
    if (ips.size === 0) return 0;
    const listed = await this.readTable();
    if (listed === undefined) return 0;
    const present = new Set(entriesOf(listed).entries.map((e) => e.address));
    await this.apply('Cannot release from the nftables quarantine', replaceCommands([...ips.values()]));
    return [...ips.keys()].filter((a) => present.has(a)).length;
  }

  /** Deletes table inet kernwatch, and nothing else. For uninstalling: an agent that stops keeps it. */
  async remove(): Promise<void> {
    if (!(await this.exists())) return;
    await this.apply('Cannot delete table inet kernwatch', [{ delete: { table: tableHandle() } }]);
  }

  /** The listing of the table, or undefined when it does not exist. */
  private async readTable(): Promise<NftListedObject[] | undefined> {
    if (!(await this.exists())) return undefined;
    return this.nft.list(['table', QUARANTINE_TABLE.family, QUARANTINE_TABLE.name]);
  }

  private async exists(): Promise<boolean> {
    // `list table` of a missing table fails like any other failure (exit 1 and a strerror text); the list
    // of inet tables tells "missing" apart without parsing nft's messages.
    const tables = await this.nft.list(['tables', QUARANTINE_TABLE.family]);
    return tables.some((t) => t.kind === 'table' && t.body.name === QUARANTINE_TABLE.name);
  }

  private async apply(what: string, commands: readonly NftBatchCommand[]): Promise<void> {
    try {
      await this.nft.apply(commands);
    } catch (err) {
      const reason = err instanceof Error ? `: ${err.message}` : '';
      throw new KernwatchError(ERROR_CODES.response, `${what}${reason}`, { cause: err });
    }
  }
}

const IP_FAMILY_LIST = [IP_FAMILIES.ipv4, IP_FAMILIES.ipv6] as const;
const ELEMENTS_PER_COMMAND = 64;

function tableHandle(): JsonObject {
  return { family: QUARANTINE_TABLE.family, name: QUARANTINE_TABLE.name };
}

/** Sets, chains and rules in the form they are added, which (less handles and counter values) is how they list. */
function expectedObjects(): NftListedObject[] {
  const inTable = { family: QUARANTINE_TABLE.family, table: QUARANTINE_TABLE.name };
  const objects: NftListedObject[] = IP_FAMILY_LIST.map((family) => ({
    kind: 'set',
    body: { ...inTable, name: QUARANTINE_SETS[family], type: SET_TYPES[family], flags: ['timeout'] },
  }));
  for (const hook of HOOKS) {
    objects.push({
      kind: 'chain',
      body: { ...inTable, name: hook, type: 'filter', hook, prio: CHAIN_PRIORITY, policy: 'accept' },
    });
    for (const family of IP_FAMILY_LIST) {
      for (const field of DIRECTIONS) {
        const expr: JsonValue[] = [
          {
            match: {
              op: '==',
              left: { payload: { protocol: PAYLOAD_PROTOCOLS[family], field } },
              right: `@${QUARANTINE_SETS[family]}`,
            },
          },
          { counter: null },
          { drop: null },
        ];
        objects.push({ kind: 'rule', body: { ...inTable, chain: hook, expr } });
      }
    }
  }
  return objects;
}

/**
 * Element commands of at most ELEMENTS_PER_COMMAND elements each: one command is one argument of nft's
 * command line (see NftCommand.apply), limited to 128 KiB. An element is ~200 bytes of JSON with a
 * 128-byte comment, more with a longer comment written by hand and escaped.
 */
function elementCommands(
  verb: 'add' | 'delete',
  family: IpFamily,
  elem: readonly JsonValue[],
): NftBatchCommand[] {
  const commands: NftBatchCommand[] = [];
  for (let i = 0; i < elem.length; i += ELEMENTS_PER_COMMAND) {
    commands.push({
      [verb]: {
        element: {
          family: QUARANTINE_TABLE.family,
          table: QUARANTINE_TABLE.name,
          name: QUARANTINE_SETS[family],
          elem: elem.slice(i, i + ELEMENTS_PER_COMMAND),
        },
      },
    });
  }
  return commands;
}

/** Leaves the addresses absent whether or not they were present (nft 1.0.6 has no `destroy element`). */
function replaceCommands(ips: readonly IpAddress[]): NftBatchCommand[] {
  return IP_FAMILY_LIST.flatMap((family) => {
    const vals = ips.filter((ip) => ip.family === family).map((ip) => ip.address);
    // The placeholder's timeout only matters if the delete were ever dropped from the batch.
    const placeholders = vals.map((val) => ({ elem: { val, timeout: 1 } }));
    return [...elementCommands('add', family, placeholders), ...elementCommands('delete', family, vals)];
  });
}

/**
 * An element re-added by a rebuild: same timeout and comment, and the time it had left. nft -j rounds that
 * down to whole seconds, so one second is added back (an early release is the worse error); the kernel
 * refuses an expiry beyond the timeout, and treats 0 as "the full timeout".
 */
function carriedOverElement(entry: QuarantineEntry): JsonValue {
  const comment = entry.comment === undefined ? {} : { comment: entry.comment };
  if (entry.timeoutMs === null) return { elem: { val: entry.address, ...comment } };
  const timeout = Math.max(1, Math.ceil(entry.timeoutMs / 1000));
  const expires = Math.min(timeout, Math.floor((entry.expiresInMs ?? 0) / 1000) + 1);
  return { elem: { val: entry.address, timeout, expires, ...comment } };
}

/**
 * Kept out of the BlockList: a ::ffff:0:0/96 rule there matches every IPv4 address too. The canonical form
 * (inet_ntop's) writes the mapped address dotted.
 */
function isIpv4Mapped(ip: IpAddress): boolean {
  return ip.family === IP_FAMILIES.ipv6 && ip.address.startsWith('::ffff:') && ip.address.includes('.');
}

function checkItem(item: QuarantineItem): { ip: IpAddress; seconds: number; comment: string } {
  const ip = requireIpAddress(item.address);
  if (NEVER_QUARANTINED.check(ip.address, ip.family) || isIpv4Mapped(ip)) {
    throw new KernwatchError(
      ERROR_CODES.response,
      `Refusing to quarantine ${ip.address}: a loopback, unspecified, multicast, broadcast or IPv4-mapped address`,
    );
  }
  const seconds = Math.ceil(item.ttlMs / 1000);
  if (!Number.isFinite(item.ttlMs) || item.ttlMs < MIN_TTL_MS || !Number.isSafeInteger(seconds)) {
    throw new KernwatchError(
      ERROR_CODES.response,
      `Quarantine ttl for ${ip.address} must be at least ${MIN_TTL_MS} ms, got ${String(item.ttlMs)}`,
    );
  }
  checkComment(item.comment);
  return { ip, seconds, comment: item.comment };
}

/** Printable ASCII, minus `"` and `\`, which nft's text listing prints unescaped inside quotes. */
const COMMENT_CHARACTERS = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

function checkComment(comment: string): void {
  if (comment.length === 0 || comment.length > MAX_COMMENT_BYTES || !COMMENT_CHARACTERS.test(comment)) {
    throw new KernwatchError(
      ERROR_CODES.response,
      `A quarantine comment must be 1 to ${MAX_COMMENT_BYTES} printable ASCII characters without '"' ` +
        `and '\\', got ${JSON.stringify(comment.slice(0, MAX_COMMENT_BYTES + 1))}`,
    );
  }
}

/**
 * What in the listing differs from the layout kernwatch installs, in words for the log; empty when it is
 * the same. Sets and chains compare by name, rules in order within their chain; anything else in the
 * table (a map, a named counter, a table flag such as dormant) is a difference.
 */
export function layoutDifferences(listed: readonly NftListedObject[]): string[] {
  const want = layoutOf([{ kind: 'table', body: tableHandle() }, ...expectedObjects()]);
  const have = layoutOf(listed);
  const out: string[] = [];
  for (const [part, value] of want) {
    if (!have.has(part)) out.push(`${part} is missing`);
    else if (!isDeepStrictEqual(have.get(part), value)) out.push(`${part} differs`);
  }
  for (const part of have.keys()) if (!want.has(part)) out.push(`${part} is not kernwatch's`);
  return out;
}

function layoutOf(objects: readonly NftListedObject[]): Map<string, JsonValue> {
  const parts = new Map<string, JsonValue>();
  const rules = new Map<string, JsonValue[]>();
  for (const { kind, body } of objects) {
    const stable = Object.fromEntries(Object.entries(body).filter(([key]) => !VOLATILE_KEYS.has(key)));
    if (kind === 'rule') {
      const chain = nameOf(body.chain);
      const list = rules.get(chain) ?? [];
      list.push({ ...stable, expr: Array.isArray(body.expr) ? body.expr.map(withoutCounterValues) : null });
      rules.set(chain, list);
    } else {
      parts.set(kind === 'table' ? 'table' : `${kind} ${nameOf(body.name)}`, stable);
    }
  }
  for (const [chain, list] of rules) parts.set(`rules of chain ${chain}`, list);
  return parts;
}

function nameOf(value: JsonValue | undefined): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

/** `counter packets N bytes M` lists its values; the layout is the same whatever they are. */
function withoutCounterValues(statement: JsonValue): JsonValue {
  return isJsonObject(statement) && isJsonObject(statement.counter) ? { counter: null } : statement;
}

/**
 * The elements of the two sets. nft -j lists an element without timeout or comment as a bare string and
 * one with them as `{"elem": {"val": "192.0.2.2", "timeout": 60, "expires": 59, "comment": "..."}}`
 * (seconds). Values that are not a single address (a changed set type) are counted as skipped.
 */
export function entriesOf(listed: readonly NftListedObject[]): {
  entries: QuarantineEntry[];
  skipped: number;
} {
  const names: ReadonlySet<string> = new Set(Object.values(QUARANTINE_SETS));
  const entries: QuarantineEntry[] = [];
  let skipped = 0;
  for (const { kind, body } of listed) {
    if (kind !== 'set' || typeof body.name !== 'string' || !names.has(body.name)) continue;
    if (!Array.isArray(body.elem)) continue;
    for (const item of body.elem as readonly JsonValue[]) {
      const entry = entryOf(item);
      if (entry === undefined) skipped++;
      else entries.push(entry);
    }
  }
  return { entries, skipped };
}

function entryOf(item: JsonValue): QuarantineEntry | undefined {
  const fields = typeof item === 'string' ? { val: item } : isJsonObject(item) ? item.elem : undefined;
  if (!isJsonObject(fields) || typeof fields.val !== 'string') return undefined;
  const ip = parseIpAddress(fields.val);
  if (ip === undefined) return undefined;
  const timeout = typeof fields.timeout === 'number' ? fields.timeout * 1000 : null;
  // nft lists `"expires": 0` in an element's last second and drops it once expired; a timeout without
  // `expires` is not something it writes, read as "about to expire".
  const expires = typeof fields.expires === 'number' ? fields.expires * 1000 : timeout === null ? null : 0;
  const entry: QuarantineEntry = { ...ip, timeoutMs: timeout, expiresInMs: expires };
  if (typeof fields.comment === 'string') entry.comment = fields.comment;
  return entry;
}
