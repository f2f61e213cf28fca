import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Why a test cannot run here, or undefined when it can. Under CI=true a missing prerequisite is a
 * failure, not a skip: a green CI must mean every test ran (../shared/TESTING.md).
 */
export function missingPrerequisite(checks: readonly (() => string | undefined)[]): string | undefined {
  for (const check of checks) {
    const why = check();
    if (why !== undefined) {
      if (process.env.CI === 'true') throw new Error(`CI=true and a test prerequisite is missing: ${why}`);
      return why;
    }
  }
  return undefined;
}

export const isRoot = (): string | undefined =>
  process.getuid?.() === 0 ? undefined : 'needs root (kernel audit, cgroups, /dev/kmsg)';

export const hasCommand = (name: string, pkg: string) => (): string | undefined => {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return undefined;
  } catch {
    return existsSync(`/usr/sbin/${name}`) || existsSync(`/sbin/${name}`)
      ? undefined
      : `needs ${name} (Debian package ${pkg})`;
  }
};
