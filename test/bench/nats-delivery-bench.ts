/**
 * NATS delivery (`npm run bench`, or `node dist/test/bench/nats-delivery-bench.js`).
 *
 * End to end against Debian's nats-server 2.9 on loopback, with the real agent:
 * 1. Throughput: a generated audit.log of denials read from its start (`run --source auditd:FILE
 *    --from-start --sink nats://...`): file source → parse → attribution → JetStream, acknowledged. The
 *    stream's message count is polled; the rate is taken from the first stored event to the last. The
 *    agent's RSS is sampled throughout.
 * 2. The bus's own ceiling, in the same run: the same events, serialised beforehand (from `kernwatch
 *    parse`), published by a plain JetStream publisher with the same number of unacknowledged messages in
 *    flight. The ratio says what the agent costs on top of publishing alone on this noisy machine.
 * 3. Latency: records appended to a live audit.log at 1,000/s with their real timestamps; the agent's
 *    own histogram (`kernwatch_publish_latency_seconds`: audit timestamp → JetStream ack) is scraped.
 *
 * Noise control is off: every denial is one message, so the figures are per denial.
 * Flags: --denials N (default 200000), --runs N (default 3), --latency-seconds N (default 20), --no-docs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { JetStreamPublisher, publishPipelined } from '../../agent/sinks/nats/pipelined-publish.js';
import type { SpoolMessage } from '../../agent/sinks/nats/spool-record.js';
import { denialSubject } from '../../agent/sinks/nats/nats-subjects.js';
import type { KernwatchEvent } from '../../agent/events.js';
import { NatsServer } from '../helpers/nats-server.js';
import { streamMessageCount } from '../helpers/nats-stream.js';
import { fmt, updateBenchDocs } from './bench-docs.js';
import { findRepoRoot, generateAuditLog } from './audit-log-generator.js';

const MAX_IN_FLIGHT = 1024;

const { values } = parseArgs({
  options: {
    denials: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    'latency-seconds': { type: 'string', default: '20' },
    'no-docs': { type: 'boolean', default: false },
  },
});
const wantedDenials = Number(values.denials);
const runs = Number(values.runs);
const latencySeconds = Number(values['latency-seconds']);
const root = findRepoRoot();
const cli = join(root, 'dist/agent/cli/main.js');

interface AgentRun {
  rate: number;
  maxRssMb: number;
}

async function purgeStream(url: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    await (await jetstreamManager(nc)).streams.purge('KERNWATCH');
  } catch {
    // Not created yet: the agent makes it.
  } finally {
    await nc.close();
  }
}

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
    const line = status.split('\n').find((l) => l.startsWith('VmRSS:'));
    return line === undefined ? 0 : Number(line.replace(/[^0-9]/g, '')) / 1024;
  } catch {
    return 0;
  }
}

function startAgent(args: string[]): ChildProcess {
  return spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function stopAgent(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('close', r));
  child.kill('SIGTERM');
  await exited;
}

/** The agent reading the whole file into NATS; rate from the first stored message to the last. */
async function agentThroughput(
  nats: NatsServer,
  file: string,
  config: string,
  expected: number,
  state: string,
  node: string,
): Promise<AgentRun> {
  await purgeStream(nats.url);
  const child = startAgent([
    'run',
    '--config',
    config,
    '--source',
    `auditd:${file}`,
    '--from-start',
    '--sink',
    nats.url,
    '--state-dir',
    state,
    '--node',
    node,
    '--log-level',
    'warn',
  ]);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 65_536) stderr += d.toString();
  });
  let maxRss = 0;
  let firstAt: number | undefined;
  let firstCount = 0;
  let lastAt = 0;
  let count = 0;
  const deadline = performance.now() + 300_000;
  try {
    while (count < expected) {
      if (child.exitCode !== null) throw new Error(`the agent exited: ${stderr}`);
      if (performance.now() > deadline)
        throw new Error(`stalled at ${String(count)}/${String(expected)}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
      maxRss = Math.max(maxRss, rssMb(child.pid ?? 0));
      const now = performance.now();
      const c = await streamMessageCount(nats.url);
      if (c > 0 && firstAt === undefined) {
        firstAt = now;
        firstCount = c;
      }
      if (c > count) lastAt = now;
      count = c;
    }
  } finally {
    // Stopped by its pid whatever happened, so a failed run leaves no agent behind.
    await stopAgent(child);
  }
  if (count !== expected)
    throw new Error(`the stream holds ${String(count)} messages, expected ${String(expected)}`);
  return {
    rate: (count - firstCount) / Math.max(0.001, (lastAt - (firstAt ?? lastAt)) / 1000),
    maxRssMb: maxRss,
  };
}

/**
 * The same events, already serialised, published with the same pipelining: `mux` is the publisher the
 * agent uses (acks on one inbox subscription), `client` the JetStream client's own `js.publish`.
 */
async function plainPublisher(
  nats: NatsServer,
  original: SpoolMessage[],
  how: 'mux' | 'client',
  run: number,
): Promise<number> {
  await purgeStream(nats.url);
  // Ids of their own: JetStream would acknowledge repeated ids as duplicates without storing them.
  const messages = original.map((m) => ({ ...m, id: `${how}-${String(run)}:${m.id}` }));
  const nc = await connect({ servers: nats.url });
  try {
    const t0 = performance.now();
    let acked = 0;
    if (how === 'mux') {
      const publisher = new JetStreamPublisher(nc, 'KERNWATCH');
      for (let i = 0; i < messages.length; i += 4096) {
        const r = await publishPipelined(publisher, messages.slice(i, i + 4096), {
          maxInFlight: MAX_IN_FLIGHT,
          ackTimeoutMs: 10_000,
        });
        acked += r.ackedCount;
      }
      publisher.close();
    } else {
      const js = jetstream(nc);
      let next = 0;
      await new Promise<void>((resolve, reject) => {
        let inFlight = 0;
        const launch = (): void => {
          while (inFlight < MAX_IN_FLIGHT && next < messages.length) {
            const m = messages[next++];
            if (m === undefined) continue;
            inFlight++;
            js.publish(m.subject, m.data, { msgID: m.id, timeout: 10_000 }).then(() => {
              inFlight--;
              acked++;
              if (acked === messages.length) resolve();
              else launch();
            }, reject);
          }
        };
        launch();
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    if (acked !== messages.length)
      throw new Error(`plain publisher: ${String(acked)} acked of ${String(messages.length)}`);
    return acked / seconds;
  } finally {
    await nc.close();
  }
}

/** Serialised events of the file, as `kernwatch parse` prints them, ready to publish. */
async function preSerialised(file: string): Promise<SpoolMessage[]> {
  const child = spawn(process.execPath, [cli, 'parse', '--node', 'bench', file], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  await new Promise((r) => child.once('close', r));
  const out: SpoolMessage[] = [];
  for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
    if (line === '') continue;
    const e = JSON.parse(line) as KernwatchEvent;
    out.push({
      subject: denialSubject(e.node, e.kind, e.pod?.namespace),
      id: e.id,
      auditMs: Date.parse(e.time),
      data: Buffer.from(line),
    });
  }
  return out;
}

interface Latency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  under50ms: number;
  maxRssMb: number;
}

/** Appends records at 1,000/s with real timestamps to a live log; reads the agent's latency histogram. */
async function latencyAtSteadyRate(nats: NatsServer, dir: string, config: string): Promise<Latency> {
  const log = join(dir, 'live-audit.log');
  writeFileSync(log, '');
  await purgeStream(nats.url);
  const child = startAgent([
    'run',
    '--config',
    config,
    '--source',
    `auditd:${log}`,
    '--sink',
    nats.url,
    '--state-dir',
    join(dir, 'state-latency'),
    '--node',
    'bench',
    '--log-level',
    'info',
    '--metrics-addr',
    '127.0.0.1:0',
  ]);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let body = '';
  let maxRss = 0;
  try {
    let port: number | undefined;
    while (port === undefined) {
      if (child.exitCode !== null) throw new Error(`the agent exited: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
      const line = stderr.split('\n').find((l) => l.includes('Serving /metrics'));
      if (line !== undefined) port = (JSON.parse(line) as { port: number }).port;
    }
    while (!stderr.includes('Created the NATS stream') && !stderr.includes('Connected to NATS')) {
      if (child.exitCode !== null) throw new Error(`the agent exited: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const fd = openSync(log, 'a');
    const total = latencySeconds * 1000;
    let written = 0;
    const t0 = Date.now();
    let serial = 500_000;
    while (written < total) {
      const due = Math.min(total, Math.floor(Date.now() - t0));
      let chunk = '';
      for (; written < due; written++) {
        const now = Date.now();
        const stamp = `${String(Math.floor(now / 1000))}.${String(now % 1000).padStart(3, '0')}:${String(serial++)}`;
        chunk += `type=SECCOMP msg=audit(${stamp}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=8639 comm="w" exe="/usr/local/bin/seccomp-demo" sig=0 arch=c000003e syscall=${String(written % 300)} compat=0 ip=0x7fbf4fb4d829 code=0x7ffc0000\n`;
      }
      if (chunk !== '') writeSync(fd, chunk);
      maxRss = Math.max(maxRss, rssMb(child.pid ?? 0));
      await new Promise((r) => setTimeout(r, 1));
    }
    closeSync(fd);
    const deadline = Date.now() + 120_000;
    while ((await streamMessageCount(nats.url)) < total) {
      if (Date.now() > deadline) throw new Error(`the latency run stalled: ${stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    body = await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
  } finally {
    // Stopped by its pid whatever happened, so a failed run leaves no agent behind.
    await stopAgent(child);
  }
  const buckets: { le: number; n: number }[] = [];
  for (const l of body.split('\n')) {
    const m = /^kernwatch_publish_latency_seconds_bucket\{le="([^"]+)"\} (\d+)$/.exec(l);
    if (m?.[1] !== undefined && m[2] !== undefined)
      buckets.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), n: Number(m[2]) });
  }
  const count = buckets[buckets.length - 1]?.n ?? 0;
  const quantile = (q: number): number => {
    const rank = q * count;
    let prevLe = 0;
    let prevN = 0;
    for (const b of buckets) {
      if (b.n >= rank) {
        if (!Number.isFinite(b.le)) return prevLe * 1000;
        return (prevLe + ((rank - prevN) / Math.max(1, b.n - prevN)) * (b.le - prevLe)) * 1000;
      }
      prevLe = b.le;
      prevN = b.n;
    }
    return NaN;
  };
  const under50 = buckets.find((b) => b.le === 0.05)?.n ?? 0;
  return {
    count,
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
    under50ms: under50 / Math.max(1, count),
    maxRssMb: maxRss,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kw-nats-bench-'));
  const nats = await NatsServer.start();
  try {
    const file = join(dir, 'audit.log');
    // Denials only (plus their sibling records): the bench is about delivering denials. Every record
    // names this bench's own pid, stamped after it started, so attribution takes its cache-hit path (a
    // live process, read once) as for a container violating in a loop; the corpus pids are not running
    // here and would measure /proc misses instead.
    const gen = generateAuditLog(file, {
      lines: Math.round(wantedDenials * 1.6),
      denialRatio: 0.95,
      startTimeMs: Date.now(),
    });
    writeFileSync(
      file,
      readFileSync(file, 'latin1').replace(/\bpid=\d+/g, `pid=${String(process.pid)}`),
      'latin1',
    );
    const expected = gen.denials.total;
    const config = join(dir, 'bench.yaml');
    writeFileSync(config, 'noise: { coalesceWindow: 0, perContainerPerSecond: 0 }\n');
    console.log(
      `generated ${String(gen.lines)} lines, ${String(expected)} denials, ${(gen.bytes / 1e6).toFixed(1)} MB`,
    );
    const messages = await preSerialised(file);
    if (messages.length !== expected)
      throw new Error(`parse gave ${String(messages.length)} events, expected ${String(expected)}`);
    const agentRuns: AgentRun[] = [];
    const plain: number[] = [];
    const client: number[] = [];
    for (let r = 0; r < runs; r++) {
      // A new node name per run: JetStream remembers the ids of the last two minutes even after a purge.
      agentRuns.push(
        await agentThroughput(
          nats,
          file,
          config,
          expected,
          join(dir, `state-${String(r)}`),
          `bench-${String(r)}`,
        ),
      );
      plain.push(await plainPublisher(nats, messages, 'mux', r));
      client.push(await plainPublisher(nats, messages, 'client', r));
      console.log(
        `run ${String(r + 1)}: agent ${fmt(agentRuns[r]?.rate ?? 0)}/s (max RSS ${(agentRuns[r]?.maxRssMb ?? 0).toFixed(0)} MB), plain publisher ${fmt(plain[r] ?? 0)}/s, js.publish ${fmt(client[r] ?? 0)}/s`,
      );
    }
    const latency = await latencyAtSteadyRate(nats, dir, config);
    const bestAgent = Math.max(...agentRuns.map((a) => a.rate));
    const bestPlain = Math.max(...plain);
    const bestClient = Math.max(...client);
    const maxRss = Math.max(...agentRuns.map((a) => a.maxRssMb), latency.maxRssMb);
    const table = [
      `${String(expected)} denials (${(gen.bytes / 1e6).toFixed(1)} MB of audit.log), nats-server 2.9 on loopback, ${String(MAX_IN_FLIGHT)} messages in flight, best of ${String(runs)}:`,
      '',
      '| path | denials/s acknowledged | agent / this |',
      '|---|---|---|',
      `| kernwatch run: file → parse → attribution → JetStream ack | ${fmt(bestAgent)} | — |`,
      `| plain JetStream publisher, pre-serialised events (the bus's ceiling here) | ${fmt(bestPlain)} | ${(bestAgent / bestPlain).toFixed(2)}x |`,
      `| the same through the client's own \`js.publish\` (a request per message) | ${fmt(bestClient)} | ${(bestAgent / bestClient).toFixed(2)}x |`,
      '',
      `Latency at 1,000 denials/s for ${String(latencySeconds)} s (audit timestamp → JetStream ack, the agent's own histogram, ${String(latency.count)} events): p50 ${latency.p50Ms.toFixed(1)} ms, p99 ${latency.p99Ms.toFixed(1)} ms, ${(latency.under50ms * 100).toFixed(2)}% under 50 ms.`,
      '',
      `Agent RSS, highest sample over every run: ${maxRss.toFixed(0)} MB.`,
    ].join('\n');
    console.log(table);
    if (!values['no-docs']) await updateBenchDocs(root, 'nats-bench', table);
  } finally {
    await nats.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
