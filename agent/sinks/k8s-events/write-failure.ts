import { ApiException } from '@kubernetes/client-node';
import { ERROR_CODES, KernwatchError } from '../../errors.js';

/** What a failed Event write means for the series behind it. */
export const WRITE_FAILURE = {
  /** The server or the way to it failed (5xx, 429, 408, network, timeout): try again after a pause. */
  transient: 'transient',
  /** 404: the Event is gone (its TTL expired, someone deleted it) or, for a create, its namespace is. */
  notFound: 'not_found',
  /** 409 AlreadyExists on a create: that name is taken. */
  alreadyExists: 'already_exists',
  /** Any other 4xx (403 RBAC or a terminating namespace, 422 invalid): the same request fails again. */
  rejected: 'rejected',
} as const;
export type WriteFailureKind = (typeof WRITE_FAILURE)[keyof typeof WRITE_FAILURE];

/** A Kubernetes Event the API server would not take, with the HTTP status when there was an answer. */
export class PodEventWriteError extends KernwatchError {
  readonly kind: WriteFailureKind;
  readonly status: number | undefined;
  /** From a Retry-After header (429, 503): the server's own word on when to come back. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    details: { kind: WriteFailureKind; status?: number; retryAfterMs?: number },
    options?: { cause?: unknown },
  ) {
    super(ERROR_CODES.sink, message, options);
    this.kind = details.kind;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** client-node's failure of a create or patch → what to do about it, with the server's message. */
export function writeFailureOf(verb: 'create' | 'patch', name: string, err: unknown): PodEventWriteError {
  if (!(err instanceof ApiException)) {
    // No HTTP answer: connection refused or reset, DNS, our own timeout (an AbortError).
    const reason = err instanceof Error ? err.message : String(err);
    return new PodEventWriteError(
      `Cannot ${verb} Kubernetes Event ${name}: ${reason}`,
      { kind: WRITE_FAILURE.transient },
      { cause: err },
    );
  }
  const status: number = err.code;
  const body = statusBody(err.body);
  const retryAfterMs = retryAfterOf(err.headers, body);
  const kind = kindOf(verb, status, body.reason);
  const message = body.message === undefined ? `HTTP ${status}` : `${status} ${body.message}`;
  return new PodEventWriteError(
    `Cannot ${verb} Kubernetes Event ${name}: ${message}`,
    { kind, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    { cause: err },
  );
}

function kindOf(verb: 'create' | 'patch', status: number, reason: string | undefined): WriteFailureKind {
  if (status === 404) return WRITE_FAILURE.notFound;
  if (status === 409) {
    if (verb === 'create' && reason !== 'Conflict') return WRITE_FAILURE.alreadyExists;
    // A conflict on a patch without a resourceVersion is a server-side race: it goes away on retry.
    return WRITE_FAILURE.transient;
  }
  if (status === 408 || status === 429 || status >= 500) return WRITE_FAILURE.transient;
  return WRITE_FAILURE.rejected;
}

interface StatusBody {
  reason?: string;
  message?: string;
  retryAfterSeconds?: number;
}

/** client-node hands error bodies over as text (or, for some codes, not at all). */
function statusBody(body: unknown): StatusBody {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return body === '' ? {} : { message: body.slice(0, 200) };
    }
  }
  if (typeof value !== 'object' || value === null) return {};
  const { reason, message, details } = value as { reason?: unknown; message?: unknown; details?: unknown };
  const out: StatusBody = {};
  if (typeof reason === 'string') out.reason = reason;
  if (typeof message === 'string') out.message = message;
  const retry = (details as { retryAfterSeconds?: unknown } | null | undefined)?.retryAfterSeconds;
  if (typeof retry === 'number') out.retryAfterSeconds = retry;
  return out;
}

function retryAfterOf(headers: Record<string, string> | undefined, body: StatusBody): number | undefined {
  const header = headers?.['retry-after'];
  const seconds = header !== undefined && /^\d+$/.test(header) ? Number(header) : body.retryAfterSeconds;
  return seconds === undefined ? undefined : seconds * 1000;
}
