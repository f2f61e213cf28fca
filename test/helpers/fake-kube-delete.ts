/**
 * DELETE as the API server carries it out, for the fake API server: the DeleteOptions of the body (or, with
 * no body, of the query: the real handler reads only one of them), ValidateDeleteOptions, then the generic
 * registry's Delete (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go) and
 * rest.BeforeDelete: preconditions, graceful deletion for types with a graceful strategy (pods), the
 * garbage collector's orphan / foregroundDeletion finalizers, pending finalizers. `planDelete` only decides;
 * the server applies the writes it names, so watches see exactly the writes the real store makes.
 */

import { kubeStatus, type KubeStatus } from './fake-kube-status.js';
import type { KubeObject, ResourceType } from './fake-kube-store.js';
import {
  goStringSlice,
  invalidCauses,
  invalidMessage,
  invalidShown,
  notSupported,
  notSupportedShown,
  type FieldError,
} from './fake-kube-validation.js';

export const PROPAGATION_POLICY = {
  foreground: 'Foreground',
  background: 'Background',
  orphan: 'Orphan',
} as const;
export type PropagationPolicy = (typeof PROPAGATION_POLICY)[keyof typeof PROPAGATION_POLICY];

/** The finalizers the garbage collector owns (metav1.FinalizerOrphanDependents / FinalizerDeleteDependents). */
export const GC_FINALIZER = { orphan: 'orphan', foreground: 'foregroundDeletion' } as const;

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
  orphanDependents?: boolean;
  dryRun?: string[];
}

export type DeleteOptionsParse = { ok: true; options: DeleteOptions } | { ok: false; status: KubeStatus };

/**
 * What the store decided. `conflict`: a precondition failed (409). `pending`: a graceful deletion is
 * already under way and this request does not shorten it: nothing is written. `mark`: one update is
 * written and the object stays (graceful deletion, or finalizers pending). `remove`: the object is deleted,
 * after an update when `update` is set (a graceful strategy with a zero grace period writes the
 * deletionTimestamp first, so watches see MODIFIED then DELETED).
 */
export type DeletePlan =
  | { action: 'conflict'; message: string }
  | { action: 'pending' }
  | { action: 'mark'; object: KubeObject }
  | { action: 'remove'; update?: KubeObject };

/** The request's DeleteOptions: a non-empty body wins, and then the query is not read at all. */
export function parseDeleteOptions(body: string, query: Record<string, string>): DeleteOptionsParse {
  const parsed = body.length > 0 ? optionsFromBody(body) : optionsFromQuery(query);
  if (!parsed.ok) return parsed;
  const errors = validateDeleteOptions(parsed.options);
  if (errors.length > 0) {
    // errors.NewInvalid(GroupKind{meta.k8s.io, DeleteOptions}, "", errs): the empty name is omitted.
    return {
      ok: false,
      status: kubeStatus(422, 'Invalid', invalidMessage('DeleteOptions.meta.k8s.io', '', errors), {
        group: 'meta.k8s.io',
        kind: 'DeleteOptions',
        causes: invalidCauses(errors),
      }),
    };
  }
  if (parsed.options.dryRun !== undefined && parsed.options.dryRun.length > 0) {
    return {
      ok: false,
      status: kubeStatus(400, 'BadRequest', 'the fake API server does not implement dryRun for DELETE'),
    };
  }
  return parsed;
}

/**
 * rest.BeforeDelete then Store.Delete / updateForGracefulDeletionAndFinalizers for `current`, at `now`
 * (ms). Timestamps are whole seconds, as metav1.Time serializes them.
 */
export function planDelete(
  type: ResourceType,
  current: KubeObject,
  options: DeleteOptions,
  now: number,
): DeletePlan {
  const meta = current.metadata;
  const preconditions = options.preconditions ?? {};
  if (preconditions.uid !== undefined && preconditions.uid !== (meta.uid ?? '')) {
    return {
      action: 'conflict',
      message:
        `the UID in the precondition (${preconditions.uid}) does not match the UID in record ` +
        `(${meta.uid ?? ''}). The object might have been deleted and then recreated`,
    };
  }
  if (
    preconditions.resourceVersion !== undefined &&
    preconditions.resourceVersion !== (meta.resourceVersion ?? '')
  ) {
    return {
      action: 'conflict',
      message:
        `the ResourceVersion in the precondition (${preconditions.resourceVersion}) does not match the ` +
        `ResourceVersion in record (${meta.resourceVersion ?? ''}). The object might have been modified`,
    };
  }
  // Negative grace periods are treated as 1 s on the delete path.
  const requested =
    options.gracePeriodSeconds !== undefined && options.gracePeriodSeconds < 0
      ? 1
      : options.gracePeriodSeconds;
  const object = structuredClone(current);
  let graceful = false;
  let grace = 0;
  if (type.gracefulDeletePeriod !== undefined) {
    if (meta.deletionTimestamp !== undefined) {
      const existing = meta.deletionGracePeriodSeconds;
      // Already being deleted: only a shorter grace period changes anything. A stored grace of 0 (or
      // none) means an earlier delete was cut short between its update and its delete: delete now.
      if (existing !== undefined && existing !== 0) {
        if (requested === undefined || requested >= existing) return { action: 'pending' };
        const shortened = Date.parse(meta.deletionTimestamp) - existing * 1000 + requested * 1000;
        object.metadata.deletionTimestamp = rfc3339(shortened);
        object.metadata.deletionGracePeriodSeconds = requested;
        graceful = true;
        grace = requested;
      }
    } else {
      grace = type.gracefulDeletePeriod(object, requested);
      object.metadata.deletionTimestamp = rfc3339(now + grace * 1000);
      object.metadata.deletionGracePeriodSeconds = grace;
      if ((meta.generation ?? 0) > 0) object.metadata.generation = (meta.generation ?? 0) + 1;
      graceful = true;
    }
  }

  const before = meta.finalizers ?? [];
  const finalizers = gcFinalizers(before, options);
  const finalizersChange = !sameSet(before, finalizers);
  if (!graceful && before.length === 0 && !finalizersChange) return { action: 'remove' };

  if (finalizersChange) {
    if (finalizers.length > 0) object.metadata.finalizers = finalizers;
    else delete object.metadata.finalizers;
  }
  const pendingFinalizers = finalizers.length > 0;
  if (!graceful) {
    if (!pendingFinalizers) return { action: 'remove' };
    markAsDeleting(object, current, now);
    return { action: 'mark', object };
  }
  if (pendingFinalizers || grace > 0) return { action: 'mark', object };
  return { action: 'remove', update: object };
}

/**
 * Store.shouldDeleteDuringUpdate: an update that leaves no finalizers on an object whose deletion was
 * requested with no grace period left deletes it instead.
 */
export function shouldDeleteDuringUpdate(next: KubeObject, previous: KubeObject): boolean {
  if ((next.metadata.finalizers ?? []).length > 0) return false;
  if (previous.metadata.deletionTimestamp === undefined) return false;
  const grace = previous.metadata.deletionGracePeriodSeconds;
  return grace === undefined || grace === 0;
}

/** metav1.Time as JSON: RFC 3339 in UTC, whole seconds. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** markAsDeleting: grace 0; the timestamp becomes now unless an earlier one is already set. */
function markAsDeleting(object: KubeObject, current: KubeObject, now: number): void {
  const meta = object.metadata;
  if (current.metadata.deletionTimestamp === undefined && (meta.generation ?? 0) > 0) {
    meta.generation = (meta.generation ?? 0) + 1;
  }
  const existing = current.metadata.deletionTimestamp;
  if (existing === undefined || Date.parse(existing) > now) meta.deletionTimestamp = rfc3339(now);
  meta.deletionGracePeriodSeconds = 0;
}

/**
 * deletionFinalizersForGarbageCollection: drop both GC finalizers, then add back `orphan` when dependents
 * are to be orphaned and `foregroundDeletion` when they are to be deleted first. An explicit
 * orphanDependents or propagationPolicy decides; otherwise a GC finalizer already on the object does.
 */
function gcFinalizers(finalizers: readonly string[], options: DeleteOptions): string[] {
  const explicitOrphan = options.orphanDependents;
  const policy = options.propagationPolicy;
  let orphan: boolean;
  let foreground: boolean;
  if (explicitOrphan !== undefined) {
    orphan = explicitOrphan;
    foreground = false;
  } else if (policy !== undefined) {
    orphan = policy === PROPAGATION_POLICY.orphan;
    foreground = policy === PROPAGATION_POLICY.foreground;
  } else {
    const first = finalizers.find((f) => f === GC_FINALIZER.orphan || f === GC_FINALIZER.foreground);
    orphan = first === GC_FINALIZER.orphan;
    foreground = first === GC_FINALIZER.foreground;
  }
  const out = finalizers.filter((f) => f !== GC_FINALIZER.orphan && f !== GC_FINALIZER.foreground);
  if (orphan) out.push(GC_FINALIZER.orphan);
  if (foreground) out.push(GC_FINALIZER.foreground);
  return out;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((v) => right.has(v));
}

/** metav1 ValidateDeleteOptions. */
function validateDeleteOptions(options: DeleteOptions): FieldError[] {
  const errors: FieldError[] = [];
  if (options.orphanDependents !== undefined && options.propagationPolicy !== undefined) {
    errors.push(
      invalidShown(
        'propagationPolicy',
        JSON.stringify(options.propagationPolicy),
        'orphanDependents and deletionPropagation cannot be both set',
      ),
    );
  }
  const policy = options.propagationPolicy;
  if (policy !== undefined && !(Object.values(PROPAGATION_POLICY) as string[]).includes(policy)) {
    errors.push(notSupported('propagationPolicy', policy, [...Object.values(PROPAGATION_POLICY), 'nil']));
  }
  const dryRun = options.dryRun ?? [];
  if (!dryRun.every((v) => v === 'All')) {
    errors.push(notSupportedShown('dryRun', goStringSlice(dryRun), ['All']));
  }
  return errors;
}

type RawParse = { ok: true; options: DeleteOptions } | { ok: false; status: KubeStatus };

function badRequest(message: string): RawParse {
  return { ok: false, status: kubeStatus(400, 'BadRequest', message) };
}

/** The body decoded as meta.k8s.io/v1 DeleteOptions (unknown fields ignored, as the decoder does). */
function optionsFromBody(body: string): RawParse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return badRequest("couldn't get version/kind; json parse error: not an object");
  }
  const raw = parsed as Record<string, unknown>;
  const options: DeleteOptions = {};
  const typeError = (json: unknown, fieldName: string, goType: string): RawParse =>
    badRequest(
      `json: cannot unmarshal ${jsonKind(json)} into Go struct field DeleteOptions.${fieldName} of type ${goType}`,
    );
  if (raw.gracePeriodSeconds !== undefined && raw.gracePeriodSeconds !== null) {
    if (typeof raw.gracePeriodSeconds !== 'number' || !Number.isInteger(raw.gracePeriodSeconds)) {
      return typeError(raw.gracePeriodSeconds, 'gracePeriodSeconds', 'int64');
    }
    options.gracePeriodSeconds = raw.gracePeriodSeconds;
  }
  if (raw.propagationPolicy !== undefined && raw.propagationPolicy !== null) {
    if (typeof raw.propagationPolicy !== 'string') {
      return typeError(raw.propagationPolicy, 'propagationPolicy', 'v1.DeletionPropagation');
    }
    options.propagationPolicy = raw.propagationPolicy;
  }
  if (raw.orphanDependents !== undefined && raw.orphanDependents !== null) {
    if (typeof raw.orphanDependents !== 'boolean') {
      return typeError(raw.orphanDependents, 'orphanDependents', 'bool');
    }
    options.orphanDependents = raw.orphanDependents;
  }
  if (raw.dryRun !== undefined && raw.dryRun !== null) {
    if (!Array.isArray(raw.dryRun) || !(raw.dryRun as unknown[]).every((v) => typeof v === 'string')) {
      return typeError(raw.dryRun, 'dryRun', '[]string');
    }
    options.dryRun = raw.dryRun as string[];
  }
  if (raw.preconditions !== undefined && raw.preconditions !== null) {
    const pre = raw.preconditions;
    if (typeof pre !== 'object' || Array.isArray(pre)) {
      return typeError(pre, 'preconditions', 'v1.Preconditions');
    }
    const { uid, resourceVersion } = pre as Record<string, unknown>;
    const preconditions: NonNullable<DeleteOptions['preconditions']> = {};
    if (uid !== undefined && uid !== null) {
      if (typeof uid !== 'string') return typeError(uid, 'preconditions.uid', 'types.UID');
      preconditions.uid = uid;
    }
    if (resourceVersion !== undefined && resourceVersion !== null) {
      if (typeof resourceVersion !== 'string') {
        return typeError(resourceVersion, 'preconditions.resourceVersion', 'string');
      }
      preconditions.resourceVersion = resourceVersion;
    }
    options.preconditions = preconditions;
  }
  return { ok: true, options };
}

/** The query parameters, as the parameter codec converts them (strconv for numbers and booleans). */
function optionsFromQuery(query: Record<string, string>): RawParse {
  const options: DeleteOptions = {};
  const grace = query.gracePeriodSeconds;
  if (grace !== undefined) {
    if (!/^[+-]?[0-9]+$/.test(grace)) {
      return badRequest(`strconv.ParseInt: parsing ${JSON.stringify(grace)}: invalid syntax`);
    }
    options.gracePeriodSeconds = Number(grace);
  }
  if (query.propagationPolicy !== undefined) options.propagationPolicy = query.propagationPolicy;
  const orphan = query.orphanDependents;
  if (orphan !== undefined) {
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(orphan)) options.orphanDependents = true;
    else if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(orphan)) options.orphanDependents = false;
    else return badRequest(`strconv.ParseBool: parsing ${JSON.stringify(orphan)}: invalid syntax`);
  }
  if (query.dryRun !== undefined) options.dryRun = [query.dryRun];
  return { ok: true, options };
}

/** How encoding/json names the JSON value in an UnmarshalTypeError (`number 1.5` for a number). */
function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return `number ${String(value)}`;
  return typeof value;
}
