/**
 * Polling waits for tests: real components (the kernel, auditd, journald, containerd, the agent) report
 * asynchronously, and a test waits for the fact it asserts rather than for a fixed time.
 */

/** Resolves once `done` is true; throws `timed out waiting for <what>` after `timeoutMs`. */
export async function waitUntil(
  what: string | (() => string),
  done: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  pollMs = 20,
): Promise<void> {
  await waitFor(what, async () => ((await done()) ? true : undefined), timeoutMs, pollMs);
}

/** Resolves with the first value `check` returns that is not undefined; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
  pollMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
