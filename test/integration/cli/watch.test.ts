import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  jetstream,
  jetstreamManager,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { connect, headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { watchLine } from '../../../agent/cli/watch-line.js';
import { WATCH_USAGE } from '../../../agent/cli/watch-args.js';
import { ATTRIBUTION, EVENT_SOURCE, type Attribution, type KernwatchEvent } from '../../../agent/events.js';
import { eventToJson } from '../../../agent/sinks/event-json.js';
import { denialSubject } from '../../../agent/sinks/nats/nats-subjects.js';
import { CLI, needsBuiltCli, startAgent, type AgentProcess } from '../../helpers/agent-process.js';
import { constructedLines, corpusLine } from '../../helpers/corpus-lines.js';
import { findRepoRoot } from '../../bench/audit-log-generator.js';
import { freePort, hasNatsServer, NatsServer } from '../../helpers/nats-server.js';
import { onlyEvent } from '../../helpers/parse-text.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';
import { hasOpenssl, makeTestCertificates } from '../../helpers/test-certificates.js';
import { waitFor, waitUntil } from '../../helpers/wait.js';

/**
 * `kernwatch watch` as users run it (the built CLI in a child process) against Debian's nats-server 2.9
 * on loopback, with events parsed from real corpus lines published the way the agent publishes them:
 * the event JSON on its denial subject with Nats-Msg-Id = event id.
 */

const STREAM = 'KERNWATCH';
const KMSG = 'kmsg/kernel618-seccomp-all-actions.kmsg';
const CONTAINER_ID = '3b6fd1b8f8b0a2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c';

/** An event as an agent on `node` publishes it after attribution. */
function published(
  text: string,
  node: string,
  attribution: Attribution,
  namespace?: string,
  count = 1,
): KernwatchEvent {
  const e = onlyEvent(text);
  const out: KernwatchEvent = {
    ...e,
    id: `${node}:${e.id.slice('test-node:'.length)}`,
    node,
    source: EVENT_SOURCE.auditd,
    attribution,
    count,
  };
  if (namespace !== undefined) {
    out.pod = { name: `${namespace}-web-7f9c8d5b6-x2k4j`, namespace, uid: `uid-${namespace}` };
    out.container = { id: CONTAINER_ID, name: 'nginx' };
  } else if (attribution === ATTRIBUTION.container) {
    out.container = { id: CONTAINER_ID };
  }
  return out;
}

// node, kind, namespace of each: chosen so that every filter below selects a different set.
const seccompProdA = published(corpusLine(KMSG, 9), 'node-a', ATTRIBUTION.pod, 'prod', 3);
const seccompHostB = published(corpusLine(KMSG, 11), 'node-b', ATTRIBUTION.host);
const apparmorProdA = published(
  corpusLine('dmesg/gh-containerd-containerd-2679.log', 1),
  'node-a',
  ATTRIBUTION.pod,
  'prod',
);
const selinuxStagingB = published(
  constructedLines('selinux-avc-full-event.log').join('\n'),
  'node-b',
  ATTRIBUTION.pod,
  'staging',
);
const seccompUnresolvedA = published(corpusLine(KMSG, 2), 'node-a', ATTRIBUTION.unresolved);
const apparmorContainerB = published(
  corpusLine('dmesg/gh-containerd-containerd-2679.log', 1),
  'node-b',
  ATTRIBUTION.container,
);
const seccompProdB = published(corpusLine(KMSG, 5), 'node-b', ATTRIBUTION.pod, 'prod');
const ALL = [
  seccompProdA,
  seccompHostB,
  apparmorProdA,
  selinuxStagingB,
  seccompUnresolvedA,
  apparmorContainerB,
  seccompProdB,
];

function subjectOf(e: KernwatchEvent): string {
  return denialSubject(e.node, e.kind, e.pod?.namespace);
}

async function publish(js: JetStreamClient, e: KernwatchEvent): Promise<void> {
  const h = headers();
  h.set('Nats-Msg-Id', e.id);
  await js.publish(subjectOf(e), eventToJson(e), { headers: h });
}

/** After a server restart the publisher reconnects on its own time; JetStream answers once it is back. */
async function publishWhenBack(js: JetStreamClient, e: KernwatchEvent): Promise<void> {
  await waitFor('JetStream to take a publish again', async () => {
    try {
      await publish(js, e);
      return true;
    } catch {
      return undefined;
    }
  });
}

async function createStream(jsm: JetStreamManager, name = STREAM): Promise<void> {
  await jsm.streams.delete(name).catch(() => false);
  await jsm.streams.add({
    name,
    subjects: ['kernwatch.>'],
    storage: StorageType.File,
    duplicate_window: nanos(120_000),
  });
}

function lines(p: AgentProcess): string[] {
  const out = p.stdout();
  return out
    .slice(0, out.lastIndexOf('\n') + 1)
    .split('\n')
    .slice(0, -1);
}

const shown = (events: readonly KernwatchEvent[]): string[] => events.map((e) => watchLine(e).slice(0, -1));

/** Waits until `p` printed `n` lines (fails early if it exited). */
function printed(p: AgentProcess, n: number): Promise<string[]> {
  return waitFor(
    () => `${String(n)} lines from watch (stdout: ${p.stdout()}; stderr: ${p.stderr()})`,
    () => {
      if (p.child.exitCode !== null) throw new Error(`watch exited early: ${p.stderr()}`);
      const l = lines(p);
      return l.length >= n ? l : undefined;
    },
  );
}

function said(p: AgentProcess, text: string, timeoutMs?: number): Promise<void> {
  return waitUntil(
    () => `watch to say '${text}' (stderr: ${p.stderr()})`,
    () => {
      if (p.child.exitCode !== null) throw new Error(`watch exited early: ${p.stderr()}`);
      return p.stderr().includes(text);
    },
    timeoutMs,
  );
}

/** The built CLI must be newer than the watch sources, or these tests would pass or fail on old code. */
function builtFromCurrentSources(): string | undefined {
  const missing = needsBuiltCli();
  if (missing !== undefined) return missing;
  const built = statSync(join(findRepoRoot(), 'dist/agent/cli/watch.js'), { throwIfNoEntry: false });
  const cliDir = join(findRepoRoot(), 'agent/cli');
  const newest = Math.max(...readdirSync(cliDir).map((f) => statSync(join(cliDir, f)).mtimeMs));
  return built !== undefined && built.mtimeMs >= newest
    ? undefined
    : 'dist/agent/cli/watch.js is missing or older than agent/cli (npm run build)';
}

const watchers: AgentProcess[] = [];
function watch(args: readonly string[]): AgentProcess {
  const p = startAgent(['watch', ...args], { ...process.env, KERNWATCH_NATS_URL: '' });
  watchers.push(p);
  return p;
}

afterEach(async () => {
  await Promise.all(watchers.splice(0).map((p) => p.stop('SIGKILL')));
});

const skip = missingPrerequisite([hasNatsServer, builtFromCurrentSources]);

describe.skipIf(skip)('kernwatch watch against nats-server 2.9', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
  });

  afterAll(async () => {
    await nc.close();
    await server.remove();
  });

  beforeEach(async () => {
    await createStream(jsm);
  });

  const following = (p: AgentProcess, from = 'new events only') =>
    said(p, `: kernwatch.v1.denial.`).then(() => {
      expect(p.stderr()).toContain(`, ${from}`);
    });

  test('prints one line per event published after it started, none from before, and exits 0 on SIGINT', async () => {
    await publish(js, seccompHostB);
    const p = watch(['--nats', server.url]);
    await following(p);
    for (const e of [seccompProdA, apparmorProdA, selinuxStagingB]) await publish(js, e);
    expect(await printed(p, 3)).toEqual(shown([seccompProdA, apparmorProdA, selinuxStagingB]));
    expect(lines(p)[0]).toBe(
      '2026-11-28T11:38:47.092Z  node-a        prod/prod-web-7f9c8d5b6-x2k4j/nginx       seccomp  killed   ' +
        'getppid (x86_64) KILL_PROCESS         w kill-process[8591]  x3',
    );
    expect(p.stderr()).toBe(
      `kernwatch watch: following KERNWATCH on ${server.url}: kernwatch.v1.denial.*.*.*, new events only.\n`,
    );
    expect(await p.stop('SIGINT')).toBe(0);
  });

  test('--kind, --namespace and --node select exactly the events on their subjects', async () => {
    const filters = [
      ['--kind', 'seccomp'],
      ['--namespace', 'prod'],
      ['--node', 'node-b'],
      ['--kind', 'seccomp', '--namespace', 'prod', '--node', 'node-b'],
    ];
    const ps = filters.map((f) => watch(['--nats', server.url, ...f]));
    await Promise.all(ps.map((p) => following(p)));
    expect(ps[3]?.stderr()).toContain(': kernwatch.v1.denial.node-b.seccomp.prod, new events only.');
    // The last event matches every filter: once a watcher showed it, it has seen all it will see.
    for (const e of ALL) await publish(js, e);
    const expected = [
      [seccompProdA, seccompHostB, seccompUnresolvedA, seccompProdB],
      [seccompProdA, apparmorProdA, seccompProdB],
      [seccompHostB, selinuxStagingB, apparmorContainerB, seccompProdB],
      [seccompProdB],
    ];
    for (const [i, p] of ps.entries()) {
      const want = shown(expected[i] ?? []);
      await waitUntil('the last event', () => lines(p).at(-1) === want.at(-1));
      expect(lines(p)).toEqual(want);
    }
    for (const p of ps) expect(await p.stop('SIGTERM')).toBe(0);
  });

  test('creates its consumer with the singular filter_subject that nats-server 2.9 knows', async () => {
    const p = watch(['--nats', server.url, '--kind', 'seccomp', '--namespace', 'prod', '--node', 'node-b']);
    await following(p);
    const consumers = await jsm.consumers.list(STREAM).next();
    expect(consumers).toHaveLength(1);
    const config = consumers[0]?.config;
    expect(config?.filter_subject).toBe('kernwatch.v1.denial.node-b.seccomp.prod');
    expect(config?.filter_subjects).toBe(undefined);
    expect(config?.ack_policy).toBe('none');
    expect(config?.mem_storage).toBe(true);
    expect(config?.deliver_policy).toBe('by_start_sequence');
    expect(config?.opt_start_seq).toBe(1);
    // Stopping removes it rather than leaving it to the server's inactivity threshold.
    expect(await p.stop('SIGINT')).toBe(0);
    expect(await jsm.consumers.list(STREAM).next()).toEqual([]);
  });

  test('--namespace _host selects the events without a pod', async () => {
    const p = watch(['--nats', server.url, '--namespace', '_host']);
    await following(p);
    for (const e of [seccompProdA, seccompHostB, apparmorProdA, apparmorContainerB, seccompUnresolvedA])
      await publish(js, e);
    const want = shown([seccompHostB, apparmorContainerB, seccompUnresolvedA]);
    await waitUntil('the last event', () => lines(p).at(-1) === want.at(-1));
    expect(lines(p)).toEqual(want);
    expect(lines(p).map((l) => l.slice(40, 82).trim())).toEqual([
      'host',
      'container:3b6fd1b8f8b0',
      'unresolved',
    ]);
  });

  test('--json prints each event exactly as published, one per line', async () => {
    const p = watch(['--nats', server.url, '--json']);
    await following(p);
    for (const e of [seccompProdA, selinuxStagingB, seccompUnresolvedA]) await publish(js, e);
    await printed(p, 3);
    expect(p.stdout()).toBe(
      `${eventToJson(seccompProdA)}\n${eventToJson(selinuxStagingB)}\n${eventToJson(seccompUnresolvedA)}\n`,
    );
  });

  test('--since starts that far back: older events within it first, then new ones', async () => {
    await publish(js, seccompProdA);
    // The one timing assumption of this file: the CLI starts within 10 s (under a loaded CI machine it
    // has taken over 3). The first event is then at least 12 s old, outside --since 10s; the second, just
    // published, inside.
    await new Promise((r) => setTimeout(r, 12_000));
    await publish(js, apparmorProdA);
    const recent = watch(['--nats', server.url, '--since', '10s']);
    const all = watch(['--nats', server.url, '--since', '1h']);
    await following(recent, 'since ');
    await following(all, 'since ');
    await printed(all, 2);
    await printed(recent, 1);
    await publish(js, selinuxStagingB);
    await printed(all, 3);
    await printed(recent, 2);
    expect(lines(all)).toEqual(shown([seccompProdA, apparmorProdA, selinuxStagingB]));
    expect(lines(recent)).toEqual(shown([apparmorProdA, selinuxStagingB]));
  });

  test('reports a message that is not an event on stderr, skips it and goes on', async () => {
    const p = watch(['--nats', server.url]);
    await following(p);
    await js.publish('kernwatch.v1.denial.node-a.seccomp.prod', 'not json');
    await js.publish('kernwatch.v1.denial.node-a.seccomp.prod', '{"schema":"kernwatch.v1","id":"x"}');
    await publish(js, seccompProdA);
    expect(await printed(p, 1)).toEqual(shown([seccompProdA]));
    expect(p.stderr().split('\n').slice(1)).toEqual([
      'kernwatch watch: skipped message 1 on kernwatch.v1.denial.node-a.seccomp.prod: not JSON (not a kernwatch.v1 event).',
      'kernwatch watch: skipped message 2 on kernwatch.v1.denial.node-a.seccomp.prod: time is not a string (not a kernwatch.v1 event).',
      '',
    ]);
    expect(p.child.exitCode).toBe(null);
  });

  test('waits for a stream that does not exist yet and then shows it from its first event', async () => {
    await jsm.streams.delete(STREAM);
    const p = watch(['--nats', server.url]);
    await said(
      p,
      `kernwatch watch: no stream KERNWATCH on ${server.url}; is an agent publishing? Waiting for it.\n`,
    );
    await createStream(jsm);
    await publish(js, seccompHostB);
    await following(p, 'from its first event');
    await publish(js, seccompProdA);
    expect(await printed(p, 2)).toEqual(shown([seccompHostB, seccompProdA]));
    expect(await p.stop('SIGTERM')).toBe(0);
  });

  test('exits 0 quietly when the reader of its stdout goes away (watch | head -1)', async () => {
    const child = spawn(process.execPath, [CLI, 'watch', '--nats', server.url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => {
      child.on('close', (code) => {
        resolve(code);
      });
    });
    try {
      await waitUntil('watch to follow', () => stderr.includes('new events only'));
      const first = new Promise<void>((resolve) => {
        child.stdout.once('data', () => {
          resolve();
        });
      });
      await publish(js, seccompProdA);
      await first;
      child.stdout.destroy();
      await publish(js, apparmorProdA);
      await publish(js, seccompProdB);
      const code = await exited;
      expect(stderr).not.toContain('kernwatch:');
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe.skipIf(skip)('kernwatch watch across a nats-server restart', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;

  beforeEach(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    await createStream(await jetstreamManager(nc));
    js = jetstream(nc);
  });

  afterEach(async () => {
    await nc.close();
    await server.remove();
  });

  /** SIGKILL and start again on the same port and store, as a crashed NATS pod comes back. */
  async function restart(p: AgentProcess): Promise<void> {
    await server.kill();
    await said(
      p,
      `kernwatch watch: disconnected from NATS at ${server.url.slice('nats://'.length)}; reconnecting.`,
    );
    await server.start();
    // The client's reconnect backoff may have grown to its 10 s cap while the server was away.
    await said(p, 'kernwatch watch: reconnected to NATS at ', 30_000);
  }

  test('waits for a server that is not up yet, then follows', async () => {
    await server.kill();
    const p = watch(['--nats', server.url]);
    await said(
      p,
      `kernwatch watch: cannot reach NATS at ${server.url} yet (connection refused); still trying.\n`,
    );
    await server.start();
    await said(p, `kernwatch watch: connected to NATS at ${server.url}.\n`);
    await said(p, 'new events only');
    await publishWhenBack(js, seccompProdA);
    expect(await printed(p, 1)).toEqual(shown([seccompProdA]));
    expect(
      p
        .stderr()
        .split('\n')
        .filter((l) => l.includes('cannot reach')),
    ).toHaveLength(1);
  });

  test('keeps following: shows what was published after the restart, once', async () => {
    const p = watch(['--nats', server.url]);
    await said(p, 'new events only');
    await publish(js, seccompProdA);
    await printed(p, 1);
    await restart(p);
    await publishWhenBack(js, apparmorProdA);
    await publish(js, seccompProdB);
    expect(await printed(p, 3)).toEqual(shown([seccompProdA, apparmorProdA, seccompProdB]));
    expect(p.stderr()).toContain('; going on from stream sequence 2.\n');
    expect(await p.stop('SIGINT')).toBe(0);
    expect(lines(p)).toHaveLength(3);
  });

  test('does not replay the stream when the restart comes before its first event', async () => {
    await publish(js, seccompHostB);
    const p = watch(['--nats', server.url]);
    await said(p, 'new events only');
    await restart(p);
    await publishWhenBack(js, seccompProdA);
    await publish(js, seccompProdB);
    expect(await printed(p, 2)).toEqual(shown([seccompProdA, seccompProdB]));
    // The stream held one event before the watch started: the new consumer starts after it.
    expect(p.stderr()).toContain('; going on from stream sequence 2.\n');
    expect(await p.stop('SIGTERM')).toBe(0);
    expect(lines(p)).toEqual(shown([seccompProdA, seccompProdB]));
  });

  test('with --since, does not replay or stall when the restart comes before its first event', async () => {
    await publish(js, seccompHostB);
    const p = watch(['--nats', server.url, '--since', '1h']);
    await printed(p, 1);
    await restart(p);
    await publishWhenBack(js, seccompProdA);
    expect(await printed(p, 2)).toEqual(shown([seccompHostB, seccompProdA]));
    expect(p.stderr()).toContain('; going on from stream sequence 2.\n');
    expect(await p.stop('SIGTERM')).toBe(0);
    expect(lines(p)).toEqual(shown([seccompHostB, seccompProdA]));
  });
});

describe.skipIf(skip)('kernwatch watch with authentication', () => {
  let dir = '';
  let tokenFile = '';
  let server: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kernwatch-watch-auth-'));
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'kernwatch-watch-test-token\n');
    server = await NatsServer.start({ auth: { token: 'kernwatch-watch-test-token' } });
    nc = await connect({ servers: server.url, token: 'kernwatch-watch-test-token' });
    // Another stream name, so that --stream and the config's stream are what makes it work.
    await createStream(await jetstreamManager(nc), 'SECURITY');
    js = jetstream(nc);
  });

  afterAll(async () => {
    await nc.close();
    await server.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  test('connects with --token-file', async () => {
    const p = watch(['--nats', server.url, '--stream', 'SECURITY', '--token-file', tokenFile]);
    await said(p, 'kernwatch watch: following SECURITY on ');
    await publish(js, seccompProdA);
    expect(await printed(p, 1)).toEqual(shown([seccompProdA]));
  });

  test("takes url, stream and token from the first nats sink of the agent's config", async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `sinks:\n  - { type: stdout }\n  - { type: nats, url: "${server.url}", stream: SECURITY, tokenFile: "${tokenFile}" }\n`,
    );
    const p = watch(['--config', config, '--kind', 'selinux']);
    await said(p, `kernwatch watch: following SECURITY on ${server.url}: kernwatch.v1.denial.*.selinux.*`);
    await publish(js, seccompProdA);
    await publish(js, selinuxStagingB);
    expect(await printed(p, 1)).toEqual(shown([selinuxStagingB]));
  });

  test('exits 1 with one sentence when NATS refuses the token', async () => {
    const wrong = join(dir, 'wrong-token');
    writeFileSync(wrong, 'not-the-token\n');
    const p = watch(['--nats', server.url, '--stream', 'SECURITY', '--token-file', wrong]);
    expect(await p.exited).toBe(1);
    expect(p.stderr()).toBe(
      `kernwatch: NATS at ${server.url} refused the connection: Authorization Violation\n`,
    );
    expect(p.stdout()).toBe('');
  });
});

describe.skipIf(skip ?? missingPrerequisite([hasOpenssl]))('kernwatch watch over TLS', () => {
  let dir = '';
  let server: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let caFile = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kernwatch-watch-tls-'));
    const certs = makeTestCertificates(dir);
    caFile = certs.caFile;
    server = await NatsServer.start({
      tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile },
    });
    nc = await connect({ servers: server.url, tls: { caFile } });
    await createStream(await jetstreamManager(nc));
    js = jetstream(nc);
  });

  afterAll(async () => {
    await nc.close();
    await server.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  test('connects to a tls:// server whose certificate --tls-ca signed', async () => {
    const p = watch(['--nats', server.url, '--tls-ca', caFile]);
    await said(p, `kernwatch watch: following KERNWATCH on ${server.url}`);
    await publish(js, apparmorContainerB);
    expect(await printed(p, 1)).toEqual(shown([apparmorContainerB]));
  });
});

describe.skipIf(missingPrerequisite([builtFromCurrentSources]))('kernwatch watch without a server', () => {
  test('says it cannot reach NATS yet, keeps trying, and exits 0 on SIGTERM', async () => {
    const url = `nats://127.0.0.1:${String(await freePort())}`;
    const p = watch(['--nats', url]);
    await said(p, `kernwatch watch: cannot reach NATS at ${url} yet (connection refused); still trying.\n`);
    expect(p.child.exitCode).toBe(null);
    expect(await p.stop('SIGTERM')).toBe(0);
    expect(p.stdout()).toBe('');
  });
});

describe.skipIf(missingPrerequisite([builtFromCurrentSources]))('kernwatch watch usage', () => {
  test('--help prints the usage on stdout and exits 0', async () => {
    const p = watch(['--help']);
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toBe(`${WATCH_USAGE}\n`);
  });

  test.each([
    [['--kind', 'landlock'], "Unknown --kind 'landlock' (expected seccomp, apparmor or selinux)."],
    [['--since', '10'], "--since '10' is not a duration such as 90s, 10m, 2h or 1d."],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('%j exits 2 with the reason and the usage on stderr', async (args, reason) => {
    const p = watch(args);
    expect(await p.exited).toBe(2);
    expect(p.stderr().startsWith(`${reason}\n\nUsage: kernwatch <command> [options]`)).toBe(true);
    expect(p.stderr()).toContain(WATCH_USAGE);
  });

  test('a config file that cannot be read exits 2', async () => {
    const p = watch(['--config', '/nonexistent/kernwatch.yaml']);
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toBe(
      'kernwatch: Cannot read config file /nonexistent/kernwatch.yaml: ENOENT: no such file or directory, ' +
        "open '/nonexistent/kernwatch.yaml'\n",
    );
  });
});
