import { EventsV1Event, V1MicroTime, V1ObjectMeta, V1ObjectReference } from '@kubernetes/client-node';
import { REPORTING_CONTROLLER } from '../../sinks/k8s-events/pod-event-reporter.js';
import { EventNamer } from '../../sinks/k8s-events/event-name.js';
import { ACTION_TYPE, REFUSAL } from '../action-event.js';
import type { KubeResponderApi } from '../kube-responder-api.js';
import type { ActionContext, ActionPlan, ActionRefusal, PreparedAction } from './response-action.js';

/** events.k8s.io reason of the Event this action writes; denials use SeccompViolation etc. */
export const RESPONSE_EVENT_REASON = 'KernwatchResponse';
const REPORTING_INSTANCE_MAX = 128;
const NOTE_MAX = 1024;

/**
 * A Kubernetes Event on the pod saying which rule fired and on how many denials, so that whoever looks
 * at the pod (`kubectl describe pod`) sees that kernwatch responded, beside the denial Events.
 */
export class ResponseEventAction implements PreparedAction {
  readonly type = ACTION_TYPE.k8sEvent;
  private readonly namer = new EventNamer();
  private readonly reportingInstance: string;

  constructor(
    private readonly api: KubeResponderApi | undefined,
    node: string,
  ) {
    this.reportingInstance = `kernwatch-${node}`.slice(0, REPORTING_INSTANCE_MAX);
  }

  check(): Promise<ActionRefusal | undefined> {
    return Promise.resolve(
      this.api === undefined
        ? { refusal: REFUSAL.noApiServer, detail: 'a Kubernetes Event needs the API server' }
        : undefined,
    );
  }

  plan({ target }: ActionContext): ActionPlan {
    return {
      target: {},
      detail: `write a ${RESPONSE_EVENT_REASON} Event on pod ${target.namespace}/${target.name}`,
    };
  }

  async run(ctx: ActionContext): Promise<ActionPlan | ActionRefusal> {
    const { target, firing, nowMs } = ctx;
    if (this.api === undefined) return { refusal: REFUSAL.noApiServer, detail: 'no API server' };
    const { rule, count } = firing;
    const actions = rule.actions.map((a) => a.type).join(', ');
    const note =
      `kernwatch rule ${rule.name}: ${String(count)} ${firing.event.kind} ` +
      `denial(s) within ${String(Math.ceil(rule.threshold.within / 1000))} s; responses: ${actions}`;
    const body = Object.assign(new EventsV1Event(), {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: Object.assign(new V1ObjectMeta(), {
        name: this.namer.next(target.name, nowMs),
        namespace: target.namespace,
      }),
      // MicroTime: the server parses exactly six fractional digits, which V1MicroTime writes.
      eventTime: new V1MicroTime(nowMs),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.reportingInstance,
      action: 'Respond',
      reason: RESPONSE_EVENT_REASON,
      regarding: Object.assign(new V1ObjectReference(), {
        kind: 'Pod',
        apiVersion: 'v1',
        namespace: target.namespace,
        name: target.name,
        uid: target.uid,
      }),
      note: note.slice(0, NOTE_MAX),
      type: 'Warning',
    });
    await this.api.createEvent(target.namespace, body);
    return {
      target: {},
      detail: `wrote a ${RESPONSE_EVENT_REASON} Event on pod ${target.namespace}/${target.name}`,
    };
  }
}
