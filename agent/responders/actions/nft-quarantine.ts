import { BlockList, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ResponseActionConfig } from '../../config/config-schema.js';
import { ACTION_TYPE, REFUSAL } from '../action-event.js';
import { parseIpAddress } from '../nft/ip-address.js';
import {
  quarantineComment,
  type ActionContext,
  type ActionPlan,
  type ActionRefusal,
  type PreparedAction,
} from './response-action.js';

type NftQuarantineConfig = Extract<ResponseActionConfig, { type: 'nft_quarantine' }>;

/** What the action needs of kernwatch's nftables table (agent/responders/nft/quarantine-table.ts). */
export interface QuarantineTable {
  /** Set up and usable now (live: created or reconciled; dry-run: nft answers). */
  available(): boolean;
  add(items: { address: string; ttlMs: number; comment: string }[]): Promise<void>;
  list(): Promise<readonly { address: string }[]>;
}

/**
 * Drops all traffic to and from the pod's addresses in kernwatch's own nftables table, for the rule's
 * ttl (the kernel expires the set elements by itself, also while the agent is down). Refused for a
 * host-network pod: its address is the node's, and quarantining it would cut the whole node off.
 */
export class NftQuarantineAction implements PreparedAction {
  readonly type = ACTION_TYPE.nftQuarantine;

  constructor(
    private readonly config: NftQuarantineConfig,
    private readonly table: QuarantineTable,
    /** The node's own addresses (all interfaces of the agent's network namespace). */
    private readonly nodeAddresses: () => ReadonlySet<string> = localAddresses,
  ) {}

  async check({ target }: ActionContext): Promise<ActionRefusal | undefined> {
    if (!this.table.available()) {
      return {
        refusal: REFUSAL.noNftables,
        detail: 'kernwatch’s nftables table is not available on this node',
      };
    }
    if (target.hostNetwork) {
      return {
        refusal: REFUSAL.hostNetwork,
        detail: 'the pod uses the node’s network: quarantining its address would cut off the node',
      };
    }
    const addresses = podAddresses(target.ips);
    if (addresses.length === 0) return { refusal: REFUSAL.noPodIp, detail: 'the pod has no address yet' };
    // A last look before the kernel drops everything to and from an address: one of the node's own, or a
    // link-local one (the metadata service, node-local DNS), would cut the node off, whatever the pod says.
    const node = this.nodeAddresses();
    const unsafe = addresses.filter((a) => node.has(a) || isLinkLocal(a));
    if (unsafe.length > 0) {
      return {
        refusal: REFUSAL.hostNetwork,
        detail: `${unsafe.join(', ')} ${unsafe.length === 1 ? 'is' : 'are'} the node’s own or link-local`,
      };
    }
    const present = new Set((await this.table.list()).map((e) => e.address));
    if (addresses.every((a) => present.has(a))) {
      return { refusal: REFUSAL.alreadyDone, detail: `${addresses.join(', ')} already quarantined` };
    }
    return undefined;
  }

  plan({ target, nowMs }: ActionContext): ActionPlan {
    const addresses = podAddresses(target.ips);
    return {
      target: { addresses, expiresAt: new Date(nowMs + this.config.ttl).toISOString() },
      detail: `quarantine ${addresses.join(', ')} of pod ${target.namespace}/${target.name} for ${seconds(this.config.ttl)}`,
    };
  }

  async run(ctx: ActionContext): Promise<ActionPlan | ActionRefusal> {
    const { target } = ctx;
    const plan = this.plan(ctx);
    const addresses = plan.target.addresses ?? [];
    const comment = quarantineComment(target);
    await this.table.add(addresses.map((address) => ({ address, ttlMs: this.config.ttl, comment })));
    return {
      target: plan.target,
      detail: `quarantined ${addresses.join(', ')} of pod ${target.namespace}/${target.name} for ${seconds(this.config.ttl)}`,
    };
  }
}

/**
 * Only plain addresses reach nft, in nft's own spelling (so they compare with what it lists); anything
 * else the API or the runtime reported (a zone id, a CIDR) is left out rather than failing the batch.
 */
function podAddresses(ips: readonly string[]): string[] {
  const out: string[] = [];
  for (const ip of ips) {
    const parsed = parseIpAddress(ip);
    if (parsed !== undefined && !out.includes(parsed.address)) out.push(parsed.address);
  }
  return out;
}

/** Every address of this network namespace's interfaces, in nft's spelling. */
function localAddresses(): ReadonlySet<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      const parsed = parseIpAddress(info.address.split('%')[0] ?? '');
      if (parsed !== undefined) out.add(parsed.address);
    }
  }
  return out;
}

function isLinkLocal(address: string): boolean {
  return LINK_LOCAL.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');

function seconds(ms: number): string {
  return `${String(Math.ceil(ms / 1000))} s`;
}
