import { hostname } from 'node:os';
import type { Writable } from 'node:stream';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  type StreamInfo,
} from '@nats-io/jetstream';
import {
  AuthorizationError,
  connect,
  nanos,
  nuid,
  UserAuthenticationExpiredError,
  type ConnectionOptions,
  type NatsConnection,
} from '@nats-io/transport-node';
import { loadConfig } from '../config/config-loader.js';
import { ConfigError, ERROR_CODES, KernwatchError } from '../errors.js';
import { RetryBackoff } from '../retry-backoff.js';
import { natsConnectionOptions, type ReconnectDelay } from '../sinks/nats/nats-connection.js';
import { denialFilterSubject } from '../sinks/nats/nats-subjects.js';
import { natsSinkOf, resolveWatchConnection, type WatchConnection, type WatchOptions } from './watch-args.js';
import { jsonLine, parseWatchedEvent, printable, watchLine } from './watch-line.js';

/** NATS could not be used at all (it refused the connection, or closed it for good): exit 1. */
export class WatchFailedError extends KernwatchError {
  constructor(message: string, options?: { cause?: unknown }) {
    // For `watch`, NATS is where events come from: its source.
    super(ERROR_CODES.source, message, options);
  }
}

export interface WatchIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

/** Between attempts at a first connection. */
const CONNECT_RETRY_INITIAL_MS = 250;
const CONNECT_RETRY_MAX_MS = 5_000;
/** Between looks for a stream that does not exist (yet): an agent creates it when it starts. */
const STREAM_RETRY_INITIAL_MS = 500;
const STREAM_RETRY_MAX_MS = 10_000;
/** The helper consumer that turns --since into a stream sequence removes itself if we cannot. */
const START_PROBE_INACTIVE_MS = 10_000;
/**
 * A consumer left behind (the watch killed, the network gone) is removed by the server after this long
 * without a pull; a watch that comes back later makes a new one from where it was.
 */
const CONSUMER_INACTIVE_MS = 60_000;
const CONSUMER_DELETE_WAIT_MS = 1_000;

/**
 * `kernwatch watch`: follows the denial subjects of the stream with an ordered consumer (ephemeral, in
 * memory, made anew after a reconnect) and prints one line per event until SIGINT or SIGTERM. Resolves 0
 * when stopped; throws ConfigError (exit 2) or WatchFailedError (exit 1).
 */
export async function runWatch(
  options: WatchOptions,
  io: WatchIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const connection = await watchConnection(options, io.env);
  const session = new WatchSession(options, connection, io);
  return session.run();
}

async function watchConnection(options: WatchOptions, env: NodeJS.ProcessEnv): Promise<WatchConnection> {
  if (options.configPath === undefined) return resolveWatchConnection(options.connection, undefined, env);
  const config = await loadConfig(options.configPath, {}, env);
  const sink = natsSinkOf(config.sinks);
  if (sink === undefined && options.connection.url === undefined)
    throw new ConfigError(`${options.configPath} has no nats sink; give the server with --nats URL.`);
  return resolveWatchConnection(options.connection, sink, env);
}

class WatchSession {
  private readonly url: string;
  private readonly stream: string;
  private readonly filterSubject: string;
  private readonly decoder = new TextDecoder();
  private readonly colour: boolean;
  private stopping = false;
  private failure: Error | undefined;
  /** Waits that a stop cuts short (sleeps, a drain, a connection attempt); each removes itself when done. */
  private readonly wakers = new Set<() => void>();
  private messages: ConsumerMessages | undefined;
  /** The first stream sequence not yet shown: where a consumer made anew starts. */
  private resumeAt: number | undefined;
  private lastRetryNotice = '';
  /** Removes the current consumer (best effort); replaced with each new consumer. */
  private deleteConsumer: () => Promise<void> = () => Promise.resolve();

  constructor(
    private readonly options: WatchOptions,
    private readonly connection: WatchConnection,
    private readonly io: WatchIo,
  ) {
    this.url = connection.settings.url;
    this.stream = connection.stream;
    this.filterSubject = denialFilterSubject(options.filter);
    // Colour only for a person at a terminal; https://no-color.org opts out.
    this.colour = !options.json && io.stdout.isTTY === true && io.env.NO_COLOR === undefined;
  }

  async run(): Promise<number> {
    const { options: connectOptions, reconnect } = await natsConnectionOptions(
      this.connection.settings,
      `kernwatch-watch@${hostname()}`,
      this.io.env,
    );
    const onSignal = (): void => {
      this.stop();
    };
    // Stays attached after the session: a write still queued when it ended may fail too.
    this.io.stdout.on('error', (err: NodeJS.ErrnoException) => {
      // `kernwatch watch | head` closes the pipe: the reader has what it wanted, which is not a failure;
      // the writes after it fail as well (stream destroyed) and are no news.
      if (this.stopping) return;
      if (err.code !== 'EPIPE')
        this.fail(new WatchFailedError(`Cannot write to stdout: ${err.message}`, { cause: err }));
      this.stop();
    });
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let nc: NatsConnection | undefined;
    try {
      while (!this.stopping) {
        nc = await this.connect(connectOptions);
        if (nc === undefined) break;
        const open = nc;
        void this.reportConnection(open, reconnect);
        const closed = open.closed().then((err) => {
          // Closed by us when stopping; otherwise the client gave up on this connection for good.
          if (this.stopping) return undefined;
          void this.messages?.close();
          return err ?? undefined;
        });
        await this.follow(open);
        if (this.stopping) break;
        const err = await closed;
        this.notice(
          `NATS at ${this.url} closed the connection${err === undefined ? '' : ` (${printable(err.message)})`}; connecting again.`,
        );
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // stop() closed the messages; not awaited, since messages nobody iterates any more never report
      // that they are closed.
      this.stop();
      if (nc !== undefined && !nc.isClosed()) {
        // Tidy, not needed (the server removes it after CONSUMER_INACTIVE_MS): not worth a wait when
        // NATS does not answer.
        await Promise.race([this.deleteConsumer(), delay(CONSUMER_DELETE_WAIT_MS)]);
        await nc.close();
      }
    }
    if (this.failure !== undefined) throw this.failure;
    return 0;
  }

  private stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const wake of [...this.wakers]) wake();
    // Ends the `for await` over the messages.
    void this.messages?.close();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.stop();
  }

  private notice(text: string): void {
    this.io.stderr.write(`kernwatch watch: ${text}\n`);
  }

  /**
   * A connection, retried until there is one (natsConnectionOptions leaves the first connection to the
   * caller, whose retries a stop can cut short); undefined when stopped first. A refused login ends the
   * watch: a person typed the credentials and is waiting for the answer, unlike an agent that must ride
   * out a credential rotation.
   */
  private async connect(connectOptions: ConnectionOptions): Promise<NatsConnection | undefined> {
    // Not the backoff of natsConnectionOptions: the client asks that one for a delay on every pass of its
    // dial loop, a failed first connect included, so it would be far along before our first retry.
    const retry = new RetryBackoff(CONNECT_RETRY_INITIAL_MS, CONNECT_RETRY_MAX_MS, true);
    let said = '';
    while (!this.stopping) {
      const connecting = connect(connectOptions);
      try {
        await this.untilStopped((done) => {
          connecting.then(done, done);
          return noop;
        });
        if (this.stopping) {
          // The attempt goes on in the client; close what it may still produce.
          connecting.then((late) => late.close(), noop).catch(noop);
          return undefined;
        }
        const nc = await connecting;
        if (said !== '') this.notice(`connected to NATS at ${this.url}.`);
        return nc;
      } catch (err) {
        if (err instanceof AuthorizationError || err instanceof UserAuthenticationExpiredError)
          throw new WatchFailedError(`NATS at ${this.url} refused the connection: ${err.message}`, {
            cause: err,
          });
        const reason = err instanceof Error ? printable(err.message) : String(err);
        // Once per reason: the retries go on quietly.
        if (reason !== said) this.notice(`cannot reach NATS at ${this.url} yet (${reason}); still trying.`);
        said = reason;
        await this.sleep(retry.next());
      }
    }
    return undefined;
  }

  private async reportConnection(nc: NatsConnection, reconnect: ReconnectDelay): Promise<void> {
    // A server error repeats on every reconnect attempt (a refused login is retried): say it once.
    let lastError = '';
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          reconnect.disconnected();
          this.notice(`disconnected from NATS at ${s.server}; reconnecting.`);
          break;
        case 'reconnect':
          reconnect.connected();
          lastError = '';
          this.notice(`reconnected to NATS at ${s.server}.`);
          break;
        case 'ldm':
          this.notice(`NATS at ${s.server} is shutting down (lame duck mode).`);
          break;
        case 'error': {
          const message = printable(s.error.message);
          if (message !== lastError) this.notice(`NATS reported an error: ${message}`);
          lastError = message;
          break;
        }
        default:
          break;
      }
    }
  }

  /**
   * Consumers one after another, each from where the last stopped, until stopped. This is the ordered
   * consumer of the NATS clients (ephemeral, in memory, no acks, made anew at the first sequence not yet
   * shown whenever it is lost or skips a message), kept here rather than taken from @nats-io/jetstream
   * 3.4: checked against nats-server 2.9.10, that one stalls after re-creating itself (its next pull asks
   * for `batch: 0`, counting the pull the server forgot as still pending), and before its first message
   * it re-creates itself from sequence 1 (with deliver_policy new: a replay of the whole stream) or with
   * a config the server refuses (opt_start_time left in with by_start_sequence: it never recovers).
   */
  private async follow(nc: NatsConnection): Promise<void> {
    // No account check at start: JetStream may still be recovering after a restart, and every call
    // below retries anyway.
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const js = jsm.jetstream();
    const retry = new RetryBackoff(STREAM_RETRY_INITIAL_MS, STREAM_RETRY_MAX_MS);
    const sinceTime =
      this.options.sinceMs === undefined ? undefined : new Date(Date.now() - this.options.sinceMs);
    const namePrefix = `kernwatch_watch_${nuid.next()}`;
    let generation = 0;
    // Sticky: decides where a first consumer starts. The notice is said again for each absence.
    let streamWasMissing = false;
    let missingSaid = false;
    while (!this.stopping && !nc.isClosed()) {
      const resuming = this.resumeAt !== undefined;
      let messages: ConsumerMessages;
      let startSeq: number;
      try {
        const info = await jsm.streams.info(this.stream);
        startSeq = await this.startSequence(jsm, info, sinceTime, streamWasMissing);
        // The last one is usually gone already (a restart, or the server removed it); if not, it
        // would linger until its inactivity threshold.
        void this.deleteConsumer();
        generation++;
        const consumer = await jsm.consumers.add(this.stream, {
          name: `${namePrefix}_${String(generation)}`,
          // The singular field: nats-server 2.9 knows no `filter_subjects` (2.10), and the client
          // refuses to send that array to it.
          filter_subject: this.filterSubject,
          // A sequence rather than deliver_policy new or a start time: a consumer made anew must start
          // exactly after the last event shown, however often that happens.
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: startSeq,
          ack_policy: AckPolicy.None,
          mem_storage: true,
          num_replicas: 1,
          inactive_threshold: nanos(CONSUMER_INACTIVE_MS),
        });
        this.deleteConsumer = () => jsm.consumers.delete(this.stream, consumer.name).then(noop, noop);
        messages = await js.consumers.getConsumerFromInfo(consumer).consume();
      } catch (err) {
        if (nc.isClosed()) break;
        if (isStreamNotFound(err)) {
          if (!missingSaid)
            this.notice(`no stream ${this.stream} on ${this.url}; is an agent publishing? Waiting for it.`);
          streamWasMissing = true;
          missingSaid = true;
        } else {
          this.retryNotice(
            `cannot follow stream ${this.stream} on ${this.url} (${err instanceof Error ? printable(err.message) : String(err)}); retrying.`,
          );
        }
        await this.sleep(retry.next());
        continue;
      }
      this.messages = messages;
      if (this.stopping) break;
      retry.reset();
      this.lastRetryNotice = '';
      missingSaid = false;
      this.resumeAt = startSeq;
      // The first notice says what is followed; after a loss, the notice of the loss said where it goes on.
      if (!resuming) {
        const from =
          sinceTime !== undefined
            ? `since ${sinceTime.toISOString()}`
            : streamWasMissing
              ? 'from its first event'
              : 'new events only';
        this.notice(`following ${this.stream} on ${this.url}: ${this.filterSubject}, ${from}.`);
      }
      const lost = this.watchConsumer(messages);
      let why = await this.showAll(messages);
      why ??= lost.reason;
      this.messages = undefined;
      if (this.stopping || nc.isClosed()) break;
      this.notice(
        `${why ?? 'the consumer ended'}; going on from stream sequence ${String(this.resumeAt ?? startSeq)}.`,
      );
      await this.sleep(retry.next());
    }
  }

  /** Shows messages until the consumer ends; says why when it was a gap in the deliveries. */
  private async showAll(messages: ConsumerMessages): Promise<string | undefined> {
    // With no acks, the server sends each message once: a delivery sequence that jumps means the client
    // dropped messages (a slow consumer), and only a new consumer from the last one shown gets them back.
    let expected = 1;
    try {
      for await (const m of messages) {
        if (m.info.deliverySequence !== expected)
          return `missed deliveries ${String(expected)} to ${String(m.info.deliverySequence - 1)}`;
        expected++;
        await this.show(m);
        this.resumeAt = m.seq + 1;
      }
    } catch (err) {
      return `the consumer failed (${err instanceof Error ? printable(err.message) : String(err)})`;
    } finally {
      await messages.close();
    }
    return undefined;
  }

  /**
   * Ends the messages when the consumer is gone: after a server restart (it lived in memory), when the
   * server removed it, or with its stream. The client would only keep asking for it.
   */
  private watchConsumer(messages: ConsumerMessages): { reason: string | undefined } {
    const lost: { reason: string | undefined } = { reason: undefined };
    void (async () => {
      for await (const s of messages.status()) {
        if (
          s.type === 'consumer_not_found' ||
          s.type === 'consumer_deleted' ||
          s.type === 'stream_not_found'
        ) {
          lost.reason =
            s.type === 'stream_not_found' ? `the stream ${this.stream} is gone` : 'the consumer is gone';
          await messages.close();
          return;
        }
      }
    })();
    return lost;
  }

  /**
   * The first stream sequence to show. Once something was followed, where it stopped (unless the stream
   * was made anew and is shorter now: then all of it is new). Otherwise: the first message at or after
   * --since; or, when the stream appeared while we waited, its first message (everything in it is newer
   * than the watch); or what comes next.
   */
  private async startSequence(
    jsm: JetStreamManager,
    info: StreamInfo,
    sinceTime: Date | undefined,
    streamWasMissing: boolean,
  ): Promise<number> {
    const { first_seq: first, last_seq: last } = info.state;
    if (this.resumeAt !== undefined) return this.resumeAt <= last + 1 ? this.resumeAt : Math.max(1, first);
    if (sinceTime !== undefined) return sequenceAtTime(jsm, this.stream, sinceTime);
    if (streamWasMissing) return Math.max(1, first);
    return last + 1;
  }

  private async show(m: JsMsg): Promise<void> {
    // Messages already received when a stop came (or stdout went away) are not written.
    if (this.stopping) return;
    const text = this.decoder.decode(m.data);
    const parsed = parseWatchedEvent(text);
    if (!parsed.ok) {
      this.notice(
        `skipped message ${m.seq} on ${printable(m.subject)}: ${parsed.reason} (not a kernwatch.v1 event).`,
      );
      return;
    }
    const out = this.options.json ? jsonLine(m.data, text) : watchLine(parsed.event, { colour: this.colour });
    // A slow reader (a pager, a full pipe) holds the consumer back instead of filling memory.
    if (!this.io.stdout.write(out)) await this.drained();
  }

  private drained(): Promise<void> {
    return this.untilStopped((done) => {
      this.io.stdout.once('drain', done);
      return () => this.io.stdout.off('drain', done);
    });
  }

  /** One notice per distinct problem: a retry loop must not repeat the same line every few seconds. */
  private retryNotice(text: string): void {
    if (text === this.lastRetryNotice) return;
    this.lastRetryNotice = text;
    this.notice(text);
  }

  private sleep(ms: number): Promise<void> {
    return this.untilStopped((done) => {
      const timer = setTimeout(done, ms);
      return () => {
        clearTimeout(timer);
      };
    });
  }

  /**
   * Resolves when `start` calls its `done`, or at once on stop; either way `start`'s cleanup runs and
   * nothing stays registered (a watch may run for weeks through many slow readers and retries).
   */
  private untilStopped(start: (done: () => void) => () => void): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping) {
        resolve();
        return;
      }
      let cleanup: () => void = noop;
      let finished = false;
      const done = (): void => {
        if (finished) return;
        finished = true;
        this.wakers.delete(done);
        cleanup();
        resolve();
      };
      this.wakers.add(done);
      cleanup = start(done);
      // `start` may have called done before its cleanup existed.
      if (finished) cleanup();
    });
  }
}

/**
 * The first stream sequence at or after `time`. nats-server 2.9 has no "message at time" request (direct
 * get by start_time is 2.11), but a consumer created with that start time computes it: its info reports
 * `delivered.stream_seq` one below its starting sequence before anything was delivered. The probe takes no
 * messages and is deleted at once (and would expire by itself).
 */
async function sequenceAtTime(jsm: JetStreamManager, stream: string, time: Date): Promise<number> {
  const probe = await jsm.consumers.add(stream, {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: time.toISOString(),
    ack_policy: AckPolicy.None,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: nanos(START_PROBE_INACTIVE_MS),
  });
  jsm.consumers.delete(stream, probe.name).catch(() => undefined);
  return probe.delivered.stream_seq + 1;
}

function noop(): void {
  // Nothing to do: the result of a best-effort request.
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}
