import { Counter, Gauge, Registry, collectDefaultMetrics, type Histogram } from 'prom-client';
import type { AttributionCounters } from '../attribute/attributor.js';
import type { ProcessTableCounters } from '../attribute/proc/process-table.js';
import type { BatchQueue } from '../pipeline/batch-queue.js';
import type { SourceChain } from '../pipeline/source-chain.js';
import type { EventSink } from '../sinks/event-sink.js';
import { FalcoHttpSink } from '../sinks/falco-http/falco-http-sink.js';
import { PodEventReporter } from '../sinks/k8s-events/pod-event-reporter.js';
import { NatsSink } from '../sinks/nats/nats-sink.js';
import type { PostureMonitor } from '../posture/posture-monitor.js';
import type { Responder } from '../responders/responder.js';
import type { LiveSource } from '../sources/raw-batch.js';

/** What the metrics read: the running agent's own counters. */
export interface ObservedAgent {
  readonly sources: readonly LiveSource[];
  readonly chains: readonly SourceChain<unknown>[];
  readonly queues: readonly BatchQueue<unknown>[];
  readonly attributor: { readonly counters: AttributionCounters };
  readonly processes: { counters(): Readonly<ProcessTableCounters>; readonly size: number };
  readonly sinks: readonly EventSink[];
  readonly publishLatency: Histogram;
  readonly responder?: Responder | undefined;
  readonly posture?: PostureMonitor | undefined;
}

/**
 * Prometheus metrics of the agent. Nothing here is touched per line or per event: the stages keep plain
 * counters, and each metric reads them when /metrics is scraped. Labels are bounded: source is the kind of
 * source (auditd, kmsg, journald, syslog), never a path; namespace is bounded by the chain.
 */
export function agentMetrics(agent: ObservedAgent): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const perSource = (
    name: string,
    help: string,
    read: (i: number) => number,
    type: 'counter' | 'gauge' = 'counter',
  ): void => {
    const collect = function (this: Counter | Gauge): void {
      this.reset();
      agent.sources.forEach((s, i) => {
        (this as Gauge).inc({ source: s.kind }, read(i));
      });
    };
    if (type === 'counter')
      new Counter({ name, help, labelNames: ['source'], registers: [registry], collect });
    else new Gauge({ name, help, labelNames: ['source'], registers: [registry], collect });
  };
  const src = (i: number): LiveSource | undefined => agent.sources[i];
  const chain = (i: number): SourceChain<unknown> | undefined => agent.chains[i];
  perSource(
    'kernwatch_lines_read_total',
    'Lines (records) read from each source.',
    (i) => src(i)?.counters.linesRead ?? 0,
  );
  perSource(
    'kernwatch_batches_total',
    'Batches handed from each source to its chain.',
    (i) => src(i)?.counters.batches ?? 0,
  );
  perSource(
    'kernwatch_transport_loss_total',
    'Records the transport lost before they were read (kmsg ring overruns and sequence gaps).',
    (i) => src(i)?.counters.transportLoss ?? 0,
  );
  perSource(
    'kernwatch_kernel_loss_total',
    'Audit records the kernel reported as not logged (printk rate limit, audit backlog, audit_lost).',
    (i) => src(i)?.counters.kernelLoss ?? 0,
  );
  perSource(
    'kernwatch_source_reopens_total',
    'Rotations, truncations and restarts of a source.',
    (i) => src(i)?.counters.reopens ?? 0,
  );
  perSource(
    'kernwatch_delivery_retries_total',
    'Batches a sink refused and was given again.',
    (i) => chain(i)?.counters.deliveryRetries ?? 0,
  );
  perSource(
    'kernwatch_checkpoint_failures_total',
    'Checkpoints that could not be saved (records after them are read again after a restart).',
    (i) => chain(i)?.counters.commitFailures ?? 0,
  );
  perSource(
    'kernwatch_queue_batches',
    'Batches waiting between a source and its chain.',
    (i) => agent.queues[i]?.depthBatches ?? 0,
    'gauge',
  );
  perSource(
    'kernwatch_queue_lines',
    'Lines waiting between a source and its chain.',
    (i) => agent.queues[i]?.depthLines ?? 0,
    'gauge',
  );

  new Counter({
    name: 'kernwatch_dropped_total',
    help: 'Records or events not delivered, by reason: queue_full (kmsg could not wait), too_long (a line beyond the read chunk), duplicate (the same event from another source).',
    labelNames: ['source', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      agent.sources.forEach((s, i) => {
        const reason = s.kind === 'kmsg' || s.kind === 'journald' ? 'queue_full' : 'too_long';
        this.inc({ source: s.kind, reason }, s.counters.dropped);
        this.inc({ source: s.kind, reason: 'duplicate' }, agent.chains[i]?.counters.duplicatesDropped ?? 0);
      });
    },
  });
  new Counter({
    name: 'kernwatch_malformed_lines_total',
    help: 'Lines counted and skipped because they could not be read as a record, by reason.',
    labelNames: ['source', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      agent.sources.forEach((s, i) => {
        const stats = agent.chains[i]?.parser.stats;
        if (stats === undefined) return;
        for (const [reason, n] of Object.entries(stats.malformed)) this.inc({ source: s.kind, reason }, n);
      });
    },
  });
  new Counter({
    name: 'kernwatch_events_total',
    help: 'Events delivered to every sink, by kind, outcome and namespace (_host: no pod).',
    labelNames: ['source', 'kind', 'outcome', 'namespace'],
    registers: [registry],
    collect() {
      this.reset();
      agent.sources.forEach((s, i) => {
        for (const [key, n] of agent.chains[i]?.delivered ?? []) {
          const [kind = '', outcome = '', namespace = ''] = key.split('|');
          this.inc({ source: s.kind, kind, outcome, namespace }, n);
        }
      });
    },
  });
  new Counter({
    name: 'kernwatch_noise_total',
    help: "Denials the noise filter merged instead of publishing alone, by result: coalesced (into an identical denial's event), rate_limited (into a container's summary event).",
    labelNames: ['source', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      agent.sources.forEach((s, i) => {
        const c = agent.chains[i]?.noiseCounters;
        if (c === undefined) return;
        this.inc({ source: s.kind, result: 'coalesced' }, c.coalesced);
        this.inc({ source: s.kind, result: 'rate_limited' }, c.rateLimited);
      });
    },
  });
  new Counter({
    name: 'kernwatch_attribution_total',
    help: 'Attribution results: pod, container, host, unresolved.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const c = agent.attributor.counters;
      for (const result of ['pod', 'container', 'host', 'unresolved'] as const)
        this.inc({ result }, c[result]);
    },
  });
  new Counter({
    name: 'kernwatch_process_lookups_total',
    help: 'Process lookups by where the answer came from: live (/proc now), cached (already gone), unknown.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const c = agent.processes.counters();
      this.inc({ result: 'live' }, c.lookupsLive);
      this.inc({ result: 'cached' }, c.lookupsCached);
      this.inc({ result: 'unknown' }, c.lookupsUnknown);
    },
  });
  new Gauge({
    name: 'kernwatch_process_table_entries',
    help: 'Pids held in the process table.',
    registers: [registry],
    collect() {
      this.set(agent.processes.size);
    },
  });
  sinkMetrics(registry, agent);
  responseMetrics(registry, agent);
  postureMetrics(registry, agent);
  return registry;
}

/** The sinks' own counts: NATS connection and spool, Falco HTTP queue; labels are bounded (sink, reason). */
function sinkMetrics(registry: Registry, agent: ObservedAgent): void {
  const nats = (): NatsSink[] => agent.sinks.filter((s): s is NatsSink => s instanceof NatsSink);
  const falco = (): FalcoHttpSink[] =>
    agent.sinks.filter((s): s is FalcoHttpSink => s instanceof FalcoHttpSink);
  const podEvents = (): PodEventReporter[] =>
    agent.sinks.filter((s): s is PodEventReporter => s instanceof PodEventReporter);
  registry.registerMetric(agent.publishLatency);
  new Counter({
    name: 'kernwatch_kubernetes_event_writes_total',
    help: 'API calls writing Kubernetes Events, by result: created, patched (a series count), recreated (lost by the server), failed.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of podEvents()) {
        this.inc({ result: 'created' }, s.counters.created);
        this.inc({ result: 'patched' }, s.counters.patched);
        this.inc({ result: 'recreated' }, s.counters.recreated);
        this.inc({ result: 'failed' }, s.counters.failed);
      }
    },
  });
  new Gauge({
    name: 'kernwatch_nats_connected',
    help: '1 while every NATS sink holds a connection to a server, else 0 (events are spooled meanwhile).',
    registers: [registry],
    collect() {
      const sinks = nats();
      this.set(sinks.length > 0 && sinks.every((s) => s.isConnected) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kernwatch_spool_bytes',
    help: 'Bytes of events waiting in the NATS spool on disk.',
    registers: [registry],
    collect() {
      this.set(nats().reduce((n, s) => n + s.spoolBytes, 0));
    },
  });
  new Gauge({
    name: 'kernwatch_spool_events',
    help: 'Events waiting in the NATS spool on disk.',
    registers: [registry],
    collect() {
      this.set(nats().reduce((n, s) => n + s.spoolEvents, 0));
    },
  });
  new Counter({
    name: 'kernwatch_nats_published_total',
    help: 'Events acknowledged by JetStream, by result: stored, or duplicate (it already had that event id).',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of nats()) {
        this.inc({ result: 'stored' }, s.counters.published - s.counters.duplicates);
        this.inc({ result: 'duplicate' }, s.counters.duplicates);
      }
    },
  });
  new Counter({
    name: 'kernwatch_spooled_total',
    help: 'Events written to the NATS spool because NATS was unreachable or did not acknowledge them.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(nats().reduce((n, s) => n + s.counters.spooled, 0));
    },
  });
  new Counter({
    name: 'kernwatch_sink_dropped_total',
    help: 'Events a sink could not keep, by sink and reason (spool_full: the oldest spooled events went; too_large: over NATS max_payload).',
    labelNames: ['sink', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc(
        { sink: 'nats', reason: 'spool_full' },
        nats().reduce((n, s) => n + (s.spoolCounters?.droppedMessages ?? 0), 0),
      );
      this.inc(
        { sink: 'nats', reason: 'too_large' },
        nats().reduce((n, s) => n + s.counters.tooLarge, 0),
      );
      for (const s of falco())
        for (const [reason, n] of Object.entries(s.counters.dropped)) this.inc({ sink: 'falco', reason }, n);
      for (const s of podEvents())
        for (const [reason, n] of Object.entries(s.counters.dropped))
          this.inc({ sink: 'kubernetes_events', reason }, n);
    },
  });
  new Counter({
    name: 'kernwatch_falco_sent_total',
    help: 'Alerts falcosidekick accepted.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(falco().reduce((n, s) => n + s.counters.sent, 0));
    },
  });
  new Gauge({
    name: 'kernwatch_falco_queued',
    help: 'Alerts waiting for falcosidekick, in flight included.',
    registers: [registry],
    collect() {
      this.set(falco().reduce((n, s) => n + s.counters.queued + s.counters.inFlight, 0));
    },
  });
}

/** Automated responses: every decision by action, decision and guard (all bounded sets), and their state. */
function responseMetrics(registry: Registry, agent: ObservedAgent): void {
  new Counter({
    name: 'kernwatch_response_decisions_total',
    help: 'Response decisions by action, decision (taken, dry_run, refused, failed) and the guard that refused (reason); folded repeats included.',
    labelNames: ['action', 'decision', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of agent.responder?.runner.decisionCounts() ?? [])
        this.inc({ action: d.action, decision: d.decision, reason: d.reason }, d.count);
    },
  });
  new Counter({
    name: 'kernwatch_response_firings_total',
    help: 'Times a response rule reached its threshold for a pod.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(agent.responder?.runner.counters.firings ?? 0);
    },
  });
  new Gauge({
    name: 'kernwatch_responses_enabled',
    help: '1 when responses are switched on, 0 in dry-run or without rules.',
    registers: [registry],
    collect() {
      const runner = agent.responder?.runner;
      this.set(runner !== undefined && !runner.dryRun ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kernwatch_response_queue_depth',
    help: 'Responses waiting to be decided.',
    registers: [registry],
    collect() {
      this.set(agent.responder?.runner.queued ?? 0);
    },
  });
  new Gauge({
    name: 'kernwatch_response_budget_remaining',
    help: 'Actions the node budget still allows within the current minute.',
    registers: [registry],
    collect() {
      this.set(agent.responder?.runner.budgetLeft ?? 0);
    },
  });
  new Gauge({
    name: 'kernwatch_quarantined_addresses',
    help: "Addresses in kernwatch's nftables quarantine sets at the last look.",
    registers: [registry],
    collect() {
      this.set(agent.responder?.quarantinedAddresses ?? 0);
    },
  });
}

/** Posture: containers per namespace, check and status at the last scan, and the scans themselves. */
function postureMetrics(registry: Registry, agent: ObservedAgent): void {
  new Gauge({
    name: 'kernwatch_posture_containers',
    help: 'Running containers per namespace, posture check and status (pass, fail, unknown) at the last scan.',
    labelNames: ['namespace', 'check', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of agent.posture?.postureCounts() ?? [])
        this.set({ namespace: c.namespace, check: c.check, status: c.status }, c.containers);
    },
  });
  new Counter({
    name: 'kernwatch_posture_scans_total',
    help: 'Posture scans of every running container, by result (ok, failed).',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const counters = agent.posture?.counters;
      if (counters === undefined) return;
      this.inc({ result: 'ok' }, counters.scans);
      this.inc({ result: 'failed' }, counters.failedScans);
    },
  });
  new Gauge({
    name: 'kernwatch_posture_last_scan_timestamp_seconds',
    help: 'When the last posture scan ended (0 before the first).',
    registers: [registry],
    collect() {
      this.set((agent.posture?.lastScanMs ?? 0) / 1000);
    },
  });
}
