import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, test } from 'vitest';
import {
  agentReady,
  CLI,
  eventsIn,
  needsBuiltCli,
  startAgent,
  waitFor,
} from '../../helpers/agent-process.js';
import { generateAuditLog } from '../../bench/audit-log-generator.js';
import { noAuditdRegistered } from '../../helpers/auditd.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';
import { disablePrintkRateLimit } from '../../helpers/printk-ratelimit.js';
import { buildViolator, runViolator } from '../../helpers/violator.js';

// The README's run command: `kernwatch run` with no source and no sink picks the live source itself and
// prints events on stdout; without the right to read the kernel's log it says so in one sentence.

const skip = missingPrerequisite([
  isRoot,
  hasCommand('gcc', 'gcc'),
  hasCommand('setpriv', 'util-linux'),
  needsBuiltCli,
  noAuditdRegistered,
]);

describe.skipIf(skip)('kernwatch run with its embedded defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-e2e-defaults-'));
  let restorePrintk: (() => void) | undefined;
  afterAll(() => {
    restorePrintk?.();
    rmSync(dir, { recursive: true, force: true });
  });

  test('with no source or sink given it reads /dev/kmsg (no auditd runs) and prints each violation on stdout', async () => {
    restorePrintk = disablePrintkRateLimit();
    const violator = await buildViolator();
    // Only the state directory is moved, so the test leaves /var/lib untouched.
    const agent = startAgent(['run', '--state-dir', join(dir, 'state')]);
    try {
      await agentReady(agent);
      expect(agent.stderr()).toContain('so the kernel writes audit records to /dev/kmsg');
      // A child that lives 100 ms before it violates: long enough for the agent's scan to know it (a host
      // process that violates within a millisecond of its start can be gone before any read: unresolved).
      const { events } = await runViolator(violator, ['fork', '1', '100', '0', 'log']);
      const violated = events.find((e) => e.kind === 'violate');
      const pid = violated?.kind === 'violate' ? violated.pid : -1;
      const event = await waitFor('the violation on stdout', () =>
        eventsIn(agent.stdout()).find((e) => e.process.pid === pid),
      );
      expect(event.source).toBe('kmsg');
      expect(event.seccomp?.action).toBe('LOG');
      expect(event.attribution).toBe('host');
      expect(await agent.stop('SIGTERM')).toBe(0);
      expect(agent.stderr()).toContain('Stopped.');
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  test('without the right to read the kernel log it exits 1 with a sentence, not a stack trace', () => {
    const state = join(dir, 'nobody-state');
    rmSync(state, { recursive: true, force: true });
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        CLI,
        'run',
        '--log-level',
        'warn',
      ],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('kernwatch: No permission to read kmsg (EPERM).');
    expect(r.stderr).toContain('run it as root');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  test('a state directory it cannot use is named in the message, with the reason', () => {
    const parent = join(dir, 'locked');
    rmSync(parent, { recursive: true, force: true });
    writeFileSync(parent, 'a file, not a directory');
    chownSync(parent, 0, 0);
    const r = spawnSync(
      process.execPath,
      [CLI, 'run', '--source', 'kmsg', '--state-dir', join(parent, 'state'), '--log-level', 'warn'],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `kernwatch: Cannot start source kmsg: Cannot read checkpoint ${join(parent, 'state')}/checkpoints/kmsg.json (ENOTDIR)`,
    );
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  test('a config file with an unknown key is a usage error (exit 2) naming the key', () => {
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, 'sources:\n  - { type: kmsg, pth: /dev/kmsg }\n');
    const r = spawnSync(process.execPath, [CLI, 'run', '--config', config], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown key 'pth' (at sources.0)");
  });

  test('a sink that keeps failing does not keep the agent from stopping, and its records stay unread', async () => {
    const state = join(dir, 'full-state');
    // Big enough that the queue fills and the file source waits in put(), the case where a stop that
    // waited for its sources before releasing the queue would hang.
    const log = join(dir, 'big-audit.log');
    generateAuditLog(log, { lines: 300_000 });
    const args = [
      'run',
      '--source',
      `syslog:${log}`,
      '--from-start',
      '--sink',
      'file:/dev/full',
      '--state-dir',
      state,
    ];
    const agent = startAgent([...args, '--log-level', 'info']);
    try {
      await agentReady(agent);
      await waitFor('a refused batch', () =>
        agent.stderr().includes('A sink refused a batch') ? true : undefined,
      );
      const started = Date.now();
      expect(await agent.stop('SIGTERM', 30_000)).toBe(0);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(agent.stderr()).toContain('Delivery is still retrying at shutdown');
      // Nothing was delivered, so the checkpoint never moved past the records.
      const checkpoint = join(state, 'checkpoints', `syslog_${log.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
      const saved = existsSync(checkpoint)
        ? (JSON.parse(readFileSync(checkpoint, 'utf8')) as { offset: number })
        : undefined;
      expect(saved === undefined || saved.offset === 0).toBe(true);
    } finally {
      await agent.stop('SIGKILL');
    }
  });
});
