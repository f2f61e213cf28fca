/**
 * The v1 Status objects the fake API server answers with, built as k8s.io/apimachinery/pkg/api/errors
 * builds them: `NotFound`, `Conflict`, `Invalid` with their real messages and details, and the `Success`
 * Status a registry without ReturnDeletedObject answers a DELETE with.
 */

import { groupResourceOf, qualifiedKindOf, type KubeObject, type ResourceType } from './fake-kube-store.js';
import { invalidCauses, invalidMessage, type FieldError } from './fake-kube-validation.js';

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

/** What store.finalizeDelete returns for a registry without ReturnDeletedObject: no code, no message. */
export interface KubeSuccessStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success';
  details: { name: string; group?: string; kind: string; uid?: string };
}

export function kubeStatus(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): KubeStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}

/** Status details name the group only when there is one (core resources leave it out: omitempty). */
export function groupDetail(type: ResourceType): { group?: string } {
  return type.group === '' ? {} : { group: type.group };
}

/** errors.NewNotFound(qualifiedResource, name). */
export function notFound(type: ResourceType, name: string): KubeStatus {
  return kubeStatus(404, 'NotFound', `${groupResourceOf(type)} "${name}" not found`, {
    name,
    ...groupDetail(type),
    kind: type.plural,
  });
}

/** errors.NewInvalid(GroupKind, name, errs): 422 with one cause per field error. */
export function invalidStatus(type: ResourceType, name: string, errors: readonly FieldError[]): KubeStatus {
  return kubeStatus(422, 'Invalid', invalidMessage(qualifiedKindOf(type), name, errors), {
    name,
    ...groupDetail(type),
    kind: type.kind,
    causes: invalidCauses(errors),
  });
}

/**
 * errors.NewConflict(GroupResource, name, err). `resource` is what the caller passes as the resource:
 * the plural for the store's optimistic-lock conflicts, the kind for rest.BeforeDelete's precondition
 * conflicts (it builds the GroupResource from the object's kind).
 */
export function conflictStatus(
  type: ResourceType,
  resource: string,
  name: string,
  message: string,
): KubeStatus {
  const qualified = type.group === '' ? resource : `${resource}.${type.group}`;
  return kubeStatus(409, 'Conflict', `Operation cannot be fulfilled on ${qualified} "${name}": ${message}`, {
    name,
    ...groupDetail(type),
    kind: resource,
  });
}

/** store.finalizeDelete without ReturnDeletedObject: details name the resource (plural) as the kind. */
export function successStatus(type: ResourceType, object: KubeObject): KubeSuccessStatus {
  const details: KubeSuccessStatus['details'] = {
    name: object.metadata.name,
    ...groupDetail(type),
    kind: type.plural,
  };
  if (object.metadata.uid !== undefined) details.uid = object.metadata.uid;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}
