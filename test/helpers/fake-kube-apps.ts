/**
 * apps/v1 workloads for the fake API server, declared as data and served read-only (get, list, watch;
 * tests create them with the `create` control): ReplicaSets, StatefulSets, Deployments, DaemonSets. The
 * builders return objects shaped as the real server stores them once the controllers have reported: the
 * defaulted spec, generation 1 and the status fields the controllers write, with Go's omitempty (a zero
 * count that is omitempty in the Go type is left out, as a client would receive it).
 */

import { randomUUID } from 'node:crypto';
import type { KubeObject, OwnerReference, ResourceType } from './fake-kube-store.js';

const METADATA_FIELDS: ResourceType['fields'] = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace ?? '',
};

function appsType(
  plural: string,
  kind: string,
  fields: ResourceType['fields'] = METADATA_FIELDS,
): ResourceType {
  return {
    group: 'apps',
    version: 'v1',
    plural,
    kind,
    listKind: `${kind}List`,
    namespaced: true,
    strategicMergePatch: true,
    fields,
  };
}

/** pkg/registry/apps/replicaset: ReplicaSets also select on status.replicas. */
export const REPLICA_SETS: ResourceType = appsType('replicasets', 'ReplicaSet', {
  ...METADATA_FIELDS,
  'status.replicas': (o) => String(numberAt(o.status, 'replicas')),
});
export const STATEFUL_SETS: ResourceType = appsType('statefulsets', 'StatefulSet');
export const DEPLOYMENTS: ResourceType = appsType('deployments', 'Deployment');
export const DAEMON_SETS: ResourceType = appsType('daemonsets', 'DaemonSet');

export interface WorkloadInput {
  name: string;
  namespace?: string;
  uid?: string;
  /** The pod template's labels, also the selector's matchLabels. Default `{app: name}`. */
  labels?: Record<string, string>;
  /** The controller owner (a Deployment for a ReplicaSet, say); uid random unless given. */
  owner?: { kind: string; name: string; apiVersion?: string; uid?: string };
  /** Container names of the pod template. Default ['main']. */
  containers?: string[];
}

export interface ReplicatedInput extends WorkloadInput {
  replicas: number;
  /** Default: replicas (every pod ready). */
  readyReplicas?: number;
  /** Default: readyReplicas (ready for minReadySeconds). */
  availableReplicas?: number;
}

/** A ReplicaSet as stored once the ReplicaSet controller has reported (ReplicaSetStatus). */
export function fakeReplicaSet(input: ReplicatedInput): KubeObject {
  const { ready, available } = counts(input);
  return {
    metadata: workloadMetadata(input),
    spec: {
      replicas: input.replicas,
      selector: { matchLabels: labelsOf(input) },
      template: podTemplate(input),
    },
    status: omitZero({
      replicas: { value: input.replicas, keep: true },
      fullyLabeledReplicas: { value: input.replicas },
      readyReplicas: { value: ready },
      availableReplicas: { value: available },
      observedGeneration: { value: 1 },
    }),
  };
}

/** A StatefulSet as stored once the StatefulSet controller has reported (StatefulSetStatus). */
export function fakeStatefulSet(input: ReplicatedInput & { serviceName?: string }): KubeObject {
  const { ready, available } = counts(input);
  const revision = `${input.name}-${revisionHash(input.name)}`;
  return {
    metadata: workloadMetadata(input),
    spec: {
      replicas: input.replicas,
      selector: { matchLabels: labelsOf(input) },
      template: podTemplate(input),
      serviceName: input.serviceName ?? input.name,
      podManagementPolicy: 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      revisionHistoryLimit: 10,
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
    },
    status: omitZero({
      observedGeneration: { value: 1 },
      replicas: { value: input.replicas, keep: true },
      readyReplicas: { value: ready },
      currentReplicas: { value: input.replicas },
      updatedReplicas: { value: input.replicas },
      currentRevision: { value: revision },
      updateRevision: { value: revision },
      collisionCount: { value: 0, keep: true },
      // Not omitempty in StatefulSetStatus.
      availableReplicas: { value: available, keep: true },
    }),
  };
}

/** A Deployment as stored once the Deployment controller has reported (DeploymentStatus, no conditions). */
export function fakeDeployment(input: ReplicatedInput): KubeObject {
  const { ready, available } = counts(input);
  return {
    metadata: workloadMetadata(input),
    spec: {
      replicas: input.replicas,
      selector: { matchLabels: labelsOf(input) },
      template: podTemplate(input),
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: omitZero({
      observedGeneration: { value: 1 },
      replicas: { value: input.replicas },
      updatedReplicas: { value: input.replicas },
      readyReplicas: { value: ready },
      availableReplicas: { value: available },
      unavailableReplicas: { value: Math.max(0, input.replicas - available) },
    }),
  };
}

export interface DaemonSetInput extends WorkloadInput {
  /** Nodes that should run the daemon pod. */
  desiredNumberScheduled: number;
  /** Default: desiredNumberScheduled. */
  numberReady?: number;
  /** Default: numberReady. */
  numberAvailable?: number;
}

/** A DaemonSet as stored once the DaemonSet controller has reported (DaemonSetStatus). */
export function fakeDaemonSet(input: DaemonSetInput): KubeObject {
  const desired = input.desiredNumberScheduled;
  const ready = input.numberReady ?? desired;
  const available = input.numberAvailable ?? ready;
  return {
    metadata: workloadMetadata(input),
    spec: {
      selector: { matchLabels: labelsOf(input) },
      template: podTemplate(input),
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      revisionHistoryLimit: 10,
    },
    status: omitZero({
      // The first four are not omitempty in DaemonSetStatus.
      currentNumberScheduled: { value: desired, keep: true },
      numberMisscheduled: { value: 0, keep: true },
      desiredNumberScheduled: { value: desired, keep: true },
      numberReady: { value: ready, keep: true },
      observedGeneration: { value: 1 },
      updatedNumberScheduled: { value: desired },
      numberAvailable: { value: available },
      numberUnavailable: { value: Math.max(0, desired - available) },
    }),
  };
}

function counts(input: ReplicatedInput): { ready: number; available: number } {
  const ready = input.readyReplicas ?? input.replicas;
  return { ready, available: input.availableReplicas ?? ready };
}

function labelsOf(input: WorkloadInput): Record<string, string> {
  return input.labels ?? { app: input.name };
}

function workloadMetadata(input: WorkloadInput): KubeObject['metadata'] {
  const metadata: KubeObject['metadata'] = {
    name: input.name,
    namespace: input.namespace ?? 'default',
    generation: 1,
    labels: labelsOf(input),
  };
  if (input.uid !== undefined) metadata.uid = input.uid;
  if (input.owner !== undefined) {
    const owner: OwnerReference = {
      apiVersion: input.owner.apiVersion ?? 'apps/v1',
      kind: input.owner.kind,
      name: input.owner.name,
      uid: input.owner.uid ?? randomUUID(),
      controller: true,
      blockOwnerDeletion: true,
    };
    metadata.ownerReferences = [owner];
  }
  return metadata;
}

/** The pod template as defaulted on the server (SetDefaults_PodSpec and SetDefaults_Container). */
function podTemplate(input: WorkloadInput): Record<string, unknown> {
  return {
    metadata: { labels: labelsOf(input) },
    spec: {
      containers: (input.containers ?? ['main']).map((name) => ({
        name,
        image: 'registry.example/app:1',
        resources: {},
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
      })),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      securityContext: {},
      schedulerName: 'default-scheduler',
    },
  };
}

/** Status fields in order; zero values of omitempty fields are left out. */
function omitZero(
  fields: Record<string, { value: number | string; keep?: boolean }>,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, f]) => f.keep === true || (f.value !== 0 && f.value !== ''))
      .map(([key, f]) => [key, f.value]),
  );
}

/** A stable controller-revision-style hash of a name (10 characters from the name alphabet). */
function revisionHash(name: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  let out = '';
  for (let i = 0; i < 10; i++) {
    out += alphabet.charAt(h % alphabet.length);
    h = Math.floor(h / alphabet.length) || Math.imul(h ^ i, 16777619) >>> 0;
  }
  return out;
}

function numberAt(section: unknown, field: string): number {
  const value =
    typeof section === 'object' && section !== null ? (section as Record<string, unknown>)[field] : 0;
  return typeof value === 'number' ? value : 0;
}
