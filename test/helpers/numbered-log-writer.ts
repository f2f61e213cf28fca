import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, renameSync, truncateSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { CORPUS } from './fixtures.js';

/**
 * Numbered log lines for rotation tests: a real audit line followed by ` kw_seq=<n>`, so a delivered line
 * tells which one it is and `seqOf` rejects any fragment or mix-up.
 */
const PAYLOAD_FILE = join(CORPUS, 'auditd', 'kernel618-auditd309-enriched-seccomp-all-actions.log');

const SEQ_FIELD = ' kw_seq=';

let payloadCache: string[] | undefined;

function payloads(): string[] {
  payloadCache ??= readFileSync(PAYLOAD_FILE, 'latin1')
    .split('\n')
    .filter((l) => l.length > 0);
  return payloadCache;
}

export function numberedLine(n: number): string {
  const p = payloads();
  return `${p[n % p.length] ?? ''}${SEQ_FIELD}${String(n)}`;
}

/** The number of a line written by numberedLine, or undefined for anything else (a fragment, say). */
export function seqOf(line: string): number | undefined {
  const at = line.lastIndexOf(SEQ_FIELD);
  if (at < 0) return undefined;
  const n = Number(line.slice(at + SEQ_FIELD.length));
  return Number.isSafeInteger(n) && n >= 0 && numberedLine(n) === line ? n : undefined;
}

/**
 * The writer runs in its own process, so a copytruncate done by the test races with its writes for real.
 * It appends with O_APPEND (as syslog daemons and auditd do) at a steady rate and rotates at fixed line
 * numbers (`rotations`, so a run is reproducible whatever the machine's speed), or on SIGUSR1 as auditd
 * does: close, rename the generations, open a new file. The `create-then-hup` style is logrotate's
 * rename-and-create followed, some lines later, by the daemon's reopen on HUP. With `split`, each write is
 * cut in two mid-line, so readers regularly find a partial last line. After the last line it idles until
 * stopped.
 */
const WRITER_SCRIPT = `
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
const [path, payloadFile, rateArg, totalArg, splitArg, keepArg, rotationsArg] = process.argv.slice(1);
const rate = Number(rateArg), total = Number(totalArg), split = splitArg === '1', keep = Number(keepArg);
const payloads = readFileSync(payloadFile, 'latin1').split('\\n').filter((l) => l.length > 0);
const line = (n) => payloads[n % payloads.length] + ' kw_seq=' + n + '\\n';
const events = [];
for (const r of JSON.parse(rotationsArg)) {
  if (r.style === 'auditd') events.push({ at: r.atLine, run: rotateSelf });
  else {
    events.push({ at: r.atLine, run: renameAndCreate });
    events.push({ at: r.atLine + r.reopenAfterLines, run: reopen });
  }
}
events.sort((a, b) => a.at - b.at);
let fd = openSync(path, 'a');
let written = 0;
let cut = 7;
function shift() {
  for (let k = keep - 1; k >= 1; k--) {
    if (existsSync(path + '.' + k)) renameSync(path + '.' + k, path + '.' + (k + 1));
  }
  renameSync(path, path + '.1');
}
function rotateSelf() {
  closeSync(fd);
  shift();
  fd = openSync(path, 'a');
}
function renameAndCreate() {
  shift();
  writeFileSync(path, '', { flag: 'wx' });
}
function reopen() {
  closeSync(fd);
  fd = openSync(path, 'a');
}
function writeLines(from, to) {
  if (to <= from) return;
  let text = '';
  for (let n = from; n < to; n++) text += line(n);
  const buf = Buffer.from(text, 'latin1');
  if (split && buf.length > 1) {
    cut = (cut * 7919 + 13) % (buf.length - 1) + 1;
    writeSync(fd, buf.subarray(0, cut));
    writeSync(fd, buf.subarray(cut));
  } else {
    writeSync(fd, buf);
  }
}
process.on('SIGUSR1', () => {
  rotateSelf();
  process.stdout.write('rotated ' + written + '\\n');
});
const began = process.hrtime.bigint();
const tick = setInterval(() => {
  const elapsedMs = Number(process.hrtime.bigint() - began) / 1e6;
  const due = Math.min(total, Math.floor((rate * elapsedMs) / 1000));
  while (written < due) {
    const upTo = events.length > 0 && events[0].at < due ? events[0].at : due;
    writeLines(written, upTo);
    written = upTo;
    while (events.length > 0 && events[0].at === written) events.shift().run();
  }
  if (written === total) {
    clearInterval(tick);
    setInterval(() => undefined, 1 << 30);
    process.stdout.write('done ' + written + '\\n');
  }
}, 5);
process.stdout.write('started\\n');
`;

/** A rotation at a fixed line: it happens right before line `atLine` is written. */
export type ScheduledRotation =
  | { atLine: number; style: 'auditd' }
  /** logrotate `create`: rename and create; the writer reopens (HUP) only `reopenAfterLines` lines later. */
  | { atLine: number; style: 'create-then-hup'; reopenAfterLines: number };

export interface NumberedLogWriterOptions {
  path: string;
  linesPerSecond: number;
  total: number;
  /** Cut each write mid-line (see WRITER_SCRIPT). */
  split: boolean;
  /** Generations kept when the writer rotates (`path.1`..`path.keep`). */
  keep?: number;
  rotations?: readonly ScheduledRotation[];
}

export interface NumberedLogWriter {
  readonly pid: number;
  /** auditd-style rotation by the writer itself; resolves with how many lines were written before it. */
  rotateItself(): Promise<number>;
  /** Resolves when all lines are written; the writer then idles (and still rotates on a signal) until stopped. */
  readonly done: Promise<void>;
  /** Ends the writer by its pid if it still runs. */
  stop(): Promise<void>;
}

export async function startNumberedLogWriter(options: NumberedLogWriterOptions): Promise<NumberedLogWriter> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      WRITER_SCRIPT,
      options.path,
      PAYLOAD_FILE,
      String(options.linesPerSecond),
      String(options.total),
      options.split ? '1' : '0',
      String(options.keep ?? 5),
      JSON.stringify(options.rotations ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pid = child.pid;
  if (pid === undefined || child.stdout === null || child.stderr === null) {
    throw new Error('the numbered log writer did not start');
  }
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  const waiters: { word: string; resolve: (n: number) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (msg) => {
    const [word = '', count = '0'] = msg.split(' ');
    const i = waiters.findIndex((w) => w.word === word);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(Number(count));
  });
  const next = (word: string): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      waiters.push({ word, resolve });
      void exited.then((code) => {
        reject(new Error(`writer exited (${String(code)}) before '${word}': ${stderr}`));
      });
    });
  await next('started');
  const done = next('done').then(() => undefined);
  done.catch(() => undefined);
  return {
    pid,
    done,
    rotateItself: () => {
      const acked = next('rotated');
      process.kill(pid, 'SIGUSR1');
      return acked;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, 'SIGTERM');
        await exited;
      }
    },
  };
}

/** Moves `path.k` to `path.k+1` for k = keep-1..1, as logrotate does before it rotates. */
function shiftGenerations(path: string, keep: number): void {
  for (let k = keep - 1; k >= 1; k--) {
    if (existsSync(`${path}.${String(k)}`)) renameSync(`${path}.${String(k)}`, `${path}.${String(k + 1)}`);
  }
}

/** logrotate `copytruncate`, first half: copy the file to `path.1`; returns the copy's last complete line. */
export function copyForTruncate(path: string, keep: number): string {
  shiftGenerations(path, keep);
  copyFileSync(path, `${path}.1`);
  const text = readFileSync(`${path}.1`, 'latin1');
  const end = text.lastIndexOf('\n');
  return text.slice(text.lastIndexOf('\n', end - 1) + 1, end);
}

/** logrotate `copytruncate`, second half. Lines written between the copy and this are in neither file. */
export function truncateAfterCopy(path: string): void {
  truncateSync(path, 0);
}
