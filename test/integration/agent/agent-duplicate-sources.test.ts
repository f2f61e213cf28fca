import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { agentReady, eventsInFile, needsBuiltCli, startAgent, waitFor } from '../../helpers/agent-process.js';
import { CORPUS } from '../../helpers/fixtures.js';
import { missingPrerequisite } from '../../helpers/prerequisites.js';

// The same kernel records read through two sources (here: the kernel-log form in a syslog file and the
// auditd form in an audit.log) carry the same event ids, and the agent delivers each once.

const skip = missingPrerequisite([needsBuiltCli]);

describe.skipIf(skip)('kernwatch run with two sources that carry the same records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-e2e-dup-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('each record becomes one event, whichever source read it first', async () => {
    const kmsgLines = readFileSync(join(CORPUS, 'kmsg/kernel618-seccomp-all-actions.kmsg'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('audit: type=1326 '));
    expect(kmsgLines.length).toBeGreaterThan(3);
    // The auditd form of the same records: `type=SECCOMP msg=audit(...)` instead of `audit: type=1326 audit(...)`.
    const auditdLines = kmsgLines.map((l) =>
      l.slice(l.indexOf(';audit: ') + 8).replace('type=1326 audit(', 'type=SECCOMP msg=audit('),
    );
    const syslog = join(dir, 'kern.log');
    const audit = join(dir, 'audit.log');
    writeFileSync(syslog, `${kmsgLines.join('\n')}\n`);
    writeFileSync(audit, `${auditdLines.join('\n')}\n`);
    const out = join(dir, 'events.ndjson');
    const agent = startAgent([
      'run',
      '--source',
      `syslog:${syslog}`,
      '--source',
      `auditd:${audit}`,
      '--from-start',
      '--sink',
      `file:${out}`,
      '--state-dir',
      join(dir, 'state'),
      '--node',
      'dup',
    ]);
    try {
      await agentReady(agent);
      await waitFor('the events', () => (eventsInFile(out).length >= kmsgLines.length ? true : undefined));
      // Give the slower source time to deliver its copies, which must be dropped.
      await new Promise((r) => setTimeout(r, 500));
      expect(await agent.stop('SIGTERM')).toBe(0);
      const events = eventsInFile(out);
      const ids = events.map((e) => e.id);
      expect(new Set(ids).size).toBe(kmsgLines.length);
      expect(ids).toHaveLength(kmsgLines.length);
      const auditIds = kmsgLines.map((l) => /audit\((\d+\.\d+:\d+)\)/.exec(l)?.[1]);
      expect([...new Set(events.map((e) => e.auditId))].sort()).toEqual([...new Set(auditIds)].sort());
      expect(new Set(events.map((e) => e.source)).size).toBeGreaterThanOrEqual(1);
    } finally {
      await agent.stop('SIGKILL');
    }
  });
});
