import { readFile } from 'node:fs/promises';
import {
  credsAuthenticator,
  nkeyAuthenticator,
  type ConnectionOptions,
  type TlsOptions,
} from '@nats-io/transport-node';
import { ConfigError } from '../../errors.js';

/**
 * How to reach and authenticate to NATS. Secrets are read from files or named environment variables
 * only, so they never sit in the config file, on a command line (visible in /proc to every user of the
 * node) or in a log line.
 */
export interface NatsConnectSettings {
  url: string;
  credsFile?: string | undefined;
  nkeySeedFile?: string | undefined;
  user?: string | undefined;
  userFile?: string | undefined;
  passwordFile?: string | undefined;
  passwordEnv?: string | undefined;
  tokenFile?: string | undefined;
  tokenEnv?: string | undefined;
  tls?:
    { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined } | undefined;
}

/** Reconnect delays: quick at first (a NATS pod restart takes seconds), capped so a long outage costs little. */
const RECONNECT_INITIAL_MS = 250;
const RECONNECT_MAX_MS = 10_000;

/**
 * The delay between reconnect attempts, growing with the length of the outage rather than per call: the
 * client asks for a delay on every pass of its reconnect loop, including passes that only wait, so a
 * per-call doubling reached the cap within a second and a short outage took ten. Jittered (half to all of
 * the step) so that the nodes of a cluster do not reconnect in the same instant after a NATS restart.
 */
export class ReconnectDelay {
  private since: number | undefined;

  constructor(
    private readonly initialMs = RECONNECT_INITIAL_MS,
    private readonly maxMs = RECONNECT_MAX_MS,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Call on the client's `disconnect` status. */
  disconnected(): void {
    this.since ??= this.now();
  }

  /** Call on the client's `reconnect` status: the next outage starts quick again. */
  connected(): void {
    this.since = undefined;
  }

  next(): number {
    const outage = this.since === undefined ? 0 : this.now() - this.since;
    const step = Math.min(this.maxMs, Math.max(this.initialMs, outage / 4));
    return Math.round(step / 2 + (this.random() * step) / 2);
  }
}

/**
 * The client options for a connection that never gives up once made. The caller retries the first
 * connect itself and reports the connection's status to `reconnect`.
 */
export async function natsConnectionOptions(
  s: NatsConnectSettings,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ options: ConnectionOptions; reconnect: ReconnectDelay }> {
  const reconnect = new ReconnectDelay();
  const options: ConnectionOptions = {
    servers: natsServers(s.url),
    name,
    maxReconnectAttempts: -1,
    // Credentials may be rotated while the agent runs; a refused login is retried, not fatal.
    ignoreAuthErrorAbort: true,
    reconnectDelayHandler: () => reconnect.next(),
    // A dead server is noticed by the TCP connection closing; on a silent network partition the pings
    // are what notice it, so they are much more frequent than the client's 2-minute default.
    pingInterval: 10_000,
    maxPingOut: 3,
    timeout: 5_000,
    // The servers are the ones the operator configured (often a Service name); gossiped pod addresses
    // may not be reachable from the node, and the agent must not wander to them.
    ignoreClusterUpdates: true,
  };
  const auth: string[] = [];
  if (s.credsFile !== undefined) {
    options.authenticator = credsAuthenticator(await secretFile(s.credsFile, 'credsFile'));
    auth.push('credsFile');
  }
  if (s.nkeySeedFile !== undefined) {
    options.authenticator = nkeyAuthenticator(trimBytes(await secretFile(s.nkeySeedFile, 'nkeySeedFile')));
    auth.push('nkeySeedFile');
  }
  const user = s.user ?? (s.userFile === undefined ? undefined : await secretText(s.userFile, 'userFile'));
  const password = await fileOrEnvSecret(s.passwordFile, 'passwordFile', s.passwordEnv, 'passwordEnv', env);
  if (user !== undefined || password !== undefined) {
    if (user === undefined || password === undefined)
      throw new ConfigError('NATS user/password authentication needs both a user and a password.');
    options.user = user;
    options.pass = password;
    auth.push('user/password');
  }
  const token = await fileOrEnvSecret(s.tokenFile, 'tokenFile', s.tokenEnv, 'tokenEnv', env);
  if (token !== undefined) {
    options.token = token;
    auth.push('token');
  }
  if (auth.length > 1)
    throw new ConfigError(`NATS authentication is ambiguous: choose one of ${auth.join(', ')}.`);
  if (s.tls !== undefined || s.url.startsWith('tls://')) {
    const tls: TlsOptions = {};
    if (s.tls?.caFile !== undefined) tls.caFile = s.tls.caFile;
    if (s.tls?.certFile !== undefined) tls.certFile = s.tls.certFile;
    if (s.tls?.keyFile !== undefined) tls.keyFile = s.tls.keyFile;
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined))
      throw new ConfigError('A NATS client certificate needs both tls.certFile and tls.keyFile.');
    options.tls = tls;
  }
  return { options, reconnect };
}

/**
 * `nats://h:p`, `tls://h:p`, or several separated by commas. The scheme decides TLS, so it is kept; a
 * URL with credentials in it is refused: they would end up in logs and in `ps`.
 */
export function natsServers(url: string): string[] {
  const servers = url
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (servers.length === 0) throw new ConfigError('The NATS URL is empty.');
  for (const server of servers) {
    let parsed: URL;
    try {
      parsed = new URL(server);
    } catch (err) {
      throw new ConfigError(`Not a NATS URL: '${server}' (expected nats://HOST:PORT or tls://HOST:PORT).`, {
        cause: err,
      });
    }
    if (parsed.protocol !== 'nats:' && parsed.protocol !== 'tls:')
      throw new ConfigError(`Not a NATS URL: '${server}' (expected nats://HOST:PORT or tls://HOST:PORT).`);
    if (parsed.username !== '' || parsed.password !== '')
      throw new ConfigError(
        'Credentials in the NATS URL are refused; give them in a file (credsFile, userFile/passwordFile, tokenFile).',
      );
  }
  return servers;
}

async function secretFile(path: string, key: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ConfigError(
      `Cannot read the NATS ${key} ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
      { cause: err },
    );
  }
}

/** A secret file's text without the trailing newline an editor or `echo` leaves. */
async function secretText(path: string, key: string): Promise<string> {
  const text = Buffer.from(await secretFile(path, key))
    .toString('utf8')
    .trim();
  if (text === '') throw new ConfigError(`The NATS ${key} ${path} is empty.`);
  return text;
}

/** A secret from its file when one is given, else from the named environment variable, else none. */
async function fileOrEnvSecret(
  file: string | undefined,
  fileKey: string,
  envName: string | undefined,
  envKey: string,
  env: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  if (file !== undefined) return secretText(file, fileKey);
  return envName === undefined ? undefined : secretEnv(env, envName, envKey);
}

function secretEnv(env: NodeJS.ProcessEnv, name: string, key: string): string {
  const value = env[name];
  if (value === undefined || value === '')
    throw new ConfigError(`The NATS ${key} names the environment variable ${name}, which is not set.`);
  return value;
}

function trimBytes(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d || bytes[end - 1] === 0x20)) end--;
  let start = 0;
  while (start < end && (bytes[start] === 0x0a || bytes[start] === 0x0d || bytes[start] === 0x20)) start++;
  return bytes.subarray(start, end);
}
