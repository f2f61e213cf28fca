import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detectSource } from '../../../agent/sources/auto-detect.js';
import { noAuditdRegistered, startPrivateAuditd, type PrivateAuditd } from '../../helpers/auditd.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';

const why = missingPrerequisite([
  isRoot,
  hasCommand('auditd', 'auditd'),
  hasCommand('auditctl', 'auditd'),
  noAuditdRegistered,
]);

describe.skipIf(why !== undefined)('source auto-detection on this host', () => {
  let dir = '';
  let auditd: PrivateAuditd | undefined;

  afterEach(async () => {
    await auditd?.stop();
    auditd = undefined;
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  it('chooses the log a running private auditd writes, found from its own config', async () => {
    dir = mkdtempSync(join(tmpdir(), 'kernwatch-detect-auditd-'));
    auditd = await startPrivateAuditd(dir);
    const detected = await detectSource({ growthWindowMs: 0 });
    expect(detected).toEqual({
      spec: { type: 'auditd', path: auditd.logPath },
      reason: `auditd is running (pid ${String(auditd.pid)}) and its log ${auditd.logPath} exists, so audit records go there and not to /dev/kmsg.`,
    });
  });

  it('chooses /dev/kmsg once that auditd has stopped', async () => {
    dir = mkdtempSync(join(tmpdir(), 'kernwatch-detect-auditd-'));
    const started = await startPrivateAuditd(dir);
    await started.stop();
    const detected = await detectSource({ auditLogPath: started.logPath, growthWindowMs: 300 });
    expect(detected).toEqual({
      spec: { type: 'kmsg' },
      reason: `No auditd process in /proc and ${started.logPath} did not grow within 300 ms, so the kernel writes audit records to /dev/kmsg.`,
    });
  });
});
