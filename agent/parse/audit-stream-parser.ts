import { DENIAL_KIND, type Denial, type IdentifiedDenial, type ProcessInfo } from '../events.js';
import { appArmorDetail, appArmorMode, appArmorOutcome } from './apparmor.js';
import { LOCATE_RESULT, MALFORMED_REASON, RecordHead, locateRecord, type LocateResult } from './envelope.js';
import {
  commandLine,
  findField,
  parseFields,
  plain,
  uint,
  untrusted,
  RecordFields,
  type FieldLookup,
} from './fields.js';
import { locateJournalJson } from './journal-json.js';
import { NOT_DENIAL, ParseStats } from './parse-stats.js';
import { processFromRecord } from './process-info.js';
import { RECORD_ROLE, RECORD_TYPE, roleOf, type RecordType } from './record-types.js';
import { seccompDetail, seccompOutcome } from './seccomp.js';
import { selinuxDetail, selinuxOutcome } from './selinux.js';

export interface AuditStreamParserOptions {
  /** Called once per denial record, after its audit event's sibling records were joined. */
  onDenial: (denial: IdentifiedDenial) => void;
  /**
   * How many further lines an event waits for its sibling records (SYSCALL, CWD, PATH, PROCTITLE...)
   * unless EOE ends it first. auditd writes an event's records together, so a few hundred lines is
   * plenty; a SECCOMP record of an unaudited syscall has no siblings and waits this long.
   */
  holdLines?: number;
  /** Events waiting for siblings at once; beyond it the oldest is emitted early. */
  maxPendingEvents?: number;
  /** Sibling records kept per event (EXECVE and PATH can repeat); the rest are counted and dropped. */
  maxSiblingsPerEvent?: number;
  /** Lines longer than this are counted as malformed and skipped (kernel records are < 9 KiB). */
  maxLineLength?: number;
  /** Clock for records without a time of their own and for time-based expiry. */
  now?: () => Date;
}

interface SiblingLine {
  type: RecordType;
  line: string;
  bodyStart: number;
}

interface PendingEvent {
  auditId: string;
  serial: number;
  /** The stamp's seconds and milliseconds: a serial is unique only together with its stamp. */
  sec: number;
  ms: number;
  /** Index of the first denial of this event in its audit event (> 0 if the event was reopened). */
  indexBase: number;
  denials: Denial[];
  siblings: SiblingLine[];
  firstLine: number;
  done: boolean;
}

interface PendingUnidentified {
  denial: Denial;
  body: string;
  firstLine: number;
  done: boolean;
}

const RING_SIZE = 16;
const RECENT_IDS_LIMIT = 4096;

/**
 * Turns lines of any supported log form into denials: finds each record, keeps only denial records and
 * the sibling records of their audit events, joins them by audit serial with a bounded wait, and emits
 * one denial per denial record. Pure: no I/O, no timers; the wait for siblings is counted in lines, and
 * the caller calls flushAll() at the end of its input.
 */
export class AuditStreamParser {
  readonly stats = new ParseStats();
  private readonly onDenial: (denial: IdentifiedDenial) => void;
  private readonly holdLines: number;
  private readonly maxPending: number;
  private readonly maxSiblings: number;
  private readonly maxLineLength: number;
  private readonly now: () => Date;
  private readonly head = new RecordHead();
  /** Reused for every denial record: builders copy out what they need before the next one. */
  private readonly fields = new RecordFields();
  private readonly wantType = (type: RecordType): boolean =>
    roleOf(type) !== RECORD_ROLE.other || type === RECORD_TYPE.USER_AVC;

  private readonly pending = new Map<number, PendingEvent>();
  /** Pending events in arrival order; `queueHead` is the oldest not yet emitted. */
  private queue: PendingEvent[] = [];
  private queueHead = 0;
  private unidentified: PendingUnidentified[] = [];
  private unidentifiedHead = 0;
  /** Audit ids already emitted → how many denials they had, so a reopened event continues the index. */
  private readonly emittedIds = new Map<string, number>();
  private readonly emittedRing: (string | undefined)[] = new Array<string | undefined>(RECENT_IDS_LIMIT);
  private emittedPos = 0;
  /** Occurrences of each id-less key, so identical id-less records get distinct ids. */
  private readonly unidentifiedKeys = new Map<string, number>();

  // Recent sibling records whose event has no denial yet: ausearch and some collectors write an event's
  // SYSCALL/PROCTITLE before its AVC. Kept as offsets into the caller's text; sliced only on a match.
  private readonly ringText: string[] = new Array<string>(RING_SIZE).fill('');
  private readonly ringStart = new Int32Array(RING_SIZE);
  private readonly ringEnd = new Int32Array(RING_SIZE);
  private readonly ringBody = new Int32Array(RING_SIZE);
  private readonly ringType = new Int32Array(RING_SIZE);
  private readonly ringSerial = new Float64Array(RING_SIZE).fill(-1);
  private readonly ringStampMs = new Float64Array(RING_SIZE);
  private ringPos = 0;

  private lineNo = 0;
  private lastStampSecond = Number.NaN;
  private lastStampPrefix = '';

  constructor(options: AuditStreamParserOptions) {
    this.onDenial = options.onDenial;
    this.holdLines = options.holdLines ?? 256;
    this.maxPending = options.maxPendingEvents ?? 1024;
    this.maxSiblings = options.maxSiblingsPerEvent ?? 16;
    this.maxLineLength = options.maxLineLength ?? 65_536;
    this.now = options.now ?? (() => new Date());
  }

  /** Feeds one line: text[start, end) without its newline. */
  pushLine(text: string, start = 0, end = text.length): void {
    const lineNo = ++this.lineNo;
    const stats = this.stats;
    stats.lines++;
    if (end - start > this.maxLineLength) {
      stats.malformed[MALFORMED_REASON.tooLong]++;
      this.expireByLines(lineNo);
      return;
    }
    if (end > start && text.charCodeAt(end - 1) === 13) end--; // CRLF files
    try {
      this.classifyLine(text, start, end, lineNo);
    } catch {
      // A parser bug must cost one line, never the stream: count it where an operator will see it.
      stats.malformed[MALFORMED_REASON.parserError]++;
    }
    this.expireByLines(lineNo);
  }

  private classifyLine(text: string, start: number, end: number, lineNo: number): void {
    const stats = this.stats;
    const head = this.head;
    let result: LocateResult;
    if (text.charCodeAt(start) === 123 /* { */) {
      result = locateJournalJson(text.slice(start, end), head, this.wantType, this.now);
    } else {
      result = locateRecord(text, start, end, head, this.wantType, this.now);
    }
    stats.byForm[head.form]++;
    if (result === LOCATE_RESULT.record) {
      const role = roleOf(head.type);
      if (role === RECORD_ROLE.denial) this.denialRecord(head, lineNo);
      else if (role !== RECORD_ROLE.other) this.siblingRecord(head, role === RECORD_ROLE.end);
      else stats.notDenial[NOT_DENIAL.userAvc]++;
    } else if (result === LOCATE_RESULT.notRelevant) {
      stats.notRelevant++;
    } else {
      stats.malformed[head.malformed]++;
    }
  }

  /** Emits everything still waiting (end of input, shutdown). */
  flushAll(): void {
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const ev = this.queue[i];
      if (ev !== undefined && !ev.done) this.emitEvent(ev);
    }
    this.queue = [];
    this.queueHead = 0;
    for (let i = this.unidentifiedHead; i < this.unidentified.length; i++) {
      const u = this.unidentified[i];
      if (u !== undefined && !u.done) this.emitUnidentified(u);
    }
    this.unidentified = [];
    this.unidentifiedHead = 0;
  }

  /** Lines pushed so far; line numbers in oldestPendingLine() and flushThrough() count from 1. */
  get linesSeen(): number {
    return this.lineNo;
  }

  /**
   * The first line of the oldest event still waiting for siblings, or undefined when nothing waits. A live
   * source must not checkpoint past it: after a crash that event would never be emitted.
   */
  oldestPendingLine(): number | undefined {
    let oldest: number | undefined;
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const ev = this.queue[i];
      if (ev !== undefined && !ev.done) {
        oldest = ev.firstLine;
        break;
      }
    }
    for (let i = this.unidentifiedHead; i < this.unidentified.length; i++) {
      const u = this.unidentified[i];
      if (u !== undefined && !u.done) {
        if (oldest === undefined || u.firstLine < oldest) oldest = u.firstLine;
        break;
      }
    }
    return oldest;
  }

  /**
   * Emits the events whose first line is at or before `lineNo`. Live sources call it with the line count
   * of a moment ago so an event whose siblings never come (a SECCOMP record of an unaudited syscall) waits
   * a bounded time instead of a bounded number of further lines, which may never arrive on a quiet node.
   */
  flushThrough(lineNo: number): void {
    this.expireByLines(lineNo + this.holdLines);
  }

  /** Bounded memory of emitted audit ids: the oldest is forgotten first (a ring, no iterator per call). */
  private rememberEmitted(auditId: string, next: number): void {
    if (!this.emittedIds.has(auditId)) {
      const evicted = this.emittedRing[this.emittedPos];
      if (evicted !== undefined) this.emittedIds.delete(evicted);
      this.emittedRing[this.emittedPos] = auditId;
      this.emittedPos = (this.emittedPos + 1) % RECENT_IDS_LIMIT;
    }
    this.emittedIds.set(auditId, next);
  }

  private expireByLines(lineNo: number): void {
    const queue = this.queue;
    while (this.queueHead < queue.length) {
      const ev = queue[this.queueHead];
      if (ev === undefined || (!ev.done && ev.firstLine + this.holdLines > lineNo)) break;
      this.queueHead++;
      if (!ev.done) this.emitEvent(ev);
    }
    const un = this.unidentified;
    while (this.unidentifiedHead < un.length) {
      const u = un[this.unidentifiedHead];
      if (u === undefined || (!u.done && u.firstLine + this.holdLines > lineNo)) break;
      this.unidentifiedHead++;
      if (!u.done) this.emitUnidentified(u);
    }
    // Each queue on its own count: a stream of id-less denials (journald short text, logcat) never moves
    // queueHead, and its emitted entries must not pile up behind an identified event that never comes.
    if (this.queueHead > 1024 || this.unidentifiedHead > 1024) this.compactQueues();
  }

  private compactQueues(): void {
    if (this.queueHead > 0) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    if (this.unidentifiedHead > 0) {
      this.unidentified = this.unidentified.slice(this.unidentifiedHead);
      this.unidentifiedHead = 0;
    }
  }

  private siblingRecord(head: RecordHead, isEnd: boolean): void {
    const serial = head.serial;
    if (serial < 0) {
      this.stats.notRelevant++;
      return;
    }
    const ev = this.pending.get(serial);
    if (ev !== undefined && ev.sec === head.sec && ev.ms === head.ms) {
      if (isEnd) {
        this.stats.eventEnds++;
        this.emitEvent(ev);
        return;
      }
      this.addSibling(
        ev,
        head.type,
        head.text.slice(head.lineStart, head.lineEnd),
        head.bodyStart - head.lineStart,
      );
      return;
    }
    // Records of events without a denial are the bulk of audit.log: counted as not relevant (and taken
    // back from that count if a late denial of their event claims them).
    this.stats.notRelevant++;
    if (isEnd) return;
    const p = this.ringPos;
    this.ringText[p] = head.text;
    this.ringStart[p] = head.lineStart;
    this.ringEnd[p] = head.lineEnd;
    this.ringBody[p] = head.bodyStart;
    this.ringType[p] = head.type;
    this.ringSerial[p] = serial;
    this.ringStampMs[p] = head.sec * 1000 + head.ms;
    this.ringPos = (p + 1) % RING_SIZE;
  }

  private addSibling(ev: PendingEvent, type: RecordType, line: string, bodyStart: number): void {
    if (ev.siblings.length >= this.maxSiblings) {
      this.stats.siblingsDropped++;
      return;
    }
    ev.siblings.push({ type, line, bodyStart });
    this.stats.siblingsJoined++;
  }

  private denialRecord(head: RecordHead, lineNo: number): void {
    const stats = this.stats;
    const text = head.text;
    const line = text.slice(head.lineStart, head.lineEnd);
    if (line.includes('\0')) {
      stats.malformed[MALFORMED_REASON.binary]++;
      return;
    }
    const fields = parseFields(text, head.bodyStart, head.bodyEnd, this.fields);
    const denial = this.buildDenial(head, fields, line);
    if (denial === undefined) return;
    stats.denials[denial.kind]++;

    if (head.serial < 0) {
      this.unidentified.push({
        denial,
        body: text.slice(head.bodyStart, head.bodyEnd).trim(),
        firstLine: lineNo,
        done: false,
      });
      return;
    }

    let ev = this.pending.get(head.serial);
    // Same numbers written differently (a mangled `:012165`) are another event: ids name the written stamp.
    if (ev !== undefined && (ev.sec !== head.sec || ev.ms !== head.ms || ev.auditId !== head.getAuditId())) {
      this.emitEvent(ev);
      ev = undefined;
    }
    if (ev === undefined) {
      const auditId = head.getAuditId() ?? '';
      ev = {
        auditId,
        serial: head.serial,
        sec: head.sec,
        ms: head.ms,
        indexBase: this.emittedIds.get(auditId) ?? 0,
        denials: [],
        siblings: [],
        firstLine: lineNo,
        done: false,
      };
      if (this.pending.size >= this.maxPending) this.evictOldest();
      this.pending.set(head.serial, ev);
      this.queue.push(ev);
      this.takeFromRing(ev);
    }
    ev.denials.push(denial);
  }

  private evictOldest(): void {
    while (this.queueHead < this.queue.length) {
      const ev = this.queue[this.queueHead++];
      if (ev !== undefined && !ev.done) {
        this.stats.pendingEvicted++;
        this.emitEvent(ev);
        return;
      }
    }
  }

  private takeFromRing(ev: PendingEvent): void {
    for (let k = 0; k < RING_SIZE; k++) {
      const p = (this.ringPos + k) % RING_SIZE;
      if (this.ringSerial[p] !== ev.serial || this.ringStampMs[p] !== ev.sec * 1000 + ev.ms) continue;
      const text = this.ringText[p] ?? '';
      const start = this.ringStart[p] ?? 0;
      this.addSibling(
        ev,
        (this.ringType[p] ?? 0) as RecordType,
        text.slice(start, this.ringEnd[p]),
        (this.ringBody[p] ?? 0) - start,
      );
      this.ringSerial[p] = -1;
      this.stats.notRelevant--;
    }
  }

  private buildDenial(head: RecordHead, fields: RecordFields, line: string): Denial | undefined {
    const stats = this.stats;
    const values = fields.values;
    const auditId = head.serial >= 0 ? head.getAuditId() : undefined;
    const time = this.timeOf(head);
    const process = processFromRecord(values, head.envelopePid);
    const type = head.type;
    if (type === RECORD_TYPE.SECCOMP) {
      if (!values.has('code') || !values.has('syscall')) {
        stats.malformed[fields.truncated ? MALFORMED_REASON.truncated : MALFORMED_REASON.badField]++;
        return undefined;
      }
      const seccomp = seccompDetail(values);
      return withId(
        {
          kind: DENIAL_KIND.seccomp,
          time,
          outcome: seccompOutcome(seccomp.action),
          process,
          seccomp,
          raw: [line],
        },
        auditId,
      );
    }
    if (values.has('apparmor')) {
      const mode = appArmorMode(values);
      if (mode === undefined) {
        stats.notDenial[
          plain(values.get('apparmor')) === 'STATUS' ? NOT_DENIAL.apparmorStatus : NOT_DENIAL.apparmorOther
        ]++;
        return undefined;
      }
      if (!values.has('operation')) {
        stats.malformed[fields.truncated ? MALFORMED_REASON.truncated : MALFORMED_REASON.badField]++;
        return undefined;
      }
      const apparmor = appArmorDetail(values, mode);
      return withId(
        { kind: DENIAL_KIND.apparmor, time, outcome: appArmorOutcome(mode), process, apparmor, raw: [line] },
        auditId,
      );
    }
    if (type === RECORD_TYPE.AVC && fields.verdict !== undefined) {
      if (fields.verdict === 'granted') {
        stats.notDenial[NOT_DENIAL.selinuxGranted]++;
        return undefined;
      }
      if (fields.perms === undefined || !values.has('tclass') || !values.has('scontext')) {
        stats.malformed[fields.truncated ? MALFORMED_REASON.truncated : MALFORMED_REASON.badField]++;
        return undefined;
      }
      const selinux = selinuxDetail(fields);
      return withId(
        { kind: DENIAL_KIND.selinux, time, outcome: selinuxOutcome(selinux), process, selinux, raw: [line] },
        auditId,
      );
    }
    // APPARMOR_* records of pre-2.6.36 kernels and AVC records that are neither: not kernel denials
    // in a format we read.
    stats.notDenial[NOT_DENIAL.apparmorOther]++;
    return undefined;
  }

  private timeOf(head: RecordHead): string {
    let ms: number;
    if (head.serial >= 0) ms = head.sec * 1000 + head.ms;
    else ms = head.envelopeTimeMs ?? this.now().getTime();
    // Consecutive records mostly share the second: format it once and append the milliseconds.
    const second = Math.floor(ms / 1000);
    if (second !== this.lastStampSecond) {
      const d = new Date(second * 1000);
      this.lastStampPrefix = (Number.isNaN(d.getTime()) ? new Date(0) : d).toISOString().slice(0, -4);
      this.lastStampSecond = second;
    }
    const frac = ms - second * 1000;
    return `${this.lastStampPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${String(frac)}Z`;
  }

  private emitUnidentified(u: PendingUnidentified): void {
    u.done = true;
    const d = u.denial;
    // No audit id: a stable key from what the line says (time, pid, fields), so re-reading the same log
    // yields the same id. Documented in docs/events.md.
    const base = `~${String(Math.floor(Date.parse(d.time) / 1000))}-${String(d.process.pid)}-${fnv1a32(u.body)}`;
    const seen = this.unidentifiedKeys.get(base) ?? 0;
    if (this.unidentifiedKeys.size >= RECENT_IDS_LIMIT) deleteOldest(this.unidentifiedKeys);
    this.unidentifiedKeys.set(base, seen + 1);
    this.onDenial({ denial: d, key: `${base}/${String(seen)}`, line: u.firstLine });
  }

  private emitEvent(ev: PendingEvent): void {
    ev.done = true;
    if (this.pending.get(ev.serial) === ev) this.pending.delete(ev.serial);
    if (ev.siblings.length > 0) this.applySiblings(ev);
    const n = ev.denials.length;
    this.rememberEmitted(ev.auditId, ev.indexBase + n);
    for (let i = 0; i < n; i++) {
      const denial = ev.denials[i];
      if (denial !== undefined)
        this.onDenial({ denial, key: `${ev.auditId}/${String(ev.indexBase + i)}`, line: ev.firstLine });
    }
  }

  /** Adds what the event's SYSCALL, CWD, PATH, PROCTITLE and EXECVE records tell about the process. */
  private applySiblings(ev: PendingEvent): void {
    let syscall: SiblingLine | undefined;
    let cwd: string | undefined;
    let path: string | undefined;
    let cmdline: string | undefined;
    let execve: SiblingLine | undefined;
    const lines: string[] = [];
    for (const s of ev.siblings) {
      lines.push(s.line);
      const n = s.line.length;
      switch (s.type) {
        case RECORD_TYPE.SYSCALL:
          syscall ??= s;
          break;
        case RECORD_TYPE.CWD:
          cwd ??= untrusted(findField(s.line, s.bodyStart, n, 'cwd'));
          break;
        case RECORD_TYPE.PATH:
          path ??= untrusted(findField(s.line, s.bodyStart, n, 'name'));
          break;
        case RECORD_TYPE.PROCTITLE:
          cmdline ??= commandLine(findField(s.line, s.bodyStart, n, 'proctitle'));
          break;
        case RECORD_TYPE.EXECVE:
          execve ??= s;
          break;
        default:
          break;
      }
    }
    if (cmdline === undefined && execve !== undefined) {
      cmdline = execveCommandLine(parseFields(execve.line, execve.bodyStart, execve.line.length).values);
    }
    for (const denial of ev.denials) {
      const p = denial.process;
      if (syscall !== undefined) mergeSyscall(p, syscall);
      if (cmdline !== undefined) p.cmdline = cmdline;
      if (cwd !== undefined) p.cwd = cwd;
      if (denial.kind === DENIAL_KIND.selinux && path !== undefined && denial.selinux.path === undefined) {
        denial.selinux.path = path;
      }
      denial.raw = denial.raw.concat(lines);
    }
  }
}

function withId<T extends Denial>(denial: T, auditId: string | undefined): T {
  if (auditId !== undefined) denial.auditId = auditId;
  return denial;
}

/** Fills what the denial record did not say from its event's SYSCALL record (ppid is only there). */
function mergeSyscall(p: ProcessInfo, syscall: SiblingLine): void {
  const { line, bodyStart } = syscall;
  const n = line.length;
  const ppid = uint(findField(line, bodyStart, n, 'ppid'));
  if (ppid !== undefined) p.ppid = ppid;
  if (p.comm === undefined) {
    const comm = untrusted(findField(line, bodyStart, n, 'comm'));
    if (comm !== undefined) p.comm = comm;
  }
  if (p.exe === undefined) {
    const exe = untrusted(findField(line, bodyStart, n, 'exe'));
    if (exe !== undefined) p.exe = exe;
  }
  if (p.uid === undefined) {
    const uid = uint(findField(line, bodyStart, n, 'uid'));
    if (uid !== undefined) p.uid = uid;
  }
  if (p.gid === undefined) {
    const gid = uint(findField(line, bodyStart, n, 'gid'));
    if (gid !== undefined) p.gid = gid;
  }
  if (p.auid === undefined) {
    const auid = uint(findField(line, bodyStart, n, 'auid'));
    if (auid !== undefined) p.auid = auid;
  }
  if (p.ses === undefined) {
    const ses = uint(findField(line, bodyStart, n, 'ses'));
    if (ses !== undefined) p.ses = ses;
  }
  if (p.subj === undefined) {
    const subj = plain(findField(line, bodyStart, n, 'subj'));
    if (subj !== undefined) p.subj = subj;
  }
}

function execveCommandLine(values: FieldLookup): string | undefined {
  const argc = uint(values.get('argc'));
  if (argc === undefined) return undefined;
  const args: string[] = [];
  for (let i = 0; i < argc && i < 64; i++) {
    const a = untrusted(values.get(`a${String(i)}`));
    if (a === undefined) break;
    args.push(a);
  }
  return args.length > 0 ? args.join(' ') : undefined;
}

function deleteOldest<K, V>(map: Map<K, V>): void {
  const first = map.keys().next();
  if (first.done !== true) map.delete(first.value);
}

/** FNV-1a, 32 bit, as 8 hex digits: short, stable, and good enough to tell record bodies apart. */
export function fnv1a32(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
