import { createHash } from 'node:crypto';
import { CHECK_STATUS, type CheckId, type ContainerPosture, type PostureCheck } from './posture-types.js';

/**
 * A container's posture when it changed (or was first seen), published on `kernwatch.v1.posture.<node>`
 * and written by the stdout and file sinks beside the denials. Field names are a public contract.
 */
export const POSTURE_SCHEMA = 'kernwatch.v1.posture' as const;

export interface PostureEvent {
  schema: typeof POSTURE_SCHEMA;
  /**
   * `<node>:<container id>:<digest of the checks' statuses>:<scan time ms>`: unique per published change
   * (a posture that went A→B→A within JetStream's duplicate window must not lose its second A).
   */
  id: string;
  /** ISO-8601 UTC of the scan. */
  time: string;
  node: string;
  container: { id: string; name: string };
  pid?: number;
  pod?: { name: string; namespace: string };
  /** Check ids whose status differs from the last posture published for this container (all, when new). */
  changed: CheckId[];
  /** Checks that are not `pass` (fail or unknown: unknown is not compliance). */
  findings: number;
  checks: PostureCheck[];
}

export function postureEventToJson(e: PostureEvent): string {
  const ordered: Record<string, unknown> = {
    schema: e.schema,
    id: e.id,
    time: e.time,
    node: e.node,
    container: e.container,
  };
  if (e.pid !== undefined) ordered.pid = e.pid;
  if (e.pod !== undefined) ordered.pod = e.pod;
  ordered.changed = e.changed;
  ordered.findings = e.findings;
  ordered.checks = e.checks.map((c) => ({
    id: c.id,
    section: c.section,
    status: c.status,
    detail: c.detail,
    fix: c.fix,
  }));
  return JSON.stringify(ordered);
}

export function postureEventsToNdjson(events: readonly PostureEvent[]): string {
  let text = '';
  for (const e of events) text += `${postureEventToJson(e)}\n`;
  return text;
}

/** What identifies a posture for change detection: each check's status (details may carry counts). */
export function postureSignature(container: ContainerPosture): string {
  return container.checks.map((c) => `${c.id}=${c.status}`).join(',');
}

/** The event for one container's posture; its id is the same for the same statuses. */
export function postureEventOf(
  node: string,
  c: ContainerPosture,
  changed: readonly CheckId[],
  time: string,
): PostureEvent {
  const digest = createHash('sha256').update(postureSignature(c)).digest('hex').slice(0, 16);
  const event: PostureEvent = {
    schema: POSTURE_SCHEMA,
    id: `${node}:${c.id}:${digest}:${String(Date.parse(time))}`,
    time,
    node,
    container: { id: c.id, name: c.name },
    changed: [...changed],
    findings: c.checks.filter((k) => k.status !== CHECK_STATUS.pass).length,
    checks: c.checks,
  };
  if (c.pid !== undefined) event.pid = c.pid;
  if (c.pod !== undefined) event.pod = c.pod;
  return event;
}
