import type { CriClient } from '../attribute/cri/cri-client.js';
import type { Logger } from '../telemetry/logger.js';
import { parseQuarantineComment } from './actions/response-action.js';
import type { QuarantineTable } from './actions/nft-quarantine.js';
import type { KubeResponderApi } from './kube-responder-api.js';
import type { NftQuarantine } from './nft/quarantine-table.js';

export interface NftQuarantinesOptions {
  table: NftQuarantine;
  /** Live: the table is created, changed and reconciled. Dry-run: only read, to tell whether nft works. */
  live: boolean;
  log: Logger;
  cri?: CriClient;
  api?: KubeResponderApi;
}

/**
 * kernwatch's nftables table through the agent's life: set up at start (created or reconciled when
 * live; probed in dry-run, so that a node where nft cannot work says so in dry-run too), set up again
 * when it went away (someone flushed the ruleset), and cleaned of quarantines whose pod is gone.
 *
 * Why the last: a pod's addresses return to the CNI's pool when its sandbox stops, and the next pod may
 * get one within seconds. A quarantine that outlived its pod would cut off an innocent one, so an
 * address stays in the sets only while a running sandbox of the pod it was put there for exists.
 */
export class NftQuarantines {
  /** Addresses in the sets at the last look (a gauge). */
  addresses = 0;
  private usable = false;

  constructor(private readonly o: NftQuarantinesOptions) {}

  /** The table as the nft_quarantine action uses it. */
  get forAction(): QuarantineTable {
    return {
      available: () => this.usable,
      add: (items) => this.o.table.add(items),
      list: () => this.o.table.list(),
    };
  }

  async open(): Promise<void> {
    const { log, table, live } = this.o;
    if (!live) {
      try {
        this.addresses = (await table.list()).length;
        this.usable = true;
      } catch (err) {
        log.warn({ err }, 'nft does not work on this node: nft_quarantine would be refused (dry-run).');
      }
      return;
    }
    try {
      const state = await table.ensure();
      this.addresses = state.entries.length;
      this.usable = true;
      log.info(
        { created: state.created, rebuilt: state.rebuilt, quarantined: state.entries.length },
        state.created
          ? 'Created the nftables table inet kernwatch for quarantines.'
          : 'The nftables table inet kernwatch is in place; its quarantines carry on.',
      );
    } catch (err) {
      this.usable = false;
      log.error(
        { err },
        'Cannot set up the nftables table inet kernwatch; nft_quarantine is refused until it can.',
      );
    }
  }

  /** One reconcile pass: set the table up again if needed, then release the quarantines of gone pods. */
  async reconcile(): Promise<void> {
    const { log, table, live } = this.o;
    if (!live) return;
    if (!this.usable) {
      await this.open();
      if (!this.usable) return;
    }
    try {
      // ensure() is a read when the table is as it should be; it re-creates a table someone removed.
      const entries = (await table.ensure()).entries;
      this.addresses = entries.length;
      const alive = await this.livePodUids(entries);
      if (alive === undefined) return;
      const release = new Map<string, { pod: string; addresses: string[] }>();
      for (const entry of entries) {
        const pod = parseQuarantineComment(entry.comment);
        if (pod === undefined || alive(pod.uid)) continue;
        const group = release.get(pod.uid) ?? { pod: `${pod.namespace}/${pod.name}`, addresses: [] };
        group.addresses.push(entry.address);
        release.set(pod.uid, group);
      }
      for (const [uid, group] of release) {
        const removed = await table.release(group.addresses);
        this.addresses -= removed;
        log.info(
          { pod: group.pod, uid, addresses: group.addresses },
          'Released a quarantine whose pod is gone: its addresses may already belong to another pod.',
        );
      }
    } catch (err) {
      log.warn({ err }, 'Cannot reconcile the nftables quarantines; trying again later.');
    }
  }

  /**
   * Which pods still hold their addresses. The runtime is the authority on this node (a ready sandbox
   * holds its network; a stopped one gave its addresses back); without it, the API server (the pod
   * still exists under that uid). Undefined when neither can tell: the ttl alone ends quarantines then.
   */
  private async livePodUids(
    entries: readonly { comment?: string }[],
  ): Promise<((uid: string) => boolean) | undefined> {
    const { cri, api } = this.o;
    if (cri !== undefined) {
      const ready = new Set((await cri.listPodSandbox(true)).map((s) => s.uid));
      return (uid) => ready.has(uid);
    }
    if (api !== undefined) {
      const existing = new Set<string>();
      for (const entry of entries) {
        const pod = parseQuarantineComment(entry.comment);
        if (pod === undefined || existing.has(pod.uid)) continue;
        const found = await api.getPod(pod.namespace, pod.name);
        if (found?.metadata?.uid === pod.uid) existing.add(pod.uid);
      }
      return (uid) => existing.has(uid);
    }
    return undefined;
  }
}
