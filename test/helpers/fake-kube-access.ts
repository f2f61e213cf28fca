import { kubeStatus, type KubeStatus } from './fake-kube-status.js';
import { invalidMessage, invalidCauses, invalidShown, type FieldError } from './fake-kube-validation.js';

/**
 * Authorization for the fake API server, as RBAC decides it: a request is allowed when a rule grants its
 * verb on its resource (and group) — cluster-wide for a rule without a namespace (a ClusterRoleBinding),
 * only inside its namespace for a rule with one (a RoleBinding). Denied requests are answered 403 with
 * the real message, and SelfSubjectAccessReviews (POST /apis/authorization.k8s.io/v1/
 * selfsubjectaccessreviews, which every authenticated user may create) answer 201 with the spec echoed
 * and status {allowed, reason?, denied?}. By default everything is allowed.
 */

export const SELF_SUBJECT_ACCESS_REVIEW_PATH = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';
const SSAR_RESOURCE = 'selfsubjectaccessreviews';
const SSAR_KIND = 'SelfSubjectAccessReview';
const SSAR_API_VERSION = 'authorization.k8s.io/v1';

/** What a rule grants; '*' matches any verb, resource or group, as in RBAC. */
export interface AccessRule {
  verb: string;
  resource: string;
  /** '' (or absent) for the core group. */
  group?: string;
  /** Absent: every namespace and the cluster scope (a ClusterRoleBinding); set: that namespace only. */
  namespace?: string;
}

/** The attributes of one request (RequestInfo) or of a review's spec.resourceAttributes. */
export interface AccessAttributes {
  verb: string;
  group: string;
  resource: string;
  /** '' or absent: the cluster scope (all namespaces for a namespaced resource). */
  namespace?: string;
  name?: string;
  subresource?: string;
}

export interface AccessDecision {
  allowed: boolean;
  /** Only an explicit Deny (a webhook or the Node authorizer, never RBAC) sets it. */
  denied?: boolean;
  reason?: string;
}

interface ExplicitDeny {
  rule: AccessRule;
  reason: string;
}

export class FakeKubeAccess {
  /** The authenticated user the token stands for (it appears in 403 messages). */
  user: string;
  private rules: AccessRule[] | undefined;
  private readonly denies: ExplicitDeny[] = [];

  constructor(user = 'system:serviceaccount:kernwatch:kernwatch') {
    this.user = user;
  }

  /** Everything allowed again (the default); explicit denies are dropped too. */
  allowAll(): void {
    this.rules = undefined;
    this.denies.splice(0);
  }

  /** Only what these rules grant is allowed from now on. */
  allowOnly(rules: readonly AccessRule[]): void {
    this.rules = rules.map((r) => ({ ...r }));
  }

  /**
   * An explicit Deny for what `rule` matches, before any allow, as a webhook authorizer gives it: reviews
   * answer {allowed: false, denied: true, reason}.
   */
  deny(rule: AccessRule, reason: string): void {
    this.denies.push({ rule: { ...rule }, reason });
  }

  decide(a: AccessAttributes): AccessDecision {
    // system:basic-user: every authenticated user may review its own access.
    if (a.group === 'authorization.k8s.io' && a.resource === SSAR_RESOURCE && a.verb === 'create') {
      return {
        allowed: true,
        reason:
          'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated"',
      };
    }
    const explicit = this.denies.find((d) => matches(d.rule, a));
    if (explicit !== undefined) return { allowed: false, denied: true, reason: explicit.reason };
    if (this.rules === undefined) {
      return {
        allowed: true,
        reason: `RBAC: allowed by ClusterRoleBinding "kernwatch" of ClusterRole "cluster-admin" to ${this.subject()}`,
      };
    }
    const rule = this.rules.find((r) => matches(r, a));
    if (rule === undefined) return { allowed: false };
    const binding =
      rule.namespace === undefined
        ? 'ClusterRoleBinding "kernwatch" of ClusterRole "kernwatch"'
        : `RoleBinding "kernwatch/${rule.namespace}" of Role "kernwatch"`;
    return { allowed: true, reason: `RBAC: allowed by ${binding} to ${this.subject()}` };
  }

  /** The 403 a denied request gets (responsewriters.Forbidden + errors.NewForbidden). */
  forbidden(a: AccessAttributes, reason = ''): KubeStatus {
    const resource =
      a.subresource === undefined || a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
    const scope =
      a.namespace === undefined || a.namespace === ''
        ? 'at the cluster scope'
        : `in the namespace ${JSON.stringify(a.namespace)}`;
    const what = `User ${JSON.stringify(this.user)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.group)} ${scope}`;
    const err = reason === '' ? what : `${what}: ${reason}`;
    const qualified = a.group === '' ? a.resource : `${a.resource}.${a.group}`;
    const name = a.name ?? '';
    const message =
      name === ''
        ? `${qualified} is forbidden: ${err}`
        : `${qualified} ${JSON.stringify(name)} is forbidden: ${err}`;
    return kubeStatus(403, 'Forbidden', message, {
      ...(name === '' ? {} : { name }),
      ...(a.group === '' ? {} : { group: a.group }),
      kind: a.resource,
    });
  }

  /**
   * POST selfsubjectaccessreviews: decode and validate the review (400 / 422 as the real server), then
   * 201 with the object as sent (metadata, spec) and the decision as its status.
   */
  review(body: string): { code: number; body: unknown } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      return status(
        kubeStatus(
          400,
          'BadRequest',
          `couldn't get version/kind; json parse error: ${(err as Error).message}`,
        ),
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return status(
        kubeStatus(400, 'BadRequest', "couldn't get version/kind; json parse error: not an object"),
      );
    }
    const object = parsed as Record<string, unknown>;
    if (object.apiVersion !== undefined && object.apiVersion !== SSAR_API_VERSION) {
      return status(
        kubeStatus(
          400,
          'BadRequest',
          `the API version in the data (${typeof object.apiVersion === 'string' ? object.apiVersion : JSON.stringify(object.apiVersion)}) does not match the expected API version (${SSAR_API_VERSION})`,
        ),
      );
    }
    if (object.kind !== undefined && object.kind !== SSAR_KIND) {
      return status(
        kubeStatus(
          400,
          'BadRequest',
          `${SSAR_KIND} in version "v1" cannot be handled as a ${SSAR_KIND}: kind mismatch`,
        ),
      );
    }
    const spec = record(object.spec);
    const resourceAttributes = optionalRecord(spec.resourceAttributes);
    const nonResourceAttributes = optionalRecord(spec.nonResourceAttributes);
    const errors: FieldError[] = [];
    // ValidateSelfSubjectAccessReviewSpec.
    if (resourceAttributes !== undefined && nonResourceAttributes !== undefined) {
      errors.push(
        invalidShown(
          'spec.nonResourceAttributes',
          `authorization.NonResourceAttributes{Path:${JSON.stringify(text(nonResourceAttributes.path))}, Verb:${JSON.stringify(text(nonResourceAttributes.verb))}}`,
          'cannot be specified in combination with resourceAttributes',
        ),
      );
    }
    if (resourceAttributes === undefined && nonResourceAttributes === undefined) {
      errors.push(
        invalidShown(
          'spec.resourceAttributes',
          '"null"',
          'exactly one of nonResourceAttributes or resourceAttributes must be specified',
        ),
      );
    }
    if (errors.length > 0) {
      return status(
        kubeStatus(422, 'Invalid', invalidMessage(`${SSAR_KIND}.authorization.k8s.io`, '', errors), {
          group: 'authorization.k8s.io',
          kind: SSAR_KIND,
          causes: invalidCauses(errors),
        }),
      );
    }
    let decision: AccessDecision;
    if (resourceAttributes !== undefined) {
      const attributes: AccessAttributes = {
        verb: text(resourceAttributes.verb),
        group: text(resourceAttributes.group),
        resource: text(resourceAttributes.resource),
        namespace: text(resourceAttributes.namespace),
        name: text(resourceAttributes.name),
        subresource: text(resourceAttributes.subresource),
      };
      decision = this.decide(attributes);
    } else {
      // Non-resource URLs (/healthz, /metrics…): only the default allow-all grants them here.
      decision =
        this.rules === undefined && this.denies.length === 0
          ? this.decide({ verb: 'get', group: '', resource: '' })
          : { allowed: false };
    }
    const statusBody: Record<string, unknown> = { allowed: decision.allowed };
    if (decision.denied === true) statusBody.denied = true;
    if (decision.reason !== undefined && decision.reason !== '') statusBody.reason = decision.reason;
    const metadata = { creationTimestamp: null, ...record(object.metadata) };
    return {
      code: 201,
      body: {
        kind: SSAR_KIND,
        apiVersion: SSAR_API_VERSION,
        metadata,
        spec: withoutEmpty(spec),
        status: statusBody,
      },
    };
  }

  private subject(): string {
    const prefix = 'system:serviceaccount:';
    if (this.user.startsWith(prefix)) {
      const [namespace, name] = this.user.slice(prefix.length).split(':');
      return `ServiceAccount ${JSON.stringify(`${name ?? ''}/${namespace ?? ''}`)}`;
    }
    return `User ${JSON.stringify(this.user)}`;
  }
}

function matches(rule: AccessRule, a: AccessAttributes): boolean {
  const group = rule.group ?? '';
  if (rule.verb !== '*' && rule.verb !== a.verb) return false;
  if (rule.resource !== '*' && rule.resource !== a.resource) return false;
  if (group !== '*' && group !== a.group) return false;
  if (rule.namespace !== undefined && rule.namespace !== (a.namespace ?? '')) return false;
  return true;
}

function status(s: KubeStatus): { code: number; body: unknown } {
  return { code: s.code, body: s };
}

/** Go's omitempty on the review's string fields: empty ones are not echoed back. */
function withoutEmpty(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === '' || v === null || v === undefined) continue;
    out[key] = typeof v === 'object' && !Array.isArray(v) ? withoutEmpty(v as Record<string, unknown>) : v;
  }
  return out;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function optionalRecord(value: unknown): Record<string, unknown> | undefined {
  return value === undefined || value === null ? undefined : record(value);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
