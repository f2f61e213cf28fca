import { describe, expect, it } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import type { AuditStreamParser } from '../../../agent/parse/audit-stream-parser.js';
import {
  constructedLines,
  corpusLine,
  corpusLines,
  derive,
  fnv1a32,
  journaldBody,
} from '../../helpers/corpus-lines.js';
import { parseText } from '../../helpers/parse-text.js';

/**
 * One test per log form kernwatch reads (README: auditd raw/enriched, /dev/kmsg, dmesg, syslog,
 * journalctl short/short-iso/short-unix/json, logcat, ausearch -i), with real lines where the corpus has
 * them. Records without an audit id get the synthetic id of docs/events.md:
 * `<node>:~<unix seconds>-<pid>-<fnv1a32 of the record's fields>/<n>`.
 */

const NOW = new Date('2026-11-28T12:00:00Z');

function parse(
  lines: readonly string[],
  now: Date = NOW,
): { events: KernwatchEvent[]; parser: AuditStreamParser } {
  return parseText(lines.join('\n'), { now: () => now });
}

function onlyEvent(lines: readonly string[], now: Date = NOW): KernwatchEvent {
  const { events } = parse(lines, now);
  expect(events).toHaveLength(1);
  const [e] = events;
  if (e === undefined) throw new Error('no event');
  return e;
}

function unixSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

const CRUN = 'journald/gh-containers-crun-683.log';
/** Real: the same SECCOMP record as journald's audit transport (line 1) and as a kernel message (line 2). */
const CRUN_AUDIT = (): string => corpusLine(CRUN, 1);
const CRUN_KERNEL = (): string => corpusLine(CRUN, 2);
/** The fields of that record, as both lines carry them. */
const CRUN_FIELDS = (): string => journaldBody(CRUN_AUDIT());
const CRUN_SECCOMP = {
  syscall: 'mount',
  syscallNr: 165,
  arch: 'x86_64',
  compat: false,
  action: 'ERRNO',
  signal: 0,
  code: '0x50000',
} as const;
const CRUN_PROCESS = {
  pid: 7645,
  comm: 'mount',
  exe: '/repro/mount',
  uid: 0,
  gid: 0,
  auid: 4294967295,
  ses: 4294967295,
  subj: 'docker-default',
} as const;

describe('auditd audit.log', () => {
  const SELINUX_169 = 'auditd/gh-containers-container-selinux-169.log';
  const expected169 = (raw: string): KernwatchEvent => ({
    schema: 'kernwatch.v1',
    id: 'test-node:1644242078.472:705/0',
    auditId: '1644242078.472:705',
    time: '2022-02-07T13:54:38.472Z',
    node: 'test-node',
    source: 'file',
    kind: 'selinux',
    outcome: 'blocked',
    count: 1,
    process: { pid: 3831, comm: 'date' },
    selinux: {
      permissions: ['read', 'write'],
      scontext: 'system_u:system_r:container_t:s0:c196,c287',
      tcontext: 'system_u:object_r:container_file_t:s0:c196,c287',
      tclass: 'chr_file',
      permissive: false,
      path: '/dev/null',
    },
    attribution: 'unresolved',
    raw: [raw],
  });

  it('reads a RAW record', () => {
    // Real: gh-containers-container-selinux-169.log line 1.
    const line = corpusLine(SELINUX_169, 1);
    const { events, parser } = parse([line]);
    expect(events).toStrictEqual([expected169(line)]);
    expect(parser.stats.byForm.auditd).toBe(1);
  });

  it('reads a RAW record with a CRLF line ending and leaves the CR out of raw', () => {
    // CONSTRUCTED: the real line above with "\r" appended, as in a log copied through Windows.
    const line = corpusLine(SELINUX_169, 1);
    expect(parse([`${line}\r`]).events).toStrictEqual([expected169(line)]);
  });

  it('reads a record after a node= prefix and keeps the node kernwatch was given', () => {
    // CONSTRUCTED: the real line above with `node=fedora-coreos ` prepended, as auditd writes with
    // name_format=user (the corpus has no node= line).
    const line = `node=fedora-coreos ${corpusLine(SELINUX_169, 1)}`;
    const { events, parser } = parse([line]);
    expect(events).toStrictEqual([expected169(line)]);
    expect(parser.stats.byForm.auditd).toBe(1);
  });

  it('reads an ENRICHED record (0x1d separator)', () => {
    // Real: kernel618-auditd309-enriched-seccomp-all-actions.log line 12 (KILL_THREAD).
    const line = corpusLine('auditd/kernel618-auditd309-enriched-seccomp-all-actions.log', 12);
    const { events, parser } = parse([line]);
    expect(events).toStrictEqual([
      {
        schema: 'kernwatch.v1',
        id: 'test-node:1795865933.152:334446/0',
        auditId: '1795865933.152:334446',
        time: '2026-11-28T11:38:53.152Z',
        node: 'test-node',
        source: 'file',
        kind: 'seccomp',
        outcome: 'killed',
        count: 1,
        process: {
          pid: 8651,
          comm: 'w kill-thread',
          exe: '/usr/local/bin/seccomp-demo',
          uid: 0,
          gid: 0,
          auid: 4294967295,
          ses: 4294967295,
        },
        seccomp: {
          syscall: 'getppid',
          syscallNr: 110,
          arch: 'x86_64',
          compat: false,
          action: 'KILL_THREAD',
          signal: 31,
          code: '0x0',
        },
        attribution: 'unresolved',
        raw: [line],
      },
    ]);
    expect(parser.stats.byForm.auditd).toBe(1);
  });
});

describe('kernel log forms', () => {
  it('reads a /dev/kmsg record (PRI,SEQ,USEC,FLAGS;)', () => {
    // Real: kernel618-seccomp-all-actions.kmsg line 9.
    const line = corpusLine('kmsg/kernel618-seccomp-all-actions.kmsg', 9);
    const { events, parser } = parse([line]);
    expect(events.map((e) => [e.id, e.time, e.process.comm, e.seccomp?.action])).toEqual([
      ['test-node:1795865927.092:334427/0', '2026-11-28T11:38:47.092Z', 'w kill-process', 'KILL_PROCESS'],
    ]);
    expect(parser.stats.byForm.kmsg).toBe(1);
  });

  it('counts kmsg dictionary continuation lines as not relevant, not malformed', () => {
    // CONSTRUCTED: /dev/kmsg continuation lines (` KEY=value` after a record); the corpus has none.
    const { events, parser } = parse([
      corpusLine('kmsg/kernel618-seccomp-all-actions.kmsg', 9),
      ' SUBSYSTEM=net',
      ' DEVICE=n2',
    ]);
    expect(events).toHaveLength(1);
    expect(parser.stats.notRelevant).toBe(2);
    expect(parser.stats.malformedTotal()).toBe(0);
  });

  it('reads dmesg output with [uptime] and audit:', () => {
    // Real: apparmor-testsuite/test_multi/testcase_dmesg_capability.in.
    const line = corpusLine('apparmor-testsuite/test_multi/testcase_dmesg_capability.in', 1);
    const { events, parser } = parse([line]);
    expect(events.map((e) => [e.id, e.time, e.process.pid, e.process.comm, e.outcome, e.apparmor])).toEqual([
      [
        'test-node:1284061910.975:672/0',
        '2010-09-09T19:51:50.975Z',
        7292,
        'syscall_setprio',
        'blocked',
        {
          mode: 'DENIED',
          operation: 'capable',
          profile: '/home/ubuntu/bzr/apparmor/tests/regression/apparmor/syscall_setpriority',
          name: 'sys_nice',
          capability: 23,
          capname: 'sys_nice',
        },
      ],
    ]);
    expect(parser.stats.byForm.dmesg).toBe(1);
  });

  it('reads dmesg output with [uptime] but without the audit: word (old kernels)', () => {
    // CONSTRUCTED: test_multi/testcase_syslog_link_01.in (real) without its syslog prefix
    // `Sep  9 12:58:28 ubuntu-desktop kernel: `, i.e. as dmesg printed it.
    const line = derive(
      corpusLine('apparmor-testsuite/test_multi/testcase_syslog_link_01.in', 1),
      'Sep  9 12:58:28 ubuntu-desktop kernel: ',
      '',
    );
    expect(line.startsWith('[ 2010.738449] type=1400 audit(1284062308.965:276251): ')).toBe(true);
    const { events, parser } = parse([line]);
    expect(events.map((e) => [e.id, e.process.pid, e.apparmor?.operation, e.apparmor?.name])).toEqual([
      ['test-node:1284062308.965:276251/0', 19142, 'link', '/tmp/sdtest.19088-12382-HWH57d/linkfile'],
    ]);
    expect(parser.stats.byForm.dmesg).toBe(1);
  });

  it('reads dmesg output without any [uptime] prefix', () => {
    // Real: dmesg/security-profiles-operator-audit_test.dmesg.log line 1.
    const line = corpusLine('dmesg/security-profiles-operator-audit_test.dmesg.log', 1);
    const { events, parser } = parse([line]);
    expect(events.map((e) => [e.id, e.process.pid, e.seccomp?.syscall, e.seccomp?.action])).toEqual([
      ['test-node:1611996299.149:466250/0', 615549, 'write', 'LOG'],
    ]);
    expect(parser.stats.byForm.dmesg).toBe(1);
  });
});

describe('syslog forms', () => {
  it('reads an RFC 3164 line from the kernel: sender', () => {
    // Real: syslog/security-profiles-operator-audit_test.syslog.log line 1.
    const line = corpusLine('syslog/security-profiles-operator-audit_test.syslog.log', 1);
    const { events, parser } = parse([line]);
    expect(events.map((e) => [e.id, e.time, e.process.pid, e.seccomp?.syscall])).toEqual([
      ['test-node:1625740283.502:574/0', '2021-07-08T10:31:23.502Z', 4709, 'rt_sigaction'],
    ]);
    expect(parser.stats.byForm.syslog).toBe(1);
  });

  it('reads the [uptime] type= form inside an RFC 3164 line', () => {
    // Real: apparmor-testsuite/test_multi/testcase_syslog_link_01.in.
    const line = corpusLine('apparmor-testsuite/test_multi/testcase_syslog_link_01.in', 1);
    const { events, parser } = parse([line]);
    expect(events.map((e) => e.id)).toEqual(['test-node:1284062308.965:276251/0']);
    expect(parser.stats.byForm.syslog).toBe(1);
  });

  it('reads lines with a kern.notice facility word before the kernel: tag', () => {
    // Real: syslog/gh-kubernetes-kubernetes-115395.log: three AppArmor STATUS records (profile loads,
    // which are counted, not reported) behind `syslogd-zhb9z kern.notice kernel:`.
    const { events, parser } = parse(corpusLines('syslog/gh-kubernetes-kubernetes-115395.log'));
    expect(events).toEqual([]);
    expect(parser.stats.byForm.syslog).toBe(3);
    expect(parser.stats.notDenial.apparmor_status).toBe(3);
    expect(parser.stats.notRelevant).toBe(0);
    expect(parser.stats.malformedTotal()).toBe(0);
  });

  it('reads an RFC 5424 line from the kernel', () => {
    // CONSTRUCTED: crun-683 line 2 (real) with its RFC 3164 header `May 28 15:24:32 casper kernel: `
    // replaced by an RFC 5424 header; the corpus has no RFC 5424 line.
    const line = derive(
      CRUN_KERNEL(),
      'May 28 15:24:32 casper kernel: ',
      '<4>1 2021-05-28T19:24:32.180Z casper kernel - - - ',
    );
    const { events, parser } = parse([line]);
    expect(events.map((e) => [e.id, e.auditId, e.time, e.process, e.seccomp])).toEqual([
      [
        'test-node:1622229872.180:55/0',
        '1622229872.180:55',
        '2021-05-28T19:24:32.180Z',
        CRUN_PROCESS,
        CRUN_SECCOMP,
      ],
    ]);
    expect(parser.stats.byForm.syslog).toBe(1);
  });

  it('reads a line from the audispd sender carrying an auditd record', () => {
    // CONSTRUCTED: the record of crun-683 line 2 as audisp-syslog forwards it in auditd form:
    // `audispd: node=casper type=SECCOMP msg=audit(1622229872.180:55): <the same fields>`.
    const line = `May 28 15:24:32 casper audispd: node=casper type=SECCOMP msg=audit(1622229872.180:55): ${CRUN_FIELDS()}`;
    const { events, parser } = parse([line]);
    expect(events.map((e) => [e.id, e.auditId, e.time, e.process, e.seccomp])).toEqual([
      [
        'test-node:1622229872.180:55/0',
        '1622229872.180:55',
        '2021-05-28T19:24:32.180Z',
        CRUN_PROCESS,
        CRUN_SECCOMP,
      ],
    ]);
    expect(parser.stats.byForm.syslog).toBe(1);
  });

  it('does not take an audit record from an untrusted sender', () => {
    // CONSTRUCTED: crun-683 line 2 with the sender `kernel: audit:` replaced by an ordinary program.
    const forged = [
      derive(CRUN_KERNEL(), 'kernel: audit: ', 'myapp[12]: '),
      derive(CRUN_KERNEL(), 'kernel: audit: ', 'myapp[12]: kernel: audit: '),
    ];
    const { events, parser } = parse(forged);
    expect(events).toEqual([]);
    expect(parser.stats.notRelevant).toBe(2);
    expect(parser.stats.malformedTotal()).toBe(0);
  });
});

describe('journalctl text forms (records without an audit id)', () => {
  it('reads the short form `host audit[PID]: SECCOMP ...` with a synthetic id and the line time', () => {
    // Real: crun-683 line 1. The year is not written: with now = 2026-11-28 it is 2026.
    const line = CRUN_AUDIT();
    const { events, parser } = parse([line]);
    const time = '2026-05-28T15:24:32.000Z';
    expect(events).toStrictEqual([
      {
        schema: 'kernwatch.v1',
        id: `test-node:~${String(unixSeconds(time))}-7645-${fnv1a32(CRUN_FIELDS())}/0`,
        time,
        node: 'test-node',
        source: 'file',
        kind: 'seccomp',
        outcome: 'blocked',
        count: 1,
        process: CRUN_PROCESS,
        seccomp: CRUN_SECCOMP,
        attribution: 'unresolved',
        raw: [line],
      },
    ]);
    expect(parser.stats.byForm.journald).toBe(1);
  });

  it('puts a short line that would lie in the future into the previous year', () => {
    // Real: crun-683 line 1 read on 2026-01-15: May 28 must be 2025.
    const e = onlyEvent([CRUN_AUDIT()], new Date('2026-01-15T00:00:00Z'));
    expect(e.time).toBe('2025-05-28T15:24:32.000Z');
    expect(e.id).toBe(`test-node:~${String(unixSeconds(e.time))}-7645-${fnv1a32(CRUN_FIELDS())}/0`);
  });

  it('reads a French month abbreviation (oct.)', () => {
    // Real: gh-yunohost-apps-seafile_ynh-95.log line 1.
    const e = onlyEvent([corpusLine('journald/gh-yunohost-apps-seafile_ynh-95.log', 1)]);
    expect(e.time).toBe('2026-10-24T00:48:51.000Z');
    expect(e.process.pid).toBe(811024);
  });

  it('numbers identical records of the same second and pid /0 and /1', () => {
    // Real: gh-coreos-bugs-1757.log: the same AVC line twice.
    const lines = corpusLines('journald/gh-coreos-bugs-1757.log');
    expect(lines[0]).toBe(lines[1]);
    const { events } = parse(lines);
    const base = `test-node:~${String(unixSeconds('2026-01-10T15:51:17Z'))}-20404-${fnv1a32(journaldBody(lines[0] ?? ''))}`;
    expect(events.map((e) => e.id)).toEqual([`${base}/0`, `${base}/1`]);
    expect(events.every((e) => e.auditId === undefined)).toBe(true);
  });

  it('gives the same ids when the same log is read again', () => {
    const lines = corpusLines('journald/gh-yunohost-apps-seafile_ynh-95.log');
    const first = parse(lines).events.map((e) => e.id);
    const second = parse(lines).events.map((e) => e.id);
    expect(first).toHaveLength(4);
    expect(new Set(first).size).toBe(4);
    expect(second).toEqual(first);
  });

  it('reads the short-iso form', () => {
    // CONSTRUCTED: crun-683 line 1 with `May 28 15:24:32` written as journalctl -o short-iso does; the
    // host's zone is UTC-4 (the kernel stamp of the same record, line 2, is 19:24:32 UTC).
    const line = derive(CRUN_AUDIT(), 'May 28 15:24:32 ', '2021-05-28T15:24:32-0400 ');
    const { events, parser } = parse([line]);
    expect(events.map((e) => [e.id, e.auditId, e.time, e.process, e.seccomp])).toEqual([
      [
        `test-node:~1622229872-7645-${fnv1a32(CRUN_FIELDS())}/0`,
        undefined,
        '2021-05-28T19:24:32.000Z',
        CRUN_PROCESS,
        CRUN_SECCOMP,
      ],
    ]);
    expect(parser.stats.byForm.journald).toBe(1);
  });

  it('reads the short-unix form', () => {
    // CONSTRUCTED: crun-683 line 1 with its time written as journalctl -o short-unix does.
    const line = derive(CRUN_AUDIT(), 'May 28 15:24:32 ', '1622229872.180000 ');
    const { events, parser } = parse([line]);
    expect(events.map((e) => [e.id, e.auditId, e.time, e.process, e.seccomp])).toEqual([
      [
        `test-node:~1622229872-7645-${fnv1a32(CRUN_FIELDS())}/0`,
        undefined,
        '2021-05-28T19:24:32.180Z',
        CRUN_PROCESS,
        CRUN_SECCOMP,
      ],
    ]);
    expect(parser.stats.byForm.journald).toBe(1);
  });

  it('reads the kernel transport in the short form (kernel: audit: type=...)', () => {
    // Real: crun-683 line 2: this copy has the audit id, so the id is the real one.
    const e = onlyEvent([CRUN_KERNEL()]);
    expect([e.id, e.auditId, e.time]).toEqual([
      'test-node:1622229872.180:55/0',
      '1622229872.180:55',
      '2021-05-28T19:24:32.180Z',
    ]);
  });
});

describe('journalctl -o json', () => {
  it('reports nothing for the user-space D-Bus entries of the corpus, and counts them as not relevant', () => {
    // Real: journald/apparmor.d-testdata-systemd.journal.json: 16 entries of _TRANSPORT=syslog
    // (dbus-daemon's own AppArmor messages), not kernel records.
    const { events, parser } = parse(corpusLines('journald/apparmor.d-testdata-systemd.journal.json'));
    expect(events).toEqual([]);
    expect(parser.stats.lines).toBe(16);
    expect(parser.stats.notRelevant).toBe(16);
    expect(parser.stats.malformedTotal()).toBe(0);
  });

  it('reads a kernel-transport entry with the audit id of its MESSAGE', () => {
    // CONSTRUCTED: test/fixtures/constructed/journald-kernel-transport.json, an entry of
    // _TRANSPORT=kernel whose MESSAGE is the real kernel message of crun-683 line 2.
    const { events, parser } = parse(constructedLines('journald-kernel-transport.json'));
    expect(events.map((e) => [e.id, e.auditId, e.time, e.process, e.seccomp])).toEqual([
      [
        'test-node:1622229872.180:55/0',
        '1622229872.180:55',
        '2021-05-28T19:24:32.180Z',
        CRUN_PROCESS,
        CRUN_SECCOMP,
      ],
    ]);
    expect(parser.stats.byForm['journald-json']).toBe(1);
  });

  it('rebuilds the audit id of an audit-transport entry from _AUDIT_ID and _SOURCE_REALTIME_TIMESTAMP', () => {
    // CONSTRUCTED: test/fixtures/constructed/journald-audit-transport.json, an entry of _TRANSPORT=audit
    // whose MESSAGE is `SECCOMP <the fields of crun-683 line 1>`, _AUDIT_ID=55 and
    // _SOURCE_REALTIME_TIMESTAMP=1622229872180000 (journald's rendering of audit(1622229872.180:55)).
    const { events, parser } = parse(constructedLines('journald-audit-transport.json'));
    expect(events.map((e) => [e.id, e.auditId, e.time, e.process, e.seccomp])).toEqual([
      [
        'test-node:1622229872.180:55/0',
        '1622229872.180:55',
        '2021-05-28T19:24:32.180Z',
        CRUN_PROCESS,
        CRUN_SECCOMP,
      ],
    ]);
    expect(parser.stats.byForm['journald-json']).toBe(1);
  });
});

describe('Android logcat', () => {
  it('reads logcat lines and joins the SYSCALL and PROCTITLE of the first AVC', () => {
    // Real: logcat/gh-jmpews-dobby-54.log (ARM, `E/audit:` tag, trailing `SEPF_... audit_filtered`).
    const { events, parser } = parse(corpusLines('logcat/gh-jmpews-dobby-54.log'));
    expect(events.map((e) => [e.id, e.time, e.process, e.selinux, e.raw.length])).toEqual([
      [
        'test-node:1557399973.255:3857/0',
        '2019-05-09T11:06:13.255Z',
        {
          pid: 6214,
          ppid: 614,
          comm: 'KernelThread-2',
          exe: '/system/bin/app_process32',
          uid: 10208,
          gid: 10208,
          auid: 4294967295,
          ses: 4294967295,
          subj: 'u:r:untrusted_app_27:s0:c512,c768',
          cmdline: 'com.eg.android.AlipayGphone:push',
        },
        {
          permissions: ['read'],
          scontext: 'u:r:untrusted_app_27:s0:c512,c768',
          tcontext: 'u:object_r:sysfs:s0',
          tclass: 'dir',
          permissive: false,
          name: 'power_supply',
        },
        3,
      ],
      [
        'test-node:1557399973.255:3858/0',
        '2019-05-09T11:06:13.255Z',
        { pid: 6214, comm: 'KernelThread-2' },
        {
          permissions: ['read'],
          scontext: 'u:r:untrusted_app_27:s0:c512,c768',
          tcontext: 'u:object_r:sysfs:s0',
          tclass: 'dir',
          permissive: false,
          name: 'power_supply',
        },
        1,
      ],
    ]);
    expect(parser.stats.byForm.logcat).toBe(4);
  });
});

describe('ausearch -i (interpreted)', () => {
  it('reads an interpreted record with a synthetic id and the printed time', () => {
    // Real: auditd-interpreted/gh-libreswan-libreswan-2068.log line 1. ausearch -i prints local time
    // without a zone and no raw audit id; kernwatch reads the time as UTC (agent/parse/envelope.ts).
    const line = corpusLine('auditd-interpreted/gh-libreswan-libreswan-2068.log', 1);
    const fields = line.slice(line.indexOf(') : ') + 3).trim();
    const time = '2025-03-04T07:39:37.599Z';
    const { events, parser } = parse([line]);
    expect(events).toStrictEqual([
      {
        schema: 'kernwatch.v1',
        id: `test-node:~${String(unixSeconds(time))}-6464-${fnv1a32(fields)}/0`,
        time,
        node: 'test-node',
        source: 'file',
        kind: 'seccomp',
        outcome: 'killed',
        count: 1,
        process: {
          pid: 6464,
          comm: 'addconn',
          exe: '/usr/libexec/ipsec/addconn',
          subj: 'system_u:system_r:ipsec_t:s0',
        },
        seccomp: {
          syscall: 'faccessat',
          syscallNr: 48,
          arch: 'aarch64',
          compat: false,
          action: 'KILL_THREAD',
          signal: 31,
          code: '0x0',
        },
        attribution: 'unresolved',
        raw: [line],
      },
    ]);
    expect(parser.stats.byForm['ausearch-interpreted']).toBe(1);
  });
});

describe('lines that are not audit records', () => {
  it('counts lines of unrelated programs as not relevant, never as malformed', () => {
    const lines = [
      corpusLine('apparmor-testsuite/test_multi/syslog_other_01.in', 1), // syslogd restart
      corpusLine('apparmor-testsuite/test_multi/syslog_other_02.in', 1), // kernel: __ratelimit
      corpusLine('apparmor-testsuite/test_multi/syslog_other_03.in', 1), // kernel: type __ratelimit
      corpusLine('kmsg/kernel618-seccomp-all-actions.kmsg', 1), // kauditd_printk_skb: callbacks suppressed
      corpusLine('auditd/go-libaudit-auparse-audit-rhel7.log', 31), // type=UNKNOWN[1329] msg=?
    ];
    const { events, parser } = parse(lines);
    expect(events).toEqual([]);
    expect(parser.stats.lines).toBe(5);
    expect(parser.stats.notRelevant).toBe(5);
    expect(parser.stats.malformedTotal()).toBe(0);
  });
});
