/**
 * Stops a process this suite started, by its pid: SIGTERM, then SIGKILL if it is still there after
 * `graceMs`. Resolves once `exited` (the child's close) resolved. Never by name.
 */
export async function stopByPid(
  pid: number,
  exited: Promise<unknown>,
  isRunning: () => boolean,
  graceMs = 10_000,
): Promise<void> {
  if (!isRunning()) return;
  process.kill(pid, 'SIGTERM');
  const killTimer = setTimeout(() => {
    if (isRunning()) process.kill(pid, 'SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(killTimer);
}
