import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';

export interface StoredMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  json: Record<string, unknown>;
}

/**
 * Everything the stream holds, in stream order, read with an ordered consumer (what a security team's
 * consumer would do). Tests count ids in it: exactly once means each id once and none missing.
 */
export async function readStream(
  url: string,
  stream = 'KERNWATCH',
  options: Partial<ConnectionOptions> = {},
): Promise<StoredMessage[]> {
  const nc = await connect({ servers: url, ...options });
  try {
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info(stream)).state.messages;
    const out: StoredMessage[] = [];
    if (total === 0) return out;
    const consumer = await jetstream(nc).consumers.get(stream);
    const messages = await consumer.consume({ max_messages: 1024 });
    for await (const m of messages) {
      out.push({
        seq: m.seq,
        subject: m.subject,
        msgId: m.headers?.get('Nats-Msg-Id'),
        json: m.json<Record<string, unknown>>(),
      });
      if (m.info.pending === 0 && out.length >= total) break;
    }
    await messages.close();
    return out;
  } finally {
    await nc.close();
  }
}

/** How many messages the stream holds (0 when it does not exist). */
export async function streamMessageCount(
  url: string,
  stream = 'KERNWATCH',
  options: Partial<ConnectionOptions> = {},
): Promise<number> {
  const nc = await connect({ servers: url, ...options });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(stream)).state.messages;
  } catch {
    return 0;
  } finally {
    await nc.close();
  }
}
