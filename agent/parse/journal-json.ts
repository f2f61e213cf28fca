import {
  journaldAuditTransport,
  LINE_FORM,
  LOCATE_RESULT,
  MALFORMED_REASON,
  locateRecord,
  type LocateResult,
  type RecordHead,
} from './envelope.js';
import type { RecordType } from './record-types.js';

/**
 * `journalctl -o json`: one object per line. Only the kernel and audit transports speak for the kernel;
 * anything else (dbus-daemon's user-space AppArmor mediation, say) is not a kernel record.
 */
export function locateJournalJson(
  line: string,
  head: RecordHead,
  wantType: (type: RecordType) => boolean,
  now: () => Date,
): LocateResult {
  // Cheap byte checks first: most journal entries are neither kernel nor audit messages.
  if (!line.includes('"_TRANSPORT":"kernel"') && !line.includes('"_TRANSPORT":"audit"')) {
    if (!line.includes('"_TRANSPORT"')) return badOrIrrelevant(line, head);
    if (!/"_TRANSPORT"\s*:\s*"(kernel|audit)"/.test(line)) return LOCATE_RESULT.notRelevant;
  }
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    head.reset(line, 0, line.length);
    head.malformed = MALFORMED_REASON.badJson;
    return LOCATE_RESULT.malformed;
  }
  if (typeof entry !== 'object' || entry === null) return LOCATE_RESULT.notRelevant;
  const fields = entry as Record<string, unknown>;
  const message = messageText(fields.MESSAGE);
  if (message === undefined) return LOCATE_RESULT.notRelevant;
  const transport = fields._TRANSPORT;
  const realtimeUs = numeric(fields._SOURCE_REALTIME_TIMESTAMP) ?? numeric(fields.__REALTIME_TIMESTAMP);
  if (transport === 'kernel') {
    const r = locateRecord(message, 0, message.length, head, wantType, now);
    head.form = LINE_FORM.journaldJson;
    if (head.envelopeTimeMs === undefined && realtimeUs !== undefined)
      head.envelopeTimeMs = Math.floor(realtimeUs / 1000);
    return r;
  }
  if (transport !== 'audit') return LOCATE_RESULT.notRelevant;
  // The audit transport's MESSAGE is `TYPE fields...`; the id lives in _AUDIT_ID and the audit
  // timestamp in _SOURCE_REALTIME_TIMESTAMP, so the original audit(SEC.MS:SERIAL) can be rebuilt.
  head.reset(message, 0, message.length);
  const r =
    message.startsWith('type=') || message.startsWith('audit')
      ? locateRecord(message, 0, message.length, head, wantType, now)
      : journaldAuditTransport(message, 0, message.length, head, wantType);
  head.form = LINE_FORM.journaldJson;
  const pid = numeric(fields._PID);
  if (pid !== undefined) head.envelopePid = pid;
  const serial = numeric(fields._AUDIT_ID, 15);
  // Ten digits of seconds, as for a written stamp (envelope.ts): anything larger is not an audit time.
  const plausible = realtimeUs !== undefined && realtimeUs < 1e16;
  if (r === LOCATE_RESULT.record && head.serial < 0 && serial !== undefined && plausible) {
    const ms = Math.floor(realtimeUs / 1000);
    head.sec = Math.floor(ms / 1000);
    head.ms = ms % 1000;
    head.serial = serial;
    head.auditId = `${String(head.sec)}.${String(head.ms).padStart(3, '0')}:${String(serial)}`;
  }
  if (head.envelopeTimeMs === undefined && realtimeUs !== undefined)
    head.envelopeTimeMs = Math.floor(realtimeUs / 1000);
  return r;
}

function badOrIrrelevant(line: string, head: RecordHead): LocateResult {
  // A line that starts like JSON but is not a journal entry: count it as malformed only if it is broken.
  try {
    JSON.parse(line);
    return LOCATE_RESULT.notRelevant;
  } catch {
    head.reset(line, 0, line.length);
    head.malformed = MALFORMED_REASON.badJson;
    return LOCATE_RESULT.malformed;
  }
}

/** MESSAGE is a string, or an array of bytes when it is not valid UTF-8. */
function messageText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((b) => typeof b === 'number')) {
    return Buffer.from(value).toString('utf8');
  }
  return undefined;
}

/** A journal number field: decimal digits within what the field can hold (µs since 1970 fit in 17). */
function numeric(value: unknown, maxDigits = 17): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value === 'string' && value.length <= maxDigits && /^\d+$/.test(value)) return Number(value);
  return undefined;
}
