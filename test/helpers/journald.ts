import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { auditStatus } from './auditd.js';
import { waitUntil } from './wait.js';
import { stopByPid } from './stop-process.js';

/**
 * A real systemd-journald for tests, without systemd and without touching the host: it runs in a private
 * mount namespace where a tmpfs hides /run/systemd (its sockets), a temp directory is bound over /run/log
 * (its volatile journal) and a config of ours over /etc/systemd/journald.conf. It ingests /dev/kmsg
 * (kernel transport) and the audit multicast group (audit transport) as it does on any host; the test
 * reads its journal with `journalctl --directory=<journalDir>`.
 */

const execFileAsync = promisify(execFile);
const JOURNALD = '/lib/systemd/systemd-journald';

export const hasJournald = (): string | undefined =>
  existsSync(JOURNALD) ? undefined : `needs ${JOURNALD} (Debian package systemd)`;

export interface PrivateJournald {
  pid: number;
  /** Pass to `journalctl --directory=`. */
  journalDir: string;
  /** Stops journald by pid and puts the kernel's audit `enabled` flag back if journald changed it. */
  stop(): Promise<void>;
}

const JOURNALD_CONF = [
  '[Journal]',
  'Storage=volatile',
  'RuntimeMaxUse=64M',
  'ForwardToSyslog=no',
  'ForwardToKMsg=no',
  'ForwardToConsole=no',
  'ForwardToWall=no',
  // No rate limit: a burst of violations must all be stored.
  'RateLimitIntervalSec=0',
  'SyncIntervalSec=1s',
  '',
].join('\n');

/*
 * Run by `sh` inside the new mount namespace, so the mounts vanish with journald; `exec` keeps journald's
 * pid the one spawn() returned. $1 is the helper's directory, passed as an argument, never interpolated.
 */
const MOUNT_AND_EXEC = [
  'set -e',
  'mount -t tmpfs -o mode=0755 tmpfs /run/systemd',
  'mount --bind "$1/run-log" /run/log',
  'mount --bind "$1/journald.conf" /etc/systemd/journald.conf',
  `exec ${JOURNALD}`,
].join('\n');

/** Starts journald with its state under `dir`; resolves once its journal holds its first entries. */
export async function startPrivateJournald(dir: string): Promise<PrivateJournald> {
  const before = await auditStatus().catch(() => undefined);
  await mkdir(join(dir, 'run-log'), { recursive: true });
  await writeFile(join(dir, 'journald.conf'), JOURNALD_CONF);
  const machineId = readFileSync('/etc/machine-id', 'utf8').trim();
  const journalDir = join(dir, 'run-log', 'journal', machineId);

  const child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', '--', 'sh', '-c', MOUNT_AND_EXEC, 'sh', dir],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk;
  });
  let running = true;
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => {
      running = false;
      resolve();
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('cannot start unshare');

  const stop = async (): Promise<void> => {
    await stopByPid(pid, exited, () => running);
    // journald asks the kernel to enable audit when it opens the audit socket (some versions do).
    const after = await auditStatus().catch(() => undefined);
    if (before !== undefined && after !== undefined && after.enabled !== before.enabled) {
      await execFileAsync('auditctl', ['-e', String(before.enabled)]);
    }
  };

  try {
    await waitUntil('journald to write its first entries', async () => {
      if (!running) throw new Error(`journald exited at start: ${stderr}`);
      if (!existsSync(join(journalDir, 'system.journal'))) return false;
      const { stdout } = await execFileAsync('journalctl', [
        `--directory=${journalDir}`,
        '-n',
        '1',
        '-o',
        'json',
        '-q',
      ]);
      return stdout.trim().length > 0;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid, journalDir, stop };
}
