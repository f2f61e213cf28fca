import { describe, expect, it } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import type { AuditStreamParser } from '../../../agent/parse/audit-stream-parser.js';
import { constructedLines, corpusLine, corpusLines, derive } from '../../helpers/corpus-lines.js';
import { collectingParser, parseText } from '../../helpers/parse-text.js';

/**
 * Audit events: the records of one syscall share `audit(SEC.MS:SERIAL)`. A denial record is joined with
 * its event's SYSCALL, CWD, PATH, PROCTITLE... records (before or after it), each denial record of an
 * event gets the id `<node>:<auditId>/<i>`, and the wait for siblings is bounded.
 */

/** A parser fed line by line, so a test can see when each event comes out. */
function stepParser(options: { holdLines?: number } = {}): {
  push: (line: string) => void;
  events: KernwatchEvent[];
  parser: AuditStreamParser;
} {
  const { events, parser } = collectingParser(options);
  return {
    push: (line) => {
      parser.pushLine(line);
    },
    events,
    parser,
  };
}

const AUPARSE = 'auditd/audit-userspace-auparse-test.log';
/** Real lines 1-4 of AUPARSE: AVC, SYSCALL, CWD, PATH of event 1170021493.977:293 (postfix pickup). */
const [AVC_293 = '', SYSCALL_293 = '', CWD_293 = '', PATH_293 = ''] = corpusLines(AUPARSE).slice(0, 4);

describe('an SELinux AVC with all its sibling records', () => {
  // CONSTRUCTED file: lines 1-4 are AUPARSE lines 1-4 verbatim; the PROCTITLE and EOE records that event
  // lacks were added (see test/fixtures/constructed/README.md).
  const lines = constructedLines('selinux-avc-full-event.log');

  it('reports ppid, exe, credentials, subj, cwd, cmdline and the PATH name as the SELinux path', () => {
    const { events } = parseText(lines.join('\n'));
    expect(events).toStrictEqual([
      {
        schema: 'kernwatch.v1',
        id: 'test-node:1170021493.977:293/0',
        auditId: '1170021493.977:293',
        time: '2007-01-28T21:58:13.977Z',
        node: 'test-node',
        source: 'file',
        kind: 'selinux',
        outcome: 'blocked',
        count: 1,
        process: {
          pid: 13010,
          ppid: 2013,
          comm: 'pickup',
          exe: '/usr/libexec/postfix/pickup',
          uid: 890,
          gid: 890,
          auid: 4294967295,
          subj: 'system_u:system_r:postfix_pickup_t:s0',
          cmdline: 'pickup -l -t unix -u',
          cwd: '/var/spool/postfix',
        },
        selinux: {
          permissions: ['read', 'write'],
          scontext: 'system_u:system_r:postfix_pickup_t:s0',
          tcontext: 'system_u:object_r:postfix_spool_maildrop_t:s0',
          tclass: 'dir',
          permissive: false,
          name: 'maildrop',
          path: 'maildrop',
        },
        attribution: 'unresolved',
        // The denial line, then its siblings; EOE only ends the event.
        raw: lines.slice(0, 5),
      },
    ]);
  });

  it('emits the event as soon as its EOE record arrives', () => {
    const { push, events } = stepParser();
    lines.slice(0, 5).forEach(push);
    expect(events).toHaveLength(0);
    push(lines[5] ?? '');
    expect(events).toHaveLength(1);
    expect(events[0]?.process.cmdline).toBe('pickup -l -t unix -u');
  });

  it('reports the real event without PROCTITLE and EOE with ppid, exe, cwd and path, and no cmdline', () => {
    // Real: the whole of AUPARSE (the AVC event, then unrelated PAM and LOGIN events).
    const { events } = parseText(corpusLines(AUPARSE).join('\n'));
    expect(events).toHaveLength(1);
    expect(events[0]?.process).toStrictEqual({
      pid: 13010,
      ppid: 2013,
      comm: 'pickup',
      exe: '/usr/libexec/postfix/pickup',
      uid: 890,
      gid: 890,
      auid: 4294967295,
      subj: 'system_u:system_r:postfix_pickup_t:s0',
      cwd: '/var/spool/postfix',
    });
    expect(events[0]?.selinux?.path).toBe('maildrop');
    expect(events[0]?.raw).toEqual([AVC_293, SYSCALL_293, CWD_293, PATH_293]);
  });
});

describe('sibling records written before the denial record', () => {
  // Real: ml-apparmor-ausearch-doesn-t-show-apparmor-denial-messages.log has PROCTITLE, SYSCALL, then the
  // AppArmor AVC of the same serial, twice (lines 3-5 and 6-8). (auditd/apparmor.d-testdata-audit.log,
  // which the brief named for this, has no PROCTITLE or SYSCALL records.)
  const FILE = 'auditd/ml-apparmor-ausearch-doesn-t-show-apparmor-denial-messages.log';

  it('joins a PROCTITLE and SYSCALL that came first', () => {
    const { events } = parseText(corpusLines(FILE).join('\n'));
    const e = events.find((x) => x.auditId === '1784062998.789:100');
    expect(e?.process).toStrictEqual({
      pid: 3449,
      ppid: 562,
      comm: 'bash',
      exe: '/usr/bin/bash',
      uid: 0,
      gid: 0,
      auid: 4294967295,
      ses: 4294967295,
      subj: 'lsb_release',
      cmdline: 'bash',
    });
    expect(e?.raw).toEqual([corpusLine(FILE, 5), corpusLine(FILE, 3), corpusLine(FILE, 4)]);
    expect(e?.apparmor?.name).toBe('/etc/nsswitch.conf');
  });

  it('keeps the two PROCTITLE/SYSCALL/AVC events of the file apart', () => {
    const { events } = parseText(corpusLines(FILE).join('\n'));
    expect(events.map((e) => [e.id, e.apparmor?.name, e.raw.length])).toEqual([
      ['test-node:1774470501.870:1117918/0', '/proc/2009624/cmdline', 1],
      ['test-node:1774470501.927:1117919/0', '/proc/2009636/cmdline', 1],
      ['test-node:1784062998.789:100/0', '/etc/nsswitch.conf', 3],
      ['test-node:1784062998.789:101/0', '/etc/passwd', 3],
    ]);
  });
});

describe('several denial records in one audit event', () => {
  it('numbers the three AVCs of serial 12165 /0, /1 and /2 in their order', () => {
    // Real: gh-confidential-containers-operator-115.log, three AVC records of one event.
    const { events } = parseText(
      corpusLines('auditd/gh-confidential-containers-operator-115.log').join('\n'),
    );
    expect(events.map((e) => [e.id, e.auditId, e.selinux?.permissions, e.process.comm, e.outcome])).toEqual([
      ['test-node:1665522945.448:12165/0', '1665522945.448:12165', ['execute'], '(ntainerd)', 'allowed'],
      [
        'test-node:1665522945.448:12165/1',
        '1665522945.448:12165',
        ['execute_no_trans'],
        '(ntainerd)',
        'allowed',
      ],
      ['test-node:1665522945.448:12165/2', '1665522945.448:12165', ['map'], 'containerd', 'allowed'],
    ]);
  });

  it('continues the numbering when a denial record of an event arrives after the event was emitted', () => {
    // Real lines: the three AVCs of serial 12165, each separated by four unrelated records (AUPARSE lines
    // 5-8, other serials) so that with holdLines 2 the event is emitted before the next AVC arrives.
    const avcs = corpusLines('auditd/gh-confidential-containers-operator-115.log');
    const others = corpusLines(AUPARSE).slice(4, 8);
    const lines = [avcs[0] ?? '', ...others, avcs[1] ?? '', ...others, avcs[2] ?? ''];
    const { events } = parseText(lines.join('\n'), { holdLines: 2 });
    expect(events.map((e) => [e.id, e.selinux?.permissions])).toEqual([
      ['test-node:1665522945.448:12165/0', ['execute']],
      ['test-node:1665522945.448:12165/1', ['execute_no_trans']],
      ['test-node:1665522945.448:12165/2', ['map']],
    ]);
  });

  it('gives every denial of an event the event siblings', () => {
    // Real: selinux-sepolgen-tests-audit.txt.log lines 3-5: two AVCs and the SYSCALL of serial 709.
    const lines = corpusLines('auditd/selinux-sepolgen-tests-audit.txt.log').slice(2, 5);
    const { events } = parseText(lines.join('\n'));
    expect(events.map((e) => [e.id, e.process.ppid, e.process.exe, e.raw])).toEqual([
      ['test-node:1158584779.753:709/0', 8132, '/bin/bash', [lines[0], lines[2]]],
      ['test-node:1158584779.753:709/1', 8132, '/bin/bash', [lines[1], lines[2]]],
    ]);
  });
});

describe('events of different serials', () => {
  it('keeps interleaved events apart', () => {
    // Real lines of selinux-sepolgen-tests-audit.txt.log in the order 1, 3, 4, 2, 5: AVC 708, AVC 709,
    // AVC 709, SYSCALL 708, SYSCALL 709 (reordered, each line verbatim).
    const all = corpusLines('auditd/selinux-sepolgen-tests-audit.txt.log');
    const order = [1, 3, 4, 2, 5].map((n) => all[n - 1] ?? '');
    const { events } = parseText(order.join('\n'));
    expect(events.map((e) => [e.id, e.process.pid, e.process.ppid, e.raw.length])).toEqual([
      ['test-node:1158584779.745:708/0', 8132, 8131, 2],
      ['test-node:1158584779.753:709/0', 8133, 8132, 2],
      ['test-node:1158584779.753:709/1', 8133, 8132, 2],
    ]);
  });

  it('keeps records of the same serial and second but other milliseconds in separate events', () => {
    // CONSTRUCTED: gh-confidential-containers-operator-115.log line 1 (real) and line 3 with its stamp
    // audit(1665522945.448:12165) changed to audit(1665522945.449:12165): a different audit id, so a
    // different event (as when logs of two boots or two machines are read together).
    const file = 'auditd/gh-confidential-containers-operator-115.log';
    const other = derive(corpusLine(file, 3), 'audit(1665522945.448:12165)', 'audit(1665522945.449:12165)');
    const { events } = parseText([corpusLine(file, 1), other].join('\n'));
    expect(events.map((e) => [e.id, e.auditId])).toEqual([
      ['test-node:1665522945.448:12165/0', '1665522945.448:12165'],
      ['test-node:1665522945.449:12165/0', '1665522945.449:12165'],
    ]);
  });

  it.each([
    'auditd/selinux-sepolgen-tests-audit.txt.log',
    'auditd/selinux-sepolgen-test_data-audit.head700.log',
  ])('%s: every AVC gets ppid and exe of the SYSCALL record with its audit id', (file) => {
    const lines = corpusLines(file);
    // The SYSCALL records of the file, read here with a regex independent of agent/.
    const bySerial = new Map<string, { ppid: number; exe: string }>();
    for (const line of lines) {
      const m = /^type=SYSCALL msg=audit\(([\d.]+:\d+)\):.* ppid=(\d+) .* exe="([^"]*)"/.exec(line);
      if (m?.[1] !== undefined) bySerial.set(m[1], { ppid: Number(m[2]), exe: m[3] ?? '' });
    }
    const { events } = parseText(lines.join('\n'));
    const selinux = events.filter((e) => e.kind === 'selinux');
    expect(selinux.length).toBeGreaterThan(0);
    const got = selinux.map((e) => [e.auditId, e.process.ppid, e.process.exe]);
    const want = selinux.map((e) => {
      const s = bySerial.get(e.auditId ?? '');
      return [e.auditId, s?.ppid, s?.exe];
    });
    expect(got).toEqual(want);
  });
});

describe('the bounded wait for siblings', () => {
  // Real: AUPARSE lines 5-12 are records of other events (USER_ACCT, CRED_ACQ, LOGIN...).
  const others = corpusLines(AUPARSE).slice(4, 12);

  it('emits an event whose siblings never come once holdLines further lines were read', () => {
    const { push, events } = stepParser({ holdLines: 3 });
    push(AVC_293);
    push(others[0] ?? '');
    push(others[1] ?? '');
    expect(events).toHaveLength(0);
    push(others[2] ?? '');
    expect(events).toHaveLength(1);
    expect(events[0]?.id).toBe('test-node:1170021493.977:293/0');
    expect(events[0]?.raw).toEqual([AVC_293]);
  });

  it('joins siblings that arrive within holdLines and not those that arrive after the event was emitted', () => {
    const { push, events, parser } = stepParser({ holdLines: 3 });
    push(AVC_293);
    push(SYSCALL_293); // within the wait: joined
    push(others[0] ?? '');
    push(others[1] ?? ''); // the third further line: the event is emitted
    push(CWD_293); // too late
    parser.flushAll();
    expect(events).toHaveLength(1);
    expect(events[0]?.process.ppid).toBe(2013);
    expect(events[0]?.process.cwd).toBeUndefined();
    expect(events[0]?.raw).toEqual([AVC_293, SYSCALL_293]);
  });

  it('emits a lone denial at the end of input (flushAll)', () => {
    const { push, events, parser } = stepParser();
    push(AVC_293);
    expect(events).toHaveLength(0);
    parser.flushAll();
    expect(events).toHaveLength(1);
  });

  it('counts the siblings of one event beyond its bound (16) as dropped', () => {
    // Real lines 1-4 of AUPARSE with its PATH line repeated verbatim 17 more times: 20 siblings in all.
    const lines = [AVC_293, SYSCALL_293, CWD_293, ...Array.from({ length: 18 }, () => PATH_293)];
    const { events, parser } = parseText(lines.join('\n'));
    expect(parser.stats.siblingsJoined).toBe(16);
    expect(parser.stats.siblingsDropped).toBe(4);
    expect(events).toHaveLength(1);
    expect(events[0]?.raw).toHaveLength(17);
    expect(events[0]?.process.cwd).toBe('/var/spool/postfix');
  });
});
