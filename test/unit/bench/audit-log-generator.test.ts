import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  classifyDenial,
  defaultCorpusDir,
  DenialKind,
  generateAuditLogBuffer,
  mulberry32,
  SECCOMP_CODES,
} from '../../bench/audit-log-generator.js';

const LINE_RE = /^(node=\S+ )?type=[A-Z_0-9]+ msg=audit\(\d+\.\d{3}:\d+\): /;
const STAMP_RE = /msg=audit\((\d+)\.(\d{3}):(\d+)\): (.*)$/;
const N = 2000;

function linesOf(data: Buffer): string[] {
  const text = data.toString('latin1');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

interface Parsed {
  readonly type: string;
  readonly ms: number;
  readonly serial: number;
  readonly stamp: string;
  readonly body: string;
}

function parse(line: string): Parsed {
  const type = /type=([A-Z_0-9]+) /.exec(line)?.[1];
  const m = STAMP_RE.exec(line);
  if (type === undefined || m === null) throw new Error(`unparsable line: ${line}`);
  const [, sec = '', frac = '', serial = '', body = ''] = m;
  return {
    type,
    ms: Number(sec) * 1000 + Number(frac),
    serial: Number(serial),
    stamp: `${sec}.${frac}:${serial}`,
    body,
  };
}

/** Replaces the numbers the generator may rewrite, so bodies can be compared with the corpus. */
function normalize(body: string): string {
  const sep = body.indexOf('\x1d');
  const head = sep < 0 ? body : body.slice(0, sep);
  const tail = sep < 0 ? '' : body.slice(sep);
  return (
    head
      .replace(/(^|[ '])(ppid|pid)=\d+/g, '$1$2=N')
      .replace(/ syscall=\d+/, ' syscall=N')
      .replace(/ code=0x[0-9a-f]+/, ' code=N')
      .replace(/ sig=\d+/, ' sig=N') + tail
  );
}

function corpusBodies(): Set<string> {
  const dir = defaultCorpusDir();
  const bodies = new Set<string>(['']);
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.log'))) {
    for (const line of readFileSync(join(dir, name), 'latin1').split('\n')) {
      const m = /^(?:node=\S+ )?type=[A-Z_0-9]+ msg=audit\(\d+\.\d{3}:\d+\):(?: (.*))?$/.exec(line);
      if (m !== null) bodies.add(normalize(m[1] ?? ''));
    }
  }
  return bodies;
}

describe('mulberry32', () => {
  it('is deterministic and in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    for (let i = 0; i < 1000; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});

describe('generateAuditLog', () => {
  const { data, result } = generateAuditLogBuffer({ lines: N, seed: 7 });
  const lines = linesOf(data);
  const parsed = lines.map(parse);

  it('is deterministic: same seed, same bytes; other seed, other bytes', () => {
    expect(generateAuditLogBuffer({ lines: N, seed: 7 }).data.equals(data)).toBe(true);
    expect(generateAuditLogBuffer({ lines: N, seed: 8 }).data.equals(data)).toBe(false);
  });

  it('writes exactly the requested number of lines', () => {
    expect(lines).toHaveLength(N);
    expect(result.lines).toBe(N);
    expect(result.bytes).toBe(data.length);
    expect(generateAuditLogBuffer({ lines: 1, seed: 1 }).result.lines).toBe(1);
    expect(linesOf(generateAuditLogBuffer({ lines: 37, seed: 3 }).data)).toHaveLength(37);
  });

  it('every line is an auditd record line', () => {
    for (const line of lines) expect(line).toMatch(LINE_RE);
  });

  it('has about 10% denial records of all three kinds, and counts them right', () => {
    const counts = { seccomp: 0, apparmor: 0, selinux: 0 };
    for (const line of lines) {
      const kind = classifyDenial(line);
      if (kind !== undefined) counts[kind]++;
    }
    const total = counts.seccomp + counts.apparmor + counts.selinux;
    expect(total / N).toBeGreaterThan(0.08);
    expect(total / N).toBeLessThan(0.12);
    expect(result.denials).toEqual({ total, ...counts });
    expect(counts.seccomp).toBeGreaterThan(0);
    expect(counts.apparmor).toBeGreaterThan(0);
    expect(counts.selinux).toBeGreaterThan(0);
  });

  it('uses only real seccomp action codes', () => {
    const codes = new Set<string>(SECCOMP_CODES);
    for (const p of parsed.filter((x) => x.type === 'SECCOMP')) {
      expect(codes.has(/ code=(0x[0-9a-f]+)/.exec(p.body)?.[1] ?? '')).toBe(true);
    }
  });

  it('has monotonically increasing timestamps and serials, one stamp per event', () => {
    for (let i = 1; i < parsed.length; i++) {
      const prev = parsed[i - 1];
      const cur = parsed[i];
      if (prev === undefined || cur === undefined) throw new Error('unreachable');
      expect(cur.ms).toBeGreaterThanOrEqual(prev.ms);
      expect(cur.serial).toBeGreaterThanOrEqual(prev.serial);
      if (cur.serial === prev.serial) expect(cur.stamp).toBe(prev.stamp);
    }
  });

  it('follows SELinux AVCs with SYSCALL/CWD/PATH/PROCTITLE/EOE of the same event', () => {
    const byStamp = new Map<string, Parsed[]>();
    for (const p of parsed) byStamp.set(p.stamp, [...(byStamp.get(p.stamp) ?? []), p]);
    let seen = 0;
    for (const [i, line] of lines.entries()) {
      if (classifyDenial(line) !== DenialKind.SELinux) continue;
      seen++;
      const event = byStamp.get(parsed[i]?.stamp ?? '') ?? [];
      const types = event.map((p) => p.type);
      for (const t of ['SYSCALL', 'CWD', 'PATH', 'PROCTITLE']) expect(types).toContain(t);
      expect(types[types.length - 1]).toBe('EOE');
      // The process that hit the denial is the one in the SYSCALL record.
      const avcPid = /pid=(\d+)/.exec(parsed[i]?.body ?? '')?.[1];
      const sysPid = / pid=(\d+)/.exec(event.find((p) => p.type === 'SYSCALL')?.body ?? '')?.[1];
      expect(sysPid).toBe(avcPid);
    }
    expect(seen).toBeGreaterThan(0);
  });

  it('keeps template text byte-identical apart from the stamp and rewritten numbers', () => {
    const bodies = corpusBodies();
    for (const p of parsed) expect(bodies.has(normalize(p.body)), p.body).toBe(true);
    expect(result.enrichedLines).toBeGreaterThan(0);
    expect(lines.filter((l) => l.includes('\x1d'))).toHaveLength(result.enrichedLines);
  });
});
