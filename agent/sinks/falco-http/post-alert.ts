import { ERROR_CODES, KernwatchError } from '../../errors.js';

export const POST_OUTCOME = {
  /** The receiver took the alert (2xx). */
  sent: 'sent',
  /** The receiver refused this alert and will refuse it again (4xx but 408/429, a redirect). */
  rejected: 'rejected',
  /** Not delivered for a reason that may pass: no connection, a timeout, 5xx, 408, 429. */
  retry: 'retry',
} as const;
export type PostOutcome = (typeof POST_OUTCOME)[keyof typeof POST_OUTCOME];

export type PostResult =
  | { outcome: typeof POST_OUTCOME.sent; status: number }
  | { outcome: typeof POST_OUTCOME.rejected; status: number; error: KernwatchError }
  | { outcome: typeof POST_OUTCOME.retry; status?: number; error: KernwatchError };

/** Enough of a refusal's body to say why in a log line (falcosidekick: "Please send a valid request body"). */
const MAX_REASON_CHARS = 200;

/**
 * One POST of one alert's JSON. Never throws: every failure comes back classified, so the caller's
 * retry logic is a switch on `outcome`.
 */
export async function postAlert(url: string, body: string, signal: AbortSignal): Promise<PostResult> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal,
      // A redirected POST turns into a GET (301/302/303), which falcosidekick answers with 400 "Please
      // send with post http method": report the redirect itself, it is the misconfiguration.
      redirect: 'manual',
    });
  } catch (err) {
    return {
      outcome: POST_OUTCOME.retry,
      error: new KernwatchError(ERROR_CODES.sink, `Cannot POST an alert to ${url}: ${failureReason(err)}`, {
        cause: err,
      }),
    };
  }
  const status = res.status;
  // The body is always consumed: an unread body keeps its keep-alive connection out of the pool.
  const text = await readText(res);
  if (status >= 200 && status < 300) return { outcome: POST_OUTCOME.sent, status };
  const said = text.trim().slice(0, MAX_REASON_CHARS);
  const message = `${url} answered ${String(status)}${said === '' ? '' : `: ${said}`}`;
  if (status >= 500 || status === 429 || status === 408) {
    return { outcome: POST_OUTCOME.retry, status, error: new KernwatchError(ERROR_CODES.sink, message) };
  }
  const location = res.headers.get('location');
  return {
    outcome: POST_OUTCOME.rejected,
    status,
    error: new KernwatchError(
      ERROR_CODES.sink,
      location === null ? message : `${message} (redirected to ${location})`,
    ),
  };
}

async function readText(res: Response): Promise<string> {
  try {
    return await res.text();
  } catch {
    // The status already says what happened; a body cut off by the timeout adds nothing.
    return '';
  }
}

/** The most specific reason fetch gives: undici wraps the socket error (ECONNREFUSED, ...) as `cause`. */
function failureReason(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'no answer before the request timeout';
    if (err.name === 'AbortError') return 'aborted';
    const cause: unknown = err.cause;
    if (cause instanceof Error) {
      const code = (cause as NodeJS.ErrnoException).code;
      return code !== undefined ? `${code} (${cause.message})` : cause.message;
    }
    return err.message;
  }
  return String(err);
}
