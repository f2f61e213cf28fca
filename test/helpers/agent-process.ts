import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KernwatchEvent } from '../../agent/events.js';
import type { ActionEvent } from '../../agent/responders/action-event.js';
import { findRepoRoot } from '../bench/audit-log-generator.js';
import { waitFor } from './wait.js';

export { waitFor };

/** The built CLI: `npm test` builds first, so end-to-end tests run the agent exactly as users do. */
export const CLI = join(findRepoRoot(), 'dist/agent/cli/main.js');

export const needsBuiltCli = (): string | undefined =>
  existsSync(CLI) ? undefined : `needs the built CLI at ${CLI} (npm run build)`;

export interface AgentProcess {
  child: ChildProcess;
  pid: number;
  /** Everything the agent wrote to stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** SIGTERM (default) and wait for exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

/**
 * Starts the built CLI. `prefix` runs it through another program first, e.g. ['nsenter',
 * '--net=/var/run/netns/X'] to run it inside a network namespace (nsenter execs: the pid stays the agent's).
 */
export function startAgent(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  prefix: readonly string[] = [],
): AgentProcess {
  const [program, ...before] = prefix.length > 0 ? prefix : [process.execPath];
  const argv = prefix.length > 0 ? [...before, process.execPath, CLI, ...args] : [CLI, ...args];
  return startProcess(program ?? process.execPath, argv, { env });
}

/**
 * Starts `program` with `argv`, stdout and stderr collected, as an AgentProcess: startAgent's child, or an
 * agent started another way (the built image's ENTRYPOINT).
 */
export function startProcess(
  program: string,
  argv: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; what?: string } = {},
): AgentProcess {
  const child = spawn(program, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('close', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.what ?? 'the agent'} did not start`);
  return {
    child,
    pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Events from an NDJSON text (a file sink's file, or the agent's stdout). */
export function eventsIn(text: string): KernwatchEvent[] {
  // The agent may be writing while we read: a line without its newline yet is not an event yet.
  return (
    text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as KernwatchEvent)
      // Denials only: action and posture events share the stream under their own schema.
      .filter((e) => e.schema === 'kernwatch.v1')
  );
}

export function eventsInFile(path: string): KernwatchEvent[] {
  return existsSync(path) ? eventsIn(readFileSync(path, 'utf8')) : [];
}

/** Response decisions (schema kernwatch.v1.action) from a file sink's file. */
export function actionEventsInFile(path: string): ActionEvent[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.startsWith('{"schema":"kernwatch.v1.action"'))
    .map((l) => JSON.parse(l) as ActionEvent);
}

/** Waits until the agent logged that it is running (its sources are open). */
export function agentReady(agent: AgentProcess, timeoutMs = 20_000): Promise<true> {
  return waitFor(
    `the agent to start (stderr so far: ${agent.stderr().slice(-2000)})`,
    () => {
      if (agent.child.exitCode !== null) throw new Error(`the agent exited early: ${agent.stderr()}`);
      return agent.stderr().includes('kernwatch is running.') ? true : undefined;
    },
    timeoutMs,
  );
}
