import {
  ApiException,
  AuthorizationV1Api,
  V1ResourceAttributes,
  V1SelfSubjectAccessReview,
  V1SelfSubjectAccessReviewSpec,
  type KubeConfig,
} from '@kubernetes/client-node';
import { loadKubeConfig, type KubeConfigSource } from '../attribute/pods/kube-config.js';
import type { AgentConfig } from '../config/config-schema.js';
import { KubeDeadlineError, withKubeDeadline } from '../kube-request-options.js';
import { accessNeeds, describeGrant, describeNeed, type AccessNeed } from './api-access.js';
import { CHECK_ID, fail, oneLine, pass, warn, type CheckResult } from './doctor-types.js';

/**
 * Is the API server reachable with the agent's credentials, and may they do what the config needs? One
 * SelfSubjectAccessReview per verb (any identity may create those), all at once under one deadline.
 */

export interface ApiCheckOptions {
  config: Pick<AgentConfig, 'kubernetes' | 'responses' | 'posture'>;
  timeoutMs: number;
  /** For tests: the in-cluster environment and whether a service account token is mounted. */
  env?: NodeJS.ProcessEnv;
  tokenMounted?: () => boolean;
}

interface Answer {
  need: AccessNeed;
  allowed: boolean;
}

export async function apiAccessCheck(o: ApiCheckOptions): Promise<CheckResult> {
  const id = CHECK_ID.api;
  const { kubernetes, responses } = o.config;
  const consequence =
    'pods have no labels or owners, no Kubernetes Events are written, and responses cannot use the API';
  if (!kubernetes.enabled) {
    return warn(
      id,
      `kubernetes.enabled is false: ${consequence}`,
      'set kubernetes.enabled: true in the config',
    );
  }
  let kubeConfig: KubeConfig | undefined;
  try {
    const source: KubeConfigSource = {};
    if (kubernetes.kubeconfig !== undefined) source.kubeconfigPath = kubernetes.kubeconfig;
    if (o.env !== undefined) source.env = o.env;
    if (o.tokenMounted !== undefined) source.tokenMounted = o.tokenMounted;
    kubeConfig = loadKubeConfig(source);
  } catch (err) {
    const cause = err instanceof Error && err.cause !== undefined ? `: ${oneLine(err.cause)}` : '';
    return fail(id, `${oneLine(err)}${cause}`, 'fix the kubeconfig file or give another one (--kubeconfig)');
  }
  if (kubeConfig === undefined) {
    return warn(
      id,
      `no API server configured: no kubeconfig given and not in a cluster (no KUBERNETES_SERVICE_HOST or service account token): ${consequence}`,
      'run kernwatch in its DaemonSet (in-cluster config), or give --kubeconfig FILE',
    );
  }
  const server = kubeConfig.getCurrentCluster()?.server ?? 'the API server';
  const needs = accessNeeds(o.config);
  const api = kubeConfig.makeApiClient(AuthorizationV1Api);
  let answers: Answer[];
  try {
    answers = await withKubeDeadline(o.timeoutMs, (options) =>
      Promise.all(
        needs.map(async (need) => {
          const body = Object.assign(new V1SelfSubjectAccessReview(), {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: Object.assign(new V1SelfSubjectAccessReviewSpec(), {
              resourceAttributes: Object.assign(new V1ResourceAttributes(), {
                verb: need.verb,
                group: need.group,
                resource: need.resource,
              }),
            }),
          });
          const review = await api.createSelfSubjectAccessReview({ body }, options);
          return { need, allowed: review.status?.allowed === true };
        }),
      ),
    );
  } catch (err) {
    const why = err instanceof KubeDeadlineError ? err.message : describeApiError(err);
    return fail(
      id,
      `cannot ask ${server} (SelfSubjectAccessReview): ${why}`,
      'check that the API server is reachable from the node and that the credentials are valid',
    );
  }
  const denied = answers.filter((a) => !a.allowed).map((a) => a.need);
  const blocking = denied.filter((n) => !n.liveOnly || responses.enabled);
  const later = denied.filter((n) => n.liveOnly && !responses.enabled);
  const list = (ns: readonly AccessNeed[]): string =>
    ns.map((n) => `${describeNeed(n)} (${n.usedBy.join(', ')})`).join(', ');
  if (blocking.length > 0) {
    return fail(
      id,
      `${server}: denied ${list(blocking)}${later.length === 0 ? '' : `; also denied, needed once responses are enabled: ${list(later)}`}`,
      `grant in kernwatch's ClusterRole: ${describeGrant([...blocking, ...later])}`,
    );
  }
  if (later.length > 0) {
    return warn(
      id,
      `${server}: allowed what attribution, Events and dry-run responses use; denied ${list(later)}, which responses need once responses.enabled is true`,
      `grant in kernwatch's ClusterRole before enabling responses: ${describeGrant(later)}`,
    );
  }
  return pass(id, `${server}: allowed ${needs.map(describeNeed).join(', ')}`);
}

function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    const code: number = err.code;
    const body: unknown = err.body;
    let message = '';
    if (typeof body === 'string') {
      try {
        const parsed: unknown = JSON.parse(body);
        if (
          typeof parsed === 'object' &&
          parsed !== null &&
          'message' in parsed &&
          typeof parsed.message === 'string'
        )
          message = parsed.message;
      } catch {
        message = body.slice(0, 200);
      }
    } else if (
      typeof body === 'object' &&
      body !== null &&
      'message' in body &&
      typeof body.message === 'string'
    ) {
      message = body.message;
    }
    // client-node drops the body of a 401 and keeps only its own word for it.
    if (message === '' && code === 401) message = 'Unauthorized (the credentials were refused)';
    return `HTTP ${code}${message === '' ? '' : ` ${message}`}`;
  }
  const cause = err instanceof Error && err.cause !== undefined ? ` (${oneLine(err.cause)})` : '';
  return `${oneLine(err)}${cause}`;
}
