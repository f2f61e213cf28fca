import {
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { millis, nanos } from '@nats-io/transport-node';
import { ERROR_CODES, KernwatchError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import { STREAM_SUBJECTS } from './nats-subjects.js';

export interface StreamWish {
  name: string;
  /** JetStream drops a second message with the same Nats-Msg-Id within this window. */
  duplicateWindowMs: number;
  /** How long the stream keeps events (0: until deleted by hand). */
  maxAgeMs: number;
}

export const STREAM_SETUP = { created: 'created', matches: 'matches', differs: 'differs' } as const;
export type StreamSetup = (typeof STREAM_SETUP)[keyof typeof STREAM_SETUP];

/**
 * Creates the stream when it is missing. An existing stream is never changed: it belongs to whoever made
 * it (a security team may have chosen replicas, limits or retention on purpose). What differs from what
 * kernwatch needs is logged, loudly when it breaks delivery (subjects not captured) or exactly-once
 * (a duplicate window shorter than kernwatch's).
 */
export async function ensureStream(
  jsm: JetStreamManager,
  wish: StreamWish,
  log: Logger,
): Promise<StreamSetup> {
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(wish.name)).config;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound)
      throw new KernwatchError(ERROR_CODES.sink, `Cannot look up the NATS stream ${wish.name}`, {
        cause: err,
      });
    try {
      await jsm.streams.add({
        name: wish.name,
        subjects: [STREAM_SUBJECTS],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        duplicate_window: nanos(wish.duplicateWindowMs),
        max_age: nanos(wish.maxAgeMs),
        description: 'kernwatch: kernel denials, response actions and posture of every node',
      });
    } catch (addErr) {
      throw new KernwatchError(ERROR_CODES.sink, `Cannot create the NATS stream ${wish.name}`, {
        cause: addErr,
      });
    }
    log.info(
      { stream: wish.name, subjects: [STREAM_SUBJECTS], duplicateWindowMs: wish.duplicateWindowMs },
      'Created the NATS stream.',
    );
    return STREAM_SETUP.created;
  }
  const differences = streamDifferences(existing, wish);
  for (const d of differences) {
    const fields = { stream: wish.name, setting: d.setting, have: d.have, want: d.want };
    if (d.severity === 'error') log.error(fields, d.consequence);
    else log.warn(fields, d.consequence);
  }
  return differences.length === 0 ? STREAM_SETUP.matches : STREAM_SETUP.differs;
}

export interface StreamDifference {
  setting: string;
  have: string;
  want: string;
  severity: 'warn' | 'error';
  consequence: string;
}

export function streamDifferences(have: StreamConfig, wish: StreamWish): StreamDifference[] {
  const out: StreamDifference[] = [];
  const subjects = have.subjects ?? [];
  if (!subjects.some((s) => subjectCovers(s, STREAM_SUBJECTS))) {
    out.push({
      setting: 'subjects',
      have: subjects.join(','),
      want: STREAM_SUBJECTS,
      severity: 'error',
      consequence:
        'The NATS stream does not capture all kernwatch subjects; events on the others are not stored ' +
        'and stay in the spool. kernwatch does not change an existing stream: fix it by hand.',
    });
  }
  const window = millis(have.duplicate_window ?? 0);
  if (window < wish.duplicateWindowMs) {
    out.push({
      setting: 'duplicate_window',
      have: `${String(window)}ms`,
      want: `${String(wish.duplicateWindowMs)}ms`,
      severity: 'warn',
      consequence:
        'The NATS stream drops duplicates over a shorter window than kernwatch expects; an event ' +
        're-sent after a long outage may be stored twice.',
    });
  }
  if (have.storage !== StorageType.File) {
    out.push({
      setting: 'storage',
      have: have.storage,
      want: StorageType.File,
      severity: 'warn',
      consequence: 'The NATS stream keeps events in memory; a NATS restart loses them.',
    });
  }
  return out;
}

/** Does the stream subject `pattern` capture every subject `wanted` can match? */
export function subjectCovers(pattern: string, wanted: string): boolean {
  const p = pattern.split('.');
  const w = wanted.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return true;
    const other = w[i];
    if (other === undefined || other === '>') return false;
    if (token !== '*' && token !== other) return false;
  }
  return p.length === w.length;
}
