import { readFile } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { CriClient } from '../attribute/cri/cri-client.js';
import type { ContainerDirectory } from '../attribute/cri/container-directory.js';
import { cgroupIdentity } from '../attribute/proc/cgroup-identity.js';
import type { ResponseActionConfig, ResponseRuleConfig, ResponsesConfig } from '../config/config-schema.js';
import { ERROR_CODES, KernwatchError } from '../errors.js';
import type { EventSink } from '../sinks/event-sink.js';
import type { Logger } from '../telemetry/logger.js';
import { ACTION_TYPE, type ActionEvent } from './action-event.js';
import { DeletePodAction } from './actions/delete-pod.js';
import { LabelPodAction } from './actions/label-pod.js';
import { NetpolQuarantineAction } from './actions/netpol-quarantine.js';
import { NftQuarantineAction, type QuarantineTable } from './actions/nft-quarantine.js';
import type { PreparedAction } from './actions/response-action.js';
import { ResponseEventAction } from './actions/response-event.js';
import { KubeResponderApi } from './kube-responder-api.js';
import { NetpolQuarantines } from './netpol-quarantines.js';
import { NftCommand } from './nft/nft-command.js';
import { NftQuarantine } from './nft/quarantine-table.js';
import { PodTargets } from './pod-target.js';
import { ResponseRunner, type OwnIdentity } from './runner.js';

export interface ResponderOptions {
  config: ResponsesConfig;
  node: string;
  log: Logger;
  kubeConfig?: KubeConfig;
  criSocket?: string;
  criTimeoutMs?: number;
  containers?: ContainerDirectory;
  /** The sinks action events go to (read when publishing: they open after the responder is built). */
  sinks: () => readonly EventSink[];
  /** Where to act with nft (tests: ['nsenter', '--net=…']); empty in production. */
  nftPrefix?: readonly string[];
  /** How often NetworkPolicy quarantines are checked for expiry and the nft gauge is refreshed. */
  maintenanceIntervalMs?: number;
}

const DEFAULT_MAINTENANCE_MS = 30_000;

/**
 * Automated responses, assembled: the runner with its actions, kernwatch's nftables table (created or
 * reconciled at start, only when responses are on and a rule uses it), and the loop that ends
 * NetworkPolicy quarantines whose ttl ran out. Absent when no rule is configured.
 */
export class Responder {
  readonly runner: ResponseRunner;
  /** Addresses in kernwatch's nftables sets at the last look (a gauge). */
  quarantinedAddresses = 0;
  private readonly api: KubeResponderApi | undefined;
  private readonly netpols: NetpolQuarantines | undefined;
  private readonly cri: CriClient | undefined;
  private table: NftQuarantine | undefined;
  private timer: NodeJS.Timeout | undefined;
  private maintaining: Promise<void> = Promise.resolve();

  private constructor(
    private readonly o: ResponderOptions,
    own: OwnIdentity,
  ) {
    const { config, log, node } = o;
    this.api = o.kubeConfig === undefined ? undefined : new KubeResponderApi(o.kubeConfig);
    this.netpols = this.api === undefined ? undefined : new NetpolQuarantines(this.api);
    this.cri =
      o.criSocket === undefined
        ? undefined
        : new CriClient({ socketPath: o.criSocket, callTimeoutMs: o.criTimeoutMs ?? 2000 });
    if (usesNft(config.rules)) {
      this.table = new NftQuarantine({
        nft: new NftCommand({ prefix: o.nftPrefix ?? [] }),
        log: log.child({ component: 'nftables' }),
      });
    }
    const containers = o.containers;
    const targets = new PodTargets({
      ...(this.api === undefined ? {} : { api: this.api }),
      ...(this.cri === undefined ? {} : { cri: this.cri }),
      ...(containers === undefined
        ? {}
        : { sandboxOf: async (id: string) => (await containers.resolve(id))?.podSandboxId }),
    });
    const prepared = new Map<ResponseRuleConfig, PreparedAction[]>();
    for (const rule of config.rules)
      prepared.set(
        rule,
        rule.actions.map((a) => this.prepare(a)),
      );
    this.runner = new ResponseRunner({
      config,
      node,
      log: log.child({ component: 'responses' }),
      targets,
      actionsOf: (rule) => prepared.get(rule) ?? [],
      own,
      publish: (events) => this.publish(events),
    });
  }

  static async start(o: ResponderOptions): Promise<Responder | undefined> {
    if (o.config.rules.length === 0) return undefined;
    const responder = new Responder(o, await ownIdentity());
    await responder.open();
    return responder;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.maintaining;
    await this.runner.close();
    this.cri?.close();
  }

  private async open(): Promise<void> {
    const { log, config } = this.o;
    if (this.table !== undefined && config.enabled) {
      try {
        const state = await this.table.ensure();
        this.quarantinedAddresses = state.entries.length;
        log.info(
          { created: state.created, rebuilt: state.rebuilt, quarantined: state.entries.length },
          state.created
            ? 'Created the nftables table inet kernwatch for quarantines.'
            : 'The nftables table inet kernwatch is in place; its quarantines carry on.',
        );
      } catch (err) {
        log.error({ err }, 'Cannot set up the nftables table inet kernwatch; nft_quarantine is refused.');
        this.table = undefined;
      }
    }
    this.runner.start();
    log.info(
      { rules: config.rules.length, dryRun: !config.enabled, budgetPerMinute: config.budgetPerMinute },
      config.enabled
        ? 'Automated responses are on.'
        : 'Automated responses are in dry-run: decisions are published, nothing is changed.',
    );
    const every = this.o.maintenanceIntervalMs ?? DEFAULT_MAINTENANCE_MS;
    this.timer = setInterval(() => {
      this.maintaining = this.maintain();
    }, every);
    this.timer.unref();
  }

  private async maintain(): Promise<void> {
    const { log, node, config } = this.o;
    if (this.table !== undefined && config.enabled) {
      try {
        this.quarantinedAddresses = (await this.table.list()).length;
      } catch (err) {
        log.warn({ err }, 'Cannot read the nftables quarantine sets.');
      }
    }
    if (this.netpols !== undefined && config.enabled) {
      try {
        for (const q of await this.netpols.expire(node, Date.now())) {
          log.info(
            { namespace: q.namespace, pod: q.pod.name, policy: q.policy },
            'Released a NetworkPolicy quarantine whose time was up.',
          );
        }
      } catch (err) {
        log.warn({ err }, 'Cannot expire NetworkPolicy quarantines; trying again later.');
      }
    }
  }

  private prepare(action: ResponseActionConfig): PreparedAction {
    const { node, config } = this.o;
    switch (action.type) {
      case ACTION_TYPE.deletePod:
        return new DeletePodAction(action, this.api);
      case ACTION_TYPE.nftQuarantine:
        return new NftQuarantineAction(action, this.quarantineTable(config.enabled));
      case ACTION_TYPE.netpolQuarantine:
        return new NetpolQuarantineAction(action, this.api, node);
      case ACTION_TYPE.label:
        return new LabelPodAction(action, this.api);
      case ACTION_TYPE.k8sEvent:
        return new ResponseEventAction(this.api, node);
    }
  }

  /**
   * The table as the action sees it. Read lazily: a failed set-up at start takes it away. In dry-run the
   * table is never created or changed; what is already in it still counts as done.
   */
  private quarantineTable(live: boolean): QuarantineTable {
    return {
      add: (items) => {
        const table = this.table;
        if (table === undefined || !live) {
          return Promise.reject(
            new KernwatchError(ERROR_CODES.response, 'kernwatch’s nftables table is not available'),
          );
        }
        return table.add(items);
      },
      list: async () => {
        const table = this.table;
        if (table === undefined) return [];
        return live ? table.list() : table.list().catch(() => []);
      },
    };
  }

  private async publish(events: ActionEvent[]): Promise<void> {
    const results = await Promise.allSettled(
      this.o.sinks().map((sink) => sink.deliverActions?.(events) ?? Promise.resolve()),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}

function usesNft(rules: readonly ResponseRuleConfig[]): boolean {
  return rules.some((r) => r.actions.some((a) => a.type === ACTION_TYPE.nftQuarantine));
}

/** The agent's own pod uid (downward API) and container id (its own cgroup). */
async function ownIdentity(env: NodeJS.ProcessEnv = process.env): Promise<OwnIdentity> {
  const own: OwnIdentity = {};
  const uid = env.POD_UID;
  if (uid !== undefined && uid !== '') own.podUid = uid;
  try {
    const identity = cgroupIdentity(await readFile('/proc/self/cgroup', 'utf8'));
    if (identity.containerId !== undefined) own.containerId = identity.containerId;
    if (own.podUid === undefined && identity.podUid !== undefined) own.podUid = identity.podUid;
  } catch {
    // Not Linux, or /proc not mounted: the downward API is the only source then.
  }
  return own;
}
