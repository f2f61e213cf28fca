import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  loadConfig,
  parseConfigText,
  sinkFromSpec,
  sourceFromSpec,
  validateConfig,
} from '../../../agent/config/config-loader.js';
import { parseByteSize } from '../../../agent/config/byte-size.js';
import { configSchema } from '../../../agent/config/config-schema.js';
import { parseDuration } from '../../../agent/config/duration.js';
import { ConfigError } from '../../../agent/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'kw-config-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function configError(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('the configuration file', () => {
  test('the example of DESIGN.md is valid as written, with its durations in milliseconds', async () => {
    const path = join(import.meta.dirname, '../../fixtures/config/design-example.yaml');
    const config = await loadConfig(path, {}, { NODE_NAME: 'node-a' });
    expect(config.node).toBe('node-a');
    expect(config.sources).toEqual([
      { type: 'auditd', path: '/var/log/audit/audit.log' },
      { type: 'kmsg', path: '/dev/kmsg' },
    ]);
    expect(config.sinks[1]).toEqual({
      type: 'nats',
      url: 'nats://nats.kernwatch:4222',
      stream: 'KERNWATCH',
      credsFile: '/etc/kernwatch/nats.creds',
      maxInFlight: 1024,
      ackTimeout: 5000,
      duplicateWindow: 120_000,
      maxAge: 7 * 86_400_000,
      spool: { maxBytes: 256 * 1024 * 1024, segmentBytes: 8 * 1024 * 1024 },
    });
    expect(config.noise).toEqual({ coalesceWindow: 2000, perContainerPerSecond: 50 });
    expect(config.responses.cooldown).toBe(600_000);
    expect(config.responses.rules[0]?.threshold).toEqual({ count: 1, within: 60_000 });
    expect(config.responses.rules[0]?.actions).toEqual([
      { type: 'nft_quarantine', ttl: 3_600_000 },
      {
        type: 'delete_pod',
        gracePeriodSeconds: 0,
        allowDaemonSet: false,
        allowStandalone: false,
        allowUnknownOwner: false,
        minHealthyReplicas: 1,
      },
    ]);
    expect(config.metrics.addr).toBe('0.0.0.0:9464');
  });

  test('no file at all gives the embedded defaults: auto-detected source, stdout sink, no responses', async () => {
    const config = await loadConfig(undefined, {});
    expect(config.sources).toEqual([]);
    expect(config.sinks).toEqual([{ type: 'stdout' }]);
    expect(config.responses.enabled).toBe(false);
    expect(config.stateDir).toBe('/var/lib/kernwatch');
    expect(config.procRoot).toBe('/proc');
  });

  test('an unknown key is an error naming its path', () => {
    const message = configError(() =>
      validateConfig({ kubernetes: { enabled: true, enabeld: false } }, 'f.yaml'),
    );
    expect(message).toContain("unknown key 'enabeld' (at kubernetes)");
  });

  test('a wrong value is an error naming the key path and what was expected', () => {
    const message = configError(() => validateConfig({ sources: [{ type: 'auditd', path: 3 }] }, 'f.yaml'));
    expect(message).toContain('(at sources.0.path)');
    expect(message).toContain('expected string');
  });

  test('a duration that cannot be read names the key', () => {
    const message = configError(() => validateConfig({ noise: { coalesceWindow: 'soon' } }, 'f.yaml'));
    expect(message).toContain("not a duration: 'soon'");
    expect(message).toContain('(at noise.coalesceWindow)');
  });

  test('an unknown source type is refused', () => {
    const message = configError(() => validateConfig({ sources: [{ type: 'ebpf' }] }, 'f.yaml'));
    expect(message).toContain('(at sources.0.type)');
  });

  test('YAML that does not parse is a config error, not a crash', async () => {
    const path = write('broken.yaml', 'sources: [\n');
    await expect(loadConfig(path, {})).rejects.toThrow(/is not valid YAML/);
  });

  test('a file that is not a mapping is refused', () => {
    expect(() => parseConfigText('- a\n- b\n', 'list.yaml', {})).toThrow(/mapping of settings/);
  });

  test('an empty file means all defaults', () => {
    expect(parseConfigText('', 'empty.yaml', {})).toEqual({});
  });

  test('environment variables are expanded, with defaults for unset ones', () => {
    const doc = parseConfigText(
      'node: ${NODE_NAME}\nstateDir: ${STATE:-/var/lib/kw}\nprocRoot: /host${UNSET}/proc\n',
      'env.yaml',
      { NODE_NAME: 'n1' },
    );
    expect(doc).toEqual({ node: 'n1', stateDir: '/var/lib/kw', procRoot: '/host/proc' });
  });

  test('flags override the file, and a flag source list replaces the file list', async () => {
    const path = write(
      'override.yaml',
      'node: from-file\nsources:\n  - { type: kmsg }\ncri: { socket: /run/a.sock }\nkubernetes: { podRetention: 1m }\n',
    );
    const config = await loadConfig(path, {
      node: 'from-flag',
      sources: [sourceFromSpec('auditd:/tmp/audit.log')],
      criSocket: '/run/b.sock',
      kubeconfig: '/root/.kube/config',
      fromStart: true,
    });
    expect(config.node).toBe('from-flag');
    expect(config.sources).toEqual([{ type: 'auditd', path: '/tmp/audit.log' }]);
    expect(config.cri.socket).toBe('/run/b.sock');
    expect(config.kubernetes).toEqual({
      enabled: true,
      podRetention: 60_000,
      kubeconfig: '/root/.kube/config',
      events: { enabled: true, callsPerSecond: 5, burst: 25, seriesHeartbeat: 30_000 },
    });
    expect(config.fromStart).toBe(true);
    expect(readFileSync(path, 'utf8')).toContain('from-file');
  });
});

describe('source and sink specs on the command line', () => {
  test.each([
    ['auditd:/var/log/audit/audit.log', { type: 'auditd', path: '/var/log/audit/audit.log' }],
    ['auditd', { type: 'auditd' }],
    ['kmsg', { type: 'kmsg' }],
    ['journald', { type: 'journald' }],
    ['journald:/host/var/log/journal', { type: 'journald', directory: '/host/var/log/journal' }],
    ['syslog:/var/log/kern.log', { type: 'syslog', path: '/var/log/kern.log' }],
  ])('source %s', (spec, expected) => {
    expect(sourceFromSpec(spec)).toEqual(expected);
  });

  test.each([
    ['stdout', { type: 'stdout' }],
    ['file:/tmp/events.ndjson', { type: 'file', path: '/tmp/events.ndjson' }],
    ['nats://127.0.0.1:4222', { type: 'nats', url: 'nats://127.0.0.1:4222' }],
    ['falco+http://127.0.0.1:2801/', { type: 'falco-http', url: 'http://127.0.0.1:2801/' }],
  ])('sink %s', (spec, expected) => {
    expect(sinkFromSpec(spec)).toEqual(expected);
  });

  test.each(['syslog', 'ebpf', 'file:', 'kafka://x'])('%s is refused with the accepted forms', (spec) => {
    expect(() =>
      spec.includes(':') && !spec.startsWith('syslog') ? sinkFromSpec(spec) : sourceFromSpec(spec),
    ).toThrow(ConfigError);
  });
});

describe('durations', () => {
  test.each([
    ['250ms', 250],
    ['2s', 2000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1.5s', 1500],
    ['40', 40],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  test.each(['', 's', '5 days', '1w', '-1s'])('%s is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('sizes', () => {
  test.each([
    ['512KiB', 524_288],
    ['256MiB', 268_435_456],
    ['1GiB', 1_073_741_824],
    ['64M', 67_108_864],
    ['10MB', 10_000_000],
    ['4096', 4096],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });
  test.each(['', 'MiB', '5 parsecs', '-1MiB'])('%s is not a size', (text) => {
    expect(parseByteSize(text)).toBeUndefined();
  });

  test('two NATS authentication schemes at once are refused', () => {
    expect(() =>
      configSchema.parse({
        sinks: [{ type: 'nats', url: 'nats://n:4222', tokenFile: '/t', credsFile: '/c' }],
      }),
    ).toThrow(/choose one NATS authentication/);
  });
});
