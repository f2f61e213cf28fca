/**
 * The fake API server's storage, shaped like etcd behind the API server: one global, monotonically
 * increasing resourceVersion across all resources; per resource the current objects and the history of
 * changes since the last compaction, from which watches resume and consistent (continued or Exact) lists
 * are rebuilt.
 */

import type { FieldError } from './fake-kube-validation.js';

/** Verbs as the API server's RequestInfo names them. */
export const KUBE_VERB = {
  get: 'get',
  list: 'list',
  watch: 'watch',
  create: 'create',
  update: 'update',
  patch: 'patch',
  delete: 'delete',
  deletecollection: 'deletecollection',
} as const;
export type KubeVerb = (typeof KUBE_VERB)[keyof typeof KUBE_VERB];

/** What a resource serves when it declares no verbs: it is read-only (anything else is 405). */
export const READ_ONLY_VERBS: readonly KubeVerb[] = [KUBE_VERB.get, KUBE_VERB.list, KUBE_VERB.watch];

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  generation?: number;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [field: string]: unknown;
}

/** An object as JSON: metadata typed, the rest (spec, status…) as the resource has it. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: KubeObjectMeta;
  [field: string]: unknown;
}

export const WATCH_EVENT = { added: 'ADDED', modified: 'MODIFIED', deleted: 'DELETED' } as const;
export type WatchEventType = (typeof WATCH_EVENT)[keyof typeof WATCH_EVENT];

export interface StoredChange {
  type: WatchEventType;
  rv: number;
  /** The object after the change (for DELETED: its last state, carrying the deletion's resourceVersion). */
  object: KubeObject;
  /** The object before the change (MODIFIED and DELETED). */
  previous?: KubeObject;
}

/** Everything a resource type needs for routing, list kinds and field selectors. */
export interface ResourceType {
  /** '' for the core group (/api/v1), e.g. 'networking.k8s.io' otherwise (/apis/GROUP/VERSION). */
  group: string;
  version: string;
  /** Path segment: 'pods'. */
  plural: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  /** Field selector labels the real API server accepts for this resource, and each one's value. */
  fields: Record<string, (object: KubeObject) => string>;
  /** Field labels the server converts to another (`spec.host` → `spec.nodeName` for pods). */
  fieldAliases?: Record<string, string>;
  /** Verbs served over HTTP; others answer 405. Default READ_ONLY_VERBS. */
  verbs?: readonly KubeVerb[];
  /** Built-in types take strategic merge patches; custom resources answer 415 to them. */
  strategicMergePatch?: boolean;
  /**
   * Lists a strategic merge patch merges instead of replacing (the Go types' patchMergeKey tags), by path
   * with `[]` for list items: `'spec.containers': 'name'`, `'spec.containers[].env': 'name'`. An empty
   * key merges a list of scalars as a set. metadata.ownerReferences and metadata.finalizers are common to
   * every built-in type and need not be listed.
   */
  mergeKeys?: Readonly<Record<string, string>>;
  /** What the JSON decoder refuses in a body (a typed field it cannot parse): the 400 message. */
  decodeError?: (object: KubeObject) => string | undefined;
  /** The versioned type's defaulting (SetDefaults_*), run on every decoded body and patch result. */
  applyDefaults?: (object: KubeObject) => void;
  /** The strategy's PrepareForCreate (generation 1, status cleared…). */
  prepareForCreate?: (object: KubeObject) => void;
  /** The strategy's PrepareForUpdate (status kept from the stored object, generation bumped…). */
  prepareForUpdate?: (object: KubeObject, previous: KubeObject) => void;
  /**
   * The strategy's CheckGracefulDelete: the grace period to delete with, given the one the client asked
   * for (undefined: none). Types without it are deleted at once (no graceful deletion).
   */
  gracefulDeletePeriod?: (object: KubeObject, requested: number | undefined) => number;
  /** The registry's ReturnDeletedObject: DELETE answers with the object rather than a Success Status. */
  returnDeletedObject?: boolean;
  /** The registry strategy's create validation; any error answers 422 Invalid. */
  validateCreate?: (object: KubeObject) => FieldError[];
  /** The registry strategy's update validation (PUT and PATCH results); any error answers 422 Invalid. */
  validateUpdate?: (object: KubeObject, previous: KubeObject) => FieldError[];
}

export function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

/** `pods`, `events.events.k8s.io`: how NotFound / AlreadyExists / Conflict messages name the resource. */
export function groupResourceOf(type: ResourceType): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`;
}

/** `Pod`, `Event.events.k8s.io`: how Invalid messages name the kind. */
export function qualifiedKindOf(type: ResourceType): string {
  return type.group === '' ? type.kind : `${type.kind}.${type.group}`;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class ResourceVersionClock {
  private current = 1;

  get now(): number {
    return this.current;
  }

  next(): number {
    this.current += 1;
    return this.current;
  }
}

export class ResourceStore {
  readonly type: ResourceType;
  /** Keyed by `namespace/name`, kept sorted on read (etcd returns keys in order). */
  private readonly objects = new Map<string, KubeObject>();
  private history: StoredChange[] = [];
  /** Changes at or below this resourceVersion are gone: watching or listing from before it is 410. */
  private compactedRv = 0;
  private readonly listeners: ((change: StoredChange) => void)[] = [];

  constructor(type: ResourceType) {
    this.type = type;
  }

  get compactedResourceVersion(): number {
    return this.compactedRv;
  }

  onChange(listener: (change: StoredChange) => void): void {
    this.listeners.push(listener);
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    const object = this.objects.get(objectKey(namespace, name));
    return object === undefined ? undefined : structuredClone(object);
  }

  /** Current objects, sorted by key. */
  current(): [string, KubeObject][] {
    return [...this.objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Objects as they were at `rv` (>= compactedResourceVersion), sorted by key. */
  at(rv: number): [string, KubeObject][] {
    const state = new Map(this.objects);
    for (let i = this.history.length - 1; i >= 0; i--) {
      const change = this.history[i];
      if (change === undefined || change.rv <= rv) break;
      const key = objectKey(change.object.metadata.namespace, change.object.metadata.name);
      if (change.type === WATCH_EVENT.added) state.delete(key);
      else if (change.previous !== undefined) state.set(key, change.previous);
    }
    return [...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Changes after `rv`, oldest first. The caller checks `rv >= compactedResourceVersion` first. */
  changesSince(rv: number): StoredChange[] {
    return this.history.filter((change) => change.rv > rv);
  }

  apply(change: StoredChange): void {
    const key = objectKey(change.object.metadata.namespace, change.object.metadata.name);
    if (change.type === WATCH_EVENT.deleted) this.objects.delete(key);
    else this.objects.set(key, change.object);
    this.history.push(change);
    for (const listener of this.listeners) listener(change);
  }

  /** Drops history up to `rv`, like an etcd compaction. */
  compact(rv: number): void {
    this.history = this.history.filter((change) => change.rv > rv);
    this.compactedRv = Math.max(this.compactedRv, rv);
  }
}
