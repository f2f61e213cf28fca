import type { V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { ERROR_CODES, KernwatchError } from '../errors.js';

/** One pod-creating object of a manifest and the pod it would create. */
export interface ManifestWorkload {
  kind: string;
  namespace: string;
  name: string;
  /** The pod as the controller would create it from its template (labels, annotations, spec). */
  pod: V1Pod;
}

export interface ManifestObjects {
  workloads: ManifestWorkload[];
  /** Kinds of the other objects, which hold no pod template (Service, a CRD, a misspelt kind...). */
  skippedKinds: string[];
  /** networking.k8s.io/v1 NetworkPolicies by namespace. */
  policies: Map<string, V1NetworkPolicy[]>;
}

/**
 * A manifest without a namespace is applied to the kubectl context's namespace, which a file cannot tell;
 * `default` is what a fresh context uses.
 */
const DEFAULT_NAMESPACE = 'default';

type KubeObject = Record<string, unknown>;

/**
 * The workloads and NetworkPolicies of a multi-document YAML manifest (also `kind: List`). Pod templates
 * are found where each controller keeps them: Deployment, DaemonSet, StatefulSet, ReplicaSet,
 * ReplicationController and Job under spec.template, CronJob under spec.jobTemplate.spec.template; a Pod is
 * its own. Other kinds are skipped. A document that is not YAML is an error naming it.
 */
export function manifestObjects(text: string, source: string): ManifestObjects {
  const out: ManifestObjects = { workloads: [], skippedKinds: [], policies: new Map() };
  // YAML 1.1, as kubectl reads manifests (sigs.k8s.io/yaml): `privileged: yes` is true there, and a
  // YAML 1.2 reading would call that spec unprivileged.
  parseAllDocuments(text, { version: '1.1' }).forEach((doc, index) => {
    if (doc.errors.length > 0) {
      throw new KernwatchError(
        ERROR_CODES.config,
        `${source}: document ${String(index + 1)} is not valid YAML: ${doc.errors[0]?.message ?? ''}`,
        { cause: doc.errors[0] },
      );
    }
    collect(doc.toJS() as unknown, out);
  });
  return out;
}

function collect(value: unknown, out: ManifestObjects): void {
  if (!isObject(value)) return;
  const kind = typeof value.kind === 'string' ? value.kind : '';
  if (kind === 'List' && Array.isArray(value.items)) {
    for (const item of value.items) collect(item, out);
    return;
  }
  const metadata = isObject(value.metadata) ? value.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '?';
  const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : DEFAULT_NAMESPACE;
  if (kind === 'NetworkPolicy') {
    const list = out.policies.get(namespace) ?? [];
    list.push(value);
    out.policies.set(namespace, list);
    return;
  }
  const template = templateOf(kind, value);
  if (template === undefined) {
    if (!out.skippedKinds.includes(kind)) out.skippedKinds.push(kind === '' ? '(no kind)' : kind);
    return;
  }
  // The YAML is plain data shaped like the API's JSON, which is what the client's V1Pod fields hold.
  const pod = {
    metadata: { ...(isObject(template.metadata) ? template.metadata : {}), name, namespace },
    spec: template.spec,
  } as unknown as V1Pod;
  out.workloads.push({ kind, namespace, name, pod });
}

function templateOf(kind: string, object: KubeObject): KubeObject | undefined {
  const spec = isObject(object.spec) ? object.spec : undefined;
  switch (kind) {
    case 'Pod':
      return object;
    case 'Deployment':
    case 'DaemonSet':
    case 'StatefulSet':
    case 'ReplicaSet':
    case 'ReplicationController':
    case 'Job':
      return isObject(spec?.template) ? spec.template : undefined;
    case 'CronJob': {
      const job = isObject(spec?.jobTemplate) ? spec.jobTemplate.spec : undefined;
      return isObject(job) && isObject(job.template) ? job.template : undefined;
    }
    default:
      return undefined;
  }
}

function isObject(value: unknown): value is KubeObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
