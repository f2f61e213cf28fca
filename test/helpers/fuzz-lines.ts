import { constructedLines, corpusLines, mulberry32 } from './corpus-lines.js';
import { corpusLogFiles } from './fixtures.js';

/**
 * The fuzz lines of the reliability suite (issue 7): mutated corpus lines, audit events with reused
 * serials in any order, records split across lines, and random bytes or token soups, drawn from a seeded
 * generator so that a failing case replays from its seed. Used by the parser's fuzz test and by the
 * agent's (kernwatch run).
 */

/** The parser's default maxLineLength: some long values go past it. */
const MAX_LINE = 65_536;

export type Rnd = () => number;

/** Real lines of every corpus file and of the constructed fixtures: the material of the mutations. */
function material(): { pool: string[]; denials: string[]; siblings: string[] } {
  const pool: string[] = [];
  for (const file of corpusLogFiles()) for (const l of corpusLines(file)) if (l !== '') pool.push(l);
  for (const file of ['selinux-avc-full-event.log', 'journald-kernel-transport.json']) {
    for (const l of constructedLines(file)) if (l !== '') pool.push(l);
  }
  const denials = pool.filter((l) => /SECCOMP|type=1326|apparmor=|avc: /.test(l));
  const siblings = pool.filter((l) => /type=(SYSCALL|CWD|PATH|PROCTITLE|EXECVE|EOE) msg=audit\(/.test(l));
  return { pool, denials, siblings };
}

const STAMP = /audit\((\d+)\.(\d+):(\d+)\)/;
const CONTROL = ['\0', '\x01', '\x07', '\x08', '\t', '\x0b', '\x0c', '\r', '\x1b', '\x1d', '\x1f', '\x7f'];
const TOKENS = [
  'type=',
  'type=SECCOMP',
  'type=AVC',
  'type=EOE',
  'type=1326',
  'msg=audit(',
  'audit(',
  'audit[',
  ')',
  ':',
  '=',
  '"',
  "'",
  ' ',
  '{',
  '}',
  'node=',
  'apparmor="DENIED"',
  'avc:  denied  {',
  '}',
  'for',
  'code=0x',
  'syscall=',
  'pid=',
  'comm=',
  'kernel: ',
  '_TRANSPORT',
  '"MESSAGE":',
  '0x',
  '\x1d',
];

function pick<T>(rnd: Rnd, xs: readonly T[]): T {
  const x = xs[Math.floor(rnd() * xs.length)];
  if (x === undefined) throw new Error('pick from an empty list');
  return x;
}

/** A whole number from 0 to n - 1. */
export function int(rnd: Rnd, n: number): number {
  return Math.floor(rnd() * n);
}

function digits(rnd: Rnd, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(int(rnd, 10));
  return s;
}

/** Offsets of every occurrence of one of `chars` in s. */
function boundaries(s: string, chars: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) if (chars.includes(s.charAt(i))) out.push(i);
  return out;
}

/** A single mutation of one line; a line never comes out containing a newline. */
function mutateOnce(line: string, rnd: Rnd, pool: readonly string[]): string {
  const s = line;
  const p = int(rnd, s.length + 1);
  switch (int(rnd, 14)) {
    case 0: {
      // Flip bits of one character.
      const c = (s.charCodeAt(p) ^ (1 << int(rnd, 8))) & 0xff;
      return s.slice(0, p) + String.fromCharCode(c === 10 ? 32 : c) + s.slice(p + 1);
    }
    case 1: {
      // Truncate at a boundary of some kind: a space, `=`, a quote, a stamp delimiter, 0x1d, or anywhere.
      const at = boundaries(s, pick(rnd, [' ', '=', '"', '(', ')', ':.', '\x1d', '{}[],']));
      const q = at.length > 0 ? pick(rnd, at) + int(rnd, 2) : p;
      return s.slice(0, q);
    }
    case 2: {
      // Duplicate or remove an `=`, a quote or a space.
      const at = boundaries(s, pick(rnd, ['=', '"', ' ', "'"]));
      if (at.length === 0) return s;
      const q = pick(rnd, at);
      return rnd() < 0.5 ? s.slice(0, q) + s.charAt(q) + s.slice(q) : s.slice(0, q) + s.slice(q + 1);
    }
    case 3: {
      // A very long value, sometimes past the parser's maxLineLength.
      const eq = boundaries(s, '=');
      const q = eq.length > 0 ? pick(rnd, eq) + 1 : p;
      const len = rnd() < 0.05 ? MAX_LINE + int(rnd, 2000) : 500 + int(rnd, 8000);
      const fill = pick(rnd, ['A', '4', '"', ' ', 'x=']).repeat(len).slice(0, len);
      return s.slice(0, q) + fill + s.slice(q);
    }
    case 4: {
      // A hex field of odd length, or with a non-hex digit.
      const m = /=(?:0x)?[0-9A-Fa-f]{2,}/g;
      const all = [...s.matchAll(m)];
      if (all.length === 0) return s;
      const hit = pick(rnd, all);
      const end = hit.index + hit[0].length;
      const r = int(rnd, 3);
      if (r === 0) return s.slice(0, end - 1) + s.slice(end);
      if (r === 1) return s.slice(0, end) + pick(rnd, ['A', '0', 'F', 'g', 'Z']) + s.slice(end);
      return s.slice(0, end) + 'ABC'.repeat(1 + int(rnd, 400)) + 'D' + s.slice(end);
    }
    case 5: {
      // A huge number in place of a run of digits.
      const all = [...s.matchAll(/\d+/g)];
      if (all.length === 0) return s;
      const hit = pick(rnd, all);
      const big = pick(rnd, [
        digits(rnd, 16 + int(rnd, 20)),
        '9'.repeat(20 + int(rnd, 400)),
        '18446744073709551616',
        '4294967296',
        '-1',
        '1e308',
        '0'.repeat(30) + '1',
      ]);
      return s.slice(0, hit.index) + big + s.slice(hit.index + hit[0].length);
    }
    case 6: {
      // NUL and control bytes.
      let out = s;
      for (let k = 1 + int(rnd, 3); k > 0; k--) {
        const q = int(rnd, out.length + 1);
        out = out.slice(0, q) + pick(rnd, CONTROL) + out.slice(q);
      }
      return out;
    }
    case 7: {
      // Invalid UTF-8 bytes, decoded as Latin-1 or as UTF-8 (replacement characters, lone surrogates).
      const bytes = Buffer.alloc(1 + int(rnd, 6));
      for (let k = 0; k < bytes.length; k++) bytes[k] = 0x80 + int(rnd, 0x80);
      const junk = rnd() < 0.5 ? bytes.toString('latin1') : bytes.toString('utf8');
      const extra = rnd() < 0.2 ? String.fromCharCode(0xd800 + int(rnd, 0x800)) : '';
      return s.slice(0, p) + junk + extra + s.slice(p);
    }
    case 8: {
      // A broken audit(...) stamp.
      const m = /audit\([^)]*\)?/.exec(s);
      if (m === null) return s;
      const broken = pick(rnd, [
        'audit(',
        'audit()',
        'audit(:)',
        'audit(.:)',
        `audit(${digits(rnd, 1 + int(rnd, 14))}.${digits(rnd, int(rnd, 5))}:${digits(rnd, int(rnd, 22))})`,
        `audit(${digits(rnd, 10)}.${digits(rnd, 3)}:${digits(rnd, 6)}`,
        `audit(-${digits(rnd, 10)}.${digits(rnd, 3)}:${digits(rnd, 6)})`,
        `audit(${digits(rnd, 10)}.${digits(rnd, 3)}:-1)`,
        `audit(${digits(rnd, 10)}.${digits(rnd, 3)}:${digits(rnd, 6)}))`,
        `audit(${digits(rnd, 10)},${digits(rnd, 3)};${digits(rnd, 6)})`,
        `audit(0x${digits(rnd, 8)}.${digits(rnd, 3)}:${digits(rnd, 6)})`,
      ]);
      return s.slice(0, m.index) + broken + s.slice(m.index + m[0].length);
    }
    case 9:
      // Splice the start of this line with the end of another.
      return s.slice(0, p) + pick(rnd, pool).slice(int(rnd, 200));
    case 10: {
      // Duplicate a stretch.
      const q = p + int(rnd, 80);
      return s.slice(0, q) + s.slice(p, q) + s.slice(q);
    }
    case 11:
      // Delete a stretch.
      return s.slice(0, p) + s.slice(p + 1 + int(rnd, 30));
    case 12:
      // A token that means something to the envelope or field parsers.
      return s.slice(0, p) + pick(rnd, TOKENS) + s.slice(p);
    default:
      // Unchanged: real lines keep the event paths busy.
      return s;
  }
}

function mutate(line: string, rnd: Rnd, pool: readonly string[]): string {
  let s = line;
  for (let n = 1 + int(rnd, 3); n > 0; n--) s = mutateOnce(s, rnd, pool);
  return s;
}

/** A purely random line: bytes (as Latin-1 or UTF-8) or a soup of the tokens the parsers look for. */
function randomLine(rnd: Rnd): string {
  if (rnd() < 0.5) {
    const bytes = Buffer.alloc(int(rnd, 300));
    for (let k = 0; k < bytes.length; k++) {
      const b = int(rnd, 256);
      bytes[k] = b === 10 ? 32 : b;
    }
    return rnd() < 0.5 ? bytes.toString('latin1') : bytes.toString('utf8');
  }
  let s = '';
  for (let n = int(rnd, 40); n > 0; n--) {
    s += rnd() < 0.6 ? pick(rnd, TOKENS) : rnd() < 0.5 ? digits(rnd, 1 + int(rnd, 12)) : ' ';
  }
  return s;
}

/**
 * An audit event: a denial and siblings from the corpus, all given one stamp and serial drawn from small
 * pools so that serials are reused across events (with the same or another stamp), in any order, some
 * with an EOE, some of its records mutated.
 */
function eventLines(
  rnd: Rnd,
  denials: readonly string[],
  siblings: readonly string[],
  pool: readonly string[],
): string[] {
  const stamp = `audit(${String(1_700_000_000 + int(rnd, 4))}.${String(100 + int(rnd, 3))}:${String(1 + int(rnd, 40))})`;
  const restamp = (l: string): string => (STAMP.test(l) ? l.replace(STAMP, stamp) : l);
  const out = [restamp(pick(rnd, denials))];
  for (let n = int(rnd, 5); n > 0; n--) out.push(restamp(pick(rnd, siblings)));
  if (rnd() < 0.3) out.push(restamp(pick(rnd, denials)));
  for (let i = out.length - 1; i > 0 && rnd() < 0.5; i--) {
    const j = int(rnd, i + 1);
    const a = out[i] ?? '';
    out[i] = out[j] ?? '';
    out[j] = a;
  }
  if (rnd() < 0.5) out.push(`type=EOE msg=${stamp}: `);
  return out.map((l) => (rnd() < 0.2 ? mutate(l, rnd, pool) : l));
}

/** Lines of one case: mutated corpus lines, events with reused serials, split records, random lines. */
export function* fuzzLines(seed: number, count: number): Generator<string> {
  const { pool, denials, siblings } = material();
  const rnd = mulberry32(seed);
  let n = 0;
  while (n < count) {
    const r = rnd();
    let lines: string[];
    if (r < 0.45) {
      lines = [mutate(pick(rnd, rnd() < 0.5 ? denials : pool), rnd, pool)];
    } else if (r < 0.7) {
      lines = eventLines(rnd, denials, siblings, pool);
    } else if (r < 0.8) {
      // A record split across lines.
      const l = pick(rnd, rnd() < 0.7 ? denials : pool);
      const at = 1 + int(rnd, Math.max(1, l.length - 1));
      lines = [l.slice(0, at), l.slice(at)];
    } else if (r < 0.9) {
      lines = [pick(rnd, pool)];
    } else {
      lines = [randomLine(rnd)];
    }
    for (const l of lines) {
      if (n >= count) return;
      n++;
      yield l;
    }
  }
}
