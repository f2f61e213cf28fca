import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import { buildCliIfStale, runCli, type CliRun } from '../../helpers/cli-run.js';
import { corpusLine } from '../../helpers/corpus-lines.js';
import { schemaProblems, EVENT_KEY_ORDER } from '../../helpers/event-schema.js';
import { CORPUS } from '../../helpers/fixtures.js';
import { parseFile } from '../../helpers/parse-text.js';

/**
 * `kernwatch parse` as a user runs it: the built CLI (dist/agent/cli/main.js) in a child process, no shell.
 */

const KMSG = join(CORPUS, 'kmsg', 'kernel618-seccomp-all-actions.kmsg');
const CONFIDENTIAL = join(CORPUS, 'auditd', 'gh-confidential-containers-operator-115.log');
const LOGCAT = join(CORPUS, 'logcat', 'gh-jmpews-dobby-54.log');
const HARVESTER = join(CORPUS, 'journald', 'gh-harvester-harvester-2528.log');

function run(
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  return runCli(args, {
    input: options.input,
    env: options.env ?? { ...process.env, NODE_NAME: 'cli-test-node' },
  });
}

/** The events kernwatch's library reports for the same files, one parser per file as the CLI runs them. */
function libraryEvents(files: readonly string[], node: string): KernwatchEvent[] {
  return files.flatMap((f) =>
    parseFile(f).events.map((e) => ({ ...e, node, id: `${node}:${e.id.slice('test-node:'.length)}` })),
  );
}

function ndjson(stdout: string): unknown[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}

let tmp = '';

beforeAll(() => {
  buildCliIfStale();
  tmp = mkdtempSync(join(tmpdir(), 'kernwatch-cli-test-'));
});

afterAll(() => {
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
});

describe('kernwatch parse --format ndjson', () => {
  it('writes one JSON event per line, equal to the library events, and exits 0', async () => {
    const files = [KMSG, CONFIDENTIAL, LOGCAT];
    const r = await run(['parse', '--node', 'n1', ...files]);
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(ndjson(r.stdout)).toEqual(libraryEvents(files, 'n1'));
  });

  it('writes every event with valid schema fields in the documented key order', async () => {
    const r = await run(['parse', '--node', 'n1', KMSG, CONFIDENTIAL, LOGCAT]);
    const events = ndjson(r.stdout) as KernwatchEvent[];
    expect(events).toHaveLength(15);
    for (const e of events) {
      expect(schemaProblems(e, 'n1')).toEqual([]);
      const keys = Object.keys(e);
      expect(keys).toEqual(EVENT_KEY_ORDER.filter((k) => keys.includes(k)));
    }
  });

  it('is the default format', async () => {
    const [a, b] = await Promise.all([
      run(['parse', '--node', 'n1', KMSG]),
      run(['parse', '--format', 'ndjson', '--node', 'n1', KMSG]),
    ]);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toBe('');
  });
});

describe('kernwatch parse --format falco', () => {
  const PRIORITY: Readonly<Record<string, string>> = {
    killed: 'Critical',
    blocked: 'Warning',
    allowed: 'Notice',
    logged: 'Informational',
  };

  it('writes one Falco alert per event with time, rule, priority by outcome, source, hostname and tags', async () => {
    const files = [KMSG, CONFIDENTIAL];
    const [falco, plain] = await Promise.all([
      run(['parse', '--format', 'falco', '--node', 'n1', ...files]),
      run(['parse', '--node', 'n1', ...files]),
    ]);
    expect(falco.code).toBe(0);
    const alerts = ndjson(falco.stdout) as Record<string, unknown>[];
    const events = ndjson(plain.stdout) as KernwatchEvent[];
    expect(alerts).toHaveLength(events.length);
    // The inputs hold all four outcomes (kmsg: killed, blocked, logged; the permissive AVCs: allowed).
    expect(new Set(events.map((e) => e.outcome))).toEqual(
      new Set(['killed', 'blocked', 'allowed', 'logged']),
    );
    alerts.forEach((a, i) => {
      const e = events[i];
      if (e === undefined) throw new Error('missing event');
      expect(Object.keys(a)).toEqual([
        'time',
        'rule',
        'priority',
        'source',
        'hostname',
        'output',
        'output_fields',
        'tags',
      ]);
      expect(a.time).toBe(e.time);
      expect(a.priority).toBe(PRIORITY[e.outcome]);
      expect(a.source).toBe('kernwatch');
      expect(a.hostname).toBe('n1');
      expect(a.tags).toEqual(['kernwatch', e.kind, e.outcome]);
      expect(typeof a.rule === 'string' && a.rule !== '').toBe(true);
      expect(typeof a.output === 'string' && a.output.includes(`pid=${String(e.process.pid)}`)).toBe(true);
      const fields = a.output_fields as Record<string, unknown>;
      expect(fields['kernwatch.id']).toBe(e.id);
      expect(fields['proc.pid']).toBe(e.process.pid);
    });
  });

  it('names the seccomp action, the AppArmor mode and the SELinux mode in the rule', async () => {
    const r = await run(['parse', '--format', 'falco', '--node', 'n1', KMSG, CONFIDENTIAL, HARVESTER]);
    const rules = (ndjson(r.stdout) as { rule: string; priority: string }[]).map((a) => [a.rule, a.priority]);
    expect(rules).toEqual([
      ['seccomp violation (LOG)', 'Informational'],
      ['seccomp violation (ERRNO)', 'Warning'],
      ['seccomp violation (ERRNO)', 'Warning'],
      ['seccomp violation (TRAP)', 'Warning'],
      ['seccomp violation (TRACE)', 'Warning'],
      ['seccomp violation (USER_NOTIF)', 'Warning'],
      ['seccomp violation (KILL_THREAD)', 'Critical'],
      ['seccomp violation (KILL_PROCESS)', 'Critical'],
      ['seccomp violation (LOG)', 'Informational'],
      ['seccomp violation (KILL_PROCESS)', 'Critical'],
      ['SELinux violation (permissive)', 'Notice'],
      ['SELinux violation (permissive)', 'Notice'],
      ['SELinux violation (permissive)', 'Notice'],
      ['AppArmor violation (DENIED)', 'Warning'],
    ]);
  });
});

describe('kernwatch parse --format table', () => {
  /** Checks that each row's first five cells start where the header's column names start. */
  function misaligned(table: string, events: readonly KernwatchEvent[]): string[] {
    const [header = '', ...rows] = table.split('\n').filter((l) => l !== '');
    const starts = ['TIME', 'KIND', 'OUTCOME', 'PID', 'COMM'].map((c) => header.indexOf(c));
    const problems: string[] = [];
    rows.forEach((row, i) => {
      const e = events[i];
      if (e === undefined) {
        problems.push(`extra row ${row}`);
        return;
      }
      const cells = [
        e.time.replace('T', ' ').replace('Z', ''),
        e.kind,
        e.outcome,
        String(e.process.pid),
        e.process.comm ?? '?',
      ];
      cells.forEach((cell, c) => {
        const at = starts[c] ?? -1;
        if (row.slice(at, at + cell.length) !== cell)
          problems.push(`row ${String(i)} column ${String(c)}: ${row}`);
      });
    });
    if (rows.length !== events.length)
      problems.push(`${String(rows.length)} rows for ${String(events.length)} events`);
    return problems;
  }

  it('writes a header and one aligned row per event', async () => {
    const [table, plain] = await Promise.all([
      run(['parse', '--format', 'table', '--node', 'n1', KMSG]),
      run(['parse', '--node', 'n1', KMSG]),
    ]);
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n').filter((l) => l !== '');
    expect(lines[0]?.split(/\s+/)).toEqual(['TIME', 'KIND', 'OUTCOME', 'PID', 'COMM', 'DENIED', 'BY']);
    expect(lines).toHaveLength(11);
    // Column widths are not part of the contract; the cells must start under their header names.
    expect(lines[1]?.startsWith('2026-11-28 11:38:47.052  seccomp')).toBe(true);
    expect(misaligned(table.stdout, ndjson(plain.stdout) as KernwatchEvent[])).toEqual([]);
  });

  it('keeps the table aligned over several input files', async () => {
    const files = [KMSG, CONFIDENTIAL, HARVESTER];
    const [table, plain] = await Promise.all([
      run(['parse', '--format', 'table', '--node', 'n1', ...files]),
      run(['parse', '--node', 'n1', ...files]),
    ]);
    expect(misaligned(table.stdout, ndjson(plain.stdout) as KernwatchEvent[])).toEqual([]);
  });

  it('keeps the table of one large input aligned when a late row is wider', async () => {
    // Real lines: kmsg line 11 (a seccomp KILL_PROCESS) repeated 2100 times, then a real AppArmor dmesg
    // line (dmesg/gh-containerd-containerd-2679.log): the KIND cell `apparmor` is wider than `seccomp`.
    const file = join(tmp, 'many-rows.log');
    const seccomp = corpusLine('kmsg/kernel618-seccomp-all-actions.kmsg', 11);
    const apparmor = corpusLine('dmesg/gh-containerd-containerd-2679.log', 1);
    writeFileSync(file, `${Array.from({ length: 2100 }, () => seccomp).join('\n')}\n${apparmor}\n`);
    const [table, plain] = await Promise.all([
      run(['parse', '--format', 'table', '--node', 'n1', file]),
      run(['parse', '--node', 'n1', file]),
    ]);
    const events = ndjson(plain.stdout) as KernwatchEvent[];
    expect(events).toHaveLength(2101);
    expect(misaligned(table.stdout, events)).toEqual([]);
  });
});

describe('kernwatch parse inputs and options', () => {
  it('reads stdin for -', async () => {
    const [fromStdin, fromFile] = await Promise.all([
      run(['parse', '--node', 'n1', '-'], { input: readFileSync(KMSG, 'utf8') }),
      run(['parse', '--node', 'n1', KMSG]),
    ]);
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    expect(ndjson(fromStdin.stdout)).toHaveLength(10);
  });

  it('uses --node for node and the id prefix', async () => {
    const r = await run(['parse', '--node', 'worker-7', KMSG]);
    const events = ndjson(r.stdout) as KernwatchEvent[];
    expect(events.map((e) => [e.node, e.id.split(':')[0]])).toEqual(
      Array.from({ length: 10 }, () => ['worker-7', 'worker-7']),
    );
    expect(events[0]?.id).toBe('worker-7:1795865927.052:334420/0');
  });

  it('uses NODE_NAME when --node is not given', async () => {
    const r = await run(['parse', KMSG], { env: { ...process.env, NODE_NAME: 'from-env' } });
    expect((ndjson(r.stdout) as KernwatchEvent[])[0]?.id).toBe('from-env:1795865927.052:334420/0');
  });

  it('writes the summary of counts to stderr', async () => {
    const r = await run(['parse', '--node', 'n1', KMSG]);
    expect(r.stderr).toBe(
      [
        'kernwatch parse: 11 lines, 10 events (seccomp 10, apparmor 0, selinux 0)',
        '  not relevant 1; malformed 0',
        '  records that are not denials: none',
        '  siblings joined 0, dropped 0',
        '  line forms: kmsg 11',
        '',
      ].join('\n'),
    );
  });

  it('counts a line longer than 1 MiB as malformed and reads the next line', async () => {
    // CONSTRUCTED: kmsg line 2 (real) with its exe path made 2 MiB long, then kmsg line 3 (real).
    const file = join(tmp, 'long-line.kmsg');
    const long = corpusLine('kmsg/kernel618-seccomp-all-actions.kmsg', 2).replace(
      'exe="/usr/local/bin/seccomp-demo"',
      `exe="/${'a'.repeat(2 << 20)}"`,
    );
    writeFileSync(file, `${long}\n${corpusLine('kmsg/kernel618-seccomp-all-actions.kmsg', 3)}\n`);
    const r = await run(['parse', '--node', 'n1', file]);
    expect(r.code).toBe(0);
    expect((ndjson(r.stdout) as KernwatchEvent[]).map((e) => e.process.pid)).toEqual([8579]);
    expect(r.stderr.split('\n').slice(0, 2)).toEqual([
      'kernwatch parse: 2 lines, 1 events (seccomp 1, apparmor 0, selinux 0)',
      '  not relevant 0; malformed 1 (too_long 1)',
    ]);
  });
});

describe('kernwatch exit codes', () => {
  const usage = [
    ['an unknown flag', ['parse', '--bogus', KMSG]],
    ['an unknown format', ['parse', '--format', 'xml', KMSG]],
    ['no input', ['parse']],
    ['an unknown command', ['frobnicate', KMSG]],
    ['no command', []],
  ] as const;

  it.each(usage)('exits 2 for %s and writes nothing to stdout', async (_what, args) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: kernwatch');
  });

  it('exits 1 when one input does not exist, and still writes the events of the readable ones', async () => {
    const missing = join(tmp, 'does-not-exist.log');
    const r = await run(['parse', '--node', 'n1', missing, KMSG]);
    expect(r.code).toBe(1);
    expect(ndjson(r.stdout)).toEqual(libraryEvents([KMSG], 'n1'));
    expect(r.stderr).toContain(`error: Cannot read ${missing}`);
  });

  it('exits 0 when every input was read, even with malformed lines', async () => {
    const file = join(tmp, 'garbage.log');
    writeFileSync(
      file,
      `\u0000\u0001garbage\n{not json\n${corpusLine('kmsg/kernel618-seccomp-all-actions.kmsg', 2)}\n`,
    );
    const r = await run(['parse', '--node', 'n1', file]);
    expect(r.code).toBe(0);
    expect(ndjson(r.stdout)).toHaveLength(1);
  });
});
