import { parseArgs } from 'node:util';
import { parseDuration } from '../config/duration.js';
import type { NatsSinkConfig, SinkConfig } from '../config/config-schema.js';
import { ConfigError, UsageError } from '../errors.js';
import { DENIAL_KIND, type DenialKind } from '../events.js';
import { natsServers, type NatsConnectSettings } from '../sinks/nats/nats-connection.js';

export const WATCH_USAGE = `Usage: kernwatch watch [--nats URL] [--stream NAME] [--kind K] [--namespace NS] [--node N]
                       [--since DURATION] [--json] [--config FILE]
                       [--creds FILE | --nkey-seed-file FILE | --user NAME --password-file FILE | --token-file FILE]
                       [--tls-ca FILE] [--tls-cert FILE --tls-key FILE]

Follows the denial events the agents publish to NATS JetStream, one line per event:
  TIME  NODE  NAMESPACE/POD/CONTAINER  KIND OUTCOME  DENIED  COMM[PID]  xCOUNT (when > 1)
For an event without a pod, the third column is 'host', 'unresolved' or 'container:NAME'.

  --nats URL        nats://HOST:PORT or tls://HOST:PORT, several separated by commas
                    (default: $KERNWATCH_NATS_URL, else nats://127.0.0.1:4222)
  --stream NAME     the JetStream stream (default: KERNWATCH)
  --kind K          only seccomp, apparmor or selinux denials
  --namespace NS    only this pod namespace; _host for events without a pod
  --node N          only this node
  --since DURATION  start that far back, e.g. 90s, 10m, 2h, 1d (default: only events published from now on)
  --json            each event's JSON exactly as published, one per line
  --config FILE     url, stream and authentication from the first nats sink of the agent's config file;
                    flags given as well override it
  authentication    at most one of --creds FILE, --nkey-seed-file FILE, --user NAME with --password-file FILE,
                    --token-file FILE (secrets are read from files, never taken on the command line)
  TLS               --tls-ca FILE to trust; --tls-cert FILE with --tls-key FILE for a client certificate

Keeps following across NATS restarts, from the event after the last one shown, and says so on stderr.
When NATS cannot be reached yet, or the stream does not exist yet (an agent creates it when it starts),
says so on stderr and keeps trying. A message that is not a kernwatch.v1 event is reported on stderr
and skipped. Exit 0 on SIGINT or SIGTERM, or when stdout is closed; 1 when NATS refuses the login;
2 for usage or config errors.`;

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222' as const;
export const DEFAULT_STREAM = 'KERNWATCH' as const;
/** The environment variable that names the NATS URL when --nats is not given. */
export const NATS_URL_ENV = 'KERNWATCH_NATS_URL' as const;

const KINDS: readonly string[] = Object.values(DENIAL_KIND);

/** The subject filter's parts; each one left out matches every value. */
export interface WatchFilter {
  kind?: DenialKind;
  namespace?: string;
  node?: string;
}

/** The connection flags as given; secrets stay files to be read when connecting. */
export interface WatchConnectionFlags {
  url?: string;
  stream?: string;
  credsFile?: string;
  nkeySeedFile?: string;
  user?: string;
  passwordFile?: string;
  tokenFile?: string;
  tlsCaFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

export interface WatchOptions {
  configPath?: string;
  connection: WatchConnectionFlags;
  filter: WatchFilter;
  json: boolean;
  /** How far back to start, in milliseconds; absent: only events published from now on. */
  sinceMs?: number;
}

export function parseWatchArgs(argv: string[]): WatchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        nats: { type: 'string' },
        stream: { type: 'string' },
        kind: { type: 'string' },
        namespace: { type: 'string' },
        node: { type: 'string' },
        since: { type: 'string' },
        json: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        creds: { type: 'string' },
        'nkey-seed-file': { type: 'string' },
        user: { type: 'string' },
        'password-file': { type: 'string' },
        'token-file': { type: 'string' },
        'tls-ca': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  const v = parsed.values;
  if (v.help === true) throw new UsageError(WATCH_USAGE);

  const filter: WatchFilter = {};
  if (v.kind !== undefined) {
    if (!isKind(v.kind))
      throw new UsageError(`Unknown --kind '${v.kind}' (expected seccomp, apparmor or selinux).`);
    filter.kind = v.kind;
  }
  if (v.namespace !== undefined) filter.namespace = nonEmpty('--namespace', v.namespace);
  if (v.node !== undefined) filter.node = nonEmpty('--node', v.node);

  const connection: WatchConnectionFlags = {};
  if (v.nats !== undefined) {
    try {
      natsServers(v.nats);
    } catch (err) {
      throw new UsageError(`--nats: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    connection.url = v.nats;
  }
  if (v.stream !== undefined) connection.stream = streamName(v.stream);
  const files = {
    credsFile: v.creds,
    nkeySeedFile: v['nkey-seed-file'],
    user: v.user,
    passwordFile: v['password-file'],
    tokenFile: v['token-file'],
    tlsCaFile: v['tls-ca'],
    tlsCertFile: v['tls-cert'],
    tlsKeyFile: v['tls-key'],
  } as const;
  for (const [key, value] of Object.entries(files)) {
    if (value !== undefined) connection[key as keyof typeof files] = nonEmpty(flagOf(key), value);
  }
  const schemes = [
    connection.credsFile === undefined ? undefined : '--creds',
    connection.nkeySeedFile === undefined ? undefined : '--nkey-seed-file',
    connection.user === undefined && connection.passwordFile === undefined
      ? undefined
      : '--user/--password-file',
    connection.tokenFile === undefined ? undefined : '--token-file',
  ].filter((s) => s !== undefined);
  if (schemes.length > 1)
    throw new UsageError(`Choose one way to authenticate, not ${schemes.join(' and ')}.`);
  if ((connection.user === undefined) !== (connection.passwordFile === undefined))
    throw new UsageError('--user and --password-file go together.');
  if ((connection.tlsCertFile === undefined) !== (connection.tlsKeyFile === undefined))
    throw new UsageError('--tls-cert and --tls-key go together.');

  const options: WatchOptions = { connection, filter, json: v.json === true };
  if (v.since !== undefined) options.sinceMs = sinceMs(v.since);
  if (v.config !== undefined) options.configPath = nonEmpty('--config', v.config);
  return options;
}

function isKind(value: string): value is DenialKind {
  return KINDS.includes(value);
}

function nonEmpty(flag: string, value: string): string {
  if (value.trim() === '') throw new UsageError(`${flag} needs a value.`);
  return value;
}

/** The flag a connection key came from, for messages. */
function flagOf(key: string): string {
  const flags: Record<string, string> = {
    credsFile: '--creds',
    nkeySeedFile: '--nkey-seed-file',
    user: '--user',
    passwordFile: '--password-file',
    tokenFile: '--token-file',
    tlsCaFile: '--tls-ca',
    tlsCertFile: '--tls-cert',
    tlsKeyFile: '--tls-key',
  };
  return flags[key] ?? key;
}

/** JetStream stream names are one subject-safe token without path separators (the server stores by name). */
function streamName(value: string): string {
  nonEmpty('--stream', value);
  for (const c of value) {
    if (c === '.' || c === '*' || c === '>' || c === '/' || c === '\\' || c.trim() === '' || c < ' ')
      throw new UsageError(
        `--stream '${value}' is not a stream name (no '.', '*', '>', '/', '\\' or spaces).`,
      );
  }
  return value;
}

/** A duration with its unit: a bare number (milliseconds in the config) would be a surprise here. */
function sinceMs(value: string): number {
  const ms = parseDuration(value);
  const last = value.trim().at(-1) ?? '';
  if (ms === undefined || ms <= 0 || (last >= '0' && last <= '9'))
    throw new UsageError(`--since '${value}' is not a duration such as 90s, 10m, 2h or 1d.`);
  return ms;
}

/** The nats sink of the agent's config, as far as watch needs it: where it is and how to log in. */
export type ConfigNatsSink = NatsConnectSettings & { stream: string };

export interface WatchConnection {
  settings: NatsConnectSettings;
  stream: string;
}

/**
 * Where to connect and how: a flag wins over the config file, which wins over KERNWATCH_NATS_URL and the
 * default. Authentication and TLS are each taken whole from one place, flags or file: mixing a token
 * from one with a user from the other would only produce an "ambiguous authentication" error later.
 */
export function resolveWatchConnection(
  flags: WatchConnectionFlags,
  sink: ConfigNatsSink | undefined,
  env: NodeJS.ProcessEnv,
): WatchConnection {
  const envUrl = env[NATS_URL_ENV];
  const url = flags.url ?? sink?.url ?? (envUrl !== undefined && envUrl !== '' ? envUrl : DEFAULT_NATS_URL);
  try {
    natsServers(url);
  } catch (err) {
    const origin = flags.url !== undefined ? '--nats' : sink !== undefined ? 'the config file' : NATS_URL_ENV;
    throw new ConfigError(`${origin}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const settings: NatsConnectSettings = { url };
  const authFlags =
    flags.credsFile !== undefined ||
    flags.nkeySeedFile !== undefined ||
    flags.user !== undefined ||
    flags.passwordFile !== undefined ||
    flags.tokenFile !== undefined;
  if (authFlags) {
    settings.credsFile = flags.credsFile;
    settings.nkeySeedFile = flags.nkeySeedFile;
    settings.user = flags.user;
    settings.passwordFile = flags.passwordFile;
    settings.tokenFile = flags.tokenFile;
  } else if (sink !== undefined) {
    settings.credsFile = sink.credsFile;
    settings.nkeySeedFile = sink.nkeySeedFile;
    settings.user = sink.user;
    settings.userFile = sink.userFile;
    settings.passwordFile = sink.passwordFile;
    settings.passwordEnv = sink.passwordEnv;
    settings.tokenFile = sink.tokenFile;
    settings.tokenEnv = sink.tokenEnv;
  }
  const tlsFlags =
    flags.tlsCaFile !== undefined || flags.tlsCertFile !== undefined || flags.tlsKeyFile !== undefined;
  if (tlsFlags) {
    settings.tls = { caFile: flags.tlsCaFile, certFile: flags.tlsCertFile, keyFile: flags.tlsKeyFile };
  } else if (sink?.tls !== undefined) {
    settings.tls = sink.tls;
  }
  return { settings, stream: flags.stream ?? sink?.stream ?? DEFAULT_STREAM };
}

/** The first nats sink of a loaded config. */
export function natsSinkOf(sinks: readonly SinkConfig[]): ConfigNatsSink | undefined {
  const sink = sinks.find((s): s is NatsSinkConfig => s.type === 'nats');
  if (sink === undefined) return undefined;
  const {
    url,
    stream,
    credsFile,
    nkeySeedFile,
    user,
    userFile,
    passwordFile,
    passwordEnv,
    tokenFile,
    tokenEnv,
    tls,
  } = sink;
  return {
    url,
    stream,
    credsFile,
    nkeySeedFile,
    user,
    userFile,
    passwordFile,
    passwordEnv,
    tokenFile,
    tokenEnv,
    tls,
  };
}
