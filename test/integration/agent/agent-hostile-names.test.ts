import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import {
  agentReady,
  CLI,
  eventsIn,
  eventsInFile,
  needsBuiltCli,
  startAgent,
  waitFor,
  type AgentProcess,
} from '../../helpers/agent-process.js';
import { noAuditdRegistered } from '../../helpers/auditd.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';
import { disablePrintkRateLimit } from '../../helpers/printk-ratelimit.js';
import { buildViolator, parseViolatorLine } from '../../helpers/violator.js';

// Hostile input from a real process (issue 7): the violator binary is copied to files (and directories)
// whose names hold `"`, `=`, spaces, a newline, non-ASCII bytes or a whole forged SECCOMP record, and
// started with a forged argv[0]. Each makes one real LOG violation; the agent reads it from /dev/kmsg.
//
// The kernel puts comm (the first 15 bytes of the basename execve was given) and exe (the full path)
// through audit_log_untrustedstring(): a value with `"`, a byte < 0x21 (space, newline) or > 0x7e is
// written as bare upper-case hex, anything else in double quotes. What the kernel wrote to kmsg here:
//   5,213536,27218713666,-;audit: type=1326 audit(1795893969.489:253580): auid=4294967295 uid=0 gid=0
//     ses=4294967295 pid=12955 comm=612262 exe=2F746D702F…2F612262 sig=0 arch=c000003e syscall=110
//     compat=0 ip=0x7fbe51049829 code=0x7ffc0000                                         (comm `a"b`)
//   … pid=12956 comm=6120623D632064 exe=2F746D702F…2F6120623D632064 …                  (comm `a b=c d`)
//   … pid=14779 comm=6E6C0A747970653D534543434F4D50 exe=2F…2F6E6C0A6469722F6E6C0A74797065…3D3539 …
//     (comm `nl\ntype=SECCOMP`: 15 bytes; exe `/tmp/…/nl\ndir/nl\ntype=SECCOMP msg=audit(1.0:1): …`)
//   … pid=12960 comm=7820747970653D534543434F4D5020 exe=2F…2F7820747970653D53454343…3D3539 …
//     (comm `x type=SECCOMP ` cut at 15 bytes; exe ends in the whole forged record)
//   … pid=12957 comm=636166C3A9 exe=2F…2F636166C3A9 …                 (comm `café`: UTF-8 bytes in hex)
//   … pid=14780 comm="pid=1" exe="/tmp/…/comm=init/pid=1" …          (`=` alone is not special: quoted)
// The hex never contains a quote, space or newline, so no forged text reaches the line as text, and
// kmsg's own \xNN escaping of control bytes never comes into play. Without auditd the kernel logs no
// PROCTITLE (argv) to kmsg: the forged argv[0] must not surface anywhere (cmdline, if ever present, must
// be exactly the real argv).

const execFileAsync = promisify(execFile);

const skip = missingPrerequisite([isRoot, hasCommand('gcc', 'gcc'), needsBuiltCli, noAuditdRegistered]);

const FORGED = 'type=SECCOMP msg=audit(1.0:1): pid=1 comm="init" syscall=59';

interface HostileCase {
  name: string;
  /** Directory under the test's temp dir ('' for none). */
  dir: string;
  /** The executable's file name. */
  file: string;
  /** argv[0] the violator is started with. */
  argv0: string;
}

const CASES: HostileCase[] = [
  { name: 'double quotes', dir: 'q"dir', file: 'a"b', argv0: 'a"b' },
  { name: '= and spaces', dir: 'sp ace=dir', file: 'a b=c d', argv0: 'a b=c d' },
  {
    name: 'a newline followed by a forged record',
    dir: 'nl\ndir',
    file: `nl\n${FORGED}`,
    argv0: `x\n${FORGED}\n`,
  },
  {
    name: 'a whole forged record',
    dir: '',
    file: `x ${FORGED}`,
    argv0: `x ${FORGED}`,
  },
  // No byte the kernel hex-encodes: written quoted, comm="pid=1" exe="/…/comm=init/pid=1".
  {
    name: 'key=value text without spaces (quoted, not hex)',
    dir: 'comm=init',
    file: 'pid=1',
    argv0: 'pid=1',
  },
  { name: 'non-ASCII (UTF-8) bytes', dir: 'dïr', file: 'café', argv0: 'café' },
];

interface Run {
  c: HostileCase;
  exe: string;
  comm: string;
  pid: number;
}

/** The kernel's comm: the first 15 bytes of the basename execve was given (TASK_COMM_LEN 16). */
function kernelComm(path: string): string {
  return Buffer.from(basename(path)).subarray(0, 15).toString('utf8');
}

/** Runs the violator at `exe` with a hostile argv[0] (`log 1`: one LOG violation, exit 0). */
async function violate(exe: string, argv0: string): Promise<number> {
  const child = spawn(exe, ['log', '1'], { argv0, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const code = await new Promise<number | string>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => {
      resolve(c ?? s ?? 'unknown');
    });
  });
  expect(code, `violator exit (stderr: ${err})`).toBe(0);
  const violateLine = out
    .split('\n')
    .map(parseViolatorLine)
    .find((e) => e?.kind === 'violate');
  if (violateLine?.kind !== 'violate') throw new Error(`no violate line from ${exe}: ${out}`);
  expect(violateLine.pid).toBe(child.pid);
  return violateLine.pid;
}

describe.skipIf(skip)('kernwatch run: hostile process names cannot forge an event or a field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-e2e-hostile-'));
  const out = join(dir, 'events.ndjson');
  const runs: Run[] = [];
  let restorePrintk: (() => void) | undefined;
  let agent: AgentProcess | undefined;
  let events: KernwatchEvent[] = [];
  let parsed: KernwatchEvent[] = [];

  beforeAll(async () => {
    const violator = await buildViolator();
    const paths = CASES.map((c) => {
      const d = c.dir === '' ? dir : join(dir, c.dir);
      mkdirSync(d, { recursive: true });
      const exe = join(d, c.file);
      copyFileSync(violator, exe);
      return exe;
    });
    // Six records; earlier tests may have used up kmsg's 10 per 5 s.
    restorePrintk = disablePrintkRateLimit();
    agent = startAgent([
      'run',
      '--source',
      'kmsg',
      '--sink',
      `file:${out}`,
      '--state-dir',
      join(dir, 'state'),
      '--node',
      'node-hostile',
    ]);
    await agentReady(agent);
    for (const [i, c] of CASES.entries()) {
      const exe = paths[i];
      if (exe === undefined) throw new Error('path missing');
      runs.push({ c, exe, comm: kernelComm(exe), pid: await violate(exe, c.argv0) });
    }
    events = await waitFor('an event for every violation', () => {
      const all = eventsInFile(out);
      return runs.every((r) => all.some((e) => e.process.pid === r.pid)) ? all : undefined;
    });
    expect(await agent.stop('SIGTERM')).toBe(0);
    // After a clean stop nothing more may appear.
    events = eventsInFile(out);

    // The same raw lines through `kernwatch parse`.
    const rawFile = join(dir, 'raw.log');
    const mine = events.filter((e) => runs.some((r) => r.pid === e.process.pid));
    writeFileSync(rawFile, mine.flatMap((e) => e.raw.map((l) => `${l}\n`)).join(''));
    const { stdout } = await execFileAsync(process.execPath, [
      CLI,
      'parse',
      '--node',
      'node-hostile',
      rawFile,
    ]);
    parsed = eventsIn(stdout);
  });

  afterAll(async () => {
    await agent?.stop('SIGKILL');
    restorePrintk?.();
    rmSync(dir, { recursive: true, force: true });
  });

  function checkOne(all: KernwatchEvent[], r: Run, source: string): void {
    const mine = all.filter((e) => e.process.pid === r.pid);
    expect(mine, `events of pid ${String(r.pid)}`).toHaveLength(1);
    const e = mine[0];
    if (e === undefined) return;
    expect(e.source).toBe(source);
    expect(e.kind).toBe('seccomp');
    expect(e.seccomp?.action).toBe('LOG');
    expect(e.seccomp?.syscall).toBe('getppid');
    expect(e.process.comm).toBe(r.comm);
    expect(e.process.exe).toBe(r.exe);
    if (e.process.cmdline !== undefined) expect(e.process.cmdline).toBe([r.c.argv0, 'log', '1'].join(' '));
    expect(e.auditId).not.toBe('1.0:1');
    expect(e.raw).toHaveLength(1);
    // Whatever the kernel wrote is one line: hex or quoted, never the hostile text as it is.
    const [raw] = e.raw;
    expect(raw).not.toContain('\n');
    expect(raw?.match(/type=/g)).toHaveLength(1);
    expect(raw?.match(/ pid=/g)).toHaveLength(1);
    expect(raw?.match(/ comm=/g)).toHaveLength(1);
  }

  function checkNoForgery(all: KernwatchEvent[]): void {
    expect(all.filter((e) => e.process.pid === 1)).toEqual([]);
    expect(all.filter((e) => e.process.comm === 'init')).toEqual([]);
    expect(all.filter((e) => e.auditId === '1.0:1' || e.seccomp?.syscallNr === 59)).toEqual([]);
    // Every event from these executables is one of the real violations, one each.
    const fromHere = all.filter((e) => e.process.exe?.startsWith(dir) === true);
    const byPid = (a: number, b: number): number => a - b;
    expect(fromHere.map((e) => e.process.pid).sort(byPid)).toEqual(runs.map((r) => r.pid).sort(byPid));
  }

  test.each(CASES.map((c, i) => [c.name, i] as const))(
    'from /dev/kmsg, %s: one event, comm and exe exactly the real (hex-decoded) strings',
    (_name, i) => {
      const r = runs[i];
      if (r === undefined) throw new Error('run missing');
      checkOne(events, r, 'kmsg');
    },
  );

  test('from /dev/kmsg: no forged event, no pid 1, no comm "init"', () => {
    checkNoForgery(events);
    expect(agent?.stderr()).not.toMatch(/"level":(50|60)/);
  });

  test.each(CASES.map((c, i) => [c.name, i] as const))(
    'kernwatch parse of the same raw lines, %s: the same event',
    (_name, i) => {
      const r = runs[i];
      if (r === undefined) throw new Error('run missing');
      checkOne(parsed, r, 'file');
      const live = events.find((e) => e.process.pid === r.pid);
      const offline = parsed.find((e) => e.process.pid === r.pid);
      // The agent may add what it read from /proc; what the record says must be the same.
      const fromRecord = (e: KernwatchEvent | undefined): Record<string, number | string | undefined> => ({
        pid: e?.process.pid,
        comm: e?.process.comm,
        exe: e?.process.exe,
        uid: e?.process.uid,
        gid: e?.process.gid,
        auid: e?.process.auid,
        ses: e?.process.ses,
      });
      expect(fromRecord(offline)).toEqual(fromRecord(live));
      expect(offline?.raw).toEqual(live?.raw);
    },
  );

  test('kernwatch parse: no forged event, exactly one per real violation', () => {
    expect(parsed).toHaveLength(runs.length);
    checkNoForgery(parsed);
  });
});
