import { describe, expect, it } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import type { ParseStats } from '../../../agent/parse/parse-stats.js';
import { constructedLines, corpusLine, corpusLines, derive, mulberry32 } from '../../helpers/corpus-lines.js';
import { schemaProblems } from '../../helpers/event-schema.js';
import { corpusLogFiles } from '../../helpers/fixtures.js';
import { collectingParser, onlyEvent, parseText } from '../../helpers/parse-text.js';

/**
 * Broken input: truncated and mangled lines, binary garbage, NUL bytes, huge lines, bad stamps and bad
 * JSON never throw, are counted, and never yield an event that breaks the schema; a fuzz run over
 * mutated corpus lines checks the same at scale.
 */

const KMSG = 'kmsg/kernel618-seccomp-all-actions.kmsg';

function notDenialTotal(s: ParseStats): number {
  return Object.values(s.notDenial).reduce((a, b) => a + b, 0);
}

/**
 * Lines on which the parser itself failed: pushLine catches its own exceptions and counts them as
 * malformed `parser_error` (agent/parse/audit-stream-parser.ts), so "never throws" must also mean none
 * of these. Read by name so the test does not depend on the reason being declared.
 */
function parserErrors(s: ParseStats): number {
  return (s.malformed as Record<string, number | undefined>).parser_error ?? 0;
}

describe('truncated lines', () => {
  // Real denial lines of several forms.
  const lines = [
    ['kmsg', corpusLine(KMSG, 2)],
    ['auditd raw', corpusLine('auditd/gh-containers-container-selinux-169.log', 1)],
    ['auditd enriched', corpusLine('auditd/kernel618-auditd309-enriched-seccomp-all-actions.log', 6)],
    ['dmesg', corpusLine('apparmor-testsuite/test_multi/testcase_dmesg_capability.in', 1)],
    ['journald short', corpusLine('journald/gh-containers-crun-683.log', 1)],
    ['syslog', corpusLine('syslog/gh-datadog-datadog-agent-13436.log', 1)],
    ['logcat', corpusLine('logcat/gh-jmpews-dobby-54.log', 1)],
    ['ausearch -i', corpusLine('auditd-interpreted/gh-libreswan-libreswan-2068.log', 1)],
    ['journald json', constructedLines('journald-kernel-transport.json')[0] ?? ''],
  ] as const;

  it.each(lines)('%s: a cut at every position never throws and is counted exactly once', (_form, line) => {
    for (let k = 0; k <= line.length; k++) {
      const cut = line.slice(0, k);
      const { events, parser } = parseText(cut);
      const s = parser.stats;
      expect(s.lines, `cut at ${String(k)}`).toBe(cut === '' ? 0 : 1);
      const outcomes = s.notRelevant + s.malformedTotal() + s.denialTotal() + notDenialTotal(s);
      expect(outcomes, `cut at ${String(k)}: ${cut}`).toBe(cut === '' ? 0 : 1);
      expect(parserErrors(s), `cut at ${String(k)}: ${cut}`).toBe(0);
      expect(events).toHaveLength(s.denialTotal());
      for (const e of events) expect(schemaProblems(e), `cut at ${String(k)}`).toEqual([]);
    }
  });

  it('keeps the event of an ENRICHED line whatever is cut from its interpreted part after 0x1d', () => {
    // Real: kernel618-auditd309-enriched-seccomp-all-actions.log line 6.
    const line = corpusLine('auditd/kernel618-auditd309-enriched-seccomp-all-actions.log', 6);
    const full = onlyEvent(line);
    for (let k = line.indexOf('\x1d'); k <= line.length; k++) {
      const e = onlyEvent(line.slice(0, k));
      expect({ ...e, raw: [] }, `cut at ${String(k)}`).toStrictEqual({ ...full, raw: [] });
    }
  });
});

describe('a line valid except for one odd field', () => {
  // CONSTRUCTED from kmsg line 2 (real): one field replaced as shown; the record must still be reported,
  // with that field left out where it cannot be read.
  const cases = [
    ['an empty ip=', 'ip=0x7f5187416829', 'ip='],
    ['a non-hex ip=', 'ip=0x7f5187416829', 'ip=0xZZ??'],
    ['a bare word', ' pid=8577', ' (enforce) pid=8577'],
    ['a duplicated pid (the first counts)', ' comm=77206C6F67', ' pid=1 comm=77206C6F67'],
    ['a negative ses=', 'ses=4294967295', 'ses=-1'],
    ['a named uid=', ' uid=0', ' uid=root'],
  ] as const;
  const fullProcess = {
    pid: 8577,
    comm: 'w log',
    exe: '/usr/local/bin/seccomp-demo',
    uid: 0,
    gid: 0,
    auid: 4294967295,
    ses: 4294967295,
  };

  it.each(cases)('still reports the record with %s', (what, from, to) => {
    const e = onlyEvent(derive(corpusLine(KMSG, 2), from, to));
    expect(e.seccomp).toStrictEqual({
      syscall: 'getppid',
      syscallNr: 110,
      arch: 'x86_64',
      compat: false,
      action: 'LOG',
      signal: 0,
      code: '0x7ffc0000',
    });
    const process: Record<string, unknown> = { ...fullProcess };
    if (what === 'a negative ses=') delete process.ses;
    if (what === 'a named uid=') delete process.uid;
    expect(e.process).toStrictEqual(process);
  });
});

describe('binary input', () => {
  it('survives lines of random bytes and counts every one of them', () => {
    const rnd = mulberry32(0xb1a5);
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(rnd() * 400);
      let s = '';
      for (let j = 0; j < n; j++) {
        const c = Math.floor(rnd() * 256);
        s += String.fromCharCode(c === 10 ? 32 : c);
      }
      lines.push(s);
    }
    const { events, parser } = parseText(lines.join('\n'));
    expect(parser.stats.lines).toBe(lines.filter((l) => l !== '').length);
    expect(parserErrors(parser.stats)).toBe(0);
    for (const e of events) expect(schemaProblems(e)).toEqual([]);
  });

  it('counts a denial line holding a NUL byte as malformed (binary) and reports nothing', () => {
    // CONSTRUCTED from kmsg line 11 (real, comm="sh"): comm="s<NUL>h".
    const line = derive(corpusLine(KMSG, 11), 'comm="sh"', 'comm="s\0h"');
    const { events, parser } = parseText(line);
    expect(events).toEqual([]);
    expect(parser.stats.malformed.binary).toBe(1);
    expect(parser.stats.malformedTotal()).toBe(1);
  });

  it('reads the next line normally after a line with NUL bytes', () => {
    const bad = derive(corpusLine(KMSG, 11), 'comm="sh"', 'comm="s\0h"');
    const { events } = parseText([bad, corpusLine(KMSG, 2)].join('\n'));
    expect(events.map((e) => e.process.pid)).toEqual([8577]);
  });
});

describe('overlong lines', () => {
  // CONSTRUCTED from kmsg line 2 (real): its exe= path made 1 MiB long.
  const long = derive(
    corpusLine(KMSG, 2),
    'exe="/usr/local/bin/seccomp-demo"',
    `exe="/${'a'.repeat(1 << 20)}"`,
  );

  it('counts a 1 MiB line as malformed (too_long) and still reads the next line', () => {
    const { events, parser } = parseText([long, corpusLine(KMSG, 3)].join('\n'));
    expect(parser.stats.lines).toBe(2);
    expect(parser.stats.malformed.too_long).toBe(1);
    expect(parser.stats.malformedTotal()).toBe(1);
    expect(events.map((e) => e.process.pid)).toEqual([8579]);
  });

  it('reads the same line when maxLineLength allows it', () => {
    const { events, parser } = parseText(long, { maxLineLength: 2 << 20 });
    expect(parser.stats.malformedTotal()).toBe(0);
    expect(events.map((e) => e.process.exe?.length)).toEqual([(1 << 20) + 1]);
  });
});

describe('invalid audit(...) stamps', () => {
  // CONSTRUCTED from kmsg line 2 and from the auditd form of the same record (kernel618 ENRICHED line 6,
  // real): the stamp replaced as shown.
  const stamps = [
    ['two-digit milliseconds', 'audit(1795865927.05:334420)'],
    ['no milliseconds', 'audit(1795865927:334420)'],
    ['no serial', 'audit(1795865927.052:)'],
    ['no colon', 'audit(1795865927.052334420)'],
    ['no seconds', 'audit(.052:334420)'],
    ['eleven-digit seconds', 'audit(17958659270.052:334420)'],
    ['letters', 'audit(179586592x.052:334420)'],
    ['no closing parenthesis', 'audit(1795865927.052:334420 '],
    ['empty', 'audit()'],
  ] as const;

  it.each(stamps)('counts a kmsg record with %s as malformed (bad_header)', (_what, stamp) => {
    const { events, parser } = parseText(derive(corpusLine(KMSG, 2), 'audit(1795865927.052:334420)', stamp));
    expect(events).toEqual([]);
    expect(parser.stats.malformed.bad_header).toBe(1);
    expect(parser.stats.malformedTotal()).toBe(1);
  });

  it.each(stamps)('counts an auditd record with %s as malformed (bad_header)', (_what, stamp) => {
    const line = corpusLine('auditd/kernel618-auditd309-enriched-seccomp-all-actions.log', 6);
    const { events, parser } = parseText(derive(line, 'audit(1795865933.120:334440)', stamp));
    expect(events).toEqual([]);
    expect(parser.stats.malformed.bad_header).toBe(1);
    expect(parser.stats.malformedTotal()).toBe(1);
  });
});

describe('stamps that differ only in how they are written', () => {
  it('keeps every id equal to <node>:<its own auditId>/<i> when a serial is written with a leading zero', () => {
    // CONSTRUCTED: gh-confidential-containers-operator-115.log lines 1 (real) and 2 with its stamp
    // audit(1665522945.448:12165) written audit(1665522945.448:012165). The kernel never writes leading
    // zeros; mangled input must still not yield an id that contradicts the event's auditId.
    const file = 'auditd/gh-confidential-containers-operator-115.log';
    const zero = derive(corpusLine(file, 2), 'audit(1665522945.448:12165)', 'audit(1665522945.448:012165)');
    const { events } = parseText([corpusLine(file, 1), zero].join('\n'));
    expect(events).toHaveLength(2);
    for (const e of events) expect(e.id.startsWith(`test-node:${e.auditId ?? '?'}/`), e.id).toBe(true);
  });
});

describe('lines starting with {', () => {
  it('counts invalid JSON as malformed (bad_json)', () => {
    const kernelEntry = constructedLines('journald-kernel-transport.json')[0] ?? '';
    const lines = [
      kernelEntry.slice(0, kernelEntry.length - 40), // a journal entry cut short
      '{not json at all',
      '{"_TRANSPORT":"audit","MESSAGE":"SECCOMP auid=0"', // no closing brace
    ];
    const { events, parser } = parseText(lines.join('\n'));
    expect(events).toEqual([]);
    expect(parser.stats.malformed.bad_json).toBe(3);
    expect(parser.stats.malformedTotal()).toBe(3);
  });

  // CONSTRUCTED from test/fixtures/constructed/journald-audit-transport.json: one number made implausible
  // (digits duplicated, as a damaged journal export can show).
  const implausible = [
    [
      'a 32-digit _SOURCE_REALTIME_TIMESTAMP',
      '"_SOURCE_REALTIME_TIMESTAMP":"1622229872180000"',
      '"_SOURCE_REALTIME_TIMESTAMP":"16222298721800001622229872180000"',
    ],
    [
      'a 20-digit _SOURCE_REALTIME_TIMESTAMP',
      '"_SOURCE_REALTIME_TIMESTAMP":"1622229872180000"',
      '"_SOURCE_REALTIME_TIMESTAMP":"99999999999999999999"',
    ],
    ['a 25-digit _AUDIT_ID', '"_AUDIT_ID":"55"', '"_AUDIT_ID":"5555555555555555555555555"'],
  ] as const;

  it.each(implausible)(
    'builds no audit id outside the form of msg=audit(SEC.MS:SERIAL) from a journal entry with %s',
    (_what, from, to) => {
      const entry = derive(constructedLines('journald-audit-transport.json')[0] ?? '', from, to);
      const { events } = parseText(entry);
      for (const e of events) {
        // The bounds envelope.ts applies to a written stamp: at most 10 digits of seconds, 15 of serial.
        if (e.auditId !== undefined) {
          expect(e.auditId).toMatch(/^\d{1,10}\.\d{3}:\d{1,15}$/);
          const [sec = '', ms = ''] = e.auditId.split(':')[0]?.split('.') ?? [];
          expect(e.time).toBe(new Date(Number(sec) * 1000 + Number(ms)).toISOString());
        }
        expect(schemaProblems(e)).toEqual([]);
      }
    },
  );

  it('counts valid JSON that is not a kernel journal entry as not relevant', () => {
    const { events, parser } = parseText(
      ['{}', '{"a":1}', '{"_TRANSPORT":"stdout","MESSAGE":"x"}'].join('\n'),
    );
    expect(events).toEqual([]);
    expect(parser.stats.notRelevant).toBe(3);
    expect(parser.stats.malformedTotal()).toBe(0);
  });
});

describe('fuzzing with mutated corpus lines', () => {
  const INSERTS = [
    '"',
    "'",
    ' ',
    '=',
    '\x1d',
    '\0',
    '{',
    '}',
    '(',
    ')',
    ':',
    '[',
    ']',
    '\r',
    '0x',
    'type=',
    'audit(',
  ];

  /** Real lines of every corpus file (and the constructed ones), the material of the mutations. */
  function material(): string[] {
    const out: string[] = [];
    for (const file of corpusLogFiles()) for (const l of corpusLines(file)) if (l !== '') out.push(l);
    for (const file of [
      'selinux-avc-full-event.log',
      'journald-kernel-transport.json',
      'journald-audit-transport.json',
    ]) {
      out.push(...constructedLines(file));
    }
    return out;
  }

  function mutate(line: string, rnd: () => number, pool: readonly string[]): string {
    let s = line;
    const pos = (): number => Math.floor(rnd() * (s.length + 1));
    const n = 1 + Math.floor(rnd() * 3);
    for (let m = 0; m < n; m++) {
      const op = Math.floor(rnd() * 8);
      const p = pos();
      switch (op) {
        case 0: {
          // Replace one character by any other (never a newline: pushLine takes one line).
          let c = Math.floor(rnd() * (rnd() < 0.9 ? 256 : 0xffff));
          if (c === 10) c = 11;
          s = s.slice(0, p) + String.fromCharCode(c) + s.slice(p + 1);
          break;
        }
        case 1:
          s = s.slice(0, p) + s.slice(p + 1 + Math.floor(rnd() * 20));
          break;
        case 2:
          s = s.slice(0, p) + (INSERTS[Math.floor(rnd() * INSERTS.length)] ?? '') + s.slice(p);
          break;
        case 3:
          s = s.slice(0, p);
          break;
        case 4: {
          const q = p + Math.floor(rnd() * 60);
          s = s.slice(0, q) + s.slice(p, q) + s.slice(q);
          break;
        }
        case 5: {
          // Splice the start of this line with the end of another.
          const other = pool[Math.floor(rnd() * pool.length)] ?? '';
          s = s.slice(0, p) + other.slice(Math.floor(rnd() * other.length));
          break;
        }
        case 6:
          // Leave the line as it is (some real lines go through unchanged).
          break;
        default: {
          // Flip a digit, the commonest damage to stamps, serials and numbers.
          const d = s.search(/\d/);
          if (d >= 0) s = s.slice(0, d) + String(Math.floor(rnd() * 10)) + s.slice(d + 1);
          break;
        }
      }
    }
    return s;
  }

  function randomBytes(rnd: () => number): string {
    const n = Math.floor(rnd() * 300);
    let s = '';
    for (let i = 0; i < n; i++) {
      const c = Math.floor(rnd() * 256);
      s += String.fromCharCode(c === 10 ? 0 : c);
    }
    return s;
  }

  /** Feeds `count` mutated lines (and `random` lines of random bytes) through one parser. */
  function fuzz(
    seed: number,
    count: number,
    random: number,
    options: { holdLines?: number } = {},
  ): { events: KernwatchEvent[]; stats: ParseStats; pushed: number } {
    const pool = material();
    const denials = pool.filter((l) => /SECCOMP|type=1326|apparmor=|avc: /.test(l));
    const rnd = mulberry32(seed);
    const { events, parser } = collectingParser(options);
    let pushed = 0;
    let batch: string[] = [];
    const flushBatch = (): void => {
      // Half the batches are pushed as offsets into one text, the way the CLI's line splitter does.
      if (rnd() < 0.5) {
        const text = batch.join('\n');
        let start = 0;
        for (const l of batch) {
          parser.pushLine(text, start, start + l.length);
          start += l.length + 1;
        }
      } else {
        for (const l of batch) parser.pushLine(l);
      }
      pushed += batch.length;
      batch = [];
    };
    for (let i = 0; i < count + random; i++) {
      // Half the material is drawn from denial records, so that mutations reach the field parsers.
      const from = rnd() < 0.5 ? denials : pool;
      const line =
        i < count ? mutate(from[Math.floor(rnd() * from.length)] ?? '', rnd, pool) : randomBytes(rnd);
      batch.push(line);
      if (batch.length === 64) flushBatch();
    }
    flushBatch();
    parser.flushAll();
    return { events, stats: parser.stats, pushed };
  }

  /** Schema problems of the events, one example per kind of problem. */
  function problemsOf(events: readonly KernwatchEvent[]): string[] {
    const byKind = new Map<string, string>();
    for (const e of events) {
      for (const p of schemaProblems(e)) {
        const kind = p.replace(/[0-9]+/g, 'N');
        if (!byKind.has(kind)) byKind.set(kind, `${p} in ${JSON.stringify(e)}`);
      }
    }
    return [...byKind.values()];
  }

  it('has enough material: the corpus lines and, among them, denial records', () => {
    const pool = material();
    expect(pool.length).toBeGreaterThan(3000);
    expect(pool.filter((l) => /SECCOMP|type=1326|apparmor=|avc: /.test(l)).length).toBeGreaterThan(500);
  });

  it('counts every one of 110,000 mutated and random lines and fails on none (no throw, no parser_error)', () => {
    const { events, stats, pushed } = fuzz(20261128, 100_000, 10_000);
    expect(pushed).toBe(110_000);
    expect(stats.lines).toBe(pushed);
    expect(parserErrors(stats)).toBe(0);
    expect(events.length).toBe(stats.denialTotal());
    // The mutations leave many records intact: the run must exercise the event paths, not only rejects.
    expect(events.length).toBeGreaterThan(20_000);
  });

  it('emits only schema-valid events from 110,000 mutated and random lines', () => {
    expect(problemsOf(fuzz(20261128, 100_000, 10_000).events)).toEqual([]);
  });

  it('emits only schema-valid events when events must be emitted after one line (holdLines 1)', () => {
    const { events, stats, pushed } = fuzz(7, 40_000, 2_000, { holdLines: 1 });
    expect(stats.lines).toBe(pushed);
    expect(parserErrors(stats)).toBe(0);
    expect(problemsOf(events)).toEqual([]);
  });
});
