import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  natsConnectionOptions,
  natsServers,
  type NatsConnectSettings,
} from '../sinks/nats/nats-connection.js';
import { streamDifferences } from '../sinks/nats/stream-setup.js';
import { STREAM_SUBJECTS } from '../sinks/nats/nats-subjects.js';
import { CHECK_ID, fail, oneLine, pass, warn, type CheckResult } from './doctor-types.js';

/**
 * Can events reach NATS JetStream: connect with the nats sink's own settings (authentication, TLS), one
 * attempt with a short timeout, then ask JetStream about the configured stream. A missing stream is a
 * warn (the agent creates it at start); a stream that does not capture kernwatch's subjects is a fail.
 */

export interface NatsTarget {
  settings: NatsConnectSettings;
  stream: string;
  duplicateWindowMs: number;
  maxAgeMs: number;
}

export interface NatsCheckOptions {
  target: NatsTarget | undefined;
  /** The other sinks, for the detail when no NATS is configured, e.g. ['stdout']. */
  otherSinks: readonly string[];
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

export async function natsCheck(o: NatsCheckOptions): Promise<CheckResult> {
  const id = CHECK_ID.nats;
  const target = o.target;
  if (target === undefined) {
    const sinks = o.otherSinks.length === 0 ? 'stdout' : o.otherSinks.join(', ');
    return warn(
      id,
      `no NATS configured (sinks: ${sinks}): events only go to stdout/file, nobody is told at once`,
      'give the agent a nats sink (kernwatch run --sink nats://HOST:PORT, or a sink of type nats in the config); check it with --nats URL',
    );
  }
  const where = natsServers(target.settings.url).join(',');
  let nc: NatsConnection;
  try {
    const { options } = await natsConnectionOptions(
      target.settings,
      'kernwatch-doctor',
      o.env ?? process.env,
    );
    nc = await connect({
      ...options,
      // One attempt: the doctor reports, it does not wait for NATS to come.
      maxReconnectAttempts: 0,
      reconnect: false,
      ignoreAuthErrorAbort: false,
      timeout: o.timeoutMs,
    });
  } catch (err) {
    return fail(
      id,
      `cannot connect to ${where}: ${oneLine(err)}`,
      "check the URL, that NATS runs and is reachable from the node, and the sink's credentials and TLS settings",
    );
  }
  try {
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc, { timeout: o.timeoutMs });
    } catch (err) {
      return fail(
        id,
        `connected to ${where}, but JetStream does not answer: ${oneLine(err)}`,
        'enable JetStream on the NATS server (nats-server -js) for this account',
      );
    }
    try {
      const info = await jsm.streams.info(target.stream);
      const facts =
        `${where}: JetStream stream ${target.stream} (subjects ${(info.config.subjects ?? []).join(',') || '(none)'}, ` +
        `${info.state.messages} messages, ${info.config.storage} storage)`;
      const differences = streamDifferences(info.config, {
        name: target.stream,
        duplicateWindowMs: target.duplicateWindowMs,
        maxAgeMs: target.maxAgeMs,
      });
      const errors = differences.filter((d) => d.severity === 'error');
      const described = differences.map(
        (d) => `${d.setting} ${d.have || '(none)'}, kernwatch wants ${d.want}`,
      );
      if (errors.length > 0) {
        return fail(
          id,
          `${facts}; ${described.join('; ')}: events on uncaptured subjects are never stored`,
          `add ${STREAM_SUBJECTS} to the stream's subjects (nats stream edit ${target.stream}); kernwatch never changes an existing stream`,
        );
      }
      if (differences.length > 0) {
        return warn(
          id,
          `${facts}; ${described.join('; ')}`,
          `change the stream by hand (nats stream edit ${target.stream}); kernwatch never changes an existing stream`,
        );
      }
      return pass(id, facts);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
        return warn(
          id,
          `${where}: JetStream answers, but there is no stream ${target.stream} yet`,
          `none needed: the agent creates ${target.stream} (subjects ${STREAM_SUBJECTS}) when it starts, if its NATS user may`,
        );
      }
      return fail(
        id,
        `${where}: cannot look up stream ${target.stream}: ${oneLine(err)}`,
        'check that the NATS user may use the JetStream API ($JS.API.>)',
      );
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}
