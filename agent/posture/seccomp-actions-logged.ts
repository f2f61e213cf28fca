import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** <procRoot>/sys/kernel/seccomp/actions_logged: the seccomp actions the kernel logs. */
export function actionsLoggedPath(procRoot: string): string {
  return join(procRoot, 'sys/kernel/seccomp/actions_logged');
}

/** `kill_process kill_thread trap errno user_notif trace log` → the names, in the kernel's order. */
export function parseActionsLogged(text: string): string[] {
  return text
    .trim()
    .split(/\s+/)
    .filter((a) => a !== '');
}

/** The names, or undefined when the file cannot be read. */
export async function readActionsLogged(procRoot: string): Promise<string[] | undefined> {
  try {
    return parseActionsLogged(await readFile(actionsLoggedPath(procRoot), 'utf8'));
  } catch {
    return undefined;
  }
}
