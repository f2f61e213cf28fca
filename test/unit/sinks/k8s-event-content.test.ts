import { describe, expect, it } from 'vitest';
import { ATTRIBUTION, type KernwatchEvent } from '../../../agent/events.js';
import {
  containerFieldPath,
  eventAction,
  eventNote,
  eventReason,
  NOTE_MAX_BYTES,
  truncateUtf8,
} from '../../../agent/sinks/k8s-events/denial-event-content.js';
import { corpusLine, derive, kernelHex } from '../../helpers/corpus-lines.js';
import { onlyEvent } from '../../helpers/parse-text.js';

/** What a Kubernetes Event says about a denial: reason, action, fieldPath and the note, from real lines. */

const KMSG = 'kmsg/kernel618-seccomp-all-actions.kmsg';

function inContainer(line: string, name = 'app'): KernwatchEvent {
  return {
    ...onlyEvent(line),
    pod: { name: 'web-0', namespace: 'shop', uid: '5f1c2a7e-1111-4c3b-9d2e-0a1b2c3d4e5f' },
    container: { id: 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00', name },
    attribution: ATTRIBUTION.pod,
  };
}

describe('the content of a Kubernetes Event for a denial', () => {
  it.each([
    [KMSG, 9, 'SeccompViolation', 'Killed'],
    [KMSG, 8, 'SeccompViolation', 'Killed'],
    [KMSG, 3, 'SeccompViolation', 'Blocked'],
    [KMSG, 2, 'SeccompViolation', 'Logged'],
    ['dmesg/gh-containerd-containerd-2679.log', 1, 'AppArmorDenial', 'Blocked'],
    ['auditd/apparmor.d-testdata-audit.log', 2, 'AppArmorDenial', 'Allowed'],
    ['auditd/gh-containers-container-selinux-169.log', 1, 'SELinuxDenial', 'Blocked'],
  ])('gives %s line %i the reason %s and the action %s', (file, lineNo, reason, action) => {
    const e = inContainer(corpusLine(file, lineNo));
    expect([eventReason(e), eventAction(e)]).toStrictEqual([reason, action]);
  });

  it.each([
    [
      KMSG,
      9,
      'Seccomp denied getppid (x86_64) KILL_PROCESS to process "w kill-process" (pid 8591, ' +
        '"/usr/local/bin/seccomp-demo") in container "app"; the process was killed.',
    ],
    [
      KMSG,
      8,
      'Seccomp denied getppid (x86_64) KILL_THREAD to process "w kill-thread" (pid 8589, ' +
        '"/usr/local/bin/seccomp-demo") in container "app"; the thread was killed.',
    ],
    [
      KMSG,
      2,
      'Seccomp logged getppid (x86_64) LOG for process "w log" (pid 8577, "/usr/local/bin/seccomp-demo") ' +
        'in container "app"; the call was allowed and logged.',
    ],
    [
      'auditd/apparmor.d-testdata-audit.log',
      2,
      'AppArmor profile "kmod" denied file_inherit [send receive] to process "modprobe" (pid 505701) in ' +
        'container "app"; the access was allowed (complain mode).',
    ],
    [
      'auditd/gh-containers-container-selinux-169.log',
      1,
      'SELinux denied { read write } chr_file /dev/null to process "date" (pid 3831) in container "app" ' +
        '(system_u:system_r:container_t:s0:c196,c287 -> system_u:object_r:container_file_t:s0:c196,c287); ' +
        'the access was blocked.',
    ],
  ])('writes %s line %i as one sentence', (file, lineNo, note) => {
    expect(eventNote(inContainer(corpusLine(file, lineNo)))).toBe(note);
  });

  it('quotes a comm holding quotes and a newline, so it cannot break the sentence', () => {
    // CONSTRUCTED from kmsg line 11: its comm "sh" replaced by a hex comm decoding to `a"b\nc`.
    const line = derive(corpusLine(KMSG, 11), 'comm="sh"', `comm=${kernelHex('a"b\nc')}`);
    expect(eventNote(inContainer(line))).toBe(
      'Seccomp denied getppid (x86_64) KILL_PROCESS to process "a\\"b\\nc" (pid 8595, ' +
        '"/usr/local/bin/seccomp-demo") in container "app"; the process was killed.',
    );
  });

  it('names the container by its short id when its name is unknown, and leaves it out without a container', () => {
    const line = corpusLine(KMSG, 9);
    const byId = { ...inContainer(line), container: { id: 'c0ffee00c0ffee00c0ffee00c0ffee00' } };
    expect(eventNote(byId)).toContain('"/usr/local/bin/seccomp-demo") in container c0ffee00c0ff;');
    const { container, ...noContainer } = inContainer(line);
    expect(container?.name).toBe('app');
    expect(eventNote(noContainer)).toContain('"/usr/local/bin/seccomp-demo"); the process was killed.');
  });

  it('points at spec.containers{NAME} when the container name is known, and nowhere otherwise', () => {
    const e = inContainer(corpusLine(KMSG, 9), 'sidecar');
    expect(containerFieldPath(e)).toBe('spec.containers{sidecar}');
    expect(containerFieldPath({ ...e, container: { id: 'abc' } })).toBeUndefined();
  });

  it('keeps a note within the 1024 bytes the API server allows, cut at a character boundary', () => {
    // CONSTRUCTED from kmsg line 9: its exe replaced by a 2000-byte path of two-byte characters.
    const line = derive(
      corpusLine(KMSG, 9),
      'exe="/usr/local/bin/seccomp-demo"',
      `exe=${kernelHex(`/${'é'.repeat(1000)}`)}`,
    );
    const note = eventNote(inContainer(line));
    expect(Buffer.byteLength(note, 'utf8')).toBeLessThanOrEqual(NOTE_MAX_BYTES);
    expect(Buffer.byteLength(note, 'utf8')).toBeGreaterThan(NOTE_MAX_BYTES - 3);
    expect(note.endsWith('é…')).toBe(true);
    expect(note).not.toContain('\uFFFD');
  });

  it('truncates by bytes, not characters, and leaves short text alone', () => {
    expect(truncateUtf8('abc', 3)).toBe('abc');
    expect(truncateUtf8('abcdef', 5)).toBe('ab…');
    // '€' is 3 bytes: 2 of them and the 3-byte ellipsis fill 9 bytes; a third would not fit.
    expect(truncateUtf8('€€€€', 9)).toBe('€€…');
    expect(truncateUtf8('😀😀😀', 8)).toBe('😀…');
  });
});
