import type { ResponsesConfig } from '../config/config-schema.js';
import type { KernwatchEvent } from '../events.js';
import type { EventSink } from '../sinks/event-sink.js';
import type { Logger } from '../telemetry/logger.js';
import {
  ACTION_SCHEMA,
  DECISION,
  REFUSAL,
  type ActionEvent,
  type ActionTarget,
  type ActionTrigger,
  type ActionType,
  type Decision,
  type Refusal,
} from './action-event.js';
import {
  isRefusal,
  type ActionContext,
  type ActionRefusal,
  type PreparedAction,
} from './actions/response-action.js';
import { DecisionFolding } from './decision-folding.js';
import { NodeBudget } from './node-budget.js';
import { PodCooldown } from './pod-cooldown.js';
import { ResponsePolicy, type Firing } from './policy.js';
import { TARGET_LOOKUP, type PodTargets, type TargetPod } from './pod-target.js';

/** The pod annotation by which its owners opt it out of automated responses. */
export const OPT_OUT_ANNOTATION = 'kernwatch.io/respond';

/** How the agent knows itself: never respond to its own pod. */
export interface OwnIdentity {
  /** The agent's pod uid (the DaemonSet passes it through the downward API as POD_UID). */
  podUid?: string;
  /** The agent's container id (from its own /proc/self/cgroup). */
  containerId?: string;
}

export interface ResponseRunnerOptions {
  config: ResponsesConfig;
  node: string;
  log: Logger;
  targets: PodTargets;
  /** Each rule's actions, prepared with their settings, in rule order. */
  actionsOf: (rule: Firing['rule']) => readonly PreparedAction[];
  own: OwnIdentity;
  /** Where action events go (the durable sinks). */
  publish: (events: ActionEvent[]) => Promise<void>;
  clock?: () => number;
}

/** Every decision made, published or folded: the metric `kernwatch_response_decisions_total`. */
export interface DecisionCount {
  action: ActionType;
  decision: Decision;
  reason: Refusal | '';
  count: number;
}

export interface ResponseRunnerCounters {
  firings: number;
  /** Firings added to a response of the same pod and rule still waiting in the queue. */
  merged: number;
  published: number;
  folded: number;
  publishFailures: number;
}

const SHUTDOWN_WAIT_MS = 5_000;

/**
 * Turns denials into responses, under guards, on its own bounded queue: `deliver` only evaluates the
 * rules (pure, in memory) and queues what fired, so the chain never waits for the API server or nft.
 *
 * Guards, in order (the first that refuses decides, and names itself in the action event):
 *   protected namespace → the agent's own pod → per-pod cooldown → node budget (a cheap look, so a storm
 *   costs no API calls) → the pod as read now (gone, or a new pod under the same name) → opt-out
 *   annotation → each action's own guards (DaemonSet, standalone, min healthy, host network, already
 *   done…) → the budget taken for every action that passed, or refused whole.
 * Dry-run goes through every guard and takes budget and cooldown as a live run would, so its action
 * events say exactly what switching responses on would do.
 */
export class ResponseRunner implements EventSink {
  readonly name = 'responses';
  readonly bestEffort = true;
  readonly counters: ResponseRunnerCounters = {
    firings: 0,
    merged: 0,
    published: 0,
    folded: 0,
    publishFailures: 0,
  };
  private readonly policy: ResponsePolicy;
  private readonly budget: NodeBudget;
  private readonly cooldown: PodCooldown;
  private readonly folding = new DecisionFolding();
  private readonly decisions = new Map<string, DecisionCount>();
  private readonly queue: Firing[] = [];
  /** The queued firing of each pod and rule. */
  private readonly waiting = new Map<string, Firing>();
  private readonly protectedNamespaces: Set<string>;
  private readonly clock: () => number;
  private wake: () => void = () => undefined;
  private worker: Promise<void> = Promise.resolve();
  private closed = false;
  private busy = false;

  constructor(private readonly o: ResponseRunnerOptions) {
    this.policy = new ResponsePolicy(o.config.rules);
    this.budget = new NodeBudget(o.config.budgetPerMinute);
    this.cooldown = new PodCooldown(o.config.cooldown);
    this.protectedNamespaces = new Set(o.config.protectedNamespaces);
    this.clock = o.clock ?? Date.now;
  }

  get dryRun(): boolean {
    return !this.o.config.enabled;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Actions that fit into the node budget now. */
  get budgetLeft(): number {
    return this.budget.room(this.clock());
  }

  /** Resolves when the queue is empty and nothing is being decided (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.queue.length > 0 || this.busy) await new Promise((r) => setTimeout(r, 5));
  }

  decisionCounts(): DecisionCount[] {
    return [...this.decisions.values()];
  }

  start(): void {
    this.worker = this.work();
  }

  deliver(events: readonly KernwatchEvent[]): Promise<void> {
    if (this.closed) return Promise.resolve();
    for (const event of events) {
      for (const firing of this.policy.evaluate(event)) {
        this.counters.firings++;
        // One waiting response per pod and rule: a storm of one pod is one incident, and the queue then
        // holds at most one entry per offending pod however many denials arrive before it is decided.
        const key = `${firing.pod.uid}\u0000${firing.rule.name}`;
        const waiting = this.waiting.get(key);
        if (waiting !== undefined) {
          waiting.count += firing.count;
          waiting.atMs = Math.max(waiting.atMs, firing.atMs);
          this.counters.merged++;
          continue;
        }
        if (this.queue.length >= this.o.config.queueSize) {
          this.refuseAll(firing, REFUSAL.queueFull, 'too many responses are waiting to be decided');
          continue;
        }
        this.queue.push(firing);
        this.waiting.set(key, firing);
      }
    }
    if (this.queue.length > 0) this.wake();
    return Promise.resolve();
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.worker,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    const left = this.queue.splice(0);
    this.waiting.clear();
    for (const firing of left) {
      this.refuseAll(firing, REFUSAL.shutdown, 'the agent stopped before the response was decided');
    }
    if (left.length > 0) {
      this.o.log.warn({ responses: left.length }, 'Responses still waiting at shutdown were not decided.');
    }
  }

  private async work(): Promise<void> {
    for (;;) {
      const firing = this.queue.shift();
      if (firing !== undefined) this.waiting.delete(`${firing.pod.uid}\u0000${firing.rule.name}`);
      if (firing === undefined) {
        if (this.closed) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      this.busy = true;
      try {
        await this.decide(firing);
      } catch (err) {
        this.o.log.error({ err, rule: firing.rule.name }, 'Deciding a response failed unexpectedly.');
      } finally {
        this.busy = false;
      }
    }
  }

  private async decide(firing: Firing): Promise<void> {
    const { pod, event } = firing;
    const maxAge = this.o.config.maxTriggerAge;
    if (maxAge > 0 && this.clock() - firing.atMs > maxAge) {
      this.refuseAll(
        firing,
        REFUSAL.stale,
        `the newest denial counted is from ${iso(firing.atMs)}, older than maxTriggerAge ${String(Math.round(maxAge / 1000))} s`,
      );
      return;
    }
    if (this.protectedNamespaces.has(pod.namespace)) {
      this.refuseAll(firing, REFUSAL.protectedNamespace, `namespace ${pod.namespace} is protected`);
      return;
    }
    const own = this.o.own;
    if (
      (own.podUid !== undefined && own.podUid === pod.uid) ||
      (own.containerId !== undefined && own.containerId === event.container?.id)
    ) {
      this.refuseAll(firing, REFUSAL.ownPod, 'kernwatch never responds to its own pod');
      return;
    }
    const cooling = this.cooldown.activeUntil(pod.uid, this.clock());
    if (cooling !== undefined) {
      this.refuseAll(
        firing,
        REFUSAL.cooldown,
        `the pod was responded to recently; cooldown until ${iso(cooling)}`,
      );
      return;
    }
    const actions = this.o.actionsOf(firing.rule);
    if (this.budget.room(this.clock()) < actions.length) {
      this.refuseAll(firing, REFUSAL.budget, this.budgetDetail());
      return;
    }

    let target: TargetPod;
    try {
      const found = await this.o.targets.lookup(pod, event);
      if (found.result !== TARGET_LOOKUP.found) {
        const reason = found.result === TARGET_LOOKUP.gone ? REFUSAL.podGone : REFUSAL.podUnreadable;
        this.refuseAll(firing, reason, found.detail);
        return;
      }
      target = found.pod;
    } catch (err) {
      for (const action of actions) this.failed(firing, action.type, `cannot read the pod: ${message(err)}`);
      return;
    }
    if (target.annotations[OPT_OUT_ANNOTATION] === 'false') {
      this.refuseAll(firing, REFUSAL.optedOut, `the pod is annotated ${OPT_OUT_ANNOTATION}: "false"`);
      return;
    }

    const ctx: ActionContext = { firing, target, nowMs: this.clock() };
    const runnable: PreparedAction[] = [];
    for (const action of actions) {
      let refused: ActionRefusal | undefined;
      try {
        refused = await action.check(ctx);
      } catch (err) {
        this.failed(firing, action.type, message(err));
        continue;
      }
      if (refused === undefined) runnable.push(action);
      else this.decided(firing, action.type, DECISION.refused, refused.detail, { reason: refused.refusal });
    }
    if (runnable.length === 0) return;
    // Checked again: the awaits above let other time pass, and the whole response fits or none of it.
    const now = this.clock();
    if (!this.budget.take(runnable.length, now)) {
      for (const action of runnable) {
        this.decided(firing, action.type, DECISION.refused, this.budgetDetail(), { reason: REFUSAL.budget });
      }
      return;
    }
    const runCtx: ActionContext = { firing, target, nowMs: now };
    let acted = false;
    for (const action of runnable) {
      if (this.dryRun) {
        const plan = action.plan(runCtx);
        this.decided(firing, action.type, DECISION.dryRun, `dry-run: would ${plan.detail}`, {
          target: plan.target,
        });
        acted = true;
        continue;
      }
      try {
        const result = await action.run(runCtx);
        if (isRefusal(result)) {
          this.decided(firing, action.type, DECISION.refused, result.detail, { reason: result.refusal });
        } else {
          this.decided(firing, action.type, DECISION.taken, result.detail, { target: result.target });
          acted = true;
        }
      } catch (err) {
        this.failed(firing, action.type, message(err));
      }
    }
    // Only a response that did something starts the cooldown: after a failure the next denial may try
    // again (the budget it spent stays spent, so a failing API cannot be hammered).
    if (acted) this.cooldown.start(pod.uid, this.clock());
  }

  private budgetDetail(): string {
    const next = this.budget.nextSlotAt(this.clock());
    return (
      `the node's budget of ${String(this.o.config.budgetPerMinute)} actions per minute is spent` +
      (next === undefined ? '' : `; the next frees at ${iso(next)}`)
    );
  }

  private refuseAll(firing: Firing, reason: Refusal, detail: string): void {
    for (const action of firing.rule.actions) {
      this.decided(firing, action.type, DECISION.refused, detail, { reason });
    }
  }

  private failed(firing: Firing, action: ActionType, error: string): void {
    this.decided(firing, action, DECISION.failed, `${action} failed: ${error}`, { error });
  }

  /** Counts the decision, logs it, and publishes it unless an identical one was published moments ago. */
  private decided(
    firing: Firing,
    action: ActionType,
    decision: Decision,
    detail: string,
    extra: { reason?: Refusal; target?: ActionTarget; error?: string },
  ): void {
    const reason = extra.reason ?? '';
    const countKey = `${action}\u0000${decision}\u0000${reason}`;
    const counted = this.decisions.get(countKey);
    if (counted === undefined) this.decisions.set(countKey, { action, decision, reason, count: 1 });
    else counted.count++;

    const now = this.clock();
    const { pod, event, rule } = firing;
    // Refusals and failures can repeat without bound (an API outage fails every firing); taken and
    // dry-run decisions each spent budget, and every one of them is published.
    const admitted =
      decision === DECISION.refused || decision === DECISION.failed
        ? this.folding.admit(`${pod.uid}\u0000${rule.name}\u0000${countKey}`, now)
        : { repeats: 0 };
    if (admitted === undefined) {
      this.counters.folded++;
      return;
    }
    const actionEvent: ActionEvent = {
      schema: ACTION_SCHEMA,
      id: `${event.id}/${rule.name}/${action}/${decision}${reason === '' ? '' : `:${reason}`}`,
      time: new Date(now).toISOString(),
      node: this.o.node,
      rule: rule.name,
      action,
      decision,
      detail,
      pod: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
      trigger: triggerOf(firing),
    };
    if (extra.reason !== undefined) actionEvent.reason = extra.reason;
    if (admitted.repeats > 0) actionEvent.repeats = admitted.repeats;
    if (event.container !== undefined) actionEvent.container = event.container;
    if (extra.target !== undefined) actionEvent.target = extra.target;
    if (extra.error !== undefined) actionEvent.error = extra.error;
    this.log(actionEvent);
    this.counters.published++;
    this.o.publish([actionEvent]).catch((err: unknown) => {
      this.counters.publishFailures++;
      this.o.log.error({ err, id: actionEvent.id }, 'An action event could not be published.');
    });
  }

  private log(e: ActionEvent): void {
    const fields = {
      rule: e.rule,
      action: e.action,
      decision: e.decision,
      reason: e.reason,
      pod: `${e.pod.namespace}/${e.pod.name}`,
      trigger: e.trigger.eventId,
      repeats: e.repeats,
    };
    if (e.decision === DECISION.taken) this.o.log.warn(fields, `Response taken: ${e.detail}.`);
    else if (e.decision === DECISION.failed) this.o.log.error(fields, `Response failed: ${e.detail}.`);
    else
      this.o.log.info(
        fields,
        `Response ${e.decision === DECISION.dryRun ? 'dry-run' : 'refused'}: ${e.detail}.`,
      );
  }
}

function triggerOf(firing: Firing): ActionTrigger {
  const { event, rule, count } = firing;
  const trigger: ActionTrigger = {
    eventId: event.id,
    kind: event.kind,
    outcome: event.outcome,
    count,
    withinMs: rule.threshold.within,
  };
  if (event.seccomp?.syscall !== undefined) trigger.syscall = event.seccomp.syscall;
  if (event.apparmor !== undefined) trigger.operation = event.apparmor.operation;
  if (event.selinux !== undefined) trigger.permissions = event.selinux.permissions;
  return trigger;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
