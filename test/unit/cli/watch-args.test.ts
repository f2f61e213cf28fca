import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  natsSinkOf,
  parseWatchArgs,
  resolveWatchConnection,
  WATCH_USAGE,
} from '../../../agent/cli/watch-args.js';
import { loadConfig } from '../../../agent/config/config-loader.js';
import { ConfigError, UsageError } from '../../../agent/errors.js';

/** `kernwatch watch` arguments: what each flag sets, and every refusal (a UsageError: exit 2 with usage). */

function usageError(argv: string[]): string {
  try {
    parseWatchArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as UsageError).message;
  }
  throw new Error(`parseWatchArgs accepted ${argv.join(' ')}`);
}

describe('parseWatchArgs', () => {
  it('needs nothing: no filter, human lines, only new events', () => {
    expect(parseWatchArgs([])).toEqual({ connection: {}, filter: {}, json: false });
  });

  it('takes every flag', () => {
    expect(
      parseWatchArgs([
        '--nats',
        'tls://nats-0.nats:4222,tls://nats-1.nats:4222',
        '--stream',
        'SECURITY',
        '--kind',
        'apparmor',
        '--namespace',
        '_host',
        '--node',
        'node-a',
        '--since',
        '10m',
        '--json',
        '--config',
        '/etc/kernwatch/config.yaml',
        '--user',
        'watcher',
        '--password-file',
        '/run/secrets/password',
        '--tls-ca',
        '/etc/ca.pem',
        '--tls-cert',
        '/etc/client.pem',
        '--tls-key',
        '/etc/client.key',
      ]),
    ).toEqual({
      configPath: '/etc/kernwatch/config.yaml',
      connection: {
        url: 'tls://nats-0.nats:4222,tls://nats-1.nats:4222',
        stream: 'SECURITY',
        user: 'watcher',
        passwordFile: '/run/secrets/password',
        tlsCaFile: '/etc/ca.pem',
        tlsCertFile: '/etc/client.pem',
        tlsKeyFile: '/etc/client.key',
      },
      filter: { kind: 'apparmor', namespace: '_host', node: 'node-a' },
      json: true,
      sinceMs: 600_000,
    });
  });

  it.each([
    ['90s', 90_000],
    ['2h', 7_200_000],
    ['1500ms', 1_500],
    ['1d', 86_400_000],
  ])('reads --since %s as %i ms', (since, ms) => {
    expect(parseWatchArgs(['--since', since]).sinceMs).toBe(ms);
  });

  it('answers --help with the usage text', () => {
    expect(usageError(['--help'])).toBe(WATCH_USAGE);
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['foo'], "Unexpected argument 'foo'. This command does not take positional arguments"],
    [['--kind'], "Option '--kind <value>' argument missing"],
    [['--kind', 'landlock'], "Unknown --kind 'landlock' (expected seccomp, apparmor or selinux)."],
    [['--namespace', ''], '--namespace needs a value.'],
    [['--node', ' '], '--node needs a value.'],
    [['--since', '10'], "--since '10' is not a duration such as 90s, 10m, 2h or 1d."],
    [['--since', 'yesterday'], "--since 'yesterday' is not a duration such as 90s, 10m, 2h or 1d."],
    [['--since', '0s'], "--since '0s' is not a duration such as 90s, 10m, 2h or 1d."],
    [
      ['--stream', 'KERN.WATCH'],
      "--stream 'KERN.WATCH' is not a stream name (no '.', '*', '>', '/', '\\' or spaces).",
    ],
    [
      ['--nats', 'http://127.0.0.1:4222'],
      "--nats: Not a NATS URL: 'http://127.0.0.1:4222' (expected nats://HOST:PORT or tls://HOST:PORT).",
    ],
    [
      ['--nats', 'nats://kernwatch:s3cret@127.0.0.1:4222'],
      '--nats: Credentials in the NATS URL are refused; give them in a file (credsFile, userFile/passwordFile, tokenFile).',
    ],
    [
      ['--token-file', '/t', '--creds', '/c'],
      'Choose one way to authenticate, not --creds and --token-file.',
    ],
    [['--user', 'watcher'], '--user and --password-file go together.'],
    [['--password-file', '/p'], '--user and --password-file go together.'],
    [['--tls-cert', '/c.pem'], '--tls-cert and --tls-key go together.'],
    [['--token-file', ''], '--token-file needs a value.'],
  ])('refuses %j: %s', (argv, message) => {
    expect(usageError(argv)).toBe(message);
  });
});

describe('resolveWatchConnection', () => {
  const sink = {
    url: 'nats://nats.kernwatch:4222',
    stream: 'FROM_CONFIG',
    tokenFile: '/etc/kernwatch/nats.token',
    tls: { caFile: '/etc/kernwatch/ca.pem', certFile: undefined, keyFile: undefined },
  };

  it('defaults to the local server and the KERNWATCH stream', () => {
    expect(resolveWatchConnection({}, undefined, {})).toEqual({
      settings: { url: 'nats://127.0.0.1:4222' },
      stream: 'KERNWATCH',
    });
  });

  it('takes the URL from KERNWATCH_NATS_URL when --nats is not given', () => {
    expect(resolveWatchConnection({}, undefined, { KERNWATCH_NATS_URL: 'nats://10.0.0.5:4222' })).toEqual({
      settings: { url: 'nats://10.0.0.5:4222' },
      stream: 'KERNWATCH',
    });
  });

  it('prefers --nats to the environment', () => {
    const env = { KERNWATCH_NATS_URL: 'nats://10.0.0.5:4222' };
    expect(resolveWatchConnection({ url: 'nats://10.0.0.6:4222' }, undefined, env).settings.url).toBe(
      'nats://10.0.0.6:4222',
    );
  });

  it("takes url, stream, authentication and TLS from the config's nats sink", () => {
    expect(resolveWatchConnection({}, sink, { KERNWATCH_NATS_URL: 'nats://10.0.0.5:4222' })).toEqual({
      settings: {
        url: 'nats://nats.kernwatch:4222',
        credsFile: undefined,
        nkeySeedFile: undefined,
        user: undefined,
        userFile: undefined,
        passwordFile: undefined,
        passwordEnv: undefined,
        tokenFile: '/etc/kernwatch/nats.token',
        tokenEnv: undefined,
        tls: { caFile: '/etc/kernwatch/ca.pem', certFile: undefined, keyFile: undefined },
      },
      stream: 'FROM_CONFIG',
    });
  });

  it('lets flags override the config, taking authentication and TLS whole from the flags', () => {
    const resolved = resolveWatchConnection(
      {
        url: 'nats://127.0.0.1:4333',
        stream: 'OTHER',
        user: 'watcher',
        passwordFile: '/p',
        tlsCertFile: '/c.pem',
        tlsKeyFile: '/c.key',
      },
      sink,
      {},
    );
    expect(resolved).toEqual({
      settings: {
        url: 'nats://127.0.0.1:4333',
        credsFile: undefined,
        nkeySeedFile: undefined,
        user: 'watcher',
        passwordFile: '/p',
        tokenFile: undefined,
        tls: { caFile: undefined, certFile: '/c.pem', keyFile: '/c.key' },
      },
      stream: 'OTHER',
    });
  });

  it('refuses a KERNWATCH_NATS_URL that is not a NATS URL with a ConfigError that names it', () => {
    expect(() => resolveWatchConnection({}, undefined, { KERNWATCH_NATS_URL: 'localhost:4222' })).toThrow(
      new ConfigError(
        "KERNWATCH_NATS_URL: Not a NATS URL: 'localhost:4222' (expected nats://HOST:PORT or tls://HOST:PORT).",
      ),
    );
  });
});

describe('natsSinkOf', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kernwatch-watch-args-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("finds the first nats sink of an agent's config file as loadConfig returns it", async () => {
    const path = join(dir, 'config.yaml');
    writeFileSync(
      path,
      [
        'sinks:',
        '  - { type: stdout }',
        '  - type: nats',
        '    url: nats://nats.kernwatch:4222',
        '    credsFile: /etc/kernwatch/nats.creds',
        '    tls: { caFile: /etc/kernwatch/ca.pem }',
        '  - { type: nats, url: nats://second:4222, stream: SECOND }',
        '',
      ].join('\n'),
    );
    const config = await loadConfig(path, {}, {});
    expect(natsSinkOf(config.sinks)).toEqual({
      url: 'nats://nats.kernwatch:4222',
      stream: 'KERNWATCH',
      credsFile: '/etc/kernwatch/nats.creds',
      tls: { caFile: '/etc/kernwatch/ca.pem', certFile: undefined, keyFile: undefined },
    });
  });

  it('reads user and passwordEnv where the config schema has them', async () => {
    const path = join(dir, 'user-config.yaml');
    writeFileSync(
      path,
      'sinks:\n  - { type: nats, url: "nats://nats:4222", user: watcher, passwordEnv: NATS_PASSWORD }\n',
    );
    const config = await loadConfig(path, {}, {});
    expect(natsSinkOf(config.sinks)).toEqual({
      url: 'nats://nats:4222',
      stream: 'KERNWATCH',
      user: 'watcher',
      passwordEnv: 'NATS_PASSWORD',
    });
  });

  it('finds none in a config without one', () => {
    expect(natsSinkOf([{ type: 'stdout' }, { type: 'file', path: '/var/log/kernwatch.ndjson' }])).toBe(
      undefined,
    );
  });
});
