import { parseIsoTime, parseMonthDayTime, parseUnixTime, type ParsedTime } from './envelope-time.js';
import { RECORD_TYPE, recordTypeAt, type RecordType } from './record-types.js';

/**
 * Finds the audit record inside a line of any supported log form and reads its header: type, audit
 * timestamp and serial, and where its fields start. Works on offsets into the caller's text so that the
 * lines that are not wanted cost no allocation; the caller reuses one RecordHead for every line.
 */

export const LINE_FORM = {
  auditd: 'auditd',
  kmsg: 'kmsg',
  dmesg: 'dmesg',
  syslog: 'syslog',
  journald: 'journald',
  journaldJson: 'journald-json',
  logcat: 'logcat',
  interpreted: 'ausearch-interpreted',
  other: 'other',
} as const;
export type LineForm = (typeof LINE_FORM)[keyof typeof LINE_FORM];

/** Why a line that looked like an audit record could not be read. */
export const MALFORMED_REASON = {
  badHeader: 'bad_header',
  badJson: 'bad_json',
  truncated: 'truncated',
  binary: 'binary',
  tooLong: 'too_long',
  badField: 'bad_field',
  /** The parser itself failed on the line (a bug): counted so it is seen, and the stream goes on. */
  parserError: 'parser_error',
} as const;
export type MalformedReason = (typeof MALFORMED_REASON)[keyof typeof MALFORMED_REASON];

export const LOCATE_RESULT = {
  /** A record header was read into the RecordHead. */
  record: 0,
  /** Not an audit record, or from a sender that cannot speak for the kernel. */
  notRelevant: 1,
  /** Looked like an audit record but its header is broken. */
  malformed: 2,
} as const;
export type LocateResult = (typeof LOCATE_RESULT)[keyof typeof LOCATE_RESULT];

export class RecordHead {
  form: LineForm = LINE_FORM.other;
  type: RecordType = RECORD_TYPE.other;
  /** The text the offsets below refer to: the line itself, or a journald JSON line's MESSAGE. */
  text = '';
  lineStart = 0;
  lineEnd = 0;
  /** Audit timestamp seconds, milliseconds and serial; serial is -1 when the record carries no audit id. */
  sec = 0;
  ms = 0;
  serial = -1;
  /** `auditId` as written inside `audit(...)`, or reconstructed from journald's _AUDIT_ID fields. */
  auditId: string | undefined = undefined;
  /** Offsets of the text between `audit(` and `)`; the id string is sliced only for wanted records. */
  stampStart = -1;
  stampEnd = -1;
  bodyStart = 0;
  bodyEnd = 0;
  /** For records without an audit id: the transport's time (epoch ms) and the pid in `audit[PID]:`. */
  envelopeTimeMs: number | undefined = undefined;
  envelopePid: number | undefined = undefined;
  malformed: MalformedReason = MALFORMED_REASON.badHeader;

  reset(text: string, start: number, end: number): void {
    this.form = LINE_FORM.other;
    this.type = RECORD_TYPE.other;
    this.text = text;
    this.lineStart = start;
    this.lineEnd = end;
    this.sec = 0;
    this.ms = 0;
    this.serial = -1;
    this.auditId = undefined;
    this.stampStart = -1;
    this.stampEnd = -1;
    this.bodyStart = start;
    this.bodyEnd = end;
    this.envelopeTimeMs = undefined;
    this.envelopePid = undefined;
  }

  /** The audit id string, sliced on demand. */
  getAuditId(): string | undefined {
    if (this.auditId === undefined && this.stampStart >= 0) {
      this.auditId = this.text.slice(this.stampStart, this.stampEnd);
    }
    return this.auditId;
  }
}

const SPACE = 32;

/**
 * Reads the header of the record in text[start, end). With `wantType` returning false for a record type,
 * the rest of the header is not read (the hot path for the 90% of audit.log that is not wanted).
 */
export function locateRecord(
  text: string,
  start: number,
  end: number,
  head: RecordHead,
  wantType: (type: RecordType) => boolean,
  now: () => Date,
): LocateResult {
  head.reset(text, start, end);
  const c = text.charCodeAt(start);
  // auditd's audit.log: `type=X msg=audit(...)`, optionally after `node=NAME `.
  if (c === 116 /* t */ && text.startsWith('type=', start)) {
    head.form = LINE_FORM.auditd;
    return auditdRecord(text, start + 5, end, head, wantType);
  }
  if (c === 110 /* n */ && text.startsWith('node=', start)) {
    const sp = text.indexOf(' ', start);
    if (sp < 0 || sp >= end || !text.startsWith('type=', sp + 1)) return LOCATE_RESULT.notRelevant;
    head.form = LINE_FORM.auditd;
    return auditdRecord(text, sp + 6, end, head, wantType);
  }
  if (c === 123 /* { */) return LOCATE_RESULT.notRelevant; // journald JSON is handled by journal-json.ts
  if (c === 97 /* a */ && text.startsWith('apparmor="', start)) {
    // An AppArmor record with its whole prefix cut off (pasted or forwarded without the header).
    head.form = LINE_FORM.other;
    return bareAppArmor(text, start, end, head, wantType);
  }
  if (c === 91 /* [ */) {
    head.form = LINE_FORM.dmesg;
    return kernelMessage(text, start, end, head, wantType);
  }
  if (c === 97 /* a */ && text.startsWith('audit', start)) {
    head.form = LINE_FORM.dmesg;
    return kernelMessage(text, start, end, head, wantType);
  }
  if (c >= 48 && c <= 57) {
    const semi = kmsgHeaderEnd(text, start, end);
    if (semi > 0) {
      head.form = LINE_FORM.kmsg;
      return kernelMessage(text, semi, end, head, wantType);
    }
  }
  // kmsg dictionary continuation lines (` SUBSYSTEM=...`), or indented text quoting a record.
  if (c === SPACE || c === 9) return embeddedSelinuxAvc(text, start, end, head, wantType);
  return syslogLike(text, start, end, head, wantType, now);
}

/** `PRI,SEQ,USEC,FLAGS;` → index after ';', or -1. */
function kmsgHeaderEnd(text: string, start: number, end: number): number {
  let commas = 0;
  const limit = Math.min(end, start + 64);
  for (let i = start; i < limit; i++) {
    const c = text.charCodeAt(i);
    if (c === 59 /* ; */) return commas >= 3 ? i + 1 : -1;
    if (c === 44) commas++;
    else if (commas < 3 && (c < 48 || c > 57)) return -1;
  }
  return -1;
}

/** Reads the record type word at `pos` into head.type; returns where the word ends. */
function readType(text: string, pos: number, end: number, head: RecordHead): number {
  let typeEnd = text.indexOf(' ', pos);
  if (typeEnd < 0 || typeEnd > end) typeEnd = end;
  head.type = recordTypeAt(text, pos, typeEnd);
  return typeEnd;
}

function auditdRecord(
  text: string,
  typeStart: number,
  end: number,
  head: RecordHead,
  wantType: (type: RecordType) => boolean,
): LocateResult {
  const typeEnd = readType(text, typeStart, end, head);
  if (!wantType(head.type)) return LOCATE_RESULT.notRelevant;
  if (!text.startsWith(' msg=audit(', typeEnd)) return malformed(head, MALFORMED_REASON.badHeader);
  return auditStamp(text, typeEnd + 11, end, head);
}

/**
 * Reads `SEC.MS:SERIAL): ` (or ausearch -i's `MM/DD/YYYY HH:MM:SS.MS:SERIAL) : `) starting just after
 * `audit(`; sets the body to start after it.
 */
function auditStamp(text: string, pos: number, end: number, head: RecordHead): LocateResult {
  let i = pos;
  let sec = 0;
  for (; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    sec = sec * 10 + d;
  }
  if (i === pos) return malformed(head, MALFORMED_REASON.badHeader);
  if (text.charCodeAt(i) === 47 /* / */) return interpretedStamp(text, pos, end, head);
  // Ten digits last until the year 2286; longer seconds are a mangled stamp, not a record.
  if (text.charCodeAt(i) !== 46 || i - pos > 10) return malformed(head, MALFORMED_REASON.badHeader);
  const msStart = ++i;
  let ms = 0;
  for (; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    ms = ms * 10 + d;
  }
  if (i - msStart !== 3 || text.charCodeAt(i) !== 58) return malformed(head, MALFORMED_REASON.badHeader);
  const serialStart = ++i;
  let serial = 0;
  for (; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    serial = serial * 10 + d;
  }
  if (i === serialStart || i - serialStart > 15 || text.charCodeAt(i) !== 41 /* ) */) {
    return malformed(head, MALFORMED_REASON.badHeader);
  }
  head.sec = sec;
  head.ms = ms;
  head.serial = serial;
  head.stampStart = pos;
  head.stampEnd = i;
  i++;
  if (text.charCodeAt(i) === 58 /* : */) i++;
  head.bodyStart = i;
  head.bodyEnd = end;
  return LOCATE_RESULT.record;
}

/** ausearch -i prints local time; without the zone it is read as UTC and no audit id is claimed. */
function interpretedStamp(text: string, pos: number, end: number, head: RecordHead): LocateResult {
  const close = text.indexOf(')', pos);
  if (close < 0 || close >= end) return malformed(head, MALFORMED_REASON.badHeader);
  const m = /^(\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d):(\d\d)\.(\d{3}):(\d+)$/.exec(text.slice(pos, close));
  if (m === null) return malformed(head, MALFORMED_REASON.badHeader);
  const [, mo, d, y, h, mi, s, ms] = m;
  head.form = LINE_FORM.interpreted;
  head.envelopeTimeMs = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(s),
    Number(ms),
  );
  head.serial = -1;
  head.envelopePid = undefined;
  let i = close + 1;
  while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === 58)) i++;
  head.bodyStart = i;
  head.bodyEnd = end;
  return LOCATE_RESULT.record;
}

function malformed(head: RecordHead, reason: MalformedReason): LocateResult {
  head.malformed = reason;
  return LOCATE_RESULT.malformed;
}

/**
 * A kernel log message: optional `[ uptime]`, optional `audit: `, then `type=N audit(...): body`, the old
 * `audit(...): type=N body`, or a forwarded auditd line `node=X type=NAME msg=audit(...): body`.
 */
function kernelMessage(
  text: string,
  pos: number,
  end: number,
  head: RecordHead,
  wantType: (type: RecordType) => boolean,
): LocateResult {
  let i = skipSpaces(text, pos, end);
  if (text.charCodeAt(i) === 91 /* [ */) {
    const close = text.indexOf(']', i);
    if (close < 0 || close >= end || close - i > 24) return LOCATE_RESULT.notRelevant;
    i = skipSpaces(text, close + 1, end);
  }
  if (text.startsWith('audit: ', i)) i = skipSpaces(text, i + 7, end);
  if (text.startsWith('node=', i)) {
    const sp = text.indexOf(' ', i);
    if (sp < 0 || sp >= end) return LOCATE_RESULT.notRelevant;
    i = sp + 1;
  }
  if (text.startsWith('type=', i)) {
    const typeEnd = readType(text, i + 5, end, head);
    if (!wantType(head.type)) return LOCATE_RESULT.notRelevant;
    if (text.startsWith(' audit(', typeEnd)) return auditStamp(text, typeEnd + 7, end, head);
    if (text.startsWith(' msg=audit(', typeEnd)) return auditStamp(text, typeEnd + 11, end, head);
    return malformed(head, MALFORMED_REASON.badHeader);
  }
  if (text.startsWith('audit(', i)) {
    // Kernels before 2.6.2x: `audit(1189201672.746:537): type=1503 operation=...`.
    const close = text.indexOf('): type=', i);
    if (close < 0 || close >= end) return LOCATE_RESULT.notRelevant;
    const typeEnd = readType(text, close + 8, end, head);
    if (!wantType(head.type)) return LOCATE_RESULT.notRelevant;
    const r = auditStamp(text, i + 6, end, head);
    if (r !== LOCATE_RESULT.record) return r;
    head.bodyStart = typeEnd;
    return r;
  }
  return LOCATE_RESULT.notRelevant;
}

function skipSpaces(text: string, pos: number, end: number): number {
  let i = pos;
  while (i < end && text.charCodeAt(i) === SPACE) i++;
  return i;
}

/** Senders whose lines speak for the kernel's audit subsystem. Any other sender could be forging them. */
function trustedTag(tag: string): 'kernel' | 'audit' | 'audispd' | 'dbus' | undefined {
  const bracket = tag.indexOf('[');
  const name = bracket >= 0 ? tag.slice(0, bracket) : tag;
  switch (name) {
    case 'kernel':
      return 'kernel';
    case 'dbus':
    case 'dbus-daemon':
    case 'dbus-broker':
      // D-Bus daemons enforce AppArmor's dbus rules in user space and log their decisions themselves.
      return 'dbus';
    case 'audit':
      return 'audit';
    case 'audispd':
    case 'audisp-syslog':
    case 'audisp':
      return 'audispd';
    default:
      // socklog writes the facility as the tag: `kern.notice:`.
      if (name.startsWith('kern.')) return 'kernel';
      // Android logcat writes the tag as PRIORITY/TAG: `E/audit`.
      return name.length === 7 && name.charCodeAt(1) === 47 && name.endsWith('/audit') ? 'audit' : undefined;
  }
}

/**
 * Syslog (RFC 3164, RFC 5424, facility prefixes), journalctl short/short-iso/short-unix, and logcat:
 * an optional timestamp, then up to a few words (host, facility, pid-tid) ending in a `TAG[PID]:` word.
 */
function syslogLike(
  text: string,
  start: number,
  end: number,
  head: RecordHead,
  wantType: (type: RecordType) => boolean,
  now: () => Date,
): LocateResult {
  let i = start;
  let form: LineForm = LINE_FORM.syslog;
  if (text.charCodeAt(i) === 60 /* < */) {
    const close = text.indexOf('>', i);
    if (close < 0 || close - i > 4) return LOCATE_RESULT.notRelevant;
    i = close + 1;
    if (text.startsWith('1 ', i)) return rfc5424(text, i + 2, end, head, wantType);
  }
  let time: ParsedTime | undefined;
  const c = text.charCodeAt(i);
  if (c >= 48 && c <= 57) {
    time = parseIsoTime(text, i, end);
    if (time !== undefined && text.charCodeAt(i + 10) === SPACE) form = LINE_FORM.logcat;
    else if (time === undefined) {
      time = parseUnixTime(text, i, end);
      if (time !== undefined) form = LINE_FORM.journald;
    }
  } else {
    time = parseMonthDayTime(text, i, end, now());
  }
  if (time !== undefined) i = time.next;
  // Up to four words before the tag: host, facility.severity, logcat's pid-tid and `/?`.
  for (let words = 0; words < 5; words++) {
    i = skipSpaces(text, i, end);
    if (i >= end) return LOCATE_RESULT.notRelevant;
    let w = i;
    while (w < end && text.charCodeAt(w) !== SPACE) w++;
    if (text.charCodeAt(w - 1) === 58 /* : */) {
      const tag = text.slice(i, w - 1);
      if (tag.includes('"')) break; // a JSON key, not a syslog tag: text that quotes a record
      const sender = trustedTag(tag);
      if (sender === undefined) return LOCATE_RESULT.notRelevant;
      head.envelopeTimeMs = time?.ms;
      if (sender === 'audit') {
        const bracket = tag.indexOf('[');
        if (bracket > 0) head.envelopePid = pidOf(tag.slice(bracket + 1, -1));
        if (form === LINE_FORM.syslog && !text.startsWith('type=', w + 1)) form = LINE_FORM.journald;
        const r = kernelMessage(text, w + 1, end, head, wantType);
        if (r !== LOCATE_RESULT.notRelevant || head.type !== RECORD_TYPE.other) {
          head.form = form;
          return r;
        }
        head.form = form;
        return journaldAuditTransport(text, w + 1, end, head, wantType);
      }
      head.form = form;
      if (sender === 'dbus') return bareAppArmor(text, skipSpaces(text, w + 1, end), end, head, wantType);
      return kernelMessage(text, w + 1, end, head, wantType);
    }
    i = w;
  }
  return embeddedSelinuxAvc(text, start, end, head, wantType);
}

/**
 * A SELinux AVC record quoted inside other text (an exported JSON document's raw_msg, a pasted report):
 * `audit(SEC.MS:SERIAL): avc:  denied  { ... }`. Only this shape is taken from text without a sender:
 * it is what avc_audit() writes and nothing else does, while a bare AppArmor or seccomp field list
 * could come from anywhere.
 */
function embeddedSelinuxAvc(
  text: string,
  start: number,
  end: number,
  head: RecordHead,
  wantType: (type: RecordType) => boolean,
): LocateResult {
  const at = text.indexOf('): avc:  ', start);
  if (at < 0 || at >= end || !wantType(RECORD_TYPE.AVC)) return LOCATE_RESULT.notRelevant;
  const open = text.lastIndexOf('audit(', at);
  if (open < start || at - open > 40) return LOCATE_RESULT.notRelevant;
  head.type = RECORD_TYPE.AVC;
  head.form = LINE_FORM.other;
  const r = auditStamp(text, open + 6, end, head);
  return r === LOCATE_RESULT.record && head.stampEnd === at ? r : LOCATE_RESULT.notRelevant;
}

/**
 * journald's audit transport renders a record as `audit[PID]: SECCOMP auid=...` (the type name, then
 * the fields) with no audit id in the text.
 */
export function journaldAuditTransport(
  text: string,
  pos: number,
  end: number,
  head: RecordHead,
  wantType: (type: RecordType) => boolean,
): LocateResult {
  const i = skipSpaces(text, pos, end);
  const typeEnd = readType(text, i, end, head);
  if (head.type === RECORD_TYPE.other || !wantType(head.type)) return LOCATE_RESULT.notRelevant;
  head.serial = -1;
  head.bodyStart = typeEnd;
  head.bodyEnd = end;
  return LOCATE_RESULT.record;
}

/** `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`. */
function rfc5424(
  text: string,
  pos: number,
  end: number,
  head: RecordHead,
  wantType: (type: RecordType) => boolean,
): LocateResult {
  const words: string[] = [];
  let i = pos;
  while (words.length < 5 && i < end) {
    i = skipSpaces(text, i, end);
    let w = i;
    while (w < end && text.charCodeAt(w) !== SPACE) w++;
    words.push(text.slice(i, w));
    i = w;
  }
  if (words.length < 5) return LOCATE_RESULT.notRelevant;
  const [stamp = '', , app = '', procid = ''] = words;
  const sender = trustedTag(app);
  if (sender === undefined) return LOCATE_RESULT.notRelevant;
  i = skipSpaces(text, i, end);
  if (text.charCodeAt(i) === 91 /* [ structured data */) {
    const close = text.indexOf('] ', i);
    if (close < 0 || close >= end) return LOCATE_RESULT.notRelevant;
    i = close + 1;
  } else if (text.charCodeAt(i) === 45 /* - */) {
    i++;
  }
  if (text.charCodeAt(i + 1) === 0xfeff) i++; // BOM before MSG
  const t = parseIsoTime(stamp, 0, stamp.length);
  head.envelopeTimeMs = t?.ms;
  head.form = LINE_FORM.syslog;
  const r = kernelMessage(text, i, end, head, wantType);
  if (r !== LOCATE_RESULT.notRelevant || sender !== 'audit') return r;
  head.envelopePid = pidOf(procid);
  return journaldAuditTransport(text, i, end, head, wantType);
}

/**
 * An AppArmor decision without an audit header: a D-Bus daemon's own log line, or a kernel record whose
 * prefix was cut off. It has no audit id; the AppArmor fields are read as for a kernel AVC record.
 */
function bareAppArmor(
  text: string,
  pos: number,
  end: number,
  head: RecordHead,
  wantType: (type: RecordType) => boolean,
): LocateResult {
  if (!text.startsWith('apparmor="', pos) || !wantType(RECORD_TYPE.AVC)) return LOCATE_RESULT.notRelevant;
  head.type = RECORD_TYPE.AVC;
  head.serial = -1;
  head.bodyStart = pos;
  head.bodyEnd = end;
  return LOCATE_RESULT.record;
}

/**
 * A pid from a log envelope (`audit[PID]:`, a syslog PROCID): decimal digits only, 1 to 2^22 (the kernel's
 * pid_max limit). `Number()` alone would take `-1`, `1.5`, `0x10` or `Infinity` from a hostile or broken line.
 */
function pidOf(text: string): number | undefined {
  if (text.length === 0 || text.length > 7) return undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const pid = Number(text);
  return pid >= 1 && pid <= 4_194_304 ? pid : undefined;
}
