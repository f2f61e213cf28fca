import type { KernwatchEvent } from '../events.js';
import type { PostureEvent } from '../posture/posture-event.js';
import type { ActionEvent } from '../responders/action-event.js';

/**
 * Where attributed events go. `deliver` resolves only once the sink holds the events as durably as it
 * can (written to the OS for stdout and files; acknowledged by JetStream for NATS): the pipeline moves a
 * source's checkpoint only after every sink resolved.
 */
export interface EventSink {
  readonly name: string;
  /**
   * A best-effort sink takes events into its own bounded queue and never refuses or delays a batch (Falco
   * HTTP, Kubernetes Events): its outages are counted and logged, but do not make the agent unready.
   */
  readonly bestEffort?: boolean;
  deliver(events: readonly KernwatchEvent[]): Promise<void>;
  /**
   * Response decisions (agent/responders/), for the sinks that carry them beside denials: stdout and files
   * (NDJSON, told apart by their `schema`) and NATS (`kernwatch.v1.action.<node>`).
   */
  deliverActions?(events: readonly ActionEvent[]): Promise<void>;
  /** Container posture changes (agent/posture/), for the same sinks, on `kernwatch.v1.posture.<node>`. */
  deliverPosture?(events: readonly PostureEvent[]): Promise<void>;
  /** Can the sink take events now? For /readyz and logs. */
  healthy(): boolean;
  close(): Promise<void>;
}

/** A sink that refused what it was given, with its error. */
export interface SinkFailure {
  sink: string;
  err: unknown;
}

/**
 * Hands the same records to every sink that carries them (`deliver` answers undefined for a sink that
 * does not), all at once; the sinks that refused, in sink order. Action and posture events go out this way.
 */
export async function deliverToEach(
  sinks: readonly EventSink[],
  deliver: (sink: EventSink) => Promise<void> | undefined,
): Promise<SinkFailure[]> {
  const taking: { sink: EventSink; done: Promise<void> }[] = [];
  for (const sink of sinks) {
    const done = deliver(sink);
    if (done !== undefined) taking.push({ sink, done });
  }
  const results = await Promise.allSettled(taking.map((t) => t.done));
  const failures: SinkFailure[] = [];
  results.forEach((r, i) => {
    if (r.status === 'rejected') failures.push({ sink: taking[i]?.sink.name ?? '?', err: r.reason });
  });
  return failures;
}
