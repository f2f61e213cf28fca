import { ERROR_CODES, KernwatchError } from '../../errors.js';
import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import type { SpoolMessage } from './spool-record.js';

export interface PipelineResult {
  /**
   * acked[i]: message i is settled: JetStream stored it (or already had it: a duplicate by Nats-Msg-Id),
   * or it can never be published (in `tooLarge`).
   */
  acked: boolean[];
  ackedCount: number;
  duplicates: number;
  /** Ids of the messages the connection refused as larger than the server's max_payload: never publishable. */
  tooLarge: string[];
  /** The first failure, when not everything was acknowledged. */
  error: unknown;
}

export interface PipelineOptions {
  maxInFlight: number;
  /** Without any ack for this long, the messages still in flight count as failed. */
  ackTimeoutMs: number;
  /** Called once per acknowledged message (latency metric). */
  onAck?: (m: SpoolMessage) => void;
  /**
   * Aborts when the connection is known to be gone: the pipeline then gives up at once instead of
   * waiting out the ack timeout (which would hold the chain for seconds). A signal rather than a promise:
   * the pipeline's listener is removed when it finishes, whereas a reaction on a promise that stays
   * pending for the connection's life kept every finished pipeline and its messages alive until the
   * connection dropped (the agent's RSS grew by the size of everything it published).
   */
  abandon?: AbortSignal;
}

type AckHandler = (error: Error | undefined, duplicate: boolean) => void;

/**
 * JetStream publishing with acks collected on one wildcard inbox subscription. The client's own
 * `js.publish` makes a request per message (a promise, a timer and a mux entry each), which caps a
 * 2-core node at about 15k messages/s; plain publishes with a reply subject and one subscription reach
 * several times that, leaving the bus itself as the limit. Each message carries `Nats-Msg-Id` (dedup)
 * and `Nats-Expected-Stream` (it must land in kernwatch's stream, not in another capturing the subject).
 */
export class JetStreamPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<string, AckHandler>();
  private next = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
  ) {
    this.prefix = createInbox();
    this.sub = nc.subscribe(`${this.prefix}.*`, {
      callback: (err, msg) => {
        if (err === null) this.onReply(msg);
      },
    });
  }

  /** Messages sent and not yet answered (a bound for the caller). */
  get inFlight(): number {
    return this.waiting.size;
  }

  /** Sends one message; returns its token (for `forget`). */
  send(m: SpoolMessage, onAck: AckHandler): string {
    const token = (this.next++).toString(36);
    const h = headers();
    h.set('Nats-Msg-Id', m.id);
    h.set('Nats-Expected-Stream', this.stream);
    this.waiting.set(token, onAck);
    try {
      this.nc.publish(m.subject, m.data, { headers: h, reply: `${this.prefix}.${token}` });
    } catch (err) {
      this.waiting.delete(token);
      const error = isMaxPayload(err)
        ? new MessageTooLargeError(m.id, err)
        : err instanceof Error
          ? err
          : new Error(String(err));
      // Answered later, never from inside send(): the caller has not got the token back yet.
      queueMicrotask(() => {
        onAck(error, false);
      });
    }
    return token;
  }

  /** Forgets the handlers of messages given up on (their late acks are ignored). */
  forget(tokens: readonly string[]): void {
    for (const t of tokens) this.waiting.delete(t);
  }

  close(): void {
    this.sub.unsubscribe();
    this.waiting.clear();
  }

  private onReply(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length + 1);
    const handler = this.waiting.get(token);
    if (handler === undefined) return;
    this.waiting.delete(token);
    // A status reply with no body: 503 means no stream captures the subject (no responders).
    if (msg.headers?.hasError === true) {
      handler(new Error(`JetStream answered ${String(msg.headers.code)} ${msg.headers.description}`), false);
      return;
    }
    let ack: unknown;
    try {
      ack = JSON.parse(msg.string());
    } catch {
      handler(new Error('JetStream sent an ack that is not JSON'), false);
      return;
    }
    if (typeof ack !== 'object' || ack === null) {
      handler(new Error('JetStream sent an empty ack'), false);
      return;
    }
    if ('error' in ack) {
      const e = ack.error as { code?: number; description?: string } | undefined;
      handler(
        new Error(`JetStream refused the message: ${e?.description ?? 'unknown'} (${String(e?.code)})`),
        false,
      );
      return;
    }
    handler(undefined, 'duplicate' in ack && ack.duplicate === true);
  }
}

/** A message the connection refuses outright: larger than the server's max_payload. Retrying cannot help. */
export class MessageTooLargeError extends KernwatchError {
  constructor(
    readonly messageId: string,
    cause: unknown,
  ) {
    super(ERROR_CODES.sink, `Event ${messageId} is larger than the NATS server's max_payload`, { cause });
  }
}

/** nats.js throws `max_payload size exceeded` from publish() before anything is sent. */
function isMaxPayload(err: unknown): boolean {
  return err instanceof Error && err.message.includes('max_payload');
}

/**
 * Publishes in order with up to `maxInFlight` messages awaiting their ack. After the first failure
 * nothing new is sent (the connection is probably gone) but the messages in flight are waited for, so
 * the result says exactly which ones JetStream has.
 */
export function publishPipelined(
  publisher: JetStreamPublisher,
  messages: readonly SpoolMessage[],
  o: PipelineOptions,
): Promise<PipelineResult> {
  const result: PipelineResult = {
    acked: new Array<boolean>(messages.length).fill(false),
    ackedCount: 0,
    duplicates: 0,
    tooLarge: [],
    error: undefined,
  };
  if (messages.length === 0) return Promise.resolve(result);
  return new Promise((resolve) => {
    let next = 0;
    let inFlight = 0;
    let failed = false;
    let done = false;
    let lastProgress = performance.now();
    const pending = new Set<string>();
    const finish = (): void => {
      if (done) return;
      done = true;
      clearInterval(watchdog);
      o.abandon?.removeEventListener('abort', onAbandon);
      // Given up on: their acks may never come (the connection is gone), so nothing may wait for them.
      if (pending.size > 0) publisher.forget([...pending]);
      // A snapshot: acks arriving later must not change what the caller already spooled.
      resolve({ ...result, acked: [...result.acked] });
    };
    const giveUp = (error: Error): void => {
      if (done) return;
      failed = true;
      result.error ??= error;
      finish();
    };
    // One timer per pipeline, not one per message: the ack timeout counts from the last progress.
    const watchdog = setInterval(
      () => {
        if (performance.now() - lastProgress >= o.ackTimeoutMs)
          giveUp(new Error(`no JetStream ack for ${String(o.ackTimeoutMs)} ms`));
      },
      Math.max(10, Math.floor(o.ackTimeoutMs / 4)),
    );
    const onAbandon = (): void => {
      giveUp(new Error('the NATS connection was lost with messages awaiting their ack'));
    };
    if (o.abandon?.aborted === true) onAbandon();
    else o.abandon?.addEventListener('abort', onAbandon, { once: true });
    const launch = (): void => {
      while (!failed && inFlight < o.maxInFlight && next < messages.length) {
        const i = next++;
        const m = messages[i];
        if (m === undefined) continue;
        inFlight++;
        const token = publisher.send(m, (error, duplicate) => {
          if (done) return;
          pending.delete(token);
          inFlight--;
          lastProgress = performance.now();
          if (error === undefined) {
            result.acked[i] = true;
            result.ackedCount++;
            if (duplicate) result.duplicates++;
            o.onAck?.(m);
          } else if (error instanceof MessageTooLargeError) {
            // Settled, not failed: re-sending it would fail the same way and hold back everything behind it.
            result.acked[i] = true;
            result.tooLarge.push(m.id);
          } else {
            if (!failed) result.error = error;
            failed = true;
          }
          if (inFlight === 0 && (failed || next >= messages.length)) finish();
          else launch();
        });
        if (!done && inFlight > 0) pending.add(token);
      }
    };
    launch();
  });
}
