import { ApiException, FetchError } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { EventNamer } from '../../../agent/sinks/k8s-events/event-name.js';
import { TokenBucket } from '../../../agent/sinks/k8s-events/token-bucket.js';
import { WRITE_FAILURE, writeFailureOf } from '../../../agent/sinks/k8s-events/write-failure.js';

/** The small parts of the Kubernetes Event reporter: names, the rate limit, and what a failure means. */

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

function status(code: number, reason: string, message: string, details?: object): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  });
}

describe('Event names', () => {
  it('are <pod>.<UnixNano in hex>, as client-go makes them', () => {
    expect(new EventNamer().next('web-0', T0)).toBe(`web-0.${(BigInt(T0) * 1_000_000n).toString(16)}`);
  });

  it('stay unique when the clock stands still or steps back', () => {
    const namer = new EventNamer();
    const base = BigInt(T0) * 1_000_000n;
    expect([namer.next('a', T0), namer.next('a', T0), namer.next('a', T0 - 5000)]).toStrictEqual([
      `a.${base.toString(16)}`,
      `a.${(base + 1n).toString(16)}`,
      `a.${(base + 2n).toString(16)}`,
    ]);
  });

  it('cut a long pod name to fit 253 characters without ending the cut on - or .', () => {
    // 253 - '.' - 16 hex digits leaves 236 characters: the cut falls right after `-.`.
    const pod = `${'a'.repeat(234)}-.${'b'.repeat(20)}`;
    const name = new EventNamer().next(pod, T0);
    const suffix = (BigInt(T0) * 1_000_000n).toString(16);
    expect(name).toBe(`${'a'.repeat(234)}.${suffix}`);
    expect(name.length).toBeLessThanOrEqual(253);
  });
});

describe('the token bucket', () => {
  it('allows a burst, then one call per 1/rate seconds', () => {
    let now = T0;
    const bucket = new TokenBucket(5, 3, () => now);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toStrictEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.msUntilToken()).toBe(200);
    now += 100;
    expect([bucket.tryTake(), bucket.msUntilToken()]).toStrictEqual([false, 100]);
    now += 100;
    expect([bucket.tryTake(), bucket.tryTake()]).toStrictEqual([true, false]);
  });

  it('refills no further than the burst, and not at all when the clock steps back', () => {
    let now = T0;
    const bucket = new TokenBucket(10, 2, () => now);
    now += 60_000;
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toStrictEqual([true, true, false]);
    now -= 30_000;
    expect(bucket.tryTake()).toBe(false);
  });
});

describe('what a failed Event write means', () => {
  it.each([
    ['create', 500, 'InternalError', WRITE_FAILURE.transient],
    ['create', 503, 'ServiceUnavailable', WRITE_FAILURE.transient],
    ['patch', 504, 'Timeout', WRITE_FAILURE.transient],
    ['create', 429, 'TooManyRequests', WRITE_FAILURE.transient],
    ['create', 408, 'Timeout', WRITE_FAILURE.transient],
    ['patch', 404, 'NotFound', WRITE_FAILURE.notFound],
    ['create', 404, 'NotFound', WRITE_FAILURE.notFound],
    ['create', 409, 'AlreadyExists', WRITE_FAILURE.alreadyExists],
    ['patch', 409, 'Conflict', WRITE_FAILURE.transient],
    ['create', 403, 'Forbidden', WRITE_FAILURE.rejected],
    ['create', 422, 'Invalid', WRITE_FAILURE.rejected],
    ['patch', 400, 'BadRequest', WRITE_FAILURE.rejected],
    ['create', 401, 'Unauthorized', WRITE_FAILURE.rejected],
  ] as const)('a %s answered %i %s is %s', (verb, code, reason, kind) => {
    const err = new ApiException(code, 'failed', status(code, reason, 'message from the server'), {});
    const failure = writeFailureOf(verb, 'web-0.1', err);
    expect([failure.kind, failure.status, failure.code, failure.cause]).toStrictEqual([
      kind,
      code,
      'sink',
      err,
    ]);
    expect(failure.message).toBe(`Cannot ${verb} Kubernetes Event web-0.1: ${code} message from the server`);
  });

  it("takes the server's Retry-After header, else the Status's retryAfterSeconds", () => {
    const header = new ApiException(429, 'x', status(429, 'TooManyRequests', 'slow down'), {
      'retry-after': '7',
    });
    const body = new ApiException(
      429,
      'x',
      status(429, 'TooManyRequests', 'slow down', { retryAfterSeconds: 2 }),
      {},
    );
    expect([
      writeFailureOf('create', 'n', header).retryAfterMs,
      writeFailureOf('create', 'n', body).retryAfterMs,
    ]).toStrictEqual([7000, 2000]);
  });

  it('is transient when there was no answer at all (refused, reset, aborted by our timeout)', () => {
    const refused = new FetchError(
      'request to http://127.0.0.1:1/ failed, reason: connect ECONNREFUSED',
      'system',
    );
    const failure = writeFailureOf('create', 'web-0.1', refused);
    expect([failure.kind, failure.status, failure.retryAfterMs]).toStrictEqual([
      WRITE_FAILURE.transient,
      undefined,
      undefined,
    ]);
    expect(failure.message).toBe(
      'Cannot create Kubernetes Event web-0.1: request to http://127.0.0.1:1/ failed, reason: connect ECONNREFUSED',
    );
  });

  it('keeps a body that is not a Status as the message, shortened', () => {
    const err = new ApiException(502, 'x', `<html>${'x'.repeat(500)}</html>`, {});
    const failure = writeFailureOf('patch', 'n', err);
    expect([failure.kind, failure.message.length]).toStrictEqual([
      WRITE_FAILURE.transient,
      'Cannot patch Kubernetes Event n: 502 '.length + 200,
    ]);
  });
});
