import type { ResponseActionConfig } from '../../config/config-schema.js';
import { ACTION_TYPE, REFUSAL } from '../action-event.js';
import type { KubeResponderApi } from '../kube-responder-api.js';
import type { ActionContext, ActionPlan, ActionRefusal, PreparedAction } from './response-action.js';

type LabelConfig = Extract<ResponseActionConfig, { type: 'label' }>;

/**
 * Marks the pod with the rule's labels (default `kernwatch.io/quarantined=true`), for admission policies,
 * service meshes or people to act on. Labels stay until someone removes them.
 */
export class LabelPodAction implements PreparedAction {
  readonly type = ACTION_TYPE.label;

  constructor(
    private readonly config: LabelConfig,
    private readonly api: KubeResponderApi | undefined,
  ) {}

  check({ target }: ActionContext): Promise<ActionRefusal | undefined> {
    if (this.api === undefined) {
      return Promise.resolve({
        refusal: REFUSAL.noApiServer,
        detail: 'labelling a pod needs the API server',
      });
    }
    const missing = Object.entries(this.config.labels).filter(([k, v]) => target.labels[k] !== v);
    return Promise.resolve(
      missing.length === 0
        ? { refusal: REFUSAL.alreadyDone, detail: 'the pod already carries these labels' }
        : undefined,
    );
  }

  plan({ target }: ActionContext): ActionPlan {
    return {
      target: { labels: { ...this.config.labels } },
      detail: `label pod ${target.namespace}/${target.name} ${describe(this.config.labels)}`,
    };
  }

  async run(ctx: ActionContext): Promise<ActionPlan | ActionRefusal> {
    const { target } = ctx;
    if (this.api === undefined) return { refusal: REFUSAL.noApiServer, detail: 'no API server' };
    const patched = await this.api.patchPodLabels(
      target.namespace,
      target.name,
      target.uid,
      this.config.labels,
    );
    if (patched === undefined) {
      return { refusal: REFUSAL.podGone, detail: 'the pod was gone before it could be labelled' };
    }
    return {
      target: { labels: { ...this.config.labels } },
      detail: `labelled pod ${target.namespace}/${target.name} ${describe(this.config.labels)}`,
    };
  }
}

function describe(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
