/**
 * Core v1 Pods for the fake API server, declared as data: the selectable fields, the strategic merge keys
 * of the Go types, graceful deletion as the pod strategy does it (pkg/registry/core/pod/strategy.go
 * CheckGracefulDelete), and update validation as ValidatePodUpdate does it for what a client can change
 * with a PATCH (pkg/apis/core/validation): labels and annotations, container images, activeDeadlineSeconds,
 * tolerations (additions only), schedulingGates (removals only), and nothing else in the spec. The spec
 * comparison's message is the real one up to the diff, which the real server renders with go-cmp over the
 * internal Go struct; the fake renders the changed fields only, in that shape.
 */

import { randomUUID } from 'node:crypto';
import { KUBE_VERB, type KubeObject, type ResourceType } from './fake-kube-store.js';
import {
  forbidden,
  invalid,
  required,
  validateAnnotations,
  validateLabels,
  validateObjectMetaUpdate,
  type FieldError,
} from './fake-kube-validation.js';

/** The fields ValidatePodUpdate lets an update change (v1.27 and later wording, joined with ","). */
const UPDATABLE_POD_SPEC_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

/** SetDefaults_PodSpec's terminationGracePeriodSeconds (v1.DefaultTerminationGracePeriodSeconds). */
export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30;

const MAX_INT32 = 2147483647;

const CONTAINER_MERGE_KEYS = {
  env: 'name',
  ports: 'containerPort',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
} as const;

/** The patchMergeKey tags of core/v1 Pod (k8s.io/api/core/v1/types.go). */
const POD_MERGE_KEYS: Readonly<Record<string, string>> = {
  'spec.volumes': 'name',
  'spec.imagePullSecrets': 'name',
  'spec.hostAliases': 'ip',
  'spec.schedulingGates': 'name',
  'spec.resourceClaims': 'name',
  'spec.topologySpreadConstraints': 'topologyKey',
  ...Object.fromEntries(
    ['containers', 'initContainers', 'ephemeralContainers'].flatMap((list): [string, string][] => [
      [`spec.${list}`, 'name'],
      ...Object.entries(CONTAINER_MERGE_KEYS).map(([child, key]): [string, string] => [
        `spec.${list}[].${child}`,
        key,
      ]),
    ]),
  ),
  'status.conditions': 'type',
  'status.podIPs': 'ip',
  'status.hostIPs': 'ip',
};

export const PODS: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'pods',
  kind: 'Pod',
  listKind: 'PodList',
  namespaced: true,
  // Pods are created by the test controls (the fake does not run pod creation validation).
  verbs: [KUBE_VERB.get, KUBE_VERB.list, KUBE_VERB.watch, KUBE_VERB.patch, KUBE_VERB.delete],
  strategicMergePatch: true,
  mergeKeys: POD_MERGE_KEYS,
  // pkg/registry/core/pod strategy: the selectable fields of a pod.
  fields: {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace ?? '',
    'spec.nodeName': (o) => stringAt(o, 'spec', 'nodeName'),
    'spec.restartPolicy': (o) => stringAt(o, 'spec', 'restartPolicy'),
    'spec.schedulerName': (o) => stringAt(o, 'spec', 'schedulerName'),
    'spec.serviceAccountName': (o) => stringAt(o, 'spec', 'serviceAccountName'),
    'spec.hostNetwork': (o) => String(record(o.spec).hostNetwork === true),
    'status.phase': (o) => stringAt(o, 'status', 'phase'),
    'status.podIP': (o) => stringAt(o, 'status', 'podIP'),
    'status.nominatedNodeName': (o) => stringAt(o, 'status', 'nominatedNodeName'),
  },
  fieldAliases: { 'spec.host': 'spec.nodeName' },
  // pkg/registry/core/pod/storage: ReturnDeletedObject: true.
  returnDeletedObject: true,
  gracefulDeletePeriod: podGracePeriod,
  // podStrategy.PrepareForUpdate: the main resource cannot change the status.
  prepareForUpdate: (pod, previous) => {
    if (previous.status === undefined) delete pod.status;
    else pod.status = structuredClone(previous.status);
  },
  validateUpdate: validatePodUpdate,
};

/**
 * CheckGracefulDelete: the requested grace period, else spec.terminationGracePeriodSeconds (which the real
 * server always defaults to 30 at creation, so a pod stored without it counts as 30); 0 for a pod not bound
 * to a node or already Succeeded / Failed; a negative period becomes 1.
 */
function podGracePeriod(pod: KubeObject, requested: number | undefined): number {
  const spec = record(pod.spec);
  const configured =
    typeof spec.terminationGracePeriodSeconds === 'number'
      ? spec.terminationGracePeriodSeconds
      : DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
  let period = requested ?? configured;
  if (stringAt(pod, 'spec', 'nodeName') === '') period = 0;
  const phase = stringAt(pod, 'status', 'phase');
  if (phase === 'Failed' || phase === 'Succeeded') period = 0;
  return period < 0 ? 1 : period;
}

/**
 * ValidatePodUpdate: the metadata update checks, ValidateObjectMeta's label and annotation checks (the real
 * validator runs both, so a bad label is reported twice in details.causes and once in the message), then
 * the spec: container counts and images, activeDeadlineSeconds, tolerations, schedulingGates, and a spec
 * that, with those fields put back, must equal the stored one.
 */
function validatePodUpdate(pod: KubeObject, previous: KubeObject): FieldError[] {
  const errors = validateObjectMetaUpdate(pod.metadata, previous.metadata);
  errors.push(...validateLabels(pod.metadata.labels, 'metadata.labels'));
  errors.push(...validateAnnotations(pod.metadata.annotations, 'metadata.annotations'));
  const spec = record(pod.spec);
  const old = record(previous.spec);

  for (const list of ['containers', 'initContainers'] as const) {
    const next = records(spec[list]);
    const before = records(old[list]);
    if (next.length !== before.length) {
      errors.push(forbidden(`spec.${list}`, 'pod updates may not add or remove containers'));
      return errors;
    }
    next.forEach((container, i) => {
      const image = typeof container.image === 'string' ? container.image : '';
      if (image === '') errors.push(required(`spec.${list}[${i}].image`));
      if (image.trim() !== image)
        errors.push(
          invalid(`spec.${list}[${i}].image`, image, 'must not have leading or trailing whitespace'),
        );
    });
  }

  const deadline = spec.activeDeadlineSeconds;
  const oldDeadline = old.activeDeadlineSeconds;
  if (typeof deadline === 'number') {
    if (deadline < 0 || deadline > MAX_INT32) {
      errors.push(
        invalid('spec.activeDeadlineSeconds', deadline, `must be between 0 and ${MAX_INT32}, inclusive`),
      );
      return errors;
    }
    if (typeof oldDeadline === 'number' && oldDeadline < deadline) {
      errors.push(
        invalid('spec.activeDeadlineSeconds', deadline, 'must be less than or equal to previous value'),
      );
      return errors;
    }
  } else if (typeof oldDeadline === 'number') {
    errors.push(
      invalid('spec.activeDeadlineSeconds', 'null', 'must not update from a positive integer to nil value'),
    );
  }

  // validateOnlyAddedTolerations: every old toleration is still there, tolerationSeconds aside.
  const tolerations = records(spec.tolerations);
  for (const before of records(old.tolerations)) {
    const kept = tolerations.some(
      (t) =>
        canonical({ ...before, tolerationSeconds: null }) === canonical({ ...t, tolerationSeconds: null }),
    );
    if (!kept) {
      errors.push(
        forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds'),
      );
      break;
    }
  }

  // validateOnlyDeletedSchedulingGates.
  const oldGates = new Set(records(old.schedulingGates).map((g) => g.name));
  records(spec.schedulingGates).forEach((gate, i) => {
    if (!oldGates.has(gate.name)) {
      errors.push(
        forbidden(
          `spec.schedulingGates[${i}].name`,
          `only deletion is allowed, but found new scheduling gate '${String(gate.name)}'`,
        ),
      );
    }
  });

  if (canonical(spec) === canonical(old)) return errors;
  const munged = structuredClone(spec);
  for (const list of ['containers', 'initContainers'] as const) {
    const before = records(old[list]);
    if (Array.isArray(munged[list])) {
      munged[list] = records(munged[list]).map((c, i) => {
        const image = before[i]?.image;
        const copy = { ...c };
        if (image === undefined) delete copy.image;
        else copy.image = image;
        return copy;
      });
    }
  }
  for (const field of ['activeDeadlineSeconds', 'schedulingGates', 'tolerations'] as const) {
    if (old[field] === undefined) Reflect.deleteProperty(munged, field);
    else munged[field] = structuredClone(old[field]);
  }
  const oldGrace = old.terminationGracePeriodSeconds;
  if (typeof oldGrace === 'number' && oldGrace < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = oldGrace;
  }
  if (canonical(munged) !== canonical(old)) {
    errors.push(
      forbidden(
        'spec',
        `pod updates may not change fields other than ${UPDATABLE_POD_SPEC_FIELDS.join(',')}\n${specDiff(old, munged)}`,
      ),
    );
  }
  return errors;
}

/** go-cmp's Diff of core.PodSpec, reduced to the fields that differ (values as JSON, absent as nil). */
function specDiff(before: Record<string, unknown>, after: Record<string, unknown>): string {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const lines: string[] = [];
  for (const key of keys) {
    if (canonical(before[key] ?? null) === canonical(after[key] ?? null)) continue;
    const name = GO_FIELD_NAMES[key] ?? `${key.charAt(0).toUpperCase()}${key.slice(1)}`;
    lines.push(`- \t${name}: ${goValue(before[key])},`, `+ \t${name}: ${goValue(after[key])},`);
  }
  return `  core.PodSpec{\n${lines.map((l) => `${l}\n`).join('')}  }\n`;
}

const GO_FIELD_NAMES: Record<string, string> = { dnsPolicy: 'DNSPolicy', dnsConfig: 'DNSConfig' };

function goValue(value: unknown): string {
  return value === undefined || isEmpty(value) ? 'nil' : JSON.stringify(value);
}

/** JSON with sorted keys, empty lists and maps left out (apiequality.Semantic: nil equals empty). */
function canonical(value: unknown): string {
  return JSON.stringify(normalize(value) ?? null);
}

function normalize(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = (value as unknown[]).map(normalize);
    return items.length === 0 ? undefined : items;
  }
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => [k, normalize(v)] as const)
    .filter(([, v]) => v !== undefined && v !== null)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

function isEmpty(value: unknown): boolean {
  return normalize(value) === undefined;
}

/** A pod object for `createPod`, with the fields attribution and the responders read. */
export function fakePod(input: {
  name: string;
  namespace?: string;
  nodeName?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The controller owner reference (ReplicaSet, StatefulSet, DaemonSet, Job…); uid random unless given. */
  owner?: { kind: string; name: string; apiVersion?: string; uid?: string };
  ips?: string[];
  phase?: string;
  hostNetwork?: boolean;
  /** Default 30, as the real server defaults it. */
  terminationGracePeriodSeconds?: number;
  /** Container names, each with the same image. Default ['main']. */
  containers?: string[];
}): KubeObject {
  const metadata: KubeObject['metadata'] = { name: input.name, namespace: input.namespace ?? 'default' };
  if (input.uid !== undefined) metadata.uid = input.uid;
  if (input.labels !== undefined) metadata.labels = input.labels;
  if (input.annotations !== undefined) metadata.annotations = input.annotations;
  if (input.owner !== undefined) {
    metadata.ownerReferences = [
      {
        apiVersion: input.owner.apiVersion ?? 'apps/v1',
        kind: input.owner.kind,
        name: input.owner.name,
        uid: input.owner.uid ?? randomUUID(),
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
  }
  const ips = input.ips ?? [];
  return {
    metadata,
    spec: {
      ...(input.nodeName === undefined ? {} : { nodeName: input.nodeName }),
      ...(input.hostNetwork === undefined ? {} : { hostNetwork: input.hostNetwork }),
      containers: (input.containers ?? ['main']).map((name) => ({ name, image: 'registry.example/app:1' })),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds:
        input.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
      schedulerName: 'default-scheduler',
      serviceAccountName: 'default',
    },
    status: {
      phase: input.phase ?? 'Running',
      ...(ips[0] === undefined ? {} : { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) }),
    },
  };
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? (value as unknown[]).map(record) : [];
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function stringAt(object: KubeObject, section: string, field: string): string {
  const value = record(object[section])[field];
  return typeof value === 'string' ? value : '';
}
