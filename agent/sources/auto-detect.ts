import { constants } from 'node:fs';
import { access, open, readdir, readFile, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * Picks the live source when none was configured. While an audit daemon runs, the kernel hands every
 * audit record to it and none reaches /dev/kmsg, so auditd's log is the only place to read; without
 * one, records go to the kernel log (/dev/kmsg). Where /dev/kmsg cannot be opened — an unprivileged pod,
 * which has no such device or whose device rules refuse it — journald's copy of the kernel log is read
 * instead, from the host's journal directory. The choice comes with a sentence saying why, to be logged.
 */

export type DetectedSourceSpec =
  { type: 'auditd'; path: string } | { type: 'kmsg' } | { type: 'journald'; directory: string };

export interface DetectedSource {
  spec: DetectedSourceSpec;
  reason: string;
}

export interface DetectSourceOptions {
  /** Default /proc; /host/proc in a pod that mounts the host's. */
  procRoot?: string;
  /**
   * The audit log to read. Default: the `log_file` of the running auditd's config, else
   * /var/log/audit/audit.log (also the one watched for growth when no auditd process is seen).
   */
  auditLogPath?: string;
  /** Default /dev/kmsg (only named in the reason). */
  kmsgPath?: string;
  /**
   * When no auditd process is visible (another pid namespace, an unreadable /proc), an audit log that
   * grows within this window still means a daemon writes it. 0 skips the check. Default 1000 ms.
   */
  growthWindowMs?: number;
  /**
   * Journal directories to fall back on when /dev/kmsg cannot be opened, in order of preference: the
   * first holding a journal file is read. Default /var/log/journal (persistent), /run/log/journal.
   */
  journalDirectories?: readonly string[];
  /** The journalctl the journald source would run (a name looked up in PATH, or a path). */
  journalctl?: string;
}

export const DEFAULT_AUDIT_LOG = '/var/log/audit/audit.log';
export const DEFAULT_JOURNAL_DIRECTORIES = ['/var/log/journal', '/run/log/journal'] as const;
const DEFAULT_AUDITD_CONF_DIR = '/etc/audit';
/** Bounds the number of /proc/<pid>/comm reads in flight. */
const SCAN_CONCURRENCY = 64;

export async function detectSource(options: DetectSourceOptions = {}): Promise<DetectedSource> {
  const procRoot = options.procRoot ?? '/proc';
  const kmsgPath = options.kmsgPath ?? '/dev/kmsg';
  const growthWindowMs = options.growthWindowMs ?? 1000;
  const scan = await findAuditdPid(procRoot);

  if (scan.pid !== undefined) {
    const pid = scan.pid;
    // A path the operator gave is the only one; otherwise auditd's own config says where it writes.
    const candidates =
      options.auditLogPath !== undefined
        ? [options.auditLogPath]
        : uniq([await configuredAuditLog(procRoot, pid), DEFAULT_AUDIT_LOG]);
    for (const path of candidates) {
      if (await isFile(path)) {
        return {
          spec: { type: 'auditd', path },
          reason: `auditd is running (pid ${String(pid)}) and its log ${path} exists, so audit records go there and not to ${kmsgPath}.`,
        };
      }
    }
    return {
      spec: { type: 'kmsg' },
      reason:
        `auditd is running (pid ${String(pid)}) but none of its possible logs (${candidates.join(', ')}) exists; ` +
        `reading ${kmsgPath}, which receives no audit records while auditd runs.`,
    };
  }

  const logPath = options.auditLogPath ?? DEFAULT_AUDIT_LOG;
  const seen =
    scan.error === undefined
      ? `No auditd process in ${procRoot}`
      : `${procRoot} is unreadable (${scan.error})`;
  if (growthWindowMs > 0 && (await grows(logPath, growthWindowMs))) {
    return {
      spec: { type: 'auditd', path: logPath },
      reason: `${seen}, but ${logPath} grew within ${String(growthWindowMs)} ms, so an audit daemon writes it.`,
    };
  }
  const logFact = (await isFile(logPath))
    ? growthWindowMs > 0
      ? `${logPath} did not grow within ${String(growthWindowMs)} ms`
      : `${logPath} exists but nothing shows a daemon writing it`
    : `${logPath} does not exist`;
  const why = `${seen} and ${logFact}, so the kernel writes audit records to ${kmsgPath}`;
  const kmsgError = await openError(kmsgPath);
  if (kmsgError === undefined) return { spec: { type: 'kmsg' }, reason: `${why}.` };
  return journalFallback(why, kmsgError, options);
}

/** /dev/kmsg cannot be opened: journald's copy, if there is a journal and a journalctl to read it. */
async function journalFallback(
  why: string,
  kmsgError: string,
  options: DetectSourceOptions,
): Promise<DetectedSource> {
  const dirs = options.journalDirectories ?? DEFAULT_JOURNAL_DIRECTORIES;
  const cannot = `${why}, which cannot be opened here (${kmsgError})`;
  const journal = await firstJournalDirectory(dirs);
  if (journal === undefined) {
    return {
      spec: { type: 'kmsg' },
      reason: `${cannot}, and no journal was found in ${dirs.join(' or ')} to read journald's copy instead.`,
    };
  }
  const journalctl = options.journalctl ?? 'journalctl';
  if (!(await isExecutable(journalctl))) {
    return {
      spec: { type: 'kmsg' },
      reason: `${cannot}; journald's copy is in ${journal}, but ${journalctl} is not there to read it.`,
    };
  }
  return {
    spec: { type: 'journald', directory: journal },
    reason: `${cannot}, so journald's copy of the kernel log in ${journal} is read instead.`,
  };
}

/** The error code of opening `path` for reading, or undefined when it opens (then closed at once). */
async function openError(path: string): Promise<string | undefined> {
  try {
    // O_NONBLOCK: a character device such as /dev/kmsg must not block the open.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    await handle.close();
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/**
 * The first of `dirs` holding a `*.journal` file (directly inside or one machine-id directory down, where
 * journald keeps them). First, not newest: the choice names the source's checkpoint, and it must not flip
 * between runs (when journald flushes its volatile journal to the persistent one, the cursors stay valid,
 * but a checkpoint under another name would be lost and records skipped).
 */
async function firstJournalDirectory(dirs: readonly string[]): Promise<string | undefined> {
  for (const dir of dirs) if (await holdsJournalFile(dir, 1)) return dir;
  return undefined;
}

/** Whether `dir` (or a directory `depth` levels down) holds a `*.journal` file that can be stat'ed. */
async function holdsJournalFile(dir: string, depth: number): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isFile() && e.name.endsWith('.journal')) {
      const found = await stat(join(dir, e.name)).then(
        () => true,
        () => false,
      );
      if (found) return true;
    } else if (e.isDirectory() && depth > 0 && (await holdsJournalFile(join(dir, e.name), depth - 1))) {
      return true;
    }
  }
  return false;
}

/** A path that is executable, or a name found executable in one of PATH's directories. */
async function isExecutable(command: string): Promise<boolean> {
  const candidates = command.includes('/')
    ? [command]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter((d) => d !== '')
        .map((d) => join(d, command));
  for (const path of candidates) {
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

/** The pid of a process named `auditd` (its comm), scanning `<procRoot>/<pid>/comm`. */
async function findAuditdPid(procRoot: string): Promise<{ pid?: number; error?: string }> {
  let names: string[];
  try {
    names = await readdir(procRoot);
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  const pids = names.filter((n) => /^\d+$/.test(n));
  for (let i = 0; i < pids.length; i += SCAN_CONCURRENCY) {
    const chunk = pids.slice(i, i + SCAN_CONCURRENCY);
    const comms = await Promise.all(
      chunk.map((pid) => readFile(join(procRoot, pid, 'comm'), 'utf8').catch(() => '')),
    );
    const hit = comms.findIndex((c) => c.trim() === 'auditd');
    if (hit >= 0) return { pid: Number(chunk[hit]) };
  }
  return {};
}

/**
 * `log_file` from the config the running auditd read: `-c DIR` on its command line, else /etc/audit.
 * Read through `<procRoot>/<pid>/root` so that it is found in auditd's mount namespace, not ours.
 */
async function configuredAuditLog(procRoot: string, pid: number): Promise<string | undefined> {
  const pidDir = join(procRoot, String(pid));
  const args = await readFile(join(pidDir, 'cmdline'), 'latin1')
    .then((text) => text.split('\0'))
    .catch(() => [] as string[]);
  let confDir = DEFAULT_AUDITD_CONF_DIR;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '-c' && args[i + 1] !== undefined) confDir = args[i + 1] ?? confDir;
    else if (arg.startsWith('-c') && arg.length > 2) confDir = arg.slice(2);
  }
  const confPath = join(confDir, 'auditd.conf');
  if (!isAbsolute(confPath)) return undefined;
  const text = await readFile(join(pidDir, 'root', confPath), 'utf8').catch(() =>
    readFile(confPath, 'utf8').catch(() => undefined),
  );
  if (text === undefined) return undefined;
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0 || line.slice(0, eq).trim() !== 'log_file') continue;
    const value = line.slice(eq + 1).trim();
    return isAbsolute(value) ? value : undefined;
  }
  return DEFAULT_AUDIT_LOG;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function grows(path: string, windowMs: number): Promise<boolean> {
  const before = await stat(path).catch(() => undefined);
  if (before === undefined || !before.isFile()) return false;
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const after = await stat(path).catch(() => undefined);
  // A rotation between the two looks are growth too: a new file under the same name.
  return after !== undefined && (after.size > before.size || after.ino !== before.ino);
}

function uniq(paths: readonly (string | undefined)[]): string[] {
  const out: string[] = [];
  for (const p of paths) if (p !== undefined && !out.includes(p)) out.push(p);
  return out;
}
