import {
  Observable,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { ERROR_CODES, KernwatchError } from './errors.js';

/**
 * Per-call options for client-node: the abort signal (client-node has no timeout of its own) and, for a
 * patch, the content type. client-node 1.4 picks the first JSON-like type the API lists for a patch,
 * application/json-patch+json, which the server would refuse for a map body (400): it must be set.
 */
export function kubeRequestOptions(signal: AbortSignal, contentType?: string): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (context: RequestContext) => {
      context.setSignal(signal);
      if (contentType !== undefined) context.setHeaderParam('Content-Type', contentType);
      return new Observable(Promise.resolve(context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/** A call (or a set of calls sharing one deadline) the API server did not answer in time. */
export class KubeDeadlineError extends KernwatchError {
  constructor(ms: number, options?: { cause?: unknown }) {
    super(ERROR_CODES.apiTimeout, `no answer within ${String(ms)} ms`, options);
  }
}

/**
 * Runs API calls under one deadline (client-node has no timeout of its own): `run` gets the request
 * options carrying the abort signal (and the patch content type); a call cut off by the deadline
 * rejects with a KubeDeadlineError, any other failure as it came.
 */
export async function withKubeDeadline<T>(
  ms: number,
  run: (options: ConfigurationOptions) => Promise<T>,
  contentType?: string,
): Promise<T> {
  const abort = new AbortController();
  const timer = setTimeout(() => {
    abort.abort();
  }, ms);
  try {
    return await run(kubeRequestOptions(abort.signal, contentType));
  } catch (err) {
    if (abort.signal.aborted) throw new KubeDeadlineError(ms, { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
