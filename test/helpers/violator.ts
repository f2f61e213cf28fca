import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestCgroup } from './k8s-cgroup.js';

/**
 * Builds and runs test/helpers/seccomp-violator.c (see its header for the modes and the lines it prints).
 * The binary is compiled with gcc at test time into a temp directory keyed by the source's hash, so
 * parallel test files share one build and an edited source is rebuilt.
 */

const execFileAsync = promisify(execFile);

/** The C source, found from this module both under test/helpers (vitest) and dist/test/helpers (bench). */
export function violatorSource(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'test', 'helpers', 'seccomp-violator.c');
    if (existsSync(candidate)) return candidate;
    const here = join(dir, 'seccomp-violator.c');
    if (existsSync(here)) return here;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find test/helpers/seccomp-violator.c');
    dir = parent;
  }
}

let built: Promise<string> | undefined;

/** Compiles the violator (once per source version) and returns the binary's path. Needs gcc. */
export function buildViolator(): Promise<string> {
  built ??= (async () => {
    const src = violatorSource();
    const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 16);
    const dir = join(tmpdir(), 'kernwatch-violator', hash);
    const bin = join(dir, 'seccomp-violator');
    if (existsSync(bin)) return bin;
    mkdirSync(dir, { recursive: true });
    // Builds of older versions of the source are of no further use.
    const root = join(tmpdir(), 'kernwatch-violator');
    for (const e of readdirSync(root, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== hash) rmSync(join(root, e.name), { recursive: true, force: true });
    }
    // Build under a private name, then rename: another test file may be building the same source.
    const tmp = `${bin}.${process.pid}.tmp`;
    try {
      await execFileAsync('gcc', ['-O2', '-Wall', '-o', tmp, src]);
      renameSync(tmp, bin);
    } finally {
      rmSync(tmp, { force: true });
    }
    return bin;
  })();
  return built;
}

export type ViolatorEvent =
  | { kind: 'ready'; pid: number }
  | { kind: 'forked'; pid: number; atMs: number }
  | { kind: 'violate'; pid: number; atMs: number }
  | { kind: 'reaped'; pid: number; signal: number; atMs: number }
  | { kind: 'died'; pid: number; signal: number; atMs: number }
  | { kind: 'done'; text: string };

/** One line of the violator's output, or undefined for a line it does not print. */
export function parseViolatorLine(line: string): ViolatorEvent | undefined {
  const f = line.split(' ');
  const num = (i: number): number => Number(f[i]);
  switch (f[0]) {
    case 'ready':
      return { kind: 'ready', pid: num(1) };
    case 'forked':
      return { kind: 'forked', pid: num(1), atMs: num(2) };
    case 'violate':
      return { kind: 'violate', pid: num(1), atMs: num(2) };
    case 'reaped':
      return { kind: 'reaped', pid: num(1), signal: num(2), atMs: num(3) };
    case 'died':
      return { kind: 'died', pid: num(1), signal: num(2), atMs: num(3) };
    case 'done':
      return { kind: 'done', text: line };
    default:
      return undefined;
  }
}

export interface ViolatorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running violator. Its events are kept in `events` and passed in order to `onEvent` listeners. */
export class ViolatorProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly events: ViolatorEvent[] = [];
  readonly exited: Promise<ViolatorExit>;
  private readonly listeners: ((e: ViolatorEvent) => void)[] = [];
  private stderr = '';

  constructor(binary: string, args: readonly string[]) {
    this.child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error(`cannot start ${binary}`);
    this.pid = this.child.pid;
    let partial = '';
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const e = parseViolatorLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
        if (e === undefined) continue;
        this.events.push(e);
        for (const l of this.listeners) l(e);
      }
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      if (this.stderr.length < 8192) this.stderr += chunk;
    });
    this.exited = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('close', (code, signal) => {
        resolve({ code, signal });
      });
    });
  }

  /** Calls `listener` for every event: first those already received, then each new one. */
  onEvent(listener: (e: ViolatorEvent) => void): void {
    for (const e of this.events) listener(e);
    this.listeners.push(listener);
  }

  /** Resolves with the first event (already seen or to come) that matches. */
  waitFor<K extends ViolatorEvent['kind']>(
    kind: K,
    match: (e: Extract<ViolatorEvent, { kind: K }>) => boolean = () => true,
  ): Promise<Extract<ViolatorEvent, { kind: K }>> {
    const hit = (e: ViolatorEvent): e is Extract<ViolatorEvent, { kind: K }> =>
      e.kind === kind && match(e as Extract<ViolatorEvent, { kind: K }>);
    const seen = this.events.find(hit);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.listeners.push((e) => {
        if (hit(e)) resolve(e);
      });
      void this.exited.then((x) => {
        reject(
          new Error(`violator ended (${JSON.stringify(x)}) before a '${kind}' line; stderr: ${this.stderr}`),
        );
      });
    });
  }

  /** Writes the line a violator waits for (`-w`, then `wait-kill` and `zombie`). */
  go(): void {
    this.child.stdin?.write('\n');
  }

  /** Closes stdin: a `hold` violator exits 0. */
  release(): void {
    this.child.stdin?.end();
  }

  /** Kills by pid (if still running) and waits for the exit. */
  async stop(): Promise<ViolatorExit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }

  stderrText(): string {
    return this.stderr;
  }
}

/** Starts the violator with `args` (a mode and its arguments) and lets it run at once. */
export function startViolator(binary: string, args: readonly string[]): ViolatorProcess {
  return new ViolatorProcess(binary, args);
}

/**
 * Starts the violator inside a cgroup of test/helpers/k8s-cgroup.ts: it waits (-w) until its pid has been written to
 * every cgroup.procs, so the process and every child it forks live in the container's cgroup.
 */
export async function startViolatorIn(
  cgroup: TestCgroup,
  binary: string,
  args: readonly string[],
): Promise<ViolatorProcess> {
  const v = new ViolatorProcess(binary, ['-w', ...args]);
  try {
    cgroup.enter(v.pid);
  } catch (err) {
    await v.stop();
    throw err;
  }
  v.go();
  await v.waitFor('ready');
  return v;
}

/** Runs the violator to its end and returns its exit and events. */
export async function runViolator(
  binary: string,
  args: readonly string[],
): Promise<{ exit: ViolatorExit; events: ViolatorEvent[] }> {
  const v = startViolator(binary, args);
  v.release();
  const exit = await v.exited;
  return { exit, events: v.events };
}
