import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { AuditTimeReader } from '../../audit-time.js';
import type { KernwatchEvent } from '../../events.js';
import { postureEventToJson, type PostureEvent } from '../../posture/posture-event.js';
import { actionEventToJson, type ActionEvent } from '../../responders/action-event.js';
import { RetryBackoff } from '../../retry-backoff.js';
import type { Logger } from '../../telemetry/logger.js';
import { RateLimitedWarning } from '../../telemetry/rate-limited-warning.js';
import { eventToJson } from '../event-json.js';
import type { EventSink } from '../event-sink.js';
import { DiskSpool, type DiskSpoolOptions } from './disk-spool.js';
import { natsConnectionOptions, type NatsConnectSettings, type ReconnectDelay } from './nats-connection.js';
import { actionSubject, DENIAL_SUBJECT_PREFIX, denialSubject, postureSubject } from './nats-subjects.js';
import { JetStreamPublisher, publishPipelined } from './pipelined-publish.js';
import type { SpoolMessage } from './spool-record.js';
import { ensureStream, type StreamWish } from './stream-setup.js';

export interface NatsSinkOptions {
  connection: NatsConnectSettings;
  stream: StreamWish;
  /** Where unacknowledged events wait (in the state directory). */
  spoolDir: string;
  spoolMaxBytes: number;
  spoolSegmentBytes?: number;
  /** Messages awaiting their ack at once. */
  maxInFlight: number;
  ackTimeoutMs: number;
  /** For the connection's name on the server's monitoring pages. */
  node: string;
  log: Logger;
  /** Seconds from the audit timestamp to the JetStream ack, per event (the latency histogram). */
  onAckLatency?: (seconds: number) => void;
}

export interface NatsSinkCounters {
  /** Acknowledged by JetStream, directly or from the spool. */
  published: number;
  /** JetStream already had them (same Nats-Msg-Id within its duplicate window). */
  duplicates: number;
  /** Written to the spool because NATS was unreachable or behind. */
  spooled: number;
  publishFailures: number;
  reconnects: number;
  /** Dropped: larger than the server's max_payload, so no retry could ever publish them. */
  tooLarge: number;
}

const REPLAY_CHUNK_MESSAGES = 2048;
const REPLAY_RETRY_INITIAL_MS = 200;
const REPLAY_RETRY_MAX_MS = 10_000;
const CLOSE_DRAIN_MS = 5_000;
const CONNECT_RETRY_INITIAL_MS = 250;
const CONNECT_RETRY_MAX_MS = 10_000;

/**
 * Delivers events to JetStream, each with `Nats-Msg-Id` = its event id, and resolves a batch only once
 * JetStream acknowledged every event of it — or once the events it could not deliver are fsynced to the
 * spool. Either way the source checkpoint may then move: nothing acknowledged to the chain is ever lost.
 *
 * Order: while the spool holds anything, new batches are appended behind it and a replayer publishes
 * from its head, so events reach the stream in the order they were read. Only with an empty spool and a
 * live connection do batches go straight to NATS.
 *
 * The connection retries forever (the first connect included) in the background; the agent starts and
 * spools while NATS is away.
 */
export class NatsSink implements EventSink {
  readonly name: string;
  readonly counters: NatsSinkCounters = {
    published: 0,
    duplicates: 0,
    spooled: 0,
    publishFailures: 0,
    reconnects: 0,
    tooLarge: 0,
  };
  private spool: DiskSpool | undefined;
  private nc: NatsConnection | undefined;
  private publisher: JetStreamPublisher | undefined;
  private connected = false;
  private streamReady = false;
  private closed = false;
  private deliverLock: Promise<unknown> = Promise.resolve();
  private wakeReplayer: () => void = () => undefined;
  private replayer: Promise<void> = Promise.resolve();
  private connecting: Promise<void> = Promise.resolve();
  private cancelSleep: () => void = () => undefined;
  /** Aborted (and replaced) whenever the connection drops: in-flight pipelines give up on it. */
  private connectionLost = new AbortController();
  private readonly publishWarning: RateLimitedWarning;
  private readonly auditTimes = new AuditTimeReader();

  constructor(private readonly o: NatsSinkOptions) {
    this.name = `nats:${o.connection.url}`;
    this.publishWarning = new RateLimitedWarning(
      o.log,
      'NATS did not acknowledge events; they are in the spool and will be published when it does.',
    );
  }

  /** Whether the client holds a connection to a server now. */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Connected and the stream is there: batches go straight to JetStream (when the spool is empty). */
  get isPublishing(): boolean {
    return this.connected && this.streamReady;
  }

  get spoolBytes(): number {
    return this.spool?.pendingBytes ?? 0;
  }

  get spoolEvents(): number {
    return this.spool?.pendingMessages ?? 0;
  }

  /** The spool's own counters (drops when full, recovered at start), for metrics. */
  get spoolCounters(): DiskSpool['counters'] | undefined {
    return this.spool?.counters;
  }

  /** Opens the spool (so a bad state dir fails the start) and starts connecting without waiting. */
  async open(): Promise<void> {
    const { options, reconnect } = await natsConnectionOptions(this.o.connection, `kernwatch-${this.o.node}`);
    const backoff = new RetryBackoff(CONNECT_RETRY_INITIAL_MS, CONNECT_RETRY_MAX_MS, true);
    const spoolOptions: DiskSpoolOptions = {
      dir: this.o.spoolDir,
      maxBytes: this.o.spoolMaxBytes,
      log: this.o.log.child({ component: 'spool' }),
    };
    if (this.o.spoolSegmentBytes !== undefined) spoolOptions.segmentBytes = this.o.spoolSegmentBytes;
    this.spool = await DiskSpool.open(spoolOptions);
    this.connecting = this.connectLoop(options, backoff, reconnect);
    this.replayer = this.replayLoop().catch((err: unknown) => {
      // Unexpected (a spool read or write failing): logged, and the spool waits for the next start
      // rather than the agent dying on an unhandled rejection.
      this.o.log.error(
        { err },
        'The NATS spool replay stopped; spooled events are published after a restart.',
      );
    });
  }

  deliver(events: readonly KernwatchEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.enqueue(() => events.map((e) => toMessage(e, this.auditTimes)));
  }

  /**
   * Action events on `kernwatch.v1.action.<node>`, through the same acks and spool as denials: the record
   * of what kernwatch did to a pod must survive a NATS outage too.
   */
  deliverActions(events: readonly ActionEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.enqueue(() => events.map(actionMessage));
  }

  /** Posture changes on `kernwatch.v1.posture.<node>`, through the same acks and spool. */
  deliverPosture(events: readonly PostureEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.enqueue(() => events.map(postureMessage));
  }

  private enqueue(messages: () => SpoolMessage[]): Promise<void> {
    const run = this.deliverLock.then(() => this.deliverNow(messages()));
    this.deliverLock = run.catch(() => undefined);
    return run;
  }

  /** Accepting means published or spooled; only a spool that cannot write refuses. */
  healthy(): boolean {
    return this.spool?.writable ?? false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeReplayer();
    this.cancelSleep();
    await this.deliverLock;
    await this.replayer;
    const nc = this.nc;
    if (nc !== undefined && this.connected) {
      // drain() flushes what the client still buffers; bounded, since NATS may be gone.
      await Promise.race([
        nc.drain().catch(() => undefined),
        new Promise((r) => setTimeout(r, CLOSE_DRAIN_MS)),
      ]);
    }
    await nc?.close().catch(() => undefined);
    await this.connecting;
    await this.spool?.close();
    const left = this.spool?.pendingMessages ?? 0;
    if (left > 0)
      this.o.log.info({ events: left }, 'Events left in the spool; they are published after the next start.');
  }

  private async deliverNow(messages: SpoolMessage[]): Promise<void> {
    const spool = this.spool;
    if (spool === undefined) throw new Error('NatsSink.deliver before open()');
    const publisher = this.publisher;
    if (publisher === undefined || !this.connected || !this.streamReady || !spool.isEmpty || this.closed) {
      await spool.append(messages);
      this.counters.spooled += messages.length;
      this.wakeReplayer();
      return;
    }
    const result = await publishPipelined(publisher, messages, this.pipelineOptions());
    this.countPublished(result.ackedCount, result.duplicates);
    this.dropTooLarge(result.tooLarge);
    if (result.ackedCount + result.tooLarge.length === messages.length) return;
    this.counters.publishFailures++;
    this.publishWarning.add(messages.length - result.ackedCount, { err: result.error });
    // Only the unacknowledged ones, in order. Some of them may have reached the stream (an ack lost with
    // the connection): re-publishing them is safe within the stream's duplicate window.
    const unacked = messages.filter((_, i) => result.acked[i] !== true);
    await spool.append(unacked);
    this.counters.spooled += unacked.length;
    this.wakeReplayer();
  }

  private pipelineOptions(): Parameters<typeof publishPipelined>[2] {
    const onAckLatency = this.o.onAckLatency;
    return {
      abandon: this.connectionLost.signal,
      maxInFlight: this.o.maxInFlight,
      ackTimeoutMs: this.o.ackTimeoutMs,
      ...(onAckLatency === undefined
        ? {}
        : {
            onAck: (m: SpoolMessage) => {
              // Only denials carry an audit time; action and posture events carry their own: not in the histogram.
              if (!m.subject.startsWith(DENIAL_SUBJECT_PREFIX)) return;
              onAckLatency(Math.max(0, Date.now() - m.auditMs) / 1000);
            },
          }),
    };
  }

  private countPublished(acked: number, duplicates: number): void {
    this.counters.published += acked;
    this.counters.duplicates += duplicates;
  }

  /** Events no retry can publish: counted and logged, never left to block the spool's head. */
  private dropTooLarge(ids: readonly string[]): void {
    if (ids.length === 0) return;
    this.counters.tooLarge += ids.length;
    this.o.log.error(
      { events: ids.length, ids: ids.slice(0, 5) },
      "Events larger than the NATS server's max_payload were dropped; raise max_payload on the server.",
    );
  }

  /** Publishes the spool from its head whenever there is a connection and something to publish. */
  private async replayLoop(): Promise<void> {
    const retry = new RetryBackoff(REPLAY_RETRY_INITIAL_MS, REPLAY_RETRY_MAX_MS, true);
    let delayMs: number | undefined;
    while (!this.closed) {
      await new Promise<void>((resolve) => {
        const timer = delayMs === undefined ? undefined : setTimeout(resolve, delayMs);
        this.wakeReplayer = () => {
          if (timer !== undefined) clearTimeout(timer);
          resolve();
        };
      });
      this.wakeReplayer = () => undefined;
      delayMs = undefined;
      const spool = this.spool;
      while (!this.closed && spool !== undefined && !spool.isEmpty) {
        const publisher = this.publisher;
        if (publisher === undefined || !this.connected) break;
        if (!this.streamReady) {
          await this.ensureStream();
          if (!this.streamReady) {
            delayMs = retry.next();
            break;
          }
        }
        const chunk = await spool.read(REPLAY_CHUNK_MESSAGES);
        // The connection may have dropped during the awaits above; publishing now would wait out the
        // ack timeout on a signal that already fired.
        if (chunk === undefined || !this.connected) break;
        const result = await publishPipelined(publisher, chunk.messages, this.pipelineOptions());
        let prefix = 0;
        while (prefix < chunk.messages.length && result.acked[prefix] === true) prefix++;
        // Counted before the spool's cursor is saved: the acks are the fact, and the spool shows the
        // messages as consumed before that save returns.
        this.countPublished(result.ackedCount, result.duplicates);
        this.dropTooLarge(result.tooLarge);
        await spool.consume(chunk, prefix);
        if (prefix < chunk.messages.length) {
          this.counters.publishFailures++;
          this.publishWarning.add(chunk.messages.length - result.ackedCount, { err: result.error });
          // Acked messages after the first failure are published again next time; JetStream drops them
          // as duplicates. The stream may be gone, too: look again before the next attempt.
          this.streamReady = false;
          delayMs = retry.next();
          break;
        }
        retry.reset();
      }
    }
  }

  private async ensureStream(): Promise<void> {
    const nc = this.nc;
    if (nc === undefined || this.streamReady) return;
    try {
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      await ensureStream(jsm, this.o.stream, this.o.log);
      this.streamReady = true;
    } catch (err) {
      this.o.log.error(
        { err, stream: this.o.stream.name },
        'Cannot set up the NATS stream; events stay in the spool.',
      );
    }
  }

  /**
   * The first connection is retried here rather than by the client (`waitOnFirstConnect`): its promise
   * cannot be cancelled, and an agent told to stop must stop. A connection the client gives up on
   * (closed by the server for good) is replaced the same way.
   */
  private async connectLoop(
    options: ConnectionOptions,
    backoff: RetryBackoff,
    reconnect: ReconnectDelay,
  ): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      let nc: NatsConnection;
      try {
        nc = await connect(options);
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0)
          this.o.log.error(
            { err, attempts: failures },
            'Cannot connect to NATS; events stay in the spool until it is reachable.',
          );
        await this.sleep(backoff.next());
        continue;
      }
      if (this.closed) {
        await nc.close().catch(() => undefined);
        return;
      }
      failures = 0;
      backoff.reset();
      this.nc = nc;
      this.publisher = new JetStreamPublisher(nc, this.o.stream.name);
      this.connected = true;
      this.o.log.info({ server: nc.getServer() }, 'Connected to NATS.');
      void this.ensureStream().then(() => {
        this.wakeReplayer();
      });
      void this.watchStatus(nc, reconnect);
      await nc.closed();
      this.connected = false;
      this.dropConnection();
      this.streamReady = false;
      if (!this.closed) this.o.log.warn('The NATS connection was closed; connecting again.');
    }
  }

  private dropConnection(): void {
    this.connectionLost.abort();
    this.connectionLost = new AbortController();
  }

  /** A sleep that close() cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const previous = this.cancelSleep;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.cancelSleep = () => {
        previous();
        done();
      };
    });
  }

  private async watchStatus(nc: NatsConnection, reconnect: ReconnectDelay): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          if (this.connected)
            this.o.log.warn({ server: s.server }, 'Lost the NATS connection; spooling events.');
          this.connected = false;
          reconnect.disconnected();
          // Messages in flight will get no ack on this connection: spool them now, not after the timeout.
          this.dropConnection();
          break;
        case 'reconnect':
          this.connected = true;
          this.counters.reconnects++;
          reconnect.connected();
          this.o.log.info({ server: s.server }, 'Reconnected to NATS; publishing the spool.');
          this.wakeReplayer();
          break;
        case 'close':
          this.connected = false;
          return;
        default:
          break;
      }
    }
  }
}

function postureMessage(e: PostureEvent): SpoolMessage {
  return {
    subject: postureSubject(e.node),
    id: e.id,
    auditMs: Date.parse(e.time),
    data: Buffer.from(postureEventToJson(e)),
  };
}

function actionMessage(e: ActionEvent): SpoolMessage {
  return {
    subject: actionSubject(e.node),
    id: e.id,
    auditMs: Date.parse(e.time),
    data: Buffer.from(actionEventToJson(e)),
  };
}

function toMessage(e: KernwatchEvent, times: AuditTimeReader): SpoolMessage {
  return {
    subject: denialSubject(e.node, e.kind, e.pod?.namespace),
    id: e.id,
    auditMs: times.ms(e.time),
    data: Buffer.from(eventToJson(e)),
  };
}
