import type { JetStreamClient } from '@nats-io/jetstream';
import type { SpoolMessage } from './spool-record.js';

export interface PipelineResult {
  /** acked[i]: JetStream stored message i (or already had it: a duplicate by Nats-Msg-Id). */
  acked: boolean[];
  ackedCount: number;
  duplicates: number;
  /** The first failure, when not everything was acknowledged. */
  error: unknown;
}

export interface PipelineOptions {
  stream: string;
  maxInFlight: number;
  ackTimeoutMs: number;
  /** Called once per acknowledged message (latency metric). */
  onAck?: (m: SpoolMessage) => void;
  /**
   * Resolves when the connection is known to be gone: the pipeline then gives up at once instead of
   * waiting out the ack timeout of every message in flight (which would hold the chain for seconds).
   */
  abandon?: Promise<unknown>;
}

/**
 * Publishes in order with up to `maxInFlight` messages awaiting their JetStream ack: one round trip per
 * message would cap delivery at a few thousand events per second. After the first failure nothing new is
 * sent (the connection is probably gone) but the messages already in flight are waited for, so the
 * result says exactly which ones JetStream has.
 */
export function publishPipelined(
  js: JetStreamClient,
  messages: readonly SpoolMessage[],
  o: PipelineOptions,
): Promise<PipelineResult> {
  const result: PipelineResult = {
    acked: new Array<boolean>(messages.length).fill(false),
    ackedCount: 0,
    duplicates: 0,
    error: undefined,
  };
  if (messages.length === 0) return Promise.resolve(result);
  return new Promise((resolve) => {
    let next = 0;
    let inFlight = 0;
    let failed = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      // A snapshot: acks arriving after an abandon must not change what the caller already spooled.
      resolve({ ...result, acked: [...result.acked] });
    };
    void o.abandon?.then(() => {
      if (done) return;
      failed = true;
      result.error ??= new Error('the NATS connection was lost with messages awaiting their ack');
      finish();
    });
    const launch = (): void => {
      while (!failed && inFlight < o.maxInFlight && next < messages.length) {
        const i = next++;
        const m = messages[i];
        if (m === undefined) continue;
        inFlight++;
        js.publish(m.subject, m.data, {
          msgID: m.id,
          timeout: o.ackTimeoutMs,
          // A publish must land in kernwatch's stream, not in another that happens to capture the subject.
          expect: { streamName: o.stream },
        }).then(
          (ack) => {
            if (done) return;
            result.acked[i] = true;
            result.ackedCount++;
            if (ack.duplicate) result.duplicates++;
            o.onAck?.(m);
            settle();
          },
          (err: unknown) => {
            if (done) return;
            if (!failed) result.error = err;
            failed = true;
            settle();
          },
        );
      }
    };
    const settle = (): void => {
      inFlight--;
      if (inFlight === 0 && (failed || next >= messages.length)) finish();
      else launch();
    };
    launch();
  });
}
