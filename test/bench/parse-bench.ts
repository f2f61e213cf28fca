/**
 * Parser throughput benchmark (`npm run bench`).
 *
 * Generates a deterministic, realistic 1M-line audit.log (see audit-log-generator.ts) in a temp dir and
 * times, on ONE core (`taskset -c 0` when available), best of N runs each:
 *   a. kernwatch:  node dist/agent/cli/main.js parse --format ndjson --node bench FILE  (stdout -> /dev/null)
 *   b. the floor:  node dist/test/bench/readline-floor.js FILE  (readline line splitting, nothing else)
 *   c. ausearch:   ausearch --raw -m SECCOMP,AVC -if FILE  (stdout -> /dev/null)
 * and prints lines/s, the ratios against the targets, and the max RSS. Unless --no-docs is given, the
 * marked section of docs/benchmarks.md is rewritten with the results.
 *
 * Flags: --lines N (default 1000000), --runs N (default 3), --no-docs, --keep (keep the generated file).
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findRepoRoot, generateAuditLog, type GenerateResult } from './audit-log-generator.js';

const TARGETS = { linesPerSec: 1_000_000, vsFloor: 3, vsAusearch: 8 } as const;
const DOCS_START = '<!-- parse-bench:start -->';
const DOCS_END = '<!-- parse-bench:end -->';
const STDERR_LIMIT = 64 * 1024;

const Verdict = { Pass: 'PASS', Miss: 'MISS', NotAvailable: 'n/a' } as const;
type Verdict = (typeof Verdict)[keyof typeof Verdict];

interface Options {
  readonly lines: number;
  readonly runs: number;
  readonly docs: boolean;
  readonly keep: boolean;
}

interface Tools {
  /** `taskset` path when it exists AND can pin to CPU 0 here. */
  readonly taskset: string | undefined;
  /** GNU `/usr/bin/time` when it supports `-f %M -o FILE`. */
  readonly time: string | undefined;
  readonly ausearch: string | undefined;
}

interface RunResult {
  readonly ms: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly maxRssKb: number | undefined;
}

interface Subject {
  readonly key: 'kernwatch' | 'split' | 'floor' | 'ausearch';
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Capture stdout (small outputs only); otherwise it goes to /dev/null. */
  readonly captureStdout: boolean;
  readonly okCodes: readonly number[];
}

interface Measurement {
  readonly subject: Subject;
  readonly runs: RunResult[];
  /** Set when a run failed; the measurement is then unusable. */
  failure: string | undefined;
}

function usage(): string {
  return [
    'usage: node dist/test/bench/parse-bench.js [--lines N] [--runs N] [--no-docs] [--keep]',
    '  --lines N   lines in the generated audit.log (default 1000000)',
    '  --runs N    runs per command; the best is reported, the median printed too (default 3)',
    '  --no-docs   do not rewrite the parse-bench section of docs/benchmarks.md',
    '  --keep      keep the generated audit.log (its path is printed)',
  ].join('\n');
}

function parseCount(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const clean = raw.replace(/[_,]/g, '');
  const n = /^\d+$/.test(clean) ? Number(clean) : NaN;
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`--${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

/** Bad command line: reported with the usage text, without a stack trace. */
class UsageError extends Error {}

function parseOptions(argv: readonly string[]): Options {
  try {
    return parseOptionsOrThrow(argv);
  } catch (err: unknown) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function parseOptionsOrThrow(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      lines: { type: 'string' },
      runs: { type: 'string' },
      'no-docs': { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    process.stdout.write(`${usage()}\n`);
    process.exit(0);
  }
  return {
    lines: parseCount('lines', values.lines, 1_000_000, 1),
    runs: parseCount('runs', values.runs, 3, 1),
    docs: values['no-docs'] !== true,
    keep: values.keep === true,
  };
}

/** Looks a command up in PATH (plus the sbin dirs, where ausearch lives), like execvp would. */
function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function probe(command: string, args: readonly string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

function readMaxRss(file: string): number | undefined {
  try {
    // GNU time may prepend "Command exited with non-zero status N"; %M is the last line.
    const last = readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
    return /^\d+$/.test(last) ? Number(last) : undefined;
  } catch {
    return undefined;
  }
}

function detectTools(workDir: string): Tools {
  const tasksetPath = findExecutable('taskset');
  let taskset: string | undefined;
  if (tasksetPath === undefined) {
    console.log('note: taskset (util-linux) not found: runs are NOT pinned to one core');
  } else if (probe(tasksetPath, ['-c', '0', process.execPath, '-e', ''])) {
    taskset = tasksetPath;
  } else {
    console.log(`note: ${tasksetPath} -c 0 fails here (affinity not permitted?): runs are NOT pinned`);
  }

  let time: string | undefined;
  const timePath = '/usr/bin/time';
  if (existsSync(timePath)) {
    const out = join(workDir, 'time-probe.txt');
    if (
      probe(timePath, ['-f', '%M', '-o', out, process.execPath, '-e', '']) &&
      readMaxRss(out) !== undefined
    ) {
      time = timePath;
    } else {
      console.log('note: /usr/bin/time does not support -f %M -o (not GNU time?): max RSS not measured');
    }
  } else {
    console.log('note: /usr/bin/time not found: max RSS not measured');
  }

  const ausearch = findExecutable('ausearch');
  if (ausearch === undefined) {
    console.log(
      'note: ausearch not found (Debian: apt-get install auditd): skipping the ausearch comparison',
    );
  }
  return { taskset, time, ausearch };
}

let runCounter = 0;

function runOnce(subject: Subject, tools: Tools, workDir: string): Promise<RunResult> {
  const argv: string[] = [];
  let rssFile: string | undefined;
  if (tools.time !== undefined) {
    rssFile = join(workDir, `rss-${++runCounter}.txt`);
    argv.push(tools.time, '-f', '%M', '-o', rssFile);
  }
  if (tools.taskset !== undefined) argv.push(tools.taskset, '-c', '0');
  argv.push(subject.command, ...subject.args);
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('empty command line');

  const devNull = openSync('/dev/null', 'w');
  return new Promise<RunResult>((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, {
      stdio: ['ignore', subject.captureStdout ? 'pipe' : devNull, 'pipe'],
      shell: false,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < STDERR_LIMIT) stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 2 * STDERR_LIMIT) stderr = stderr.slice(-STDERR_LIMIT);
    });
    child.on('error', (err) => {
      closeSync(devNull);
      reject(err);
    });
    child.on('close', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      closeSync(devNull);
      resolve({
        ms,
        code,
        signal,
        stdout,
        stderr: stderr.slice(-STDERR_LIMIT),
        maxRssKb: rssFile === undefined ? undefined : readMaxRss(rssFile),
      });
    });
  });
}

function best(m: Measurement): number | undefined {
  if (m.failure !== undefined || m.runs.length === 0) return undefined;
  return Math.min(...m.runs.map((r) => r.ms));
}

function median(m: Measurement): number | undefined {
  if (m.failure !== undefined || m.runs.length === 0) return undefined;
  const ms = m.runs.map((r) => r.ms).sort((a, b) => a - b);
  const mid = Math.floor(ms.length / 2);
  const hi = ms[mid] ?? 0;
  return ms.length % 2 === 1 ? hi : ((ms[mid - 1] ?? hi) + hi) / 2;
}

function maxRss(m: Measurement): number | undefined {
  const values = m.runs.flatMap((r) => (r.maxRssKb === undefined ? [] : [r.maxRssKb]));
  return values.length === 0 ? undefined : Math.max(...values);
}

function bestRun(m: Measurement): RunResult | undefined {
  return [...m.runs].sort((a, b) => a.ms - b.ms)[0];
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number | undefined, digits: number): string =>
  n === undefined ? 'n/a' : n.toFixed(digits);
const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
const pct = (part: number, whole: number): string => `${((100 * part) / Math.max(1, whole)).toFixed(1)}%`;

function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    for (const key of ['model name', 'Hardware', 'cpu model', 'Processor']) {
      const m = new RegExp(`^${key}\\s*:\\s*(.+)$`, 'm').exec(info);
      if (m?.[1] !== undefined && m[1].trim() !== '') return m[1].trim();
    }
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}

function toolVersion(command: string, args: readonly string[]): string | undefined {
  try {
    const out = execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10_000,
    });
    return out.trim().split('\n')[0];
  } catch {
    return undefined;
  }
}

interface Row {
  readonly name: string;
  readonly best: string;
  readonly median: string;
  readonly lps: string;
  readonly rss: string;
}

interface Check {
  readonly name: string;
  readonly value: string;
  readonly target: string;
  readonly verdict: Verdict;
}

interface Report {
  readonly rows: Row[];
  readonly checks: Check[];
}

function buildReport(lines: number, measurements: readonly Measurement[]): Report {
  const lps = (m: Measurement | undefined): number | undefined => {
    const ms = m === undefined ? undefined : best(m);
    return ms === undefined ? undefined : lines / (ms / 1000);
  };
  const rows = measurements.map((m): Row => {
    const b = best(m);
    const med = median(m);
    const rss = maxRss(m);
    const l = lps(m);
    return {
      name: m.subject.label,
      best: b === undefined ? (m.failure ?? 'n/a') : fixed(b / 1000, 3),
      median: med === undefined ? 'n/a' : fixed(med / 1000, 3),
      lps: l === undefined ? 'n/a' : int(l),
      rss: rss === undefined ? 'n/a' : mib(rss * 1024),
    };
  });
  const find = (key: Subject['key']): Measurement | undefined =>
    measurements.find((m) => m.subject.key === key);
  const kw = lps(find('kernwatch'));
  const floor = lps(find('floor'));
  const aus = lps(find('ausearch'));
  const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined ? undefined : a / b;
  const verdict = (v: number | undefined, target: number): Verdict =>
    v === undefined ? Verdict.NotAvailable : v >= target ? Verdict.Pass : Verdict.Miss;
  const vsFloor = ratio(kw, floor);
  const vsAus = ratio(kw, aus);
  const ceiling = ratio(lps(find('split')), floor);
  const checks: Check[] = [
    {
      name: 'kernwatch lines/s',
      value: kw === undefined ? 'n/a' : int(kw),
      target: `>= ${int(TARGETS.linesPerSec)}`,
      verdict: verdict(kw, TARGETS.linesPerSec),
    },
    {
      name: 'kernwatch / readline floor',
      value: vsFloor === undefined ? 'n/a' : `${vsFloor.toFixed(2)}x`,
      target: `>= ${TARGETS.vsFloor}x`,
      verdict: verdict(vsFloor, TARGETS.vsFloor),
    },
    {
      // Not a target: how fast a kernwatch that parsed and wrote nothing at all could be.
      name: 'read + split only / readline floor',
      value: ceiling === undefined ? 'n/a' : `${ceiling.toFixed(2)}x`,
      target: '(ceiling)',
      verdict: Verdict.NotAvailable,
    },
    {
      name: 'kernwatch / ausearch --raw',
      value: vsAus === undefined ? 'n/a' : `${vsAus.toFixed(2)}x`,
      target: `>= ${TARGETS.vsAusearch}x`,
      verdict: verdict(vsAus, TARGETS.vsAusearch),
    },
  ];
  return { rows, checks };
}

/** Plain-text table for the terminal. */
function textTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly boolean[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (right[i] === true ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/** Markdown table laid out exactly as prettier formats it (left-aligned columns, ASCII cells). */
function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.replace(/\|/g, '\\|').padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [fmt(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(fmt)].join('\n');
}

interface Context {
  readonly options: Options;
  readonly gen: GenerateResult;
  readonly tools: Tools;
  readonly report: Report;
}

function docsSection(ctx: Context): string {
  const { options, gen, tools, report } = ctx;
  const d = gen.denials;
  const ausVersion = tools.ausearch === undefined ? undefined : toolVersion(tools.ausearch, ['-v']);
  const env = [
    `- Date: ${new Date().toISOString()}`,
    `- Node: ${process.version}`,
    `- CPU: ${cpuModel()} (${cpus().length} logical CPUs), Linux ${release()}`,
    `- Pinning: ${tools.taskset === undefined ? 'none (taskset unavailable)' : 'taskset -c 0 (one core)'}`,
    `- ausearch: ${ausVersion ?? 'not installed'}`,
    `- Input: ${int(gen.lines)} lines, ${mib(gen.bytes)}, ${int(d.total)} denial records ` +
      `(${pct(d.total, gen.lines)}: seccomp ${int(d.seccomp)}, AppArmor ${int(d.apparmor)}, SELinux ${int(d.selinux)})`,
    `- Runs: best of ${options.runs} (median also shown)`,
  ];
  const results = markdownTable(
    ['Command', 'Best (s)', 'Median (s)', 'Lines/s (best)', 'Max RSS'],
    report.rows.map((r) => [r.name, r.best, r.median, r.lps, r.rss]),
  );
  const checks = markdownTable(
    ['Check', 'Value', 'Target', 'Result'],
    report.checks.map((c) => [c.name, c.value, c.target, c.verdict]),
  );
  return [DOCS_START, '', ...env, '', results, '', checks, '', DOCS_END].join('\n');
}

function updateDocs(root: string, section: string): string {
  const file = join(root, 'docs', 'benchmarks.md');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = old.indexOf(DOCS_START);
  const end = old.indexOf(DOCS_END, start < 0 ? 0 : start);
  const updated =
    start >= 0 && end >= 0
      ? old.slice(0, start) + section + old.slice(end + DOCS_END.length)
      : `${old.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, updated);
  return file;
}

function printGenerated(gen: GenerateResult, file: string, ms: number): void {
  const d = gen.denials;
  console.log(`generated ${file} in ${(ms / 1000).toFixed(1)} s`);
  console.log(
    `  ${int(gen.lines)} lines, ${mib(gen.bytes)}, ${int(gen.events)} events, ` +
      `${gen.firstStamp} .. ${gen.lastStamp}, ${int(gen.enrichedLines)} ENRICHED lines`,
  );
  console.log(
    `  denials: ${int(d.total)} (${pct(d.total, gen.lines)}) = seccomp ${int(d.seccomp)}, ` +
      `AppArmor ${int(d.apparmor)}, SELinux ${int(d.selinux)}`,
  );
  const codes = Object.entries(gen.seccompCodes)
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c} ${int(n)}`);
  console.log(`  seccomp codes: ${codes.join(', ')}`);
  const types = Object.entries(gen.recordTypes).sort((a, b) => b[1] - a[1]);
  const top = types.slice(0, 14).map(([t, n]) => `${t} ${pct(n, gen.lines)}`);
  console.log(`  record types (${types.length}): ${top.join(', ')}, ...`);
  console.log(
    `  templates: ${gen.corpus.templateLines} lines from ${gen.corpus.files} corpus files ` +
      `(ignored: ${gen.corpus.skippedLines} non-record lines, ` +
      `${gen.corpus.mangledLines} lines whose ENRICHED 0x1d separator was lost)`,
  );
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const here = dirname(fileURLToPath(import.meta.url));
  const root = findRepoRoot(here);
  const cli = join(root, 'dist', 'agent', 'cli', 'main.js');
  const floorScript = join(here, 'readline-floor.js');
  if (!existsSync(floorScript)) {
    console.error(`error: ${floorScript} not found; run the compiled bench (npm run bench)`);
    return 1;
  }
  const cliMissing = !existsSync(cli);
  if (cliMissing) {
    console.error(
      `error: kernwatch CLI not found at ${cli}\n` +
        '       (build it with `npm run build`; agent/cli/main.ts must exist). ' +
        'Measuring the floor and ausearch only; exit status will be 1.',
    );
  }

  const workDir = mkdtempSync(join(tmpdir(), 'kernwatch-bench-'));
  try {
    const tools = detectTools(workDir);
    const file = join(workDir, 'audit.log');
    const t0 = performance.now();
    const gen = generateAuditLog(file, { lines: options.lines });
    printGenerated(gen, file, performance.now() - t0);

    const subjects: Subject[] = [];
    if (!cliMissing) {
      subjects.push({
        key: 'kernwatch',
        label: 'kernwatch parse --format ndjson',
        command: process.execPath,
        args: [cli, 'parse', '--format', 'ndjson', '--node', 'bench', file],
        captureStdout: false,
        okCodes: [0],
      });
    }
    subjects.push({
      key: 'split',
      label: 'read + split only (kernwatch reader)',
      command: process.execPath,
      args: [join(here, 'split-ceiling.js'), file],
      captureStdout: true,
      okCodes: [0],
    });
    subjects.push({
      key: 'floor',
      label: 'readline floor (node)',
      command: process.execPath,
      args: [floorScript, file],
      captureStdout: true,
      okCodes: [0],
    });
    if (tools.ausearch !== undefined) {
      subjects.push({
        key: 'ausearch',
        label: 'ausearch --raw -m SECCOMP,AVC',
        command: tools.ausearch,
        args: ['--raw', '-m', 'SECCOMP,AVC', '-if', file],
        captureStdout: false,
        okCodes: [0, 1], // 1 = "<no matches>"
      });
    }

    const measurements: Measurement[] = subjects.map((subject) => ({
      subject,
      runs: [],
      failure: undefined,
    }));
    console.log(
      `\nmeasuring ${options.runs} run(s) each, ${tools.taskset === undefined ? 'unpinned' : 'pinned to CPU 0'}:`,
    );
    for (let run = 1; run <= options.runs; run++) {
      for (const m of measurements) {
        if (m.failure !== undefined) continue;
        const r = await runOnce(m.subject, tools, workDir);
        const ok = r.signal === null && r.code !== null && m.subject.okCodes.includes(r.code);
        console.log(
          `  run ${run}/${options.runs}  ${m.subject.label.padEnd(32)} ${(r.ms / 1000).toFixed(3)} s` +
            (r.maxRssKb === undefined ? '' : `  ${mib(r.maxRssKb * 1024)}`) +
            (ok ? '' : `  FAILED (${r.signal ?? `exit ${r.code ?? '?'}`})`),
        );
        if (!ok) {
          m.failure = `failed: ${r.signal ?? `exit ${r.code ?? '?'}`}`;
          const tail = r.stderr.trim();
          if (tail !== '') console.log(`    stderr:\n${tail.replace(/^/gm, '      ')}`);
        }
        if (
          (m.subject.key === 'floor' || m.subject.key === 'split') &&
          ok &&
          Number(r.stdout.trim()) !== gen.lines
        ) {
          console.log(
            `    warning: ${m.subject.label} counted ${r.stdout.trim()} lines, expected ${gen.lines}`,
          );
        }
        m.runs.push(r);
      }
    }

    const kw = measurements.find((m) => m.subject.key === 'kernwatch');
    const kwBest = kw === undefined || kw.failure !== undefined ? undefined : bestRun(kw);
    const kernwatchSummary = kwBest?.stderr.trim() ?? '';
    if (kwBest !== undefined) {
      console.log('\nkernwatch stderr summary (fastest run):');
      console.log(kernwatchSummary === '' ? '  (empty)' : kernwatchSummary.replace(/^/gm, '  '));
    }

    const report = buildReport(gen.lines, measurements);
    if (cliMissing) {
      report.rows.unshift({
        name: 'kernwatch parse --format ndjson',
        best: 'CLI missing',
        median: 'n/a',
        lps: 'n/a',
        rss: 'n/a',
      });
    }
    if (tools.ausearch === undefined) {
      report.rows.push({
        name: 'ausearch --raw -m SECCOMP,AVC',
        best: 'not installed',
        median: 'n/a',
        lps: 'n/a',
        rss: 'n/a',
      });
    }
    console.log(`\nresults (${int(gen.lines)} lines, best of ${options.runs}):\n`);
    console.log(
      textTable(
        ['command', 'best s', 'median s', 'lines/s (best)', 'max RSS'],
        report.rows.map((r) => [r.name, r.best, r.median, r.lps, r.rss]),
        [false, true, true, true, true],
      ),
    );
    console.log('');
    console.log(
      textTable(
        ['check', 'value', 'target', 'result'],
        report.checks.map((c) => [c.name, c.value, c.target, c.verdict]),
        [false, true, true, false],
      ),
    );
    if (tools.ausearch !== undefined) {
      console.log(
        '\nnote: ausearch 3.x skips AppArmor AVC records as "malformed" (linux-audit/audit-userspace#351);' +
          ' it still reads and parses every line, so its lines/s stays comparable.',
      );
    }

    const kwOk = kw !== undefined && kw.failure === undefined;
    if (options.docs) {
      if (kwOk) {
        const ctx: Context = { options, gen, tools, report };
        console.log(`\nupdated ${updateDocs(root, docsSection(ctx))}`);
      } else {
        console.log('\ndocs/benchmarks.md not updated: no valid kernwatch measurement');
      }
    }
    if (options.keep) console.log(`\nkept ${file}`);
    return kwOk ? 0 : 1;
  } finally {
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}\n${usage()}`);
      process.exitCode = 2;
      return;
    }
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);
