import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Histogram } from 'prom-client';
import { Attributor, type ContainerLookup, type PodLookup } from '../attribute/attributor.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { ContainerDirectory } from '../attribute/cri/container-directory.js';
import { CriClient } from '../attribute/cri/cri-client.js';
import { findCriSocket } from '../attribute/cri/cri-sockets.js';
import { loadKubeConfig } from '../attribute/pods/kube-config.js';
import { PodStore } from '../attribute/pods/pod-store.js';
import { ProcessTable } from '../attribute/proc/process-table.js';
import {
  sourceConfigSchema,
  type AgentConfig,
  type SinkConfig,
  type SourceConfig,
} from '../config/config-schema.js';
import { ERROR_CODES, KernwatchError } from '../errors.js';
import { EVENT_SOURCE } from '../events.js';
import type { ParseStats } from '../parse/parse-stats.js';
import type { EventSink } from '../sinks/event-sink.js';
import { FalcoHttpSink } from '../sinks/falco-http/falco-http-sink.js';
import { FileSink } from '../sinks/file/file-sink.js';
import { PodEventReporter } from '../sinks/k8s-events/pod-event-reporter.js';
import { PostureMonitor } from '../posture/posture-monitor.js';
import { scanPosture } from '../posture/posture-scan.js';
import { Responder } from '../responders/responder.js';
import { NatsSink } from '../sinks/nats/nats-sink.js';
import { StdoutSink } from '../sinks/stdout/stdout-sink.js';
import { detectSource } from '../sources/auto-detect.js';
import { FileTailSource } from '../sources/file/file-tail-source.js';
import { JournaldSource } from '../sources/journald/journald-source.js';
import { KmsgSource } from '../sources/kmsg/kmsg-source.js';
import type { LiveSource } from '../sources/raw-batch.js';
import type { Logger } from '../telemetry/logger.js';
import { RateLimitedWarning } from '../telemetry/rate-limited-warning.js';
import { BatchQueue } from './batch-queue.js';
import { NoiseFilter } from './noise/noise-filter.js';
import { RecentEventIds } from './recent-event-ids.js';
import { SourceChain } from './source-chain.js';

const SHUTDOWN_DRAIN_MS = 10_000;
const WAITING_SOURCE_QUEUE = { batches: 8, lines: 16_384 } as const;

export interface AgentRuntimeOptions {
  config: AgentConfig;
  node: string;
  log: Logger;
  /** Where the stdout sink writes (tests capture it). */
  stdout?: NodeJS.WritableStream & import('node:stream').Writable;
}

/**
 * The running agent: sources → chains → sinks, with the attribution stages they share. Builds everything
 * from the validated config, starts it in dependency order (attribution first, so processes running at
 * start are known before the first record is read) and stops it in reverse.
 */
export class AgentRuntime {
  readonly sources: LiveSource[] = [];
  readonly chains: SourceChain<unknown>[] = [];
  readonly sinks: EventSink[] = [];
  readonly processes: ProcessTable;
  readonly attributor: Attributor;
  readonly queues: BatchQueue<unknown>[] = [];
  /**
   * Audit timestamp → JetStream ack, per event. Made here (registered by the metrics, if served) because
   * the NATS sinks observe it as acks arrive.
   */
  readonly publishLatency = new Histogram({
    name: 'kernwatch_publish_latency_seconds',
    help: 'From the audit timestamp of an event to its JetStream ack (spooled events included).',
    // Fine below 100 ms, where the hold time (30 ms) and a healthy bus put nearly every event.
    buckets: [
      0.005, 0.01, 0.02, 0.03, 0.035, 0.04, 0.045, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
    ],
    registers: [],
  });
  private containers: ContainerDirectory | undefined;
  private pods: PodStore | undefined;
  private podEvents: PodEventReporter | undefined;
  private kubeConfig: KubeConfig | undefined;
  private criSocket: string | undefined;
  /** Automated responses, when rules are configured (started with the sinks). */
  responder: Responder | undefined;
  /** Periodic posture of every running container (with a CRI socket and posture.enabled). */
  posture: PostureMonitor | undefined;
  private postureCri: CriClient | undefined;
  private running: Promise<void>[] = [];
  private stopped = false;
  private failChain: (err: Error) => void = () => undefined;
  private readonly chainFailure = new Promise<Error>((resolve) => {
    this.failChain = resolve;
  });

  constructor(private readonly o: AgentRuntimeOptions) {
    const { config, log } = o;
    this.processes = new ProcessTable({
      procRoot: config.procRoot,
      scanIntervalMs: config.attribution.scanInterval,
      maxEntries: config.attribution.maxProcesses,
      log: log.child({ component: 'processes' }),
    });
    const socket = config.cri.socket ?? findCriSocket();
    this.criSocket = socket;
    if (socket !== undefined) {
      this.containers = new ContainerDirectory({
        socketPath: socket,
        callTimeoutMs: config.cri.timeout,
        minRefreshIntervalMs: config.cri.minRefreshInterval,
        logger: log.child({ component: 'cri' }),
      });
    } else {
      log.info('No CRI socket found; container names, images and pods come from cgroups and the API only.');
    }
    if (config.kubernetes.enabled) {
      const kubeConfig = loadKubeConfig(
        config.kubernetes.kubeconfig === undefined ? {} : { kubeconfigPath: config.kubernetes.kubeconfig },
      );
      this.kubeConfig = kubeConfig;
      if (kubeConfig === undefined) {
        log.info('No kubeconfig and not in a cluster; pod labels and owners are not available.');
      } else {
        this.pods = new PodStore({
          nodeName: o.node,
          kubeConfig,
          retentionMs: config.kubernetes.podRetention,
          logger: log.child({ component: 'pods' }),
        });
        const events = config.kubernetes.events;
        if (events.enabled) {
          // A sink like the others, but best-effort: it folds denials into series and writes them on
          // its own schedule, so the API server never holds up the chain.
          this.podEvents = new PodEventReporter({
            kubeConfig,
            node: o.node,
            log: log.child({ sink: 'kubernetes-events' }),
            callsPerSecond: events.callsPerSecond,
            burst: events.burst,
            seriesHeartbeatMs: events.seriesHeartbeat,
          });
        }
      }
    }
    const attributionFailure = new RateLimitedWarning(
      log,
      'Attribution failed unexpectedly; the events were published as unresolved.',
      { level: 'error' },
    );
    const attributorOptions: ConstructorParameters<typeof Attributor>[0] = {
      node: o.node,
      processes: this.processes,
      onFailure: (err) => {
        attributionFailure.add(1, { err });
      },
    };
    if (this.containers !== undefined)
      attributorOptions.containers = this.containers satisfies ContainerLookup;
    if (this.pods !== undefined) attributorOptions.pods = this.pods satisfies PodLookup;
    this.attributor = new Attributor(attributorOptions);
  }

  /**
   * Opens sinks, pre-warms attribution, then opens every source before the state directory is touched:
   * a missing right to read the kernel's log is the first thing an operator must hear about. Chains start
   * last, so no record is attributed before the process table knows the processes already running.
   */
  async start(): Promise<void> {
    const { config, log } = this.o;
    const sourceConfigs = config.sources.length > 0 ? config.sources : [await this.autoDetected()];
    for (const sc of sourceConfigs) this.sources.push(this.makeSource(sc));
    this.processes.start();
    await this.containers?.start();
    this.pods?.start();
    for (const source of this.sources) {
      // A source that can wait (files, journald) needs only a few batches queued to keep the chain busy,
      // and each batch's lines keep the whole read chunk they were cut from alive (a 1 MiB string): a
      // long queue there is memory for nothing. kmsg cannot wait; its ring overruns, so it gets room.
      const queue =
        source.kind === EVENT_SOURCE.kmsg
          ? new BatchQueue<unknown>()
          : new BatchQueue<unknown>(WAITING_SOURCE_QUEUE.batches, WAITING_SOURCE_QUEUE.lines);
      try {
        await source.start(queue);
      } catch (err) {
        await this.stop();
        throw sourceStartError(source.name, err);
      }
      this.queues.push(queue);
    }
    try {
      await this.ensureStateDir();
      // After the sources: the NATS spool lives in the state directory.
      for (const sink of config.sinks) this.sinks.push(await this.openSink(sink));
      if (this.podEvents !== undefined) this.sinks.push(this.podEvents);
      this.responder = await Responder.start({
        config: config.responses,
        node: this.o.node,
        log,
        sinks: () => this.sinks,
        criTimeoutMs: config.cri.timeout,
        ...(this.kubeConfig === undefined ? {} : { kubeConfig: this.kubeConfig }),
        ...(this.criSocket === undefined ? {} : { criSocket: this.criSocket }),
        ...(this.containers === undefined ? {} : { containers: this.containers }),
      });
      // A best-effort sink like the Events reporter: rules are evaluated in memory, responses on its own queue.
      if (this.responder !== undefined) this.sinks.push(this.responder.runner);
      this.startPosture();
    } catch (err) {
      await this.stop();
      throw err;
    }
    const recentIds = this.sources.length > 1 ? new RecentEventIds() : undefined;
    this.sources.forEach((source, i) => {
      const queue = this.queues[i];
      if (queue === undefined) return;
      const chain = new SourceChain<unknown>({
        source,
        queue,
        attributor: this.attributor,
        sinks: this.sinks,
        holdMs: config.parse.holdTime,
        ...(config.noise.coalesceWindow > 0 || config.noise.perContainerPerSecond > 0
          ? {
              noise: new NoiseFilter({
                coalesceWindowMs: config.noise.coalesceWindow,
                perContainerPerSecond: config.noise.perContainerPerSecond,
              }),
            }
          : {}),
        log: log.child({ source: source.name }),
        ...(recentIds === undefined ? {} : { recentIds }),
      });
      this.chains.push(chain);
      this.running.push(
        chain.run().catch((err: unknown) => {
          log.error(
            { err, source: source.name },
            'A source chain stopped with an error; its checkpoint was kept.',
          );
        }),
      );
      log.info({ source: source.name }, 'Reading kernel records.');
    });
  }

  /** Stop reading, deliver what was read, save checkpoints. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Sources are told to stop but not awaited before the queues close: a file source may be waiting in
    // put() for room that only the chain can make, and closing the queue is what releases it.
    const sourcesStopped = Promise.allSettled(this.sources.map((s) => s.stop()));
    for (const q of this.queues) q.close();
    const timer = setTimeout(() => {
      this.o.log.warn(
        'Delivery is still retrying at shutdown; leaving undelivered records for the next start.',
      );
      for (const c of this.chains) c.markStopping();
    }, SHUTDOWN_DRAIN_MS);
    await Promise.all(this.running);
    clearTimeout(timer);
    await sourcesStopped;
    // Before the sinks close: the last decisions are published through them.
    await this.responder?.stop();
    await this.posture?.stop();
    this.postureCri?.close();
    this.processes.stop();
    await this.containers?.stop();
    await this.pods?.stop();
    await Promise.allSettled(this.sinks.map((s) => s.close()));
    this.logSummary();
  }

  /** For /readyz: ready once every source is open and while every sink accepts events. */
  notReadyBecause(): string | undefined {
    if (this.stopped) return 'stopping';
    if (this.chains.length === 0 || this.chains.length < this.sources.length)
      return 'starting: sources are not all open yet';
    const failing = this.sinks.filter((s) => s.bestEffort !== true && !s.healthy()).map((s) => s.name);
    return failing.length > 0 ? `sinks refusing events: ${failing.join(', ')}` : undefined;
  }

  /** Resolves with the error of the first chain that ended on its own: the agent cannot go on without it. */
  get failure(): Promise<Error> {
    return this.chainFailure;
  }

  private logSummary(): void {
    const { log } = this.o;
    this.sources.forEach((source, i) => {
      const chain = this.chains[i];
      log.info(
        {
          source: source.name,
          read: source.counters,
          chain: chain?.counters,
          parse: chain === undefined ? undefined : parseSummary(chain.parser.stats),
        },
        'Source summary.',
      );
    });
    log.info(
      { attribution: this.attributor.counters, processes: this.processes.counters() },
      'Attribution summary.',
    );
  }

  private startPosture(): void {
    const { config, log } = this.o;
    const socket = this.criSocket;
    if (!config.posture.enabled || socket === undefined) return;
    const cri = new CriClient({ socketPath: socket, callTimeoutMs: config.cri.timeout });
    this.postureCri = cri;
    const kubeConfig = this.kubeConfig;
    const postureLog = log.child({ component: 'posture' });
    this.posture = new PostureMonitor({
      node: this.o.node,
      intervalMs: config.posture.interval,
      log: postureLog,
      sinks: () => this.sinks,
      scan: () =>
        scanPosture({
          node: this.o.node,
          procRoot: config.procRoot,
          sysRoot: config.sysRoot,
          cri,
          log: postureLog,
          ...(kubeConfig === undefined ? {} : { kubeConfig }),
        }),
    });
    this.posture.start();
  }

  private async autoDetected(): Promise<SourceConfig> {
    const detected = await detectSource({ procRoot: this.o.config.procRoot });
    this.o.log.info({ source: detected.spec }, detected.reason);
    switch (detected.spec.type) {
      case 'auditd':
        return { type: 'auditd', path: detected.spec.path };
      case 'journald':
        return sourceConfigSchema.parse({ type: 'journald', directory: detected.spec.directory });
      case 'kmsg':
        return sourceConfigSchema.parse({ type: 'kmsg' });
    }
  }

  private makeSource(sc: SourceConfig): LiveSource {
    const { config, log } = this.o;
    const stateDir = config.stateDir;
    switch (sc.type) {
      case 'auditd':
      case 'syslog':
        return new FileTailSource({
          path: sc.path,
          kind: sc.type === 'auditd' ? EVENT_SOURCE.auditd : EVENT_SOURCE.syslog,
          stateDir,
          fromStart: config.fromStart,
          log: log.child({ source: `${sc.type}:${sc.path}` }),
        });
      case 'kmsg':
        return new KmsgSource({ path: sc.path, stateDir, log: log.child({ source: 'kmsg' }) });
      case 'journald':
        return new JournaldSource({
          stateDir,
          journalctl: sc.journalctl,
          log: log.child({ source: 'journald' }),
          ...(sc.directory === undefined ? {} : { directory: sc.directory }),
        });
    }
  }

  private async openSink(sc: SinkConfig): Promise<EventSink> {
    switch (sc.type) {
      case 'stdout':
        return new StdoutSink(this.o.stdout ?? process.stdout);
      case 'file': {
        const sink = new FileSink(sc.path);
        await sink.open();
        return sink;
      }
      case 'nats': {
        const sink = new NatsSink({
          connection: sc,
          stream: { name: sc.stream, duplicateWindowMs: sc.duplicateWindow, maxAgeMs: sc.maxAge },
          spoolDir: join(this.o.config.stateDir, 'spool', spoolDirName(sc.url, sc.stream)),
          spoolMaxBytes: sc.spool.maxBytes,
          spoolSegmentBytes: sc.spool.segmentBytes,
          maxInFlight: sc.maxInFlight,
          ackTimeoutMs: sc.ackTimeout,
          node: this.o.node,
          log: this.o.log.child({ sink: 'nats' }),
          onAckLatency: (seconds) => {
            this.publishLatency.observe(seconds);
          },
        });
        await sink.open();
        return sink;
      }
      case 'falco-http':
        return new FalcoHttpSink({
          url: sc.url,
          maxQueuedEvents: sc.maxQueuedEvents,
          log: this.o.log.child({ sink: 'falco-http' }),
        });
    }
  }

  private async ensureStateDir(): Promise<void> {
    const dir = this.o.config.stateDir;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new KernwatchError(
        ERROR_CODES.permission,
        `Cannot create the state directory ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)}); ` +
          'run as root or choose another with --state-dir.',
        { cause: err },
      );
    }
  }
}

/** One spool per NATS destination, named so that an operator can tell which is which. */
function spoolDirName(url: string, stream: string): string {
  let name = '';
  for (const ch of `${url}-${stream}`) name += /[A-Za-z0-9.-]/.test(ch) ? ch : '_';
  return name;
}

function parseSummary(stats: ParseStats): Record<string, unknown> {
  return {
    lines: stats.lines,
    denials: stats.denials,
    malformed: stats.malformedTotal(),
    notRelevant: stats.notRelevant,
  };
}

function sourceStartError(name: string, err: unknown): KernwatchError {
  const code = errnoCode(err);
  if (code === 'EACCES' || code === 'EPERM') {
    return new KernwatchError(
      ERROR_CODES.permission,
      `No permission to read ${name} (${code}). kernwatch reads the kernel's log: run it as root, or with ` +
        'CAP_SYSLOG for /dev/kmsg and read access to the audit log.',
      { cause: err },
    );
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new KernwatchError(ERROR_CODES.source, `Cannot start source ${name}: ${reason}`, { cause: err });
}

/** The errno code anywhere in a cause chain. */
function errnoCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('E')) return code;
    e = e.cause;
  }
  return undefined;
}
