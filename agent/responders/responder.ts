import { readFile } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { CriClient } from '../attribute/cri/cri-client.js';
import type { ContainerDirectory } from '../attribute/cri/container-directory.js';
import { cgroupIdentity } from '../attribute/proc/cgroup-identity.js';
import type { ResponseActionConfig, ResponseRuleConfig, ResponsesConfig } from '../config/config-schema.js';
import { ERROR_CODES, KernwatchError } from '../errors.js';
import { deliverToEach, type EventSink } from '../sinks/event-sink.js';
import type { Logger } from '../telemetry/logger.js';
import { ACTION_TYPE, type ActionEvent } from './action-event.js';
import { DeletePodAction } from './actions/delete-pod.js';
import { LabelPodAction } from './actions/label-pod.js';
import { NetpolQuarantineAction } from './actions/netpol-quarantine.js';
import { NftQuarantineAction } from './actions/nft-quarantine.js';
import type { PreparedAction } from './actions/response-action.js';
import { ResponseEventAction } from './actions/response-event.js';
import { KubeResponderApi } from './kube-responder-api.js';
import { NetpolQuarantines } from './netpol-quarantines.js';
import { NftCommand } from './nft/nft-command.js';
import { NftQuarantine } from './nft/quarantine-table.js';
import { NftQuarantines } from './nft-quarantines.js';
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
  /** For tests: instead of the process environment and /proc/self/cgroup. */
  own?: OwnIdentity;
}

/**
 * Automated responses, assembled: the runner with its actions, kernwatch's nftables table, and the
 * reconcile loop that releases quarantines of pods that are gone and NetworkPolicy quarantines past their
 * ttl. Absent when no rule is configured.
 */
export class Responder {
  readonly runner: ResponseRunner;
  private readonly api: KubeResponderApi | undefined;
  private readonly netpols: NetpolQuarantines | undefined;
  private readonly cri: CriClient | undefined;
  private readonly nft: NftQuarantines | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;

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
      this.nft = new NftQuarantines({
        table: new NftQuarantine({
          nft: new NftCommand({ prefix: o.nftPrefix ?? [] }),
          log: log.child({ component: 'nftables' }),
        }),
        live: config.enabled,
        log: log.child({ component: 'nftables' }),
        ...(this.cri === undefined ? {} : { cri: this.cri }),
        ...(this.api === undefined ? {} : { api: this.api }),
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
    for (const rule of config.rules) {
      prepared.set(
        rule,
        rule.actions.map((a) => this.prepare(a)),
      );
    }
    if (config.enabled && own.podUid === undefined && own.containerId === undefined) {
      log.warn(
        'kernwatch does not know its own pod (set POD_UID from the downward API): the own-pod guard cannot recognise it.',
      );
    }
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
    const responder = new Responder(o, o.own ?? (await ownIdentity()));
    await responder.open();
    return responder;
  }

  /** Addresses in kernwatch's nftables sets at the last look (a gauge). */
  get quarantinedAddresses(): number {
    return this.nft?.addresses ?? 0;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.reconciling;
    await this.runner.close();
    this.cri?.close();
  }

  /** One reconcile pass now (the loop runs one every reconcileInterval). */
  async reconcile(): Promise<void> {
    const { log, node } = this.o;
    await this.nft?.reconcile();
    // Releasing is not a response: expired quarantines go in dry-run too, and whatever the rules now say.
    if (this.netpols !== undefined) {
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

  private async open(): Promise<void> {
    const { log, config } = this.o;
    await this.nft?.open();
    this.runner.start();
    log.info(
      { rules: config.rules.length, dryRun: !config.enabled, budgetPerMinute: config.budgetPerMinute },
      config.enabled
        ? 'Automated responses are on.'
        : 'Automated responses are in dry-run: decisions are published, nothing is changed.',
    );
    this.timer = setInterval(() => {
      // One pass at a time: a slow API server must not pile passes up.
      if (this.reconciling !== undefined) return;
      this.reconciling = this.reconcile().finally(() => {
        this.reconciling = undefined;
      });
    }, config.reconcileInterval);
    this.timer.unref();
  }

  private prepare(action: ResponseActionConfig): PreparedAction {
    const { node } = this.o;
    switch (action.type) {
      case ACTION_TYPE.deletePod:
        return new DeletePodAction(action, this.api);
      case ACTION_TYPE.nftQuarantine: {
        const nft = this.nft;
        if (nft === undefined) throw new Error('nft quarantines are set up for every rule that uses them');
        return new NftQuarantineAction(action, nft.forAction);
      }
      case ACTION_TYPE.netpolQuarantine:
        return new NetpolQuarantineAction(action, this.api, node);
      case ACTION_TYPE.label:
        return new LabelPodAction(action, this.api);
      case ACTION_TYPE.k8sEvent:
        return new ResponseEventAction(this.api, node);
    }
  }

  private async publish(events: ActionEvent[]): Promise<void> {
    const failures = await deliverToEach(this.o.sinks(), (sink) => sink.deliverActions?.(events));
    if (failures.length > 0) {
      throw new KernwatchError(
        ERROR_CODES.sink,
        `Action events not delivered to ${failures.map((f) => f.sink).join(', ')}`,
        { cause: failures[0]?.err },
      );
    }
  }
}

function usesNft(rules: readonly ResponseRuleConfig[]): boolean {
  return rules.some((r) => r.actions.some((a) => a.type === ACTION_TYPE.nftQuarantine));
}

/** The agent's own pod uid (downward API) and container id (its own cgroup, where that shows it). */
async function ownIdentity(env: NodeJS.ProcessEnv = process.env): Promise<OwnIdentity> {
  const own: OwnIdentity = {};
  const uid = env.POD_UID;
  if (uid !== undefined && uid !== '') own.podUid = uid;
  try {
    // With cgroup v2 and a private cgroup namespace this reads `0::/`: the downward API is needed then.
    const identity = cgroupIdentity(await readFile('/proc/self/cgroup', 'utf8'));
    if (identity.containerId !== undefined) own.containerId = identity.containerId;
    if (own.podUid === undefined && identity.podUid !== undefined) own.podUid = identity.podUid;
  } catch {
    // /proc not mounted: the downward API is the only source then.
  }
  return own;
}
