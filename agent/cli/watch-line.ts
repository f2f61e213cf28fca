import {
  DENIAL_KIND,
  EVENT_SCHEMA,
  OUTCOME,
  type DenialKind,
  type KernwatchEvent,
  type Outcome,
} from '../events.js';
import { deniedWhat } from '../sinks/event-summary.js';

/**
 * One line per event for `kernwatch watch`:
 *
 *   TIME  NODE  WHERE  KIND OUTCOME  DENIED  COMM[PID]  xCOUNT
 *
 * A live feed cannot know its widest value in advance, so the columns have minimum widths that fit the
 * usual values (kind and outcome always fit) and a longer value pushes the rest of its own line to the
 * right instead of being cut: a pod or path cut short in a security alert would hide what matters.
 */
export const WATCH_COLUMN_WIDTHS = {
  time: 24,
  node: 12,
  where: 40,
  kind: 8,
  outcome: 7,
  denied: 36,
} as const;

/** What WHERE shows for events without a pod (a pod's is `namespace/pod/container`). */
export const WHERE_NO_POD = {
  host: 'host',
  unresolved: 'unresolved',
  containerPrefix: 'container:',
} as const;

/** A container id is 64 hex digits; 12 tell containers apart, as `docker ps` and `crictl ps` show them. */
const SHORT_ID = 12;

const SGR = { red: '\u001b[31m', yellow: '\u001b[33m', reset: '\u001b[0m' } as const;
const OUTCOME_COLOUR: Partial<Record<Outcome, string>> = { killed: SGR.red, blocked: SGR.yellow };

export interface WatchLineOptions {
  /** Colour the outcome (killed red, blocked yellow); only for a terminal. */
  colour?: boolean;
}

export function watchLine(e: KernwatchEvent, options: WatchLineOptions = {}): string {
  const w = WATCH_COLUMN_WIDTHS;
  const outcome = pad(printable(e.outcome), w.outcome);
  const colour = options.colour === true ? OUTCOME_COLOUR[e.outcome] : undefined;
  // Padding is counted on the plain word: escape codes take no columns on the terminal.
  const shownOutcome =
    colour === undefined ? outcome : `${colour}${e.outcome}${SGR.reset}${outcome.slice(e.outcome.length)}`;
  let line =
    `${pad(printable(e.time), w.time)}  ${pad(printable(e.node), w.node)}  ` +
    `${pad(printable(whereOf(e)), w.where)}  ${pad(printable(e.kind), w.kind)} ${shownOutcome}  ` +
    `${pad(printable(deniedOf(e)), w.denied)}  ${printable(processOf(e))}`;
  if (e.count > 1) line += `  x${String(e.count)}`;
  return `${line}\n`;
}

/** Where the denial happened: `namespace/pod/container`, or what stands in for it without a pod. */
export function whereOf(e: KernwatchEvent): string {
  const container =
    e.container === undefined ? undefined : (e.container.name ?? e.container.id.slice(0, SHORT_ID));
  if (e.pod !== undefined) {
    const pod = `${e.pod.namespace}/${e.pod.name}`;
    return container === undefined ? pod : `${pod}/${container}`;
  }
  if (container !== undefined) return `${WHERE_NO_POD.containerPrefix}${container}`;
  return e.attribution === 'host' ? WHERE_NO_POD.host : WHERE_NO_POD.unresolved;
}

/** The summary the `parse` table shows, plus seccomp's errno when the kernel still reported one. */
function deniedOf(e: KernwatchEvent): string {
  const what = deniedWhat(e);
  return e.seccomp?.errnoName === undefined ? what : `${what} ${e.seccomp.errnoName}`;
}

function processOf(e: KernwatchEvent): string {
  return `${e.process.comm ?? '?'}[${String(e.process.pid)}]`;
}

function pad(value: string, width: number): string {
  return value.padEnd(width);
}

/**
 * A comm, a path or a pod name can hold anything (the kernel hex-encodes such values and the parser
 * decodes them), and events may come from any publisher on the subject: control characters, C1 codes
 * (U+009B is a CSI on some terminals) and bidirectional overrides must not reach the terminal.
 */
export function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
}

/** Why a message is not shown: short, one line, safe to print. */
export type WatchedMessage = { ok: true; event: KernwatchEvent } | { ok: false; reason: string };

const KINDS: readonly string[] = Object.values(DENIAL_KIND);
const OUTCOMES: readonly string[] = Object.values(OUTCOME);

/**
 * Reads a message of the feed as an event, checking every field the line shows, so that a message from
 * another publisher (or a future schema) is reported and skipped instead of crashing the watch or
 * printing `undefined`. Fields the line does not show are not checked; `--json` passes them through.
 */
export function parseWatchedEvent(text: string): WatchedMessage {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (!isRecord(doc)) return { ok: false, reason: 'not a JSON object' };
  if (doc.schema !== EVENT_SCHEMA)
    return { ok: false, reason: `schema is ${describe(doc.schema)}, not ${EVENT_SCHEMA}` };
  for (const key of ['id', 'time', 'node', 'attribution'] as const) {
    if (typeof doc[key] !== 'string') return missing(key, 'a string');
  }
  if (typeof doc.kind !== 'string' || !KINDS.includes(doc.kind)) return missing('kind', 'a known kind');
  if (typeof doc.outcome !== 'string' || !OUTCOMES.includes(doc.outcome))
    return missing('outcome', 'a known outcome');
  if (!Number.isSafeInteger(doc.count) || (doc.count as number) < 1) return missing('count', 'a count >= 1');
  const proc = doc.process;
  if (!isRecord(proc) || !Number.isSafeInteger(proc.pid)) return missing('process.pid', 'an integer');
  if (!optional(proc.comm, 'string')) return missing('process.comm', 'a string');
  const detailProblem = detailProblemOf(doc.kind as DenialKind, doc);
  if (detailProblem !== undefined) return detailProblem;
  if (doc.pod !== undefined) {
    const pod = doc.pod;
    if (!isRecord(pod) || typeof pod.name !== 'string' || typeof pod.namespace !== 'string')
      return missing('pod', 'an object with name and namespace');
  }
  if (doc.container !== undefined) {
    const c = doc.container;
    if (!isRecord(c) || typeof c.id !== 'string' || !optional(c.name, 'string'))
      return missing('container', 'an object with an id');
  }
  // Every field the line reads was checked above.
  return { ok: true, event: doc as unknown as KernwatchEvent };
}

function detailProblemOf(kind: DenialKind, doc: Record<string, unknown>): WatchedMessage | undefined {
  const d = doc[kind];
  if (!isRecord(d)) return missing(kind, 'an object');
  if (kind === DENIAL_KIND.seccomp) {
    if (!optional(d.syscall, 'string')) return missing('seccomp.syscall', 'a string');
    if (!Number.isSafeInteger(d.syscallNr)) return missing('seccomp.syscallNr', 'an integer');
    if (typeof d.arch !== 'string') return missing('seccomp.arch', 'a string');
    if (typeof d.action !== 'string') return missing('seccomp.action', 'a string');
    if (!optional(d.errnoName, 'string')) return missing('seccomp.errnoName', 'a string');
    return undefined;
  }
  if (kind === DENIAL_KIND.apparmor) {
    if (typeof d.operation !== 'string') return missing('apparmor.operation', 'a string');
    if (typeof d.profile !== 'string') return missing('apparmor.profile', 'a string');
    for (const key of ['name', 'peer', 'capname', 'deniedMask', 'requestedMask'] as const) {
      if (!optional(d[key], 'string')) return missing(`apparmor.${key}`, 'a string');
    }
    return undefined;
  }
  if (!Array.isArray(d.permissions) || !d.permissions.every((p) => typeof p === 'string'))
    return missing('selinux.permissions', 'an array of strings');
  for (const key of ['scontext', 'tcontext', 'tclass'] as const) {
    if (typeof d[key] !== 'string') return missing(`selinux.${key}`, 'a string');
  }
  for (const key of ['name', 'path'] as const) {
    if (!optional(d[key], 'string')) return missing(`selinux.${key}`, 'a string');
  }
  return undefined;
}

function missing(key: string, expected: string): WatchedMessage {
  return { ok: false, reason: `${key} is not ${expected}` };
}

function optional(value: unknown, type: 'string'): boolean {
  return value === undefined || typeof value === type;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value for an error message: short, and never more than one line. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return printable(text.length > 40 ? `${text.slice(0, 39)}…` : text);
}

const NEWLINE = new Uint8Array([0x0a]);

/**
 * The payload exactly as published, on one line. Trailing whitespace is dropped so that a publisher's
 * newline does not print an empty line; a payload spread over several lines (pretty-printed JSON) is
 * made compact, or it would no longer be one event per line.
 */
export function jsonLine(data: Uint8Array, text: string): Uint8Array {
  let end = data.length;
  while (end > 0 && isJsonSpace(data[end - 1])) end--;
  const body = data.subarray(0, end);
  if (body.includes(0x0a) || body.includes(0x0d))
    return new TextEncoder().encode(`${JSON.stringify(JSON.parse(text))}\n`);
  const out = new Uint8Array(end + 1);
  out.set(body, 0);
  out.set(NEWLINE, end);
  return out;
}

function isJsonSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}
