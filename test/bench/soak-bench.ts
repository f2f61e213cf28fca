/**
 * Soak (`npm run bench:soak`, or `node dist/test/bench/soak-bench.js`; CI runs a short one through
 * test/integration/bench/soak.test.ts).
 *
 * The real agent (`node dist/agent/cli/main.js run --source auditd:FILE --sink nats://...`) follows a live
 * audit.log that this process appends real auditd lines to at a steady rate of violations (denial records),
 * while Debian's nats-server 2.9 with JetStream is taken away every `--restart-every` and brought back on
 * the same port and store after `--down-for`. By default the stops alternate between SIGTERM (an operator's
 * or a rolling update's restart: the server shuts down cleanly) and SIGKILL (a crash or an OOM kill: no
 * goodbye, acks in flight are lost with the connection); both happen to a production NATS.
 *
 * Lines: a pool of real auditd events from the parser bench's generator (fixture-corpus line shapes:
 * SECCOMP, AppArmor and SELinux denials with their SYSCALL/CWD/PATH/PROCTITLE/EOE siblings, and other
 * audit traffic), replayed in a cycle; each written event gets the current time and a new serial in its
 * `msg=audit(time:serial)`, so every violation has its own audit id and thus its own event id. The log is
 * rotated by rename as auditd does (max_log_file `--rotate-mb`, num_logs 5).
 *
 * Noise control is off in the agent's config (noise.coalesceWindow 0, noise.perContainerPerSecond 0): each
 * violation is exactly one event, so the stream can be checked id by id. The agent gets the NODE_OPTIONS
 * that deploy/daemonset.yaml gives it (its V8 heap limit), unless `--agent-node-options` says otherwise.
 *
 * Checks, at the end, after the agent drained its spool and was stopped: the whole stream is read; every
 * expected event id must be there exactly once (lost: missing; duplicated: messages beyond the first of an
 * id; stream messages must equal distinct ids), no other id, Nats-Msg-Id = event id. The agent's VmRSS
 * (/proc/<pid>/status, every second) must stay under `--rss-limit-mb` and be flat: after a warm-up (the
 * first 40% of the run, at most 60 s) the median of the last fifth of the samples taken while writing may
 * exceed the median of the first fifth by at most `--flat-mb`. Every planned restart must have happened,
 * the writer must have reached 90% of the rate, and the agent must exit 0 on SIGTERM.
 *
 * Exit code 0 when every check passes, 1 when one fails, 2 when the soak could not run.
 *
 * Flags: --duration (600s), --rate violations/s (2000), --restart-every (60s; 0: never), --down-for (5s),
 * --nats-signal term|kill|alternate (alternate), --rotate-mb (32), --denial-ratio (0.5), --rss-limit-mb
 * (100), --flat-mb (10), --agent-node-options=STRING, --json (only the JSON line on stdout; progress and
 * report on stderr), --keep (keep the temp dir).
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { parseAllDocuments } from 'yaml';
import { agentReady, CLI, startAgent, type AgentProcess } from '../helpers/agent-process.js';
import { get, metricsPort, sample } from '../helpers/metrics-scrape.js';
import { NatsServer } from '../helpers/nats-server.js';
import { streamMessageCount } from '../helpers/nats-stream.js';
import { waitFor } from '../helpers/wait.js';
import { fmt } from './bench-docs.js';
import { findRepoRoot, generateAuditLog } from './audit-log-generator.js';

const NODE = 'soak';
const STREAM = 'KERNWATCH';
/** Serials of written events start here; serial − SERIAL_BASE is the written event's index. */
const SERIAL_BASE = 1_000_000;
/** Lines in the pool of real events that is replayed; large enough that pids and shapes vary a lot. */
const POOL_LINES = 40_000;
/** auditd's default num_logs: audit.log plus four rotated files. */
const NUM_LOGS = 5;
const WRITE_TICK_MS = 10;
const METRICS_EVERY_MS = 2_000;

const SIGNAL_CHOICE = { term: 'term', kill: 'kill', alternate: 'alternate' } as const;
type SignalChoice = (typeof SIGNAL_CHOICE)[keyof typeof SIGNAL_CHOICE];

/** `600`, `600s`, `10m`, `1500ms` → seconds. */
function parseSeconds(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) throw new Error(`--${flag}: not a duration: ${text} (e.g. 600, 600s, 10m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : unit === 'h' ? n * 3600 : n;
}

interface Options {
  durationS: number;
  rate: number;
  restartEveryS: number;
  downForS: number;
  signal: SignalChoice;
  rotateBytes: number;
  denialRatio: number;
  rssLimitMb: number;
  flatMb: number;
  /** NODE_OPTIONS for the agent (V8 heap flags); by default what deploy/daemonset.yaml gives it. */
  agentNodeOptions: string;
  agentNodeOptionsFrom: string;
  json: boolean;
  keep: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '600s' },
      rate: { type: 'string', default: '2000' },
      'restart-every': { type: 'string', default: '60s' },
      'down-for': { type: 'string', default: '5s' },
      'nats-signal': { type: 'string', default: 'alternate' },
      'rotate-mb': { type: 'string', default: '32' },
      'denial-ratio': { type: 'string', default: '0.5' },
      'rss-limit-mb': { type: 'string', default: '100' },
      'flat-mb': { type: 'string', default: '10' },
      'agent-node-options': { type: 'string' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const deployed = deployedNodeOptions();
  const signal = Object.values(SIGNAL_CHOICE).find((c) => c === values['nats-signal']);
  if (signal === undefined)
    throw new Error(`--nats-signal: term, kill or alternate, not ${values['nats-signal']}`);
  const o: Options = {
    durationS: parseSeconds(values.duration, 'duration'),
    rate: Number(values.rate),
    restartEveryS: parseSeconds(values['restart-every'], 'restart-every'),
    downForS: parseSeconds(values['down-for'], 'down-for'),
    signal,
    rotateBytes: Number(values['rotate-mb']) * 1024 * 1024,
    denialRatio: Number(values['denial-ratio']),
    rssLimitMb: Number(values['rss-limit-mb']),
    flatMb: Number(values['flat-mb']),
    agentNodeOptions: values['agent-node-options'] ?? deployed ?? '',
    agentNodeOptionsFrom:
      values['agent-node-options'] !== undefined
        ? '--agent-node-options'
        : deployed !== undefined
          ? 'deploy/daemonset.yaml'
          : 'none (deploy/daemonset.yaml sets none)',
    json: values.json,
    keep: values.keep,
  };
  for (const [name, v] of Object.entries(o))
    if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0)) throw new Error(`bad --${name}: ${v}`);
  if (o.rate <= 0 || o.durationS <= 0) throw new Error('--rate and --duration must be positive');
  return o;
}

const field = (o: unknown, key: string): unknown =>
  typeof o === 'object' && o !== null && key in o ? (o as Record<string, unknown>)[key] : undefined;
const list = (o: unknown): unknown[] => (Array.isArray(o) ? (o as unknown[]) : []);

/**
 * The NODE_OPTIONS the DaemonSet gives the agent's container (its V8 heap limit): the soak measures the
 * agent's memory as it runs on a node, not under whatever defaults V8 picks for this machine's RAM.
 */
function deployedNodeOptions(): string | undefined {
  const path = join(findRepoRoot(), 'deploy', 'daemonset.yaml');
  if (!existsSync(path)) return undefined;
  for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
    if (!('toJS' in doc)) continue;
    const manifest: unknown = doc.toJS();
    if (field(manifest, 'kind') !== 'DaemonSet') continue;
    const containers = list(field(field(field(field(manifest, 'spec'), 'template'), 'spec'), 'containers'));
    for (const c of containers) {
      const env = list(field(c, 'env')).find((e) => field(e, 'name') === 'NODE_OPTIONS');
      const value = field(env, 'value');
      if (typeof value === 'string') return value;
    }
  }
  return undefined;
}

/** The agent's environment: NODE_OPTIONS exactly as chosen, never inherited from whoever runs the bench. */
function agentEnv(nodeOptions: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  if (nodeOptions !== '') env.NODE_OPTIONS = nodeOptions;
  return env;
}

/** One event of the pool: its lines around the stamp, and the id suffixes the parser gives its denials. */
interface PoolEvent {
  readonly parts: readonly (readonly [string, string])[];
  /** `0`, `1`, ... as in `<node>:<auditId>/<suffix>`; empty for an event that is no denial. */
  readonly suffixes: readonly string[];
  /** Index of its first denial among the pool's denials. */
  readonly denialOffset: number;
}

interface Pool {
  readonly events: readonly PoolEvent[];
  readonly denials: number;
  readonly lines: number;
  readonly bytes: number;
}

const STAMP_RE = /msg=audit\((\d+\.\d{3}:\d+)\)/;

/**
 * Generates the pool and asks `kernwatch parse` which event ids its denials get: the ids expected from
 * the agent are then exact, whatever the parser makes of multi-AVC events or kill records. The parser's
 * count is checked against the generator's own count of denial records.
 */
async function buildPool(dir: string, denialRatio: number): Promise<Pool> {
  const file = join(dir, 'pool.log');
  const gen = generateAuditLog(file, { lines: POOL_LINES, denialRatio, startTimeMs: Date.now() });
  const text = readFileSync(file, 'latin1');
  const parse = spawn(process.execPath, [CLI, 'parse', '--node', NODE, file], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const chunks: Buffer[] = [];
  parse.stdout.on('data', (d: Buffer) => chunks.push(d));
  const code = await new Promise<number | null>((r) => parse.once('close', r));
  if (code !== 0) throw new Error(`kernwatch parse of the pool exited ${String(code)}`);
  const suffixesByStamp = new Map<string, string[]>();
  let parsed = 0;
  for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
    if (line === '') continue;
    const id = (JSON.parse(line) as { id: string }).id;
    const m = /^[^:]+:(\d+\.\d{3}:\d+)\/(.+)$/.exec(id);
    if (m?.[1] === undefined || m[2] === undefined) throw new Error(`unexpected event id from parse: ${id}`);
    const list = suffixesByStamp.get(m[1]) ?? [];
    list.push(m[2]);
    suffixesByStamp.set(m[1], list);
    parsed++;
  }
  if (parsed !== gen.denials.total)
    throw new Error(
      `kernwatch parse found ${String(parsed)} denials in the pool, the generator wrote ${String(gen.denials.total)}`,
    );
  const events: PoolEvent[] = [];
  let current: { stamp: string; parts: [string, string][] } | undefined;
  let denials = 0;
  const flush = (): void => {
    if (current === undefined) return;
    const suffixes = suffixesByStamp.get(current.stamp) ?? [];
    events.push({ parts: current.parts, suffixes, denialOffset: denials });
    denials += suffixes.length;
    suffixesByStamp.delete(current.stamp);
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = STAMP_RE.exec(line);
    if (m?.[1] === undefined) throw new Error(`pool line without a stamp: ${line.slice(0, 200)}`);
    const at = m.index + 'msg=audit('.length;
    if (current?.stamp !== m[1]) {
      flush();
      current = { stamp: m[1], parts: [] };
    }
    current.parts.push([line.slice(0, at), `${line.slice(at + m[1].length)}\n`]);
  }
  flush();
  if (suffixesByStamp.size > 0 || denials !== parsed)
    throw new Error('the pool events and the parsed denials do not match up');
  return { events, denials, lines: gen.lines, bytes: gen.bytes };
}

/**
 * Appends the pool's events, restamped, to a live audit.log at `rate` violations per second, rotating by
 * rename as auditd does. Remembers each written event's time, which is part of its audit id.
 */
class LiveAuditLog {
  eventsWritten = 0;
  violationsWritten = 0;
  linesWritten = 0;
  bytesWritten = 0;
  rotations = 0;
  firstWriteAt = 0;
  lastWriteAt = 0;
  /** Time (epoch ms) of each written event, by index. */
  times = new Float64Array(1 << 16);
  private fd: number;
  private fileBytes = 0;

  constructor(
    private readonly path: string,
    private readonly pool: Pool,
    private readonly rotateBytes: number,
  ) {
    this.fd = openSync(path, 'a');
  }

  /** Writes events until `violations` violations are written in all. */
  writeUpTo(violations: number): void {
    const events = this.pool.events;
    let chunk = '';
    let lines = 0;
    while (this.violationsWritten < violations) {
      const index = this.eventsWritten;
      const event = events[index % events.length];
      if (event === undefined) throw new Error('empty pool');
      const now = Date.now();
      const stamp = `${String(Math.floor(now / 1000))}.${String(now % 1000).padStart(3, '0')}:${String(SERIAL_BASE + index)}`;
      for (const [before, after] of event.parts) chunk += before + stamp + after;
      lines += event.parts.length;
      if (index >= this.times.length) {
        const grown = new Float64Array(this.times.length * 2);
        grown.set(this.times);
        this.times = grown;
      }
      this.times[index] = now;
      this.eventsWritten++;
      this.violationsWritten += event.suffixes.length;
      // Rotation only between whole events, as auditd rotates between records.
      if (this.rotateBytes > 0 && this.fileBytes + chunk.length >= this.rotateBytes) {
        this.flush(chunk, lines);
        chunk = '';
        lines = 0;
        this.rotate();
      }
    }
    this.flush(chunk, lines);
  }

  close(): void {
    closeSync(this.fd);
  }

  private flush(chunk: string, lines: number): void {
    if (chunk === '') return;
    const bytes = writeSync(this.fd, Buffer.from(chunk, 'latin1'));
    this.fileBytes += bytes;
    this.bytesWritten += bytes;
    this.linesWritten += lines;
    this.lastWriteAt = Date.now();
    if (this.firstWriteAt === 0) this.firstWriteAt = this.lastWriteAt;
  }

  /** auditd's rotate: audit.log.3 → .4 (the oldest goes), ..., audit.log → audit.log.1, a new audit.log. */
  private rotate(): void {
    closeSync(this.fd);
    for (let n = NUM_LOGS - 2; n >= 1; n--) {
      const from = `${this.path}.${String(n)}`;
      if (existsSync(from)) renameSync(from, `${this.path}.${String(n + 1)}`);
    }
    renameSync(this.path, `${this.path}.1`);
    this.fd = openSync(this.path, 'a');
    this.fileBytes = 0;
    this.rotations++;
  }

  /** The written event an audit id names, if it is one this log wrote (time and serial both match). */
  eventIndexOf(seconds: string, millis: string, serial: string): number | undefined {
    const index = Number(serial) - SERIAL_BASE;
    if (!Number.isInteger(index) || index < 0 || index >= this.eventsWritten) return undefined;
    return this.times[index] === Number(seconds) * 1000 + Number(millis) ? index : undefined;
  }
}

interface Restart {
  atS: number;
  signal: 'SIGTERM' | 'SIGKILL';
  /** From the signal to the server answering healthy again. */
  downS: number;
}

interface MetricsSample {
  t: number;
  spoolEvents: number;
  spoolBytes: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  connected: number;
}

interface ProcMemory {
  rssMb: number;
  anonMb: number;
  fileMb: number;
  hwmMb: number;
}

/** VmRSS, RssAnon, RssFile and VmHWM from /proc/<pid>/status; undefined once the process is gone. */
function procMemory(pid: number): ProcMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const mb = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  const m = { rssMb: mb('VmRSS'), anonMb: mb('RssAnon'), fileMb: mb('RssFile'), hwmMb: mb('VmHWM') };
  return Number.isNaN(m.rssMb) ? undefined : m;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sleeps, or returns early once `signal` aborts (the soak ends, however it ends). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** Least-squares slope of y over x. */
function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

interface StreamCheck {
  streamMessages: number;
  distinctIds: number;
  lost: number;
  /** Messages beyond the first of their id. */
  duplicated: number;
  duplicatedIds: number;
  unexpected: number;
  msgIdMismatches: number;
  examples: { lost: string[]; duplicated: string[]; unexpected: string[] };
}

/**
 * Reads the whole stream with an ordered consumer (as a security team's consumer would) and counts every
 * expected event id: lost = expected ids never seen, duplicated = messages beyond the first of their id,
 * unexpected = ids this soak never wrote. The Nats-Msg-Id header must equal the event's id.
 */
async function checkStream(url: string, log: LiveAuditLog, pool: Pool): Promise<StreamCheck> {
  const cycles = Math.floor(log.eventsWritten / pool.events.length);
  const partial = log.eventsWritten % pool.events.length;
  const lastPartial = pool.events[partial];
  const expected = cycles * pool.denials + (lastPartial?.denialOffset ?? pool.denials);
  if (expected !== log.violationsWritten)
    throw new Error(
      `${String(expected)} expected ids for ${String(log.violationsWritten)} violations written`,
    );
  const counts = new Uint8Array(expected);
  const unexpectedIds = new Map<string, number>();
  let mismatches = 0;
  const nc = await connect({ servers: url });
  let streamMessages = 0;
  try {
    const total = (await (await jetstreamManager(nc)).streams.info(STREAM)).state.messages;
    if (total > 0) {
      const consumer = await jetstream(nc).consumers.get(STREAM);
      const messages = await consumer.consume({ max_messages: 4096 });
      // A stream that holds fewer messages than its info said (nothing should delete any) would leave
      // the loop waiting for ever: give up once nothing came for a while, and count what came.
      let lastAt = performance.now();
      const idle = setInterval(() => {
        if (performance.now() - lastAt > 30_000) void messages.close();
      }, 1000);
      for await (const m of messages) {
        lastAt = performance.now();
        streamMessages++;
        const body = m.json<{ id?: unknown; schema?: unknown }>();
        const id = typeof body.id === 'string' ? body.id : `<no id at seq ${String(m.seq)}>`;
        if (m.headers?.get('Nats-Msg-Id') !== id) mismatches++;
        const slot = body.schema === 'kernwatch.v1' ? slotOf(id, log, pool) : undefined;
        if (slot === undefined || slot >= expected) unexpectedIds.set(id, (unexpectedIds.get(id) ?? 0) + 1);
        else counts[slot] = Math.min(255, (counts[slot] ?? 0) + 1);
        if (m.info.pending === 0 && streamMessages >= total) break;
      }
      clearInterval(idle);
      await messages.close();
    }
  } finally {
    await nc.close();
  }
  let lost = 0;
  let duplicated = 0;
  let duplicatedIds = 0;
  let distinct = unexpectedIds.size;
  const examples = {
    lost: [] as string[],
    duplicated: [] as string[],
    unexpected: [...unexpectedIds.keys()].slice(0, 5),
  };
  for (let slot = 0; slot < expected; slot++) {
    const c = counts[slot] ?? 0;
    if (c === 0) {
      lost++;
      if (examples.lost.length < 5) examples.lost.push(idOfSlot(slot, log, pool));
    } else {
      distinct++;
      if (c > 1) {
        duplicatedIds++;
        duplicated += c - 1;
        if (examples.duplicated.length < 5) examples.duplicated.push(idOfSlot(slot, log, pool));
      }
    }
  }
  for (const c of unexpectedIds.values()) duplicated += c - 1;
  return {
    streamMessages,
    distinctIds: distinct,
    lost,
    duplicated,
    duplicatedIds,
    unexpected: unexpectedIds.size,
    msgIdMismatches: mismatches,
    examples,
  };
}

const ID_RE = /^([^:]+):(\d+)\.(\d{3}):(\d+)\/(.+)$/;

/** Position of an event id among all violations written, or undefined when this soak never wrote it. */
function slotOf(id: string, log: LiveAuditLog, pool: Pool): number | undefined {
  const m = ID_RE.exec(id);
  if (m === null || m[1] !== NODE) return undefined;
  const index = log.eventIndexOf(m[2] ?? '', m[3] ?? '', m[4] ?? '');
  if (index === undefined) return undefined;
  const event = pool.events[index % pool.events.length];
  const i = event?.suffixes.indexOf(m[5] ?? '') ?? -1;
  if (event === undefined || i < 0) return undefined;
  return Math.floor(index / pool.events.length) * pool.denials + event.denialOffset + i;
}

function idOfSlot(slot: number, log: LiveAuditLog, pool: Pool): string {
  const cycle = Math.floor(slot / pool.denials);
  const inCycle = slot % pool.denials;
  let j = pool.events.findIndex((e) => e.denialOffset + e.suffixes.length > inCycle);
  if (j < 0) j = 0;
  const event = pool.events[j];
  const index = cycle * pool.events.length + j;
  const ms = log.times[index] ?? 0;
  const suffix = event?.suffixes[inCycle - (event.denialOffset ?? 0)] ?? '?';
  return `${NODE}:${String(Math.floor(ms / 1000))}.${String(ms % 1000).padStart(3, '0')}:${String(SERIAL_BASE + index)}/${suffix}`;
}

interface SoakResult {
  bench: 'soak';
  ok: boolean;
  failures: string[];
  date: string;
  durationS: number;
  rate: number;
  restartEveryS: number;
  downForS: number;
  natsSignal: SignalChoice;
  noiseControl: 'off';
  agentNodeOptions: string;
  agentNodeOptionsFrom: string;
  violationsWritten: number;
  auditEventsWritten: number;
  linesWritten: number;
  mbWritten: number;
  rotations: number;
  writeSeconds: number;
  rateAchieved: number;
  natsRestarts: number;
  natsRestartsPlanned: number;
  restarts: Restart[];
  drainSeconds: number;
  expectedEvents: number;
  streamMessages: number;
  distinctIds: number;
  lost: number;
  duplicated: number;
  unexpected: number;
  msgIdMismatches: number;
  examples: StreamCheck['examples'];
  rss: {
    samples: number;
    warmupS: number;
    minMb: number;
    medianMb: number;
    maxMb: number;
    hwmMb: number;
    anonMedianMb: number;
    anonMaxMb: number;
    fileMedianMb: number;
    firstFifthMedianMb: number;
    lastFifthMedianMb: number;
    growthMb: number;
    slopeMbPerMin: number;
    limitMb: number;
    flatMb: number;
  };
  /** The agent's own view (prom-client's nodejs_* gauges): V8 heap in use and reserved, and off-heap. */
  memory: {
    heapUsedMedianMb: number;
    heapUsedMaxMb: number;
    heapTotalMedianMb: number;
    heapTotalMaxMb: number;
    externalMedianMb: number;
    externalMaxMb: number;
  };
  agent: {
    exit: number | string;
    spoolHighWaterEvents: number;
    spoolHighWaterMb: number;
    spooledTotal: number;
    publishedStored: number;
    publishedDuplicate: number;
    droppedSpoolFull: number;
    errorsLogged: number;
  };
  wallSeconds: number;
}

async function soak(o: Options, say: (line: string) => void): Promise<SoakResult> {
  const wallStart = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'kw-soak-'));
  let nats: NatsServer | undefined;
  let agent: AgentProcess | undefined;
  // Ends the sampler and the restarter, however the soak ends, before their processes are stopped.
  const ending = new AbortController();
  const background: Promise<void>[] = [];
  const cleanup = async (): Promise<void> => {
    ending.abort();
    await Promise.allSettled(background);
    // By pid, whatever happened: a failed soak leaves no agent or nats-server behind.
    if (agent !== undefined) await agent.stop('SIGTERM', 20_000);
    if (nats !== undefined) await nats.remove();
    if (o.keep) say(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
  onAbort = () => {
    if (agent !== undefined && agent.child.exitCode === null) process.kill(agent.pid, 'SIGKILL');
    const natsPid = nats?.pid;
    if (natsPid !== undefined) {
      try {
        process.kill(natsPid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (nats !== undefined) rmSync(nats.dir, { recursive: true, force: true });
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pool = await buildPool(dir, o.denialRatio);
    say(
      `pool: ${fmt(pool.events.length)} audit events, ${fmt(pool.denials)} violations, ${fmt(pool.lines)} lines (replayed with new stamps)`,
    );
    nats = await NatsServer.start();
    const n0 = nats;
    const config = join(dir, 'soak.yaml');
    // Each violation exactly one event: the stream is checked id by id.
    writeFileSync(config, 'noise: { coalesceWindow: 0, perContainerPerSecond: 0 }\n');
    const logPath = join(dir, 'audit.log');
    writeFileSync(logPath, '');
    agent = startAgent(
      [
        'run',
        '--config',
        config,
        '--source',
        `auditd:${logPath}`,
        '--sink',
        nats.url,
        '--state-dir',
        join(dir, 'state'),
        '--node',
        NODE,
        '--metrics-addr',
        '127.0.0.1:0',
      ],
      agentEnv(o.agentNodeOptions),
    );
    const a = agent;
    await agentReady(a);
    say(`agent pid ${String(a.pid)}, nats-server on ${n0.url} (store ${n0.storeDir})`);
    const port = await waitFor('the metrics port', () => metricsPort(a));
    await waitFor(
      () => `the agent to connect to NATS: ${a.stderr().slice(-2000)}`,
      () => (/Created the NATS stream|Connected to NATS/.test(a.stderr()) ? true : undefined),
      20_000,
    );

    const total = Math.round(o.rate * o.durationS);
    const live = new LiveAuditLog(logPath, pool, o.rotateBytes);
    const startedAt = performance.now();
    const elapsedS = (): number => (performance.now() - startedAt) / 1000;
    let agentGone: string | undefined;
    const sampling = new AbortController();

    const rss: { t: number; mb: number }[] = [];
    // VmRSS = RssAnon (the agent's own memory) + RssFile (mostly node's binary, shared with every node
    // process on the host): reported apart so that the reader sees what the agent itself holds.
    const anon: number[] = [];
    const file: number[] = [];
    const metrics: MetricsSample[] = [];
    let lastMetricsAt = -Infinity;
    const sampler = (async () => {
      let nextAt = performance.now();
      while (agentGone === undefined && !sampling.signal.aborted && !ending.signal.aborted) {
        const mem = procMemory(a.pid);
        if (mem === undefined || a.child.exitCode !== null) {
          agentGone = `the agent exited (${String(a.child.exitCode)}): ${a.stderr().slice(-2000)}`;
          break;
        }
        rss.push({ t: elapsedS(), mb: mem.rssMb });
        anon.push(mem.anonMb);
        file.push(mem.fileMb);
        if (performance.now() - lastMetricsAt >= METRICS_EVERY_MS) {
          lastMetricsAt = performance.now();
          try {
            const body = (await get(port, '/metrics')).body;
            metrics.push({
              t: elapsedS(),
              spoolEvents: sample(body, 'kernwatch_spool_events') ?? 0,
              spoolBytes: sample(body, 'kernwatch_spool_bytes') ?? 0,
              heapUsedMb: (sample(body, 'nodejs_heap_size_used_bytes') ?? 0) / 1048576,
              heapTotalMb: (sample(body, 'nodejs_heap_size_total_bytes') ?? 0) / 1048576,
              externalMb: (sample(body, 'nodejs_external_memory_bytes') ?? 0) / 1048576,
              connected: sample(body, 'kernwatch_nats_connected') ?? 0,
            });
          } catch {
            // A scrape that failed says nothing about memory; the next one will tell.
          }
        }
        nextAt += 1000;
        await pause(Math.max(0, nextAt - performance.now()), sampling.signal);
      }
    })();
    background.push(sampler);

    const restarts: Restart[] = [];
    const planned: number[] = [];
    for (let k = 1; o.restartEveryS > 0 && k * o.restartEveryS + o.downForS < o.durationS; k++)
      planned.push(k * o.restartEveryS);
    const n = nats;
    const restarter = (async () => {
      for (const [i, at] of planned.entries()) {
        await pause(Math.max(0, at * 1000 - (performance.now() - startedAt)), ending.signal);
        if (agentGone !== undefined || ending.signal.aborted) return;
        const signal =
          o.signal === 'kill' || (o.signal === 'alternate' && i % 2 === 1) ? 'SIGKILL' : 'SIGTERM';
        const t0 = performance.now();
        if (signal === 'SIGKILL') await n.kill();
        else await n.stop();
        await pause(Math.max(0, o.downForS * 1000 - (performance.now() - t0)), ending.signal);
        if (ending.signal.aborted) return;
        await n.start();
        restarts.push({ atS: at, signal, downS: (performance.now() - t0) / 1000 });
        say(
          `  ${elapsedS().toFixed(0)} s: nats-server ${signal === 'SIGKILL' ? 'killed' : 'stopped'} at ${String(at)} s, back after ${(restarts.at(-1)?.downS ?? 0).toFixed(1)} s`,
        );
      }
    })().catch((err: unknown) => {
      // Handled here: a rejection nobody awaits yet would end the process before it stops what it started.
      agentGone ??= `nats-server could not be restarted: ${err instanceof Error ? err.message : String(err)}`;
    });
    background.push(restarter);

    say(
      `writing ${fmt(total)} violations at ${fmt(o.rate)}/s for ${String(o.durationS)} s; nats-server restarts at ${planned.map((s) => `${String(s)}s`).join(', ') || 'none'}`,
    );
    let lastProgress = 0;
    while (live.violationsWritten < total) {
      if (agentGone !== undefined) throw new Error(agentGone);
      const due = Math.min(total, Math.floor(elapsedS() * o.rate));
      live.writeUpTo(due);
      if (elapsedS() - lastProgress >= 30) {
        lastProgress = elapsedS();
        const m = metrics.at(-1);
        say(
          `  ${elapsedS().toFixed(0)} s: ${fmt(live.violationsWritten)} written, RSS ${(rss.at(-1)?.mb ?? 0).toFixed(1)} MB, V8 heap used ${(m?.heapUsedMb ?? 0).toFixed(1)} MB, spool ${fmt(m?.spoolEvents ?? 0)} events`,
        );
      }
      await sleep(WRITE_TICK_MS);
    }
    live.close();
    const writeEnd = elapsedS();
    await restarter;
    if (agentGone !== undefined) throw new Error(agentGone);

    // Drain: the spool empty and every expected event stored; or nothing moving any more (then the
    // check below says what is missing).
    const drainStart = performance.now();
    let stored = 0;
    let stableSince = performance.now();
    for (;;) {
      if (agentGone !== undefined) throw new Error(agentGone);
      const spool = metrics.at(-1)?.spoolEvents ?? 0;
      const count = await streamMessageCount(n.url);
      if (count !== stored) stableSince = performance.now();
      stored = count;
      if (spool === 0 && count >= live.violationsWritten) break;
      if (performance.now() - stableSince > 15_000) break;
      if (performance.now() - drainStart > 180_000) break;
      await sleep(500);
    }
    const drainSeconds = (performance.now() - drainStart) / 1000;
    // Anything still in flight would show up as an extra message now.
    await sleep(2_000);
    sampling.abort();
    await sampler;
    const finalMetrics = (await get(port, '/metrics')).body;
    const hwmMb = procMemory(a.pid)?.hwmMb ?? NaN;
    const exit = await a.stop('SIGTERM', 20_000);

    say('reading the whole stream...');
    const check = await checkStream(n.url, live, pool);

    const warmupS = Math.min(60, o.durationS * 0.4);
    const steady = rss.filter((s) => s.t >= warmupS && s.t <= writeEnd);
    const fifth = Math.max(1, Math.floor(steady.length / 5));
    const firstFifth = median(steady.slice(0, fifth).map((s) => s.mb));
    const lastFifth = median(steady.slice(-fifth).map((s) => s.mb));
    const all = rss.map((s) => s.mb);
    const rssMax = Math.max(...all);
    const scraped = metrics.filter((m) => m.heapUsedMb > 0);
    const heapUsed = scraped.map((m) => m.heapUsedMb);
    const heapTotal = scraped.map((m) => m.heapTotalMb);
    const external = scraped.map((m) => m.externalMb);
    const writeSeconds = (live.lastWriteAt - live.firstWriteAt) / 1000;
    const rateAchieved = live.violationsWritten / Math.max(0.001, writeSeconds);
    const errorsLogged = a
      .stderr()
      .split('\n')
      .filter((l) => /"level":(50|60)/.test(l)).length;

    const failures: string[] = [];
    if (check.lost > 0) failures.push(`${String(check.lost)} events lost`);
    if (check.duplicated > 0) failures.push(`${String(check.duplicated)} duplicated messages`);
    if (check.streamMessages !== check.distinctIds)
      failures.push(`${String(check.streamMessages)} messages but ${String(check.distinctIds)} distinct ids`);
    if (check.unexpected > 0) failures.push(`${String(check.unexpected)} unexpected event ids`);
    if (check.msgIdMismatches > 0) failures.push(`${String(check.msgIdMismatches)} Nats-Msg-Id ≠ event id`);
    if (rssMax >= o.rssLimitMb)
      failures.push(`RSS max ${rssMax.toFixed(1)} MB >= ${String(o.rssLimitMb)} MB`);
    if (!(lastFifth - firstFifth <= o.flatMb))
      failures.push(
        `RSS not flat: median of the last fifth ${lastFifth.toFixed(1)} MB vs first fifth ${firstFifth.toFixed(1)} MB after warm-up (> ${String(o.flatMb)} MB more)`,
      );
    if (restarts.length !== planned.length)
      failures.push(`${String(restarts.length)} of ${String(planned.length)} nats-server restarts happened`);
    if (rateAchieved < 0.9 * o.rate)
      failures.push(`the writer reached ${fmt(rateAchieved)} violations/s, below 90% of ${fmt(o.rate)}`);
    if (exit !== 0) failures.push(`the agent exited ${String(exit)} on SIGTERM`);

    return {
      bench: 'soak',
      ok: failures.length === 0,
      failures,
      date: new Date().toISOString(),
      durationS: o.durationS,
      rate: o.rate,
      restartEveryS: o.restartEveryS,
      downForS: o.downForS,
      natsSignal: o.signal,
      noiseControl: 'off',
      agentNodeOptions: o.agentNodeOptions,
      agentNodeOptionsFrom: o.agentNodeOptionsFrom,
      violationsWritten: live.violationsWritten,
      auditEventsWritten: live.eventsWritten,
      linesWritten: live.linesWritten,
      mbWritten: live.bytesWritten / 1048576,
      rotations: live.rotations,
      writeSeconds,
      rateAchieved,
      natsRestarts: restarts.length,
      natsRestartsPlanned: planned.length,
      restarts,
      drainSeconds,
      expectedEvents: live.violationsWritten,
      streamMessages: check.streamMessages,
      distinctIds: check.distinctIds,
      lost: check.lost,
      duplicated: check.duplicated,
      unexpected: check.unexpected,
      msgIdMismatches: check.msgIdMismatches,
      examples: check.examples,
      rss: {
        samples: rss.length,
        warmupS,
        minMb: Math.min(...all),
        medianMb: median(all),
        maxMb: rssMax,
        hwmMb,
        anonMedianMb: median(anon),
        anonMaxMb: Math.max(0, ...anon),
        fileMedianMb: median(file),
        firstFifthMedianMb: firstFifth,
        lastFifthMedianMb: lastFifth,
        growthMb: lastFifth - firstFifth,
        slopeMbPerMin: slope(steady.map((s) => ({ x: s.t / 60, y: s.mb }))),
        limitMb: o.rssLimitMb,
        flatMb: o.flatMb,
      },
      memory: {
        heapUsedMedianMb: median(heapUsed),
        heapUsedMaxMb: Math.max(0, ...heapUsed),
        heapTotalMedianMb: median(heapTotal),
        heapTotalMaxMb: Math.max(0, ...heapTotal),
        externalMedianMb: median(external),
        externalMaxMb: Math.max(0, ...external),
      },
      agent: {
        exit,
        spoolHighWaterEvents: Math.max(0, ...metrics.map((m) => m.spoolEvents)),
        spoolHighWaterMb: Math.max(0, ...metrics.map((m) => m.spoolBytes)) / 1048576,
        spooledTotal: sample(finalMetrics, 'kernwatch_spooled_total') ?? 0,
        publishedStored: sample(finalMetrics, 'kernwatch_nats_published_total{result="stored"}') ?? 0,
        publishedDuplicate: sample(finalMetrics, 'kernwatch_nats_published_total{result="duplicate"}') ?? 0,
        droppedSpoolFull:
          sample(finalMetrics, 'kernwatch_sink_dropped_total{sink="nats",reason="spool_full"}') ?? 0,
        errorsLogged,
      },
      wallSeconds: (performance.now() - wallStart) / 1000,
    };
  } finally {
    await cleanup();
    onAbort = undefined;
  }
}

function report(r: SoakResult): string {
  const mb = (x: number): string => `${x.toFixed(1)} MB`;
  return [
    `Soak: ${String(r.durationS)} s at ${fmt(r.rate)} violations/s, nats-server restarted every ${String(r.restartEveryS)} s (down ${String(r.downForS)} s, ${r.natsSignal === 'alternate' ? 'SIGTERM and SIGKILL alternately' : r.natsSignal === 'kill' ? 'SIGKILL' : 'SIGTERM'}), noise control off (one event per violation)`,
    `  agent:     node dist/agent/cli/main.js run (auditd file source, nats sink), NODE_OPTIONS=${r.agentNodeOptions === '' ? '(none)' : `'${r.agentNodeOptions}'`} from ${r.agentNodeOptionsFrom}`,
    `  written:   ${fmt(r.violationsWritten)} violations in ${fmt(r.auditEventsWritten)} audit events, ${fmt(r.linesWritten)} lines, ${r.mbWritten.toFixed(0)} MB, ${String(r.rotations)} rotations; ${fmt(r.rateAchieved)} violations/s over ${r.writeSeconds.toFixed(1)} s`,
    `  restarts:  ${String(r.natsRestarts)} of ${String(r.natsRestartsPlanned)} (${r.restarts.map((x) => `${String(x.atS)}s ${x.signal} ${x.downS.toFixed(1)}s`).join(', ')})`,
    `  stream:    ${fmt(r.streamMessages)} messages, ${fmt(r.distinctIds)} distinct ids, expected ${fmt(r.expectedEvents)}; drained ${r.drainSeconds.toFixed(1)} s after the last write`,
    `  lost ${fmt(r.lost)}, duplicated ${fmt(r.duplicated)}, unexpected ${fmt(r.unexpected)}, Nats-Msg-Id mismatches ${fmt(r.msgIdMismatches)}`,
    `  agent RSS: min ${mb(r.rss.minMb)}, median ${mb(r.rss.medianMb)}, max ${mb(r.rss.maxMb)} (VmHWM ${mb(r.rss.hwmMb)}), ${String(r.rss.samples)} samples; of it RssAnon median ${mb(r.rss.anonMedianMb)} (max ${mb(r.rss.anonMaxMb)}), RssFile median ${mb(r.rss.fileMedianMb)} (node's binary, shared)`,
    `             after ${String(r.rss.warmupS)} s warm-up: first fifth median ${mb(r.rss.firstFifthMedianMb)}, last fifth ${mb(r.rss.lastFifthMedianMb)} (${r.rss.growthMb >= 0 ? '+' : ''}${r.rss.growthMb.toFixed(1)} MB, slope ${r.rss.slopeMbPerMin.toFixed(2)} MB/min)`,
    `  agent's own gauges (median / max): V8 heap used ${mb(r.memory.heapUsedMedianMb)} / ${mb(r.memory.heapUsedMaxMb)}, heap reserved ${mb(r.memory.heapTotalMedianMb)} / ${mb(r.memory.heapTotalMaxMb)}, off-heap (external) ${mb(r.memory.externalMedianMb)} / ${mb(r.memory.externalMaxMb)}`,
    `  agent: spool high-water ${fmt(r.agent.spoolHighWaterEvents)} events (${r.agent.spoolHighWaterMb.toFixed(1)} MB), spooled ${fmt(r.agent.spooledTotal)}, acked stored ${fmt(r.agent.publishedStored)}, acked as duplicate ${fmt(r.agent.publishedDuplicate)}, dropped (spool full) ${fmt(r.agent.droppedSpoolFull)}, errors logged ${String(r.agent.errorsLogged)}, exit ${String(r.agent.exit)}`,
    `  wall time ${r.wallSeconds.toFixed(0)} s`,
    r.ok ? 'PASS' : `FAIL: ${r.failures.join('; ')}`,
  ].join('\n');
}

let onAbort: (() => void) | undefined;

async function main(): Promise<number> {
  let o: Options;
  try {
    o = options();
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const say = (line: string): void => {
    if (o.json) console.error(line);
    else console.log(line);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      onAbort?.();
      process.exit(130);
    });
  }
  try {
    const r = await soak(o, say);
    say(report(r));
    console.log(JSON.stringify(r));
    return r.ok ? 0 : 1;
  } catch (err) {
    console.error(
      `the soak could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    return 2;
  }
}

process.exitCode = await main();
