import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findRepoRoot } from '../bench/audit-log-generator.js';
import { CLI } from './agent-process.js';

/**
 * The built CLI (dist/agent/cli/main.js) run to its end in a child process, no shell: what a user's
 * `kernwatch parse`, `kernwatch posture` gets.
 */

const ROOT = findRepoRoot();

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI with `args` in the repository, `input` on its stdin; resolves when it exited. */
export function runCli(
  args: readonly string[],
  options: { input?: string | Buffer | undefined; env?: NodeJS.ProcessEnv | undefined } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Newest modification time of the TypeScript sources the CLI is built from. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (name.endsWith('.ts')) newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

/** `npm test` builds first; a bare `vitest run` may find dist missing or older than the sources. */
export function buildCliIfStale(): void {
  if (!existsSync(CLI) || statSync(CLI).mtimeMs < newestSource(join(ROOT, 'agent'))) {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT, stdio: 'inherit' },
    );
  }
}
