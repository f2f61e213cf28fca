import { execFile, type ExecFileException } from 'node:child_process';
import { ERROR_CODES, KernwatchError } from '../../errors.js';

/**
 * Runs the nft binary with JSON in and out (`nft -j`): changes as one batch, which the kernel applies as
 * one transaction (all or nothing), and reads parsed into `{ kind, body }` objects. execFile, never a
 * shell: nothing in an argument or a batch is ever interpreted by one.
 *
 * The batch travels on the command line, not on stdin: nft 1.0.6 reads `-f -` by opening /dev/stdin,
 * which fails with ENXIO when stdin is a socket, and Node gives a child socketpairs, not pipes.
 */

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** One command of a batch, as libnftables' JSON schema spells it: `{ add: { table: { ... } } }`. */
export type NftBatchCommand = Readonly<Record<string, Readonly<Record<string, JsonObject>>>>;

/** One object of a listing: `{"set": {...}}` becomes `{ kind: 'set', body: {...} }`. */
export interface NftListedObject {
  readonly kind: string;
  readonly body: JsonObject;
}

/** What NftQuarantine needs from nft; NftCommand is the real one. */
export interface NftRunner {
  /** Applies the commands as one transaction; a command must stay under 128 KiB of JSON, the batch under 1 MiB. */
  apply(commands: readonly NftBatchCommand[]): Promise<void>;
  /** `nft -j list <what...>`, without the metainfo object. */
  list(what: readonly string[]): Promise<NftListedObject[]>;
}

export interface NftCommandOptions {
  /** Default `nft` (found on PATH). */
  binary?: string;
  /**
   * argv run in front of nft, e.g. `['nsenter', '--net=/var/run/netns/X']` to act in another network
   * namespace. Empty in production: the agent runs in the host's.
   */
  prefix?: readonly string[];
  /** Per call. Default 5000 ms. */
  timeoutMs?: number;
  /** Limit on stdout and on stderr, each. Default 16 MiB (a listing of ~100k set elements). */
  maxOutputBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_OUTPUT_BYTES = 16 << 20;
/** Linux's MAX_ARG_STRLEN (32 pages), the limit on one argument. */
const MAX_ARGUMENT_BYTES = 128 << 10;
/** Half of the usual 2 MiB ARG_MAX (a quarter of an 8 MiB stack), leaving the rest to the environment. */
const MAX_BATCH_BYTES = 1 << 20;
/** nft's messages are a few lines; longer text is cut in error messages (stderr is kept whole on the error). */
const MESSAGE_STDERR_CHARS = 1000;

/** nft could not be run, exited non-zero, ran too long, wrote too much or wrote something that is not a listing. */
export class NftCommandError extends KernwatchError {
  readonly argv: readonly string[];
  /** What nft wrote to stderr, trimmed (its own explanation of a refused batch). */
  readonly stderr: string;
  /** nft's exit status when it exited on its own. */
  readonly exitCode: number | undefined;

  constructor(
    message: string,
    details: { argv: readonly string[]; stderr: string; exitCode: number | undefined },
    options?: { cause?: unknown },
  ) {
    super(ERROR_CODES.response, message, options);
    this.argv = details.argv;
    this.stderr = details.stderr;
    this.exitCode = details.exitCode;
  }
}

export class NftCommand implements NftRunner {
  private readonly binary: string;
  private readonly prefix: readonly string[];
  private readonly timeoutMs: number;
  private readonly maxOutputBytes: number;

  constructor(options: NftCommandOptions = {}) {
    this.binary = options.binary ?? 'nft';
    this.prefix = options.prefix ?? [];
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  }

  async apply(commands: readonly NftBatchCommand[]): Promise<void> {
    if (commands.length === 0) return;
    // nft joins its arguments with spaces and parses them as one text. One command per argument keeps
    // each under the kernel's limit on a single argument; the whole must stay under ARG_MAX.
    const parts = commands.map((c, i) => JSON.stringify(c) + (i < commands.length - 1 ? ',' : ''));
    const shown = ['-j', `<batch of ${commands.length} commands>`];
    const tooLong = parts.find((p) => Buffer.byteLength(p) >= MAX_ARGUMENT_BYTES);
    const total = parts.reduce((sum, p) => sum + Buffer.byteLength(p) + 1, 0);
    if (tooLong !== undefined || total > MAX_BATCH_BYTES) {
      throw new NftCommandError(
        `nft ${shown.join(' ')} is too large for a command line (${total} bytes; at most ${MAX_BATCH_BYTES}, ` +
          `${MAX_ARGUMENT_BYTES} per command)`,
        { argv: this.argv(shown), stderr: '', exitCode: undefined },
      );
    }
    await this.run(['-j', '{"nftables":[', ...parts, ']}'], shown);
  }

  async list(what: readonly string[]): Promise<NftListedObject[]> {
    const args = ['-j', 'list', ...what];
    const stdout = await this.run(args, args);
    try {
      return parseNftListing(stdout);
    } catch (err) {
      throw new NftCommandError(
        `nft ${args.join(' ')} wrote no JSON listing: ${err instanceof Error ? err.message : String(err)}`,
        { argv: this.argv(args), stderr: '', exitCode: 0 },
        { cause: err },
      );
    }
  }

  private argv(args: readonly string[]): string[] {
    return [...this.prefix, this.binary, ...args];
  }

  /** `shown` stands for `args` in messages and on errors: a batch can be a megabyte. */
  private run(args: readonly string[], shown: readonly string[]): Promise<string> {
    const [file = this.binary, ...rest] = this.argv(args);
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        rest,
        {
          encoding: 'utf8',
          timeout: this.timeoutMs,
          // nft has nothing to clean up, and the kernel applies a batch whole or not at all, so a hung
          // call is ended without grace.
          killSignal: 'SIGKILL',
          maxBuffer: this.maxOutputBytes,
        },
        (err, stdout, stderr) => {
          if (err === null) resolve(stdout);
          else reject(this.failure(shown, err, stderr));
        },
      );
      // nft reads nothing from stdin; closed, so an unexpected prompt cannot wait for input.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end();
    });
  }

  private failure(shown: readonly string[], err: ExecFileException, stderrOutput: string): NftCommandError {
    const argv = this.argv(shown);
    const stderr = stderrOutput.trim();
    const command = `nft ${shown.join(' ')}`;
    const details = { argv, stderr, exitCode: typeof err.code === 'number' ? err.code : undefined };
    let message: string;
    if (err.code === 'ENOENT') {
      message = `Cannot run ${command}: ${argv[0] ?? this.binary} not found (is nftables installed and on PATH?)`;
    } else if (err.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
      message = `${command} wrote more than ${this.maxOutputBytes} bytes`;
    } else if (err.killed === true && err.signal === 'SIGKILL') {
      message = `${command} did not finish within ${this.timeoutMs} ms`;
    } else if (typeof err.code === 'number') {
      const reason = stderr === '' ? '' : `: ${stderr.slice(0, MESSAGE_STDERR_CHARS)}`;
      message = `${command} failed (exit ${err.code})${reason}`;
    } else {
      message = `Cannot run ${command}: ${err.message}`;
    }
    // Node's message and `cmd` repeat the whole command line, a batch included: cut for the logs.
    err.message = err.message.slice(0, MESSAGE_STDERR_CHARS);
    if (err.cmd !== undefined) err.cmd = err.cmd.slice(0, MESSAGE_STDERR_CHARS);
    return new NftCommandError(message, details, { cause: err });
  }
}

/** The objects of `nft -j list ...` output: `{"nftables": [{"metainfo": ...}, {"table": {...}}, ...]}`. */
export function parseNftListing(stdout: string): NftListedObject[] {
  const parsed: unknown = JSON.parse(stdout);
  if (!isJsonObject(parsed) || !Array.isArray(parsed.nftables)) {
    throw new Error('expected an object with an "nftables" array');
  }
  const objects: NftListedObject[] = [];
  for (const item of parsed.nftables as readonly unknown[]) {
    const keys = isJsonObject(item) ? Object.keys(item) : [];
    const kind = keys[0];
    const body = kind === undefined || !isJsonObject(item) ? undefined : item[kind];
    if (keys.length !== 1 || kind === undefined || !isJsonObject(body)) {
      throw new Error(`expected objects of one key each, found ${JSON.stringify(item).slice(0, 200)}`);
    }
    if (kind !== 'metainfo') objects.push({ kind, body });
  }
  return objects;
}

/** Narrows parsed JSON: after JSON.parse every object is a JsonObject. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
