import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsSinkConfig } from '../config/config-schema.js';
import { ERROR_CODES, KernwatchError } from '../errors.js';
import { natsConnectionOptions } from '../sinks/nats/nats-connection.js';
import { postureSubject } from '../sinks/nats/nats-subjects.js';
import { ensureStream } from '../sinks/nats/stream-setup.js';
import type { Logger } from '../telemetry/logger.js';
import { postureEventToJson, type PostureEvent } from './posture-event.js';

/**
 * `kernwatch posture --nats`: one connection, each event published with its id and awaited until
 * JetStream acknowledges it. A one-shot command has no spool to fall back on, so a failure is an error the
 * operator sees (exit 1), never a silent loss.
 */
export async function publishPostureEvents(
  sink: NatsSinkConfig,
  node: string,
  events: readonly PostureEvent[],
  log: Logger,
): Promise<void> {
  const { options } = await natsConnectionOptions(sink, `kernwatch-posture-${node}`);
  let nc;
  try {
    nc = await connect({ ...options, maxReconnectAttempts: 0, reconnect: false });
  } catch (err) {
    throw new KernwatchError(ERROR_CODES.sink, `Cannot connect to NATS at ${sink.url}`, { cause: err });
  }
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStream(
      jsm,
      { name: sink.stream, duplicateWindowMs: sink.duplicateWindow, maxAgeMs: sink.maxAge },
      log,
    );
    const js = jsm.jetstream();
    for (const e of events) {
      await js.publish(postureSubject(node), postureEventToJson(e), {
        msgID: e.id,
        expect: { streamName: sink.stream },
      });
    }
  } catch (err) {
    if (err instanceof KernwatchError) throw err;
    throw new KernwatchError(ERROR_CODES.sink, `Cannot publish posture events to NATS at ${sink.url}`, {
      cause: err,
    });
  } finally {
    await nc.close();
  }
}
