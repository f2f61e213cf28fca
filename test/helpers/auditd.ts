import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from './wait.js';
import { stopByPid } from './stop-process.js';

/**
 * A private auditd for tests (adapted from ../shared/recipes/auditd-start.sh and auditd-stop.sh): its own
 * config directory, log file and plugin directory, run without forking so that the test owns its pid.
 * Only one auditd can be registered with the kernel; while it runs, no audit record reaches /dev/kmsg.
 */

const execFileAsync = promisify(execFile);

export interface AuditStatus {
  enabled: number;
  failure: number;
  pid: number;
  rateLimit: number;
  backlogLimit: number;
  lost: number;
  backlog: number;
}

function parseAuditStatus(text: string): AuditStatus {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/, 2);
    if (key !== undefined && value !== undefined && /^\d+$/.test(value)) fields.set(key, Number(value));
  }
  const get = (key: string): number => {
    const v = fields.get(key);
    if (v === undefined) throw new Error(`auditctl -s printed no '${key}': ${text}`);
    return v;
  };
  return {
    enabled: get('enabled'),
    failure: get('failure'),
    pid: get('pid'),
    rateLimit: get('rate_limit'),
    backlogLimit: get('backlog_limit'),
    lost: get('lost'),
    backlog: get('backlog'),
  };
}

/** The kernel's audit status, as `auditctl -s` reports it. */
export async function auditStatus(): Promise<AuditStatus> {
  const { stdout } = await execFileAsync('auditctl', ['-s']);
  return parseAuditStatus(stdout);
}

/** The kernel's audit status, synchronously (for describe.skipIf checks). */
export function auditStatusSync(): AuditStatus {
  return parseAuditStatus(execFileSync('auditctl', ['-s'], { encoding: 'utf8' }));
}

/**
 * Prerequisite check: undefined when no audit daemon is registered with the kernel. While one is, audit
 * records go to it and not to /dev/kmsg, and a second one cannot register.
 */
export const noAuditdRegistered = (): string | undefined => {
  try {
    const { pid } = auditStatusSync();
    return pid === 0 ? undefined : `an audit daemon (pid ${String(pid)}) is registered with the kernel`;
  } catch {
    return undefined; // no auditctl: then no auditd was installed either
  }
};

export interface PrivateAuditd {
  pid: number;
  logPath: string;
  /** Stops auditd by pid and restores the kernel's audit settings to what they were before the start. */
  stop(): Promise<void>;
}

const AUDITD = existsSync('/sbin/auditd') ? '/sbin/auditd' : '/usr/sbin/auditd';
/** auditd writes its pid file here whatever its config says; removed on stop if it was not there before. */
const PID_FILE = '/run/auditd.pid';

function auditdConf(dir: string): string {
  return [
    'local_events = yes',
    'write_logs = yes',
    `log_file = ${join(dir, 'audit.log')}`,
    'log_format = ENRICHED',
    'flush = INCREMENTAL_ASYNC',
    'freq = 50',
    'max_log_file = 1024',
    'num_logs = 2',
    'max_log_file_action = IGNORE',
    'space_left = 75',
    'space_left_action = IGNORE',
    'admin_space_left = 50',
    'admin_space_left_action = IGNORE',
    'disk_full_action = IGNORE',
    'disk_error_action = IGNORE',
    'q_depth = 2000',
    'overflow_action = IGNORE',
    'max_restarts = 10',
    `plugin_dir = ${join(dir, 'plugins.d')}`,
    'end_of_event_timeout = 2',
    'name_format = NONE',
    '',
  ].join('\n');
}

/**
 * Starts auditd with its config in `dir` (created if missing; auditd refuses a world-writable one) and its
 * log at `dir/audit.log`; resolves once the kernel reports its pid and the log has its first record.
 * Fails if another audit daemon is registered.
 */
export async function startPrivateAuditd(dir: string): Promise<PrivateAuditd> {
  const before = await auditStatus();
  if (before.pid !== 0) {
    throw new Error(
      `Another audit daemon (pid ${String(before.pid)}) is registered with the kernel; stop it before starting a private one.`,
    );
  }
  const pidFileExisted = existsSync(PID_FILE);
  await mkdir(join(dir, 'plugins.d'), { recursive: true });
  await chmod(dir, 0o750);
  const logPath = join(dir, 'audit.log');
  await writeFile(join(dir, 'auditd.conf'), auditdConf(dir), { mode: 0o640 });
  await chmod(join(dir, 'auditd.conf'), 0o640);

  const child = spawn(AUDITD, ['-n', '-c', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => {
      resolve();
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${AUDITD}`);
  let running = true;
  void exited.then(() => {
    running = false;
  });

  const restore = async (): Promise<void> => {
    await stopByPid(pid, exited, () => running);
    await execFileAsync('auditctl', ['-r', String(before.rateLimit)]);
    await execFileAsync('auditctl', ['-b', String(before.backlogLimit)]);
    // auditd leaves audit enabled behind; with it on, every nft/iptables change also logs to kmsg.
    await execFileAsync('auditctl', ['-e', String(before.enabled)]);
    if (!pidFileExisted) await rm(PID_FILE, { force: true });
  };

  try {
    await waitUntil('auditd to register with the kernel', async () => {
      if (!running) throw new Error(`auditd exited at start: ${stderr}`);
      const now = await auditStatus();
      if (now.pid !== pid) return false;
      const st = await stat(logPath).catch(() => undefined);
      return st !== undefined && st.size > 0;
    });
    // The kernel's default backlog of 64 overflows under a burst of violations.
    await execFileAsync('auditctl', ['-b', '8192']);
  } catch (err) {
    await restore();
    throw err;
  }
  return { pid, logPath, stop: restore };
}
