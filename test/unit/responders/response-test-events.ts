import { ATTRIBUTION, type KernwatchEvent, type PodRef } from '../../../agent/events.js';
import {
  configSchema,
  type ResponseRuleConfig,
  type ResponsesConfig,
} from '../../../agent/config/config-schema.js';
import { containerId } from '../pipeline/noise-test-events.js';

export { apparmorAt, seccompAt, selinuxAt, T0 } from '../pipeline/noise-test-events.js';

/** A pod uid for pod number `n` (the API server's format). */
export function podUid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** A pod ref for pod number `n` in `namespace`. */
export function podRef(n: number, namespace = 'prod-web', labels?: Record<string, string>): PodRef {
  return {
    name: `web-${String(n)}`,
    namespace,
    uid: podUid(n),
    ...(labels === undefined ? {} : { labels }),
  };
}

/** The event as attributed to container `n` of `pod`. */
export function inPod(e: KernwatchEvent, pod: PodRef, container = 1): KernwatchEvent {
  return {
    ...e,
    attribution: ATTRIBUTION.pod,
    container: { id: containerId(container), name: 'main', runtime: 'containerd' },
    pod,
  };
}

/** Responses config from the YAML-shaped input, defaults filled in as the loader does. */
export function responsesConfig(input: Record<string, unknown>): ResponsesConfig {
  return configSchema.parse({ responses: input }).responses;
}

export function rules(input: unknown[]): ResponseRuleConfig[] {
  return responsesConfig({ rules: input }).rules;
}
